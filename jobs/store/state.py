"""The program's small memories in the store's ``state`` table, typed.

The keys are part of what a home written by an earlier version holds: they do not change.
Each reader tolerates a missing or malformed value (a home restored from an older copy, a value
from an older version) by treating it as absent.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from bases.records import parse_datetime
from jobs.store.local import LocalStore, StateValue

CADENCE = "cadence"
ZONE = "circles:zone"
STAGES_SINCE = "stages:since"
SNAPSHOT_PREFIX = "metrics:"


def sync_key(base: str) -> str:
    return f"sync:{base}"


def snapshot_key(week: str) -> str:
    """Where the digest keeps the weekly snapshot of an ISO week (e.g. ``metrics:2026-W22``)."""
    return f"{SNAPSHOT_PREFIX}{week}"


def attribution_key(referral_id: str) -> str:
    """Where the CRM's attribution answer for a referral is remembered (no Airtable call)."""
    return f"attribution:{referral_id}"


def first_push_key(referral_id: str) -> str:
    """When a referral was first pushed (its document's ``occurred_at``): a repeated push after a
    lost answer sends the very same document, so a receiver deduplicating on it sees one event."""
    return f"first-push:{referral_id}"


class SyncState(TypedDict, total=False):
    base_id: str
    webhook_id: str | None
    cursor: int
    feed: int  # version of the change feed's specification (a new one means a full resync)
    tables: dict[str, str]  # table id → name
    field_ids: dict[str, str]  # "Table.Field" → field id
    fields: dict[str, list[str]]  # table name → the template fields it has (what is read)
    last_full: str
    last_poll: str
    differences: list[str]
    blocking: list[str]  # "Table.Field" the jobs cannot trust (missing, wrong type, lost option)
    absent: list[str]  # "Table.Field" the base never had (a newer template's): written around, not blocking writers
    resync: str  # why no field of the base is trusted until the next full resync (a change seen, not checked)


class JobRun(TypedDict):
    at: str
    status: str
    calls: int


class CadenceState(TypedDict, total=False):
    since: str
    daily: str
    fresh: str
    digest: str  # the ISO week the last scheduled digest reported on
    jobs: dict[str, JobRun]


def load_sync(store: LocalStore, base: str) -> SyncState | None:
    value = store.get_state(sync_key(base))
    return cast(SyncState, value) if isinstance(value, dict) else None


def save_sync(store: LocalStore, base: str, state: SyncState) -> None:
    store.set_state(sync_key(base), cast(StateValue, state))


def load_cadence(store: LocalStore) -> CadenceState:
    value = store.get_state(CADENCE)
    return cast(CadenceState, dict(value)) if isinstance(value, dict) else CadenceState()


def save_cadence(store: LocalStore, state: CadenceState) -> None:
    store.set_state(CADENCE, cast(StateValue, state))


def when(text: object) -> datetime | None:
    """A stored ISO time, or None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_datetime(text)
    except ValueError:
        return None


ZoneState = dict[str, dict[str, bool]]  # circle id → partner e-mail → nudged in this stay


def load_zone(store: LocalStore) -> ZoneState:
    value = store.get_state(ZONE)
    if not isinstance(value, dict):
        return {}
    out: ZoneState = {}
    for circle, entries in value.items():
        if isinstance(entries, dict):
            out[circle] = {str(e): bool(v) for e, v in entries.items()}
    return out


def load_since(store: LocalStore) -> datetime | None:
    return when(store.get_state(STAGES_SINCE))
