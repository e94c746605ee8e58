"""The embedded local store: SQLite under PARTNEROPS_HOME, records in Airtable's shape.

Without an Airtable token it *is* the data (demo, trial, tests); with a token it is the mirror
that ``sync`` keeps fresh. Jobs read records from here, never straight from the API.

Records moved out of Airtable by the archive stay here, marked archived, so history (scores,
duplicate rules, metrics) is the same after archiving as before; :meth:`LocalStore.all` leaves
them out unless asked.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeAlias

from bases.records import Record, format_datetime, is_empty

_ID_ALPHABET = string.ascii_letters + string.digits

StateValue: TypeAlias = "None | bool | int | float | str | list[StateValue] | dict[str, StateValue]"

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS records (
    base TEXT NOT NULL,
    tbl TEXT NOT NULL,
    id TEXT NOT NULL,
    created_time TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (base, tbl, id)
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    base TEXT NOT NULL,
    tbl TEXT NOT NULL,
    id TEXT NOT NULL,
    job TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (base, tbl, id, job)
);
"""
# Columns added after the first release: a home written by an older version gets them on open.
MIGRATIONS = (("records", "archived", "INTEGER NOT NULL DEFAULT 0"),)


def new_record_id() -> str:
    return "rec" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(14))


def _clean(fields: Mapping[str, object]) -> dict[str, object]:
    """Airtable omits empty cells; so does the store, so both look the same to the rules."""
    return {k: v for k, v in fields.items() if not is_empty(v)}


