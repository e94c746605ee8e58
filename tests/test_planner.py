"""The budget planner: the month ends under 90 %, freshness gets the rest, placed where referrals
come, and it slows before it stops."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.schedule.planner import (
    KEPT_BACK,
    NORMAL,
    OFFLINE,
    OFFLINE_EVERY,
    PLAN_SHARE,
    PRIOR_CHANGE_CALLS_PER_DAY,
    SLOW_EVERY,
    SLOWED,
    STOPPED,
    BudgetView,
    Plan,
    next_month,
    offline_plan,
    plan,
    span,
)
from jobs.schedule.polls import MAX_GAP, MIN_GAP, ArrivalPattern

NOV_1 = datetime(2026, 11, 1, tzinfo=timezone.utc)
BERLIN = ZoneInfo("Europe/Berlin")


def view(
    now: datetime, *, used: int = 0, polls: int = 0, full: int = 0, allowance: int = 1000, **kw: object
) -> BudgetView:
    weekly = sum(16 for d in range(0, 30, 7) if now + timedelta(days=d) < next_month(now))
    defaults: dict[str, object] = dict(
        allowance=allowance,
        used=used,
        polls=polls,
        full_syncs=full,
        observed_since=NOV_1,
        fresh_poll_calls=1,
        daily_poll_calls=3,
        resync_calls=weekly,
    )
    defaults.update(kw)
    return BudgetView(**defaults)  # type: ignore[arg-type]


def working_hours(now: datetime, n: int = 93, seed: int = 1) -> ArrivalPattern:
    """What eight weeks of referrals sent Mon–Fri 08–18 in Berlin teach."""
    rng, created = random.Random(seed), []
    while len(created) < n:
        day = (now - timedelta(days=rng.uniform(0, 56))).astimezone(BERLIN)
        if day.weekday() < 5:
            created.append(day.replace(hour=8, minute=0) + timedelta(hours=rng.uniform(0, 10)))
    return ArrivalPattern.learn(created, now, BERLIN)


def gaps(p: Plan, start: datetime, end: datetime) -> list[timedelta]:
    assert p.schedule is not None
    times, t = [start], start
    while (t := p.schedule.next_after(t)) < end:
        times.append(t)
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_a_fresh_month_is_spent_up_to_just_under_90_percent_on_referral_freshness() -> None:
    p = plan(view(NOV_1), NOV_1)
    assert p.mode == NORMAL and p.schedule is not None
    # committed: 6/day change work, 3 daily polls, 5 resyncs of 16 → 180 + 90 + 80 = 350; 550 polls left
    assert round(p.polls) == 550
    assert round(p.schedule.planned) == 550 - KEPT_BACK
    assert 880 <= p.projected <= 900
    # no history: the polls come evenly, every ~79 minutes; a referral waits half a gap at the median
    assert p.cadence() == [("all week", timedelta(days=30) / (550 - KEPT_BACK))]
    median, p90 = p.latency() or (timedelta(0), timedelta(0))
    assert 38 <= median.total_seconds() / 60 <= 41 and 69 <= p90.total_seconds() / 60 <= 73


def test_working_hours_referrals_get_the_polls_of_working_hours() -> None:
    p = plan(view(NOV_1, arrivals=working_hours(NOV_1)), NOV_1)
    assert p.mode == NORMAL and p.schedule is not None
    rows = dict(p.cadence())
    busy = next(gap for part, gap in rows.items() if part.startswith("weekdays 0"))
    assert busy < timedelta(minutes=40) and max(rows.values()) <= MAX_GAP
    median, _ = p.latency() or (timedelta(0), timedelta(0))
    assert median <= timedelta(minutes=17)
    assert max(gaps(p, NOV_1, next_month(NOV_1))) <= MAX_GAP


def test_spending_faster_than_planned_buys_fewer_polls_for_the_rest_of_the_month() -> None:
    mid = NOV_1 + timedelta(days=15)
    calm = plan(view(mid, used=400, polls=250, full=48), mid)
    busy = plan(view(mid, used=480, polls=250, full=48), mid)  # 80 more calls of change work
    assert calm.schedule is not None and busy.schedule is not None
    assert busy.polls < calm.polls
    assert busy.schedule.next_after(mid) > calm.schedule.next_after(mid)
    assert busy.projected <= PLAN_SHARE * 1000 + 1


def test_the_measured_change_rate_replaces_the_prior_as_the_month_goes_on() -> None:
    day10 = NOV_1 + timedelta(days=10)
    v = view(day10, used=400, polls=200, full=50)  # 150 calls of change work in 10 days: 15 a day
    assert v.change_rate(day10) == (150 + PRIOR_CHANGE_CALLS_PER_DAY * 3) / 13
    assert view(NOV_1, used=0).change_rate(NOV_1) == PRIOR_CHANGE_CALLS_PER_DAY


def test_the_daily_runs_left_are_counted_as_given() -> None:
    a = view(NOV_1, daily_runs=30).committed(NOV_1)
    assert view(NOV_1, daily_runs=31).committed(NOV_1) == a + 3
    assert view(NOV_1).committed(NOV_1) == a  # by default one per day left


def test_near_the_end_of_the_allowance_it_slows_down_instead_of_stopping() -> None:
    day26 = NOV_1 + timedelta(days=26)
    p = plan(view(day26, used=870, polls=600, full=80), day26)
    assert p.mode == SLOWED and p.schedule is not None
    assert p.schedule.next_after(day26) - day26 >= SLOW_EVERY
    assert p.projected <= 980
    assert "nearly spent" in p.why


def test_when_even_the_spare_tenth_is_committed_only_the_daily_run_polls() -> None:
    day26 = NOV_1 + timedelta(days=26)
    p = plan(view(day26, used=960, polls=600, full=80), day26)
    assert p.mode == SLOWED and p.schedule is None and p.airtable_allowed
    assert p.next_poll(day26) is None and p.latency() is None and p.cadence() == []


def test_a_spent_allowance_stops_airtable_calls_and_says_until_when() -> None:
    day25 = NOV_1 + timedelta(days=25, hours=3)
    p = plan(view(day25, used=1000), day25)
    assert p.mode == STOPPED and not p.airtable_allowed
    assert p.until == datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert "no Airtable calls until 2026-12-01 00:00 UTC" in p.why
    blocked = plan(view(day25, used=300, blocked="PUBLIC_API_BILLING_LIMIT_EXCEEDED"), day25)
    assert blocked.mode == STOPPED and blocked.why.startswith("PUBLIC_API_BILLING_LIMIT_EXCEEDED")


def test_a_large_allowance_polls_every_minute_and_says_why_it_stops_there() -> None:
    p = plan(view(NOV_1, allowance=100_000), NOV_1)
    assert p.mode == NORMAL and p.schedule is not None and p.schedule.capped
    assert p.next_poll(NOV_1) == NOV_1 + MIN_GAP
    assert p.cadence() == [("all week", MIN_GAP)]
    assert round(p.schedule.planned) == 30 * 24 * 60 and p.projected < 45_000
    assert p.latency() == (timedelta(seconds=30), timedelta(seconds=54))
    assert "a poll a minute is as often as polling helps" in p.why


def test_offline_the_jobs_run_every_ten_minutes() -> None:
    p = offline_plan(NOV_1)
    assert p.mode == OFFLINE and p.next_poll(NOV_1) == NOV_1 + OFFLINE_EVERY


def test_december_and_leap_february_end_on_the_first() -> None:
    assert next_month(datetime(2026, 12, 31, 23, tzinfo=timezone.utc)) == datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert next_month(datetime(2028, 2, 29, tzinfo=timezone.utc)) == datetime(2028, 3, 1, tzinfo=timezone.utc)


def test_span_reads_at_a_glance() -> None:
    assert span(timedelta(minutes=74, seconds=20)) == "74 min"
    assert span(timedelta(hours=6)) == "6.0 h"


@settings(max_examples=200, deadline=None)
@given(
    day=st.floats(min_value=0, max_value=29.9),
    used_share=st.floats(min_value=0, max_value=1.2),
    poll_share=st.floats(min_value=0, max_value=1),
    more=st.integers(min_value=1, max_value=200),
)
def test_more_spent_never_means_polling_more_often_and_never_over_the_allowance(
    day: float, used_share: float, poll_share: float, more: int
) -> None:
    now = NOV_1 + timedelta(days=day)
    used = int(1000 * used_share)
    polls = int(used * poll_share)
    a = plan(view(now, used=used, polls=polls), now)
    b = plan(view(now, used=used + more, polls=polls), now)
    order = [STOPPED, SLOWED, NORMAL]
    assert order.index(b.mode) <= order.index(a.mode) or a.mode == b.mode
    if a.schedule is not None and b.schedule is not None:
        assert b.schedule.next_after(now) >= a.schedule.next_after(now) - timedelta(microseconds=1)
    for p in (a, b):
        if p.mode == NORMAL:
            assert p.projected <= PLAN_SHARE * 1000 + 1
        if p.mode != STOPPED:
            assert p.projected <= 1000 or p.schedule is None
