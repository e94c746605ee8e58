"""Room in a base under the record cap (AIRTABLE_RECORD_CAP): a create into a full base waits.

A create Airtable refuses because the base is full is *held*: it stays queued (nothing is lost)
and the reason is told (Sync Notes of the record it was about, or the managers' channel). It is
not sent again while the base is still full — by the mirror's count, or by the count the last
refusal was seen at — so waiting costs no Airtable call; once records are archived (or deleted by
hand, which the sync sees) it goes through on the next run.

Airtable does not document the error it answers when a base is full. A refusal is read as "full"
when it is a 403/422 whose code or message speaks of a record or plan limit, and also whenever
the mirror already counts the base at the cap.
"""

from __future__ import annotations

from bases.schema import base as base_def
from integrations.airtable import AirtableError
from jobs.apply.drain import EffectFailed
from jobs.store.local import LocalStore

REFUSED_STATUS = (403, 422)


def full_key(base: str) -> str:
    """Where the count a "base is full" refusal was seen at is remembered."""
    return f"airtable:full:{base}"


def is_cap_refusal(exc: AirtableError) -> bool:
    words = f"{exc.code} {exc.message}".lower()
    return exc.status in REFUSED_STATUS and "limit" in words and ("record" in words or "plan" in words)


class Room:
    def __init__(self, store: LocalStore, cap: int) -> None:
        self.store = store
        self.cap = cap

    def check(self, base: str) -> EffectFailed | None:
        """Why a create in ``base`` must wait, or None when there may be room."""
        if self.cap <= 0:
            return None
        count = self.store.count(base)
        refused_at = self.store.get_state(full_key(base))
        if isinstance(refused_at, int) and count < refused_at:
            self.store.delete_state(full_key(base))  # records left since: try again
            refused_at = None
        if count >= self.cap or refused_at is not None:
            return self.failure(base, count)
        return None

    def refused(self, base: str) -> EffectFailed:
        """Airtable refused a create because the base is full: remember it, and say why."""
        count = self.store.count(base)
        self.store.set_state(full_key(base), count)
        return self.failure(base, count)

    def failure(self, base: str, count: int) -> EffectFailed:
        name = base_def(base).name
        held = max(count, self.cap)
        why = (
            f"the {name} base is full ({held} of {self.cap} records): Airtable refuses new records. "
            "Nothing is lost: it is done on the first run after there is room — run `partnerops archive` "
            "(or set ARCHIVE=auto) to move closed records out"
        )
        return EffectFailed(why, held=True)
