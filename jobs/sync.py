"""The `sync` job: bring Airtable changes into the local store, cheaply.

Each base has one webhook with no notification URL, used as a polled change feed: a poll with
nothing new costs exactly one call per base, and a change costs one read per 100 changed
records of a table (only the template's fields). The program's own API writes are filtered out
of the feed (they are already in the store). A full resync — schema, every record, a fresh
cursor — happens only when the cheap path cannot be trusted: first run, another base id, an
expired or broken webhook, a schema change, or the periodic safety resync.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bases.drift import Difference, compare, field_ids
from bases.records import Record, parse_datetime
from bases.schema import BASES, BaseDef, table_def
from integrations.airtable import AirtableClient, AirtableError
from integrations.local import LocalStore
from jobs.effects import Progress

log = logging.getLogger(__name__)

# Every source but the program's own API writes.
WATCHED_SOURCES = [
    "client",
    "formSubmission",
    "formPageSubmission",
    "automation",
    "system",
    "sync",
    "anonymousUser",
]
WEBHOOK_SPEC: dict[str, Any] = {
    "options": {
        "filters": {"dataTypes": ["tableData", "tableFields"], "fromSources": WATCHED_SOURCES},
        # Every cell of a changed record rides along in the payload, so a change costs no read.
        "includes": {"includeCellValuesInFieldIds": "all"},
    }
}
POLL_TRUST_DAYS = 6  # payloads live 7 days; a longer silence may have lost some
FULL_SYNC = "full-sync"  # the ledger's name for a full resync's calls (schema, feed setup, every page)
BASE_RECORD_CAP = 1000
CAP_WARNING = 0.8


@dataclass
class BaseSync:
    base: str
    mode: str = "incremental"  # "full" or "incremental"
    reason: str = ""
    read: dict[str, int] = field(default_factory=dict)
    carried: dict[str, int] = field(default_factory=dict)  # changed records taken from the feed, no read
    deleted: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        read = sum(self.read.values())
        carried = sum(self.carried.values())
        deleted = sum(self.deleted.values())
        head = f"{self.base}: {self.mode}" + (f" ({self.reason})" if self.reason else "")
        feed = f"{carried} changed from the feed, " if carried else ""
        return f"{head}, {feed}{read} records read, {deleted} removed"


@dataclass
class _Values:
    """A record's cells as the change feed carried them (field id → V2 cell value)."""

    created_time: str | None
    cells: dict[str, Any]
    complete: bool  # every cell is here (a new record, or the feed sent the unchanged ones too)


@dataclass
class _Changes:
    changed: dict[str, set[str]] = field(default_factory=dict)  # table name → record ids
    destroyed: dict[str, set[str]] = field(default_factory=dict)
    values: dict[str, dict[str, _Values]] = field(default_factory=dict)  # table name → record id → cells
    schema_changed: bool = False
    error: bool = False
    cursor: int = 1


def _state_key(base: BaseDef) -> str:
    return f"sync:{base.key}"


def full_sync_reason(state: dict[str, Any] | None, base_id: str, now: datetime, full_every_days: int) -> str | None:
    """Why the cheap path cannot be trusted, or None when it can."""
    if not state:
        return "first run"
    if state.get("base_id") != base_id:
        return "base id changed"
    if not state.get("webhook_id"):
        return "no change feed yet"
    if now - parse_datetime(state["last_full"]) >= timedelta(days=full_every_days):
        return f"periodic resync every {full_every_days} days"
    if now - parse_datetime(state["last_poll"]) >= timedelta(days=POLL_TRUST_DAYS):
        return "change feed not polled for too long"
    return None


def full_sync_cost(store: LocalStore, base: BaseDef, state: dict[str, Any] | None) -> int:
    """Calls a full resync of ``base`` costs: its schema, every page, and the feed setup if there is none."""
    pages = sum(max(1, math.ceil(store.count(base.key, t.name) / 100)) for t in base.tables)
    setup = 0 if state and state.get("webhook_id") else 2  # list the webhooks, create ours
    return 1 + pages + setup


def _field_names(state: dict[str, Any], table_id: str, field_ids_: dict[str, Any]) -> set[str]:
    names = {v: k.split(".", 1)[1] for k, v in state.get("field_ids", {}).items()}
    return {names[f] for f in field_ids_ if f in names}


