"""The `partnerops` command line: a thin layer that wires settings to the jobs.

Exit codes: 0 done; 1 some records or effects failed (each explained); 2 bad configuration or
usage (nothing done).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import TextIO

from jobs import admin
from jobs.cycle import JOBS, ORDER, JobOutcome, run_cycle, unknown_jobs
from jobs.runtime import Runtime, SecretFilter
from jobs.settings import ConfigError, Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_CYCLE_MINUTES = 60

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


def _setup_logging(settings: Settings | None, verbose: bool) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if settings is not None:
        handler.addFilter(SecretFilter(settings.secrets()))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)


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


def cmd_run(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    only = _parse_only(args.only)
    if args.now and not args.once:
        raise UsageError("--now only goes with --once")
    rt = Runtime.open(settings)
    try:
        if args.once:
            now = _parse_now(args.now)
            outcomes = run_cycle(rt, now, only=only, dry_run=args.dry_run, progress=lambda m: print(f"… {m}", file=out))
            print_outcomes(outcomes, out)
            return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED
        return _scheduler(rt, only, out)
    finally:
        rt.close()


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
        outcomes = run_cycle(rt, datetime.now(timezone.utc), only=only)
        print_outcomes(outcomes, out)
        if not all(o.ok for o in outcomes):
            worst = EXIT_FAILED

    scheduler = schedule.Scheduler()
    scheduler.every(DEFAULT_CYCLE_MINUTES).minutes.do(cycle)
    print(f"partnerops scheduler: a cycle every {DEFAULT_CYCLE_MINUTES} min; Ctrl-C to stop", file=out)
    try:
        cycle()
        while not stop["requested"]:
            scheduler.run_pending()
            time.sleep(1)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
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
    _setup_logging(settings, args.verbose)
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
