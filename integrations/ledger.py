"""A persistent count of every Airtable call, per month, base and kind of call.

Airtable has no endpoint that tells how much of the monthly allowance is left, so the program
keeps its own count and never sends a call the month cannot afford.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS calls (
    month TEXT NOT NULL,
    base TEXT NOT NULL,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (month, base, kind)
);
CREATE TABLE IF NOT EXISTS blocked (
    month TEXT PRIMARY KEY,
    reason TEXT NOT NULL
);
"""


def month_of(when: datetime) -> str:
    return when.strftime("%Y-%m")


class CallLedger:
    def __init__(self, path: Path | str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Durable across a killed process (what the guarantees are about); an fsync per commit is not needed.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA_SQL)

    def close(self) -> None:
        self._db.close()

    def record(self, when: datetime, base: str, kind: str, n: int = 1) -> None:
        self._db.execute(
            "INSERT INTO calls (month, base, kind, count) VALUES (?,?,?,?) "
            "ON CONFLICT (month, base, kind) DO UPDATE SET count = count + excluded.count",
            (month_of(when), base, kind, n),
        )

    def used(self, when: datetime) -> int:
        row = self._db.execute("SELECT COALESCE(SUM(count), 0) FROM calls WHERE month=?", (month_of(when),)).fetchone()
        return int(row[0])

    def months(self) -> list[str]:
        """Every month (``YYYY-MM``) with counted calls, oldest first."""
        rows = self._db.execute("SELECT DISTINCT month FROM calls ORDER BY month")
        return [str(r[0]) for r in rows]

    def breakdown(self, when: datetime) -> list[tuple[str, str, int]]:
        """(base, kind, calls) for the month of ``when``, largest first."""
        rows = self._db.execute(
            "SELECT base, kind, count FROM calls WHERE month=? ORDER BY count DESC, base, kind",
            (month_of(when),),
        )
        return [(r[0], r[1], int(r[2])) for r in rows]

    def block(self, when: datetime, reason: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO blocked (month, reason) VALUES (?, ?)", (month_of(when), reason))

    def blocked(self, when: datetime) -> str | None:
        row = self._db.execute("SELECT reason FROM blocked WHERE month=?", (month_of(when),)).fetchone()
        return str(row[0]) if row else None
