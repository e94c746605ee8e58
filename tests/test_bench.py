"""Keeps the sync benchmark runnable and its incremental runs at the lower bound (calls, not time)."""

from bench.sync_calls import measure


def test_incremental_sync_spends_exactly_the_lower_bound() -> None:
    rows = {label: (calls, lower) for label, calls, lower in measure()}
    assert rows["nothing changed"] == (3, 3)
    calls, lower = rows["10 records changed (6 partners, 4 referrals)"]
    assert calls == lower == 3  # the feed carried the changed cells: no read
    full_calls, full_lower = rows["first full sync"]
    assert full_calls == full_lower + 9  # schema + change feed setup, 3 per base


def test_a_short_month_drives_every_job_and_pushes_each_accepted_referral() -> None:
    from bench.month import run_month, table

    result = run_month(days=3)
    assert result.events["From-partner referral"] == 5
    assert result.latencies and result.not_pushed == 0  # every valid referral reached the CRM
    assert result.polls > 0 and result.change_work > 0 and result.lower_bound > 0
    assert result.calls == result.polls + result.full_sync + result.change_work
    assert result.change_work >= result.lower_bound  # it is a lower bound
    assert "| change work ÷ lower bound |" in table(result)


def test_a_timer_wakes_on_its_grid() -> None:
    from datetime import datetime, timezone

    from bench.month import on_grid

    at = datetime(2026, 11, 3, 10, 31, tzinfo=timezone.utc)
    assert on_grid(at, 30) == at.replace(hour=11, minute=0)
    assert on_grid(at.replace(minute=30), 30) == at.replace(minute=30)  # on the grid already
    assert on_grid(at.replace(hour=23, minute=45), 30) == datetime(2026, 11, 4, tzinfo=timezone.utc)
