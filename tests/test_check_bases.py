"""`partnerops bases create` through the command line against the fake Airtable: no second set of
bases by mistake, the ids written into .env (every other line kept), a bad workspace or token in
plain words."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.cli import main
from jobs.commands.env_file import updated_text
from tests.conftest import TOKEN, provision
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.test_cli import run, use_bases

ENV = """# partnerops settings
# the token comes from the environment here
CRM=none
# Base ids (app…), printed by `partnerops bases create --workspace wsp…`
AIRTABLE_PARTNERS_BASE=
export AIRTABLE_REFERRALS_BASE=appOLDOLDOLDOLD01
#AIRTABLE_CIRCLES_BASE=appCOMMENTEDOUT01

TZ=Europe/Berlin
"""


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
        yield fake


def printed_ids(out: str) -> dict[str, str]:
    return dict(re.findall(r"^(AIRTABLE_\w+_BASE)=(app\w+)$", out, flags=re.M))


def base_count(fake: FakeAirtable) -> int:
    return len(fake._bases)


def test_a_second_set_of_bases_is_refused_unless_forced(live: FakeAirtable, monkeypatch: pytest.MonkeyPatch) -> None:
    use_bases(monkeypatch, provision(live))
    code, out = run("bases", "create", "--workspace", live.workspace_id)
    assert code == 2
    assert out.startswith("nothing created: the configured bases exist (AIRTABLE_PARTNERS_BASE=app")
    assert "pass --force to create a second set anyway" in out
    assert base_count(live) == 3

    code, out = run("bases", "create", "--workspace", live.workspace_id, "--force")
    assert code == 0, out
    assert base_count(live) == 6 and len(printed_ids(out)) == 3


def test_configured_ids_that_do_not_exist_do_not_hold_back_a_first_set(
    live: FakeAirtable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRTABLE_PARTNERS_BASE", "appGONEGONEGONE01")
    code, out = run("bases", "create", "--workspace", live.workspace_id)
    assert code == 0, out
    assert base_count(live) == 3


def test_write_env_puts_the_ids_in_and_keeps_every_other_line(live: FakeAirtable, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(ENV)
    env_file.chmod(0o600)
    code, out = run_with_env(env_file, "bases", "create", "--workspace", live.workspace_id, "--write-env")
    assert code == 0, out
    ids = printed_ids(out)
    assert f"wrote these lines into {env_file}" in out
    assert env_file.read_text() == ENV.replace(
        "AIRTABLE_PARTNERS_BASE=\n", f"AIRTABLE_PARTNERS_BASE={ids['AIRTABLE_PARTNERS_BASE']}\n"
    ).replace(
        "AIRTABLE_REFERRALS_BASE=appOLDOLDOLDOLD01", f"AIRTABLE_REFERRALS_BASE={ids['AIRTABLE_REFERRALS_BASE']}"
    ) + (f"AIRTABLE_CIRCLES_BASE={ids['AIRTABLE_CIRCLES_BASE']}\n")
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def run_with_env(env_file: Path, *argv: str) -> tuple[int, str]:
    import io

    out = io.StringIO()
    code = main(["--env-file", str(env_file), *argv], out=out)
    return code, out.getvalue()


def test_write_env_creates_a_missing_file(live: FakeAirtable, tmp_path: Path) -> None:
    env_file = tmp_path / "new.env"
    code, out = run_with_env(env_file, "bases", "create", "--workspace", live.workspace_id, "--write-env")
    assert code == 0, out
    assert printed_ids(env_file.read_text()) == printed_ids(out)


def test_updated_text_keeps_crlf_and_a_missing_last_newline() -> None:
    assert updated_text("A=1\r\nB=2", {"B": "3", "C": "4"}) == "A=1\r\nB=3\r\nC=4\r\n"
    assert updated_text("", {"C": "4"}) == "C=4\n"
    assert updated_text("C = old\nC=older\n", {"C": "new"}) == "C=new\nC=new\n"


def test_a_workspace_id_of_the_wrong_shape_is_refused_before_any_call(live: FakeAirtable) -> None:
    code, out = run("bases", "create", "--workspace", "my workspace")
    assert code == 2
    assert out.startswith(
        "nothing created: --workspace 'my workspace' is not a workspace id (wsp and 14 letters/digits)"
    )
    assert "https://airtable.com/workspaces/wsp…" in out and live.requests == []


def test_a_workspace_airtable_does_not_know_is_told_in_plain_words(live: FakeAirtable) -> None:
    code, out = run("bases", "create", "--workspace", "wspNOSUCHSPACE001")
    assert code == 1
    assert "creating base Partners: Airtable refused workspace wspNOSUCHSPACE001" in out
    assert "Fix: check --workspace" in out and base_count(live) == 0


def test_a_rejected_token_is_told_in_plain_words(live: FakeAirtable, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRTABLE_TOKEN", "patWRONGWRONG.0123456789")
    code, out = run("bases", "create", "--workspace", live.workspace_id)
    assert code == 2
    assert out.startswith("nothing created: the token was rejected: Authentication required")
    assert "Fix: create a personal access token" in out and "patWRONG" not in out
