import os
import re
from dataclasses import fields
from pathlib import Path

import pytest

from jobs.rules.scores import HealthSettings
from jobs.settings import DEFAULTS, SECRETS, VARIABLES, ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
BASES = {
    "AIRTABLE_PARTNERS_BASE": "appAAAAAAAAAAAAAA",
    "AIRTABLE_REFERRALS_BASE": "appBBBBBBBBBBBBBB",
    "AIRTABLE_CIRCLES_BASE": "appCCCCCCCCCCCCCC",
}


def test_example_env_lists_exactly_the_variables_the_code_reads() -> None:
    text = (ROOT / "config.example.env").read_text()
    keys = set(re.findall(r"^([A-Z_]+)=", text, flags=re.M))
    assert keys == set(DEFAULTS)


def test_example_env_documents_the_file_variant_of_each_secret() -> None:
    text = (ROOT / "config.example.env").read_text()
    for secret in SECRETS:
        assert secret in text.split("--- Airtable")[0]


def test_defaults_without_any_variable() -> None:
    s = load_settings({}, None)
    assert not s.uses_airtable
    assert s.crm == "none"
    assert s.airtable_monthly_calls == 1000
    assert s.smtp_port == 587 and s.smtp_starttls is True
    assert str(s.home) == ".partnerops"


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(
            {
                "AIRTABLE_TOKEN": "patSECRET",
                "AIRTABLE_PARTNERS_BASE": "nope",
                "CRM": "salesforce",
                "AIRTABLE_MONTHLY_CALLS": "lots",
                "TZ": "Mars/Olympus",
                "SMTP_HOST": "smtp.example.com",
                "SMTP_STARTTLS": "maybe",
                "SLACK_API_URL": "not a url",
            },
            None,
        )
    problems = "\n".join(info.value.problems)
    assert len(info.value.problems) == 9
    for needle in (
        "AIRTABLE_PARTNERS_BASE='nope'",
        "AIRTABLE_REFERRALS_BASE is empty",
        "CRM='salesforce'",
        "AIRTABLE_MONTHLY_CALLS='lots'",
        "TZ='Mars/Olympus'",
        "EMAIL_FROM is empty",
        "SMTP_STARTTLS='maybe'",
        "SLACK_API_URL",
    ):
        assert needle in problems
    assert "patSECRET" not in str(info.value)


def test_crm_defaults_to_hubspot_with_a_token() -> None:
    assert load_settings({"HUBSPOT_TOKEN": "pat-na1-x"}, None).crm == "hubspot"
    with pytest.raises(ConfigError, match="CRM_WEBHOOK_URL"):
        load_settings({"CRM": "webhook"}, None)


@pytest.mark.parametrize("secret", SECRETS)
def test_every_secret_can_come_from_a_file(tmp_path: Path, secret: str) -> None:
    value = "https://hooks.example.com/abc" if secret == "CRM_WEBHOOK_URL" else "s3cr3t-value"
    path = tmp_path / "secret.txt"
    path.write_text(value + "\n")
    bases = BASES if secret == "AIRTABLE_TOKEN" else {}  # base ids without a token are a mistake
    env = {f"{secret}_FILE": str(path), **bases, "CRM": "none", "EMAIL_FROM": "a@b.example"}
    s = load_settings(env, None)
    assert value in s.secrets()


def test_unreadable_secret_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN_FILE"):
        load_settings({"SLACK_BOT_TOKEN_FILE": str(tmp_path / "missing")}, None)


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AIRTABLE_MONTHLY_CALLS=500\nTZ=Europe/Berlin\n")
    s = load_settings({"TZ": "UTC"}, env_file)
    assert s.airtable_monthly_calls == 500
    assert s.tz == "UTC"


def test_secrets_do_not_show_in_repr() -> None:
    s = load_settings({"AIRTABLE_TOKEN": "patTOPSECRET", **BASES, "SLACK_BOT_TOKEN": "xoxb-SECRET"}, None)
    assert "TOPSECRET" not in repr(s) and "xoxb" not in repr(s)


def test_health_model_comes_from_the_environment() -> None:
    s = load_settings(
        {"HEALTH_WEIGHTS": "0.5,0.2,0.2,0.1", "HEALTH_RECENCY_STEPS": "7:100,30:60", "HEALTH_BANDS": "80,60,30"}, None
    )
    assert s.health.weights == (0.5, 0.2, 0.2, 0.1)
    assert s.health.recency_steps == ((7, 100), (30, 60))
    assert (s.health.top_from, s.health.healthy_from, s.health.at_risk_from) == (80, 60, 30)
    assert load_settings({}, None).health.weights == (0.40, 0.25, 0.25, 0.10)


def test_bad_health_model_is_explained() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(
            {"HEALTH_WEIGHTS": "0.5,0.5,0.5,0.5", "HEALTH_RECENCY_STEPS": "30:100,14:85", "HEALTH_BANDS": "50,75,25"},
            None,
        )
    text = "\n".join(info.value.problems)
    assert "must be four weights" in text and "rising days" in text and "falling" in text


