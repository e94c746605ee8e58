"""The paths and request bodies the HubSpot client sends, against the fake HubSpot that checks them.

The fake refuses any body that does not match HubSpot's published request schema with HubSpot's
400 VALIDATION_ERROR answer (see tests/fakes/hubspot/schemas.py), so every flow in these tests
doubles as a schema check; the bad-body cases show the fake does refuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from integrations.hubspot import DEFAULT_API_VERSION, DealAmount, HubSpotClient, HubSpotError
from jobs.apply.crm_targets import DEAL_PROPERTIES, REFERRAL_ID_PROPERTY
from jobs.settings import Settings, load_settings
from tests.fakes.hubspot import FakeHubSpot, ManualClock

TOKEN = "pat-na1-fake"
ID = r"\d+"

#: The calls one referral push, its attribution check, the read-back and `check` make, as
#: (method, path pattern) — each path as HubSpot publishes it for that version.
DATED_CALLS = {
    ("GET", "/crm/properties/2026-09/deals"),
    ("GET", "/crm/properties/2026-09/deals/groups"),
    ("POST", "/crm/properties/2026-09/deals/groups"),
    ("POST", "/crm/properties/2026-09/deals"),
    ("GET", "/crm/pipelines/2026-09/deals"),
    ("POST", "/crm/objects/2026-09/companies/search"),
    ("POST", "/crm/objects/2026-09/contacts/search"),
    ("POST", "/crm/associations/2026-09/companies/deals/batch/read"),
    ("POST", "/crm/associations/2026-09/contacts/deals/batch/read"),
    ("POST", "/crm/objects/2026-09/deals/batch/read"),
    ("POST", "/crm/objects/2026-09/deals/batch/upsert"),
    ("POST", "/crm/objects/2026-09/contacts/batch/upsert"),
    ("PUT", f"/crm/objects/2026-09/deals/{ID}/associations/default/contacts/{ID}"),
    ("POST", "/crm/objects/2026-09/deals/search"),
    ("GET", "/crm/objects/2026-09/deals"),
    ("GET", "/crm/objects/2026-09/contacts"),
    ("GET", "/crm/objects/2026-09/companies"),
    ("GET", "/account-info/2026-09/details"),
}


def _legacy(path: str) -> str:
    """The v3 path HubSpot publishes for a dated one (associations only exist as /crm/v4/)."""
    if "/associations/" in path:
        return re.sub(r"^/crm/(objects|associations)/2026-09/", r"/crm/v4/\1/", path)
    if path.startswith("/account-info/"):
        return path.replace("/2026-09/", "/v3/")
    return re.sub(r"^/crm/(objects|properties|pipelines)/2026-09/", r"/crm/v3/\1/", path)


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(TOKEN, now=ManualClock()) as server:
        yield server


def client_for(fake: FakeHubSpot, version: str | None) -> HubSpotClient:
    if version is None:
        return HubSpotClient(TOKEN, api_url=fake.url, timeout=(2, 5), sleep=lambda _s: None)
    return HubSpotClient(TOKEN, api_url=fake.url, api_version=version, timeout=(2, 5), sleep=lambda _s: None)


def full_flow(client: HubSpotClient, fake: FakeHubSpot) -> None:
    """What the jobs do with HubSpot: setup, attribution, push, read-back, check."""
    company = fake.add_object("companies", {"name": "Acme", "domain": "acme.example"})
    contact = fake.add_object("contacts", {"email": "jo@acme.example"})
    old = fake.add_object("deals", {"dealname": "old", "pipeline": "default", "dealstage": "closedwon"})
    fake.associate("companies", company, "deals", old)
    fake.associate("contacts", contact, "deals", old)
    assert client.ensure_deal_properties(DEAL_PROPERTIES)
    assert client.open_deal_exists("acme.example", "jo@acme.example") is False
    pipeline, stage = client.first_stage()
    deal = {REFERRAL_ID_PROPERTY: "rec1", "dealname": "Acme referral", "amount": 1200, "partnerops_partner": None}
    result = client.upsert_deals([deal], REFERRAL_ID_PROPERTY, create_only={"pipeline": pipeline, "dealstage": stage})
    deal_id = str(result["rec1"].id)
    client.associate_deal_contact(deal_id, client.upsert_contact("jo@acme.example", {"firstname": "Jo"}))
    (found,) = client.deals_modified_since(fake.now(), REFERRAL_ID_PROPERTY, ["dealstage", "amount"])
    assert found["id"] == deal_id and found["properties"]["amount"] == "1200"
    assert client.deal_amount(found) == DealAmount(Decimal(1200), "USD")
    assert client.check_access() == []


def calls_made(fake: FakeHubSpot) -> set[tuple[str, str]]:
    return {(c.method, c.path) for c in fake.requests}


def matches(made: set[tuple[str, str]], expected: set[tuple[str, str]]) -> bool:
    patterns = [(m, re.compile(f"^{p}$")) for m, p in expected]
    every_call_known = all(any(m == em and p.match(path) for em, p in patterns) for m, path in made)
    every_pattern_used = all(any(m == em and p.match(path) for m, path in made) for em, p in patterns)
    return every_call_known and every_pattern_used


# the default --------------------------------------------------------------------------------------


def test_the_dated_api_is_the_default() -> None:
    assert DEFAULT_API_VERSION == "2026-09"
    assert HubSpotClient("t").api_version == "2026-09"
    assert Settings().hubspot_api_version == "2026-09"
    assert load_settings({"HUBSPOT_TOKEN": "pat-na1-x"}, None).hubspot_api_version == "2026-09"
    assert load_settings({"HUBSPOT_TOKEN": "pat-na1-x", "HUBSPOT_API_VERSION": "v3"}, None).hubspot_api_version == "v3"


def test_every_call_is_dated_by_default_and_every_body_is_accepted(fake: FakeHubSpot) -> None:
    full_flow(client_for(fake, None), fake)
    refused = [(c.path, c.body) for c in fake.requests if c.status == 400]
    assert refused == []  # (a 404 is HubSpot's answer to a batch read that finds nothing)
    assert matches(calls_made(fake), DATED_CALLS), sorted(calls_made(fake))


def test_v3_on_request_uses_the_legacy_paths(fake: FakeHubSpot) -> None:
    full_flow(client_for(fake, "v3"), fake)
    assert [c.path for c in fake.requests if c.status == 400] == []
    expected = {(m, _legacy(p)) for m, p in DATED_CALLS}
    assert matches(calls_made(fake), expected), sorted(calls_made(fake))
    assert not any("2026-09" in path for _m, path in calls_made(fake))


def test_path_helper_for_every_family() -> None:
    dated, v3 = HubSpotClient("t"), HubSpotClient("t", api_version="v3")
    assert dated.path("objects", "deals/batch/upsert") == "/crm/objects/2026-09/deals/batch/upsert"
    assert dated.path("properties", "deals/groups") == "/crm/properties/2026-09/deals/groups"
    assert dated.path("pipelines", "deals") == "/crm/pipelines/2026-09/deals"
    assert dated.path("associations", "contacts/deals/batch/read") == (
        "/crm/associations/2026-09/contacts/deals/batch/read"
    )
    assert dated.path("objects", "deals/1/associations/default/contacts/2") == (
        "/crm/objects/2026-09/deals/1/associations/default/contacts/2"
    )
    assert dated.path("account-info", "details") == "/account-info/2026-09/details"
    assert v3.path("account-info", "details") == "/account-info/v3/details"
    assert v3.path("associations", "contacts/deals/batch/read") == "/crm/v4/associations/contacts/deals/batch/read"
    with pytest.raises(ValueError):
        dated.path("settings", "x")
    with pytest.raises(ValueError):
        HubSpotClient("t", api_version="v5")


# bodies the client builds -------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2026-09", "v3"])
def test_enumeration_options_carry_display_order_and_hidden(fake: FakeHubSpot, version: str) -> None:
    client = client_for(fake, version)
    options = [{"label": "Sourced", "value": "Sourced"}, {"label": "Influenced", "value": "Influenced"}]
    prop = {"name": "partnerops_attribution", "label": "Attribution", "type": "enumeration", "fieldType": "select"}
    assert client.ensure_deal_properties([{**prop, "options": options}]) == ["partnerops_attribution"]
    stored = fake.deal_properties()["partnerops_attribution"]["options"]
    assert stored == [
        {"label": "Sourced", "value": "Sourced", "displayOrder": 0, "hidden": False},
        {"label": "Influenced", "value": "Influenced", "displayOrder": 1, "hidden": False},
    ]


def test_property_values_are_sent_as_strings(fake: FakeHubSpot) -> None:
    client = client_for(fake, None)
    client.ensure_deal_properties(DEAL_PROPERTIES)
    deal = {REFERRAL_ID_PROPERTY: "rec1", "dealname": "x", "amount": 99.5, "partnerops_partner": None}
    pipeline, stage = client.first_stage()
    assert client.upsert_deals([deal], REFERRAL_ID_PROPERTY, create_only={"pipeline": pipeline, "dealstage": stage})[
        "rec1"
    ].ok
    (made,) = fake.deals()
    assert made["properties"]["amount"] == "99.5" and made["properties"]["partnerops_partner"] == ""


def test_a_definition_without_a_required_field_is_refused_before_sending(fake: FakeHubSpot) -> None:
    with pytest.raises(ValueError, match="fieldType"):
        client_for(fake, None).ensure_deal_properties([{"name": "x", "label": "X", "type": "string"}])


# bodies the fake refuses --------------------------------------------------------------------------

UPSERT_OK = {"id": "rec1", "idProperty": "email", "properties": {"email": "a@b.example"}}
SEARCH_OK = {"filterGroups": [], "sorts": [], "properties": [], "limit": 10, "after": "0"}
OPTION = {"label": "A", "value": "a", "hidden": False}
PROPERTY = {"name": "p", "label": "P", "type": "enumeration", "fieldType": "select", "groupName": "dealinformation"}

# (case, version or None for both, method, family, rest, body, where, code)
BAD_BODIES: list[tuple[str, str | None, str, str, str, Any, str, str]] = [
    ("option without displayOrder", "2026-09", "POST", "properties", "deals", {**PROPERTY, "options": [OPTION]},
     "options[0].displayOrder", "REQUIRED_FIELD"),
    ("option without hidden", None, "POST", "properties", "deals",
     {**PROPERTY, "options": [{"label": "A", "value": "a", "displayOrder": 0}]}, "options[0].hidden", "REQUIRED_FIELD"),
    ("property without groupName", None, "POST", "properties", "deals",
     {k: v for k, v in PROPERTY.items() if k != "groupName"}, "groupName", "REQUIRED_FIELD"),
    ("property type not HubSpot's", None, "POST", "properties", "deals", {**PROPERTY, "type": "text"},
     "type", "INVALID_OPTION"),
    ("hasUniqueValue as text", None, "POST", "properties", "deals", {**PROPERTY, "hasUniqueValue": "true"},
     "hasUniqueValue", "INVALID_TYPE"),
    ("group without label", None, "POST", "properties", "deals/groups", {"name": "g"}, "label", "REQUIRED_FIELD"),
    ("upsert without id", None, "POST", "objects", "contacts/batch/upsert",
     {"inputs": [{"idProperty": "email", "properties": {}}]}, "inputs[0].id", "REQUIRED_FIELD"),
    ("upsert value not a string", None, "POST", "objects", "contacts/batch/upsert",
     {"inputs": [{**UPSERT_OK, "properties": {"email": "a@b.example", "age": 3}}]}, "inputs[0].properties.age",
     "INVALID_TYPE"),
    ("upsert field misspelt", None, "POST", "objects", "contacts/batch/upsert",
     {"inputs": [{**UPSERT_OK, "idproperty": "email"}]}, "inputs[0].idproperty", "UNKNOWN_FIELD"),
    ("batch read without propertiesWithHistory", None, "POST", "objects", "deals/batch/read",
     {"inputs": [{"id": "1"}], "properties": []}, "propertiesWithHistory", "REQUIRED_FIELD"),
    ("search without after", None, "POST", "objects", "deals/search",
     {k: v for k, v in SEARCH_OK.items() if k != "after"}, "after", "REQUIRED_FIELD"),
    ("search sort as a string", None, "POST", "objects", "deals/search", {**SEARCH_OK, "sorts": ["createdate"]},
     "sorts[0]", "INVALID_TYPE"),
    ("search operator not HubSpot's", None, "POST", "objects", "deals/search",
     {**SEARCH_OK, "filterGroups": [{"filters": [{"propertyName": "amount", "operator": "EQUALS", "value": "1"}]}]},
     "filterGroups[0].filters[0].operator", "INVALID_OPTION"),
    ("search limit as text", None, "POST", "objects", "deals/search", {**SEARCH_OK, "limit": "10"},
     "limit", "INVALID_TYPE"),
    ("create without associations", None, "POST", "objects", "contacts", {"properties": {"email": "a@b.example"}},
     "associations", "REQUIRED_FIELD"),
    ("association read with a numeric id", None, "POST", "associations", "contacts/deals/batch/read",
     {"inputs": [{"id": 1}]}, "inputs[0].id", "INVALID_TYPE"),
    ("association PUT with a body", None, "PUT", "objects", "deals/1/associations/default/contacts/2", {"x": 1},
     "", "UNEXPECTED_BODY"),
]  # fmt: skip


@pytest.mark.parametrize("version", ["2026-09", "v3"])
@pytest.mark.parametrize(
    ("case", "only", "method", "family", "rest", "body", "where", "code"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_a_bad_body_gets_hubspots_400(
    fake: FakeHubSpot,
    version: str,
    case: str,
    only: str | None,
    method: str,
    family: str,
    rest: str,
    body: Any,
    where: str,
    code: str,
) -> None:
    if only is not None and only != version:
        pytest.skip(f"{case}: a rule of {only} only")
    client = client_for(fake, version)
    with pytest.raises(HubSpotError) as caught:
        client.request(method, client.path(family, rest), json=body)
    err = caught.value
    assert (err.status, err.code) == (400, "VALIDATION_ERROR") and not err.retryable
    assert err.message.startswith("Invalid input JSON:") and err.correlation_id
    assert {"message", "code", "in", "context"} <= set(err.details[0])
    assert (err.details[0]["in"], err.details[0]["code"]) == (where, code), err.details
    assert err.body["status"] == "error" and err.body["category"] == "VALIDATION_ERROR"
    assert fake.deals() == [] and fake.contacts() == []


def test_v3_options_may_leave_out_display_order(fake: FakeHubSpot) -> None:
    client = client_for(fake, "v3")
    client.request("POST", client.path("properties", "deals"), json={**PROPERTY, "options": [OPTION]})
    assert fake.deal_properties()["p"]["options"] == [OPTION]
