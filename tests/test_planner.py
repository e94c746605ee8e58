"""The budget planner: the month ends under 90 %, freshness gets the rest, it slows before it stops."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.schedule.planner import (
    MIN_EVERY,
    NORMAL,
    PLAN_SHARE,
    PRIOR_CHANGE_CALLS_PER_DAY,
    SLOW_EVERY,
    SLOWED,
    STOPPED,
    BudgetView,
    next_month,
    plan,
    span,
)

NOV_1 = datetime(2026, 11, 1, tzinfo=timezone.utc)


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
        daily_poll_calls=2,
        resync_calls=weekly,
    )
    defaults.update(kw)
    return BudgetView(**defaults)  # type: ignore[arg-type]


def test_a_fresh_month_is_spent_up_to_just_under_90_percent_on_referral_freshness() -> None:
    p = plan(view(NOV_1), NOV_1)
    assert p.mode == NORMAL
    assert p.fresh_every is not None
    # committed: 6/day change work, 2 daily polls, 5 resyncs of 16 → 180 + 60 + 80 = 320; 580 polls left
    assert 70 <= p.fresh_every.total_seconds() / 60 <= 76
    assert 880 <= p.projected <= 900
    median, p90 = p.latency() or (timedelta(0), timedelta(0))
    assert median == p.fresh_every / 2 and p90 == p.fresh_every * 0.9


def test_spending_faster_than_planned_slows_the_polling_for_the_rest_of_the_month() -> None:
    mid = NOV_1 + timedelta(days=15)
    calm = plan(view(mid, used=400, polls=250, full=48), mid)
    busy = plan(view(mid, used=480, polls=250, full=48), mid)  # 80 more calls of change work
    assert calm.fresh_every is not None and busy.fresh_every is not None
    assert busy.fresh_every > calm.fresh_every
    assert busy.projected <= PLAN_SHARE * 1000 + 1


def test_the_measured_change_rate_replaces_the_prior_as_the_month_goes_on() -> None:
    day10 = NOV_1 + timedelta(days=10)
    v = view(day10, used=400, polls=200, full=50)  # 150 calls of change work in 10 days: 15 a day
    assert v.change_rate(day10) == (150 + PRIOR_CHANGE_CALLS_PER_DAY * 3) / 13
    assert view(NOV_1, used=0).change_rate(NOV_1) == PRIOR_CHANGE_CALLS_PER_DAY


def test_near_the_end_of_the_allowance_it_slows_down_instead_of_stopping() -> None:
    day26 = NOV_1 + timedelta(days=26)
    p = plan(view(day26, used=870, polls=600, full=80), day26)
    assert p.mode == SLOWED
    assert p.fresh_every is not None and p.fresh_every >= SLOW_EVERY
    assert p.projected <= 980
    assert "nearly spent" in p.why


def test_when_even_the_spare_tenth_is_committed_only_the_daily_run_polls() -> None:
    day26 = NOV_1 + timedelta(days=26)
    p = plan(view(day26, used=960, polls=600, full=80), day26)
    assert p.mode == SLOWED and p.fresh_every is None and p.airtable_allowed


def test_a_spent_allowance_stops_airtable_calls_and_says_until_when() -> None:
    day25 = NOV_1 + timedelta(days=25, hours=3)
    p = plan(view(day25, used=1000), day25)
    assert p.mode == STOPPED and not p.airtable_allowed
    assert p.until == datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert "no Airtable calls until 2026-12-01 00:00 UTC" in p.why
    blocked = plan(view(day25, used=300, blocked="PUBLIC_API_BILLING_LIMIT_EXCEEDED"), day25)
    assert blocked.mode == STOPPED and blocked.why.startswith("PUBLIC_API_BILLING_LIMIT_EXCEEDED")


def test_a_large_allowance_polls_at_the_floor_interval() -> None:
    p = plan(view(NOV_1, allowance=100_000), NOV_1)
    assert p.fresh_every == MIN_EVERY and p.mode == NORMAL


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
    if a.fresh_every is not None and b.fresh_every is not None:
        assert b.fresh_every >= a.fresh_every
    for p in (a, b):
        if p.mode == NORMAL:
            assert p.projected <= PLAN_SHARE * 1000 + 1
        if p.mode != STOPPED:
            assert p.projected <= 1000 or p.fresh_every is None
