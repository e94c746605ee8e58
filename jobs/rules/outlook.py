"""What lies ahead for a circle member if nothing changes — so messages promise only what the
rules will do: the day a member would leave, and how many referrals bring a removed one back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from bases.fields import Direction, ReferralF, RefStatus
from bases.records import Record, format_datetime
from bases.rows import ActivityRow, PartnerRow, ReferralRow
from jobs.rules.circle_config import CircleConfig
from jobs.rules.scores import HealthSettings, score_rows

HORIZON_DAYS = 60  # how far ahead a leave is looked for
MAX_REFERRALS_TO_RETURN = 3  # beyond this, the message does not name a number


@dataclass(frozen=True)
class Outlook:
    leaves_on: date | None  # the first day a leave rule would apply if nothing happens (within 60 days)
    referrals_to_return: int  # new referrals today that would bring the partner in (0: more than 3)


def _stale(last: date | None, day: date, circle: CircleConfig) -> bool:
    return last is None or (day - last).days > circle.stale_after_days


def leaves_on(
    circle: CircleConfig,
    partner: PartnerRow,
    referrals: Sequence[ReferralRow],
    activities: Sequence[ActivityRow],
    today: date,
    settings: HealthSettings,
) -> date | None:
    for ahead in range(1, HORIZON_DAYS + 1):
        day = today + timedelta(days=ahead)
        score = score_rows(partner, referrals, activities, day, settings)
        if score.score < circle.leave or _stale(score.last_referral_on, day, circle):
            return day
    return None


def _new_referral(today: date, n: int) -> ReferralRow:
    created = format_datetime(datetime.combine(today, time(0, 0), tzinfo=timezone.utc))
    fields = {ReferralF.DIRECTION: Direction.FROM_PARTNER, ReferralF.STATUS: RefStatus.ACCEPTED}
    return ReferralRow.of(Record(f"recOUTLOOK{n:07d}", created, fields))


def referrals_to_return(
    circle: CircleConfig,
    partner: PartnerRow,
    referrals: Sequence[ReferralRow],
    activities: Sequence[ActivityRow],
    today: date,
    settings: HealthSettings,
) -> int:
    extra: list[ReferralRow] = []
    for n in range(1, MAX_REFERRALS_TO_RETURN + 1):
        extra.append(_new_referral(today, n))
        if score_rows(partner, [*referrals, *extra], activities, today, settings).score >= circle.enter:
            return n
    return 0


def outlook(
    circle: CircleConfig,
    partner: PartnerRow,
    referrals: Sequence[ReferralRow],
    activities: Sequence[ActivityRow],
    today: date,
    settings: HealthSettings,
) -> Outlook:
    return Outlook(
        leaves_on(circle, partner, referrals, activities, today, settings),
        referrals_to_return(circle, partner, referrals, activities, today, settings),
    )
