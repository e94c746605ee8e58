"""How the month's Airtable allowance is spent, and where the polls of the Referrals base fall.

Pure: :func:`plan` takes the month's facts (:class:`BudgetView`) and returns a :class:`Plan`.

The month is split into what the program cannot choose and what it can:

* committed — calls already spent; the daily runs still due (each polls all three bases); the
  periodic full resyncs still due this month; and the *change work* (reading changed records,
  writing scores, registrations, CRM write-backs), which follows how much happens, not how
  often the jobs run. Its rate is measured from this month's ledger, smoothed with a prior so
  the first days of a month are not planned from one busy morning;
* freshness — what is left under :data:`PLAN_SHARE` of the allowance buys polls of the
  Referrals base. They are placed by :class:`~jobs.schedule.polls.PollSchedule`: more where
  From-partner referrals usually arrive (density ∝ √ of the learned arrival rate), never a gap
  over 6 hours, never two polls within a minute. The wait for the next poll is how long a new
  referral waits for the CRM.

When the polls left cannot keep the 6-hour promise the plan is *slowed*: the polls come evenly,
every :data:`SLOW_EVERY` or more, paid from the spare 10 %. Once the allowance is spent or
Airtable has blocked the workspace, the plan *stops* every Airtable call until the 1st.
``docs/planner.md`` explains the accounting; ``docs/polling.md`` the placement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from jobs.schedule.polls import MAX_GAP, ArrivalPattern, PollSchedule

PLAN_SHARE = 0.9  # the month should end under 90 % of the allowance
SLOW_EVERY = MAX_GAP  # slowest cadence paid from the 90 % share; beyond it, the spare 10 %
SPARE_SHARE = 0.98  # a slowed month still keeps 2 % back for the daily work it did not foresee
PRIOR_CHANGE_CALLS_PER_DAY = 6.0  # change work assumed before the month has shown its own
PRIOR_DAYS = 3.0  # weight of that assumption, in days of measurement
OFFLINE_EVERY = timedelta(minutes=10)  # without Airtable nothing is paid for: the local jobs every 10 minutes
# Polls bought but not placed: walking a schedule from the last poll can land one poll more than
# its density integrates to (the one already due), so the plan places one fewer than it can pay.
KEPT_BACK = 1

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
    daily_poll_calls: int  # calls per daily-tier run (it polls every base)
    resync_calls: int  # calls of the full resyncs still due this month
    blocked: str | None = None
    arrivals: ArrivalPattern = field(default_factory=ArrivalPattern.uniform)  # when referrals come, local to TZ
    daily_runs: int | None = None  # daily-tier runs still due this month; None: one per day left

    @property
    def change_calls(self) -> int:
        return max(0, self.used - self.polls - self.full_syncs)

    def change_rate(self, now: datetime) -> float:
        """Change-work calls per day: this month's measurement, smoothed toward the prior."""
        days = max(0.0, (now - self.observed_since).total_seconds() / 86400)
        return (self.change_calls + PRIOR_CHANGE_CALLS_PER_DAY * PRIOR_DAYS) / (days + PRIOR_DAYS)

    def committed(self, now: datetime) -> float:
        """Calls spent or foreseen by the end of the month, before any poll of the Referrals base."""
        days_left = max(1.0, (next_month(now) - now).total_seconds()) / 86400
        daily = math.ceil(days_left) if self.daily_runs is None else self.daily_runs
        return self.used + self.change_rate(now) * days_left + self.daily_poll_calls * daily + self.resync_calls


