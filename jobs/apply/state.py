"""Local memory the rules read next time (e.g. who was nudged), written in queue order."""

from __future__ import annotations

from datetime import datetime

from jobs.apply.drain import EffectFailed, Result
from jobs.plan import Effect, StateSet
from jobs.store.local import LocalStore


class StateExecutor:
    def __init__(self, store: LocalStore) -> None:
        self.store = store

    def run(self, effect: Effect) -> Result:
        if not isinstance(effect.payload, StateSet):
            raise EffectFailed(f"local state cannot carry out {effect.kind}")
        self.store.set_state(effect.payload.key, effect.payload.value)
        return {}

    def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
        return None
