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
from jobs.commands.archive import cmd_archive
from jobs.commands.bases import cmd_bases_check, cmd_bases_create
from jobs.commands.budget import cmd_budget
from jobs.commands.check import cmd_check
from jobs.commands.demo import run_demo
from jobs.commands.report import cmd_report
from jobs.commands.run import UsageError, cmd_run, parse_now
from jobs.config_checks import prepare_home
from jobs.refused import SettingRefused
from jobs.schedule.lock import LockUnsupported
from jobs.settings import ConfigError, Settings, load_settings
from jobs.tokens import hide_secrets

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
    # slack_sdk logs every failed request as an ERROR; SlackError says the same, with the fix
    logging.getLogger("slack_sdk.web.base_client").setLevel(logging.DEBUG if verbose else logging.CRITICAL)


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
    create.add_argument("--force", action="store_true", help="create a new set even when the configured bases exist")
    create.add_argument("--write-env", action="store_true", help="write the three base ids into the --env-file")
    bcheck = bsub.add_parser("check", help="compare the live bases with the templates")
    bcheck.add_argument("--fix", action="store_true", help="first add the template fields a base lacks")
    budget = sub.add_parser("budget", help="Airtable calls used this month and the projection")
    budget.add_argument("--now", help="the month and moment to show (ISO-8601), as `run --once --now` sees it")
    report = sub.add_parser("report", help="the program report as one self-contained HTML file (no Airtable call)")
    report.add_argument("--out", type=Path, help="where to write it (default: PARTNEROPS_HOME/report.html)")
    archive = sub.add_parser("archive", help="move closed records out of Airtable into the archive files")
    archive.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    return p


def _settings(args: argparse.Namespace) -> Settings | int:
    env_file = Path(args.env_file) if args.env_file else None
    try:
        creating = args.command == "bases" and args.bases_command == "create"
        return load_settings(dotenv_path=env_file, require_bases=not creating)
    except ConfigError as exc:
        if args.command == "demo":
            return Settings()
        _config_error(exc, [])
        return EXIT_USAGE


def _config_error(exc: ConfigError, secrets: list[str]) -> None:
    """Bad configuration on stderr, every problem with its fix and no secret."""
    print(hide_secrets(str(exc), secrets), file=sys.stderr)
    if isinstance(exc, SettingRefused):
        print(
            "partnerops stopped there; `partnerops check` tests every setting against the live systems", file=sys.stderr
        )
    else:
        print("see config.example.env for every variable and its meaning", file=sys.stderr)


def _dispatch(settings: Settings, args: argparse.Namespace, clock: Clock, out: TextIO) -> int:
    if args.command == "demo":
        return run_demo(settings, out=out, now=clock.now())
    if args.command == "run":
        return cmd_run(settings, args, clock, out)
    if args.command == "check":
        return cmd_check(settings, out)
    if args.command == "budget":
        return cmd_budget(settings, out, clock.now())
    if args.command == "report":
        return cmd_report(settings, out, clock.now(), args.out)
    if args.command == "archive":
        return cmd_archive(settings, args.dry_run, clock, out)
    if args.bases_command == "create":
        env_file = Path(args.env_file) if args.write_env else None
        return cmd_bases_create(settings, args.workspace, out, force=args.force, env_file=env_file)
    return cmd_bases_check(settings, out, fix=args.fix)


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
        home = prepare_home(settings.home)
        if home is not None:
            raise ConfigError([home])
        clock = Clock(now=(lambda: now)) if now is not None else Clock(now=lambda: datetime.now(timezone.utc))
        dry = getattr(args, "dry_run", False)
        setup_logging(settings, args.verbose, clock.now, log_file=args.command in ("run", "archive") and not dry)
        return _dispatch(settings, args, clock, out)
    except (UsageError, NeedsAirtable, LockUnsupported) as exc:
        print(f"partnerops: {hide_secrets(str(exc), settings.secrets())}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:  # an unusable home, or a setting a service refused (jobs.refused)
        logging.getLogger("partnerops").info("stopped: %s", exc)  # the log file says why too (stderr has it)
        _config_error(exc, settings.secrets())
        return EXIT_USAGE


def main_entry() -> None:
    """The console script: `partnerops …`."""
    sys.exit(main())
