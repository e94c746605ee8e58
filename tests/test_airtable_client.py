"""The Airtable client against the fake Airtable over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.airtable import (
    REQUESTS_PER_SECOND,
    AirtableClient,
    AirtableError,
    BudgetExhausted,
    SlidingWindow,
    parse_error_body,
)
from integrations.http import Clock
from integrations.ledger import CallLedger
from jobs.store.local import LocalStore
from jobs.sync.syncer import Syncer
from tests.conftest import TOKEN, client_clock
from tests.fakes.airtable import FakeAirtable, FakeClock

RATE_BODY = {"error": {"type": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}}


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
    fake: FakeAirtable, client: AirtableClient, base_ids: dict[str, str], clock: FakeClock
) -> None:
    start = clock.time()
    for _ in range(12):
        client.list_records("partners", "Partners")
    statuses = [status for _m, _p, status in fake.requests]
    assert 429 not in statuses
    assert fake.busiest_second(base_ids["partners"]) == REQUESTS_PER_SECOND
    assert clock.time() - start > 2.0  # 12 calls at 5/s need two waits


def test_the_fake_refuses_a_sixth_request_within_a_second(
    fake: FakeAirtable, base_ids: dict[str, str], ledger: CallLedger, clock: FakeClock
) -> None:
    """The fake meters like Airtable; a client whose clock does not wait is refused (proves the meter)."""
    never_waits = Clock(time=clock.time, sleep=lambda _s: None, now=clock.now)
    client = AirtableClient(TOKEN, base_ids, ledger=ledger, allowance=1000, api_url=fake.url, clock=never_waits)
    for _ in range(REQUESTS_PER_SECOND):
        client.list_records("partners", "Partners")
    with pytest.raises(AirtableError) as info:
        client.list_records("partners", "Partners")
    assert (info.value.status, info.value.code) == (429, "RATE_LIMIT_REACHED") and info.value.retryable
    assert [s for _m, _p, s in fake.requests][: REQUESTS_PER_SECOND + 1] == [200] * REQUESTS_PER_SECOND + [429]


class _SteppingClock:
    """Time that moves only when told to (or slept), like the fake's."""

    def __init__(self) -> None:
        self.t = 1_795_000_000.0

    def time(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.t += seconds


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["appA", "appB"]), st.sampled_from([0.0, 0.0, 0.05, 0.2, 0.999, 1.0])), max_size=60
    )
)
def test_sliding_window_never_lets_six_sends_into_one_second(steps: list[tuple[str, float]]) -> None:
    stepping = _SteppingClock()
    limiter = SlidingWindow(Clock(time=stepping.time, sleep=stepping.sleep))
    sent: dict[str, list[float]] = {"appA": [], "appB": []}
    for base, gap in steps:
        stepping.t += gap
        limiter.acquire(base)
        sent[base].append(stepping.t)
    for times in sent.values():
        for i in range(len(times) - REQUESTS_PER_SECOND):
            assert times[i + REQUESTS_PER_SECOND] - times[i] > 1.0  # the 6th is out of any closed 1 s window
    lone = [gap for _b, gap in steps]
    if len(steps) <= REQUESTS_PER_SECOND:
        assert stepping.t - 1_795_000_000.0 == pytest.approx(sum(lone))  # nothing to wait for


def seed_reference_workload(fake: FakeAirtable, ids: dict[str, str]) -> list[str]:
    """250 partners, 150 activities, 600 referrals, 1 circle of 25 members (SPEC §7)."""
    for i in range(250):
        fake.ui_create(ids["partners"], "Partners", {"Name": f"P{i}", "Email": f"p{i}@x.example"})
    for i in range(150):
        fake.ui_create(ids["partners"], "Activities", {"Activity": f"A{i}", "Kind": "Meeting"})
    refs = [
        fake.ui_create(
            ids["referrals"],
            "Referrals",
            {"Referral": f"R{i}", "Direction": "From partner", "Partner Email": f"p{i % 250}@x.example"},
        )
        for i in range(600)
    ]
    circle = fake.ui_create(ids["circles"], "Circles", {"Name": "Top Partners", "Enter Score": 75, "Active": True})
    for i in range(25):
        fake.ui_create(
            ids["circles"], "Members", {"Member": f"m{i}", "Circle": [circle], "Partner Email": f"p{i}@x.example"}
        )
    return refs


