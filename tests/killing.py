"""Killing a cycle at the k-th effect, as if the process died there, for kill-and-rerun tests.

An executor that runs effects in batches dies with the batch that holds the k-th effect: before
its one call, or after the call but before the queue could record any of them."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime

from jobs.app import App
from jobs.apply.drain import BatchExecutor, EffectFailed, Executor, Result
from jobs.plan import Effect


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the jobs catches it."""


class _Dying:
    def __init__(self, inner: Executor, count: dict[str, int], k: int, after: bool) -> None:
        self.inner, self.count, self.k, self.after = inner, count, k, after

    def run(self, effect: Effect) -> Result:
        self.count["n"] += 1
        if self.count["n"] == self.k and not self.after:
            raise Killed
        result = self.inner.run(effect)
        if self.count["n"] == self.k:
            raise Killed
        return result

    def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
        return self.inner.reconcile(effect, started_at)


class _DyingBatch(_Dying):
    def batch_key(self, effect: Effect) -> Hashable | None:
        assert isinstance(self.inner, BatchExecutor)
        return self.inner.batch_key(effect)

    def batch_room(self, batch: list[Effect], effect: Effect) -> bool:
        assert isinstance(self.inner, BatchExecutor)
        return self.inner.batch_room(batch, effect)

    def run_batch(self, effects: list[Effect]) -> dict[str, Result | EffectFailed]:
        assert isinstance(self.inner, BatchExecutor)
        first = self.count["n"] + 1
        self.count["n"] += len(effects)
        dies = first <= self.k <= self.count["n"]
        if dies and not self.after:
            raise Killed
        results = self.inner.run_batch(effects)
        if dies:
            raise Killed
        return results


def kill_at(app: App, k: int, *, after: bool) -> None:
    """Make ``app`` die at its k-th effect (any executor): before it runs, or after it ran but
    before the queue could record it."""
    count = {"n": 0}
    executors: dict[str, Executor] = {}
    for family, ex in app.executors().items():
        cls = _DyingBatch if isinstance(ex, BatchExecutor) else _Dying
        executors[family] = cls(ex, count, k, after)
    app._executors = executors
