"""The `sync` job: Airtable's changes into the store (its own runner: it *is* I/O).

A dry run polls the change feeds into the dry run's copy of the store (1 call per base), without
advancing the stored cursor, so the plan that follows sees what a real run would see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bases.schema import BASES
from jobs.app import App
from jobs.plan import Count, JobOutcome, Status
from jobs.rules.capacity import capacity_warning
from jobs.store.state import load_sync
from jobs.sync.syncer import Syncer, full_sync_cost, full_sync_reason

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SyncJob:
    bases: tuple[str, ...] | None = None  # None: every base (the planner polls Referrals more often)
    name: str = "sync"
    fields: tuple[str, ...] = ()
    after: tuple[str, ...] = ()

    def keys(self) -> list[str]:
        return [b.key for b in BASES if self.bases is None or b.key in self.bases]

    def cost(self, app: App, now: datetime) -> int:
        if app.airtable is None:
            return 0
        calls = 0
        for base in BASES:
            if base.key not in self.keys():
                continue
            state = load_sync(app.store, base.key)
            if full_sync_reason(state, app.airtable.base_id(base.key), now, app.settings.sync_full_every_days):
                calls += full_sync_cost(app.store, base, state)
            else:
                calls += 2  # a poll, and room for a read when the feed did not carry a record whole
        return calls

    def execute(self, app: App, now: datetime, say: Progress) -> JobOutcome:
        if app.airtable is None:
            return JobOutcome(
                self.name, Status.SKIPPED, reason="no AIRTABLE_TOKEN: the local store is the data, nothing to sync"
            )
        syncer = Syncer(
            app.airtable,
            app.store,
            full_every_days=app.settings.sync_full_every_days,
            progress=say,
            poll_only=app.dry is not None,
        )
        reports = syncer.run(now, self.keys())
        out = JobOutcome(self.name, Status.PLANNED if app.dry else Status.DONE)
        for r in reports:
            out.counts[Count.RECORDS_READ] += sum(r.read.values())
            out.counts[Count.CHANGES_FROM_FEED] += sum(r.carried.values())
            out.counts[Count.RECORDS_REMOVED] += sum(r.deleted.values())
            out.story.append(r.summary())
            out.failures += [str(d) for d in r.differences if d.blocking]
        for base in BASES:
            if base.key in self.keys():
                warning = capacity_warning(base.name, app.store.count(base.key), app.settings.airtable_record_cap)
                if warning:
                    log.warning("%s", warning)
                    out.story.append(warning)
        return out
