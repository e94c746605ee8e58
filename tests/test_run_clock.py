"""`--now` is the clock of everything a run does: decisions, the call ledger's month, the log, the
budget it reports; and nothing in jobs/ or integrations/ reads the wall clock but the command line."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from integrations.ledger import CallLedger, month_of
from jobs.app import LEDGER, STORE
from jobs.settings import BASE_VARS
from jobs.store.local import LocalStore
from jobs.store.state import load_cadence
from tests.conftest import TOKEN, provision
from tests.fakes.airtable import FakeAirtable, FakeClock

ROOT = Path(__file__).resolve().parent.parent
# Where the wall clock may be read: the command line (it makes the run's clock) and the default
# of integrations.http.Clock (measuring and waiting, and `now` when nobody injected one).
WALL_CLOCK_ALLOWED = {"jobs/cli.py", "integrations/http.py"}
WALL_CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}
WALL_CLOCK_CALLS |= {("time", "time"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "localtime")}
REFERRAL = {
    "Referral": "Acme — Jo",
    "Direction": "From partner",
    "Partner Email": "pia@agency.example",
    "Company": "Acme",
    "Company Domain": "acme.example",
    "Contact Email": "jo@acme.example",
}


def next_month_after(moment: datetime) -> datetime:
    """09:00 UTC on the 2nd of the month after ``moment``'s (today: December 2026, the wall clock in November)."""
    first = (moment.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first.replace(day=2, hour=9, minute=0, second=0, microsecond=0)


@pytest.fixture
def december() -> datetime:
    return next_month_after(datetime.now(timezone.utc))


@pytest.fixture
def live(december: datetime) -> Iterator[FakeAirtable]:
    # the subprocess waits on the real clock for Airtable's 5 a second: the fake does not meter
    with FakeAirtable(TOKEN, clock=FakeClock(december), rate_limit=False) as fake:
        yield fake


def partnerops(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-m", "jobs", "--env-file", "/nonexistent", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_run_once_now_files_the_calls_under_the_month_of_now_not_of_the_wall_clock(
    live: FakeAirtable, december: datetime, tmp_path: Path
) -> None:
    ids = provision(live)
    live.ui_create(ids["partners"], "Partners", {"Name": "Pia", "Email": "pia@agency.example"}, created=december)
    live.ui_create(ids["referrals"], "Referrals", REFERRAL, source="formSubmission", created=december)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRTABLE_", "SLACK_", "HUBSPOT_", "SMTP_"))}
    env.update({var: ids[key] for key, var in BASE_VARS.items()})
    env.update(AIRTABLE_TOKEN=TOKEN, AIRTABLE_API_URL=live.url, PARTNEROPS_HOME=str(home), CRM="none", TZ="UTC")
    wall = month_of(datetime.now(timezone.utc))
    assert month_of(december) != wall

    ran = partnerops(env, "run", "--once", "--now", december.isoformat())
    assert f"due at {december:%Y-%m-%d %H:%M} UTC: daily and fresh tier" in ran

    ledger = CallLedger(home / LEDGER)
    assert ledger.months() == [month_of(december)]  # every call filed under December, none under the wall's month
    assert ledger.used(december) > 0 and ledger.used(datetime.now(timezone.utc)) == 0
    ledger.close()
    store = LocalStore(home / STORE)
    assert load_cadence(store).get("fresh") == december.isoformat()  # the tiers remember the run's clock
    store.close()
    log = (home / "logs" / "partnerops.log").read_text(encoding="utf-8")
    assert log.splitlines()[0].startswith(f"{december:%Y-%m-%d %H:%M}")  # log lines carry the run's clock

    shown = partnerops(env, "budget", "--now", (december + timedelta(minutes=1)).isoformat())
    assert f"Airtable calls in {december:%B %Y}: {ledger_used(home, december)} of 1000" in shown
    assert re.search(rf"^next run due {december:%Y-%m-%d} \d\d:\d\d UTC \(in ", shown, flags=re.M)


def ledger_used(home: Path, when: datetime) -> int:
    ledger = CallLedger(home / LEDGER)
    try:
        return ledger.used(when)
    finally:
        ledger.close()


def wall_clock_reads(path: Path) -> Iterator[int]:
    """Lines calling datetime.now / date.today / time.time and the like (however imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if (name.lstrip("_"), node.func.attr) in WALL_CLOCK_CALLS:
                yield node.lineno
        plain = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if plain and (node.value.id.lstrip("_"), node.attr) in WALL_CLOCK_CALLS and not _called(tree, node):  # type: ignore[attr-defined]
            yield node.lineno  # passed along uncalled, e.g. as a default


def _called(tree: ast.AST, attribute: ast.Attribute) -> bool:
    return any(isinstance(n, ast.Call) and n.func is attribute for n in ast.walk(tree))


def test_nothing_in_jobs_or_integrations_reads_the_wall_clock_but_the_command_line() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in ("jobs", "integrations")
        for path in sorted((ROOT / package).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in WALL_CLOCK_ALLOWED
        for line in wall_clock_reads(path)
    ]
    assert found == []
