"""`partnerops run`: the scheduler, `run --once` for cron and timers, and `--dry-run`.

A dry run works on copies of the store and the effect queue: it polls the change feeds (1 call
per base, the stored cursor untouched), runs the jobs that are due against the copies, and prints
every effect a real run would have — each message with its recipient and text.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from types import FrameType
from typing import TextIO

from integrations.http import Clock
from jobs.app import App
from jobs.plan import JobOutcome, Status
from jobs.schedule.lock import HomeLocked, home_lock
from jobs.schedule.runner import run_jobs
from jobs.schedule.tiers import TickReport, cycle_jobs, known_jobs, make_plan, record_runs, tick
from jobs.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ONLY_EVERY = timedelta(hours=1)  # `run --only …` (a job alone, every hour)
# The scheduler sleeps until the next run is due, in naps of at most this long, reading the clock
# after each: a suspended machine or a corrected clock is noticed within a minute.
MAX_NAP = timedelta(minutes=1)

log = logging.getLogger("partnerops")


class UsageError(Exception):
    pass


def parse_now(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--now {text!r} is not an ISO-8601 time; e.g. --now 2026-11-21T09:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_only(text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known_jobs()]
    if unknown:
        raise UsageError(f"--only: unknown job(s) {', '.join(unknown)}; available: {', '.join(known_jobs())}")
    return names


def print_outcomes(outcomes: list[JobOutcome], out: TextIO) -> None:
    for o in outcomes:
        calls = f" [{o.calls} Airtable calls]" if o.calls else ""
        print(f"  {o.job:<9} {o.status.value:<8} {o.summary()}{calls}", file=out)
        for line in o.story[:20]:
            print(f"            {line}", file=out)
        for f in o.failures:
            print(f"            ! {f}", file=out)
    failed = [o for o in outcomes if not o.ok]
    total = sum(o.calls for o in outcomes)
    verdict = f"{len(failed)} job(s) with failures" if failed else "all done"
    print(f"summary: {len(outcomes)} job(s), {verdict}, {total} Airtable call(s)", file=out)


def _local(when: datetime, settings: Settings) -> str:
    return f"{when.astimezone(settings.zone):%Y-%m-%d %H:%M %Z}"


def cycle_line(report: TickReport, app: App) -> str:
    """One line per cycle: when, what ran, what failed, what it cost, when the next is due."""
    s = app.settings
    ran = ", ".join(o.job + ("" if o.status == Status.DONE else f" ({o.status.value})") for o in report.outcomes)
    failed = sum(len(o.failures) or (0 if o.ok else 1) for o in report.outcomes)
    calls = sum(o.calls for o in report.outcomes)
    month = f"{app.ledger.used(report.now)} of {s.airtable_monthly_calls} this month" if app.airtable else "offline"
    parts = [f"{_local(report.now, s)} {'+'.join(report.tiers)}: {ran}"]
    parts.append(f"{failed} failure(s)" if failed else "ok")
    parts.append(f"{calls} Airtable call(s), {month}")
    if report.next_due is not None:
        parts.append(f"next {_local(report.next_due, s)}")
    return " · ".join(parts)


def _log_tick(report: TickReport, app: App) -> None:
    for o in report.outcomes:
        log.info("%s %s: %s (%d Airtable calls)", o.job, o.status.value, o.summary(), o.calls)
        for f in o.failures:
            log.warning("%s: %s", o.job, f)
    if report.outcomes:
        log.info("%s", cycle_line(report, app))
    if not report.plan.airtable_allowed:
        log.warning("Airtable: %s", report.plan.why)


def cmd_run(settings: Settings, args: argparse.Namespace, clock: Clock, out: TextIO) -> int:
    only = parse_only(args.only)
    what = "partnerops run --once" if args.once else "partnerops run"
    try:
        with home_lock(settings.home, what, clock.now()):
            app = App.open(settings, clock)
            try:
                if args.once:
                    return _once(app, only, args.dry_run, args.quiet, out)
                return _scheduler(app, only, out)
            finally:
                app.close()
    except HomeLocked as exc:
        print(f"partnerops: {exc}; nothing done", file=sys.stderr)
        # Under cron an overlapping run is expected: the other one does the work.
        return EXIT_OK if args.once else EXIT_USAGE


def _once(app: App, only: list[str] | None, dry_run: bool, quiet: bool, out: TextIO) -> int:
    now = app.clock.now()
    target = app.dry_copy() if dry_run else app

    def say(message: str) -> None:
        if not quiet:
            print(f"… {message}", file=out)

    try:
        if only:
            outcomes = run_jobs(target, cycle_jobs(only), now, progress=say)
            if not dry_run:
                record_runs(app, now, [], outcomes, complete=False)
            print_outcomes(outcomes, out)
            _print_dry(target, out)
            return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED
        report = tick(target, now, progress=say)
        _log_tick(report, app)
        if report.tiers:
            print(f"due at {_local(now, app.settings)}: {' and '.join(report.tiers)} tier", file=out)
            print_outcomes(report.outcomes, out)
        elif not report.plan.airtable_allowed:
            print(f"Airtable: {report.plan.why}", file=out)
        elif not quiet:
            nxt = f"; next run due {_local(report.next_due, app.settings)}" if report.next_due else ""
            print(f"nothing due at {_local(now, app.settings)}{nxt}", file=out)
        if report.tiers and report.next_due is not None:
            print(f"next run due {_local(report.next_due, app.settings)}", file=out)
        _print_dry(target, out)
        return EXIT_OK if report.ok else EXIT_FAILED
    finally:
        if target is not app:
            target.queue.close()
            target.store.close()


def _print_dry(app: App, out: TextIO) -> None:
    if app.dry is None:
        return
    lines = app.dry.lines
    print(f"\ndry run: a real run would do {len(lines)} thing(s); nothing was changed", file=out)
    for i, line in enumerate(lines, 1):
        print(f"{i:>3}. {line}", file=out)


def _scheduler(app: App, only: list[str] | None, out: TextIO) -> int:
    stop = threading.Event()

    def request_stop(_sig: int, _frame: FrameType | None) -> None:
        stop.set()
        print("stopping after the current job…", file=out)

    previous = signal.signal(signal.SIGINT, request_stop), signal.signal(signal.SIGTERM, request_stop)
    worst = EXIT_OK

    def cycle() -> datetime:
        nonlocal worst
        report = _cycle(app, only, stop.is_set, out)
        if not report.ok:
            worst = EXIT_FAILED
        return report.next_due or app.clock.now() + MAX_NAP

    plan = make_plan(app, app.clock.now())
    cadence = f"new referrals polled {plan.schedule.summary()}" if plan.schedule else plan.why
    s = app.settings
    print(
        f"partnerops scheduler on {app.home}: daily work at {s.daily_at:%H:%M} {s.tz}, {cadence}; "
        f"log in {app.home / 'logs' / 'partnerops.log'}; Ctrl-C to stop",
        file=out,
    )
    log.info("scheduler started (pid %d)", os.getpid())
    try:
        due = cycle()
        while not stop.is_set():
            if sleep_until(due, app.clock.now, stop.wait):
                due = cycle()
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
        log.info("scheduler stopped")
    print("partnerops scheduler stopped", file=out)
    return worst


def sleep_until(due: datetime, now: Callable[[], datetime], wait: Callable[[float], bool]) -> bool:
    """Nap toward ``due`` (at most :data:`MAX_NAP` at a time); True once it has come, False when
    ``wait`` returned early because a stop was requested, or the nap ended before ``due``."""
    left = (due - now()).total_seconds()
    if left <= 0:
        return True
    if wait(min(left, MAX_NAP.total_seconds())):
        return False
    return now() >= due


def _cycle(app: App, only: list[str] | None, should_stop: Callable[[], bool], out: TextIO) -> TickReport:
    """One wake-up of the scheduler: the due tiers (or the ``--only`` jobs), logged and printed."""
    now = app.clock.now()
    if only:
        outcomes = run_jobs(app, cycle_jobs(only), now, should_stop=should_stop)
        record_runs(app, now, [], outcomes, complete=False)
        report = TickReport(now, make_plan(app, now), ["only"], outcomes, now + ONLY_EVERY)
    else:
        report = tick(app, now, should_stop=should_stop)
    _log_tick(report, app)
    if report.outcomes:
        print(cycle_line(report, app), file=out)
        for o in report.outcomes:
            for f in o.failures:
                print(f"  ! {o.job}: {f}", file=out)
    return report
