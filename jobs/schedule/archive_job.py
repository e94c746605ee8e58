"""The ``archive`` job (SPEC §9): ``partnerops archive``, and the daily tier with ARCHIVE=auto.

read (the live records of the archivable tables, the bases' counts, the month's calls to spare)
→ :func:`jobs.rules.archive.plan_archive` → apply (export, then delete, 10 records a call). It
runs after a ``sync`` in the same cycle (and is blocked when that sync fails), so the mirror it
chooses from and compares with right before deleting is fresh.

Budget: the deletes cost one call per 10 records; the job estimates that for the runner, and
never plans more than the month can spare while keeping :data:`RESERVE_SHARE` of the allowance
for the daily work.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from bases.fields import CircleF, PartnerF
from bases.schema import BASES
from jobs.app import App
from jobs.rules.archive import TABLES, ArchiveInputs, calls_needed, plan_archive
from jobs.rules.cells import name_of
from jobs.schedule.runner import Job
from jobs.store.edited import edited_seen

RESERVE_SHARE = 0.1  # of the monthly allowance, kept for the rest of the month's work


def spare_calls(app: App) -> int | None:
    """Airtable calls the archive may spend this month (None: offline, no budget applies)."""
    if app.airtable is None:
        return None
    reserve = math.ceil(RESERVE_SHARE * app.settings.airtable_monthly_calls)
    return max(0, app.airtable.remaining() - reserve)


def _names(app: App) -> dict[str, str]:
    """Record id → name of the records archived rows link to (Partners, Circles)."""
    names = {p.id: name_of(p, PartnerF.TABLE) for p in app.store.all(PartnerF.BASE, PartnerF.TABLE)}
    names.update({c.id: name_of(c, CircleF.TABLE) for c in app.store.all(CircleF.BASE, CircleF.TABLE)})
    return names


def read(app: App, now: datetime, *, auto: bool) -> ArchiveInputs:
    return ArchiveInputs(
        records={(base, table): app.store.all(base, table) for base, table in TABLES},
        counts={b.key: app.store.count(b.key) for b in BASES},
        names=_names(app),
        now=now,
        cap=app.settings.airtable_record_cap,
        after_days=app.settings.archive_after_days,
        auto=auto,
        max_calls=spare_calls(app),
        edited=edited_seen(app.store),
    )


def read_manual(app: App, now: datetime) -> ArchiveInputs:
    return read(app, now, auto=False)


def read_auto(app: App, now: datetime) -> ArchiveInputs:
    return read(app, now, auto=True)


def estimate(read: Callable[[App, datetime], ArchiveInputs]) -> Callable[[App, datetime], int]:
    """The job's cost for the runner: one call per 10 records it will delete (0 offline)."""

    def calls(app: App, now: datetime) -> int:
        return 0 if app.airtable is None else calls_needed(plan_archive(read(app, now)))

    return calls


FIELDS = (
    "Referrals.Status",
    "Referrals.Expires On",
    "Referrals.CRM Pushed At",
    "Referrals.Intro Sent At",
    "Activities.Date",
    "Members.Status",
    "Members.Removed On",
)

#: `partnerops archive`: every base at 70% of the cap or more, down to under 70%.
ARCHIVE = Job("archive", read_manual, plan_archive, estimate(read_manual), fields=FIELDS, after=("sync",))
#: ARCHIVE=auto, in the daily tier: only a base at 80% or more.
ARCHIVE_AUTO = Job("archive", read_auto, plan_archive, estimate(read_auto), fields=FIELDS, after=("sync",))
