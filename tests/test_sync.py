"""Incremental sync through the webhook change feed, against the fake Airtable."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from integrations.airtable import AirtableClient
from integrations.ledger import CallLedger
from jobs.apply.writer import RecordWriter
from jobs.store.local import LocalStore
from jobs.sync.syncer import Syncer
from tests.fakes.airtable import FakeAirtable, FakeClock


def seed(fake: FakeAirtable, ids: dict[str, str], partners: int = 30, referrals: int = 20) -> list[str]:
    pids = [
        fake.ui_create(ids["partners"], "Partners", {"Name": f"P{i}", "Email": f"p{i}@x.example", "Notes": "keep"})
        for i in range(partners)
    ]
    for i in range(referrals):
        fake.ui_create(
            ids["referrals"],
            "Referrals",
            {"Referral": f"R{i}", "Direction": "From partner", "Partner Email": "p1@x.example"},
        )
    fake.ui_create(ids["circles"], "Circles", {"Name": "Top Partners", "Enter Score": 75, "Active": True})
    return pids


def calls_since(ledger: CallLedger, clock: FakeClock, before: int) -> int:
    return ledger.used(clock.now()) - before


def test_first_sync_is_full_then_a_quiet_poll_costs_one_call_per_base(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    ledger: CallLedger,
    clock: FakeClock,
) -> None:
    seed(fake, base_ids)
    syncer = Syncer(client, store)
    reports = syncer.run(clock.now())
    assert [r.mode for r in reports] == ["full", "full", "full"]
    assert store.count("partners", "Partners") == 30 and store.count("referrals", "Referrals") == 20
    assert all(r.differences == [] for r in reports)
    clock.advance(3600)
    before = ledger.used(clock.now())
    reports = syncer.run(clock.now())
    assert [r.mode for r in reports] == ["incremental"] * 3
    assert calls_since(ledger, clock, before) == 3


def test_changes_creates_and_deletes_come_from_the_feed_without_a_read(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    ledger: CallLedger,
    clock: FakeClock,
) -> None:
    pids = seed(fake, base_ids)
    syncer = Syncer(client, store)
    syncer.run(clock.now())
    clock.advance(600)
    for pid in pids[:10]:
        fake.ui_update(base_ids["partners"], "Partners", pid, {"Company": "Acme"})
    fake.ui_delete(base_ids["partners"], "Partners", pids[10])
    new = fake.ui_create(base_ids["partners"], "Partners", {"Name": "New", "Email": "new@x.example"})
    before = ledger.used(clock.now())
    (partners, _refs, _circles) = syncer.run(clock.now())
    assert partners.carried == {"Partners": 11} and partners.read == {"Partners": 0}
    assert partners.deleted == {"Partners": 1}
    assert calls_since(ledger, clock, before) == 3  # three polls; the feed carried every cell
    assert "11 changed from the feed, 0 records read" in partners.summary()
    assert store.get("partners", "Partners", pids[0]).fields["Company"] == "Acme"  # type: ignore[union-attr]
    assert store.get("partners", "Partners", pids[10]) is None
    assert store.get("partners", "Partners", new) is not None


def test_a_change_to_a_column_the_jobs_do_not_read_costs_no_read(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    ledger: CallLedger,
    clock: FakeClock,
) -> None:
    import requests

    seed(fake, base_ids, partners=3, referrals=0)
    # a manager's own extra column
    table_id = fake.table_id(base_ids["partners"], "Partners")
    requests.post(
        f"{fake.url}/v0/meta/bases/{base_ids['partners']}/tables/{table_id}/fields",
        json={"name": "Favourite colour", "type": "singleLineText"},
        headers={"Authorization": f"Bearer {fake.token}"},
        timeout=5,
    ).raise_for_status()
    syncer = Syncer(client, store)
    syncer.run(clock.now())
    clock.advance(60)
    pid = fake.records(base_ids["partners"], "Partners")[0]["id"]
    fake.ui_update(base_ids["partners"], "Partners", pid, {"Favourite colour": "teal"})
    before = ledger.used(clock.now())
    syncer.run(clock.now())
    assert calls_since(ledger, clock, before) == 3


def test_own_writes_come_back_through_the_feed_without_a_read(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    ledger: CallLedger,
    clock: FakeClock,
) -> None:
    pids = seed(fake, base_ids, partners=12, referrals=0)
    syncer = Syncer(client, store)
    syncer.run(clock.now())
    result = RecordWriter(store, client, clock.now).update(
        "partners", "Partners", {p: {"Health Score": 60} for p in pids}
    )
    assert result.written == 12
    assert fake.calls("PATCH") == 2
    clock.advance(60)
    before = ledger.used(clock.now())
    reports = syncer.run(clock.now())
    assert calls_since(ledger, clock, before) == 3
    assert sum(sum(r.read.values()) for r in reports) == 0


def test_a_manager_field_is_never_overwritten(
    fake: FakeAirtable, base_ids: dict[str, str], client: AirtableClient, store: LocalStore, clock: FakeClock
) -> None:
    pids = seed(fake, base_ids, partners=2, referrals=0)
    syncer = Syncer(client, store)
    syncer.run(clock.now())
    fake.ui_update(base_ids["partners"], "Partners", pids[0], {"Notes": "manager typed this"})
    RecordWriter(store, client, clock.now).update(
        "partners", "Partners", {pids[0]: {"Health Score": 77, "Sync Notes": "x"}}
    )
    live = next(r for r in fake.records(base_ids["partners"], "Partners") if r["id"] == pids[0])
    assert live["fields"]["Notes"] == "manager typed this"
    assert live["fields"]["Health Score"] == 77


def test_renamed_field_triggers_a_full_resync_that_explains_it(
    fake: FakeAirtable, base_ids: dict[str, str], client: AirtableClient, store: LocalStore, clock: FakeClock
) -> None:
    seed(fake, base_ids, partners=5, referrals=0)
    syncer = Syncer(client, store)
    syncer.run(clock.now())
    fake.ui_rename_field(base_ids["partners"], "Partners", "Email", "E-mail")
    clock.advance(60)
    partners = syncer.run(clock.now())[0]
    assert partners.mode == "full" and partners.reason == "fields changed in Airtable"
    assert [str(d) for d in partners.differences] == [
        "Partners › Partners › Email: was renamed to 'E-mail'. Fix: rename 'E-mail' back to 'Email'; the jobs find fields by name"
    ]
    assert store.count("partners", "Partners") == 5  # still mirrored, without the renamed column


def test_expired_feed_falls_back_to_a_full_resync(
    fake: FakeAirtable, base_ids: dict[str, str], client: AirtableClient, store: LocalStore, clock: FakeClock
) -> None:
    pids = seed(fake, base_ids, partners=4, referrals=0)
    syncer = Syncer(client, store)
    syncer.run(clock.now())
    fake.expire_webhooks(base_ids["partners"])
    fake.ui_delete(base_ids["partners"], "Partners", pids[0])
    clock.advance(60)
    partners = syncer.run(clock.now())[0]
    assert partners.mode == "full" and partners.reason == "change feed expired"
    assert store.count("partners", "Partners") == 3
    clock.advance(60)
    assert syncer.run(clock.now())[0].mode == "incremental"


def test_silence_longer_than_the_feed_keeps_payloads_forces_a_full_resync(
    fake: FakeAirtable, base_ids: dict[str, str], client: AirtableClient, store: LocalStore, clock: FakeClock
) -> None:
    seed(fake, base_ids, partners=2, referrals=0)
    syncer = Syncer(client, store, full_every_days=30)
    syncer.run(clock.now())
    clock.advance(timedelta(days=6, hours=1).total_seconds())
    assert [r.reason for r in syncer.run(clock.now())] == ["change feed not polled for too long"] * 3


def test_a_sync_killed_before_saving_its_cursor_loses_nothing(
    fake: FakeAirtable, base_ids: dict[str, str], client: AirtableClient, store: LocalStore, clock: FakeClock
) -> None:
    pids = seed(fake, base_ids, partners=3, referrals=0)
    syncer = Syncer(client, store)
    syncer.run(clock.now())
    fake.ui_update(base_ids["partners"], "Partners", pids[0], {"Company": "Changed"})
    fake.fail_next(method="GET", path_contains="/Partners", status=500, times=3)  # the read fails after the poll
    clock.advance(60)
    with contextlib.suppress(Exception):
        syncer.run(clock.now())
    clock.advance(60)
    syncer.run(clock.now())
    assert store.get("partners", "Partners", pids[0]).fields["Company"] == "Changed"  # type: ignore[union-attr]


def test_what_the_feed_carries_is_exactly_what_a_read_returns(
    fake: FakeAirtable, base_ids: dict[str, str], client: AirtableClient, store: LocalStore, clock: FakeClock
) -> None:
    pids = seed(fake, base_ids, partners=3, referrals=0)
    syncer = Syncer(client, store)
    syncer.run(clock.now())
    clock.advance(60)
    pb = base_ids["partners"]
    fake.ui_update(pb, "Partners", pids[0], {"Type": "Agency", "Notes": ""})  # a select set, a cell cleared
    made = fake.ui_create(
        pb, "Activities", {"Activity": "Call", "Partner": [pids[1]], "Kind": "Meeting", "Date": "2026-11-01"}
    )
    fake.ui_update(pb, "Activities", made, {"Kind": "Call"})  # created, then changed, in one poll
    syncer.run(clock.now())
    for table, rid in (("Partners", pids[0]), ("Activities", made)):
        (truth,) = client.records_by_id(
            "partners", table, [rid], fields=store.get_state("sync:partners")["fields"][table]
        )
        mirrored = store.get("partners", table, rid)
        assert mirrored is not None
        assert (mirrored.created_time, mirrored.fields) == (truth.created_time, truth.fields)
    assert store.get("partners", "Activities", made).fields["Partner"] == [pids[1]]  # type: ignore[union-attr]


def test_a_feed_without_every_cell_falls_back_to_reading_changed_records(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    ledger: CallLedger,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import jobs.sync.syncer as syncer_module

    older = {"options": {"filters": syncer_module.WEBHOOK_SPEC["options"]["filters"]}}  # as set up by an older version
    monkeypatch.setattr(syncer_module, "WEBHOOK_SPEC", older)
    pids = seed(fake, base_ids, partners=5, referrals=0)
    syncer = Syncer(client, store)
    syncer.run(clock.now())
    clock.advance(60)
    for pid in pids[:4]:
        fake.ui_update(base_ids["partners"], "Partners", pid, {"Company": "Acme"})
    new = fake.ui_create(base_ids["partners"], "Partners", {"Name": "New", "Email": "new@x.example"})
    before = ledger.used(clock.now())
    (partners, _r, _c) = syncer.run(clock.now())
    assert partners.read == {"Partners": 4} and partners.carried == {"Partners": 1}  # a new record is whole anyway
    assert calls_since(ledger, clock, before) == 3 + 1
    assert store.get("partners", "Partners", pids[0]).fields["Company"] == "Acme"  # type: ignore[union-attr]
    assert store.get("partners", "Partners", new).fields["Name"] == "New"  # type: ignore[union-attr]


def test_cell_shapes_the_sync_does_not_understand_are_read_instead() -> None:
    from jobs.sync.feed import rest_value

    assert rest_value("singleSelect", {"id": "sel1", "name": "Gold", "color": "blue"}) == (True, "Gold")
    assert rest_value("multipleRecordLinks", [{"id": "rec1", "name": "Ana"}]) == (True, ["rec1"])
    assert rest_value("multipleSelects", [{"id": "s", "name": "A"}]) == (True, ["A"])
    assert rest_value("number", 4.5) == (True, 4.5)
    assert rest_value("singleLineText", {"unexpected": "shape"})[0] is False
    assert rest_value("multipleRecordLinks", ["rec1"])[0] is False
