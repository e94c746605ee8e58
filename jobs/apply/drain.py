"""Carry out the queued effects in order: nothing twice, nothing lost.

Every effect of a job is queued (one transaction) before any runs; each is marked started
before and done, failed or unknown after it runs. A run killed at any point leaves the rest
queued; the next run drains them first. An effect found *started* — killed while running, or
its answer lost — is reconciled with the remote (a Slack post is looked up by its metadata
key) before it is repeated; one that can be neither checked nor safely repeated (an e-mail) is
never run again and is reported for a person to check — unless a later step of its group is
found done (the intro's Status Introduced is in Airtable): then it went out.

Looked up before a first run too: an effect marked ``check_first`` (over the restore window,
by its key or its ``check_prefix``), and a *leftover* — queued before this process started.
A home restored from a copy that still held it queued may come after a run that carried it
out and whose memory was lost with the newer home.

Effects of one group run in order and stop at the first failure of a member that is not
``optional`` (an undeliverable Slack message does not hold back the e-mail of the same intro).
An executor may carry out a contiguous run of effects in one call (Airtable cell updates of one
table, up to 10 records a call); each is still marked on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from integrations.errors import ServiceError
from jobs.apply.queue import DONE, FAILED, PLANNED, STARTED, UNKNOWN, EffectQueue, Queued
from jobs.plan import Effect, JsonValue

log = logging.getLogger(__name__)

Result = dict[str, JsonValue]
# How old a restored copy of PARTNEROPS_HOME may be (Airtable keeps its change feed 7 days), with a day's margin.
RESTORE_WINDOW = timedelta(days=8)
# A look-up by key prefix starts this long after the newest match this queue knows was done:
# that one is an earlier message (an earlier stay in the at-risk zone), not this one. Executors
# look a day further back than they are asked (clock skew), so two days.
AFTER_KNOWN = timedelta(days=2)
Clock = Callable[[], datetime]
Progress = Callable[[str], None]
NOT_DONE = "not done: "  # the start of why an effect of a group that stopped before it was not run
#: Which queued effects a drain may run now (the others stay queued, untouched).
Select = Callable[[Queued], bool]
#: Whether an outside failure means a setting is wrong (a rejected token), not this effect.
Refuses = Callable[[ServiceError], bool]


class EffectFailed(Exception):
    """An effect could not be applied, in plain words.

    ``permanent``: trying again will not help until someone fixes data or settings.
    ``unknown``: the request may have been applied (the answer was lost): the effect stays
    *started* and is reconciled with the remote before it is ever run again.
    ``held``: it waits for a person (e.g. room in a full Airtable base): it stays queued like a
    transient failure, and its ``why`` is told (Sync Notes, or the managers' channel).
    ``cause``: the outside system's failure behind it, so the runner can tell a refused setting
    (a rejected token) from a failure of this one effect.
    """

    def __init__(
        self,
        why: str,
        *,
        permanent: bool = True,
        unknown: bool = False,
        held: bool = False,
        cause: ServiceError | None = None,
    ) -> None:
        super().__init__(why)
        self.why = why
        self.permanent = permanent and not unknown and not held
        self.unknown = unknown
        self.held = held
        self.cause = cause

    @classmethod
    def of(cls, exc: ServiceError, what: str = "") -> EffectFailed:
        """The one translation of an outside system's failure."""
        why = f"{what}: {exc.describe()}" if what else exc.describe()
        return cls(why, permanent=not exc.retryable, unknown=exc.outcome_unknown, cause=exc)


class Executor(Protocol):
    def run(self, effect: Effect) -> Result: ...

    def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
        """The result if the effect already happened; None if it did not, or cannot be known."""
        ...


@runtime_checkable
class BatchExecutor(Protocol):
    """An executor that can also carry out several queued effects in one call."""

    def batch_key(self, effect: Effect) -> Hashable | None:
        """Effects with equal keys, next to each other in the queue, may run together; None: alone."""
        ...

    def batch_room(self, batch: list[Effect], effect: Effect) -> bool:
        """Whether ``effect`` still fits in ``batch`` (e.g. at most 10 records a call)."""
        ...

    def run_batch(self, effects: list[Effect]) -> dict[str, Result | EffectFailed]:
        """Run them together: the result of each, or why it failed, by effect key (every key)."""
        ...


@dataclass
class DrainReport:
    done: list[Effect] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # key → why
    unknown: dict[str, str] = field(default_factory=dict)  # key → what a person should check
    pending: int = 0  # left queued (transient failure, or outcome to reconcile) for the next run
    held: list[tuple[Effect, str]] = field(default_factory=list)  # left queued for a person: why
    # A setting the service refused (a rejected token) on the way: the drain stopped there, and
    # the effect that met it stays queued for the run after the fix.
    refused: ServiceError | None = None

    def merge(self, other: DrainReport) -> None:
        self.done += other.done
        self.failed.update(other.failed)
        self.unknown.update(other.unknown)
        self.pending += other.pending
        self.held += other.held
        self.refused = self.refused or other.refused


class Drain:
    """One pass over the queue."""

    def __init__(
        self,
        queue: EffectQueue,
        executors: Mapping[str, Executor],
        clock: Clock,
        progress: Progress | None,
        select: Select | None = None,
        refuses: Refuses | None = None,
    ) -> None:
        self.queue, self.executors, self.clock = queue, executors, clock
        self.progress = progress
        self.select = select
        self.refuses = refuses
        self.report = DrainReport()
        self.broken: dict[str, str] = {}  # group → why it stopped for good
        self.waiting: dict[str, str] = {}  # group → what it waits for (its later members stay queued)
        self.items: list[Queued] = []

    def run(self) -> DrainReport:
        items = self.items = [q for q in self.queue.queued() if self.select is None or self.select(q)]
        index = 0
        while index < len(items) and self.report.refused is None:
            first = index
            batch, index = self._next_batch(items, index)
            if batch:
                self._execute(batch)
            if self.progress and len(items) > 10 and index // 10 > first // 10:
                self.progress(f"{index // 10 * 10} of {len(items)} effects applied")
        return self.report

    # choosing what runs ----------------------------------------------------------------------

    def _next_batch(self, items: list[Queued], index: int) -> tuple[list[Effect], int]:
        item = items[index]
        index += 1
        if self._skipped(item.effect) or self._settled(item, index):
            return [], index
        batch = [item.effect]
        executor = self.executors[item.effect.family]
        if not isinstance(executor, BatchExecutor):
            return batch, index
        key = executor.batch_key(item.effect)
        if key is None:
            return batch, index
        groups = {item.effect.group} - {""}
        while index < len(items):
            other = items[index]
            if self.executors[other.effect.family] is not executor or executor.batch_key(other.effect) != key:
                break
            if self._skipped(other.effect):
                index += 1
                continue
            if other.effect.group in groups or not executor.batch_room(batch, other.effect):
                break  # a group runs in order, one effect after the other
            index += 1
            if self._settled(other, index):
                continue
            batch.append(other.effect)
            groups |= {other.effect.group} - {""}
        return batch, index

    def _skipped(self, effect: Effect) -> bool:
        """An effect of a group that stopped: failed with the group's reason when the group failed
        for good; left queued (to run after what it waits for) when the group only waits."""
        if not effect.group:
            return False
        if effect.group in self.broken:
            why = f"{NOT_DONE}{self.broken[effect.group]}"
            self.queue.mark(effect.key, FAILED, self.clock(), error=why)
            self.report.failed[effect.key] = why
            return True
        if effect.group in self.waiting:
            self.report.pending += 1
            return True
        return False

    def _settled(self, item: Queued, after: int) -> bool:
        """Whether ``item`` already happened (marked done), cannot be known (unknown), or must wait
        for a look-up that failed; False: run it. ``after``: where its later queue items start."""
        effect = item.effect
        since = self._look_since(item)
        if since is None:
            return False
        try:
            found = self.executors[effect.family].reconcile(effect, since)
            if found is None and not effect.repeatable and not effect.optional:
                found = self._later_step_done(effect, since, after)
        except EffectFailed as exc:
            # Could not check whether it happened: it stays queued, checked again next run, never guessed.
            log.warning("%s: %s", effect.describe, exc.why)
            self.report.pending += 1
            self._wait_group(effect)
            return True
        if found is not None:
            self.queue.mark(effect.key, DONE, self.clock(), result=found)
            self.report.done.append(effect)
            return True
        if effect.repeatable or item.status != STARTED:
            return False
        why = (
            f"{effect.describe}: it may or may not have gone out (a run stopped while sending it); it is not sent again"
        )
        self.queue.mark(effect.key, UNKNOWN, self.clock(), error=why)
        self.report.unknown[effect.key] = why
        self._stop_group(effect, why)
        return True

    def _look_since(self, item: Queued) -> datetime | None:
        """From when to look ``item`` up before running it; None: run it without a look-up.

        Started (killed while running, or its answer lost): since it started. Marked
        ``check_first``: over the restore window (by prefix: after the newest match this queue
        knows). A leftover of an earlier process: since it was planned."""
        effect = item.effect
        if item.status == STARTED:
            return item.started_at or self.clock() - timedelta(days=1)
        if effect.check_first:
            since = self.clock() - RESTORE_WINDOW
            if effect.check_prefix:
                known = self.queue.last_done(effect.target, (effect.kind,), effect.check_prefix)
                since = max(since, known + AFTER_KNOWN) if known else since
            return since
        if item.leftover:
            return item.planned_at or self.clock() - RESTORE_WINDOW
        return None

    def _later_step_done(self, effect: Effect, since: datetime, after: int) -> Result | None:
        """A later member of the effect's group found done: the group went past this step, so it
        happened (its members run in order and stop at the first failure)."""
        if not effect.group:
            return None
        for later in self.items[after:]:
            if later.effect.group == effect.group:
                found = self.executors[later.effect.family].reconcile(later.effect, since)
                if found is not None:
                    return {"after": later.effect.key}
        return None

    # running ----------------------------------------------------------------------------------

    def _execute(self, batch: list[Effect]) -> None:
        for e in batch:
            self.queue.mark(e.key, STARTED, self.clock())
        executor = self.executors[batch[0].family]
        if len(batch) > 1 and isinstance(executor, BatchExecutor):
            outcomes = executor.run_batch(batch)
        else:
            outcomes = {batch[0].key: _run_one(executor, batch[0])}
        for e in batch:
            self._record(e, outcomes.get(e.key, EffectFailed("the executor gave no result", permanent=False)))

    def _record(self, effect: Effect, outcome: Result | EffectFailed) -> None:
        now = self.clock()
        if not isinstance(outcome, EffectFailed):
            self.queue.mark(effect.key, DONE, now, result=outcome)
            self.report.done.append(effect)
            return
        if outcome.cause is not None and self.refuses is not None and self.refuses(outcome.cause):
            # Not this effect's fault: every effect would fail alike until the setting is fixed.
            self.queue.mark(effect.key, PLANNED, now, error=outcome.why)
            self.report.pending += 1
            self.report.refused = outcome.cause
        elif outcome.unknown and not effect.repeatable:
            why = f"{outcome.why}; it may or may not have gone out, so it is not sent again"
            self.queue.mark(effect.key, UNKNOWN, now, error=why)
            self.report.unknown[effect.key] = why
            self._stop_group(effect, why)
        elif outcome.unknown:
            # It may have happened: left started, so the next drain reconciles it before any repeat.
            self.queue.mark(effect.key, STARTED, now, error=outcome.why)
            self.report.pending += 1
            self._wait_group(effect)
        elif outcome.permanent:
            self.queue.mark(effect.key, FAILED, now, error=outcome.why)
            self.report.failed[effect.key] = outcome.why
            self._stop_group(effect, f"{effect.describe} failed")
        else:
            self.queue.mark(effect.key, PLANNED, now, error=outcome.why)
            self.report.pending += 1
            if outcome.held:
                self.report.held.append((effect, outcome.why))
            self._wait_group(effect)

    def _stop_group(self, effect: Effect, why: str) -> None:
        if effect.group and not effect.optional:
            self.broken.setdefault(effect.group, why)

    def _wait_group(self, effect: Effect) -> None:
        if effect.group and not effect.optional:
            self.waiting.setdefault(effect.group, effect.describe)


def _run_one(executor: Executor, effect: Effect) -> Result | EffectFailed:
    try:
        return executor.run(effect)
    except EffectFailed as exc:
        return exc


def drain(
    queue: EffectQueue,
    executors: Mapping[str, Executor],
    clock: Clock,
    progress: Progress | None = None,
    select: Select | None = None,
    refuses: Refuses | None = None,
) -> DrainReport:
    """Apply every queued effect in order (see the module docstring); with ``select``, only
    those it picks (e.g. not the leftovers of a job that is stopped). With ``refuses``, a failure
    it says is a refused setting stops the drain (``DrainReport.refused``)."""
    return Drain(queue, executors, clock, progress, select, refuses).run()
