"""The `partnerops` command line: the only reader of the environment and of the wall clock.

Exit codes: 0 done; 1 some records or effects failed (each explained); 2 bad configuration or
usage (nothing done).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

from integrations.http import Clock, scrub
from jobs.commands.airtable_words import NeedsAirtable
from jobs.commands.bases import cmd_bases_check, cmd_bases_create
from jobs.commands.budget import cmd_budget
from jobs.commands.check import cmd_check
from jobs.commands.demo import run_demo
from jobs.commands.run import UsageError, cmd_run, parse_now
from jobs.settings import ConfigError, Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LOG_FILE = Path("logs") / "partnerops.log"
LOG_BYTES, LOG_KEEP = 1_000_000, 5


class SecretFilter(logging.Filter):
    """Replaces every secret value in a log record with ***."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage(), self.secrets), ()
        return True


class ClockFormatter(logging.Formatter):
    """Log lines carry the run's clock (``--now``), not the wall clock."""

    def __init__(self, fmt: str, now: Callable[[], datetime]) -> None:
        super().__init__(fmt)
        self.now = now

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return self.now().strftime(datefmt or "%Y-%m-%d %H:%M:%S%z")


def setup_logging(settings: Settings | None, verbose: bool, now: Callable[[], datetime], *, log_file: bool) -> None:
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
        file.setFormatter(ClockFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", now))
        file.setLevel(logging.DEBUG if verbose else logging.INFO)
        file.addFilter(secrets)
        root.addHandler(file)
    for noisy in ("urllib3", "slack_sdk"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
    run.add_argument("--dry-run", action="store_true", help="print every effect a real run would have; change nothing")
    run.add_argument("-q", "--quiet", action="store_true", help="print nothing when nothing was due")

    sub.add_parser("check", help="verify settings, tokens, bases, Slack, SMTP and the CRM")
    bases = sub.add_parser("bases", help="create or check the three Airtable bases")
    bsub = bases.add_subparsers(dest="bases_command", required=True)
    create = bsub.add_parser("create", help="create the three bases from the templates")
    create.add_argument("--workspace", required=True, help="Airtable workspace id (wsp…)")
    bsub.add_parser("check", help="compare the live bases with the templates")
    budget = sub.add_parser("budget", help="Airtable calls used this month and the projection")
    budget.add_argument("--now", help="the month and moment to show (ISO-8601), as `run --once --now` sees it")
    return p


def _settings(args: argparse.Namespace) -> Settings | int:
    env_file = Path(args.env_file) if args.env_file else None
    try:
        creating = args.command == "bases" and args.bases_command == "create"
        return load_settings(dotenv_path=env_file, require_bases=not creating)
    except ConfigError as exc:
        if args.command == "demo":
            return Settings()
        print(str(exc), file=sys.stderr)
        print("see config.example.env for every variable and its meaning", file=sys.stderr)
        return EXIT_USAGE


def _dispatch(settings: Settings, args: argparse.Namespace, clock: Clock, out: TextIO) -> int:
    if args.command == "demo":
        return run_demo(settings, out=out, now=clock.now())
    if args.command == "run":
        return cmd_run(settings, args, clock, out)
    if args.command == "check":
        return cmd_check(settings, out)
    if args.command == "budget":
        return cmd_budget(settings, out, clock.now())
    if args.bases_command == "create":
        return cmd_bases_create(settings, args.workspace, out)
    return cmd_bases_check(settings, out)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    settings = _settings(args)
    if isinstance(settings, int):
        return settings
    try:
        now = parse_now(getattr(args, "now", None))
        if now is not None and not (args.command == "budget" or (args.command == "run" and args.once)):
            raise UsageError("--now only goes with `run --once` and `budget`")
        clock = Clock(now=(lambda: now)) if now is not None else Clock(now=lambda: datetime.now(timezone.utc))
        dry = getattr(args, "dry_run", False)
        setup_logging(settings, args.verbose, clock.now, log_file=args.command == "run" and not dry)
        return _dispatch(settings, args, clock, out)
    except (UsageError, NeedsAirtable) as exc:
        print(f"partnerops: {exc}", file=sys.stderr)
        return EXIT_USAGE


def main_entry() -> None:
    """The console script: `partnerops …`."""
    sys.exit(main())
