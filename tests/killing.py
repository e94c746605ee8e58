"""Killing a cycle at the k-th effect, as if the process died there, for kill-and-rerun tests.

An executor that runs effects in batches dies with the batch that holds the k-th effect: before
its one call, or after the call but before the queue could record any of them."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import Any

from jobs.effects import Effect
from jobs.runtime import Runtime


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the jobs catches it."""


def kill_at(rt: Runtime, k: int, *, after: bool) -> None:
    """Make ``rt`` die at its k-th effect (any executor): before it runs, or after it ran but
    before the queue could record it."""
    count = {"n": 0}

    class Dying:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def run(self, effect: Effect) -> dict[str, Any]:
            count["n"] += 1
            if count["n"] == k and not after:
                raise Killed
            result: dict[str, Any] = self.inner.run(effect)
            if count["n"] == k:
                raise Killed
            return result

        def reconcile(self, effect: Effect, started_at: datetime) -> dict[str, Any] | None:
            found: dict[str, Any] | None = self.inner.reconcile(effect, started_at)
            return found

        def batch_key(self, effect: Effect) -> Hashable | None:
            key_of = getattr(self.inner, "batch_key", None)
            return key_of(effect) if key_of is not None else None

        def batch_room(self, batch: list[Effect], effect: Effect) -> bool:
            return bool(self.inner.batch_room(batch, effect))

        def run_batch(self, effects: list[Effect]) -> dict[str, Any]:
            first = count["n"] + 1
            count["n"] += len(effects)
            dies = first <= k <= count["n"]
            if dies and not after:
                raise Killed
            results: dict[str, Any] = self.inner.run_batch(effects)
            if dies:
                raise Killed
            return results

    executors = {kind: Dying(ex) for kind, ex in rt.executors().items()}
    rt.executors = lambda: executors  # type: ignore[method-assign]
