"""The digest's and the report's capacity figures (SPEC §8, §9), read from the ledger, the planner
and the mirror: Airtable calls used and projected this month, records per base against the cap.
No Airtable call. Without AIRTABLE_TOKEN the local store is the data: no cap applies."""

from __future__ import annotations

from datetime import datetime

from bases.schema import BASES
from jobs.app import App
from jobs.rules.capacity import Capacity
from jobs.schedule.tiers import make_plan


def read_capacity(app: App, now: datetime) -> Capacity:
    return Capacity(
        calls_used=app.ledger.used(now),
        calls_projected=make_plan(app, now).projected,
        calls_allowance=app.settings.airtable_monthly_calls,
        records={b.name: app.store.count(b.key) for b in BASES},
        record_cap=app.settings.airtable_record_cap if app.airtable is not None else 0,
    )
