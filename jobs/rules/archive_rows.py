"""Archived records as rows of the archive CSV, and records brought back from it (pure).

A row is the record id, its created time and every field, each cell as text that spreadsheets and
Airtable's CSV import read back: dates and times in ISO 8601, a checkbox as ``checked`` (as
Airtable's own CSV export writes it), a number without a trailing ``.0``, a link as the linked
records' names joined by ", " (Airtable's import links by the primary field) followed by a
``<field> (record ids)`` column that keeps the exact ids.

A record brought back by hand (a CSV import makes a new record id and a new created time)
supersedes its archived copy in the history the jobs read, so nothing is counted twice — a
Referral with the same CRM ID, or any record with the same cells (Sync Notes aside) — and it
keeps the archived copy's created time (a referral's registration date).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence

from bases.records import Record
from bases.schema import TableDef
from jobs.plan import RECORD_ID_COLUMN, JsonValue, fingerprint
from jobs.rules.cells import link_ids, text

RECORD_ID, CREATED_TIME = RECORD_ID_COLUMN, "Created Time"
IDS_SUFFIX = " (record ids)"
CHECKED = "checked"
_NOT_IDENTITY = frozenset({"Sync Notes"})


def csv_cell(value: object) -> str:
    """One cell as text (empty cells are "")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return CHECKED if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, sort_keys=True)


def _link_cells(name: str, value: object, names: Mapping[str, str]) -> dict[str, JsonValue]:
    ids = link_ids(value)
    return {name: ", ".join(names.get(i, i) for i in ids), f"{name}{IDS_SUFFIX}": ",".join(ids)}


def archive_row(record: Record, table: TableDef, names: Mapping[str, str]) -> dict[str, JsonValue]:
    """The record as one CSV row: id, created time, the template's fields in order, then any
    other field it has (a column a manager added), by name."""
    row: dict[str, JsonValue] = {RECORD_ID: record.id, CREATED_TIME: record.created_time}
    for f in table.fields:
        value = record.fields.get(f.name)
        if f.type == "multipleRecordLinks":
            row.update(_link_cells(f.name, value, names))
        else:
            row[f.name] = csv_cell(value)
    for name in sorted(set(record.fields) - set(table.field_names)):
        row[name] = csv_cell(record.fields[name])
    return row


def _identity(record: Record) -> str:
    return fingerprint({k: v for k, v in record.fields.items() if k not in _NOT_IDENTITY})


def brought_back(everything: Sequence[Record], live: Collection[str]) -> dict[str, Record]:
    """Live record id → the archived record it was brought back from (its oldest match): same
    CRM ID, or the same cells. Archived records are those of ``everything`` not in ``live``."""
    by_crm: dict[str, str] = {}
    by_cells: dict[str, str] = {}
    for r in everything:
        if r.id in live:
            crm = text(r.get("CRM ID"))
            if crm:
                by_crm.setdefault(crm, r.id)
            by_cells.setdefault(_identity(r), r.id)
    out: dict[str, Record] = {}
    for r in everything:  # oldest first, as the store gives them
        if r.id in live:
            continue
        back = by_crm.get(text(r.get("CRM ID"))) if text(r.get("CRM ID")) else None
        back = back or by_cells.get(_identity(r))
        if back is not None and back not in out:
            out[back] = r
    return out


def superseded(everything: Sequence[Record], live: Collection[str]) -> set[str]:
    """Ids of archived records (those of ``everything`` not in ``live``) that a live record
    brought back from the archive stands for: same CRM ID, or the same cells."""
    live_records = [r for r in everything if r.id in live]
    crm_ids = {text(r.get("CRM ID")) for r in live_records} - {""}
    identities = {_identity(r) for r in live_records}
    return {
        r.id
        for r in everything
        if r.id not in live and (text(r.get("CRM ID")) in crm_ids or _identity(r) in identities)
    }


def history(everything: Sequence[Record], live: Collection[str]) -> list[Record]:
    """Live and archived records, once each: a record brought back stands for its archived copy
    and keeps that copy's created time (its registration date, for scores and the duplicate rule)."""
    if all(r.id in live for r in everything):
        return list(everything)  # nothing archived: nothing to match (the common case, and every run reads it)
    found = brought_back(everything, live)
    gone = superseded(everything, live)
    out = []
    for r in everything:
        if r.id in gone:
            continue
        origin = found.get(r.id)
        out.append(Record(r.id, origin.created_time, r.fields) if origin is not None else r)
    return out
