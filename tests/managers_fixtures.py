"""The reference workload (SPEC §7) as records, for the managers' view tests and bench.report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bases.records import Record, format_datetime
from bases.sample import ACTIVITIES_T, CIRCLES_T, MEMBERS_T, PARTNERS_T, REFERRALS_T, SampleData, TableKey, sample_data

REFERENCE = {"partners": 250, "activities": 150, "referrals": 600}


@dataclass(frozen=True)
class Tables:
    partners: list[Record]
    activities: list[Record]
    referrals: list[Record]
    members: list[Record]
    circles: list[Record]


def _records(data: SampleData, key: TableKey) -> list[Record]:
    # A sample row's ref is its record id here, so link cells (which hold refs) stay valid.
    return [Record(row.ref, format_datetime(row.created), dict(row.fields)) for row in data[key]]


def reference_tables(now: datetime, **sizes: int) -> Tables:
    """sample_data at the reference size (or ``sizes``) as the records the store would hold."""
    data = sample_data(now, **{**REFERENCE, **sizes})
    return Tables(*(_records(data, key) for key in (PARTNERS_T, ACTIVITIES_T, REFERRALS_T, MEMBERS_T, CIRCLES_T)))
