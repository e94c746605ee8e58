"""The record cap of Airtable Free (SPEC §9): a base holds ``AIRTABLE_RECORD_CAP`` records (1,000);
the program warns from 80% and archives (``partnerops archive``) down to 70%."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

WARN_SHARE = 0.8
ARCHIVE_DOWN_TO = 0.7


def capacity_warning(base: str, used: int, cap: int) -> str | None:
    """A warning in plain words when ``base`` holds 80% of the cap or more (cap 0: no cap)."""
    if cap <= 0 or used < WARN_SHARE * cap:
        return None
    if used >= cap:
        return (
            f"base {base} is full ({used} of {cap} records): Airtable refuses new records; "
            "run `partnerops archive` to move closed records out"
        )
    return (
        f"base {base} holds {used} of {cap} records ({used * 100 // cap}%); "
        "run `partnerops archive` (or set ARCHIVE=auto) before it is full"
    )


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
        """Bases at 80% of the cap or more (as :func:`capacity_warning` warns): time to archive."""
        return [b for b in self.records if (self.share(b) or 0.0) >= WARN_SHARE]

    @property
    def over_allowance(self) -> bool:
        return self.calls_projected > self.calls_allowance
