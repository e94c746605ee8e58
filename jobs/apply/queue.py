"""The effect queue (``PARTNEROPS_HOME/effects.sqlite``): every effect, its key and where it got.

States: *planned* (queued, not run), *started* (running, or its answer was lost: reconciled
before any repeat), *done*, *failed* (permanently: not run again until its payload changes —
someone fixed the data), *unknown* (it may or may not have happened and cannot be checked or
safely repeated, e.g. an e-mail: never run again, reported for a person to check).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from jobs.plan import Count, Effect, JsonValue, RecordRef, fingerprint, payload_from_json, payload_to_json

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS effects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    describe TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    error TEXT,
    planned_at TEXT NOT NULL,
    started_at TEXT,
    done_at TEXT
);
CREATE INDEX IF NOT EXISTS effects_status ON effects (status, seq);
CREATE INDEX IF NOT EXISTS effects_target ON effects (target, kind, done_at);
"""
# Columns added after the first release: a queue written by an older version gets them on open.
MIGRATIONS = (("job", "TEXT NOT NULL DEFAULT ''"), ("fp", "TEXT NOT NULL DEFAULT ''"))

PLANNED, STARTED, DONE, FAILED, UNKNOWN = "planned", "started", "done", "failed", "unknown"
KEEP_DONE = timedelta(days=90)  # done effects are kept this long (nudge gaps, reconciling)
# A permanent failure is not tried again with the same payload before this long (a CRM setting
# or a Slack app may be fixed outside Airtable, so "the data did not change" is not forever).
# A CRM push is tried every run: its retry costs no Airtable call, and the fix is usually made
# in the CRM, where the program cannot see it.
RETRY_FAILED_AFTER = {"crm": timedelta(0)}
RETRY_FAILED_DEFAULT = timedelta(days=1)


@dataclass(frozen=True)
class Queued:
    effect: Effect
    status: str
    started_at: datetime | None
    job: str
    planned_at: datetime | None = None
    #: queued before this process (a run that stopped, or a home restored from a copy that
    #: still held it): a later run may have carried it out since, so it is looked up first.
    leftover: bool = False


@dataclass(frozen=True)
class Enqueued:
    already: int  # done in an earlier run
    still_failing: dict[str, str]  # key → why: failed before with the same payload, not run again


def _stored(e: Effect) -> str:
    data: dict[str, JsonValue] = {
        "payload": payload_to_json(e.payload),
        "repeatable": e.repeatable,
        "group": e.group,
        "optional": e.optional,
        "counts_as": e.counts_as.name if e.counts_as else None,
        "source": [e.source.base, e.source.table, e.source.id] if e.source else None,
        "check_first": e.check_first,
        "check_prefix": e.check_prefix,
    }
    return json.dumps(data)


def _effect(key: str, kind: str, target: str, stored: str, describe: str) -> Effect:
    data = json.loads(stored)
    source = data.get("source")
    counts_as = data.get("counts_as")
    return Effect(
        key=key,
        payload=payload_from_json(kind, data["payload"]),
        target=target,
        describe=describe,
        repeatable=bool(data.get("repeatable", True)),
        group=str(data.get("group") or ""),
        optional=bool(data.get("optional", False)),
        counts_as=Count[counts_as] if counts_as in Count.__members__ else None,
        source=RecordRef(*source) if isinstance(source, list) and len(source) == 3 else None,
        check_first=bool(data.get("check_first", False)),
        check_prefix=str(data.get("check_prefix") or ""),
    )


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _retry_after(e: Effect) -> timedelta:
    return RETRY_FAILED_AFTER.get(e.family, RETRY_FAILED_DEFAULT)


def _older(text: str | None, than: datetime) -> bool:
    when = _when(text)
    return when is not None and when <= than


