"""The Airtable client against the fake Airtable over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from integrations.airtable import AirtableClient, AirtableError, BudgetExhausted, parse_error_body
from integrations.ledger import CallLedger
from tests.conftest import TOKEN, client_clock
from tests.fakes.airtable import FakeAirtable, FakeClock


def seed_partners(fake: FakeAirtable, base_id: str, n: int) -> list[str]:
    return [fake.ui_create(base_id, "Partners", {"Name": f"P{i}", "Email": f"p{i}@x.example"}) for i in range(n)]


def test_pagination_reads_100_per_call_and_counts_each(
    fake: FakeAirtable, client: AirtableClient, base_ids: dict[str, str], ledger: CallLedger, clock: FakeClock
) -> None:
    seed_partners(fake, base_ids["partners"], 250)
    records = client.list_records("partners", "Partners", fields=["Name", "Email"])
    assert len(records) == 250
    assert len({r.id for r in records}) == 250
    assert fake.calls("GET") == 3
    assert ledger.used(clock.now()) == 3
    assert ledger.breakdown(clock.now()) == [(base_ids["partners"], "read", 3)]


def test_writes_are_batched_ten_per_call(fake: FakeAirtable, client: AirtableClient, base_ids: dict[str, str]) -> None:
    ids = seed_partners(fake, base_ids["partners"], 25)
    client.update("partners", "Partners", [(i, {"Health Score": 50}) for i in ids])
    assert fake.calls("PATCH") == 3
    assert all(r["fields"]["Health Score"] == 50 for r in fake.records(base_ids["partners"], "Partners"))
    created = client.create("partners", "Activities", [{"Activity": f"A{i}"} for i in range(11)])
    assert len(created) == 11 and fake.calls("POST") == 2


def test_records_by_id_reads_only_those(fake: FakeAirtable, client: AirtableClient, base_ids: dict[str, str]) -> None:
    ids = seed_partners(fake, base_ids["partners"], 30)
    got = client.records_by_id("partners", "Partners", ids[:3], fields=["Email"])
    assert sorted(r.id for r in got) == sorted(ids[:3])
    assert fake.calls("GET") == 1


def test_client_throttles_to_five_requests_a_second(
    fake: FakeAirtable, client: AirtableClient, clock: FakeClock
) -> None:
    start = clock.time()
    for _ in range(12):
        client.list_records("partners", "Partners")
    statuses = [status for _m, _p, status in fake.requests]
    assert 429 not in statuses
    assert clock.time() - start >= 2.0  # 12 calls at 5/s need two waits


def test_rate_limit_waits_the_penalty_and_retries(fake: FakeAirtable, client: AirtableClient, clock: FakeClock) -> None:
    body = {"error": {"type": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}}
    fake.fail_next(method="GET", status=429, body=body)
    start = clock.time()
    assert client.list_records("partners", "Partners") == []
    assert clock.time() - start >= 30
    assert [s for _m, _p, s in fake.requests] == [429, 200]


def test_rate_limit_gives_up_after_bounded_retries(fake: FakeAirtable, client: AirtableClient) -> None:
    body = {"error": {"type": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}}
    fake.fail_next(method="GET", status=429, body=body, times=5)
    with pytest.raises(AirtableError) as info:
        client.list_records("partners", "Partners")
    assert info.value.code == "RATE_LIMIT_REACHED" and info.value.status == 429
    assert len(fake.requests) == 3


def test_monthly_block_stops_every_call_until_next_month(
    fake: FakeAirtable, base_ids: dict[str, str], ledger: CallLedger, clock: FakeClock
) -> None:
    fake.monthly_limit = sum(fake._monthly.values()) + 2  # provisioning spent some already
    client = AirtableClient(TOKEN, base_ids, ledger=ledger, allowance=1000, api_url=fake.url, clock=client_clock(clock))
    client.list_records("partners", "Partners")
    client.list_records("partners", "Partners")
    with pytest.raises(BudgetExhausted) as info:
        client.list_records("partners", "Partners")
    assert info.value.code == "PUBLIC_API_BILLING_LIMIT_EXCEEDED"
    sent = len(fake.requests)
    with pytest.raises(BudgetExhausted):
        client.list_records("referrals", "Referrals")
    assert len(fake.requests) == sent  # not sent at all: no retries, no calls
    clock.advance(timedelta(days=30).total_seconds())
    assert client.list_records("partners", "Partners") == []


def test_own_allowance_is_never_exceeded(
    fake: FakeAirtable, base_ids: dict[str, str], ledger: CallLedger, clock: FakeClock
) -> None:
    client = AirtableClient(TOKEN, base_ids, ledger=ledger, allowance=3, api_url=fake.url, clock=client_clock(clock))
    for _ in range(3):
        client.list_records("partners", "Partners")
    assert not client.can_afford(1)
    with pytest.raises(BudgetExhausted, match="3 of 3 Airtable calls used"):
        client.list_records("partners", "Partners")
    assert len(fake.requests) == 3


def test_server_errors_are_retried_only_when_safe(
    fake: FakeAirtable, client: AirtableClient, base_ids: dict[str, str]
) -> None:
    fake.fail_next(method="GET", status=503, body={"error": {"type": "RETRIABLE_ERROR"}})
    assert client.list_records("partners", "Partners") == []
    fake.fail_next(method="POST", status=502, body={"error": "SERVER_ERROR"}, after_apply=True)
    with pytest.raises(AirtableError) as info:
        client.create("partners", "Partners", [{"Name": "X", "Email": "x@x.example"}])
    assert info.value.status == 502
    assert len(fake.records(base_ids["partners"], "Partners")) == 1  # applied once, not repeated


def test_unknown_field_and_bad_token_errors_carry_airtable_code(
    fake: FakeAirtable, client: AirtableClient, base_ids: dict[str, str], ledger: CallLedger, clock: FakeClock
) -> None:
    with pytest.raises(AirtableError) as info:
        client.list_records("partners", "Partners", fields=["Nope"])
    assert (info.value.status, info.value.code) == (422, "UNKNOWN_FIELD_NAME")
    assert 'Unknown field name: "Nope"' in info.value.message
    bad = AirtableClient(
        "patWRONG.secret-value", base_ids, ledger=ledger, allowance=1000, api_url=fake.url, clock=client_clock(clock)
    )
    with pytest.raises(AirtableError) as info2:
        bad.list_records("partners", "Partners")
    assert info2.value.status == 401
    assert "patWRONG" not in str(info2.value) and TOKEN not in str(info2.value)


def test_all_three_error_body_shapes() -> None:
    assert parse_error_body({"error": "NOT_FOUND"}) == ("NOT_FOUND", "")
    assert parse_error_body({"error": {"type": "INVALID_PERMISSIONS", "message": "no"}}) == (
        "INVALID_PERMISSIONS",
        "no",
    )
    assert parse_error_body({"errors": [{"error": "PUBLIC_API_BILLING_LIMIT_EXCEEDED", "message": "m"}]}) == (
        "PUBLIC_API_BILLING_LIMIT_EXCEEDED",
        "m",
    )