def test_a_full_resync_and_30_writes_in_a_burst_meet_no_429(
    fake: FakeAirtable, base_ids: dict[str, str], client: AirtableClient, clock: FakeClock, tmp_path: Path
) -> None:
    refs = seed_reference_workload(fake, base_ids)
    fake.reset_counts()
    start = clock.time()
    reports = Syncer(client, LocalStore(tmp_path / "store.sqlite")).run(clock.now())
    assert [r.mode for r in reports] == ["full"] * 3
    partners = [r.id for r in client.list_records("partners", "Partners", fields=["Email"])]
    for i in range(12):
        client.update("referrals", "Referrals", [(refs[i], {"Sync Notes": f"note {i}"})])
        client.update("partners", "Partners", [(partners[i], {"Health Score": 50 + i})])
    client.create("circles", "Members", [{"Member": f"new{i}"} for i in range(60)])  # 6 calls
    elapsed = clock.time() - start

    assert [s for _m, _p, s in fake.requests if s == 429] == []
    assert {s for _m, _p, s in fake.requests} == {200}
    assert all(fake.busiest_second(base_id) <= REQUESTS_PER_SECOND for base_id in base_ids.values())
    assert fake.calls("PATCH") + fake.calls("POST", "/Members") == 30
    per_base = {key: len(fake.sent_times(base_id)) for key, base_id in base_ids.items()}
    # the busiest base sets the pace: n requests at 5 per second take at least (n - 1) // 5 seconds
    assert elapsed >= (max(per_base.values()) - 1) // REQUESTS_PER_SECOND
    assert elapsed < 2 * max(per_base.values()) / REQUESTS_PER_SECOND + 1


def test_calls_are_filed_under_the_month_of_the_injected_clock(
    fake: FakeAirtable, base_ids: dict[str, str], ledger: CallLedger, clock: FakeClock
) -> None:
    """A client whose clock says December files its calls under 2026-12, whatever the wall clock says."""
    december = datetime(2026, 12, 15, 12, 0, tzinfo=timezone.utc)
    assert clock.now().month == 11  # the fake Airtable (and the wall clock) are in November
    in_december = Clock(time=clock.time, sleep=clock.sleep, now=lambda: december)
    client = AirtableClient(TOKEN, base_ids, ledger=ledger, allowance=1000, api_url=fake.url, clock=in_december)
    client.list_records("partners", "Partners")
    client.create("partners", "Activities", [{"Activity": "Call"}])
    assert ledger.months() == ["2026-12"]
    assert ledger.used(december) == 2
    assert client.remaining() == 998


def test_rate_limit_waits_the_penalty_and_retries(fake: FakeAirtable, client: AirtableClient, clock: FakeClock) -> None:
    body = RATE_BODY
    fake.fail_next(method="GET", status=429, body=body)
    start = clock.time()
    assert client.list_records("partners", "Partners") == []
    assert clock.time() - start >= 30
    assert [s for _m, _p, s in fake.requests] == [429, 200]


def test_rate_limit_gives_up_after_bounded_retries(fake: FakeAirtable, client: AirtableClient) -> None:
    body = RATE_BODY
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
    assert info.value.status == 502 and info.value.outcome_unknown and info.value.retryable
    assert len(fake.records(base_ids["partners"], "Partners")) == 1  # applied once, not repeated


def test_a_create_whose_answer_was_lost_is_not_repeated_and_says_so(
    fake: FakeAirtable, client: AirtableClient, base_ids: dict[str, str]
) -> None:
    fake.fail_next(method="GET", drop=True)
    assert client.list_records("partners", "Partners") == []  # a read is repeated
    fake.fail_next(method="POST", after_apply=True, drop=True)
    with pytest.raises(AirtableError) as info:
        client.create("partners", "Partners", [{"Name": "X", "Email": "x@x.example"}])
    assert (info.value.status, info.value.code, info.value.outcome_unknown) == (0, "NETWORK", True)
    assert "may have been applied" in str(info.value)
    assert len(fake.records(base_ids["partners"], "Partners")) == 1


def test_a_create_that_could_not_connect_is_retried(
    base_ids: dict[str, str], ledger: CallLedger, clock: FakeClock
) -> None:
    with FakeAirtable(TOKEN, clock=clock) as gone:
        url = gone.url  # nothing listens there any more
    client = AirtableClient(TOKEN, base_ids, ledger=ledger, allowance=1000, api_url=url, clock=client_clock(clock))
    with pytest.raises(AirtableError) as info:
        client.create("partners", "Partners", [{"Name": "X"}])
    assert (info.value.status, info.value.outcome_unknown, info.value.retryable) == (0, False, True)
    assert ledger.used(clock.now()) == 3  # tried three times: it never reached Airtable


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
