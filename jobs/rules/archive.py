"""The archive's plan (SPEC §9), pure: which closed records leave Airtable, and the effects.

What qualifies. Airtable gives no "last modified" time without a formula field, so *untouched*
is read as: the newest date the program can know of the record is more than ARCHIVE_AFTER_DAYS
ago — a date cell counts as its whole day.

- Referrals closed (Won, Lost, Expired, Duplicate, Rejected): created time, CRM Pushed At,
  Intro Sent At and Expires On are all that old;
- Activities: Date and created time (a back-filled activity stays its first year);
- Members with Status Removed: Removed On and created time.

A record whose date cannot be read never qualifies; one a delete found edited since it was
chosen counts as touched when that was seen. How many: per base, oldest first, until the
base holds less than 70% of AIRTABLE_RECORD_CAP (or nothing more qualifies); with ARCHIVE=auto
only a base at 80% or more; with no cap (0) everything that qualifies; never more Airtable calls
than ``max_calls`` (one per 10 records).

The effects, for every 10 records of a table, in one group (a group runs in order and stops at a
failure): an :class:`ArchiveExport` of their rows to ``archive/<base>-<table>.csv``, then the
:class:`RecordDelete` of the same records, with each record's version so that one edited since
it was chosen is kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from bases.fields import ActivityF, MemberF, ReferralF
from bases.records import Record
from bases.schema import base as base_def
from bases.schema import table_def
from jobs.plan import ArchiveExport, Count, Effect, Plan, RecordDelete, fingerprint, record_version
from jobs.rules.archive_rows import archive_row
from jobs.rules.capacity import ARCHIVE_DOWN_TO, WARN_SHARE
from jobs.rules.cells import cell_date, cell_datetime, created_at, select

CLOSED = frozenset({"Won", "Lost", "Expired", "Duplicate", "Rejected"})
#: The tables the archive moves records out of, one per base.
TABLES: tuple[tuple[str, str], ...] = (
    (ReferralF.BASE, ReferralF.TABLE),
    (ActivityF.BASE, ActivityF.TABLE),
    (MemberF.BASE, MemberF.TABLE),
)
BATCH = 10  # records per Airtable delete call


def archive_file(base: str, table: str) -> str:
    """The archive file of a table, relative to PARTNEROPS_HOME."""
    return f"archive/{base}-{table}.csv"


@dataclass(frozen=True)
class ArchiveInputs:
    records: Mapping[tuple[str, str], Sequence[Record]]  # live records of each table in TABLES
    counts: Mapping[str, int]  # base key → records in Airtable now (all its tables)
    names: Mapping[str, str]  # record id → name, for link cells (Partners, Circles)
    now: datetime
    cap: int = 1000  # AIRTABLE_RECORD_CAP; 0 = no cap
    after_days: int = 365  # ARCHIVE_AFTER_DAYS
    auto: bool = False  # ARCHIVE=auto: only bases at 80% or more
    max_calls: int | None = None  # Airtable calls it may spend; None: no budget (offline)
    #: record id → when a delete found it edited since it was chosen (it counts as touched then)
    edited: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    base: str
    table: str
    record: Record
    touched: datetime  # the newest date known of it


def _day_end(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day + timedelta(days=1), time(), tzinfo=timezone.utc)


def _newest(dates: Sequence[datetime | None], required: int) -> datetime | None:
    """The newest of the dates, or None when one of the first ``required`` cannot be read."""
    if any(d is None for d in dates[:required]):
        return None
    return max(d for d in dates if d is not None)


def touched(record: Record, table: str) -> datetime | None:
    """The newest date known of a record that may be archived (None: it may not)."""
    created = created_at(record)
    if table == ReferralF.TABLE:
        if select(record.get(ReferralF.STATUS)) not in CLOSED:
            return None
        sent = [cell_datetime(record.get(ReferralF.CRM_PUSHED_AT)), cell_datetime(record.get(ReferralF.INTRO_SENT_AT))]
        return _newest([created, *sent, _day_end(cell_date(record.get(ReferralF.EXPIRES_ON)))], 1)
    if table == ActivityF.TABLE:
        return _newest([created, _day_end(cell_date(record.get(ActivityF.DATE)))], 2)
    if table == MemberF.TABLE and select(record.get(MemberF.STATUS)) == "Removed":
        return _newest([created, _day_end(cell_date(record.get(MemberF.REMOVED_ON)))], 2)
    return None


def candidates(inputs: ArchiveInputs, base: str) -> list[Candidate]:
    """The base's records that qualify, oldest first."""
    cutoff = inputs.now - timedelta(days=inputs.after_days)
    found = []
    for key, table in TABLES:
        if key != base:
            continue
        for record in inputs.records.get((key, table), ()):
            when = touched(record, table)
            if when is not None and record.id in inputs.edited:
                when = max(when, inputs.edited[record.id])
            if when is not None and when <= cutoff:
                found.append(Candidate(key, table, record, when))
    return sorted(found, key=lambda c: (c.touched, c.record.id))