class LocalStore:
    """Records keyed by (base key, table name, record id), small JSON state values, and the
    Sync Notes each job has for a record."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Durable across a killed process (what the guarantees are about); an fsync per commit is not needed.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA_SQL)
        # The same row read again gives the same Record object (no JSON decoding, and the rules'
        # parsed views of it, cached by identity, stay valid). Records are never mutated.
        self._seen: dict[tuple[str, str], tuple[str, Record]] = {}
        for table, column, decl in MIGRATIONS:
            have = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # records ---------------------------------------------------------------------------------

    def _record(self, row: tuple[str, str, str]) -> Record:
        rid, created, text = row
        seen = self._seen.get((rid, created))
        if seen is not None and seen[0] == text:
            return seen[1]
        record = Record(rid, created, json.loads(text))
        self._seen[(rid, created)] = (text, record)
        return record

    def all(self, base: str, table: str, *, archived: bool = False) -> list[Record]:
        """The table's records, oldest first; with ``archived`` also those moved to the archive."""
        where = "" if archived else " AND archived=0"
        rows = self._db.execute(
            f"SELECT id, created_time, fields FROM records WHERE base=? AND tbl=?{where} ORDER BY created_time, id",
            (base, table),
        )
        return [self._record(r) for r in rows]

    def get(self, base: str, table: str, record_id: str) -> Record | None:
        row = self._db.execute(
            "SELECT id, created_time, fields FROM records WHERE base=? AND tbl=? AND id=?",
            (base, table, record_id),
        ).fetchone()
        return self._record(row) if row else None

    def count(self, base: str, table: str | None = None) -> int:
        """Records in Airtable (archived ones are not), for a base or one of its tables."""
        if table is None:
            row = self._db.execute("SELECT COUNT(*) FROM records WHERE base=? AND archived=0", (base,)).fetchone()
        else:
            row = self._db.execute(
                "SELECT COUNT(*) FROM records WHERE base=? AND tbl=? AND archived=0", (base, table)
            ).fetchone()
        return int(row[0])

    def put(self, base: str, table: str, records: Iterable[Record]) -> None:
        """Insert or replace whole records (a mirror write from Airtable); they are live again."""
        self._db.executemany(
            "INSERT OR REPLACE INTO records (base, tbl, id, created_time, fields, archived) VALUES (?,?,?,?,?,0)",
            [(base, table, r.id, r.created_time, json.dumps(_clean(r.fields))) for r in records],
        )

    def replace_table(self, base: str, table: str, records: list[Record]) -> None:
        """The table as Airtable has it now (a full read); archived records are kept."""
        with self.transaction():
            self._db.execute("DELETE FROM records WHERE base=? AND tbl=? AND archived=0", (base, table))
            self.put(base, table, records)

    def delete(self, base: str, table: str, ids: Iterable[str]) -> None:
        """Records deleted in Airtable by someone: gone (archived ones are kept)."""
        self._db.executemany(
            "DELETE FROM records WHERE base=? AND tbl=? AND id=? AND archived=0", [(base, table, i) for i in ids]
        )

    def mark_archived(self, base: str, table: str, ids: Iterable[str], *, archived: bool = True) -> None:
        """Mark records moved to the archive (``archived=False``: back in Airtable after all)."""
        self._db.executemany(
            "UPDATE records SET archived=? WHERE base=? AND tbl=? AND id=?",
            [(int(archived), base, table, i) for i in ids],
        )

    def is_archived(self, base: str, table: str, record_id: str) -> bool:
        row = self._db.execute(
            "SELECT archived FROM records WHERE base=? AND tbl=? AND id=?", (base, table, record_id)
        ).fetchone()
        return bool(row and row[0])

    def create(self, base: str, table: str, fields: Mapping[str, object], *, created: datetime) -> Record:
        record = Record(new_record_id(), format_datetime(created), _clean(fields))
        self.put(base, table, [record])
        return record

    def merge_fields(self, base: str, table: str, record_id: str, fields: Mapping[str, object]) -> Record:
        """Set some cells of a record; a value of None (or empty) clears the cell."""
        current = self.get(base, table, record_id)
        if current is None:
            raise KeyError(f"{base}/{table} has no record {record_id}")
        record = Record(current.id, current.created_time, _clean({**current.fields, **fields}))
        self._db.execute(
            "UPDATE records SET fields=? WHERE base=? AND tbl=? AND id=?",
            (json.dumps(record.fields), base, table, record_id),
        )
        return record

    # state -----------------------------------------------------------------------------------

    def get_state(self, key: str) -> StateValue:
        row = self._db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        value: StateValue = json.loads(row[0]) if row else None
        return value

    def set_state(self, key: str, value: StateValue) -> None:
        self._db.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def delete_state(self, key: str) -> None:
        self._db.execute("DELETE FROM state WHERE key=?", (key,))

    # Sync Notes, per job -----------------------------------------------------------------------

    def set_notes(self, job: str, notes: dict[tuple[str, str, str], str]) -> None:
        """What ``job`` says about these records now ("" = nothing any more); others keep theirs."""
        with self.transaction():
            for (base, table, rid), text in notes.items():
                if text:
                    self._db.execute(
                        "INSERT OR REPLACE INTO notes (base, tbl, id, job, text) VALUES (?,?,?,?,?)",
                        (base, table, rid, job, text),
                    )
                else:
                    self._db.execute(
                        "DELETE FROM notes WHERE base=? AND tbl=? AND id=? AND job=?", (base, table, rid, job)
                    )

    def notes_for(self, base: str, table: str, rid: str) -> list[tuple[str, str]]:
        """[(job, text)] of every job that has something to say about this record."""
        rows = self._db.execute(
            "SELECT job, text FROM notes WHERE base=? AND tbl=? AND id=? ORDER BY job", (base, table, rid)
        )
        return [(str(j), str(t)) for j, t in rows]

    def notes_of(self, base: str, table: str) -> dict[str, list[tuple[str, str]]]:
        """Record id → [(job, text)] for every record of the table that some job has notes for."""
        out: dict[str, list[tuple[str, str]]] = {}
        rows = self._db.execute(
            "SELECT id, job, text FROM notes WHERE base=? AND tbl=? ORDER BY id, job", (base, table)
        )
        for rid, job, text in rows:
            out.setdefault(str(rid), []).append((str(job), str(text)))
        return out
