"""Airtable effects, through the writer: cell updates (batched), creates (upserts), deletes.

A create into a base full under the record cap waits (:mod:`jobs.apply.room`); a delete (the
archive) leaves out a record edited since it was chosen.

Cell updates of one table that are next to each other in the queue are written together: up
to 10 records a call, the cells of one record merged in queue order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Hashable
from datetime import datetime

from bases.records import Cell
from integrations.airtable import AirtableError
from jobs.apply.drain import EffectFailed, Result
from jobs.apply.room import Room, is_cap_refusal
from jobs.apply.writer import FIELD_REFUSALS, VALUE_REFUSED, WRITE_BATCH, RecordWriter
from jobs.plan import CellUpdate, Effect, RecordCreate, RecordDelete, record_version
from jobs.store.edited import remember_edited
from jobs.store.state import load_sync, save_sync

log = logging.getLogger(__name__)
_FIELD_NAME_RE = re.compile(r'field(?: name)?:? "([^"]+)"', re.IGNORECASE)


def airtable_failed(exc: AirtableError) -> EffectFailed:
    """422 = the data must be fixed (permanent); anything else may pass (transient)."""
    return EffectFailed(f"Airtable said {exc.code}: {exc.message}", permanent=exc.status == 422)


def _update(effect: Effect) -> CellUpdate:
    assert isinstance(effect.payload, CellUpdate)
    return effect.payload


def _field_gone(table: str, names: list[str]) -> EffectFailed:
    fields = ", ".join(f"{table}.{n}" for n in names)
    return EffectFailed(
        f"not written: {fields} cannot be trusted in Airtable now (renamed, deleted or retyped since the "
        "last check); run `partnerops bases check`"
    )


class AirtableExecutor:
    def __init__(self, writer: RecordWriter, record_cap: int = 0) -> None:
        self.writer = writer
        self.room = Room(writer.store, record_cap if writer.client is not None else 0)

    def run(self, effect: Effect) -> Result:
        p = effect.payload
        if isinstance(p, CellUpdate):
            outcome = self.run_batch([effect])[effect.key]
            if isinstance(outcome, EffectFailed):
                raise outcome
            return outcome
        try:
            if isinstance(p, RecordCreate):
                return self._create(p)
            if isinstance(p, RecordDelete):
                return self._delete(p)
        except AirtableError as exc:
            raise airtable_failed(exc) from None
        raise EffectFailed(f"Airtable cannot carry out {effect.kind}")

    def _create(self, p: RecordCreate) -> Result:
        """A create into a full base waits (see :mod:`jobs.apply.room`), without a call."""
        full = self.room.check(p.base)
        if full is not None:
            raise full
        try:
            return {"id": self.writer.create(p.base, p.table, p.merge_on, p.cells)}
        except AirtableError as exc:
            if is_cap_refusal(exc):
                raise self.room.refused(p.base) from None
            raise

    def _delete(self, p: RecordDelete) -> Result:
        """Delete the records still as they were when chosen (compared with the mirror, which the
        sync before keeps fresh); one edited since is kept, one deleted by someone is skipped."""
        go, kept, gone = [], [], []
        for rid in p.ids:
            record = self.writer.store.get(p.base, p.table, rid)
            if record is None:
                gone.append(rid)
            elif rid in p.versions and record_version(record.fields) != p.versions[rid]:
                kept.append(rid)
            else:
                go.append(rid)
        if kept:
            log.info("%s %s edited since they were chosen: kept in Airtable", p.table, ", ".join(kept))
            remember_edited(self.writer.store, kept, self.writer.now())
        self.writer.delete(p.base, p.table, go)
        return {"deleted": len(go), "kept": list(kept), "gone": list(gone)}

    def batch_key(self, effect: Effect) -> Hashable | None:
        p = effect.payload
        return (p.base, p.table) if isinstance(p, CellUpdate) else None

    def batch_room(self, batch: list[Effect], effect: Effect) -> bool:
        records = {_update(e).id for e in batch}
        return _update(effect).id in records or len(records) < WRITE_BATCH

    def run_batch(self, effects: list[Effect]) -> dict[str, Result | EffectFailed]:
        """One write for all of them (one base and table, at most 10 records).

        A record Airtable refuses fails the effects that wrote it and nothing else; any other
        Airtable error leaves every one of them to be tried again.
        """
        first = _update(effects[0])
        changes: dict[str, dict[str, Cell]] = {}
        for e in effects:
            changes.setdefault(_update(e).id, {}).update(_update(e).cells)
        unknown = self._unknown_fields(first.base, first.table, changes)
        if unknown:
            failed = _field_gone(first.table, unknown)
            return {e.key: failed for e in effects}
        try:
            result = self.writer.update(first.base, first.table, changes)
        except AirtableError as exc:
            failed = airtable_failed(exc)
            if exc.code in FIELD_REFUSALS or exc.code == VALUE_REFUSED:
                failed = self._forget_field(first.base, first.table, exc) or failed
            return {e.key: failed for e in effects}
        outcomes: dict[str, Result | EffectFailed] = {}
        for e in effects:
            why = result.failed.get(_update(e).id)
            outcomes[e.key] = (
                {"written": result.written} if why is None else EffectFailed(f"Airtable refused it: {why}")
            )
        for rid in result.failed:
            sharing = [e for e in effects if _update(e).id == rid]
            if len(sharing) > 1:
                # Several effects wrote this record and Airtable refused the merged cells: find the bad one(s).
                for e in sharing:
                    outcomes[e.key] = self._alone(e)
        return outcomes

    def _unknown_fields(self, base: str, table: str, changes: dict[str, dict[str, Cell]]) -> list[str]:
        """Fields these cells would write that Airtable no longer has (seen by the last schema
        check, or refused earlier in this run): writing them costs a call and fails."""
        state = load_sync(self.writer.store, base)
        blocking = set(state.get("blocking", [])) if state else set()
        names = {name for cells in changes.values() for name in cells}
        return sorted(n for n in names if table in blocking or f"{table}.{n}" in blocking)

    def _forget_field(self, base: str, table: str, exc: AirtableError) -> EffectFailed | None:
        """Airtable does not know a field the jobs write (renamed or deleted since the last sync):
        no write of it is tried again, no job trusts the base until the next full resync (which
        explains the difference), and the effects fail in plain words."""
        found = _FIELD_NAME_RE.search(exc.message or "")
        state = load_sync(self.writer.store, base)
        if found is None or state is None:
            return None
        name = found.group(1)
        if exc.code == VALUE_REFUSED:
            why = f"Airtable refuses the values of {table}.{name} for every record (was its type changed?)"
        else:
            why = f"Airtable no longer has the field {table}.{name} (renamed or deleted?)"
        state["blocking"] = sorted({*state.get("blocking", []), f"{table}.{name}"})
        state["resync"] = why
        save_sync(self.writer.store, base, state)
        return EffectFailed(f"not written: {why}; run `partnerops bases check`")

    def _alone(self, effect: Effect) -> Result | EffectFailed:
        p = _update(effect)
        try:
            result = self.writer.update(p.base, p.table, {p.id: p.cells})
        except AirtableError as exc:
            return airtable_failed(exc)
        why = result.failed.get(p.id)
        return EffectFailed(f"Airtable refused it: {why}") if why else {"written": result.written}

    def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
        """Cells the (synced) record already holds: written. Anything else is safe to repeat."""
        p = effect.payload
        if not isinstance(p, CellUpdate) or self.writer.store.get(p.base, p.table, p.id) is None:
            return None
        return None if self.writer.changed_cells(p.base, p.table, {p.id: p.cells}) else {"written": 0}
