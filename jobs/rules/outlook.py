"""What lies ahead for a circle member if nothing changes — so messages promise only what the
rules will do: the day a member would leave and how many referrals keep the seat until when, how many
referrals bring a removed one back and until when, and where their referrals stand today.

Every answer comes from the same score model the health job uses (:func:`score_rows`), run on
future days and with made-up referrals. Adding a referral never lowers a score (it raises
recency and volume and leaves quality alone), so "n referrals today" being enough means n
referrals on any later day up to the one named are enough too, for the days after they arrive.
"""

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
MAX_REFERRALS = 3  # beyond this, a message does not name a number
RETURN_WINDOW_DAYS = 30  # how far ahead "n referrals by <day> bring you back" is checked
KEEP_DAYS = 14  # "n referrals keep your seat" only when they keep it at least this long past the day it ends
QUIET_AFTER_DAYS = 30  # a last referral older than this is "we have not had one since <month>"


@dataclass(frozen=True)
class Partner:
    """One partner and the history the score model reads."""

    row: PartnerRow
    referrals: Sequence[ReferralRow]
    activities: Sequence[ActivityRow]
    settings: HealthSettings

    def score(self, day: date, extra: int = 0, extra_on: date | None = None) -> tuple[int, date | None]:
        """The score on ``day`` and the newest referral, with ``extra`` made-up referrals that
        arrived on ``extra_on`` (default: ``day``)."""
        made_up = [_new_referral(extra_on or day, n) for n in range(1, extra + 1)]
        s = score_rows(self.row, [*self.referrals, *made_up], self.activities, day, self.settings)
        return s.score, s.last_referral_on


@dataclass(frozen=True)
class Standing:
    """Where the partner's referrals stand today (the reason a message gives)."""

    last_referral_on: date | None
    quiet: bool  # the newest referral is more than QUIET_AFTER_DAYS old (or there is none)
    recent: int  # referrals in the score's volume window
    recent_days: int


def standing(p: Partner, today: date) -> Standing:
    s = score_rows(p.row, p.referrals, p.activities, today, p.settings)
    last = s.last_referral_on
    quiet = last is None or (today - last).days > QUIET_AFTER_DAYS
    return Standing(last, quiet, s.referrals_90d, p.settings.volume_window_days)


def _stale(last: date | None, day: date, circle: CircleConfig) -> bool:
    return last is None or (day - last).days > circle.stale_after_days


def _leaves(circle: CircleConfig, p: Partner, day: date, extra: int, today: date) -> bool:
    score, last = p.score(day, extra, today)
    return score < circle.leave or _stale(last, day, circle)


def leaves_on(circle: CircleConfig, p: Partner, today: date, extra: int = 0) -> date | None:
    """The first day (within HORIZON_DAYS) a leave rule would apply if nothing changes — or
    with ``extra`` new referrals today."""
    for ahead in range(1, HORIZON_DAYS + 1):
        day = today + timedelta(days=ahead)
        if _leaves(circle, p, day, extra, today):
            return day
    return None


def kept_by(circle: CircleConfig, p: Partner, today: date, ends: date) -> tuple[int, date | None]:
    """How many new referrals arriving before ``ends`` keep the seat, and until at least when
    (``(0, None)``: more than MAX_REFERRALS, or not for KEEP_DAYS past ``ends``).

    Checked with the referrals arriving today: arriving later (before ``ends``) they are fresher
    on every day after, so the seat is kept at least as long."""
    for n in range(1, MAX_REFERRALS + 1):
        leave = leaves_on(circle, p, today, n)
        until = leave - timedelta(days=1) if leave else today + timedelta(days=HORIZON_DAYS)
        if until >= ends + timedelta(days=KEEP_DAYS):
            return n, until
    return 0, None


def _back(circle: CircleConfig, p: Partner, day: date, n: int) -> bool:
    """``n`` referrals arriving on ``day`` lift the score to Enter Score that day and the next
    (the daily run that invites may come a day later)."""
    return all(p.score(on, n, day)[0] >= circle.enter for on in (day, day + timedelta(days=1)))


def referrals_to_return(circle: CircleConfig, p: Partner, today: date) -> int:
    """How many new referrals today would bring the partner in again (0: more than MAX_REFERRALS)."""
    for n in range(1, MAX_REFERRALS + 1):
        if _back(circle, p, today, n):
            return n
    return 0


def return_by(circle: CircleConfig, p: Partner, today: date, n: int) -> date | None:
    """The last day (within RETURN_WINDOW_DAYS) up to which ``n`` new referrals, arriving on any
    day until then, bring the partner in again; None when even today's are not enough."""
    last: date | None = None
    for ahead in range(RETURN_WINDOW_DAYS + 1):
        day = today + timedelta(days=ahead)
        if not _back(circle, p, day, n):
            break
        last = day
    return last


def _new_referral(day: date, n: int) -> ReferralRow:
    created = format_datetime(datetime.combine(day, time(0, 0), tzinfo=timezone.utc))
    fields = {ReferralF.DIRECTION: Direction.FROM_PARTNER, ReferralF.STATUS: RefStatus.ACCEPTED}
    return ReferralRow.of(Record(f"recOUTLOOK{n:07d}", created, fields))
