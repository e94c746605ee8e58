"""The report's per-partner table: one row per partner, best score first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bases.records import Record
from jobs.rules.cells import email, name_of, text
from jobs.rules.partner_fields import Given, given_counts, health_detail
from jobs.rules.program import score_partners
from jobs.rules.scores import HealthSettings, Score


@dataclass(frozen=True)
class PartnerRow:
    record_id: str
    name: str
    company: str
    email: str
    band: str | None  # None: not scored (no usable Email, see its Sync Notes)
    score: int | None
    recency: float | None
    volume: float | None
    quality: float | None
    engagement: float | None
    referrals_90d: int
    won: int  # all time
    given: int  # all time
    last_referral_on: date | None
    last_given_on: date | None
    detail: str  # Health Detail ("" when not scored)


def _row(partner: Record, score: Score | None, given: Given, health: HealthSettings) -> PartnerRow:
    return PartnerRow(
        record_id=partner.id,
        name=name_of(partner, "Partners"),
        company=text(partner.get("Company")),
        email=email(partner.get("Email")),
        band=score.band if score else None,
        score=score.score if score else None,
        recency=score.recency if score else None,
        volume=score.volume if score else None,
        quality=score.quality if score else None,
        engagement=score.engagement if score else None,
        referrals_90d=score.referrals_90d if score else 0,
        won=score.won_referrals if score else 0,
        given=given.total,
        last_referral_on=score.last_referral_on if score else None,
        last_given_on=given.last_on,
        detail=health_detail(score, health) if score else "",
    )


def partner_rows(
    partners: Sequence[Record],
    referrals: Sequence[Record],
    activities: Sequence[Record],
    now: datetime,
    health: HealthSettings,
    scores: Mapping[str, Score] | None = None,
) -> list[PartnerRow]:
    """One row per partner, highest score first (unscored last), then by name.

    ``scores`` (partner record id → Score, e.g. from :func:`~jobs.rules.program.score_partners`)
    saves scoring twice when the caller has them.
    """
    if scores is None:
        scores = score_partners(partners, referrals, activities, now, health)
    given = given_counts(referrals, partners)
    rows = [_row(p, scores.get(p.id), given.get(email(p.get("Email")), Given(0, None)), health) for p in partners]
    rows.sort(key=lambda r: (r.score is None, -(r.score or 0), r.name.lower(), r.record_id))
    return rows
