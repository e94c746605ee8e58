"""Capacity of the free plans, as the digest shows it; the numbers come from the call ledger
and the store (the caller passes them in)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

WARN_SHARE = 0.8  # SPEC §9: warn when a base passes 80% of the record cap


@dataclass(frozen=True)
class Capacity:
    calls_used: int  # Airtable calls this month so far
    calls_projected: int  # at this pace, by the end of the month
    calls_allowance: int  # AIRTABLE_MONTHLY_CALLS
    records: Mapping[str, int]  # base name ("Partners", …) → records in it
    record_cap: int  # AIRTABLE_RECORD_CAP; 0 = no cap

    def share(self, base: str) -> float | None:
        """How full ``base`` is (0.42 = 42%), or None without a cap."""
        return self.records.get(base, 0) / self.record_cap if self.record_cap > 0 else None

    @property
    def full_bases(self) -> list[str]:
        """Bases past 80% of the cap: time to archive (``partnerops archive``)."""
        return [b for b in self.records if (self.share(b) or 0.0) > WARN_SHARE]

    @property
    def over_allowance(self) -> bool:
        return self.calls_projected > self.calls_allowance
