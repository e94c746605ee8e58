"""Two partner cells for managers: ``Health Detail`` and ``Referrals Given`` / ``Last Given On``.

``Health Detail`` says the score's four parts in plain words, e.g. "recency 85: last referral
within 30 days · volume 67: 2 referrals in 90 days · quality 50: no closed referral in a year ·
engagement 50: 1 activity in 90 days". It names no day count and no date, so it changes only
when a part changes and rides on the score's write. A part at its ceiling says "or more" (3 or
more referrals keep volume at 100 whether there are 3 or 7). Quality names its won and closed
counts; two pairs with the same value (1 of 2 and none closed both give 50) read differently.

A referral counts as *given* to a partner when it is a To-partner referral with Status
Introduced or later (Introduced, Won, Lost, Expired). It was given when its intro went out
(``Intro Sent At``), or, for one a manager marked by hand without an intro, when it was created.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timezone
from typing import NamedTuple

from bases.records import Record
from jobs.rules.cells import cell_datetime, created_at, email, select
from jobs.rules.scores import DEFAULT_SETTINGS, HealthSettings, Score

TO_PARTNER = "To partner"
FROM_PARTNER = "From partner"
GIVEN_STATUSES = frozenset({"Introduced", "Won", "Lost", "Expired"})
SEPARATOR = " · "


def _whole(x: float) -> int:
    """A part as it is shown: rounded half up (66.67 → 67)."""
    return math.floor(x + 0.5)


def _noun(n: int, word: str) -> str:
    if n == 1:
        return word
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def _window(days: int) -> str:
    return "in a year" if days == 365 else f"in {days} days"


def _recency(score: Score, settings: HealthSettings) -> str:
    for limit, value in settings.recency_steps:
        if score.recency == value and value > 0:
            return f"last referral within {limit} days"
    if score.last_referral_on is None:
        return "no referral yet"
    longest = max((limit for limit, _ in settings.recency_steps), default=0)
    return f"no referral in {longest} days"


def _counted(n: int, per_item: float, word: str, days: int) -> str:
    """ "2 referrals in 90 days", or "3 or more …" once the part is at its ceiling."""
    if n == 0:
        return f"no {word} {_window(days)}"
    ceiling = math.ceil(100 / per_item) if per_item > 0 else n
    if n >= ceiling:
        return f"{ceiling} or more {_noun(ceiling, word)} {_window(days)}"
    return f"{n} {_noun(n, word)} {_window(days)}"


def _quality(score: Score, settings: HealthSettings) -> str:
    window = _window(settings.quality_window_days)
    if score.closed_in_window == 0:
        return f"no closed referral {window}"
    return f"{score.won_in_window} won of {score.closed_in_window} closed {window}"


def health_detail(score: Score, settings: HealthSettings = DEFAULT_SETTINGS) -> str:
    """The ``Health Detail`` cell: the four parts of ``score`` in plain words (see the module)."""
    volume = _counted(score.referrals_90d, settings.volume_per_referral, "referral", settings.volume_window_days)
    engagement = _counted(
        score.activities_in_window, settings.engagement_per_activity, "activity", settings.engagement_window_days
    )
    parts = (
        f"recency {_whole(score.recency)}: {_recency(score, settings)}",
        f"volume {_whole(score.volume)}: {volume}",
        f"quality {_whole(score.quality)}: {_quality(score, settings)}",
        f"engagement {_whole(score.engagement)}: {engagement}",
    )
    return SEPARATOR.join(parts)


# --- referrals given -------------------------------------------------------------------------


class Given(NamedTuple):
    """``Referrals Given`` (all time) and ``Last Given On`` (UTC day) of one partner."""

    total: int
    last_on: date | None


def is_given(referral: Record) -> bool:
    """A To-partner referral with Status Introduced or later."""
    return select(referral.get("Direction")) == TO_PARTNER and select(referral.get("Status")) in GIVEN_STATUSES


def given_at(referral: Record) -> datetime | None:
    """When a given referral was given: its ``Intro Sent At``, else its created time."""
    if not is_given(referral):
        return None
    return cell_datetime(referral.get("Intro Sent At")) or created_at(referral)


def given_counts(referrals: Sequence[Record], partners: Sequence[Record]) -> dict[str, Given]:
    """Normalized partner e-mail → :class:`Given`, for every partner with an e-mail (0 and None
    for a partner never given one); days are UTC calendar days, as the health job's."""
    result = {email(p.get("Email")): Given(0, None) for p in partners if email(p.get("Email"))}
    for r in referrals:
        key, moment = email(r.get("Partner Email")), given_at(r)
        if key not in result or moment is None:
            continue
        count, last = result[key]
        day = moment.astimezone(timezone.utc).date()
        result[key] = Given(count + 1, day if last is None or day > last else last)
    return result