def parse_payloads(payloads: list[dict[str, Any]], state: dict[str, Any], changes: _Changes) -> None:
    """Fold webhook payloads into record ids to read and to delete, per table we know."""
    tables: dict[str, str] = state.get("tables", {})
    reads: dict[str, list[str]] = state.get("fields", {})
    for payload in payloads:
        if payload.get("error"):
            changes.error = True
            continue
        for table_id, tch in (payload.get("changedTablesById") or {}).items():
            name = tables.get(table_id)
            if name is None:
                continue  # a table of the manager's own, not in the template
            if tch.get("createdFieldsById") or tch.get("changedFieldsById") or tch.get("destroyedFieldIds"):
                changes.schema_changed = True
            ids = changes.changed.setdefault(name, set())
            values = changes.values.setdefault(name, {})
            for rid, created in (tch.get("createdRecordsById") or {}).items():
                ids.add(rid)
                cells = created.get("cellValuesByFieldId") if isinstance(created, dict) else None
                if isinstance(cells, dict):
                    values[rid] = _Values(created.get("createdTime"), dict(cells), complete=True)
            for rid, change in (tch.get("changedRecordsById") or {}).items():
                cells = (change.get("current") or {}).get("cellValuesByFieldId")
                if cells is None or _field_names(state, table_id, cells) & set(reads.get(name, [])):
                    ids.add(rid)
                _fold_change(values, rid, change)
            gone = set(tch.get("destroyedRecordIds") or [])
            changes.destroyed.setdefault(name, set()).update(gone)
            ids.difference_update(gone)
            for rid in gone:
                values.pop(rid, None)


def _fold_change(values: dict[str, _Values], rid: str, change: dict[str, Any]) -> None:
    """Add a change to what is known of the record: complete if it was, or if the feed sent every cell."""
    current = (change.get("current") or {}).get("cellValuesByFieldId")
    unchanged = (change.get("unchanged") or {}).get("cellValuesByFieldId")
    if not isinstance(current, dict):
        values.pop(rid, None)
        return
    known = values.get(rid)
    if isinstance(unchanged, dict):
        values[rid] = _Values(known.created_time if known else None, {**unchanged, **current}, complete=True)
    elif known is not None and known.complete:
        known.cells.update(current)
    else:
        values.pop(rid, None)


TEXT_LIKE = {"singleLineText", "multilineText", "email", "url", "phoneNumber", "date", "dateTime"}


def rest_value(kind: str, value: Any) -> tuple[bool, Any]:
    """A V2 (webhook payload) cell value in the REST API's shape: (understood, value)."""
    if value is None:
        return True, None
    if kind == "singleSelect":
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            return True, value["name"]
        return isinstance(value, str), value
    if kind in ("multipleSelects", "multipleRecordLinks"):
        key = "name" if kind == "multipleSelects" else "id"
        if isinstance(value, list) and all(isinstance(v, dict) and isinstance(v.get(key), str) for v in value):
            return True, [v[key] for v in value]
        return False, value
    if isinstance(value, dict | list):
        return kind not in TEXT_LIKE, value
    return True, value


