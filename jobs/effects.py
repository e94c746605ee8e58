"""Planned effects and the queue that applies them: nothing twice, nothing lost.

Rules return :class:`Effect` values with a stable key (same intent → same key). ``apply``
first *enqueues* every effect of a cycle (one SQLite transaction, before anything runs), then
drains the queue in order, marking each effect started before and done after it runs. A cycle
killed at any point leaves its remaining effects queued; the next run drains them first. An
effect found *started* but not done is reconciled with the remote (e.g. a Slack post is looked
up by its metadata key) before it is repeated; one that can be neither checked nor safely
repeated (an e-mail) is never sent again and is reported for a human to check.

An executor may carry out a contiguous run of effects in one call (:class:`BatchExecutor`:
Airtable cell updates of one table, up to 10 records a call). Each effect of such a batch is
still marked started before and done or failed after, on its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

log = logging.getLogger(__name__)

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

PLANNED, STARTED, DONE, FAILED, UNKNOWN = "planned", "started", "done", "failed", "unknown"


@dataclass(frozen=True)
class Effect:
    key: str
    kind: str  # e.g. slack.invite, slack.kick, slack.dm, slack.post, airtable.update, airtable.upsert, email, crm.push
    target: str  # who or what it touches (user e-mail, channel), for limits and for the summary
    payload: dict[str, Any]
    describe: str  # one line in plain words, for --dry-run and the run summary
    repeatable: bool = True  # safe to run again when its outcome is unknown
    group: str = ""  # effects of one group stop at the first permanent failure


Progress = Callable[[str], None]


def digest(value: Any) -> str:
    """A short, stable fingerprint of a value for effect keys (the same in every process)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


def cell_update(
    key: str,
    base: str,
    table: str,
    record_id: str,
    cells: dict[str, Any],
    describe: str,
    *,
    group: str = "",
    target: str = "",
) -> Effect:
    """Write job-owned cells of one Airtable record (through the write-back helper)."""
    payload = {"base": base, "table": table, "id": record_id, "cells": cells}
    return Effect(key, "airtable.update", target or record_id, payload, describe, group=group)


class EffectFailed(Exception):
    """An effect could not be applied. ``permanent`` = retrying will not help until someone fixes data.

    ``unknown`` = the request may have been applied (the answer was lost): the effect stays
    *started*, so it is reconciled with the remote before it is ever run again.
    """

    def __init__(self, why: str, *, permanent: bool = True, unknown: bool = False) -> None:
        super().__init__(why)
        self.why = why
        self.permanent = permanent and not unknown
        self.unknown = unknown


class Executor(Protocol):
    def run(self, effect: Effect) -> dict[str, Any]: ...

    def reconcile(self, effect: Effect, started_at: datetime) -> dict[str, Any] | None:
        """The result if the effect already happened, None if it did not or cannot be known."""
        ...


class BatchExecutor(Executor, Protocol):
    """An executor that can also carry out several queued effects in one call (optional)."""

    def batch_key(self, effect: Effect) -> Hashable | None:
        """Effects with equal keys, next to each other in the queue, may run together; None: alone."""
        ...

    def batch_room(self, batch: list[Effect], effect: Effect) -> bool:
        """Whether ``effect`` still fits in ``batch`` (e.g. at most 10 records a call)."""
        ...

    def run_batch(self, effects: list[Effect]) -> dict[str, dict[str, Any] | EffectFailed]:
        """Run them together: the result of each, or why it failed, by effect key (every key)."""
        ...


@dataclass
class ApplyReport:
    done: list[Effect] = field(default_factory=list)
    already: int = 0  # done in an earlier run (re-planned, skipped)
    failed: dict[str, str] = field(default_factory=dict)  # key → why
    unknown: dict[str, str] = field(default_factory=dict)  # key → what a human should check
    pending: int = 0  # transient failures left queued for the next run


