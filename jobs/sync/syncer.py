"""The `sync` job: bring Airtable changes into the local store, cheaply.

Each base has one webhook with no notification URL, used as a polled change feed: a poll with
nothing new costs exactly one call per base; the feed carries every cell of a changed record,
so a change usually costs no read (a record it did not carry whole is read by id, 100 a call,
only the template's fields). The feed includes the program's own writes, so a home restored
from an older copy catches up from its stored cursor (Airtable keeps payloads 7 days) and
knows what it already did. A full resync — schema, every record, a fresh cursor — happens only
when the cheap path cannot be trusted: first run, another base id, an expired or broken
webhook, a schema change, a feed set up by an older version, or the periodic safety resync.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bases.drift import Difference, compare, field_ids
from bases.records import Record, parse_datetime
from bases.schema import BASES, BaseDef, table_def
from integrations.airtable import AirtableClient, AirtableError
from jobs.store.local import LocalStore
from jobs.store.state import SyncState, load_sync, save_sync
from jobs.sync.feed import Changes, Values, parse_payloads, rest_value

log = logging.getLogger(__name__)

FEED_VERSION = 2  # 2: the program's own writes are in the feed (restored homes catch up)
WEBHOOK_SPEC: dict[str, object] = {
    "options": {
        "filters": {"dataTypes": ["tableData", "tableFields"]},
        # Every cell of a changed record rides along in the payload, so a change costs no read.
        "includes": {"includeCellValuesInFieldIds": "all"},
    }
}
POLL_TRUST_DAYS = 6  # payloads live 7 days; a longer silence may have lost some
FULL_SYNC = "full-sync"
SCHEMA_CHANGED = (
    "fields changed in Airtable"  # the ledger's name for a full resync's calls (schema, feed setup, every page)
)

Progress = Callable[[str], None]


@dataclass
class BaseSync:
    base: str
    mode: str = "incremental"  # "full", "incremental", or "poll only" (a dry run)
    reason: str = ""
    read: dict[str, int] = field(default_factory=dict)
    carried: dict[str, int] = field(default_factory=dict)  # changed records taken from the feed, no read
    deleted: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)

    def summary(self) -> str:
        head = f"{self.base}: {self.mode}" + (f" ({self.reason})" if self.reason else "")
        carried = sum(self.carried.values())
        feed = f"{carried} changed from the feed, " if carried else ""
        return f"{head}, {feed}{sum(self.read.values())} records read, {sum(self.deleted.values())} removed"


def full_sync_reason(state: SyncState | None, base_id: str, now: datetime, full_every_days: int) -> str | None:
    """Why the cheap path cannot be trusted, or None when it can."""
    if not state:
        return "first run"
    if state.get("resync"):
        return str(state.get("resync"))
    if state.get("base_id") != base_id:
        return "base id changed"
    if not state.get("webhook_id"):
        return "no change feed yet"
    if state.get("feed", 1) != FEED_VERSION:
        return "the change feed is set up anew (it now also follows the program's own writes)"
    last_full, last_poll = state.get("last_full"), state.get("last_poll")
    if not last_full or now - parse_datetime(last_full) >= timedelta(days=full_every_days):
        return f"periodic resync every {full_every_days} days"
    if not last_poll or now - parse_datetime(last_poll) >= timedelta(days=POLL_TRUST_DAYS):
        return "change feed not polled for too long"
    return None


def full_sync_cost(store: LocalStore, base: BaseDef, state: SyncState | None) -> int:
    """Calls a full resync of ``base`` costs: its schema, every page, and the feed setup if there is none."""
    pages = sum(max(1, math.ceil(store.count(base.key, t.name) / 100)) for t in base.tables)
    current = bool(state and state.get("webhook_id") and state.get("feed", 1) == FEED_VERSION)
    return 1 + pages + (0 if current else 2)  # list the webhooks, create ours


def blocking_fields(differences: list[Difference]) -> list[str]:
    """ "Table.Field" (or "Table") of each difference the jobs cannot work around."""
    return sorted({f"{d.table}.{d.field}" if d.field else d.table for d in differences if d.blocking})


class Syncer:
    def __init__(
        self,
        client: AirtableClient,
        store: LocalStore,
        *,
        full_every_days: int = 7,
        progress: Progress | None = None,
        poll_only: bool = False,
    ) -> None:
        self.client = client
        self.store = store
        self.full_every_days = full_every_days
        self.progress = progress or (lambda _msg: None)
        # A dry run: poll the feeds into this (scratch) store; no full resync, no webhook made.
        self.poll_only = poll_only

    def run(self, now: datetime, bases: list[str] | None = None) -> list[BaseSync]:
        """Sync every base, or only those whose keys are given (the planner polls Referrals more often)."""
        return [self.sync_base(base, now) for base in BASES if bases is None or base.key in bases]

    def sync_base(self, base: BaseDef, now: datetime) -> BaseSync:
        state = load_sync(self.store, base.key)
        reason = full_sync_reason(state, self.client.base_id(base.key), now, self.full_every_days)
        changes = Changes()
        if state is not None and (reason is None or (self.poll_only and state.get("webhook_id"))):
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
                    reason = SCHEMA_CHANGED
                    self._distrust(base, state)
        if self.poll_only:
            if state is None or not state.get("webhook_id"):
                # No change feed yet: a dry run reads every record (reads only: no feed is made).
                report = self._full(base, state or SyncState(), now, "no change feed yet: every record read")
                report.mode = "read only"
                return report
            report = self._incremental(base, state, changes, now)
            report.mode, report.reason = "poll only", reason or ""
            return report
        if reason is not None:
            with self.client.counted_as(FULL_SYNC):
                return self._full(base, state or SyncState(), now, reason, polled=changes.cursor if state else None)
        assert state is not None
        return self._incremental(base, state, changes, now)

    def _distrust(self, base: BaseDef, state: SyncState) -> None:
        """Fields changed in Airtable: until the full resync that checks them is done (it may
        fail, or a dry run never does it), no job trusts a field of this base."""
        marked = SyncState(**state)
        marked["resync"] = SCHEMA_CHANGED
        save_sync(self.store, base.key, marked)

    def _poll(self, base: BaseDef, state: SyncState, changes: Changes) -> None:
        cursor = int(state.get("cursor", 1))
        webhook = str(state.get("webhook_id"))
        while True:
            page = self.client.webhook_payloads(base.key, webhook, cursor)
            payloads = page.get("payloads", [])
            parse_payloads(payloads if isinstance(payloads, list) else [], state, changes)
            cursor = int(str(page.get("cursor", cursor)))
            if not page.get("mightHaveMore"):
                break
        changes.cursor = cursor

    def _incremental(self, base: BaseDef, state: SyncState, changes: Changes, now: datetime) -> BaseSync:
        report = BaseSync(base.name)
        for table, ids in changes.changed.items():
            if ids:
                self._changed(base, table, state, changes, ids, report)
        for table, ids in changes.destroyed.items():
            if ids:
                self.store.delete(base.key, table, ids)
                report.deleted[table] = len(ids)
        if not self.poll_only:
            state["cursor"], state["last_poll"] = changes.cursor, now.isoformat()
            save_sync(self.store, base.key, state)
        return report

    def _changed(
        self, base: BaseDef, table: str, state: SyncState, changes: Changes, ids: set[str], report: BaseSync
    ) -> None:
        carried = self._from_feed(base, table, state, changes.values.get(table, {}), ids)
        self.store.put(base.key, table, carried)
        to_read = ids - {r.id for r in carried}
        fields = state.get("fields", {}).get(table, [])
        records = self.client.records_by_id(base.key, table, sorted(to_read), fields=fields) if to_read else []
        self.store.put(base.key, table, records)
        self.store.delete(base.key, table, to_read - {r.id for r in records})  # changed, then deleted
        report.read[table] = len(records)
        report.carried[table] = len(carried)
        self.progress(f"{base.name} › {table}: {len(carried)} changed records from the feed, {len(records)} read")

    def _from_feed(
        self, base: BaseDef, table: str, state: SyncState, values: dict[str, Values], ids: set[str]
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
            fields: dict[str, object] = {}
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

    def _ensure_webhook(self, base: BaseDef, state: SyncState) -> tuple[str, int]:
        current = state.get("webhook_id")
        if current and state.get("base_id") == self.client.base_id(base.key) and state.get("feed", 1) == FEED_VERSION:
            return str(current), int(state.get("cursor", 1))
        found: tuple[str, int] | None = None
        for hook in self.client.list_webhooks(base.key):
            if hook.get("notificationUrl") is not None:
                continue  # not ours: someone else's integration
            ours_now = hook.get("specification") == WEBHOOK_SPEC and hook.get("isHookEnabled", True)
            if ours_now and found is None:
                found = (str(hook["id"]), int(str(hook.get("cursorForNextPayload", 1))))
            elif _ours(hook):
                self.client.delete_webhook(base.key, str(hook["id"]))  # an old or disabled feed of ours
        if found is not None:
            return found
        created = self.client.create_webhook(base.key, WEBHOOK_SPEC)
        return str(created["id"]), 1

    def _full(self, base: BaseDef, state: SyncState, now: datetime, reason: str, polled: int | None = None) -> BaseSync:
        report = BaseSync(base.name, mode="full", reason=reason)
        self.progress(f"{base.name}: full resync ({reason})")
        schema = self.client.schema(base.key)
        report.differences = compare(base, schema, state.get("field_ids"))
        # The feed is set up before reading, so a change made during the read is not lost.
        webhook_id, cursor = (None, 1) if self.poll_only else self._ensure_webhook(base, state)
        if polled is not None and webhook_id is not None and webhook_id == state.get("webhook_id"):
            # What the poll just read (the schema change that led here) is in the records read
            # below: the feed goes on after it, or the same change would force a resync every run.
            cursor = max(cursor, polled)
        live = {str(t["name"]): t for t in schema.get("tables", [])}
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
        new_state = SyncState(
            base_id=self.client.base_id(base.key),
            webhook_id=webhook_id,
            cursor=cursor,
            feed=FEED_VERSION,
            tables={str(t["id"]): str(t["name"]) for t in schema.get("tables", [])},
            field_ids=_known_ids(base, state, schema),
            fields=fields,
            last_full=now.isoformat(),
            last_poll=now.isoformat(),
            differences=[str(d) for d in report.differences],
            blocking=blocking_fields(report.differences),
            absent=[f"{d.table}.{d.field}" for d in report.differences if d.kind == "missing" and d.field],
        )
        save_sync(self.store, base.key, new_state)
        return report


def _known_ids(base: BaseDef, state: SyncState, schema: dict[str, Any]) -> dict[str, str]:
    """ "Table.Field" → field id as the live schema has them, plus the ids remembered for template
    fields the schema no longer has by name: a renamed (or deleted) field stays *renamed* (with
    the way back) or *deleted* at every later resync, instead of becoming merely "missing"."""
    live = field_ids(schema)
    template = {f"{t.name}.{f.name}" for t in base.tables for f in t.fields}
    kept = {k: v for k, v in state.get("field_ids", {}).items() if k in template and k not in live}
    return {**kept, **live}


def _ours(hook: dict[str, object]) -> bool:
    """A webhook this program made (any version): no URL, table data and fields, every cell included."""
    spec = hook.get("specification")
    if not isinstance(spec, dict):
        return False
    options = spec.get("options")
    if not isinstance(options, dict):
        return False
    filters, includes = options.get("filters"), options.get("includes")
    return (
        isinstance(filters, dict)
        and filters.get("dataTypes") == ["tableData", "tableFields"]
        and isinstance(includes, dict)
        and includes.get("includeCellValuesInFieldIds") == "all"
    )