class EffectQueue:
    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Durable across a killed process (what the guarantees are about); an fsync per commit is not needed.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA_SQL)
        have = {r[1] for r in self._db.execute("PRAGMA table_info(effects)")}
        for column, decl in MIGRATIONS:
            if column not in have:
                self._db.execute(f"ALTER TABLE effects ADD COLUMN {column} {decl}")
        self._mine: set[str] = set()  # keys this process queued or ran (anything else is a leftover)

    def close(self) -> None:
        self._db.close()

    def enqueue(self, effects: Iterable[Effect], now: datetime, job: str = "") -> Enqueued:
        """Queue effects not seen before, in one transaction, before any of them runs.

        A failed effect is queued again only when its payload changed (someone fixed the data);
        with the same payload it stays failed and is reported, without another try.
        """
        already = 0
        still: dict[str, str] = {}
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for e in effects:
                fp = fingerprint(payload_to_json(e.payload))
                row = self._db.execute(
                    "SELECT status, fp, error, done_at FROM effects WHERE key=?", (e.key,)
                ).fetchone()
                if row is None:
                    self._mine.add(e.key)
                    self._db.execute(
                        "INSERT INTO effects (key, kind, target, payload, describe, status, planned_at, job, fp) "
                        "VALUES (?,?,?,?,?,?,?,?,?)",
                        (e.key, e.kind, e.target, _stored(e), e.describe, PLANNED, now.isoformat(), job, fp),
                    )
                elif row[0] == FAILED and row[1] == fp and not _older(row[3], now - _retry_after(e)):
                    still[e.key] = str(row[2] or "failed")
                elif row[0] == FAILED:
                    self._mine.add(e.key)
                    self._db.execute(
                        "UPDATE effects SET kind=?, target=?, payload=?, describe=?, status=?, error=NULL, "
                        "planned_at=?, job=?, fp=? WHERE key=?",
                        (e.kind, e.target, _stored(e), e.describe, PLANNED, now.isoformat(), job, fp, e.key),
                    )
                elif row[0] == DONE:
                    already += 1
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return Enqueued(already, still)

    def queued(self) -> list[Queued]:
        rows = self._db.execute(
            "SELECT key, kind, target, payload, describe, status, started_at, job, planned_at FROM effects "
            "WHERE status IN (?, ?) ORDER BY seq",
            (PLANNED, STARTED),
        )
        return [
            Queued(_effect(*r[:5]), str(r[5]), _when(r[6]), str(r[7] or ""), _when(r[8]), str(r[0]) not in self._mine)
            for r in rows
        ]

    def mark(
        self,
        key: str,
        status: str,
        now: datetime,
        *,
        result: dict[str, JsonValue] | None = None,
        error: str | None = None,
    ) -> None:
        self._mine.add(key)  # this process has it in hand now: not a leftover any more
        column = {STARTED: "started_at", DONE: "done_at", FAILED: "done_at", UNKNOWN: "done_at"}.get(status)
        sets = "status=?, result=COALESCE(?, result), error=?" + (f", {column}=?" if column else "")
        args: list[str | None] = [status, json.dumps(result) if result is not None else None, error]
        if column:
            args.append(now.isoformat())
        self._db.execute(f"UPDATE effects SET {sets} WHERE key=?", (*args, key))

    def status(self, key: str) -> str | None:
        row = self._db.execute("SELECT status FROM effects WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def job_of(self, key: str) -> str:
        """The job that queued an effect ("" when unknown)."""
        row = self._db.execute("SELECT job FROM effects WHERE key=?", (key,)).fetchone()
        return str(row[0] or "") if row else ""

    def error(self, key: str) -> str | None:
        row = self._db.execute("SELECT error FROM effects WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row and row[0] else None

    def last_done(self, target: str, kinds: tuple[str, ...], key_prefix: str = "") -> datetime | None:
        """When an effect of these kinds last reached ``target`` (for "one nudge per 7 days")."""
        marks = ",".join("?" * len(kinds))
        row = self._db.execute(
            f"SELECT MAX(COALESCE(done_at, started_at)) FROM effects WHERE target=? AND kind IN ({marks}) "
            "AND key LIKE ? AND status IN ('done', 'started', 'unknown')",
            (target, *kinds, key_prefix + "%"),
        ).fetchone()
        return _when(row[0]) if row else None

    def failures_by_source(self, job: str) -> dict[RecordRef, str]:
        """The last failure of this job's effects per record they were about (failed or unknown)."""
        rows = self._db.execute(
            "SELECT payload, kind, key, target, describe, error FROM effects "
            "WHERE job=? AND status IN (?, ?) ORDER BY seq",
            (job, FAILED, UNKNOWN),
        )
        out: dict[RecordRef, str] = {}
        for stored, kind, key, target, describe, error in rows:
            effect = _effect(key, kind, target, stored, describe)
            if effect.source is not None:
                out[effect.source] = str(error or "failed")
        return out

    def failing_since(self, job: str, before: datetime) -> list[tuple[Effect, str, datetime]]:
        """Effects of ``job`` still queued whose last try failed (a CRM or Slack down, …) and that
        were queued before ``before``: (effect, why it failed last, when it was queued)."""
        rows = self._db.execute(
            "SELECT key, kind, target, payload, describe, error, planned_at FROM effects "
            "WHERE job=? AND status IN (?, ?) AND error IS NOT NULL AND planned_at < ? ORDER BY seq",
            (job, PLANNED, STARTED, before.isoformat()),
        )
        return [(_effect(*r[:5]), str(r[5]), datetime.fromisoformat(r[6])) for r in rows]

    def counts(self) -> dict[str, int]:
        return {str(s): int(n) for s, n in self._db.execute("SELECT status, COUNT(*) FROM effects GROUP BY status")}

    def prune(self, now: datetime, keep: timedelta = KEEP_DONE) -> int:
        """Forget done effects older than ``keep``; what is open, failed or unknown stays."""
        cursor = self._db.execute(
            "DELETE FROM effects WHERE status=? AND done_at IS NOT NULL AND done_at < ?",
            (DONE, (now - keep).isoformat()),
        )
        return int(cursor.rowcount)
