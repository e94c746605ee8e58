"""The health score model of SPEC §3: settings, the four parts, the score, the band, and the
parts in plain words (the ``Health Detail`` a manager reads). Pure.

Choices where SPEC §3 leaves room (each is a named setting or documented here):

- All days are whole UTC calendar days: a referral's date is its ``createdTime`` (the
  registration date) in UTC; an activity's date is its ``Date`` cell.
- "In the last N days" means ``0 <= (now - date).days <= N``, matching the ``≤`` of the recency
  steps. Records dated after ``now`` have not happened yet and are ignored.
- The weighted sum is computed exactly (fractions) and rounded half up (62.5 → 63), not with
  Python's banker's ``round`` (62.5 → 62); the result is clamped to 0–100.
- Quality counts sourced referrals *registered* in the last 365 days that are now Won or Lost
  (the bases hold no close date).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from bases.fields import Band, Direction, RefStatus
from bases.records import Record
from bases.rows import ActivityRow, PartnerRow, ReferralRow, created_at

NEW, TOP, HEALTHY, AT_RISK, STALE = Band.NEW, Band.TOP, Band.HEALTHY, Band.AT_RISK, Band.STALE
NOT_SOURCED_STATUSES = frozenset({RefStatus.DUPLICATE, RefStatus.REJECTED})
CLOSED_STATUSES = frozenset({RefStatus.WON, RefStatus.LOST})


@dataclass(frozen=True)
class HealthSettings:
    """The score model; the defaults are exactly SPEC §3."""

    weight_recency: float = 0.40
    weight_volume: float = 0.25
    weight_quality: float = 0.25
    weight_engagement: float = 0.10
    #: (at most this many days since the newest sourced referral, recency); older or none → 0.
    recency_steps: tuple[tuple[int, int], ...] = ((14, 100), (30, 85), (60, 70), (90, 50), (180, 25))
    volume_per_referral: float = 100 / 3
    volume_window_days: int = 90
    quality_window_days: int = 365
    #: Quality = 100·(won + prior_won) / (closed + prior_won + prior_lost): (won+1)/(closed+2).
    quality_prior_won: int = 1
    quality_prior_lost: int = 1
    engagement_per_activity: float = 50
    engagement_window_days: int = 90
    top_from: int = 75
    healthy_from: int = 50
    at_risk_from: int = 25
    new_partner_days: int = 30

    @property
    def weights(self) -> tuple[float, float, float, float]:
        return (self.weight_recency, self.weight_volume, self.weight_quality, self.weight_engagement)


DEFAULT_SETTINGS = HealthSettings()


def _exact(x: float) -> Fraction:
    """A setting as an exact fraction (0.4 → 2/5, 100/3 → 100/3), so rounding half up is exact."""
    return Fraction(x).limit_denominator(1_000_000)


def _num(x: Fraction) -> float:
    return float(x)


def _show(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


@dataclass(frozen=True)
class Score:
    recency: float
    volume: float
    quality: float
    engagement: float
    score: int
    band: str
    last_referral_on: date | None
    first_referral_on: date | None
    referrals_90d: int
    won_referrals: int  # all time
    won_in_window: int = 0
    closed_in_window: int = 0
    activities_in_window: int = 0
    weights: tuple[float, float, float, float] = DEFAULT_SETTINGS.weights

    def explain(self) -> str:
        wr, wv, wq, we = self.weights
        last = self.last_referral_on.isoformat() if self.last_referral_on else "none"
        return (
            f"score {self.score} = {wr:.2f}·{_show(self.recency)} recency + {wv:.2f}·{_show(self.volume)} volume"
            f" + {wq:.2f}·{_show(self.quality)} quality + {we:.2f}·{_show(self.engagement)} engagement"
            f" → {self.band} (last referral {last}, {self.referrals_90d} in 90d,"
            f" {self.won_in_window}/{self.closed_in_window} won/closed, {self.activities_in_window} activities)"
        )


# --- reading records -------------------------------------------------------------------------


def created_on(record: Record) -> date | None:
    """A record's createdTime as a UTC calendar date (None when missing or unreadable)."""
    created = created_at(record)
    return created.date() if created else None


