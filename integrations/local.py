"""The embedded local store: SQLite under PARTNEROPS_HOME, records in Airtable's shape.

Without an Airtable token it *is* the data (demo, trial, tests); with a token it is the mirror
that ``sync`` keeps fresh. Jobs read records from here, never straight from the API.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bases.records import Record, format_datetime

_ID_ALPHABET = string.ascii_letters + string.digits

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
"""


def new_record_id() -> str:
    return "rec" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(14))


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Airtable omits empty cells; so does the store, so both look the same to the rules."""
    return {k: v for k, v in fields.items() if v not in (None, "", [], False)}


class LocalStore:
    """Records keyed by (base key, table name, record id), plus small JSON state values."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA_SQL)

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

    def all(self, base: str, table: str) -> list[Record]:
        rows = self._db.execute(
            "SELECT id, created_time, fields FROM records WHERE base=? AND tbl=? ORDER BY created_time, id",
            (base, table),
        )
        return [Record(r[0], r[1], json.loads(r[2])) for r in rows]

    def get(self, base: str, table: str, record_id: str) -> Record | None:
        row = self._db.execute(
            "SELECT id, created_time, fields FROM records WHERE base=? AND tbl=? AND id=?",
            (base, table, record_id),
        ).fetchone()
        return Record(row[0], row[1], json.loads(row[2])) if row else None

    def count(self, base: str, table: str | None = None) -> int:
        if table is None:
            row = self._db.execute("SELECT COUNT(*) FROM records WHERE base=?", (base,)).fetchone()
        else:
            row = self._db.execute("SELECT COUNT(*) FROM records WHERE base=? AND tbl=?", (base, table)).fetchone()
        return int(row[0])

    def put(self, base: str, table: str, records: Iterable[Record]) -> None:
        """Insert or replace whole records (a mirror write from Airtable)."""
        self._db.executemany(
            "INSERT OR REPLACE INTO records (base, tbl, id, created_time, fields) VALUES (?,?,?,?,?)",
            [(base, table, r.id, r.created_time, json.dumps(_clean(r.fields))) for r in records],
        )

    def replace_table(self, base: str, table: str, records: list[Record]) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM records WHERE base=? AND tbl=?", (base, table))
            self.put(base, table, records)

    def delete(self, base: str, table: str, ids: Iterable[str]) -> None:
        self._db.executemany("DELETE FROM records WHERE base=? AND tbl=? AND id=?", [(base, table, i) for i in ids])

    def create(self, base: str, table: str, fields: dict[str, Any], *, created: datetime | None = None) -> Record:
        when = created or datetime.now(timezone.utc)
        record = Record(new_record_id(), format_datetime(when), _clean(fields))
        self.put(base, table, [record])
        return record

    def merge_fields(self, base: str, table: str, record_id: str, fields: dict[str, Any]) -> Record:
        """Set some cells of a record; a value of None (or empty) clears the cell."""
        current = self.get(base, table, record_id)
        if current is None:
            raise KeyError(f"{base}/{table} has no record {record_id}")
        merged = _clean({**current.fields, **fields})
        record = Record(current.id, current.created_time, merged)
        self.put(base, table, [record])
        return record

    # state -----------------------------------------------------------------------------------

    def get_state(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_state(self, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def delete_state(self, key: str) -> None:
        self._db.execute("DELETE FROM state WHERE key=?", (key,))
