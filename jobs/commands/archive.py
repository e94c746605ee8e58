"""`partnerops archive [--dry-run]`: move closed records out of Airtable into the archive files.

A sync first (the mirror the records are chosen from, and compared with right before they are
deleted, is fresh), then the ``archive`` job: each chosen record is written to
``PARTNEROPS_HOME/archive/<base>-<table>.csv`` before it is deleted from Airtable, 10 a call.
A run killed at any point is finished by the next (this command or any ``run``). ``--dry-run``
polls the change feeds into a copy of the store and lists what would go; nothing is changed.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from typing import TextIO

from integrations.http import Clock
from jobs.app import ARCHIVE, App
from jobs.commands.run import _print_dry, print_outcomes
from jobs.schedule.archive_job import ARCHIVE as ARCHIVE_JOB
from jobs.schedule.lock import HomeLocked, home_lock
from jobs.schedule.runner import run_jobs
from jobs.schedule.sync_job import SyncJob
from jobs.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("partnerops")


def cmd_archive(settings: Settings, dry_run: bool, clock: Clock, out: TextIO) -> int:
    try:
        with home_lock(settings.home, "partnerops archive", clock.now()):
            app = App.open(settings, clock)
            try:
                return _archive(app, dry_run, clock.now(), out)
            finally:
                app.close()
    except HomeLocked as exc:
        print(f"partnerops: {exc}; nothing done", file=sys.stderr)
        return EXIT_USAGE


def _archive(app: App, dry_run: bool, now: datetime, out: TextIO) -> int:
    target = app.dry_copy() if dry_run else app
    try:
        outcomes = run_jobs(target, [SyncJob(), ARCHIVE_JOB], now, progress=lambda m: print(f"… {m}", file=out))
        print_outcomes(outcomes, out)
        for o in outcomes:
            log.info("%s %s: %s (%d Airtable calls)", o.job, o.status.value, o.summary(), o.calls)
            for f in o.failures:
                log.warning("%s: %s", o.job, f)
        _print_dry(target, out)
        if target.dry is None:
            print(f"archive files: {app.home / ARCHIVE}", file=out)
        return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED
    finally:
        if target is not app:
            target.queue.close()
            target.store.close()
