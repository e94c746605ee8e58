"""HubSpotClient against the fake HubSpot over real HTTP (loopback), on both API path families."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from integrations import hubspot
from integrations.errors import ServiceError
from integrations.hubspot import DealAmount, HubSpotClient, HubSpotError
from tests.fakes.hubspot import FakeHubSpot, ManualClock

TOKEN = "pat-na1-fake"
REF = "partnerops_referral_id"
PROPS: list[dict[str, Any]] = [
    {"name": REF, "label": "Partner referral ID", "type": "string", "fieldType": "text", "hasUniqueValue": True},
    {"name": "partnerops_partner", "label": "Referring partner", "type": "string", "fieldType": "text"},
]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeHubSpot]:
    with FakeHubSpot(TOKEN, now=clock) as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture(params=["v3", "2026-09"])
def client(request: pytest.FixtureRequest, fake: FakeHubSpot, sleeps: list[float]) -> HubSpotClient:
    return HubSpotClient(TOKEN, api_url=fake.url, api_version=request.param, timeout=(2, 5), sleep=sleeps.append)


@pytest.fixture
def ready(client: HubSpotClient) -> HubSpotClient:
    client.ensure_deal_properties(PROPS)
    return client


def deal(ref: str, name: str = "Acme – referral", **extra: Any) -> dict[str, Any]:
    return {REF: ref, "dealname": name, **extra}


def push(client: HubSpotClient, deals: list[dict[str, Any]]) -> dict[str, hubspot.UpsertResult]:
    pipeline, stage = client.first_stage()
    return client.upsert_deals(deals, REF, create_only={"pipeline": pipeline, "dealstage": stage})


# paths ---------------------------------------------------------------------------------------


def test_path_helper_builds_both_families() -> None:
    v3 = HubSpotClient("t", api_version="v3")
    dated = HubSpotClient("t", api_version="2026-09")
    assert v3.path("objects", "deals/batch/upsert") == "/crm/v3/objects/deals/batch/upsert"
    assert dated.path("objects", "deals/batch/upsert") == "/crm/objects/2026-09/deals/batch/upsert"
    assert v3.path("pipelines", "deals") == "/crm/v3/pipelines/deals"
    assert dated.path("properties", "deals") == "/crm/properties/2026-09/deals"
    assert v3.path("associations", "contacts/deals/batch/read") == "/crm/v4/associations/contacts/deals/batch/read"
    assert dated.path("associations", "x/y/batch/read") == "/crm/associations/2026-09/x/y/batch/read"
    assert v3.path("objects", "deals/1/associations/default/contacts/2") == (
        "/crm/v4/objects/deals/1/associations/default/contacts/2"
    )
    with pytest.raises(ValueError):
        HubSpotClient("t", api_version="v5")


def test_calls_use_the_configured_path_family(ready: HubSpotClient, fake: FakeHubSpot) -> None:
    push(ready, [deal("rec1")])
    if ready.api_version == "v3":
        assert fake.calls("/crm/v3/objects/deals/batch/upsert") == 1
        assert fake.calls("/2026-09/") == 0
    else:
        assert fake.calls("/crm/objects/2026-09/deals/batch/upsert") == 1
        assert fake.calls("/crm/v3/") == fake.calls("/crm/v4/") == 0


# properties ------------------------------------------------------------------------------------


def test_property_setup_is_idempotent(client: HubSpotClient, fake: FakeHubSpot) -> None:
    assert client.ensure_deal_properties(PROPS) == [REF, "partnerops_partner"]
    defs = fake.deal_properties()
    assert defs[REF]["hasUniqueValue"] is True
    assert defs[REF]["groupName"] == "partnerops"
    fake.reset_calls()
    assert client.ensure_deal_properties(PROPS) == []
    assert fake.calls("") == 1  # one GET of the property list


def test_property_create_whose_answer_was_lost_counts_as_done(client: HubSpotClient, fake: FakeHubSpot) -> None:
    fake.fail_next("deals/groups", 502, after_apply=True, method="POST")
    assert client.ensure_deal_properties([PROPS[1]]) == ["partnerops_partner"]
    fake.fail_next("/properties/", 0, after_apply=True, drop=True, method="POST")
    fake.reset_calls()
    assert client.ensure_deal_properties(PROPS) == []  # created, but the repeat answered 409
    assert fake.deal_properties()[REF]["hasUniqueValue"] is True
    assert fake.calls("/properties/", method="POST") == 2


def test_existing_non_unique_key_property_is_refused(client: HubSpotClient) -> None:
    client.ensure_deal_properties([{**PROPS[0], "hasUniqueValue": False}])
    with pytest.raises(HubSpotError) as err:
        client.ensure_deal_properties(PROPS)
    assert "not unique" in err.value.message


# deals -----------------------------------------------------------------------------------------


def test_repeated_push_updates_the_same_deal(ready: HubSpotClient, fake: FakeHubSpot) -> None:
    first = push(ready, [deal("rec1", amount="100")])["rec1"]
    assert first.ok and first.new is True
    fake.set_stage(str(first.id), "qualifiedtobuy")
    again = push(ready, [deal("rec1", name="Acme (renamed)", amount="200")])["rec1"]
    assert again.ok and again.new is False and again.id == first.id
    (only,) = fake.deals()
    assert only["properties"]["dealname"] == "Acme (renamed)"
    assert only["properties"]["dealstage"] == "qualifiedtobuy"  # create-only stage not re-applied


def test_lost_answer_raises_outcome_unknown_and_a_repeat_makes_no_second_deal(
    ready: HubSpotClient, fake: FakeHubSpot
) -> None:
    fake.fail_next("deals/batch/upsert", 0, after_apply=True, drop=True)  # applied, then the line drops
    with pytest.raises(HubSpotError) as err:
        push(ready, [deal("rec1")])
    assert err.value.outcome_unknown and err.value.status == 0 and err.value.retryable
    assert fake.calls("deals/batch/upsert") == 1  # a write is never repeated by the client itself
    assert len(fake.deals()) == 1
    # the caller repeats it (upserts by the unique property are safe to repeat): still one deal
    again = push(ready, [deal("rec1")])["rec1"]
    assert again.ok and again.new is False
    assert len(fake.deals()) == 1


def test_plain_create_of_a_duplicate_unique_value_conflicts(ready: HubSpotClient, fake: FakeHubSpot) -> None:
    push(ready, [deal("rec1")])
    props = {REF: "rec1", "dealname": "x", "dealstage": "appointmentscheduled", "pipeline": "default"}
    with pytest.raises(HubSpotError) as err:
        ready.request("POST", ready.path("objects", "deals"), json={"properties": props, "associations": []})
    assert err.value.status == 409 and err.value.code == "CONFLICT"
    assert len(fake.deals()) == 1


def test_partial_failure_isolates_the_bad_item(ready: HubSpotClient, fake: FakeHubSpot) -> None:
    results = push(ready, [deal("rec1"), deal("rec2", no_such_property="x"), deal("rec3")])
    assert results["rec1"].ok and results["rec3"].ok
    bad = results["rec2"]
    assert bad.error is not None and bad.id is None
    assert bad.error.code == "VALIDATION_ERROR"
    assert bad.error.codes == ["PROPERTY_DOESNT_EXIST"]
    assert sorted(d["properties"][REF] for d in fake.deals()) == ["rec1", "rec3"]


def test_whole_batch_refusal_is_not_bisected_to_the_end(ready: HubSpotClient, fake: FakeHubSpot) -> None:
    results = ready.upsert_deals([deal(f"rec{i}", name=f"d{i}") for i in range(8)], "dealname")
    assert all(r.error is not None and "non-unique" in r.error.message for r in results.values())
    assert fake.calls("deals/batch/upsert") == 3  # the batch, then its two halves, then stop


def test_more_than_a_hundred_deals_go_in_batches(ready: HubSpotClient, fake: FakeHubSpot) -> None:
    results = push(ready, [deal(f"rec{i}") for i in range(150)])
    assert all(r.ok for r in results.values()) and len(results) == 150
    assert fake.calls("deals/batch/upsert") == 2
    inputs = [{"id": f"x{i}", "idProperty": REF, "properties": {}} for i in range(101)]
    with pytest.raises(HubSpotError) as err:
        ready.request("POST", ready.path("objects", "deals/batch/upsert"), json={"inputs": inputs})
    assert err.value.status == 400 and err.value.code == "VALIDATION_ERROR"


# contacts & associations -------------------------------------------------------------------------


def test_duplicate_contact_gets_the_same_id(client: HubSpotClient, fake: FakeHubSpot) -> None:
    existing = fake.add_object("contacts", {"email": "jo@acme.example", "firstname": "Jo"})
    assert client.upsert_contact("jo@acme.example", {"lastname": "Doe"}) == existing
    assert client.upsert_contact("jo@acme.example", {"lastname": "Doe"}) == existing
    assert len(fake.contacts()) == 1
    new_id = client.upsert_contact("ann@beta.example", {"firstname": "Ann"})
    assert new_id != existing and len(fake.contacts()) == 2


def test_contact_conflict_answer_yields_the_existing_id(client: HubSpotClient, fake: FakeHubSpot) -> None:
    body = {
        "status": "error",
        "message": "Contact already exists. Existing ID: 777",
        "correlationId": "c-1",
        "category": "CONFLICT",
    }
    fake.fail_next("contacts/batch/upsert", 409, body)
    assert client.upsert_contact("jo@acme.example", {}) == "777"
    # and the fake's own create path answers the same way
    cid = client.upsert_contact("jo@acme.example", {})
    body = {"properties": {"email": "jo@acme.example"}, "associations": []}
    with pytest.raises(HubSpotError) as err:
        client.request("POST", client.path("objects", "contacts"), json=body)
    assert err.value.status == 409 and f"Existing ID: {cid}" in err.value.message


def test_association_is_idempotent(ready: HubSpotClient, fake: FakeHubSpot) -> None:
    deal_id = str(push(ready, [deal("rec1")])["rec1"].id)
    contact_id = ready.upsert_contact("jo@acme.example", {})
    ready.associate_deal_contact(deal_id, contact_id)
    ready.associate_deal_contact(deal_id, contact_id)
    assert fake.associations("deals", deal_id, "contacts") == [contact_id]


def test_open_deal_exists(ready: HubSpotClient, fake: FakeHubSpot) -> None:
    assert ready.open_deal_exists("acme.example", "jo@acme.example") is False
    company = fake.add_object("companies", {"name": "Acme", "domain": "acme.example"})
    contact = fake.add_object("contacts", {"email": "jo@beta.example"})
    won = fake.add_object("deals", {"dealname": "old", "pipeline": "default", "dealstage": "closedwon"})
    fake.associate("contacts", contact, "deals", won)
    assert ready.open_deal_exists(None, "jo@beta.example") is False  # only a closed deal
    open_deal = fake.add_object("deals", {"dealname": "new", "pipeline": "default", "dealstage": "contractsent"})
    fake.associate("companies", company, "deals", open_deal)
    fake.reset_calls()
    assert ready.open_deal_exists("ACME.example", None) is True
    assert fake.calls("") <= 5
    assert ready.open_deal_exists(None, None) is False


# rate limits & errors -----------------------------------------------------------------------------


def test_429_waits_then_succeeds(ready: HubSpotClient, fake: FakeHubSpot, sleeps: list[float]) -> None:
    fake.fail_next("deals/batch/upsert", 429)  # Retry-After: 1
    fake.fail_next(
        "deals/batch/upsert",
        429,
        headers={"X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
    )
    assert push(ready, [deal("rec1")])["rec1"].ok
    assert sleeps == [1.0, 10.0]
    assert len(fake.deals()) == 1


def test_429_is_bounded(client: HubSpotClient, fake: FakeHubSpot, sleeps: list[float]) -> None:
    fake.fail_next("pipelines", 429, times=5)
    with pytest.raises(HubSpotError) as err:
        client.first_stage()
    assert err.value.status == 429 and err.value.code == "RATE_LIMITS"
    assert fake.calls("pipelines") == hubspot.RATE_LIMIT_TRIES
    assert len(sleeps) == hubspot.RATE_LIMIT_TRIES - 1


def test_daily_limit_is_not_waited_for(client: HubSpotClient, fake: FakeHubSpot, sleeps: list[float]) -> None:
    body = {"status": "error", "message": "daily limit", "category": "RATE_LIMITS", "policyName": "DAILY"}
    fake.fail_next("pipelines", 429, body, headers={})
    with pytest.raises(HubSpotError):
        client.first_stage()
    assert sleeps == []


@pytest.mark.parametrize(
    ("path", "call"),
    [
        ("pipelines", lambda c: c.first_stage()),
        ("contacts/search", lambda c: c.open_deal_exists(None, "jo@acme.example")),
        ("properties", lambda c: c.ensure_deal_properties(PROPS)),
    ],
    ids=["get", "search", "properties"],
)
def test_a_read_is_repeated_after_a_5xx_or_a_lost_answer(
    client: HubSpotClient, fake: FakeHubSpot, sleeps: list[float], path: str, call: Callable[[HubSpotClient], object]
) -> None:
    fake.fail_next(path, 503, method="GET" if path != "contacts/search" else "POST")
    fake.fail_next(path, 0, drop=True, method="GET" if path != "contacts/search" else "POST")
    call(client)
    assert sleeps == [1.0, 4.0]  # backed off twice, then answered
    assert fake.calls(path) >= hubspot.SERVER_ERROR_TRIES


def test_a_read_that_keeps_failing_is_not_an_unknown_outcome(client: HubSpotClient, fake: FakeHubSpot) -> None:
    fake.fail_next("pipelines", 503, times=hubspot.SERVER_ERROR_TRIES)
    with pytest.raises(HubSpotError) as err:
        client.first_stage()
    assert err.value.status == 503 and err.value.retryable and not err.value.outcome_unknown
    assert fake.calls("pipelines") == hubspot.SERVER_ERROR_TRIES


def test_a_plain_create_is_never_repeated(client: HubSpotClient, fake: FakeHubSpot) -> None:
    fake.fail_next("objects", 503, method="POST")
    body = {"properties": {"email": "jo@acme.example"}, "associations": []}
    with pytest.raises(HubSpotError) as err:
        client.request("POST", client.path("objects", "contacts"), json=body)
    assert err.value.status == 503 and err.value.outcome_unknown  # HubSpot may have applied it
    assert fake.calls("contacts", method="POST") == 1 and fake.contacts() == []


# writes whose answer was lost ------------------------------------------------------------------


def test_contact_upsert_whose_answer_was_lost(client: HubSpotClient, fake: FakeHubSpot) -> None:
    fake.fail_next("contacts/batch/upsert", 0, after_apply=True, drop=True)
    with pytest.raises(HubSpotError) as err:
        client.upsert_contact("jo@acme.example", {"firstname": "Jo"})
    assert err.value.outcome_unknown and err.value.status == 0 and err.value.code == "NETWORK"
    assert fake.calls("contacts/batch/upsert") == 1
    (made,) = fake.contacts()  # applied
    assert client.upsert_contact("jo@acme.example", {"firstname": "Jo"}) == made["id"]  # the repeat finds it
    assert len(fake.contacts()) == 1


@pytest.mark.parametrize("status", [0, 502])
def test_association_whose_answer_was_lost(ready: HubSpotClient, fake: FakeHubSpot, status: int) -> None:
    deal_id = str(push(ready, [deal("rec1")])["rec1"].id)
    contact_id = ready.upsert_contact("jo@acme.example", {})
    fake.fail_next("/associations/default/", status, after_apply=True, drop=status == 0, method="PUT")
    with pytest.raises(HubSpotError) as err:
        ready.associate_deal_contact(deal_id, contact_id)
    assert err.value.outcome_unknown and err.value.status == status and err.value.retryable
    assert fake.calls("/associations/default/") == 1
    assert fake.associations("deals", deal_id, "contacts") == [contact_id]  # applied
    ready.associate_deal_contact(deal_id, contact_id)  # the repeat is harmless
    assert fake.associations("deals", deal_id, "contacts") == [contact_id]
    assert fake.associations("contacts", contact_id, "deals") == [deal_id]


def test_deal_upsert_refused_with_a_5xx_is_an_unknown_outcome(ready: HubSpotClient, fake: FakeHubSpot) -> None:
    fake.fail_next("deals/batch/upsert", 503)  # not applied, but the client cannot know that
    with pytest.raises(HubSpotError) as err:
        push(ready, [deal("rec1"), deal("rec2")])
    assert err.value.outcome_unknown and err.value.status == 503
    assert fake.calls("deals/batch/upsert") == 1 and fake.deals() == []
    assert all(r.ok for r in push(ready, [deal("rec1"), deal("rec2")]).values())
    assert len(fake.deals()) == 2


# errors ------------------------------------------------------------------------------------------


def test_hubspot_error_is_a_service_error(client: HubSpotClient, fake: FakeHubSpot) -> None:
    body = {"status": "error", "message": "Property values were not valid", "category": "VALIDATION_ERROR"}
    fake.fail_next("pipelines", 400, {**body, "correlationId": "c-42", "errors": [{"message": "x", "code": "BAD"}]})
    with pytest.raises(ServiceError) as caught:
        client.first_stage()
    err = caught.value
    assert isinstance(err, HubSpotError)
    assert (err.status, err.code, err.message) == (400, "VALIDATION_ERROR", "Property values were not valid")
    assert err.correlation_id == "c-42" and err.codes == ["BAD"] and err.body["category"] == "VALIDATION_ERROR"
    assert err.url.endswith(client.path("pipelines", "deals")) and "?" not in err.url
    assert not err.retryable and not err.outcome_unknown
    assert "HubSpot VALIDATION_ERROR (HTTP 400)" in str(err) and "c-42" in str(err)


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [(400, "VALIDATION_ERROR", False), (409, "CONFLICT", False), (403, "MISSING_SCOPES", False),
     (429, "RATE_LIMITS", True), (423, "LOCKED", True), (477, "MIGRATION", True), (502, "UNKNOWN", True)],
)  # fmt: skip
def test_retryable_follows_the_status(status: int, code: str, retryable: bool) -> None:
    assert HubSpotError(status, code, "m").retryable is retryable
    assert HubSpotError(0, "NETWORK", "m", outcome_unknown=True).retryable


def test_bad_token_error_never_shows_the_token(fake: FakeHubSpot) -> None:
    secret = "pat-na1-11111111-2222-3333-4444-555555555555"
    bad = HubSpotClient(secret, api_url=fake.url)
    with pytest.raises(HubSpotError) as err:
        bad.first_stage()
    exc = err.value
    assert exc.status == 401 and exc.code == "INVALID_AUTHENTICATION"
    assert exc.correlation_id
    for text in (str(exc), repr(exc), exc.message, repr(bad)):
        assert secret not in text
    problems = bad.check_access()
    assert len(problems) == 1 and "token rejected" in problems[0] and secret not in problems[0]


def test_check_access_names_missing_scopes(clock: ManualClock) -> None:
    scopes = {"crm.objects.deals.read", "crm.objects.contacts.read", "crm.schemas.deals.read"}
    with FakeHubSpot(TOKEN, now=clock, scopes=scopes) as server:
        problems = HubSpotClient(TOKEN, api_url=server.url).check_access()
        assert len(problems) == 1 and "crm.objects.companies.read" in problems[0]
    with FakeHubSpot(TOKEN, now=clock) as server:
        assert HubSpotClient(TOKEN, api_url=server.url, api_version="2026-09").check_access() == []


# pipelines --------------------------------------------------------------------------------------


def test_first_stage_and_labels_are_discovered(client: HubSpotClient, fake: FakeHubSpot) -> None:
    fake.pipelines.append(
        fake._pipeline(
            "777",
            "Partners",
            1,
            [("won1", "Won", "true", "1.0"), ("intro", "Intro", "false", "0.1"), ("lost1", "Lost", "true", "0.0")],
        )
    )
    fake.pipelines[1]["stages"][1]["displayOrder"] = -1  # "intro" comes first by displayOrder
    assert client.first_stage() == ("default", "appointmentscheduled")
    assert client.first_stage("777") == ("777", "intro")
    labels = client.stage_labels()
    assert labels["closedwon"] == "Closed Won" and labels["intro"] == "Intro"
    assert client.closed_stages() == {"closedwon": "won", "closedlost": "lost", "won1": "won", "lost1": "lost"}
    assert fake.calls("pipelines") == 1  # cached
    with pytest.raises(HubSpotError):
        client.first_stage("nope")


# read-back -------------------------------------------------------------------------------------


def test_deals_modified_since_returns_only_pushed_deals(
    ready: HubSpotClient, fake: FakeHubSpot, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubspot.search, "SEARCH_PAGE_LIMIT", 2)
    ids = {k: str(r.id) for k, r in push(ready, [deal(f"rec{i}") for i in range(8)]).items()}
    foreign = fake.add_object("deals", {"dealname": "sales own", "pipeline": "default", "dealstage": "qualifiedtobuy"})
    since = clock.advance(60)
    moved = ["rec5", "rec1", "rec6", "rec2", "rec7"]
    for ref in moved:
        clock.advance(5)
        fake.set_stage(ids[ref], "contractsent", amount=1000)
    fake.set_stage(foreign, "closedwon")
    changed = ready.deals_modified_since(since - timedelta(seconds=1), REF, ["dealstage", "amount"])
    assert [d["properties"][REF] for d in changed] == moved
    assert all(d["properties"]["dealstage"] == "contractsent" for d in changed)
    assert fake.calls("deals/search") == 3  # 5 results, pages of 2


def test_deals_modified_since_restarts_at_the_search_cap(
    ready: HubSpotClient, fake: FakeHubSpot, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubspot.search, "SEARCH_PAGE_LIMIT", 2)
    monkeypatch.setattr(hubspot.search, "SEARCH_RESULT_CAP", 4)
    fake.search_cap = 4
    start = clock()
    for i in range(7):
        clock.advance(1)
        push(ready, [deal(f"rec{i}")])
    changed = ready.deals_modified_since(start, REF, [])
    assert [d["properties"][REF] for d in changed] == [f"rec{i}" for i in range(7)]


# currency --------------------------------------------------------------------------------------


def test_company_currency_is_read_once_per_client(clock: ManualClock) -> None:
    with FakeHubSpot(TOKEN, now=clock, company_currency="EUR") as server:
        for version, path in (("2026-09", "/account-info/2026-09/details"), ("v3", "/account-info/v3/details")):
            client = HubSpotClient(TOKEN, api_url=server.url, api_version=version)
            assert client.company_currency() == "EUR"
            assert client.company_currency() == "EUR"
            assert server.calls(path) == 1


def test_deals_read_back_carry_their_currency(ready: HubSpotClient, fake: FakeHubSpot, clock: ManualClock) -> None:
    fake.additional_currencies.append("GBP")
    ids = {k: str(r.id) for k, r in push(ready, [deal("rec1"), deal("rec2"), deal("rec3")]).items()}
    since = clock.advance(60)
    clock.advance(1)
    fake.set_stage(ids["rec1"], "closedwon", amount="1200.50", currency="GBP")
    clock.advance(1)
    fake.set_stage(ids["rec2"], "closedwon", amount=900)  # no deal currency: the company's
    clock.advance(1)
    fake.set_stage(ids["rec3"], "closedlost")  # no amount
    changed = {d["properties"][REF]: d for d in ready.deals_modified_since(since, REF, ["dealstage", "amount"])}
    assert changed["rec1"]["properties"]["deal_currency_code"] == "GBP"
    assert ready.deal_currency(changed["rec1"]) == "GBP"
    assert ready.deal_amount(changed["rec1"]) == DealAmount(Decimal("1200.50"), "GBP")
    assert ready.deal_amount(changed["rec2"]) == DealAmount(Decimal("900"), "USD")
    assert ready.deal_amount(changed["rec3"]) is None
    assert fake.calls("/account-info/") == 1  # cached


def test_a_currency_the_account_lacks_is_refused(ready: HubSpotClient) -> None:
    result = push(ready, [deal("rec1", deal_currency_code="BRL")])["rec1"]
    assert result.error is not None and result.error.code == "VALIDATION_ERROR"
    assert not result.error.retryable
