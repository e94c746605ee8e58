"""Write job-owned cells back: only values that changed, 10 records a call, never a manager's field.

The one place that chunks Airtable writes and isolates a record Airtable refuses (a batch is
all-or-nothing, so a refused batch is written again one record at a time to find the bad one).
The local store is updated with what Airtable accepted, so the next read needs no call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from bases.records import Cell, cell_diff
from bases.schema import table_def
from integrations.airtable import AirtableClient, AirtableError, BudgetExhausted
from jobs.store.local import LocalStore

log = logging.getLogger(__name__)

WRITE_BATCH = 10  # Airtable takes at most 10 records a write call
REFUSED = 422  # Airtable refuses the data itself (a bad value, an unknown option)
GONE = (404, 422)  # a delete naming a record that is not there (any more)
# Refusals about a field, not a record: every record of the call would be refused the same way,
# so the call is not written again one record at a time (that costs a call per record for nothing).
FIELD_REFUSALS = frozenset({"UNKNOWN_FIELD_NAME"})
VALUE_REFUSED = "INVALID_VALUE_FOR_COLUMN"  # a bad value — or, for every record, a field of another type now
#: Records refused with the very same words, one after the other from the start of a refused call,
#: after which the refusal is taken to be the field's (retyped since the last sync), not theirs.
FIELD_LEVEL_AFTER = 2

Changes = dict[str, dict[str, Cell]]


@dataclass
class WriteResult:
    written: int = 0
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # record id → why, in Airtable's words


def _chunks(items: list[tuple[str, dict[str, Cell]]]) -> Iterator[list[tuple[str, dict[str, Cell]]]]:
    for i in range(0, len(items), WRITE_BATCH):
        yield items[i : i + WRITE_BATCH]


class RecordWriter:
    """Applies cell changes to the store, and to Airtable when a client is given."""

    def __init__(self, store: LocalStore, client: AirtableClient | None, now: Callable[[], datetime]) -> None:
        self.store = store
        self.client = client
        self.now = now  # created time of records made offline (the local store is the data)

    def _check_owner(self, base: str, table: str, names: list[str]) -> None:
        tdef = table_def(base, table)
        for name in names:
            if not tdef.field(name).writer.job_may_write:
                raise ValueError(f"jobs may not write {table}.{name}: partner managers own that field")

    def changed_cells(self, base: str, table: str, changes: Changes) -> list[tuple[str, dict[str, Cell]]]:
        """Only the cells that differ from what the store holds (records it no longer has are skipped)."""
        out: list[tuple[str, dict[str, Cell]]] = []
        for record_id, cells in changes.items():
            self._check_owner(base, table, list(cells))
            current = self.store.get(base, table, record_id)
            if current is None:
                continue
            diff = cell_diff(current.fields, dict(cells))
            if diff:
                out.append((record_id, diff))
        return out

    def update(self, base: str, table: str, changes: Changes) -> WriteResult:
        """Write the changed cells, 10 records a call; a record Airtable refuses fails alone.

        Any other Airtable failure (no answer, the budget, a rename) is raised: nothing of the
        chunk was written, and the caller decides whether it is worth another try.
        """
        pending = self.changed_cells(base, table, changes)
        result = WriteResult(unchanged=len(changes) - len(pending))
        for chunk in _chunks(pending):
            if self.client is None:
                self._stored(base, table, chunk, result)
                continue
            try:
                self.client.update(base, table, chunk)
            except AirtableError as exc:
                if exc.status != REFUSED or exc.code in FIELD_REFUSALS:
                    raise
                self._isolate(base, table, chunk, result, exc)
                continue
            self._stored(base, table, chunk, result)
        return result

    def create(self, base: str, table: str, merge_on: list[str], cells: dict[str, Cell]) -> str:
        """Create the record whose ``merge_on`` cells match, or update it; returns its id.

        An upsert: repeating it (after a lost answer) finds the record it made, never a second.
        """
        self._check_owner(base, table, list(cells))
        values = {n: v for n, v in cells.items() if v is not None}
        if self.client is None:
            existing = next(
                (r for r in self.store.all(base, table) if all(r.get(m) == values.get(m) for m in merge_on)), None
            )
            if existing is not None:
                self.store.merge_fields(base, table, existing.id, dict(cells))
                return existing.id
            return self.store.create(base, table, dict(values), created=self.now()).id
        (record,) = self.client.upsert(base, table, [values], merge_on)
        self.store.put(base, table, [record])
        return record.id

    def delete(self, base: str, table: str, ids: list[str]) -> None:
        """Delete from Airtable, 10 a call; the store keeps them, marked archived.

        Marked first: a sync that sees them go before this run could record it must not forget
        them. A delete repeated after a lost answer finds some gone (404): only those still
        there are deleted. Refused (they are certainly still there): unmarked, and raised.
        """
        for i in range(0, len(ids), WRITE_BATCH):
            chunk = ids[i : i + WRITE_BATCH]
            self.store.mark_archived(base, table, chunk)
            if self.client is None:
                continue
            try:
                self._delete(base, table, chunk)
            except AirtableError as exc:
                if isinstance(exc, BudgetExhausted) or 400 <= exc.status < 500:
                    self.store.mark_archived(base, table, chunk, archived=False)
                raise

    def _delete(self, base: str, table: str, chunk: list[str]) -> None:
        assert self.client is not None
        try:
            self.client.delete(base, table, chunk)
        except AirtableError as exc:
            if exc.status not in GONE:
                raise
            primary = table_def(base, table).primary.name
            still = sorted(r.id for r in self.client.records_by_id(base, table, chunk, fields=[primary]))
            if still:
                self.client.delete(base, table, still)

    def _isolate(
        self,
        base: str,
        table: str,
        chunk: list[tuple[str, dict[str, Cell]]],
        result: WriteResult,
        refused: AirtableError,
    ) -> None:
        if len(chunk) == 1:
            result.failed[chunk[0][0]] = refused.message or refused.code
            return
        assert self.client is not None
        alike = 0  # refusals so far, from the first record on, in the chunk's own words
        for i, item in enumerate(chunk):
            try:
                self.client.update(base, table, [item])
            except AirtableError as exc:
                if exc.status != REFUSED or exc.code in FIELD_REFUSALS:
                    raise
                if i == alike and exc.code == VALUE_REFUSED and exc.message == refused.message:
                    alike += 1
                    if alike == FIELD_LEVEL_AFTER:
                        raise  # the field refuses every record: one call per record would buy nothing
                result.failed[item[0]] = exc.message or exc.code
                continue
            self._stored(base, table, [item], result)

    def _stored(self, base: str, table: str, items: list[tuple[str, dict[str, Cell]]], result: WriteResult) -> None:
        for record_id, cells in items:
            self.store.merge_fields(base, table, record_id, dict(cells))
            result.written += 1
