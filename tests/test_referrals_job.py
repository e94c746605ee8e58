"""The referrals job end to end against the fake HubSpot over HTTP: registration, attribution,
one deal per referral even when killed and re-run, and plain-words Sync Notes for bad rows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from integrations.airtable import Clock
from integrations.ledger import CallLedger
from integrations.local import LocalStore
from jobs.crm_targets import REFERRAL_ID_PROPERTY
from jobs.referrals import run_referrals
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.fakes.hubspot import FakeHubSpot
from tests.killing import Killed
from tests.killing import kill_at as kill

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def hub() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(now=lambda: NOW) as fake:
        yield fake


def seed(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "store.sqlite")
    store.create("partners", "Partners", {"Name": "Pia Partner", "Email": "pia@agency.example"})
    return store


def referral(
    store: LocalStore, company: str, *, partner: str = "pia@agency.example", minutes: int = 0, **extra: Any
) -> str:
    fields = {
        "Referral": f"{company} — Jo Buyer",
        "Direction": "From partner",
        "Partner Email": partner,
        "Company": company,
        "Contact Name": "Jo Buyer",
        "Contact Email": f"jo@{company.lower()}.example",
        **extra,
    }
    return store.create(
        "referrals", "Referrals", fields, created=NOW - timedelta(hours=1) + timedelta(minutes=minutes)
    ).id


def runtime(tmp_path: Path, store: LocalStore, hub: FakeHubSpot) -> Runtime:
    settings = Settings(home=tmp_path, crm="hubspot", hubspot_token=hub.token, hubspot_api_url=hub.url)
    return Runtime(
        settings, store, CallLedger(tmp_path / "ledger.sqlite"), None, Clock(now=lambda: NOW, sleep=lambda _s: None)
    )


def test_an_accepted_referral_becomes_one_deal_and_is_written_back(tmp_path: Path, hub: FakeHubSpot) -> None:
    store = seed(tmp_path)
    rid = referral(store, "Acme")
    outcome = run_referrals(runtime(tmp_path, store, hub), NOW, False, lambda _m: None)
    assert outcome.ok, outcome.failures
    record = store.get("referrals", "Referrals", rid)
    assert record is not None
    assert record.fields["Status"] == "In CRM" and record.fields["Attribution"] == "Sourced"
    assert record.fields["Expires On"] == "2027-03-21"
    (deal,) = hub.deals()
    assert record.fields["CRM ID"] == deal["id"]
    assert deal["properties"][REFERRAL_ID_PROPERTY] == rid
    assert deal["properties"]["partnerops_partner"] == "pia@agency.example"
    assert [c["properties"]["email"] for c in hub.contacts()] == ["jo@acme.example"]
    assert hub.associations("deals", deal["id"], "contacts")
    again = run_referrals(runtime(tmp_path, store, hub), NOW + timedelta(hours=1), False, lambda _m: None)
    assert again.ok and len(hub.deals()) == 1


def test_an_open_deal_in_the_crm_makes_it_influenced(tmp_path: Path, hub: FakeHubSpot) -> None:
    store = seed(tmp_path)
    company = hub.add_object("companies", {"domain": "globex.example", "name": "Globex"})
    open_deal = hub.add_object(
        "deals", {"dealname": "Globex renewal", "dealstage": "appointmentscheduled", "pipeline": "default"}
    )
    hub.associate("companies", company, "deals", open_deal)
    rid = referral(store, "Globex", **{"Company Domain": "https://www.globex.example/"})
    assert run_referrals(runtime(tmp_path, store, hub), NOW, False, lambda _m: None).ok
    assert store.get("referrals", "Referrals", rid).fields["Attribution"] == "Influenced"  # type: ignore[union-attr]


def test_duplicates_and_unknown_partners_never_reach_the_crm(tmp_path: Path, hub: FakeHubSpot) -> None:
    store = seed(tmp_path)
    first = referral(store, "Initech", minutes=0)
    second = referral(store, "Initech", minutes=5)
    stranger = referral(store, "Umbrella", partner="nobody@else.example")
    outcome = run_referrals(runtime(tmp_path, store, hub), NOW, False, lambda _m: None)
    assert outcome.ok, outcome.failures
    assert len(hub.deals()) == 1
    dup = store.get("referrals", "Referrals", second).fields  # type: ignore[union-attr]
    assert dup["Status"] == "Duplicate" and "Initech — Jo Buyer" in dup["Conflict With"]
    unknown = store.get("referrals", "Referrals", stranger).fields  # type: ignore[union-attr]
    assert unknown.get("Status", "New") == "New"
    assert "nobody@else.example is not a partner" in unknown["Sync Notes"]
    assert store.get("referrals", "Referrals", first).fields["Status"] == "In CRM"  # type: ignore[union-attr]


def test_a_bad_item_fails_alone_with_its_reason(tmp_path: Path, hub: FakeHubSpot) -> None:
    store = seed(tmp_path)
    good = referral(store, "Hooli")
    hub.fail_next(
        "deals/batch/upsert",
        400,
        body={
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": "Property values were not valid",
            "correlationId": "c-1",
        },
    )
    outcome = run_referrals(runtime(tmp_path, store, hub), NOW, False, lambda _m: None)
    assert not outcome.ok
    notes = store.get("referrals", "Referrals", good).fields["Sync Notes"]  # type: ignore[union-attr]
    assert notes.startswith("Not in the CRM yet: HubSpot said VALIDATION_ERROR")
    later = NOW + timedelta(hours=1)
    assert run_referrals(replace_now(runtime(tmp_path, store, hub), later), later, False, lambda _m: None).ok
    assert store.get("referrals", "Referrals", good).fields["Status"] == "In CRM"  # type: ignore[union-attr]


def replace_now(rt: Runtime, when: datetime) -> Runtime:
    rt.clock = Clock(now=lambda: when, sleep=lambda _s: None)
    return rt


@pytest.mark.parametrize("after", [False, True], ids=["before-effect", "after-effect"])
@pytest.mark.parametrize("kill_at", range(1, 9))
def test_killed_at_any_effect_then_rerun_makes_no_second_deal_and_loses_no_referral(
    tmp_path: Path, kill_at: int, after: bool
) -> None:
    with FakeHubSpot(now=lambda: NOW) as hub:
        store = seed(tmp_path)
        ids = [referral(store, name, minutes=i) for i, name in enumerate(("Alpha", "Beta", "Gamma"))]
        rt = runtime(tmp_path, store, hub)
        kill(rt, kill_at, after=after)
        with contextlib.suppress(Killed):
            run_referrals(rt, NOW, False, lambda _m: None)
        later = NOW + timedelta(minutes=10)
        outcome = run_referrals(replace_now(runtime(tmp_path, store, hub), later), later, False, lambda _m: None)
        assert outcome.ok, outcome.failures
        deals = hub.deals()
        assert sorted(d["properties"][REFERRAL_ID_PROPERTY] for d in deals) == sorted(ids)
        for rid in ids:
            fields = store.get("referrals", "Referrals", rid).fields  # type: ignore[union-attr]
            assert fields["Status"] == "In CRM" and fields["CRM ID"] in {d["id"] for d in deals}


def test_crm_none_only_registers(tmp_path: Path) -> None:
    store = seed(tmp_path)
    rid = referral(store, "Stark")
    rt = Runtime(Settings(home=tmp_path), store, CallLedger(tmp_path / "l.sqlite"), None, Clock(now=lambda: NOW))
    assert run_referrals(rt, NOW, False, lambda _m: None).ok
    assert store.get("referrals", "Referrals", rid).fields["Status"] == "Accepted"  # type: ignore[union-attr]


def test_crm_webhook_posts_one_document_per_referral_even_after_a_500(tmp_path: Path) -> None:
    import threading
    from http.server import ThreadingHTTPServer

    from tests.test_webhook import Hook, _handler  # the same local receiver as the client's own tests

    hook = Hook()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hook))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/catch/1/secret"
    hook.script = ["500"]
    try:
        store = seed(tmp_path)
        rid = referral(store, "Wayne")
        settings = Settings(home=tmp_path, crm="webhook", crm_webhook_url=hook.url)
        for hours in (0, 1):
            when = NOW + timedelta(hours=hours)
            rt = Runtime(
                settings,
                store,
                CallLedger(tmp_path / "l.sqlite"),
                None,
                Clock(now=lambda w=when: w, sleep=lambda _s: None),
            )
            assert run_referrals(rt, when, False, lambda _m: None).ok
        bodies = [r.json() for r in hook.requests]
        assert len(bodies) == 2 and bodies[0] == bodies[1]  # the 500, then the retry; never again after
        assert {r.headers.get("Idempotency-Key") for r in hook.requests} == {rid}
        assert bodies[0]["schema"] == "partnerops.referral.v1" and bodies[0]["partner"]["email"] == "pia@agency.example"
        fields = store.get("referrals", "Referrals", rid).fields  # type: ignore[union-attr]
        assert fields["Status"] == "In CRM" and fields["CRM ID"] == f"webhook:{rid}"
    finally:
        server.shutdown()
        server.server_close()
