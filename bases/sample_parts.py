"""Shared pieces of the sample data: rows, the people and leads being built, and time helpers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any

TableKey = tuple[str, str]

PARTNERS_T: TableKey = ("partners", "Partners")
ACTIVITIES_T: TableKey = ("partners", "Activities")
REFERRALS_T: TableKey = ("referrals", "Referrals")
CIRCLES_T: TableKey = ("circles", "Circles")
MEMBERS_T: TableKey = ("circles", "Members")

#: Which table a link field points at: (table, field) -> linked table.
LINKS: dict[tuple[TableKey, str], TableKey] = {
    (ACTIVITIES_T, "Partner"): PARTNERS_T,
    (MEMBERS_T, "Circle"): CIRCLES_T,
}

# Kinds of deliberately bad rows, the values of :func:`bad_rows`.
BAD_UNKNOWN_PARTNER = "unknown partner email"
BAD_CONTACT_EMAIL = "malformed contact email"
BAD_DUPLICATE_DOMAIN = "duplicate company domain"

EXPIRY_DAYS = 120
OWNERS = ("ana@ourco.example", "ben@ourco.example", "chloe@ourco.example")
CIRCLE_CHANNEL = "C0DEMO0001"
CIRCLE_PERKS = (
    "Priority access to our referral leads (we send you warm intros first)\n"
    "Quarterly roadmap briefing with our product team\n"
    "Co-marketing budget for joint webinars and case studies"
)
REMOVED_REASON = "No sourced referral for more than 90 days"

_OPEN_STAGES = ("Appointment scheduled", "Qualified to buy")


@dataclass(frozen=True)
class SampleRow:
    """One sample record: a stable local handle, its creation time and its cells."""

    ref: str
    created: datetime
    fields: dict[str, Any]


SampleData = dict[TableKey, list[SampleRow]]


@dataclass
class _Partner:
    tier: str
    name: str
    company: str
    domain: str
    email: str
    ptype: str
    fields: dict[str, Any]
    created: datetime
    ref: str = ""
    referral_days: tuple[float, ...] = ()


@dataclass
class _Referral:
    created: datetime
    fields: dict[str, Any]
    partner: _Partner | None
    bad: str = ""
    ref: str = ""


def _slug(text: str) -> str:
    cleaned = "".join(c if c.isalnum() else " " for c in text.lower())
    return "-".join(cleaned.split())


def _at(now: datetime, days_ago: float, rng: random.Random) -> datetime:
    """A business-hours moment on the day ``days_ago`` days before ``now``, never after it."""
    day = (now - timedelta(days=days_ago)).date()
    moment = datetime.combine(day, time(rng.randint(7, 18), rng.randint(0, 59), rng.randint(0, 59)), timezone.utc)
    if moment > now:
        moment = (now - timedelta(minutes=rng.randint(1, 90))).replace(microsecond=0)
    return moment


def _later(now: datetime, moment: datetime, rng: random.Random, lo: int, hi: int) -> datetime:
    """``moment`` plus lo..hi minutes, capped at ``now``."""
    return min(moment + timedelta(minutes=rng.randint(lo, hi)), now)


def _ref(prefix: str, i: int, total: int) -> str:
    return f"{prefix}-{i:0{max(2, len(str(total)))}d}"


def _tier_sizes(n: int) -> list[tuple[str, int]]:
    shares = (
        ("top", 0.2),
        ("moderate", 0.375),
        ("former", 0.1),
        ("new", 0.075),
        ("onboarded", 0.05),
        ("recruited", 0.05),
        ("prospect", 0.05),
    )
    sizes = [(tier, max(1, round(n * share))) for tier, share in shares]
    rare = n - sum(size for _, size in sizes)
    if rare < 0:
        raise ValueError(f"partners={n} is too few for realistic sample data (use at least 12)")
    return [*sizes, ("rare", rare)]


def _spread(rng: random.Random, total: int, k: int, *, at_least_one: bool) -> list[int]:
    """Split ``total`` referrals across ``k`` partners, unevenly."""
    if k == 0:
        return []
    counts = [1 if at_least_one and total >= k else 0 for _ in range(k)]
    weights = [rng.uniform(0.6, 1.4) for _ in range(k)]
    for _ in range(total - sum(counts)):
        counts[rng.choices(range(k), weights)[0]] += 1
    return counts


def _schedule(rng: random.Random, k: int, newest: float, gap: tuple[float, float]) -> tuple[float, ...]:
    """``k`` ages in days, the newest first, at most 360 days old."""
    if k == 0:
        return ()
    gaps = [rng.uniform(*gap) for _ in range(k - 1)]
    room = 360 - newest
    if sum(gaps) > room:
        gaps = [g * room / sum(gaps) for g in gaps]
    ages = [newest]
    for g in gaps:
        ages.append(ages[-1] + g)
    return tuple(ages)
