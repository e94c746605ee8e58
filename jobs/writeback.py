"""Write job-owned cells back: only values that changed, 10 records a call, never a manager's field.

The local store is updated with what Airtable accepted, so the next read needs no call (the
change feed ignores the program's own writes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bases.records import format_date, format_datetime
from bases.schema import table_def
from integrations.airtable import AirtableClient, AirtableError
from integrations.local import LocalStore

log = logging.getLogger(__name__)


def to_cell(value: Any) -> Any:
    """A Python value in Airtable's cell format."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_date(value)
    if value in ("", []):
        return None
    return value


def _same(old: Any, new: Any) -> bool:
    if old in (None, "", [], False) and new in (None, "", [], False):
        return True
    return bool(old == new)


@dataclass
class WriteResult:
    written: int = 0
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # record id → why


class RecordWriter:
    """Applies cell changes to the store, and to Airtable when a client is given."""

    def __init__(self, store: LocalStore, client: AirtableClient | None) -> None:
        self.store = store
        self.client = client

    def changed_cells(
        self, key: str, table: str, changes: dict[str, dict[str, Any]]
    ) -> list[tuple[str, dict[str, Any]]]:
        """Only the cells that differ from what the store holds; refuses manager-owned fields."""
        tdef = table_def(key, table)
        out: list[tuple[str, dict[str, Any]]] = []
        for record_id, cells in changes.items():
            for name in cells:
                if not tdef.field(name).writer.job_may_write:
                    raise ValueError(f"jobs may not write {table}.{name}: partner managers own that field")
            current = self.store.get(key, table, record_id)
            if current is None:
                continue
            diff = {n: to_cell(v) for n, v in cells.items() if not _same(current.get(n), to_cell(v))}
            if diff:
                out.append((record_id, diff))
        return out

    def update(self, key: str, table: str, changes: dict[str, dict[str, Any]]) -> WriteResult:
        pending = self.changed_cells(key, table, changes)
        result = WriteResult(unchanged=len(changes) - len(pending))
        if self.client is None:
            self._apply_locally(key, table, pending, result)
            return result
        for i in range(0, len(pending), 10):
            chunk = pending[i : i + 10]
            try:
                self.client.update(key, table, chunk)
            except AirtableError as exc:
                if exc.status != 422 or len(chunk) == 1:
                    if exc.status != 422:
                        raise
                    result.failed[chunk[0][0]] = exc.message
                    continue
                self._isolate(key, table, chunk, result)
                continue
            self._apply_locally(key, table, chunk, result)
        return result

    def upsert(self, key: str, table: str, merge_on: list[str], cells: dict[str, Any]) -> str:
        """Create the record whose ``merge_on`` cells match, or update it; returns its id.

        Repeating it never makes a second record, which makes it safe for a killed run to redo.
        """
        tdef = table_def(key, table)
        for name in cells:
            if not tdef.field(name).writer.job_may_write:
                raise ValueError(f"jobs may not write {table}.{name}: partner managers own that field")
        values = {n: to_cell(v) for n, v in cells.items()}
        existing = next(
            (r for r in self.store.all(key, table) if all(_same(r.get(m), values.get(m)) for m in merge_on)), None
        )
        if existing is not None:
            if self.changed_cells(key, table, {existing.id: cells}):
                self.update(key, table, {existing.id: cells})
            return existing.id
        if self.client is None:
            return self.store.create(key, table, values).id
        (record,) = self.client.upsert(key, table, [{k: v for k, v in values.items() if v is not None}], merge_on)
        self.store.put(key, table, [record])
        return record.id

    def _isolate(self, key: str, table: str, chunk: list[tuple[str, dict[str, Any]]], result: WriteResult) -> None:
        """A batch is all-or-nothing: find the bad record by writing one at a time."""
        for item in chunk:
            try:
                self.client.update(key, table, [item])  # type: ignore[union-attr]
            except AirtableError as exc:
                if exc.status != 422:
                    raise
                result.failed[item[0]] = exc.message
                continue
            self._apply_locally(key, table, [item], result)

    def _apply_locally(
        self, key: str, table: str, items: list[tuple[str, dict[str, Any]]], result: WriteResult
    ) -> None:
        for record_id, cells in items:
            self.store.merge_fields(key, table, record_id, cells)
            result.written += 1
