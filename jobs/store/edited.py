"""Records the archive chose but found edited in Airtable right before deleting them: kept, and
remembered with when that was seen, so they count as touched then (SPEC §9: a record edited after
it was chosen is not deleted; it may go once it is untouched again for ARCHIVE_AFTER_DAYS)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bases.records import parse_datetime
from jobs.store.local import LocalStore, StateValue

EDITED = "archive:edited"


def edited_seen(store: LocalStore) -> dict[str, datetime]:
    """Record id → when the archive last saw it edited after choosing it."""
    value = store.get_state(EDITED)
    out: dict[str, datetime] = {}
    if isinstance(value, dict):
        for rid, when in value.items():
            try:
                out[rid] = parse_datetime(str(when))
            except ValueError:
                continue
    return out


def remember_edited(store: LocalStore, ids: Iterable[str], when: datetime) -> None:
    seen: dict[str, StateValue] = {rid: at.isoformat() for rid, at in edited_seen(store).items()}
    seen.update({rid: when.isoformat() for rid in ids})
    store.set_state(EDITED, seen)
