"""The referrals job end to end against the fake HubSpot over HTTP: registration, attribution,
one deal per referral even when killed and re-run, and plain-words Sync Notes for bad rows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from integrations.http import Clock
from integrations.ledger import CallLedger
from jobs.app import App
from jobs.apply.crm_targets import REFERRAL_ID_PROPERTY
from jobs.plan import Count
from jobs.settings import Settings
from jobs.store.local import LocalStore
from tests.apps import T0, make_app, run
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
    store.create("partners", "Partners", {"Name": "Pia Partner", "Email": "pia@agency.example"}, created=T0)
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


def runtime(tmp_path: Path, store: LocalStore, hub: FakeHubSpot) -> App:
    settings = Settings(home=tmp_path, crm="hubspot", hubspot_token=hub.token, hubspot_api_url=hub.url)
    return make_app(
        settings, store, CallLedger(tmp_path / "ledger.sqlite"), None, Clock(now=lambda: NOW, sleep=lambda _s: None)
    )


def test_an_accepted_referral_becomes_one_deal_and_is_written_back(tmp_path: Path, hub: FakeHubSpot) -> None:
    store = seed(tmp_path)
    rid = referral(store, "Acme")
    outcome = run(runtime(tmp_path, store, hub), "referrals", NOW)
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
    again = run(runtime(tmp_path, store, hub), "referrals", NOW + timedelta(hours=1))
    assert again.ok and len(hub.deals()) == 1


def test_an_open_deal_in_the_crm_makes_it_influenced(tmp_path: Path, hub: FakeHubSpot) -> None:
    store = seed(tmp_path)
    company = hub.add_object("companies", {"domain": "globex.example", "name": "Globex"})
    open_deal = hub.add_object(
        "deals", {"dealname": "Globex renewal", "dealstage": "appointmentscheduled", "pipeline": "default"}
    )
    hub.associate("companies", company, "deals", open_deal)
    rid = referral(store, "Globex", **{"Company Domain": "https://www.globex.example/"})
    assert run(runtime(tmp_path, store, hub), "referrals", NOW).ok
    assert store.get("referrals", "Referrals", rid).fields["Attribution"] == "Influenced"  # type: ignore[union-attr]


def test_duplicates_and_unknown_partners_never_reach_the_crm(tmp_path: Path, hub: FakeHubSpot) -> None:
    store = seed(tmp_path)
    first = referral(store, "Initech", minutes=0)
    second = referral(store, "Initech", minutes=5)
    stranger = referral(store, "Umbrella", partner="nobody@else.example")
    outcome = run(runtime(tmp_path, store, hub), "referrals", NOW)
    assert outcome.failures == ["1 record(s) need a fix: see their Sync Notes"]  # the stranger's
    assert outcome.counts[Count.NEED_FIX] == 1 and outcome.counts[Count.DUPLICATES] == 1
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
    outcome = run(runtime(tmp_path, store, hub), "referrals", NOW)
    assert not outcome.ok
    notes = store.get("referrals", "Referrals", good).fields["Sync Notes"]  # type: ignore[union-attr]
    assert "HubSpot said VALIDATION_ERROR: Property values were not valid" in notes
    later = NOW + timedelta(hours=1)
    assert run(replace_now(runtime(tmp_path, store, hub), later), "referrals", later).ok
    assert store.get("referrals", "Referrals", good).fields["Status"] == "In CRM"  # type: ignore[union-attr]


def replace_now(rt: App, when: datetime) -> App:
    rt.clock.now = lambda: when
    return rt


@pytest.mark.parametrize("after", [False, True], ids=["before-effect", "after-effect"])
# Effects: the two duplicates' cells (1-2, written together in one batch), then one push per
# accepted referral carrying its registration cells (3-5).
@pytest.mark.parametrize("kill_at", range(1, 6))
def test_killed_at_any_effect_then_rerun_makes_no_second_deal_and_loses_no_referral(
    tmp_path: Path, kill_at: int, after: bool
) -> None:
    with FakeHubSpot(now=lambda: NOW) as hub:
        store = seed(tmp_path)
        ids = [referral(store, name, minutes=i) for i, name in enumerate(("Alpha", "Beta", "Gamma"))]
        dups = [referral(store, name, minutes=10 + i) for i, name in enumerate(("Alpha", "Beta"))]
        rt = runtime(tmp_path, store, hub)
        kill(rt, kill_at, after=after)
        with contextlib.suppress(Killed):
            run(rt, "referrals", NOW)
        later = NOW + timedelta(minutes=10)
        outcome = run(replace_now(runtime(tmp_path, store, hub), later), "referrals", later)
        assert outcome.ok, outcome.failures
        deals = hub.deals()
        assert sorted(d["properties"][REFERRAL_ID_PROPERTY] for d in deals) == sorted(ids)
        for rid in ids:
            fields = store.get("referrals", "Referrals", rid).fields  # type: ignore[union-attr]
            assert fields["Status"] == "In CRM" and fields["CRM ID"] in {d["id"] for d in deals}
            assert fields["Attribution"] == "Sourced" and fields["Expires On"] == "2027-03-21"
        for rid in dups:
            assert store.get("referrals", "Referrals", rid).fields["Status"] == "Duplicate"  # type: ignore[union-attr]


def test_an_accepted_referral_that_expires_before_its_push_is_not_pushed(tmp_path: Path, hub: FakeHubSpot) -> None:
    store = seed(tmp_path)
    rid = referral(store, "Oldco", minutes=-130 * 24 * 60, Status="Accepted", **{"Expires On": "2026-09-01"})
    outcome = run(runtime(tmp_path, store, hub), "referrals", NOW)
    assert outcome.ok, outcome.failures
    assert store.get("referrals", "Referrals", rid).fields["Status"] == "Expired"  # type: ignore[union-attr]
    assert hub.deals() == []


def test_crm_none_only_registers(tmp_path: Path) -> None:
    store = seed(tmp_path)
    rid = referral(store, "Stark")
    rt = make_app(Settings(home=tmp_path), store, CallLedger(tmp_path / "l.sqlite"), None, Clock(now=lambda: NOW))
    assert run(rt, "referrals", NOW).ok
    assert store.get("referrals", "Referrals", rid).fields["Status"] == "Accepted"  # type: ignore[union-attr]


def test_crm_webhook_posts_one_document_per_referral_even_after_a_500(tmp_path: Path) -> None:
    from tests.fakes.webhook import FakeReceiver  # the same local receiver as the client's own tests

    hook = FakeReceiver().start()
    hook.script = ["500"]
    try:
        store = seed(tmp_path)
        rid = referral(store, "Wayne")
        settings = Settings(home=tmp_path, crm="webhook", crm_webhook_url=hook.url)
        for hours in (0, 1):
            when = NOW + timedelta(hours=hours)
            rt = make_app(
                settings,
                store,
                CallLedger(tmp_path / "l.sqlite"),
                None,
                Clock(now=lambda w=when: w, sleep=lambda _s: None),
            )
            assert run(rt, "referrals", when).ok
        bodies = [r.json() for r in hook.requests]
        assert len(bodies) == 2 and bodies[0] == bodies[1]  # the 500, then the retry; never again after
        assert {r.headers.get("Idempotency-Key") for r in hook.requests} == {rid}
        assert bodies[0]["schema"] == "partnerops.referral.v1" and bodies[0]["partner"]["email"] == "pia@agency.example"
        fields = store.get("referrals", "Referrals", rid).fields  # type: ignore[union-attr]
        assert fields["Status"] == "In CRM" and fields["CRM ID"] == f"webhook:{rid}"
    finally:
        hook.stop()


# --- against the fake Airtable: what a push costs in Airtable calls ------------------------------


class Airtable:
    """The three template bases in the fake Airtable, a client on them, and the store as `sync`
    leaves it (a mirror of the live records)."""

    def __init__(self, tmp_path: Path, fake: Any, clock: Any) -> None:
        from integrations.airtable import AirtableClient
        from tests.conftest import TOKEN, client_clock, provision

        self.tmp_path, self.fake, self.clock = tmp_path, fake, clock
        self.ids = provision(fake)
        clock.advance(2)
        self.ledger = CallLedger(tmp_path / "ledger.sqlite")
        self.client = AirtableClient(
            TOKEN, self.ids, ledger=self.ledger, allowance=1000, api_url=fake.url, clock=client_clock(clock)
        )
        self.store = LocalStore(tmp_path / "store.sqlite")
        fake.ui_create(self.ids["partners"], "Partners", {"Name": "Pia Partner", "Email": "pia@agency.example"})

    def referral(self, company: str, *, partner: str = "pia@agency.example") -> str:
        fields = {
            "Referral": f"{company} — Jo Buyer",
            "Direction": "From partner",
            "Partner Email": partner,
            "Company": company,
            "Contact Name": "Jo Buyer",
            "Contact Email": f"jo@{company.lower()}.example",
        }
        rid: str = self.fake.ui_create(self.ids["referrals"], "Referrals", fields)
        self.clock.advance(1)
        return rid

    def mirror(self) -> None:
        for key, table in (("partners", "Partners"), ("referrals", "Referrals")):
            self.store.put(key, table, self.client.list_records(key, table))
        self.fake.reset_counts()

    def runtime(self, hub: FakeHubSpot) -> App:
        settings = Settings(home=self.tmp_path, crm="hubspot", hubspot_token=hub.token, hubspot_api_url=hub.url)
        return make_app(settings, self.store, self.ledger, self.client, Clock(now=lambda: NOW, sleep=lambda _s: None))

    def writes(self) -> int:
        return sum(self.fake.calls(m) for m in ("POST", "PATCH", "PUT", "DELETE"))

    def live(self, rid: str) -> dict[str, Any]:
        return next(r["fields"] for r in self.fake.records(self.ids["referrals"], "Referrals") if r["id"] == rid)


@pytest.fixture
def air(tmp_path: Path) -> Iterator[Airtable]:
    from tests.conftest import TOKEN
    from tests.fakes.airtable import FakeAirtable, FakeClock

    clock = FakeClock(NOW - timedelta(hours=1))
    with FakeAirtable(TOKEN, clock=clock) as fake:
        yield Airtable(tmp_path, fake, clock)


def assert_pushed(air: Airtable, hub: FakeHubSpot, rid: str, attribution: str = "Sourced") -> None:
    deals = [d for d in hub.deals() if d["properties"].get(REFERRAL_ID_PROPERTY) == rid]
    assert len(deals) == 1, f"{len(deals)} deals for {rid}"
    for fields in (air.live(rid), air.store.get("referrals", "Referrals", rid).fields):  # type: ignore[union-attr]
        assert fields["Status"] == "In CRM" and fields["CRM ID"] == deals[0]["id"]
        assert fields["Attribution"] == attribution and fields["Expires On"] == "2027-03-21"
        assert fields["CRM Pushed At"] and not fields.get("Sync Notes")
        assert fields["CRM Stage"] == "Appointment Scheduled"  # the deal's first stage, in the same write


def test_a_new_accepted_referral_costs_one_airtable_write(air: Airtable, hub: FakeHubSpot) -> None:
    rid = air.referral("Acme")
    air.mirror()
    outcome = run(air.runtime(hub), "referrals", NOW)
    assert outcome.ok, outcome.failures
    assert air.writes() == 1 and air.fake.calls("PATCH") == 1
    assert air.fake.calls() == 1  # and no read: the store is the mirror
    assert_pushed(air, hub, rid)
    assert air.store.get_state(f"attribution:{rid}") == "Sourced"  # remembered locally, not a separate write
    air.fake.reset_counts()
    again = run(air.runtime(hub), "referrals", NOW + timedelta(hours=1))
    assert again.ok and air.fake.calls() == 0 and len(hub.deals()) == 1


def test_a_new_deal_costs_stages_no_write_and_sends_no_stage_message(air: Airtable, hub: FakeHubSpot) -> None:

    air.referral("Acme")
    air.mirror()
    rt = air.runtime(hub)
    assert run(rt, "referrals", NOW).ok
    air.fake.reset_counts()
    outcome = run(rt, "stages", NOW + timedelta(minutes=30))
    assert outcome.ok and air.writes() == 0
    assert outcome.counts[Count.STAGE_CHANGES] == 0
    told = [p for p in (air.tmp_path / "outbox").rglob("slack-*") if "key: stage-msg" in p.read_text()]
    assert not told  # nobody told of a "change" that is none (the outbox holds the receipt only)


def test_pushes_cost_one_write_each_and_registration_only_changes_share_calls(air: Airtable, hub: FakeHubSpot) -> None:
    pushed = [air.referral(name) for name in ("Alpha", "Beta", "Gamma")]
    duplicates = [air.referral(name) for name in ("Alpha", "Beta", "Gamma")]
    stranger = air.referral("Umbrella", partner="nobody@else.example")
    air.mirror()
    outcome = run(air.runtime(hub), "referrals", NOW)
    assert outcome.failures == ["1 record(s) need a fix: see their Sync Notes"]  # the stranger's
    # 3 pushes, one call each; 3 duplicates in one call; the stranger's note: 5 calls (was 3 × 3 + 4 = 13).
    assert air.fake.calls("PATCH") == 5 and air.writes() == 5
    for rid in pushed:
        assert_pushed(air, hub, rid)
    assert all(air.live(rid)["Status"] == "Duplicate" for rid in duplicates)
    assert "is not a partner" in air.live(stranger)["Sync Notes"]
    assert len(hub.deals()) == 3


def test_a_refused_push_writes_accepted_then_the_reason(air: Airtable, hub: FakeHubSpot) -> None:
    rid = air.referral("Hooli")
    air.mirror()
    body = {"status": "error", "category": "VALIDATION_ERROR", "message": "Property values were not valid"}
    hub.fail_next("deals/batch/upsert", 400, body=body)
    outcome = run(air.runtime(hub), "referrals", NOW)
    assert not outcome.ok and air.writes() == 2  # the registration, then the reason in Sync Notes
    fields = air.live(rid)
    assert fields["Status"] == "Accepted" and fields["Attribution"] == "Sourced"
    assert fields["Expires On"] == "2027-03-21" and "CRM ID" not in fields
    assert "HubSpot said VALIDATION_ERROR" in fields["Sync Notes"]
    air.fake.reset_counts()
    assert run(air.runtime(hub), "referrals", NOW).ok
    assert air.writes() == 2  # the push's write-back, then the note cleared
    assert_pushed(air, hub, rid)


def test_while_the_crm_is_down_the_referral_shows_accepted_and_is_pushed_later(air: Airtable, hub: FakeHubSpot) -> None:
    rid = air.referral("Initech")
    air.mirror()
    body = {"status": "error", "category": "INTERNAL_ERROR", "message": "down"}
    hub.fail_next("deals/batch/upsert", 503, body=body)  # a write the client never repeats itself
    outcome = run(air.runtime(hub), "referrals", NOW)
    assert outcome.ok and outcome.pending == 1  # its outcome is unknown: kept, reconciled, not a failure
    assert air.writes() == 1
    fields = air.live(rid)
    assert fields["Status"] == "Accepted" and fields["Expires On"] == "2027-03-21"
    assert "CRM ID" not in fields and "Attribution" not in fields
    air.fake.reset_counts()
    assert run(air.runtime(hub), "referrals", NOW).ok
    assert air.writes() == 1  # only the CRM's answer: the registration cells are already there
    assert_pushed(air, hub, rid)


class DyingWriter:
    """Dies (like the process) at its first write: after the deal was pushed, before Airtable knew."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.died = inner, False

    def update(self, *args: Any, **kwargs: Any) -> Any:
        if not self.died:
            self.died = True
            raise Killed
        return self.inner.update(*args, **kwargs)


@pytest.mark.parametrize("how", ["killed", "airtable-down"])
def test_a_push_whose_write_back_was_lost_is_redone_with_one_deal_and_every_field(
    air: Airtable, hub: FakeHubSpot, how: str
) -> None:
    rid = air.referral("Globex")
    air.mirror()
    rt = air.runtime(hub)
    if how == "killed":
        executors = rt.executors()
        executors["crm"].writer = DyingWriter(executors["crm"].writer)  # type: ignore[attr-defined]
        rt._executors = executors
        with contextlib.suppress(Killed):
            run(rt, "referrals", NOW)
    else:
        air.fake.fail_next(method="PATCH", drop=True, times=3)  # the client retries a PATCH twice
        outcome = run(rt, "referrals", NOW)
        assert outcome.pending >= 1
    assert len(hub.deals()) == 1 and "CRM ID" not in air.live(rid)
    # The CRM now holds this referral's own (open) deal for the contact: asked again, attribution
    # would say Influenced. The answer given before the push is remembered instead.
    later = NOW + timedelta(minutes=10)
    outcome = run(replace_now(air.runtime(hub), later), "referrals", later)
    assert outcome.ok, outcome.failures
    assert_pushed(air, hub, rid, attribution="Sourced")