def to_free(count: int, cap: int, auto: bool) -> int | None:
    """How many records must go for the base to hold less than 70% of the cap (None: all that
    qualify, without a cap); 0 under 70%, or under 80% with ARCHIVE=auto."""
    if cap <= 0:
        return None
    if auto and count < WARN_SHARE * cap:
        return 0
    keep = math.ceil(ARCHIVE_DOWN_TO * cap) - 1  # the most records "under 70%" allows
    return max(0, count - keep)


def _calls(n: int) -> int:
    return math.ceil(n / BATCH)


def choose(inputs: ArchiveInputs) -> dict[str, list[Candidate]]:
    """Base key → the records to archive, oldest first (fullest base first when the budget is short)."""
    calls_left = inputs.max_calls
    chosen: dict[str, list[Candidate]] = {}
    for key in sorted(inputs.counts, key=lambda b: -inputs.counts[b]):
        wanted = to_free(inputs.counts[key], inputs.cap, inputs.auto)
        if wanted == 0:
            continue
        found = candidates(inputs, key)
        picked = found if wanted is None else found[:wanted]
        if calls_left is not None:
            picked = picked[: calls_left * BATCH]
            calls_left -= _calls(len(picked))
        if picked:
            chosen[key] = picked
    return chosen


def _batches(picked: list[Candidate]) -> Iterator[tuple[str, list[Candidate]]]:
    by_table: dict[str, list[Candidate]] = {}
    for c in picked:
        by_table.setdefault(c.table, []).append(c)
    for table, items in by_table.items():
        for i in range(0, len(items), BATCH):
            yield table, items[i : i + BATCH]


def _effects(base: str, table: str, batch: list[Candidate], names: Mapping[str, str]) -> list[Effect]:
    tdef = table_def(base, table)
    ids = [c.record.id for c in batch]
    group = f"archive:{base}:{table}:{fingerprint(ids)}"
    rows = [archive_row(c.record, tdef, names) for c in batch]
    versions = {c.record.id: record_version(c.record.fields) for c in batch}
    path = archive_file(base, table)
    export = Effect(
        f"{group}:export",
        ArchiveExport(base, table, rows),
        path,
        f"write {len(ids)} {table} record(s) to {path}",
        group=group,
    )
    delete = Effect(
        f"{group}:delete",
        RecordDelete(base, table, ids, versions),
        path,
        f"delete the same {len(ids)} {table} record(s) from Airtable",
        group=group,
    )
    return [export, delete]


def _story(inputs: ArchiveInputs, key: str, picked: list[Candidate]) -> str:
    count, name = inputs.counts[key], base_def(key).name
    after = count - len(picked)
    share = f" ({after * 100 // inputs.cap}% of {inputs.cap})" if inputs.cap > 0 else ""
    since = f"{picked[0].touched:%Y-%m-%d}" if picked else ""
    return f"{name} base: {len(picked)} closed record(s) to archive, untouched since {since} or longer; {count} → {after} records{share}"


def _short(inputs: ArchiveInputs, key: str, picked: int) -> str | None:
    """Why a base keeps records that should go (the month's calls), or stays at 70% or more."""
    wanted = to_free(inputs.counts[key], inputs.cap, inputs.auto)
    if wanted == 0:
        return None
    found = len(candidates(inputs, key))
    goal = found if wanted is None else min(wanted, found)
    name = base_def(key).name
    if picked < goal:
        return f"{name} base: {goal - picked} more record(s) qualify; this month's Airtable calls allow {picked} now, the rest next time"
    if wanted is not None and found < wanted:
        return (
            f"{name} base: only {found} record(s) are closed and untouched for {inputs.after_days} days; "
            f"it stays at {(inputs.counts[key] - picked) * 100 // inputs.cap}% of {inputs.cap} records"
        )
    return None


def plan_archive(inputs: ArchiveInputs) -> Plan:
    plan = Plan()
    chosen = choose(inputs)
    for key in inputs.counts:
        picked = chosen.get(key, [])
        if picked:
            plan.story.append(_story(inputs, key, picked))
            for table, batch in _batches(picked):
                plan.effects += _effects(key, table, batch, inputs.names)
        short = _short(inputs, key, len(picked))
        if short:
            plan.story.append(short)
    plan.counts[Count.ARCHIVED] = sum(len(p) for p in chosen.values())
    return plan


def calls_needed(plan: Plan) -> int:
    """Airtable calls the plan's deletes cost (one per 10 records of a table)."""
    return sum(1 for e in plan.effects if isinstance(e.payload, RecordDelete))
