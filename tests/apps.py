"""Building the program for a test: an :class:`App` on a test home with injected clients, and
running one job through the real runner."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from integrations.airtable import AirtableClient
from integrations.http import Clock
from integrations.ledger import CallLedger
from integrations.slack import SlackClient
from jobs.app import STORE, App, crm_target, smtp_sender
from jobs.apply.queue import EffectQueue
from jobs.plan import JobOutcome
from jobs.schedule.runner import Cycle, run_job
from jobs.schedule.tiers import cycle_jobs
from jobs.settings import Settings
from jobs.store.local import LocalStore


def fixed(now: datetime) -> Clock:
    return Clock(now=lambda: now, sleep=lambda _s: None)


def make_app(
    settings: Settings,
    store: LocalStore | None = None,
    ledger: CallLedger | None = None,
    client: AirtableClient | None = None,
    clock: Clock | None = None,
    slack: SlackClient | None = None,
) -> App:
    """The program on ``settings.home``, with the given store, ledger, Airtable and Slack clients."""
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    clock = clock or Clock(sleep=lambda _s: None)
    return App(
        settings=settings,
        clock=clock,
        store=store or LocalStore(home / STORE),
        ledger=ledger or CallLedger(home / "ledger.sqlite"),
        queue=EffectQueue(home / "effects.sqlite"),
        airtable=client,
        slack=slack,
        crm=crm_target(settings, clock),
        smtp=smtp_sender(settings),
    )


def at(app: App, now: datetime) -> App:
    """The same program, its clock moved to ``now``."""
    app.clock.now = lambda: now
    return app


def run(app: App, name: str, now: datetime | None = None) -> JobOutcome:
    """One job through the runner (leftovers first, read → plan → apply)."""
    when = now or app.clock.now()
    if now is not None:
        at(app, now)
    (job,) = cycle_jobs([name])
    return run_job(app, job, when, Cycle(), lambda _m: None)


def dry(app: App, name: str, now: datetime) -> tuple[JobOutcome, list[str]]:
    """One job as a dry run: its outcome and every effect a real run would have, in words."""
    copy = at(app, now).dry_copy()
    (job,) = cycle_jobs([name])
    outcome = run_job(copy, job, now, Cycle(), lambda _m: None)
    lines = copy.dry.lines if copy.dry else []
    return outcome, lines


def home_of(tmp_path: Path) -> Path:
    return tmp_path


T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # created time of test records whose age does not matter
