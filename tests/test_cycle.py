"""A cycle of jobs: budget guard, write isolation, secrets, and the scheduler's clean stop."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from integrations.airtable import AirtableClient
from integrations.ledger import CallLedger
from jobs.app import App
from jobs.apply.writer import RecordWriter
from jobs.cli import SecretFilter
from jobs.schedule.registry import CIRCLES, HEALTH, REFERRALS
from jobs.schedule.runner import Job, run_jobs
from jobs.schedule.tiers import cycle_jobs
from jobs.settings import Settings
from jobs.store.local import LocalStore
from jobs.sync.syncer import Syncer
from tests.apps import T0, make_app
from tests.conftest import TOKEN, client_clock
from tests.fakes.airtable import FakeAirtable, FakeClock

ROOT = Path(__file__).resolve().parent.parent


def test_a_job_the_month_cannot_afford_is_skipped_and_says_so(
    fake: FakeAirtable, base_ids: dict[str, str], tmp_path: Path, clock: FakeClock
) -> None:
    ledger = CallLedger(tmp_path / "ledger.sqlite")
    client = AirtableClient(TOKEN, base_ids, ledger=ledger, allowance=5, api_url=fake.url, clock=client_clock(clock))
    rt = make_app(Settings(home=tmp_path), LocalStore(tmp_path / "s.sqlite"), ledger, client, client_clock(clock))
    outcome = run_jobs(rt, cycle_jobs(["sync"]), clock.now())[0]
    assert outcome.status == "skipped"
    assert outcome.summary() == "needs about 14 Airtable calls, 5 left this month"
    assert fake.requests == []


def test_a_bad_record_in_a_batch_fails_alone(
    fake: FakeAirtable, base_ids: dict[str, str], client: AirtableClient, store: LocalStore, clock: FakeClock
) -> None:
    ids = [fake.ui_create(base_ids["referrals"], "Referrals", {"Referral": f"R{i}"}) for i in range(4)]
    Syncer(client, store).run(clock.now())
    fake.ui_set_choices(
        base_ids["referrals"], "Referrals", "Status", ["New", "Accepted"]
    )  # a manager trimmed the options
    changes = {i: {"Sync Notes": "checked"} for i in ids}
    changes[ids[2]]["Status"] = "Duplicate"
    result = RecordWriter(store, client, clock.now).update("referrals", "Referrals", changes)
    assert result.written == 3
    assert list(result.failed) == [ids[2]]
    assert "Duplicate" in result.failed[ids[2]]
    live = {r["id"]: r["fields"] for r in fake.records(base_ids["referrals"], "Referrals")}
    assert live[ids[0]]["Sync Notes"] == "checked" and "Sync Notes" not in live[ids[2]]


def test_secrets_are_scrubbed_from_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("partnerops.test")
    handler = logging.StreamHandler()
    handler.addFilter(SecretFilter(["patSECRET.value", "xoxb-123-secret"]))
    logger.addHandler(handler)
    with caplog.at_level(logging.INFO, logger="partnerops.test"):
        logger.warning("token %s and %s failed", "patSECRET.value", "xoxb-123-secret")
    logger.removeHandler(handler)
    assert "token *** and *** failed" in caplog.text
    assert "SECRET" not in caplog.text.replace("***", "")


def test_the_scheduler_holds_the_lock_logs_to_a_file_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRTABLE_", "SLACK_", "HUBSPOT_"))}
    env["PARTNEROPS_HOME"] = str(tmp_path / "home")
    command = [sys.executable, "-m", "jobs", "--env-file", "/nonexistent", "run"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if " daily+fresh: " in line:
            break
    cycle = lines[-1]
    assert (
        "sync (skipped), health, circles, referrals, stages (skipped), intros · ok · 0 Airtable call(s), offline · next"
        in cycle
    )
    second = subprocess.run([*command, "--once"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert second.returncode == 0
    assert "another partnerops is running on" in second.stderr and "partnerops run, pid" in second.stderr
    assert "nothing done" in second.stderr
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, "".join(lines) + out
    assert "stopping after the current job" in out and "partnerops scheduler stopped" in out
    log = (tmp_path / "home" / "logs" / "partnerops.log").read_text()
    assert "scheduler started" in log and "health done:" in log and "scheduler stopped" in log


def test_a_stop_request_is_honoured_between_jobs_never_inside_one(tmp_path: Path) -> None:
    rt = App.open(Settings(home=tmp_path))
    ran: list[str] = []

    def stop_after_first() -> bool:
        ran.append("asked")
        return len(ran) > 1

    outcomes = run_jobs(rt, [HEALTH, CIRCLES, REFERRALS], FakeClock().now(), should_stop=stop_after_first)
    rt.close()
    assert [o.job for o in outcomes] == ["health"]
    assert all(o.status == "done" for o in outcomes)


def test_check_warns_when_a_base_nears_the_free_record_cap(tmp_path: Path) -> None:
    import io

    from jobs.commands.check import cmd_check

    store = LocalStore(tmp_path / "store.sqlite")
    with store.transaction():
        for i in range(820):
            store.create("referrals", "Referrals", {"Referral": f"R{i}"}, created=T0)
    store.close()
    out = io.StringIO()
    assert cmd_check(Settings(home=tmp_path), out) == 0
    assert "WARN base Referrals holds 820 of 1000 records (82%)" in out.getvalue()


def test_a_job_that_breaks_fails_alone_and_its_message_keeps_no_secret(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, slack_bot_token="xoxb-123-secret-value")
    rt = App.open(settings)

    def broken(_app: App, _now: object) -> None:
        raise ConnectionError("https://slack.example/api?token=xoxb-123-secret-value refused")

    stages = Job("stages", broken, lambda _inputs: None, lambda _app, _now: 0)  # type: ignore[arg-type, return-value]
    outcomes = run_jobs(rt, [stages, HEALTH], FakeClock().now())
    rt.close()
    assert [(o.job, o.status) for o in outcomes] == [("stages", "failed"), ("health", "done")]
    assert outcomes[0].failures == ["ConnectionError: https://slack.example/api?token=*** refused"]
