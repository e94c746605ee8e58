"""The change feed: Airtable webhook payloads (polled, no notification URL) folded into the
record ids that changed, the cells they carried, and the records that were deleted. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobs.store.state import SyncState


@dataclass
class Values:
    """A record's cells as the change feed carried them (field id → V2 cell value)."""

    created_time: str | None
    cells: dict[str, Any]
    complete: bool  # every cell is here (a new record, or the feed sent the unchanged ones too)


@dataclass
class Changes:
    changed: dict[str, set[str]] = field(default_factory=dict)  # table name → record ids
    destroyed: dict[str, set[str]] = field(default_factory=dict)
    values: dict[str, dict[str, Values]] = field(default_factory=dict)  # table name → record id → cells
    schema_changed: bool = False
    error: bool = False
    cursor: int = 1


def _field_names(state: SyncState, table_id: str, field_ids_: dict[str, Any]) -> set[str]:
    names = {v: k.split(".", 1)[1] for k, v in state.get("field_ids", {}).items()}
    return {names[f] for f in field_ids_ if f in names}


def parse_payloads(payloads: list[dict[str, Any]], state: SyncState, changes: Changes) -> None:
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
                    values[rid] = Values(created.get("createdTime"), dict(cells), complete=True)
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


def _fold_change(values: dict[str, Values], rid: str, change: dict[str, Any]) -> None:
    """Add a change to what is known of the record: complete if it was, or if the feed sent every cell."""
    current = (change.get("current") or {}).get("cellValuesByFieldId")
    unchanged = (change.get("unchanged") or {}).get("cellValuesByFieldId")
    if not isinstance(current, dict):
        values.pop(rid, None)
        return
    known = values.get(rid)
    if isinstance(unchanged, dict):
        values[rid] = Values(known.created_time if known else None, {**unchanged, **current}, complete=True)
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
