"""Airtable calls an archive of 300 records costs, against the fake Airtable, next to its lower bound.

    .venv/bin/python -m bench.archive

The Referrals base holds 999 of 1,000 records (the Free cap); 315 are closed and untouched for a
year, so `partnerops archive` moves the 300 oldest out (999 → 699, under 70%). Each record is
written to the archive file (no Airtable call) before it is deleted, 10 per call: the lower bound
is ⌈300 / 10⌉ = 30 delete calls. The sync that runs first (one change-feed poll per base) is
counted apart. Measured twice: a clean run, and a run killed right after its third delete call
(before it could record it), then run again.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from jobs.plan import Count
from jobs.schedule.archive_job import ARCHIVE
from jobs.schedule.runner import run_jobs
from jobs.schedule.sync_job import SyncJob
from tests.archive_world import World, archive, email
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.fakes.airtable_setup import TOKEN, provision
from tests.killing import Killed, kill_at

CAP = 1000
OLD, OPEN = 400, 599  # closed referrals 400–800 days old; open ones of the last 300 days
ARCHIVED = 300
START = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Row:
    label: str
    sync_calls: int
    archive_calls: int
    lower_bound: int
    archived: int
    in_file: int


def seed(world: World) -> None:
    fake, ids, now = world.fake, world.ids, world.now()
    for i in range(6):
        fake.ui_create(ids["partners"], "Partners", {"Name": f"Partner {i}", "Email": email(i)})
    for i in range(OLD + OPEN):
        old = i < OLD
        created = now - timedelta(days=800 - i) if old else now - timedelta(days=300 * (i - OLD) // OPEN)
        fake.ui_create(
            ids["referrals"],
            "Referrals",
            {
                "Referral": f"Lead {i} — Buyer",
                "Direction": "From partner",
                "Partner Email": email(i % 6),
                "Company Domain": f"co{i}.example",
                "Notes": "first call went well\nsecond line",
                "Status": ("Won", "Lost", "Expired")[i % 3] if old else "In CRM",
                "Expires On": (created + timedelta(days=120)).date().isoformat(),
            },
            created=created,
        )


def _world(tmp: Path) -> World:
    """The seeded fake, and the mirror a running program has of it (its first sync done)."""
    clock = FakeClock(START)
    fake = FakeAirtable(TOKEN, clock=clock).start()
    world = World(fake, provision(fake), clock, tmp / "home", CAP)
    seed(world)
    fake.record_cap = CAP
    app = world.app()
    run_jobs(app, [SyncJob()], world.now())
    app.close()
    return world


def _row(label: str, world: World, runs: list[tuple[int, int, int]]) -> Row:
    return Row(
        label,
        sync_calls=sum(s for s, _a, _n in runs),
        archive_calls=sum(a for _s, a, _n in runs),
        lower_bound=math.ceil(ARCHIVED / 10),
        archived=CAP - 1 - world.fake.base_records(world.ids["referrals"]),
        in_file=len(world.csv_rows("referrals", "Referrals")),
    )


def clean(tmp: Path) -> Row:
    world = _world(tmp)
    app = world.app()
    sync, job = archive(app)
    app.close()
    world.fake.stop()
    return _row("clean run", world, [(sync.calls, job.calls, job.counts[Count.ARCHIVED])])


def killed(tmp: Path) -> Row:
    world = _world(tmp)
    app = world.app()
    (sync,) = run_jobs(app, [SyncJob()], world.now())
    kill_at(app, 6, after=True)  # export, delete, export, delete, export, delete ✝ (sent, not recorded)
    before = app.ledger.used(world.now())
    with contextlib.suppress(Killed):
        run_jobs(app, [ARCHIVE], world.now())
    first = app.ledger.used(world.now()) - before
    app.close()
    world.clock.advance(600)
    app = world.app()
    again, job = archive(app)
    app.close()
    world.fake.stop()
    runs = [(sync.calls, first, 0), (again.calls, job.calls, job.counts[Count.ARCHIVED])]
    return _row("killed after its 3rd delete call, run again", world, runs)


def measure() -> list[Row]:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        return [clean(Path(a)), killed(Path(b))]


def main() -> None:
    print("| archive of 300 records | sync calls | archive calls | lower bound | archived | rows in the file |")
    print("|---|---|---|---|---|---|")
    for r in measure():
        print(f"| {r.label} | {r.sync_calls} | {r.archive_calls} | {r.lower_bound} | {r.archived} | {r.in_file} |")


if __name__ == "__main__":
    main()
