"""`partnerops check` through the command line, against the live fakes: Airtable, Slack, HubSpot and
a real local SMTP server (aiosmtpd). One test per broken set-up; each failure line says the fix."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from jobs.store.local import LocalStore
from tests.conftest import START, TOKEN, provision
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import PASSWORD, USER, Recorder, authenticator, free_port, serve
from tests.test_cli import run, use_bases

CIRCLE_CHANNEL = "G0CIRCLE001"
MANAGERS = "C0MANAGERS1"


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


@pytest.fixture
def ids(live: FakeAirtable, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    base_ids = provision(live)
    use_bases(monkeypatch, base_ids)
    return base_ids


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel(MANAGERS, private=False)
        fake.add_channel(CIRCLE_CHANNEL)
        monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
        monkeypatch.setenv("SLACK_API_URL", fake.url)
        monkeypatch.setenv("SLACK_MANAGER_CHANNEL", MANAGERS)
        yield fake


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def smtp(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> Iterator[Controller]:
    for controller in serve(recorder, auth_require_tls=False, authenticator=authenticator):
        use_smtp(monkeypatch, controller.port)
        yield controller


def use_smtp(monkeypatch: pytest.MonkeyPatch, port: int, password: str = PASSWORD) -> None:
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    monkeypatch.setenv("SMTP_STARTTLS", "false")  # a loopback test server; TLS is SmtpSender's own tests' job
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASSWORD", password)
    monkeypatch.setenv("EMAIL_FROM", "partners@yourco.example")


def circle(live: FakeAirtable, ids: dict[str, str], name: str, channel: str | None, *, active: bool = True) -> None:
    fields: dict[str, object] = {"Name": name, "Active": active}
    if channel is not None:
        fields["Slack Channel ID"] = channel
    live.ui_create(ids["circles"], "Circles", fields)


def fails(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("FAIL")]


def test_everything_set_up_passes_and_sends_nothing(
    live: FakeAirtable,
    ids: dict[str, str],
    slack: FakeSlack,
    smtp: Controller,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    circle(live, ids, "Top Partners", CIRCLE_CHANNEL)
    monkeypatch.setenv("REFERRAL_FORM_URL", "https://airtable.com/appXXXXXXXXXXXXXX/shrFORM")
    with FakeHubSpot("pat-na1-good-token") as hub:
        monkeypatch.setenv("HUBSPOT_TOKEN", hub.token)
        monkeypatch.setenv("HUBSPOT_API_URL", hub.url)
        code, out = run("check")
    assert code == 0, out
    assert out.strip().splitlines()[-1] == "all checks passed"
    assert "WARN" not in out and "FAIL" not in out
    assert "ok   Circles base › Circles: 1 circle(s) read live from Airtable" in out
    assert f"ok   Slack circle 'Top Partners' {CIRCLE_CHANNEL}: the bot can see it" in out
    assert f"ok   Slack managers' channel (SLACK_MANAGER_CHANNEL) {MANAGERS}: the bot can see it" in out
    assert f"ok   SMTP 127.0.0.1:{smtp.port} answers: no STARTTLS (SMTP_STARTTLS=false), logged in as {USER}" in out
    assert recorder.received == [] and "MAIL" not in recorder.commands
    assert PASSWORD not in out and TOKEN not in out


def test_an_active_circle_without_a_channel_fails_read_live_before_the_first_sync(
    live: FakeAirtable, ids: dict[str, str], slack: FakeSlack
) -> None:
    circle(live, ids, "Agencies", None)
    circle(live, ids, "Dormant", None, active=False)
    code, out = run("check")
    assert code == 1
    assert fails(out) == [
        "FAIL circle 'Agencies': it is Active but has no valid Slack Channel ID. Fix: in the Circles base, put the "
        "circle's private Slack channel id (C… or G…) in Slack Channel ID: in Slack, open the channel, click its "
        "name, and copy the Channel ID at the bottom of the About tab"
    ]


def test_a_circle_channel_that_does_not_exist_fails(live: FakeAirtable, ids: dict[str, str], slack: FakeSlack) -> None:
    circle(live, ids, "Agencies", "G0NOSUCHCH1")
    code, out = run("check")
    assert code == 1
    assert "FAIL Slack circle 'Agencies' G0NOSUCHCH1: channel_not_found. Fix: the bot cannot see or act" in out


def test_a_circle_channel_the_bot_is_not_in_fails(live: FakeAirtable, ids: dict[str, str], slack: FakeSlack) -> None:
    slack.add_channel("C0PUBLIC001", private=False, bot_member=False)
    circle(live, ids, "Agencies", "C0PUBLIC001")
    code, out = run("check")
    assert code == 1
    assert (
        "FAIL Slack circle 'Agencies' C0PUBLIC001: the bot is not in the channel. "
        "Fix: in Slack, open the channel and type /invite @<the bot's name>" in out
    )


def test_empty_manager_channel_and_form_url_warn_but_pass(live: FakeAirtable, ids: dict[str, str]) -> None:
    circle(live, ids, "Top Partners", CIRCLE_CHANNEL)
    code, out = run("check")
    assert code == 0, out
    assert "WARN SLACK_MANAGER_CHANNEL is empty: the managers get no weekly digest" in out
    assert "WARN REFERRAL_FORM_URL is empty: messages to partners carry no link to the referral form" in out
    assert out.strip().splitlines()[-1] == "all checks passed, 2 warning(s)"


def test_a_base_id_that_does_not_exist_names_its_variable(
    live: FakeAirtable, ids: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRTABLE_REFERRALS_BASE", "appNOSUCHBASE0000")
    code, out = run("check")
    assert code == 1
    (line,) = fails(out)
    assert line.startswith(
        "FAIL Referrals base: AIRTABLE_REFERRALS_BASE=appNOSUCHBASE0000: Airtable has no base with this id that "
        "the token may use"
    )
    assert "Fix: check AIRTABLE_REFERRALS_BASE" in line and "token's access list" not in line
    assert "ok   Partners base: reachable" in out and "ok   Circles base: reachable" in out


def test_a_rejected_airtable_token_is_called_rejected(
    live: FakeAirtable, ids: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRTABLE_TOKEN", "patNOTTHETOKEN.0123456789abcdef")
    code, out = run("check")
    assert code == 1
    (line,) = fails(out)
    assert line.startswith("FAIL Airtable token (AIRTABLE_TOKEN): the token was rejected: Authentication required")
    assert "Fix: create a personal access token at https://airtable.com/create/tokens" in line
    assert "access list" not in line and "patNOTTHETOKEN" not in out


def test_unreachable_slack_says_what_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1234-abcd")
    monkeypatch.setenv("SLACK_API_URL", f"http://127.0.0.1:{free_port()}/api/")
    code, out = run("check")
    assert code == 1
    (line,) = fails(out)
    assert "no answer" in line and "Fix: check SLACK_API_URL (default https://slack.com/api/)" in line
    assert "URLError" not in out and "xoxb-1234-abcd" not in out


def test_unreachable_smtp_says_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    use_smtp(monkeypatch, port)
    code, out = run("check")
    assert code == 1
    (line,) = fails(out)
    assert line.startswith(f"FAIL SMTP 127.0.0.1:{port} (connect): no SMTP server answers: the connection was refused")
    assert "Fix: check SMTP_HOST and SMTP_PORT" in line and "network" in line
    assert "Error" not in line and PASSWORD not in out


def test_a_refused_smtp_login_says_which_settings(smtp: Controller, monkeypatch: pytest.MonkeyPatch) -> None:
    use_smtp(monkeypatch, smtp.port, password="not-the-password")
    code, out = run("check")
    assert code == 1
    (line,) = fails(out)
    assert line.startswith(f"FAIL SMTP 127.0.0.1:{smtp.port} (login): 535")
    assert "Fix: the server refused the login: check SMTP_USER and SMTP_PASSWORD" in line
    assert "not-the-password" not in out


def test_smtp_without_starttls_says_which_setting(smtp: Controller, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_STARTTLS", "true")
    code, out = run("check")
    assert code == 1
    assert "the server does not offer STARTTLS. Fix: 127.0.0.1" in out and "check SMTP_PORT" in out


def test_hubspot_rejected_and_unreachable_say_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeHubSpot("pat-na1-good-token") as hub:
        monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-wrong-token")
        monkeypatch.setenv("HUBSPOT_API_URL", hub.url)
        code, out = run("check")
    assert code == 1
    (line,) = fails(out)
    assert "HubSpot token rejected" in line and "Fix: in HubSpot create a service key" in line
    assert "pat-na1-wrong-token" not in out

    monkeypatch.setenv("HUBSPOT_API_URL", f"http://127.0.0.1:{free_port()}")
    code, out = run("check")
    assert code == 1
    (line,) = fails(out)
    assert "HubSpot unreachable" in line and "Fix: check HUBSPOT_API_URL (default https://api.hubapi.com)" in line


def test_the_record_cap_is_counted_in_the_store_and_says_so(
    live: FakeAirtable, ids: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    circle(live, ids, "Top Partners", CIRCLE_CHANNEL)
    monkeypatch.setenv("AIRTABLE_RECORD_CAP", "100")
    code, out = run("check")
    assert code == 0
    assert "ok   record cap: not counted yet; the local store has no sync yet" in out

    code, _ = run("run", "--once", "--only", "sync")
    assert code == 0
    store = LocalStore(tmp_path / "home" / "store.sqlite")
    with store.transaction():
        for i in range(85):
            store.create("referrals", "Referrals", {"Referral": f"R{i}"}, created=START)
    store.close()
    calls = len(live.requests)
    code, out = run("check")
    assert code == 0
    assert "WARN base Referrals holds 85 of 100 records (85%)" in out
    assert "(counted in the local store as of the last sync)" in out
    assert len(live.requests) - calls == 5  # the bases, 3 schemas, the Circles table: nothing more to count
