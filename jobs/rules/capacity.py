"""The record cap of Airtable Free (SPEC §9): a base holds ``AIRTABLE_RECORD_CAP`` records (1,000);
the program warns from 80% and archives (``partnerops archive``) down to 70%."""

from __future__ import annotations

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
