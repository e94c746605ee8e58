"""Referrals polls follow the partners: a learned arrival pattern, √rate polling, a 6-hour floor, DST."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.schedule.polls import (
    HOURS_PER_WEEK,
    MAX_GAP,
    MIN_GAP,
    ArrivalPattern,
    PollSchedule,
    hour_of_week,
    span,
)

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)
MONTH = DEC_1 - NOV_1
EVEN = ArrivalPattern.uniform(BERLIN)
SECOND = timedelta(seconds=1)


def pattern(busy: Callable[[int, int], float]) -> ArrivalPattern:
    """A pattern from (day, hour) → weight."""
    return ArrivalPattern(tuple(float(busy(d, h)) for d in range(7) for h in range(24)), BERLIN)


WORKING_HOURS = pattern(lambda d, h: d < 5 and 8 <= h < 18)  # Mon–Fri 08:00–18:00 local


def polls_of(schedule: PollSchedule, start: datetime, end: datetime) -> list[datetime]:
    """Poll times by iterating next_after from ``start`` up to the first poll at or after ``end``."""
    times = [start]
    while times[-1] < end:
        times.append(schedule.next_after(times[-1]))
    return times


def gaps(times: Sequence[datetime]) -> list[timedelta]:
    """Elapsed time between polls (in UTC: aware datetimes of one zone subtract as wall clocks)."""
    utc = [t.astimezone(UTC) for t in times]
    return [b - a for a, b in zip(utc, utc[1:], strict=False)]


def minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


# -- the arrival pattern ----------------------------------------------------------------------


def test_with_no_history_the_pattern_is_uniform() -> None:
    assert ArrivalPattern.learn([], NOV_1, BERLIN) == ArrivalPattern.uniform(BERLIN)
    old = [NOV_1 - timedelta(weeks=9), NOV_1 + timedelta(hours=1)]  # before the window; in the future
    assert ArrivalPattern.learn(old, NOV_1, BERLIN).weights == ArrivalPattern.uniform(BERLIN).weights
    assert all(w == pytest.approx(1 / HOURS_PER_WEEK) for w in EVEN.weights)


def test_hour_of_week_is_local_to_the_zone() -> None:
    monday_9_berlin = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # CET = UTC+1
    assert hour_of_week(monday_9_berlin, BERLIN) == 9
    assert hour_of_week(monday_9_berlin, UTC) == 8
    assert hour_of_week(datetime(2026, 11, 8, 22, 30, tzinfo=UTC), BERLIN) == HOURS_PER_WEEK - 1  # Sun 23:30


def test_learning_working_hours_arrivals_weighs_working_hours() -> None:
    rng = random.Random(7)
    created = [
        NOV_1 - timedelta(days=day) + timedelta(hours=rng.uniform(7, 17))  # 08–18 Berlin (UTC+1)
        for day in range(1, 56)
        if (NOV_1 - timedelta(days=day)).weekday() < 5
        for _ in range(2)
    ]
    learned = ArrivalPattern.learn(created, NOV_1, BERLIN)
    assert learned.arrivals == len(created)
    assert math.fsum(learned.weights) == pytest.approx(1)
    tuesday_11 = datetime(2026, 11, 3, 10, tzinfo=UTC)
    assert learned.rate(tuesday_11) > 20 * learned.rate(tuesday_11 - timedelta(hours=8))  # 03:00
    assert learned.rate(tuesday_11) > 20 * learned.rate(tuesday_11 + timedelta(days=4))  # Saturday
    assert min(learned.weights) > 0  # the prior: quiet hours are rare, not impossible


def test_arrivals_that_could_be_chance_learn_an_even_pattern() -> None:
    rng = random.Random(4)
    anytime = [NOV_1 - timedelta(seconds=rng.uniform(0, 56 * 86400)) for _ in range(93)]
    learned = ArrivalPattern.learn(anytime, NOV_1, BERLIN)
    assert learned.flat and learned.arrivals == 93  # 93 referrals at random hours: no pattern to follow
    assert learned.weights == ArrivalPattern.uniform(BERLIN).weights
    weekdays = [d for d in range(1, 57) if (NOV_1 - timedelta(days=d)).weekday() < 5]
    working = [NOV_1 - timedelta(days=rng.choice(weekdays)) + timedelta(hours=rng.uniform(7, 17)) for _ in range(93)]
    assert not ArrivalPattern.learn(working, NOV_1, BERLIN).flat


def test_a_pattern_is_168_non_negative_weights_normalised_to_one() -> None:
    assert math.fsum(pattern(lambda d, h: 3.0).weights) == pytest.approx(1)
    with pytest.raises(ValueError):
        ArrivalPattern((1.0,) * 24)
    with pytest.raises(ValueError):
        ArrivalPattern((0.0,) * HOURS_PER_WEEK)
    with pytest.raises(ValueError):
        ArrivalPattern.learn([datetime(2026, 10, 20, 9)], NOV_1, BERLIN)  # naive: which zone?


# -- the schedule -----------------------------------------------------------------------------


def test_a_uniform_pattern_spaces_the_polls_evenly() -> None:
    schedule = PollSchedule(EVEN, BERLIN, NOV_1, DEC_1, 300)
    every = MONTH / 300
    times = polls_of(schedule, NOV_1, DEC_1)
    assert len(times) == 301
    assert all(abs(g - every) < SECOND for g in gaps(times))
    [(part, cadence)] = schedule.table()
    assert part == "all week" and abs(cadence - every) < SECOND
    assert not schedule.slowed and not schedule.capped


def test_working_hours_get_the_polls_and_nights_and_weekends_the_6_hour_floor() -> None:
    schedule = PollSchedule(WORKING_HOURS, BERLIN, NOV_1, DEC_1, 300)
    rows = dict(schedule.table())
    assert list(rows) == ["weekdays 08–18", "weekdays 18–08", "weekend"]
    assert 55 <= minutes(rows["weekdays 08–18"]) <= 62
    assert rows["weekdays 18–08"] == rows["weekend"] == MAX_GAP
    assert schedule.summary() == "weekdays 08–18: every 59 min; weekdays 18–08: every 6 h; weekend: every 6 h"
    assert schedule.polls_between(NOV_1, DEC_1) == pytest.approx(300)


def test_the_worked_example_of_docs_polling() -> None:
    """docs/polling.md: 300 and 580 polls a month; working-hours and uniform arrivals."""

    def waits(arrivals: ArrivalPattern, density: ArrivalPattern, polls: int) -> tuple[float, float]:
        median, p90 = PollSchedule(density, BERLIN, NOV_1, DEC_1, polls).expected_wait(arrivals)
        return round(minutes(median)), round(minutes(p90))

    assert waits(WORKING_HOURS, EVEN, 300) == (72, 132)
    assert waits(WORKING_HOURS, WORKING_HOURS, 300) == (30, 55)
    assert waits(EVEN, EVEN, 300) == (72, 130)
    assert waits(WORKING_HOURS, WORKING_HOURS, 580) == (13, 23)
    assert waits(WORKING_HOURS, EVEN, 580) == (37, 67)


def test_when_even_the_floor_costs_more_than_the_month_affords_the_schedule_says_slowed() -> None:
    schedule = PollSchedule(WORKING_HOURS, BERLIN, NOV_1, DEC_1, 50)  # the floor needs 120
    assert schedule.slowed and schedule.floor_polls == pytest.approx(120)
    assert schedule.planned == pytest.approx(120)
    assert all(abs(g - MAX_GAP) < SECOND for g in gaps(polls_of(schedule, NOV_1, DEC_1)))


def test_a_rich_month_polls_every_minute_and_says_capped() -> None:
    learned = ArrivalPattern.learn([NOV_1 - timedelta(days=d, hours=-10) for d in range(1, 50)], NOV_1, BERLIN)
    schedule = PollSchedule(learned, BERLIN, NOV_1, DEC_1, 89_680)  # AIRTABLE_MONTHLY_CALLS=100000
    assert schedule.capped and not schedule.slowed
    assert schedule.planned == pytest.approx(MONTH / MIN_GAP)
    assert schedule.next_after(NOV_1 + timedelta(hours=3)) == NOV_1 + timedelta(hours=3, minutes=1)
    median, p90 = schedule.expected_wait()
    assert abs(median - timedelta(seconds=30)) < SECOND and abs(p90 - timedelta(seconds=54)) < SECOND
    assert schedule.summary() == "all week: every 1 min"


def test_expected_wait_of_even_polls_is_half_and_nine_tenths_of_the_interval() -> None:
    schedule = PollSchedule(EVEN, BERLIN, NOV_1, DEC_1, 600)
    median, p90 = schedule.expected_wait()
    assert abs(median - MONTH / 1200) < SECOND and abs(p90 - MONTH / 600 * 0.9) < SECOND
    assert abs(schedule.mean_wait() - MONTH / 1200) < SECOND


def test_the_reference_workload_learned_from_eight_weeks_meets_15_minutes_at_the_median() -> None:
    """50 From-partner referrals a month, Mon–Fri 08–18 Berlin; ~580 polls fit under 900 calls."""
    rng = random.Random(3)
    weekdays = [d for d in range(1, 57) if (NOV_1 - timedelta(days=d)).weekday() < 5]
    created = [NOV_1 - timedelta(days=rng.choice(weekdays)) + timedelta(hours=rng.uniform(7, 17)) for _ in range(93)]
    schedule = PollSchedule(ArrivalPattern.learn(created, NOV_1, BERLIN), BERLIN, NOV_1, DEC_1, 580)
    median, p90 = schedule.expected_wait(WORKING_HOURS)
    assert minutes(median) <= 15 and minutes(p90) <= 30
    assert len(schedule.table()) == 3 and schedule.table()[0][0].startswith("weekdays ")


def test_the_schedule_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        PollSchedule(EVEN, BERLIN, DEC_1, NOV_1, 300)
    with pytest.raises(ValueError):
        PollSchedule(EVEN, BERLIN, NOV_1, DEC_1, 300, max_gap=timedelta(minutes=1), min_gap=timedelta(minutes=2))


def test_a_window_without_arrivals_polls_at_the_floor_and_has_no_wait_to_tell() -> None:
    sunday_3am = datetime(2026, 11, 1, 2, tzinfo=UTC)
    schedule = PollSchedule(WORKING_HOURS, BERLIN, sunday_3am, sunday_3am + timedelta(hours=3), 5)
    assert schedule.capped and schedule.planned == pytest.approx(0.5)
    assert schedule.next_after(sunday_3am) == sunday_3am + MAX_GAP
    with pytest.raises(ValueError):
        schedule.expected_wait()


def test_span_reads_at_a_glance() -> None:
    assert [span(timedelta(minutes=m)) for m in (0.2, 22, 119, 180, 150)] == [
        "1 min",
        "22 min",
        "119 min",
        "3 h",
        "2.5 h",
    ]


# -- daylight saving time (Europe/Berlin) -------------------------------------------------------

OCT_25 = datetime(2026, 10, 25, tzinfo=BERLIN)  # 03:00 CEST → 02:00 CET: a 25-hour day
MAR_28 = datetime(2027, 3, 28, tzinfo=BERLIN)  # 02:00 CET → 03:00 CEST: a 23-hour day


def test_the_repeated_hour_of_autumn_is_one_hour_of_the_week_and_the_day_has_25_hours_of_polls() -> None:
    first, second = datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert hour_of_week(first, BERLIN) == hour_of_week(second, BERLIN) == 6 * 24 + 2
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    schedule = PollSchedule(EVEN, BERLIN, start, end, 744)  # one an hour
    day = schedule.polls_between(OCT_25, OCT_25 + timedelta(days=1))  # aware arithmetic: wall clock
    assert (OCT_25 + timedelta(days=1)).astimezone(UTC) - OCT_25.astimezone(UTC) == timedelta(hours=25)
    assert day == pytest.approx(25)


@pytest.mark.parametrize("change", [OCT_25, MAR_28])
def test_working_hours_stay_local_across_a_dst_change(change: datetime) -> None:
    start, end = change - timedelta(days=14), change + timedelta(days=14)
    schedule = PollSchedule(WORKING_HOURS, BERLIN, start, end, 600)
    times = polls_of(schedule, start, end)
    assert max(gaps(times)) <= MAX_GAP
    for a, b in zip(times, times[1:], strict=False):
        middle = (a + (b - a) / 2).astimezone(BERLIN)
        if middle.weekday() < 5 and 10 <= middle.hour < 16:
            assert b - a < timedelta(hours=1), middle
        if middle.hour >= 23 or middle.hour < 5:
            assert b - a > timedelta(hours=3), middle


def test_learning_across_a_dst_change_keeps_10_oclock_at_10_oclock() -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)  # eight weeks back reaches September: CEST and CET
    created = [
        datetime(day.year, day.month, day.day, 10, 15, tzinfo=BERLIN)
        for day in (now - timedelta(days=d) for d in range(1, 56))
        if day.weekday() < 5
    ]
    learned = ArrivalPattern.learn(created, now, BERLIN)
    monday = learned.weights[:24]
    assert max(range(24), key=lambda h: monday[h]) == 10
    assert monday[9] == pytest.approx(monday[11])  # the neighbouring-hour smoothing, symmetric


# -- properties -------------------------------------------------------------------------------

weights = st.lists(st.floats(0, 1), min_size=HOURS_PER_WEEK, max_size=HOURS_PER_WEEK).filter(lambda w: sum(w) > 0)
powers = st.sampled_from([0.5, 1.0, 2.0, 4.0, 8.0])  # 8: a few spiky hours
starts = st.datetimes(datetime(2026, 1, 1), datetime(2028, 1, 1)).map(lambda d: d.replace(tzinfo=UTC))


def spiky(w: list[float], power: float) -> ArrivalPattern:
    return ArrivalPattern(tuple(x**power for x in w), BERLIN) if sum(x**power for x in w) > 0 else EVEN


@settings(max_examples=40, deadline=None)
@given(weights, powers, starts, st.floats(0, 3000))
def test_no_gap_is_over_6_hours_nor_under_a_minute_and_no_more_polls_than_given(
    w: list[float], power: float, start: datetime, polls: float
) -> None:
    end = start + MONTH
    schedule = PollSchedule(spiky(w, power), BERLIN, start, end, polls)
    times = polls_of(schedule, start, end)
    micro = timedelta(microseconds=1)
    assert all(MIN_GAP - micro <= g <= MAX_GAP + micro for g in gaps(times))
    if not schedule.slowed:
        assert len([t for t in times if t < end]) <= polls + 1 + 1e-6  # float rounding at the floor
    assert schedule.polls_between(start, end) == pytest.approx(schedule.planned, rel=1e-9)
    if not schedule.capped:
        assert schedule.planned == pytest.approx(max(polls, schedule.floor_polls), rel=1e-6)
    rows = schedule.table()
    assert 1 <= len(rows) <= 4 and all(MIN_GAP - SECOND <= every <= MAX_GAP + SECOND for _, every in rows)


def arrivals(arrival: ArrivalPattern, start: datetime, end: datetime, n: int, rng: random.Random) -> list[datetime]:
    """``n`` arrivals drawn from the pattern, stratified (one per 1/n of the month's arrival mass)."""
    hours = [start + timedelta(hours=i) for i in range(int((end - start) / timedelta(hours=1)))]
    cumulative = []
    total = 0.0
    for hour in hours:
        total += arrival.rate(hour)
        cumulative.append(total)
    out = []
    for i in range(n):
        u = (i + rng.random()) / n * total
        k = bisect.bisect_left(cumulative, u)
        before = cumulative[k - 1] if k else 0.0
        out.append(hours[k] + timedelta(hours=(u - before) / (cumulative[k] - before)))
    return out


def simulated_mean_wait(times: Sequence[datetime], arrived: Sequence[datetime]) -> float:
    return math.fsum((times[bisect.bisect_left(times, t)] - t).total_seconds() for t in arrived) / len(arrived)


@settings(max_examples=30, deadline=None)
@given(weights, powers, st.integers(600, 3000), st.integers(0, 2**32))
def test_sqrt_density_waits_no_longer_than_even_spreading_for_random_patterns(
    w: list[float], power: float, polls: int, seed: int
) -> None:
    """Simulated referrals, drawn from the pattern, each waiting for the next poll.

    From ~600 polls a month (gaps under ~75 min) the polls can follow hour-to-hour changes
    and the √rate density wins; see docs/polling.md for the rare, small losses with fewer polls.
    """
    start, end = NOV_1, DEC_1
    truth = spiky(w, power)
    arrived = arrivals(truth, start, end, 4000, random.Random(seed))
    sqrt_density = polls_of(PollSchedule(truth, BERLIN, start, end, polls), start, end)
    even = polls_of(PollSchedule(EVEN, BERLIN, start, end, polls), start, end)
    assert simulated_mean_wait(sqrt_density, arrived) <= simulated_mean_wait(even, arrived) * 1.001


@settings(max_examples=30, deadline=None)
@given(weights, powers, st.integers(120, 3000))
def test_the_schedule_never_waits_longer_than_even_spreading_in_expectation(
    w: list[float], power: float, polls: int
) -> None:
    """Exact mean waits; with few polls the schedule spreads evenly when that waits less."""
    truth = spiky(w, power)
    schedule = PollSchedule(truth, BERLIN, NOV_1, DEC_1, polls)
    even = PollSchedule(EVEN, BERLIN, NOV_1, DEC_1, polls).mean_wait(truth)
    assert schedule.mean_wait() <= even * (1 + 1e-9)
    if schedule.even:
        assert schedule.polls_between(NOV_1, DEC_1) == pytest.approx(polls)
        # only near the floor can few polls not follow the hours; docs/polling.md §2: from 400 polls
        # (3.3 times the floor) the √ density always won (1.5 times was too tight: 271 polls lost)
        assert polls < 400


def test_near_the_floor_a_few_polls_that_cannot_follow_single_busy_hours_are_spread_evenly() -> None:
    busy = pattern(lambda d, h: h in (3, 11, 19))  # three lone busy hours a day, 8 h apart
    near_floor = PollSchedule(busy, BERLIN, NOV_1, DEC_1, 150)
    assert near_floor.even and near_floor.mean_wait() <= PollSchedule(EVEN, BERLIN, NOV_1, DEC_1, 150).mean_wait(busy)
    assert not PollSchedule(busy, BERLIN, NOV_1, DEC_1, 600).even
