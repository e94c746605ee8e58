"""Keeps the sync benchmark runnable and its incremental runs at the lower bound (calls, not time)."""

from bench.sync_calls import measure


def test_incremental_sync_spends_exactly_the_lower_bound() -> None:
    rows = {label: (calls, lower) for label, calls, lower in measure()}
    assert rows["nothing changed"] == (3, 3)
    calls, lower = rows["10 records changed (6 partners, 4 referrals)"]
    assert calls == lower == 5
    full_calls, full_lower = rows["first full sync"]
    assert full_calls == full_lower + 9  # schema + change feed setup, 3 per base
