"""The `partnerops` command line: a thin layer that wires settings to the jobs.

Exit codes: 0 done; 1 some records or effects failed (each explained); 2 bad configuration or
usage (nothing done).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import FrameType
from typing import TextIO

from jobs import admin
from jobs.cadence import TickReport, make_plan, record_runs, tick
from jobs.cycle import JOBS, ORDER, JobOutcome, run_cycle, unknown_jobs
from jobs.lock import HomeLocked, home_lock
from jobs.planner import span
from jobs.runtime import Runtime, SecretFilter
from jobs.settings import ConfigError, Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
TICK_MINUTES = 1  # the scheduler looks for due work every minute; a tick with nothing due costs nothing
ONLY_EVERY_MINUTES = 60  # `run --only …` (a job alone, every hour)

log = logging.getLogger("partnerops")


class UsageError(Exception):
    pass


def _parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(timezone.utc)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--now {text!r} is not an ISO-8601 time; e.g. --now 2026-11-21T09:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _parse_only(text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = unknown_jobs(names)
    if unknown:
        planned = [n for n in ORDER if n not in JOBS]
        raise UsageError(
            f"--only: unknown job(s) {', '.join(unknown)}; available: {', '.join(JOBS)}"
            + (f" (not built yet: {', '.join(planned)})" if planned else "")
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="partnerops", description="Airtable-backed automation for a partner program.")
    p.add_argument("--env-file", default=".env", help="settings file read besides the environment (default: .env)")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("demo", help="offline run over sample data; nothing leaves the machine")

    run = sub.add_parser("run", help="the scheduler (foreground); Ctrl-C stops after the current job")
    run.add_argument("--once", action="store_true", help="one cycle of due jobs, then exit")
    run.add_argument("--now", help="fix the clock (ISO-8601), with --once")
    run.add_argument("--only", help="comma-separated jobs, e.g. sync,health")
    run.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")

    sub.add_parser("check", help="verify settings, token, bases and their schemas")
    bases = sub.add_parser("bases", help="create or check the three Airtable bases")
    bsub = bases.add_subparsers(dest="bases_command", required=True)
    create = bsub.add_parser("create", help="create the three bases from the templates")
    create.add_argument("--workspace", required=True, help="Airtable workspace id (wsp…)")
    bsub.add_parser("check", help="compare the live bases with the templates")
    sub.add_parser("budget", help="Airtable calls used this month and the projection")
    return p


LOG_FILE = Path("logs") / "partnerops.log"
LOG_BYTES, LOG_KEEP = 1_000_000, 5


def _setup_logging(settings: Settings | None, verbose: bool, *, log_file: bool = False) -> None:
    """Console: warnings (everything with -v). With ``log_file``: also PARTNEROPS_HOME/logs, rotated."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    secrets = SecretFilter(settings.secrets() if settings is not None else [])
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.addFilter(secrets)
    root.addHandler(console)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if log_file and settings is not None:
        path = settings.home / LOG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        file = RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_KEEP, encoding="utf-8")
        file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        file.setLevel(logging.DEBUG if verbose else logging.INFO)
        file.addFilter(secrets)
        root.addHandler(file)
    for noisy in ("urllib3", "slack_sdk"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def print_outcomes(outcomes: list[JobOutcome], out: TextIO) -> None:
    for o in outcomes:
        calls = f" [{o.calls} Airtable calls]" if o.calls else ""
        print(f"  {o.job:<9} {o.status:<8} {o.summary}{calls}", file=out)
        for f in o.failures:
            print(f"            ! {f}", file=out)
    failed = [o for o in outcomes if not o.ok]
    total_calls = sum(o.calls for o in outcomes)
    verdict = f"{len(failed)} job(s) with failures" if failed else "all done"
    print(f"summary: {len(outcomes)} job(s), {verdict}, {total_calls} Airtable call(s)", file=out)


def _local(when: datetime, settings: Settings) -> str:
    return f"{when.astimezone(settings.zone):%Y-%m-%d %H:%M %Z}"


def cycle_line(report: TickReport, rt: Runtime) -> str:
    """One line per cycle: when, what ran, what failed, what it cost, when the next is due."""
    s = rt.settings
    ran = ", ".join(f"{o.job}" + ("" if o.status == "done" else f" ({o.status})") for o in report.outcomes)
    failed = sum(len(o.failures) or (0 if o.ok else 1) for o in report.outcomes)
    calls = sum(o.calls for o in report.outcomes)
    month = f"{rt.ledger.used(report.now)} of {s.airtable_monthly_calls} this month" if rt.client else "offline"
    parts = [f"{_local(report.now, s)} {'+'.join(report.tiers)}: {ran}"]
    parts.append(f"{failed} failure(s)" if failed else "ok")
    parts.append(f"{calls} Airtable call(s), {month}")
    if report.next_due is not None:
        parts.append(f"next {_local(report.next_due, s)}")
    return " · ".join(parts)


def _report_tick(report: TickReport, rt: Runtime, out: TextIO, *, details: bool) -> None:
    if details:
        print_outcomes(report.outcomes, out)
    elif report.outcomes:
        print(cycle_line(report, rt), file=out)
        for o in report.outcomes:
            for f in o.failures:
                print(f"  ! {o.job}: {f}", file=out)
    for o in report.outcomes:
        log.info("%s %s: %s (%d Airtable calls)", o.job, o.status, o.summary, o.calls)
        for f in o.failures:
            log.warning("%s: %s", o.job, f)
    if report.outcomes:
        log.info("%s", cycle_line(report, rt))
    if report.plan.mode == "stopped":
        print(f"Airtable: {report.plan.why}", file=out)
        log.warning("Airtable: %s", report.plan.why)


def cmd_run(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    only = _parse_only(args.only)
    if args.now and not args.once:
        raise UsageError("--now only goes with --once")
    what = "partnerops run --once" if args.once else "partnerops run"
    try:
        with home_lock(settings.home, what):
            rt = Runtime.open(settings)
            try:
                if args.once:
                    return _once(rt, _parse_now(args.now), only, args.dry_run, out)
                return _scheduler(rt, only, out)
            finally:
                rt.close()
    except HomeLocked as exc:
        print(f"partnerops: {exc}; nothing done", file=sys.stderr)
        # Under cron an overlapping run is expected: the other one does the work.
        return EXIT_OK if args.once else EXIT_USAGE


def _once(rt: Runtime, now: datetime, only: list[str] | None, dry_run: bool, out: TextIO) -> int:
    def say(message: str) -> None:
        print(f"… {message}", file=out)

    if only:
        outcomes = run_cycle(rt, now, only=only, dry_run=dry_run, progress=say)
        if not dry_run:
            record_runs(rt, now, [], outcomes, complete=False)
        print_outcomes(outcomes, out)
        return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED
    report = tick(rt, now, dry_run=dry_run, progress=say)
    if report.tiers:
        print(f"due at {_local(now, rt.settings)}: {' and '.join(report.tiers)} tier", file=out)
    _report_tick(report, rt, out, details=True)
    if not report.tiers and report.plan.airtable_allowed:
        print(f"nothing due at {_local(now, rt.settings)}", file=out)
    if report.next_due is not None:
        print(f"next run due {_local(report.next_due, rt.settings)}", file=out)
    return EXIT_OK if report.ok else EXIT_FAILED


def _scheduler(rt: Runtime, only: list[str] | None, out: TextIO) -> int:
    import schedule

    stop = {"requested": False}

    def request_stop(_sig: int, _frame: FrameType | None) -> None:
        stop["requested"] = True
        print("stopping after the current job…", file=out)

    previous = signal.signal(signal.SIGINT, request_stop), signal.signal(signal.SIGTERM, request_stop)
    worst = EXIT_OK

    def cycle() -> None:
        nonlocal worst
        now = datetime.now(timezone.utc)
        if only:
            outcomes = run_cycle(rt, now, only=only, should_stop=lambda: stop["requested"])
            record_runs(rt, now, [], outcomes, complete=False)
            report = TickReport(now, make_plan(rt, now), ["only"], outcomes, now + timedelta(minutes=TICK_MINUTES))
        else:
            report = tick(rt, now, should_stop=lambda: stop["requested"])
        _report_tick(report, rt, out, details=False)
        if not report.ok:
            worst = EXIT_FAILED

    scheduler = schedule.Scheduler()
    every = TICK_MINUTES if not only else ONLY_EVERY_MINUTES
    scheduler.every(every).minutes.do(cycle)
    plan = make_plan(rt, datetime.now(timezone.utc))
    cadence = f"new referrals every {span(plan.fresh_every)}" if plan.fresh_every else plan.why
    print(
        f"partnerops scheduler on {rt.home}: daily work at {rt.settings.daily_at:%H:%M} {rt.settings.tz}, {cadence}; "
        f"log in {rt.home / LOG_FILE}; Ctrl-C to stop",
        file=out,
    )
    log.info("scheduler started (pid %d)", os.getpid())
    try:
        cycle()
        while not stop["requested"]:
            scheduler.run_pending()
            time.sleep(1)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
        log.info("scheduler stopped")
    print("partnerops scheduler stopped", file=out)
    return worst


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    env_file = Path(args.env_file) if args.env_file else None
    try:
        creating = args.command == "bases" and args.bases_command == "create"
        settings = load_settings(dotenv_path=env_file, require_bases=not creating)
    except ConfigError as exc:
        if args.command == "demo":
            settings = Settings()
        else:
            print(str(exc), file=sys.stderr)
            print("see config.example.env for every variable and its meaning", file=sys.stderr)
            return EXIT_USAGE
    _setup_logging(settings, args.verbose, log_file=args.command == "run" and not getattr(args, "dry_run", False))
    try:
        if args.command == "demo":
            from jobs.demo import run_demo

            return run_demo(settings, out=out)
        if args.command == "run":
            return cmd_run(settings, args, out)
        if args.command == "check":
            return admin.cmd_check(settings, out)
        if args.command == "budget":
            return admin.cmd_budget(settings, out)
        if args.command == "bases":
            if args.bases_command == "create":
                return admin.cmd_bases_create(settings, args.workspace, out)
            return admin.cmd_bases_check(settings, out)
    except UsageError as exc:
        print(f"partnerops: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except admin.NeedsAirtable as exc:
        print(f"partnerops: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_USAGE


def main_entry() -> None:
    """The console script: `partnerops …`."""
    sys.exit(main())
