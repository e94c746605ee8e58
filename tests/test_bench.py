"""Keeps the benchmarks runnable: the sync's incremental runs at the lower bound (calls, not time),
and a short month in each mode — both arrival patterns in process, and through the command line."""

import random
from datetime import datetime, timezone

from bench.month import on_grid, run_month, table
from bench.month_table import comparison
from bench.sync_calls import measure
from bench.world import MONTH_START, ZONE, arrival, arrival_pattern, retimed


def test_incremental_sync_spends_exactly_the_lower_bound() -> None:
    rows = {label: (calls, lower) for label, calls, lower in measure()}
    assert rows["nothing changed"] == (3, 3)
    calls, lower = rows["10 records changed (6 partners, 4 referrals)"]
    assert calls == lower == 3  # the feed carried the changed cells: no read
    full_calls, full_lower = rows["first full sync"]
    assert full_calls == full_lower + 9  # schema + change feed setup, 3 per base


def test_a_short_month_drives_every_job_and_pushes_each_accepted_referral() -> None:
    result = run_month(days=3)
    assert result.events["From-partner referral"] == 5
    assert result.latencies and result.not_pushed == 0  # every valid referral reached the CRM
    assert result.at_first_poll == len(result.latencies)  # each by the first poll after it was sent
    assert result.polls > 0 and result.change_work > 0 and result.lower_bound > 0
    assert result.calls == result.polls + result.full_sync + result.change_work
    assert result.change_work >= result.lower_bound  # it is a lower bound
    assert result.expected is not None and 20 < result.expected[0] < 60  # uniform arrivals: ~80-minute gaps
    assert "| change work ÷ lower bound |" in table(result)


def test_working_hours_referrals_are_polled_for_in_working_hours() -> None:
    result = run_month(days=2, arrivals="working")  # Sunday and Monday, 1–2 November
    assert result.latencies and result.at_first_poll == len(result.latencies)
    assert result.expected is not None and result.expected[0] < 20  # the learned habit: polls every ~25 min
    assert "Mon–Fri 08:00–18:00" in comparison([result])


def test_a_short_month_through_the_command_line_spends_what_the_ledger_says() -> None:
    result = run_month(days=0.25, cli=True)  # a `python -m jobs run --once --now …` per wake-up
    assert result.cli and result.ticks >= 2
    assert result.calls == result.polls + result.full_sync + result.change_work > 0
    assert result.at_first_poll == len(result.latencies)


def test_referrals_arrive_by_their_pattern_and_history_is_retimed_within_its_week() -> None:
    rng = random.Random(1)
    for _ in range(50):
        at = arrival("working", MONTH_START, 30, rng).astimezone(ZONE)
        assert at.weekday() < 5 and 8 <= at.hour < 18
    created = datetime(2026, 10, 14, 3, tzinfo=timezone.utc)  # a Wednesday night
    moved = retimed(created, "working", MONTH_START, rng).astimezone(ZONE)
    assert moved.isocalendar()[1] == created.isocalendar()[1] and 8 <= moved.hour < 18
    assert arrival_pattern("uniform").flat and not arrival_pattern("working").flat


def test_a_timer_wakes_on_its_grid() -> None:
    at = datetime(2026, 11, 3, 10, 31, tzinfo=timezone.utc)
    assert on_grid(at, 30) == at.replace(hour=11, minute=0)
    assert on_grid(at.replace(minute=30), 30) == at.replace(minute=30)  # on the grid already
    assert on_grid(at.replace(hour=23, minute=45), 30) == datetime(2026, 11, 4, tzinfo=timezone.utc)
