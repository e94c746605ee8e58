"""Keeps bench.report runnable, and the managers' view free of Airtable calls and small."""

from bench.report import measure, table


def test_the_managers_view_costs_no_airtable_call_and_stays_small() -> None:
    result = measure(runs=1)
    assert result["connections"] == 0
    assert 50_000 < result["html_bytes"] < 400_000
    assert result["blocks"] <= 50 and result["blocks_chars"] < 12_000
    assert "| Airtable calls (network connections opened) | 0 |" in table(result, 1)
