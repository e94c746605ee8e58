"""Self-test of the fake Airtable server (tests/fakes/airtable.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import requests
from pyairtable import Api
from pyairtable.api.table import Table

from tests.fakes.airtable import FakeAirtable, FakeClock

TOKEN = "patFAKE.token"
START = datetime(2026, 11, 1, 10, 0, 0, tzinfo=timezone.utc)
PARTNERS: list[dict[str, Any]] = [
    {
        "name": "Partners",
        "fields": [
            {"name": "Name", "type": "singleLineText"},
            {"name": "Email", "type": "email"},
            {"name": "Score", "type": "number", "options": {"precision": 0}},
            {"name": "Tier", "type": "singleSelect", "options": {"choices": [{"name": "Gold"}, {"name": "Silver"}]}},
            {"name": "Joined", "type": "date"},
            {"name": "Updated", "type": "lastModifiedTime"},
        ],
    }
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeAirtable]:
    with FakeAirtable(TOKEN, clock=clock, rate_limit=False) as server:
        yield server


@pytest.fixture
def base_id(fake: FakeAirtable) -> str:
    return fake.add_base("Partner program", PARTNERS)


def _table(fake: FakeAirtable, base_id: str) -> Table:
    return Api(TOKEN, endpoint_url=fake.url, retry_strategy=None).table(base_id, "Partners")


def _headers(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _hook(fake: FakeAirtable, base_id: str, **filters: Any) -> str:
    spec = {"options": {"filters": {"dataTypes": ["tableData"], **filters}}}
    url = f"{fake.url}/v0/bases/{base_id}/webhooks"
    resp = requests.post(url, json={"notificationUrl": None, "specification": spec}, headers=_headers())
    assert resp.status_code == 200, resp.text
    assert resp.json()["id"].startswith("ach")
    return str(resp.json()["id"])


def _payloads(fake: FakeAirtable, base_id: str, hook: str, cursor: int) -> dict[str, Any]:
    url = f"{fake.url}/v0/bases/{base_id}/webhooks/{hook}/payloads"
    resp = requests.get(url, params={"cursor": cursor}, headers=_headers())
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_pagination_of_250_records(fake: FakeAirtable, base_id: str) -> None:
    table = _table(fake, base_id)
    for start in range(0, 100, 10):
        fake.ui_create(base_id, "Partners", {"Name": f"p{start}"})
    table.batch_create([{"Name": f"n{i}", "Score": i} for i in range(240)])
    fake.reset_counts()
    records = table.all()
    assert len(records) == 250
    assert fake.calls("GET", "/Partners") == 3
    assert records[0]["fields"]["Name"] == "p0"
    assert all(r["id"].startswith("rec") and len(r["id"]) == 17 for r in records)
    assert records[0]["createdTime"] == "2026-11-01T10:00:00.000Z"
    page = requests.get(f"{fake.url}/v0/{base_id}/Partners", params={"pageSize": 100}, headers=_headers()).json()
    assert len(page["records"]) == 100 and page["offset"].startswith("itr")
    too_big = requests.get(f"{fake.url}/v0/{base_id}/Partners", params={"pageSize": 101}, headers=_headers())
    assert too_big.status_code == 422
    assert too_big.json()["error"]["type"] == "INVALID_REQUEST_UNKNOWN"


def test_list_by_table_id_fields_and_formula(fake: FakeAirtable, base_id: str) -> None:
    ids = [fake.ui_create(base_id, "Partners", {"Name": f"p{i}", "Score": i}) for i in range(5)]
    table = Api(TOKEN, endpoint_url=fake.url, retry_strategy=None).table(base_id, fake.table_id(base_id, "Partners"))
    formula = f"OR(RECORD_ID()='{ids[1]}',RECORD_ID()='{ids[3]}')"
    found = table.all(formula=formula, fields=["Name"])
    assert [r["fields"] for r in found] == [{"Name": "p1"}, {"Name": "p3"}]
    fake.clock.advance(60)
    fake.ui_update(base_id, "Partners", ids[2], {"Score": 42})
    after = "IS_AFTER(LAST_MODIFIED_TIME(),DATETIME_PARSE('2026-11-01T10:00:30.000Z'))"
    assert [r["id"] for r in table.all(formula=after)] == [ids[2]]
    body = {"filterByFormula": f"RECORD_ID()='{ids[4]}'", "fields": ["Score"]}
    resp = requests.post(f"{fake.url}/v0/{base_id}/Partners/listRecords", json=body, headers=_headers())
    assert resp.json()["records"][0]["fields"] == {"Score": 4}
    bad = requests.get(
        f"{fake.url}/v0/{base_id}/Partners", params={"filterByFormula": "{Name}='x'"}, headers=_headers()
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["type"] == "INVALID_FILTER_BY_FORMULA"


def test_create_rejects_eleven_records(fake: FakeAirtable, base_id: str) -> None:
    body = {"records": [{"fields": {"Name": str(i)}} for i in range(11)]}
    resp = requests.post(f"{fake.url}/v0/{base_id}/Partners", json=body, headers=_headers())
    assert resp.status_code == 422
    assert resp.json() == {
        "error": {
            "type": "INVALID_RECORDS",
            "message": "A maximum of 10 records can be created per request but you have provided 11.",
        }
    }
    assert fake.records(base_id, "Partners") == []


def test_write_validation_is_atomic(fake: FakeAirtable, base_id: str) -> None:
    url = f"{fake.url}/v0/{base_id}/Partners"
    cases = [
        ({"Nope": 1}, "UNKNOWN_FIELD_NAME", 'Unknown field name: "Nope"'),
        (
            {"Tier": "Platinum"},
            "INVALID_MULTIPLE_CHOICE_OPTIONS",
            'Insufficient permissions to create new select option ""Platinum""',
        ),
        ({"Score": "many"}, "INVALID_VALUE_FOR_COLUMN", 'Field "Score" cannot accept the provided value'),
        ({"Joined": "yesterday"}, "INVALID_VALUE_FOR_COLUMN", 'Field "Joined" cannot accept the provided value'),
        ({"Updated": "2026-01-01"}, "INVALID_VALUE_FOR_COLUMN", 'Field "Updated" cannot accept the provided value'),
    ]
    for fields, kind, message in cases:
        body = {"records": [{"fields": {"Name": "ok"}}, {"fields": fields}]}
        resp = requests.post(url, json=body, headers=_headers())
        assert resp.status_code == 422
        assert resp.json() == {"error": {"type": kind, "message": message}}
    assert fake.records(base_id, "Partners") == []
    resp = requests.post(
        url, json={"records": [{"fields": {"Tier": "Platinum"}}], "typecast": True}, headers=_headers()
    )
    assert resp.status_code == 200
    tiers = requests.get(f"{fake.url}/v0/meta/bases/{base_id}/tables", headers=_headers()).json()
    choices = [c["name"] for c in tiers["tables"][0]["fields"][3]["options"]["choices"]]
    assert choices == ["Gold", "Silver", "Platinum"]


def test_auth_and_unknown_models(fake: FakeAirtable, base_id: str) -> None:
    resp = requests.get(f"{fake.url}/v0/{base_id}/Partners", headers=_headers("wrong"))
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "AUTHENTICATION_REQUIRED"
    for path in ("appNOPE/Partners", f"{base_id}/Nope"):
        resp = requests.get(f"{fake.url}/v0/{path}", headers=_headers())
        assert resp.status_code == 403
        assert resp.json()["error"]["type"] == "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND"
    resp = requests.get(f"{fake.url}/v0/{base_id}/Partners/recAAAAAAAAAAAAAA", headers=_headers())
    assert resp.status_code == 404
    assert resp.json() == {"error": {"type": "MODEL_ID_NOT_FOUND", "message": "Record not found"}}


def test_update_upsert_and_delete(fake: FakeAirtable, base_id: str) -> None:
    table = _table(fake, base_id)
    first = table.create({"Name": "Ada", "Email": "ada@x.io", "Score": 1})
    table.update(first["id"], {"Score": 5})
    assert fake.records(base_id, "Partners")[0]["fields"]["Score"] == 5
    result = table.batch_upsert(
        [{"fields": {"Email": "ada@x.io", "Score": 9}}, {"fields": {"Email": "bob@x.io", "Name": "Bob"}}],
        key_fields=["Email"],
    )
    assert result["updatedRecords"] == [first["id"]]
    assert len(result["createdRecords"]) == 1
    rows = {r["fields"]["Email"]: r["fields"] for r in fake.records(base_id, "Partners")}
    assert rows["ada@x.io"] == {"Name": "Ada", "Email": "ada@x.io", "Score": 9, "Updated": rows["ada@x.io"]["Updated"]}
    missing = requests.patch(
        f"{fake.url}/v0/{base_id}/Partners",
        json={"records": [{"id": "recMISSINGMISSIN", "fields": {"Score": 1}}]},
        headers=_headers(),
    )
    assert missing.json()["error"] == {
        "type": "ROW_DOES_NOT_EXIST",
        "message": "Record ID recMISSINGMISSIN does not exist in this table",
    }
    deleted = table.batch_delete([first["id"], result["createdRecords"][0]])
    assert [d["deleted"] for d in deleted] == [True, True]
    assert fake.records(base_id, "Partners") == []


def test_rate_limit_and_penalty(clock: FakeClock) -> None:
    with FakeAirtable(TOKEN, clock=clock) as fake:
        base_id = fake.add_base("B", PARTNERS)
        url = f"{fake.url}/v0/{base_id}/Partners"
        statuses = [requests.get(url, headers=_headers()).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        assert fake.requests[-1] == ("GET", f"/v0/{base_id}/Partners", 429)
        clock.advance(15)
        resp = requests.get(url, headers=_headers())
        assert resp.status_code == 429
        assert resp.json() == {
            "error": {"type": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}
        }
        other = fake.add_base("Other", PARTNERS)
        assert requests.get(f"{fake.url}/v0/{other}/Partners", headers=_headers()).status_code == 200
        clock.advance(16)
        assert requests.get(url, headers=_headers()).status_code == 200


def test_monthly_limit(clock: FakeClock) -> None:
    with FakeAirtable(TOKEN, clock=clock, monthly_limit=3, rate_limit=False) as fake:
        base_id = fake.add_base("B", PARTNERS)
        url = f"{fake.url}/v0/{base_id}/Partners"
        statuses = [requests.get(url, headers=_headers()).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        blocked = requests.get(url, headers=_headers())
        assert blocked.json()["errors"][0]["error"] == "PUBLIC_API_BILLING_LIMIT_EXCEEDED"
        clock.advance(30 * 24 * 3600)  # 2026-12-01
        assert requests.get(url, headers=_headers()).status_code == 200


def test_webhook_payloads(fake: FakeAirtable, base_id: str) -> None:
    everything = _hook(fake, base_id)
    humans = _hook(fake, base_id, fromSources=["client"])
    table = _table(fake, base_id)
    api_rec = table.create({"Name": "Api"})
    rec = fake.ui_create(base_id, "Partners", {"Name": "Ui"})
    fake.ui_update(base_id, "Partners", rec, {"Score": 3})
    fake.ui_delete(base_id, "Partners", rec)
    tbl = fake.table_id(base_id, "Partners")
    score = fake.field_id(base_id, "Partners", "Score")

    page = _payloads(fake, base_id, everything, 1)
    assert len(page["payloads"]) == 4 and page["cursor"] == 5 and page["mightHaveMore"] is False
    first = page["payloads"][0]
    assert first["actionMetadata"]["source"] == "publicApi"
    assert api_rec["id"] in first["changedTablesById"][tbl]["createdRecordsById"]

    page = _payloads(fake, base_id, humans, 1)
    sources = [p["actionMetadata"]["source"] for p in page["payloads"]]
    assert sources == ["client"] * 3
    changed = page["payloads"][1]["changedTablesById"][tbl]["changedRecordsById"][rec]
    assert changed == {"current": {"cellValuesByFieldId": {score: 3}}}
    assert page["payloads"][2]["changedTablesById"][tbl]["destroyedRecordIds"] == [rec]
    assert page["cursor"] == 4
    assert _payloads(fake, base_id, humans, 4) == {"payloads": [], "cursor": 4, "mightHaveMore": False}
    fake.ui_create(base_id, "Partners", {"Name": "Later"})
    later = _payloads(fake, base_id, humans, 4)
    assert len(later["payloads"]) == 1 and later["cursor"] == 5

    hooks = requests.get(f"{fake.url}/v0/bases/{base_id}/webhooks", headers=_headers()).json()["webhooks"]
    assert [h["cursorForNextPayload"] for h in hooks] == [6, 5]
    fake.expire_webhooks(base_id)
    hooks = requests.get(f"{fake.url}/v0/bases/{base_id}/webhooks", headers=_headers()).json()["webhooks"]
    assert not any(h["isHookEnabled"] for h in hooks)
    url = f"{fake.url}/v0/bases/{base_id}/webhooks/{humans}/payloads"
    assert requests.get(url, headers=_headers()).status_code == 404


def test_field_schema_changes_and_pyairtable_webhooks(fake: FakeAirtable, base_id: str) -> None:
    spec = {"options": {"filters": {"dataTypes": ["tableFields"]}}}
    base = Api(TOKEN, endpoint_url=fake.url, retry_strategy=None).base(base_id)
    created = base.add_webhook("https://example.invalid/hook", spec)
    fake.ui_rename_field(base_id, "Partners", "Score", "Health")
    resp = requests.post(
        f"{fake.url}/v0/meta/bases/{base_id}/tables/{fake.table_id(base_id, 'Partners')}/fields",
        json={"name": "Region", "type": "singleLineText"},
        headers=_headers(),
    )
    assert resp.status_code == 200 and resp.json()["id"].startswith("fld")
    dup = requests.post(
        f"{fake.url}/v0/meta/bases/{base_id}/tables/{fake.table_id(base_id, 'Partners')}/fields",
        json={"name": "region", "type": "singleLineText"},
        headers=_headers(),
    )
    assert dup.json()["error"]["type"] == "DUPLICATE_OR_EMPTY_FIELD_NAME"
    hook = base.webhook(created.id)
    payloads = list(hook.payloads())
    tbl = fake.table_id(base_id, "Partners")
    assert payloads[0].changed_tables_by_id[tbl].changed_fields_by_id
    assert payloads[1].changed_tables_by_id[tbl].created_fields_by_id


def test_create_base_meta(fake: FakeAirtable) -> None:
    body = {"name": "New", "workspaceId": fake.workspace_id, "tables": PARTNERS[:1]}
    resp = requests.post(f"{fake.url}/v0/meta/bases", json=body, headers=_headers())
    assert resp.json()["error"]["type"] == "UNSUPPORTED_FIELD_TYPE_FOR_CREATE"
    fields = [f for f in PARTNERS[0]["fields"] if f["type"] != "lastModifiedTime"]
    body["tables"] = [{"name": "Partners", "fields": fields}]
    resp = requests.post(f"{fake.url}/v0/meta/bases", json=body, headers=_headers())
    assert resp.status_code == 200
    assert resp.json()["tables"][0]["views"][0]["type"] == "grid"
    body["workspaceId"] = "wspNOPE"
    assert requests.post(f"{fake.url}/v0/meta/bases", json=body, headers=_headers()).status_code == 403
    bases = requests.get(f"{fake.url}/v0/meta/bases", headers=_headers()).json()["bases"]
    assert [b["name"] for b in bases] == ["New"]


def test_fail_next_after_apply_and_drop(fake: FakeAirtable, base_id: str) -> None:
    table = _table(fake, base_id)
    fake.fail_next(method="POST", path_contains="/Partners", status=502, after_apply=True)
    with pytest.raises(requests.HTTPError):
        table.create({"Name": "Lost answer"})
    assert [r["fields"]["Name"] for r in fake.records(base_id, "Partners")] == ["Lost answer"]
    assert fake.requests[-1][2] == 502
    fake.fail_next(method="GET", drop=True)
    with pytest.raises(requests.ConnectionError):
        table.all()
    fake.fail_next(method="GET", status=503, body={"error": "busy"})
    resp = requests.get(f"{fake.url}/v0/{base_id}/Partners", headers=_headers())
    assert (resp.status_code, resp.json()) == (503, {"error": "busy"})
    assert len(table.all()) == 1