# the one table ---------------------------------------------------------------------------------


def test_settings_defaults_are_the_tables_defaults_read() -> None:
    loaded, default = load_settings({}, None), Settings()
    for f in fields(Settings):
        assert getattr(loaded, f.name) == getattr(default, f.name), f.name
    assert default.health == HealthSettings()  # the table's health model is SPEC §3's


def test_example_env_gives_each_variable_its_default() -> None:
    text = (ROOT / "config.example.env").read_text()
    assert dict(re.findall(r"^([A-Z_]+)=(.*)$", text, flags=re.M)) == DEFAULTS


def test_every_settings_field_comes_from_the_table() -> None:
    filled = {v.attr for v in VARIABLES if v.attr} | {"base_ids", "health"}
    assert filled == {f.name for f in fields(Settings)}
    assert len(VARIABLES) == len(DEFAULTS)  # no variable twice
    hidden = {f.name for f in fields(Settings) if not f.repr}
    assert hidden == {v.attr for v in VARIABLES if v.secret}  # a secret never shows in repr()
    values = {v.attr: f"value-of-{v.name}" for v in VARIABLES if v.secret}
    assert sorted(Settings(**values).secrets()) == sorted(values.values())


def test_base_ids_without_a_token_are_a_mistake_not_the_local_store() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"AIRTABLE_PARTNERS_BASE": BASES["AIRTABLE_PARTNERS_BASE"]}, None)
    (problem,) = info.value.problems
    assert problem.startswith("AIRTABLE_PARTNERS_BASE is set but AIRTABLE_TOKEN is empty: set AIRTABLE_TOKEN")
    assert "or empty the base ids" in problem


def test_partneropts_home_must_be_a_folder_this_user_can_write(tmp_path: Path) -> None:
    file = tmp_path / "state.txt"
    file.write_text("not a folder")
    with pytest.raises(ConfigError, match="PARTNEROPS_HOME=.+ is a file, not a folder"):
        load_settings({"PARTNEROPS_HOME": str(file)}, None)
    with pytest.raises(ConfigError, match=r"cannot be created: .+state.txt is a file"):
        load_settings({"PARTNEROPS_HOME": str(file / "home")}, None)
    assert load_settings({"PARTNEROPS_HOME": str(tmp_path / "new" / "home")}, None).home == tmp_path / "new" / "home"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_partnerops_home_is_explained(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="cannot be written by this user"):
            load_settings({"PARTNEROPS_HOME": str(locked / "home")}, None)
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("name", ["#partner-managers", "partner-managers"])
def test_manager_channel_by_name_says_how_to_find_the_id(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"SLACK_MANAGER_CHANNEL": name}, None)
    (problem,) = info.value.problems
    assert f"SLACK_MANAGER_CHANNEL={name!r} is a channel name; it needs the channel's id (C… or G…)" in problem
    assert "copy the Channel ID" in problem
    assert load_settings({"SLACK_MANAGER_CHANNEL": "C0MANAGERS1"}, None).slack_manager_channel == "C0MANAGERS1"


@pytest.mark.parametrize(
    ("variable", "value", "belongs"),
    [
        ("AIRTABLE_API_URL", "patAbCdEfGhIjKlMn1.0123456789abcdef0123456789abcdef", "AIRTABLE_TOKEN"),
        ("SLACK_MANAGER_CHANNEL", "xoxb-1234-5678-abcdefABCDEF", "SLACK_BOT_TOKEN"),
        ("HUBSPOT_API_URL", "pat-na1-11111111-2222-3333-4444-555555555555", "HUBSPOT_TOKEN"),
        ("EMAIL_FROM", "keyAbCdEfGhIjKlMn", "AIRTABLE_TOKEN"),
        ("SLACK_BOT_TOKEN_FILE", "xoxb-1234-5678-abcdefABCDEF", "SLACK_BOT_TOKEN"),
    ],
)
def test_a_token_in_the_wrong_variable_is_never_printed(variable: str, value: str, belongs: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({variable: value}, None)
    text = str(info.value)
    assert value not in text and value[:12] not in text
    assert f"{variable} holds what looks like" in text and f"a token belongs in {belongs}" in text


def test_a_configured_secret_pasted_elsewhere_is_named_not_shown() -> None:
    secret = "my-very-own-smtp-password"
    with pytest.raises(ConfigError) as info:
        load_settings({"SMTP_PASSWORD": secret, "REFERRAL_FORM_URL": secret, "TZ": secret}, None)
    text = str(info.value)
    assert secret not in text
    assert "REFERRAL_FORM_URL holds what looks like the value of SMTP_PASSWORD" in text
    assert "TZ holds what looks like the value of SMTP_PASSWORD" in text


def test_token_shapes_are_hidden_in_every_problem() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"AIRTABLE_TOKEN": "patSECRETSECRET", "AIRTABLE_PARTNERS_BASE": "patOTHERTOKEN.abc"}, None)
    assert "patSECRET" not in str(info.value) and "patOTHER" not in str(info.value)
