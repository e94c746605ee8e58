"""Program metrics of SPEC §8, computed from the records in the local store (no Airtable call).

Definitions (days are calendar days in ``TZ``; "in the last N days" is ``0 <= today - day <= N``,
the health score's convention; a referral's day is the day it was created, the registration):

- **Partners by band**: every partner with a usable Email scored as the ``health`` job does
  (:func:`jobs.health.plan_health`, on the UTC day of ``now``); the others are ``unscored``.
- **Sourced pipeline**: the Amount of From-partner referrals with Attribution *Sourced* that are
  open (Accepted, In CRM) or Won, split into ``pipeline_open`` and ``pipeline_won``. Influenced
  referrals are never added in (SPEC domain §5a: never blend them).
- **Win rate**: won ÷ closed (Won or Lost) over From-partner referrals registered in the last 365
  days, of either attribution (the bases hold no close date, as for the health score's quality).
- **Activation**: partners at Stage Onboarded, Active or Stale ("Onboarded or later") with at
  least one sourced referral (SPEC §3: From partner, not Duplicate or Rejected) ÷ all partners at
  those stages.
- **Time to first referral**: the median of days from Joined On to the partner's first sourced
  referral (its registration day, which the health job writes as First Referral On), over the
  partners who joined in the last 180 days and have referred; a referral registered before
  Joined On counts as 0 days. ``joined_180`` and ``referred_180`` give the cohort.
- **Referrals per week**: sourced referrals registered in the report week (see
  :mod:`jobs.rules.weeks`), *influenced* when Attribution is Influenced and *sourced* otherwise
  (a New registration counts as sourced until the CRM says otherwise).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from bases.records import Record
from bases.rows import ReferralRow
from bases.schema import BANDS
from jobs.rules.cells import cell_date, created_on, email, link_ids, name_of, number, select, within
from jobs.rules.health import assess_health
from jobs.rules.scores import HealthSettings, Score, is_sourced
from jobs.rules.weeks import Week, report_week, today_in

#: The bands as a manager reads them, best first (New last: not scored on referrals yet).
BANDS_BEST_FIRST = ("Top", "Healthy", "At risk", "Stale", "New")
ONBOARDED_OR_LATER = frozenset({"Onboarded", "Active", "Stale"})
OPEN_STATUSES = frozenset({"Accepted", "In CRM"})
WIN_RATE_DAYS = 365
COHORT_DAYS = 180


@dataclass(frozen=True)
class ProgramMetrics:
    """The program's numbers at ``as_of``; ``week`` is the report week the digest covers."""

    as_of: datetime
    week: Week
    bands: Mapping[str, int]  # every band of SPEC §2.1 → partners in it now
    unscored: int  # partners without a usable Email
    week_sourced: int
    week_influenced: int
    pipeline_open: float
    pipeline_won: float
    won_365: int
    closed_365: int
    onboarded: int  # partners Onboarded or later
    activated: int  # of those, with at least one sourced referral
    joined_180: int
    referred_180: int
    median_days_to_first: float | None
    circle_members: tuple[tuple[str, int], ...]  # (Active circle, Active members)
    won_ids: frozenset[str]  # referrals Won now: the next digest tells what was won since
    lost_ids: frozenset[str]

    @property
    def pipeline(self) -> float:
        return self.pipeline_open + self.pipeline_won

    @property
    def win_rate(self) -> float | None:
        return self.won_365 / self.closed_365 if self.closed_365 else None

    @property
    def activation(self) -> float | None:
        return self.activated / self.onboarded if self.onboarded else None

    @property
    def partners(self) -> int:
        return sum(self.bands.values()) + self.unscored


def score_partners(
    partners: Sequence[Record],
    referrals: Sequence[Record],
    activities: Sequence[Record],
    now: datetime,
    health: HealthSettings,
) -> dict[str, Score]:
    """Partner record id → its health score, exactly as the ``health`` job computes it."""
    return assess_health(partners, referrals, activities, now.astimezone(timezone.utc).date(), health).scores


def first_referrals(referrals: Sequence[Record], zone: ZoneInfo, today: date) -> dict[str, date]:
    """Normalized partner e-mail → the day of its first sourced referral (up to ``today``)."""
    first: dict[str, date] = {}
    for r in referrals:
        key, day = email(r.get("Partner Email")), created_on(r, zone)
        if (
            key
            and day is not None
            and day <= today
            and is_sourced(ReferralRow.of(r))
            and (key not in first or day < first[key])
        ):
            first[key] = day
    return first


