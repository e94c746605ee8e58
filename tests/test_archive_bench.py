"""Keeps the archive benchmark runnable and its clean run at the lower bound (calls, not time)."""

from pathlib import Path

from bench.archive import ARCHIVED, clean


def test_archiving_300_records_costs_exactly_one_delete_call_per_10(tmp_path: Path) -> None:
    row = clean(tmp_path)
    assert row.archive_calls == row.lower_bound == 30
    assert row.sync_calls == 3  # one change-feed poll per base before it
    assert row.archived == row.in_file == ARCHIVED