@dataclass(frozen=True)
class Plan:
    mode: str  # normal, slowed, stopped, offline
    schedule: PollSchedule | None  # where the fresh tier's polls fall; None: only with the daily tier (or not at all)
    projected: int  # calls expected by the end of the month at this plan (an upper bound)
    until: datetime | None  # stopped: no Airtable calls before this
    why: str
    polls: float = 0.0  # polls of the Referrals base the rest of the month can pay for

    @property
    def airtable_allowed(self) -> bool:
        return self.mode != STOPPED

    def next_poll(self, last: datetime) -> datetime | None:
        """When the fresh tier is due after a poll at ``last`` (None: it runs with the daily tier only)."""
        return None if self.schedule is None else self.schedule.next_after(last)

    def latency(self) -> tuple[timedelta, timedelta] | None:
        """Median and 90th-percentile wait of a new referral for the next poll, referrals arriving
        as they did in recent weeks (computed from the planned poll times, piece by piece)."""
        if self.schedule is None:
            return None
        try:
            return self.schedule.expected_wait()
        except ValueError:  # no time left in the month
            return None

    def cadence(self) -> list[tuple[str, timedelta]]:
        """The gap between polls per part of the week, local to TZ (empty without a schedule)."""
        return [] if self.schedule is None else self.schedule.table()


def span(delta: timedelta) -> str:
    """An interval in words people read at a glance: "74 min", "6.0 h"."""
    minutes = round(delta.total_seconds() / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def even(pattern: ArrivalPattern, start: datetime, end: datetime, every: timedelta) -> PollSchedule:
    """A poll every ``every``, whatever the pattern (``pattern`` still weighs the waits)."""
    polls = (end - start) / every
    return PollSchedule(pattern, pattern.zone, start, end, polls, max_gap=every, min_gap=every)


def offline_plan(now: datetime) -> Plan:
    schedule = even(ArrivalPattern.uniform(), now, next_month(now), OFFLINE_EVERY)
    return Plan(OFFLINE, schedule, 0, None, "no AIRTABLE_TOKEN: the local store is the data, no budget applies")


def plan(view: BudgetView, now: datetime) -> Plan:
    end = next_month(now)
    if view.blocked or view.used >= view.allowance:
        why = view.blocked or f"{view.used} of {view.allowance} Airtable calls used"
        return Plan(STOPPED, None, view.used, end, f"{why}; no Airtable calls until {end:%Y-%m-%d %H:%M} UTC")
    committed = view.committed(now)
    per_poll = max(1, view.fresh_poll_calls)
    polls = (PLAN_SHARE * view.allowance - committed) / per_poll
    schedule = _placed(view.arrivals, now, end, polls)
    if schedule is None:
        return _slowed(view, now, committed, per_poll)
    projected = committed + (schedule.planned + KEPT_BACK) * per_poll
    why = f"{polls:.0f} polls of the Referrals base fit under {PLAN_SHARE:.0%} of the allowance"
    if schedule.capped:
        why += f"; a poll a minute is as often as polling helps, so {schedule.planned:.0f} are placed"
    return Plan(NORMAL, schedule, round(projected), None, why, polls)


def _placed(arrivals: ArrivalPattern, now: datetime, end: datetime, polls: float) -> PollSchedule | None:
    """The √-density schedule of ``polls``, or None when they cannot keep a poll every 6 hours."""
    if polls - KEPT_BACK <= 0:
        return None
    schedule = PollSchedule(arrivals, arrivals.zone, now, end, polls - KEPT_BACK)
    return None if schedule.slowed else schedule


def _slowed(view: BudgetView, now: datetime, committed: float, per_poll: int) -> Plan:
    """Evenly spaced polls paid from the spare 10 %, every 6 hours or more; or none but the daily run's."""
    end = next_month(now)
    spare = (SPARE_SHARE * view.allowance - committed) / per_poll - KEPT_BACK
    if spare < 1:
        return Plan(
            SLOWED,
            None,
            round(committed),
            None,
            "the month is nearly spent: only the daily run polls for new referrals until the 1st",
        )
    every = max(SLOW_EVERY, (end - now) / spare)
    schedule = even(view.arrivals, now, end, every)
    projected = committed + (schedule.planned + KEPT_BACK) * per_poll
    why = "the month is nearly spent: new referrals are picked up less often until the 1st"
    return Plan(SLOWED, schedule, round(projected), None, why, spare + KEPT_BACK)