def _band_counts(scores: Mapping[str, Score]) -> dict[str, int]:
    counted = Counter(s.band for s in scores.values())
    return {band: counted.get(band, 0) for band in BANDS}


def _pipeline(referrals: Sequence[Record]) -> tuple[float, float]:
    open_, won = 0.0, 0.0
    for r in referrals:
        if select(r.get("Direction")) != "From partner" or select(r.get("Attribution")) != "Sourced":
            continue
        status, amount = select(r.get("Status")), number(r.get("Amount")) or 0.0
        if status in OPEN_STATUSES:
            open_ += amount
        elif status == "Won":
            won += amount
    return open_, won


def _closed(referrals: Sequence[Record], zone: ZoneInfo, today: date) -> tuple[int, int]:
    won = closed = 0
    for r in referrals:
        day, status = created_on(r, zone), select(r.get("Status"))
        if select(r.get("Direction")) != "From partner" or day is None or not within(day, today, WIN_RATE_DAYS):
            continue
        if status in ("Won", "Lost"):
            closed += 1
            won += status == "Won"
    return won, closed


def _activation(partners: Sequence[Record], first: Mapping[str, date]) -> tuple[int, int]:
    onboarded = [p for p in partners if select(p.get("Stage")) in ONBOARDED_OR_LATER]
    return len(onboarded), sum(1 for p in onboarded if email(p.get("Email")) in first)


def _time_to_first(partners: Sequence[Record], first: Mapping[str, date], today: date) -> tuple[int, list[int]]:
    joined_recently, days = 0, []
    for p in partners:
        joined = cell_date(p.get("Joined On"))
        if joined is None or not within(joined, today, COHORT_DAYS):
            continue
        joined_recently += 1
        first_day = first.get(email(p.get("Email")))
        if first_day is not None:
            days.append(max(0, (first_day - joined).days))
    return joined_recently, days


def week_counts(referrals: Sequence[Record], week: Week, zone: ZoneInfo) -> tuple[int, int]:
    """(sourced, influenced) referrals registered in ``week``."""
    sourced = influenced = 0
    for r in referrals:
        if is_sourced(ReferralRow.of(r)) and created_on(r, zone) in week:
            if select(r.get("Attribution")) == "Influenced":
                influenced += 1
            else:
                sourced += 1
    return sourced, influenced


def _circle_members(members: Sequence[Record], circles: Sequence[Record]) -> tuple[tuple[str, int], ...]:
    active = Counter(
        cid for m in members if select(m.get("Status")) == "Active" for cid in set(link_ids(m.get("Circle")))
    )
    return tuple((name_of(c, "Circles"), active.get(c.id, 0)) for c in circles if c.get("Active") is True)


def _ids_with_status(referrals: Sequence[Record], status: str) -> frozenset[str]:
    return frozenset(r.id for r in referrals if select(r.get("Status")) == status)


def compute_metrics(
    partners: Sequence[Record],
    referrals: Sequence[Record],
    activities: Sequence[Record],
    members: Sequence[Record],
    circles: Sequence[Record],
    now: datetime,
    zone: ZoneInfo,
    health: HealthSettings,
) -> ProgramMetrics:
    """The program's metrics at ``now`` (see the module for each definition)."""
    today = today_in(now, zone)
    week = report_week(now, zone)
    scores = score_partners(partners, referrals, activities, now, health)
    first = first_referrals(referrals, zone, today)
    pipeline_open, pipeline_won = _pipeline(referrals)
    won, closed = _closed(referrals, zone, today)
    onboarded, activated = _activation(partners, first)
    joined, days = _time_to_first(partners, first, today)
    sourced, influenced = week_counts(referrals, week, zone)
    return ProgramMetrics(
        as_of=now,
        week=week,
        bands=_band_counts(scores),
        unscored=len(partners) - len(scores),
        week_sourced=sourced,
        week_influenced=influenced,
        pipeline_open=pipeline_open,
        pipeline_won=pipeline_won,
        won_365=won,
        closed_365=closed,
        onboarded=onboarded,
        activated=activated,
        joined_180=joined,
        referred_180=len(days),
        median_days_to_first=float(statistics.median(days)) if days else None,
        circle_members=_circle_members(members, circles),
        won_ids=_ids_with_status(referrals, "Won"),
        lost_ids=_ids_with_status(referrals, "Lost"),
    )
