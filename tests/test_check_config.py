"""Configuration mistakes through the real command line: exit 2 with the fix, never a traceback,
never a secret printed back — including those only a service can reveal during `run`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.schedule import lock
from tests.conftest import TOKEN, provision
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.fakes.hubspot import FakeHubSpot
from tests.test_cli import run, use_bases

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-23T09:00:00Z"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in list(os.environ):
        if var.startswith(("AIRTABLE_", "SLACK_", "HUBSPOT_", "SMTP_", "CRM", "EMAIL_", "PARTNEROPS_", "REFERRAL_")):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PARTNEROPS_HOME", str(tmp_path / "home"))


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Iterator[FakeAirtable]:
    with FakeAirtable(TOKEN, clock=clock, rate_limit=False) as fake:
        monkeypatch.setenv("AIRTABLE_TOKEN", TOKEN)
        monkeypatch.setenv("AIRTABLE_API_URL", fake.url)
        use_bases(monkeypatch, provision(fake))
        yield fake


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the command line; it must exit 2 without a traceback. Returns stdout and stderr."""
    code, out = run(*argv)
    err = capsys.readouterr().err
    assert code == 2, out + err
    assert "Traceback" not in err + out
    return out + err


def test_base_ids_without_a_token_are_exit_2_not_the_local_store(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRTABLE_PARTNERS_BASE", "appAAAAAAAAAAAAAA")
    text = refused(capsys, "run", "--once", "--now", NOW)
    assert "AIRTABLE_PARTNERS_BASE is set but AIRTABLE_TOKEN is empty: set AIRTABLE_TOKEN" in text
    assert "local store is the data" not in text


def test_partnerops_home_that_is_a_file_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.write_text("oops")
    text = refused(capsys, "run", "--once", "--now", NOW)
    assert f"PARTNEROPS_HOME='{home}' is a file, not a folder: point PARTNEROPS_HOME at a folder" in text
    monkeypatch.setenv("PARTNEROPS_HOME", str(home / "state"))
    assert "is a file; point PARTNEROPS_HOME at a folder" in refused(capsys, "check")


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs a read-only system folder (Linux /sys)")
def test_partnerops_home_that_cannot_be_written_is_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTNEROPS_HOME", "/sys/partnerops-test")
    text = refused(capsys, "check")
    assert "PARTNEROPS_HOME='/sys/partnerops-test' cannot be used" in text
    assert "set PARTNEROPS_HOME to a folder this user can write" in text


def test_a_wrong_airtable_token_during_run_is_exit_2(
    live: FakeAirtable, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRTABLE_TOKEN", "patNOTTHISONE.0123456789abcdef")
    text = refused(capsys, "run", "--once")
    assert "Airtable rejected AIRTABLE_TOKEN: the token was rejected: Authentication required" in text
    assert "Fix: create a personal access token at https://airtable.com/create/tokens" in text
    assert "patNOTTHISONE" not in text and "  health " not in text  # it stopped at the first job


def test_a_base_id_that_does_not_exist_during_run_is_exit_2(
    live: FakeAirtable, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRTABLE_CIRCLES_BASE", "appNOSUCHBASE0000")
    text = refused(capsys, "run", "--once", "--dry-run")
    assert "AIRTABLE_CIRCLES_BASE=appNOSUCHBASE0000: Airtable has no base with this id that the token may use" in text
    assert "Fix: check AIRTABLE_CIRCLES_BASE" in text
    assert "Invalid permissions, or the requested model was not found" not in text


@pytest.mark.parametrize("only", [[], ["--only", "sync,referrals"]], ids=["every-job", "only-the-push"])
def test_a_wrong_hubspot_token_during_run_is_exit_2(
    only: list[str], live: FakeAirtable, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whether the stages read or the referral's push meets it first, a rejected token is a
    setting to fix (exit 2 with the fix), not a failed record."""
    ids = {k: os.environ[f"AIRTABLE_{k.upper()}_BASE"] for k in ("partners", "referrals")}
    live.ui_create(ids["partners"], "Partners", {"Name": "Jane Doe", "Email": "jane@acme.example"})
    referral = {
        "Referral": "Lead Co — Bob",
        "Direction": "From partner",
        "Partner Email": "jane@acme.example",
        "Company": "Lead Co",
        "Company Domain": "lead.example",
        "Contact Name": "Bob Buyer",
        "Contact Email": "bob@lead.example",
    }
    live.ui_create(ids["referrals"], "Referrals", referral)
    with FakeHubSpot("pat-na1-the-right-token") as hub:
        monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-a-wrong-token")
        monkeypatch.setenv("HUBSPOT_API_URL", hub.url)
        text = refused(capsys, "run", "--once", *only)
        assert hub.deals() == []
        # Fixed: the referral the rejected token held back goes to the CRM on the next run, once.
        monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-the-right-token")
        assert run("run", "--once", "--only", "referrals")[0] == 0
        assert run("run", "--once", "--only", "referrals")[0] == 0
        assert [d["properties"]["dealname"] for d in hub.deals()] == ["Lead Co — Bob"]
    assert "HubSpot rejected HUBSPOT_TOKEN: the token was rejected: Authentication credentials not found" in text
    assert "Fix: in HubSpot create a service key (or a private app) with the scopes crm.objects.deals.read" in text
    assert "pat-na1-a-wrong-token" not in text


@pytest.mark.parametrize("name", ["#partner-managers", "partner-managers"])
def test_manager_channel_by_name_is_exit_2_with_how_to_find_the_id(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_MANAGER_CHANNEL", name)
    text = refused(capsys, "check")
    assert f"SLACK_MANAGER_CHANNEL={name!r} is a channel name; it needs the channel's id (C… or G…)" in text
    assert "copy the Channel ID shown at the bottom of the About tab" in text


@pytest.mark.parametrize(
    ("variable", "token"),
    [
        ("AIRTABLE_API_URL", "patAbCdEfGhIjKlMn1.0123456789abcdef0123456789abcdef"),
        ("SLACK_MANAGER_CHANNEL", "xoxb-2024-1234567890-AbCdEfGhIjKl"),
        ("SLACK_API_URL", "pat-na1-11111111-2222-3333-4444-555555555555"),
    ],
)
def test_a_token_in_the_wrong_variable_is_exit_2_and_never_printed(
    variable: str, token: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(variable, token)
    text = refused(capsys, "run", "--once", "--now", NOW)
    assert f"{variable} holds what looks like" in text and "(not shown here)" in text
    assert token not in text and token[:10] not in text


def test_the_configured_token_pasted_elsewhere_is_named_not_shown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "my-slack-secret-value")
    monkeypatch.setenv("SLACK_MANAGER_CHANNEL", "my-slack-secret-value")
    text = refused(capsys, "check")
    assert "SLACK_MANAGER_CHANNEL holds what looks like the value of SLACK_BOT_TOKEN" in text
    assert "my-slack-secret-value" not in text


def test_a_system_without_file_locking_is_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def nothing(name: str) -> object:
        raise ImportError(name)

    real = lock.system_locking
    monkeypatch.setattr(lock, "system_locking", lambda: real(nothing))
    text = refused(capsys, "run", "--once", "--now", NOW)
    assert "partnerops needs file locking to keep two runs off one PARTNEROPS_HOME" in text


def test_a_configuration_mistake_in_a_real_process_is_exit_2_without_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRTABLE_", "SLACK_", "PARTNEROPS_"))}
    env.update(AIRTABLE_REFERRALS_BASE="appAAAAAAAAAAAAAA", SLACK_MANAGER_CHANNEL="#partner-managers")
    env["PARTNEROPS_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-m", "jobs", "--env-file", str(tmp_path / "none.env"), "run", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "AIRTABLE_REFERRALS_BASE is set but AIRTABLE_TOKEN is empty" in done.stderr
    assert "SLACK_MANAGER_CHANNEL='#partner-managers' is a channel name" in done.stderr