class Syncer:
    def __init__(
        self, client: AirtableClient, store: LocalStore, *, full_every_days: int = 7, progress: Progress | None = None
    ) -> None:
        self.client = client
        self.store = store
        self.full_every_days = full_every_days
        self.progress = progress or (lambda _msg: None)

    def run(self, now: datetime, bases: list[str] | None = None) -> list[BaseSync]:
        """Sync every base, or only those whose keys are given (the planner polls Referrals more often)."""
        return [self.sync_base(base, now) for base in BASES if bases is None or base.key in bases]

    def sync_base(self, base: BaseDef, now: datetime) -> BaseSync:
        base_id = self.client.base_id(base.key)
        state = self.store.get_state(_state_key(base))
        reason = full_sync_reason(state, base_id, now, self.full_every_days)
        changes = _Changes()
        if reason is None and state is not None:
            try:
                self._poll(base, state, changes)
            except AirtableError as exc:
                if exc.status not in (404, 410):
                    raise
                reason, state["webhook_id"] = "change feed expired", None
            else:
                if changes.error:
                    reason = "change feed reported an error"
                elif changes.schema_changed:
                    reason = "fields changed in Airtable"
        if reason is not None:
            with self.client.counted_as(FULL_SYNC):
                return self._full(base, state or {}, now, reason)
        assert state is not None
        return self._incremental(base, state, changes, now)

    def _poll(self, base: BaseDef, state: dict[str, Any], changes: _Changes) -> None:
        cursor = int(state["cursor"])
        while True:
            page = self.client.webhook_payloads(base.key, state["webhook_id"], cursor)
            parse_payloads(page.get("payloads", []), state, changes)
            cursor = int(page.get("cursor", cursor))
            if not page.get("mightHaveMore"):
                break
        changes.cursor = cursor

    def _incremental(self, base: BaseDef, state: dict[str, Any], changes: _Changes, now: datetime) -> BaseSync:
        report = BaseSync(base.name)
        for table, ids in changes.changed.items():
            if not ids:
                continue
            carried = self._from_feed(base, table, state, changes.values.get(table, {}), ids)
            self.store.put(base.key, table, carried)
            to_read = ids - {r.id for r in carried}
            records = (
                self.client.records_by_id(base.key, table, sorted(to_read), fields=state["fields"][table])
                if to_read
                else []
            )
            self.store.put(base.key, table, records)
            missing = to_read - {r.id for r in records}  # changed, then deleted before we read
            self.store.delete(base.key, table, missing)
            report.read[table] = len(records)
            report.carried[table] = len(carried)
            self.progress(f"{base.name} › {table}: {len(carried)} changed records from the feed, {len(records)} read")
        for table, ids in changes.destroyed.items():
            if ids:
                self.store.delete(base.key, table, ids)
                report.deleted[table] = len(ids)
        state.update(cursor=changes.cursor, last_poll=now.isoformat())
        self.store.set_state(_state_key(base), state)
        report.warnings = capacity_warnings(self.store, base)
        return report

    def _from_feed(
        self, base: BaseDef, table: str, state: dict[str, Any], values: dict[str, _Values], ids: set[str]
    ) -> list[Record]:
        """The changed records whose every cell the feed carried, in the REST shape; the rest must be read."""
        names = {v: k.split(".", 1)[1] for k, v in state.get("field_ids", {}).items() if k.startswith(f"{table}.")}
        read = set(state.get("fields", {}).get(table, []))
        tdef = table_def(base.key, table)
        out = []
        for rid in sorted(ids):
            known = values.get(rid)
            if known is None or not known.complete:
                continue
            created = known.created_time
            if not created:
                stored = self.store.get(base.key, table, rid)
                if stored is None:
                    continue  # its created time is only in the API
                created = stored.created_time
            fields: dict[str, Any] = {}
            understood = True
            for fid, raw in known.cells.items():
                name = names.get(fid)
                if name is None or name not in read:
                    continue
                ok, value = rest_value(tdef.field(name).type, raw)
                understood = understood and ok
                if value not in (None, "", []):
                    fields[name] = value
            if understood:
                out.append(Record(rid, created, fields))
        return out

    def _ensure_webhook(self, base: BaseDef, state: dict[str, Any]) -> tuple[str, int]:
        if state.get("webhook_id") and state.get("base_id") == self.client.base_id(base.key):
            return state["webhook_id"], int(state.get("cursor", 1))
        for hook in self.client.list_webhooks(base.key):
            if hook.get("notificationUrl") is None and hook.get("specification") == WEBHOOK_SPEC:
                if hook.get("isHookEnabled", True):
                    return hook["id"], int(hook.get("cursorForNextPayload", 1))
                self.client.delete_webhook(base.key, hook["id"])
        created = self.client.create_webhook(base.key, WEBHOOK_SPEC)
        return created["id"], 1

    def _full(self, base: BaseDef, state: dict[str, Any], now: datetime, reason: str) -> BaseSync:
        report = BaseSync(base.name, mode="full", reason=reason)
        self.progress(f"{base.name}: full resync ({reason})")
        schema = self.client.schema(base.key)
        report.differences = compare(base, schema, state.get("field_ids"))
        # The feed is set up before reading, so a change made during the read is not lost.
        webhook_id, cursor = self._ensure_webhook(base, state)
        live = {t["name"]: t for t in schema.get("tables", [])}
        fields: dict[str, list[str]] = {}
        for table in base.tables:
            if table.name not in live:
                continue
            live_names = {f["name"] for f in live[table.name].get("fields", [])}
            fields[table.name] = [n for n in table.field_names if n in live_names]
            records = self.client.list_records(base.key, table.name, fields=fields[table.name])
            self.store.replace_table(base.key, table.name, records)
            report.read[table.name] = len(records)
            self.progress(f"{base.name} › {table.name}: {len(records)} records")
        self.store.set_state(
            _state_key(base),
            {
                "base_id": self.client.base_id(base.key),
                "webhook_id": webhook_id,
                "cursor": cursor,
                "tables": {t["id"]: t["name"] for t in schema.get("tables", [])},
                "field_ids": field_ids(schema),
                "fields": fields,
                "last_full": now.isoformat(),
                "last_poll": now.isoformat(),
                "differences": [str(d) for d in report.differences],
            },
        )
        report.warnings = capacity_warnings(self.store, base)
        return report


def capacity_warnings(store: LocalStore, base: BaseDef) -> list[str]:
    """Airtable Free holds 1,000 records a base; warn from 80%."""
    used = store.count(base.key)
    if used >= BASE_RECORD_CAP:
        return [
            f"base {base.name} is full ({used} of {BASE_RECORD_CAP} records): new records will be refused; archive closed referrals"
        ]
    if used >= CAP_WARNING * BASE_RECORD_CAP:
        return [
            f"base {base.name} holds {used} of {BASE_RECORD_CAP} records ({used * 100 // BASE_RECORD_CAP}%); plan to archive closed referrals"
        ]
    return []


def records_of(store: LocalStore, key: str, table: str) -> list[Record]:
    return store.all(key, table)
