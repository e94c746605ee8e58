"""Calendar weeks of the managers' view: ISO weeks, Monday to Sunday, local to ``TZ``.

"This week" in the digest is **the last complete ISO week before ``now``** (the report week):
the digest goes out on Monday morning (``DIGEST_AT``), and a manager reading "this week: 12
referrals" then expects last Monday to Sunday. Whole weeks also mean two digests never count a
referral twice nor miss one, whatever hour each went out, and the digest's numbers are the last
bar of its 12-week chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, order=True)
class Week:
    """One ISO week: its Monday and its label, e.g. ``2026-W22``."""

    monday: date

    @property
    def label(self) -> str:
        year, week, _ = self.monday.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.monday <= day <= self.sunday

    def previous(self, n: int = 1) -> Week:
        return Week(self.monday - timedelta(weeks=n))

    def span(self) -> str:
        """Plain words for the days it covers, e.g. "25–31 May 2026" or "29 Jun – 5 Jul 2026"."""
        first, last = self.monday, self.sunday
        if first.month == last.month:
            return f"{first.day}–{last.day} {last:%b %Y}"
        if first.year == last.year:
            return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
        return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"


def week_of(day: date) -> Week:
    return Week(day - timedelta(days=day.weekday()))


def today_in(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def report_week(now: datetime, zone: ZoneInfo) -> Week:
    """The last complete ISO week before ``now`` (on Monday 08:00 it is the week that just ended)."""
    return week_of(today_in(now, zone)).previous()


def recent_weeks(now: datetime, zone: ZoneInfo, weeks: int = 12) -> list[Week]:
    """The ``weeks`` complete weeks up to and including the report week, oldest first."""
    last = report_week(now, zone)
    return [last.previous(n) for n in range(weeks - 1, -1, -1)]