class EffectQueue:
    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA_SQL)

    def close(self) -> None:
        self._db.close()

    def enqueue(self, effects: Iterable[Effect], now: datetime) -> int:
        """Queue effects not seen before; a failed one is queued again (its data may be fixed). Returns how many were done already."""
        already = 0
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for e in effects:
                row = self._db.execute("SELECT status FROM effects WHERE key=?", (e.key,)).fetchone()
                if row is None:
                    self._db.execute(
                        "INSERT INTO effects (key, kind, target, payload, describe, status, planned_at) VALUES (?,?,?,?,?,?,?)",
                        (e.key, e.kind, e.target, json.dumps(_payload_of(e)), e.describe, PLANNED, now.isoformat()),
                    )
                elif row[0] == FAILED:
                    # Planned again because its data may be fixed: run what is planned now, not the old payload.
                    self._db.execute(
                        "UPDATE effects SET kind=?, target=?, payload=?, describe=?, status=?, error=NULL, planned_at=? "
                        "WHERE key=?",
                        (e.kind, e.target, json.dumps(_payload_of(e)), e.describe, PLANNED, now.isoformat(), e.key),
                    )
                elif row[0] == DONE:
                    already += 1
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return already

    def queued(self) -> list[tuple[Effect, str, str | None]]:
        rows = self._db.execute(
            "SELECT key, kind, target, payload, describe, status, started_at FROM effects WHERE status IN (?, ?) ORDER BY seq",
            (PLANNED, STARTED),
        )
        return [(_effect_of(r), r[5], r[6]) for r in rows]

    def mark(
        self, key: str, status: str, now: datetime, *, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        column = {STARTED: "started_at", DONE: "done_at"}.get(status)
        sets = "status=?, result=COALESCE(?, result), error=?" + (f", {column}=?" if column else "")
        args: list[Any] = [status, json.dumps(result) if result is not None else None, error]
        if column:
            args.append(now.isoformat())
        self._db.execute(f"UPDATE effects SET {sets} WHERE key=?", (*args, key))

    def status(self, key: str) -> str | None:
        row = self._db.execute("SELECT status FROM effects WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def last_done(self, target: str, kinds: tuple[str, ...], key_prefix: str = "") -> datetime | None:
        """When an effect of these kinds last reached ``target`` (for "one nudge per 7 days")."""
        marks = ",".join("?" * len(kinds))
        row = self._db.execute(
            f"SELECT MAX(COALESCE(done_at, started_at)) FROM effects WHERE target=? AND kind IN ({marks}) "
            "AND key LIKE ? AND status IN ('done', 'started', 'unknown')",
            (target, *kinds, key_prefix + "%"),
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def counts(self) -> dict[str, int]:
        return {str(s): int(n) for s, n in self._db.execute("SELECT status, COUNT(*) FROM effects GROUP BY status")}


def _payload_of(e: Effect) -> dict[str, Any]:
    return {"payload": e.payload, "repeatable": e.repeatable, "group": e.group}


def _effect_of(row: tuple[Any, ...]) -> Effect:
    stored = json.loads(row[3])
    return Effect(row[0], row[1], row[2], stored["payload"], row[4], stored["repeatable"], stored["group"])


Clock = Callable[[], datetime]


def drain(
    queue: EffectQueue, executors: dict[str, Executor], clock: Clock, progress: Callable[[str], None] | None = None
) -> ApplyReport:
    """Apply every queued effect in order. Executors are chosen by the part of ``kind`` before the dot.

    A contiguous run of effects that the executor can batch (same :meth:`BatchExecutor.batch_key`,
    different groups, room left) goes in one :meth:`BatchExecutor.run_batch` call.
    """
    report = ApplyReport()
    broken_groups: dict[str, str] = {}
    items = queue.queued()
    total = len(items)
    index = 0

    def skipped(effect: Effect) -> bool:
        """An effect of a group that already failed: not run, failed with the group's reason."""
        if not (effect.group and effect.group in broken_groups):
            return False
        why = f"not done: {broken_groups[effect.group]}"
        queue.mark(effect.key, FAILED, clock(), error=why)
        report.failed[effect.key] = why
        return True

    def settled(executor: Executor, effect: Effect, status: str, started_at: str | None) -> bool:
        if status != STARTED:
            return False
        try:
            return _settled_by_reconcile(queue, executor, effect, started_at, clock, report)
        except EffectFailed as exc:
            # Could not check whether it happened: it stays started (checked again next run), never guessed.
            log.warning("%s: %s", effect.describe, exc.why)
            report.pending += 1
            if effect.group:
                broken_groups[effect.group] = f"waiting for {effect.describe}"
            return True

    while index < total:
        first = index
        effect, status, started_at = items[index]
        index += 1
        if skipped(effect):
            continue
        executor = executors[_family(effect)]
        if settled(executor, effect, status, started_at):
            continue
        batch = [effect]
        key = _batch_key(executor, effect)
        if key is not None:
            groups = {effect.group} - {""}
            batcher = cast(BatchExecutor, executor)
            while index < total:
                other, other_status, other_started = items[index]
                if executors[_family(other)] is not executor or _batch_key(executor, other) != key:
                    break
                if skipped(other):
                    index += 1
                    continue
                if other.group in groups or not batcher.batch_room(batch, other):
                    break  # a group runs in order, one effect after the other
                index += 1
                if settled(executor, other, other_status, other_started):
                    continue
                batch.append(other)
                if other.group:
                    groups.add(other.group)
        if progress and total > 10 and index // 10 > first // 10:
            progress(f"{index // 10 * 10} of {total} effects applied")
        for e in batch:
            queue.mark(e.key, STARTED, clock())
        if key is None:
            outcomes = {effect.key: _run_one(executor, effect)}
        else:
            outcomes = cast(BatchExecutor, executor).run_batch(batch)
        for e in batch:
            outcome = outcomes.get(e.key, EffectFailed("the executor gave no result", permanent=False))
            _record(queue, e, outcome, clock, report, broken_groups)
    return report


def _family(effect: Effect) -> str:
    return effect.kind.split(".")[0]


def _batch_key(executor: Executor, effect: Effect) -> Hashable | None:
    key_of = getattr(executor, "batch_key", None)
    return key_of(effect) if key_of is not None and hasattr(executor, "run_batch") else None


def _run_one(executor: Executor, effect: Effect) -> dict[str, Any] | EffectFailed:
    try:
        return executor.run(effect)
    except EffectFailed as exc:
        return exc


def _record(
    queue: EffectQueue,
    effect: Effect,
    outcome: dict[str, Any] | EffectFailed,
    clock: Clock,
    report: ApplyReport,
    broken_groups: dict[str, str],
) -> None:
    """Mark what became of an effect that ran: done, failed (its group stops), or planned again."""
    if not isinstance(outcome, EffectFailed):
        queue.mark(effect.key, DONE, clock(), result=outcome)
        report.done.append(effect)
        return
    if outcome.unknown:
        # It may have happened: left started, so the next drain reconciles it before any repeat.
        queue.mark(effect.key, STARTED, clock(), error=outcome.why)
        report.pending += 1
        if effect.group:
            broken_groups[effect.group] = f"waiting for {effect.describe}"
    elif outcome.permanent:
        queue.mark(effect.key, FAILED, clock(), error=outcome.why)
        report.failed[effect.key] = outcome.why
        if effect.group:
            broken_groups[effect.group] = f"{effect.describe} failed"
    else:
        queue.mark(effect.key, PLANNED, clock(), error=outcome.why)
        report.pending += 1
        if effect.group:
            broken_groups[effect.group] = f"waiting for {effect.describe}"


def _settled_by_reconcile(
    queue: EffectQueue, executor: Executor, effect: Effect, started_at: str | None, clock: Clock, report: ApplyReport
) -> bool:
    """An effect a killed run had started: done already? Then record it; if unknowable and unsafe, hold it."""
    since = datetime.fromisoformat(started_at) if started_at else clock() - timedelta(days=1)
    found = executor.reconcile(effect, since)
    if found is not None:
        queue.mark(effect.key, DONE, clock(), result=found)
        report.done.append(effect)
        return True
    if effect.repeatable:
        return False
    why = f"{effect.describe}: a run stopped while sending it; it may or may not have gone out, so it is not sent again"
    queue.mark(effect.key, UNKNOWN, clock(), error=why)
    report.unknown[effect.key] = why
    return True


@dataclass
class Applied:
    """What a job's effects came to, with the failures of leftovers from a killed run included."""

    report: ApplyReport
    failures: list[str]
    already: int


def start(rt: Any, progress: Callable[[str], None] | None = None) -> ApplyReport:
    """Before planning: finish what a killed run left queued, so the plan sees its results."""
    return drain(rt.effects(), rt.executors(), rt.clock.now, progress)


def apply(
    rt: Any, effects: list[Effect], leftovers: ApplyReport, progress: Callable[[str], None] | None = None
) -> Applied:
    """Queue a job's effects (together), run them, and collect every failure in plain words."""
    queue = rt.effects()
    already = queue.enqueue(effects, rt.clock.now())
    report = drain(queue, rt.executors(), rt.clock.now, progress)
    failures = [
        *leftovers.failed.values(),
        *leftovers.unknown.values(),
        *report.failed.values(),
        *report.unknown.values(),
    ]
    return Applied(report, failures, already)
