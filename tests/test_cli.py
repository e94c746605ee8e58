"""The command line end to end, against the fake Airtable over real HTTP."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.cli import main
from tests.conftest import TOKEN, provision
from tests.fakes.airtable import FakeAirtable, FakeClock


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--env-file", "/nonexistent/.env", *argv], out=out)
    return code, out.getvalue()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in list(__import__("os").environ):
        if var.startswith(("AIRTABLE_", "SLACK_", "HUBSPOT_", "SMTP_", "CRM", "EMAIL_", "PARTNEROPS_", "REFERRAL_")):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PARTNEROPS_HOME", str(tmp_path / "home"))


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Iterator[FakeAirtable]:
    # the CLI runs on the real clock, so the fake's per-second limit is off here
    with FakeAirtable(TOKEN, clock=clock, rate_limit=False) as fake:
        monkeypatch.setenv("AIRTABLE_TOKEN", TOKEN)
        monkeypatch.setenv("AIRTABLE_API_URL", fake.url)
        yield fake


def use_bases(monkeypatch: pytest.MonkeyPatch, ids: dict[str, str]) -> None:
    for key, base_id in ids.items():
        monkeypatch.setenv(f"AIRTABLE_{key.upper()}_BASE", base_id)


def test_bad_configuration_exits_2_and_lists_every_problem(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRTABLE_TOKEN", "patSECRETSECRET")
    monkeypatch.setenv("CRM", "nope")
    code, _ = run("run", "--once")
    err = capsys.readouterr().err
    assert code == 2
    assert "AIRTABLE_PARTNERS_BASE is empty" in err and "CRM='nope'" in err
    assert "patSECRETSECRET" not in err


def test_unknown_job_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("run", "--once", "--only", "sync,teleport")
    assert code == 2
    assert "unknown job(s) teleport; available: sync" in capsys.readouterr().err


def test_local_mode_runs_without_airtable() -> None:
    code, out = run("run", "--once", "--now", "2026-11-21T09:00:00Z")
    assert code == 0
    assert "no AIRTABLE_TOKEN: the local store is the data" in out
    assert re.search(r"^summary: \d job\(s\), all done", out, flags=re.M)
    assert re.search(r"^  health +done ", out, flags=re.M)
    assert out.strip().splitlines()[-1] == "next run due 2026-11-21 09:10 UTC"  # offline: every 10 min


def test_bases_create_then_check_then_run_once(live: FakeAirtable, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run("bases", "create", "--workspace", live.workspace_id)
    assert code == 0, out
    ids = dict(re.findall(r"^AIRTABLE_(\w+)_BASE=(app\w+)$", out, flags=re.M))
    assert set(ids) == {"PARTNERS", "REFERRALS", "CIRCLES"}
    use_bases(monkeypatch, {k.lower(): v for k, v in ids.items()})
    circles = live.records(ids["CIRCLES"], "Circles")
    assert [c["fields"]["Name"] for c in circles] == ["Top Partners"]

    code, out = run("bases", "check")
    assert code == 0
    assert out.strip().splitlines()[-1] == "the bases match the templates"
    code, out = run("check")
    assert code == 1  # the new circle is Active and has no Slack channel yet
    assert "FAIL circle 'Top Partners': it is Active but has no valid Slack Channel ID. Fix: in the Circles base" in out
    live.ui_update(ids["CIRCLES"], "Circles", circles[0]["id"], {"Slack Channel ID": "G0CIRCLE01"})
    code, out = run("check")
    assert code == 0 and "all checks passed" in out

    live.ui_create(ids["PARTNERS"], "Partners", {"Name": "Jane", "Email": "jane@acme.example"})
    code, out = run("run", "--once", "--only", "sync")
    assert code == 0, out
    assert "Partners: full (first run), 1 records read" in out
    code, out = run("budget")
    assert code == 0 and re.search(r"Airtable calls in \w+ \d{4}: \d+ of 1000", out)


def test_bases_check_explains_each_difference(live: FakeAirtable, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = provision(live)
    use_bases(monkeypatch, ids)
    live.ui_rename_field(ids["partners"], "Partners", "Joined On", "Start date")
    live.ui_set_choices(ids["referrals"], "Referrals", "Status", ["New", "Accepted"])
    code, out = run("bases", "check")
    assert code == 1
    assert "Partners › Partners › Joined On: is missing; 'Start date' looks like it was renamed from it" in out
    assert "Referrals › Referrals › Status: has no option 'Duplicate'" in out
    code, out = run("check")
    assert code == 1 and "check(s) failed" in out


def test_check_explains_a_bad_token(live: FakeAirtable, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = provision(live)
    use_bases(monkeypatch, ids)
    monkeypatch.setenv("AIRTABLE_TOKEN", "patWRONGTOKEN.value")
    code, out = run("check")
    assert code == 1
    assert "FAIL Airtable token (AIRTABLE_TOKEN): the token was rejected: " in out and "patWRONGTOKEN" not in out


def test_dry_run_sends_nothing(live: FakeAirtable, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = provision(live)
    use_bases(monkeypatch, ids)
    live.ui_create(ids["partners"], "Partners", {"Name": "Jane Doe", "Email": "jane@acme.example"})
    lead = {
        "Referral": "Lead Co — Bob",
        "Direction": "To partner",
        "Partner Email": "jane@acme.example",
        "Contact Name": "Bob Buyer",
        "Contact Email": "bob@lead.example",
    }
    live.ui_create(ids["referrals"], "Referrals", lead)
    live.reset_counts()
    code, out = run("run", "--once", "--dry-run")
    assert "e-mail to Jane Doe <jane@acme.example>, Cc Bob Buyer <bob@lead.example>" in out, out
    assert "Slack message to jane@acme.example:" in out
    assert code == 0
    assert "no change feed yet: every record read" in out and "nothing was changed" in out
    assert {r[0] for r in live.requests} == {"GET"}  # reads only: no webhook made, nothing written


def test_a_blocking_schema_difference_makes_the_run_exit_1(live: FakeAirtable, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = provision(live)
    use_bases(monkeypatch, ids)
    live.ui_delete_field(ids["referrals"], "Referrals", "Partner Email")
    code, out = run("run", "--once")
    assert code == 1
    assert "Referrals › Referrals › Partner Email: is missing" in out


def test_demo_runs_offline() -> None:
    code, out = run("demo")
    assert code == 0
    assert "Partners › Partners: 40 records" in out
    assert "Contact Email: 'jane.doe@' is not a valid e-mail address" in out
    story = out.split("what happened:")[1]
    assert re.search(r"^  \w{3} \d\d  Top Partners: .+ joins \(health score \d+ ≥ 75\)", story, flags=re.M)
    assert re.search(r"^ +\d+  left the circle$", story, flags=re.M)
    assert re.search(r"^ +[1-9]\d*  at-risk nudges$", story, flags=re.M)
    assert re.search(r"\d+ files in .+outbox: \d+ messages and e-mails", out)
