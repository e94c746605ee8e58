"""How often each tier of jobs may run this month, from what is left of the Airtable allowance.

Pure: :func:`plan` takes the month's facts (:class:`BudgetView`) and returns a :class:`Plan`.

The month is split into what the program cannot choose and what it can:

* committed — calls already spent; the daily polls of the Partners and Circles bases; the
  periodic full resyncs still due this month; and the *change work* (reading changed records,
  writing scores, registrations, CRM write-backs), which follows how much happens, not how
  often the jobs run. Its rate is measured from this month's ledger, smoothed with a prior so
  the first days of a month are not planned from one busy morning;
* freshness — what is left under :data:`PLAN_SHARE` of the allowance buys polls of the
  Referrals base, spread evenly over the time left. That interval is how long a new referral
  waits for the CRM.

Near the end of the month the interval grows (up to :data:`SLOW_EVERY`, then further into the
last 10 %) instead of stopping; once the allowance is spent or Airtable has blocked the
workspace, the plan stops every Airtable call until the 1st.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

PLAN_SHARE = 0.9  # the month should end under 90 % of the allowance
MIN_EVERY = timedelta(minutes=10)  # never poll more often than this, however rich the month
SLOW_EVERY = timedelta(hours=6)  # slowest cadence paid from the 90 % share; beyond it, the spare 10 %
SPARE_SHARE = 0.98  # a slowed month still keeps 2 % back for the daily work it did not foresee
PRIOR_CHANGE_CALLS_PER_DAY = 6.0  # change work assumed before the month has shown its own
PRIOR_DAYS = 3.0  # weight of that assumption, in days of measurement

NORMAL, SLOWED, STOPPED, OFFLINE = "normal", "slowed", "stopped", "offline"


def month_start(now: datetime) -> datetime:
    """Airtable's allowance is per calendar month (UTC)."""
    u = now.astimezone(timezone.utc)
    return u.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(now: datetime) -> datetime:
    start = month_start(now)
    return (start + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class BudgetView:
    """What the planner knows about the month."""

    allowance: int
    used: int
    polls: int  # change-feed polls spent this month
    full_syncs: int  # calls spent on full resyncs this month
    observed_since: datetime  # when this month's measurement began (month start, or first run)
    fresh_poll_calls: int  # calls per fresh-tier poll (bases polled each time)
    daily_poll_calls: int  # calls per daily-tier poll
    resync_calls: int  # calls of the full resyncs still due this month
    blocked: str | None = None

    @property
    def change_calls(self) -> int:
        return max(0, self.used - self.polls - self.full_syncs)

    def change_rate(self, now: datetime) -> float:
        """Change-work calls per day: this month's measurement, smoothed toward the prior."""
        days = max(0.0, (now - self.observed_since).total_seconds() / 86400)
        return (self.change_calls + PRIOR_CHANGE_CALLS_PER_DAY * PRIOR_DAYS) / (days + PRIOR_DAYS)


@dataclass(frozen=True)
class Plan:
    mode: str  # normal, slowed, stopped, offline
    fresh_every: timedelta | None  # None: the fresh tier runs only with the daily tier (or not at all)
    projected: int  # calls expected by the end of the month at this plan
    until: datetime | None  # stopped: no Airtable calls before this
    why: str

    @property
    def airtable_allowed(self) -> bool:
        return self.mode != STOPPED

    def latency(self) -> tuple[timedelta, timedelta] | None:
        """Median and 90th-percentile wait of a new referral for the CRM at this interval.

        Referrals arrive at random moments, so the wait until the next poll is spread evenly
        over the interval: median half of it, 90th percentile nine tenths.
        """
        if self.fresh_every is None:
            return None
        return self.fresh_every / 2, self.fresh_every * 0.9


def span(delta: timedelta) -> str:
    """An interval in words people read at a glance: "74 min", "6.0 h"."""
    minutes = round(delta.total_seconds() / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def offline_plan() -> Plan:
    return Plan(OFFLINE, MIN_EVERY, 0, None, "no AIRTABLE_TOKEN: the local store is the data, no budget applies")


def plan(view: BudgetView, now: datetime) -> Plan:
    end = next_month(now)
    left = max(1.0, (end - now).total_seconds())
    if view.blocked or view.used >= view.allowance:
        why = view.blocked or f"{view.used} of {view.allowance} Airtable calls used"
        return Plan(STOPPED, None, view.used, end, f"{why}; no Airtable calls until {end:%Y-%m-%d %H:%M} UTC")
    days_left = left / 86400
    committed = (
        view.used + view.change_rate(now) * days_left + view.daily_poll_calls * math.ceil(days_left) + view.resync_calls
    )
    per_poll = max(1, view.fresh_poll_calls)
    polls = (PLAN_SHARE * view.allowance - committed) / per_poll
    if polls > 0 and left / polls <= SLOW_EVERY.total_seconds():
        every = max(MIN_EVERY, timedelta(seconds=left / polls))
        mode, why = NORMAL, f"{polls:.0f} polls of the Referrals base fit under {PLAN_SHARE:.0%} of the allowance"
    else:
        spare = (SPARE_SHARE * view.allowance - committed) / per_poll
        if spare >= 1:
            every = max(SLOW_EVERY, timedelta(seconds=left / spare))
            mode, why = SLOWED, "the month is nearly spent: new referrals are picked up less often until the 1st"
        else:
            return Plan(
                SLOWED,
                None,
                round(committed),
                None,
                "the month is nearly spent: only the daily run polls for new referrals until the 1st",
            )
    projected = committed + (left / every.total_seconds()) * per_poll
    return Plan(mode, every, round(projected), None, why)