def is_sourced(referral: ReferralRow) -> bool:
    """Direction From partner and Status not Duplicate/Rejected (an empty Status is New)."""
    return referral.direction == Direction.FROM_PARTNER and referral.status not in NOT_SOURCED_STATUSES


def _within(d: date, now: date, days: int) -> bool:
    return 0 <= (now - d).days <= days


# --- the score -------------------------------------------------------------------------------


def recency_part(days_since: int | None, settings: HealthSettings = DEFAULT_SETTINGS) -> int:
    if days_since is None:
        return 0
    for limit, value in settings.recency_steps:
        if days_since <= limit:
            return value
    return 0


def volume_part(n: int, settings: HealthSettings = DEFAULT_SETTINGS) -> Fraction:
    return min(Fraction(100), n * _exact(settings.volume_per_referral))


def quality_part(won: int, closed: int, settings: HealthSettings = DEFAULT_SETTINGS) -> Fraction:
    a, b = settings.quality_prior_won, settings.quality_prior_lost
    return Fraction(100 * (won + a), closed + a + b)


def engagement_part(n: int, settings: HealthSettings = DEFAULT_SETTINGS) -> Fraction:
    return min(Fraction(100), n * _exact(settings.engagement_per_activity))


def round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def band_for(score: int, settings: HealthSettings = DEFAULT_SETTINGS) -> str:
    """The band of a scored partner (New is decided by :func:`score_partner`)."""
    if score >= settings.top_from:
        return TOP
    if score >= settings.healthy_from:
        return HEALTHY
    if score >= settings.at_risk_from:
        return AT_RISK
    return STALE


def score_partner(
    partner: Record,
    sourced_referrals: Iterable[Record],
    activities: Iterable[Record],
    now: date,
    settings: HealthSettings = DEFAULT_SETTINGS,
) -> Score:
    """The health of one partner on day ``now``.

    ``sourced_referrals`` are this partner's referrals (those that are not sourced, see
    :func:`is_sourced`, or are dated after ``now`` are ignored); ``activities`` are the
    Activities linked to the partner. The partner record gives Joined On / createdTime for New.
    """
    return score_rows(
        PartnerRow.of(partner),
        [ReferralRow.of(r) for r in sourced_referrals],
        [ActivityRow.of(a) for a in activities],
        now,
        settings,
    )


def score_rows(
    partner: PartnerRow,
    referrals: Iterable[ReferralRow],
    activities: Iterable[ActivityRow],
    now: date,
    settings: HealthSettings = DEFAULT_SETTINGS,
) -> Score:
    """:func:`score_partner` on rows already parsed."""
    refs: list[tuple[date, str | None]] = []
    for r in referrals:
        d = r.created.date() if r.created else None
        if d is not None and d <= now and is_sourced(r):
            refs.append((d, r.status))
    dates = sorted(d for d, _ in refs)
    last = dates[-1] if dates else None
    first = dates[0] if dates else None
    n_volume = sum(1 for d in dates if _within(d, now, settings.volume_window_days))
    won_all = sum(1 for _, s in refs if s == RefStatus.WON)
    in_quality = [s for d, s in refs if _within(d, now, settings.quality_window_days) and s in CLOSED_STATUSES]
    won, closed = in_quality.count(RefStatus.WON), len(in_quality)
    n_acts = sum(1 for a in activities if a.date is not None and _within(a.date, now, settings.engagement_window_days))

    recency = Fraction(recency_part((now - last).days if last else None, settings))
    volume = volume_part(n_volume, settings)
    quality = quality_part(won, closed, settings)
    engagement = engagement_part(n_acts, settings)
    wr, wv, wq, we = (_exact(w) for w in settings.weights)
    total = round_half_up(wr * recency + wv * volume + wq * quality + we * engagement)
    total = max(0, min(100, total))

    joined = partner.joined_on or created_on(partner.record)
    is_new = not dates and joined is not None and (now - joined).days < settings.new_partner_days
    return Score(
        recency=_num(recency),
        volume=_num(volume),
        quality=_num(quality),
        engagement=_num(engagement),
        score=total,
        band=NEW if is_new else band_for(total, settings),
        last_referral_on=last,
        first_referral_on=first,
        referrals_90d=n_volume,
        won_referrals=won_all,
        won_in_window=won,
        closed_in_window=closed,
        activities_in_window=n_acts,
        weights=settings.weights,
    )
