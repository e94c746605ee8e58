"""A record brought back by hand from the archive file (Airtable's CSV import: a new record id)
is not pushed to the CRM again, makes no second deal, and is not counted twice in history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from integrations.http import Clock
from integrations.ledger import CallLedger
from jobs.app import App
from jobs.apply.archive import ArchiveFile
from jobs.plan import Count
from jobs.rules.archive_rows import CREATED_TIME, IDS_SUFFIX, RECORD_ID
from jobs.schedule.archive_job import ARCHIVE
from jobs.schedule.runner import run_jobs
from jobs.settings import Settings
from jobs.store.local import LocalStore
from tests.apps import make_app, run
from tests.fakes.hubspot import FakeHubSpot

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
THEN = NOW - timedelta(days=500)
PIA = "pia@agency.example"


@pytest.fixture
def hub() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(now=lambda: NOW) as fake:
        yield fake


def runtime(tmp_path: Path, store: LocalStore, hub: FakeHubSpot, now: datetime) -> App:
    settings = Settings(
        home=tmp_path, crm="hubspot", hubspot_token=hub.token, hubspot_api_url=hub.url, airtable_record_cap=0
    )
    return make_app(
        settings, store, CallLedger(tmp_path / "l.sqlite"), None, Clock(now=lambda: now, sleep=lambda _s: None)
    )


def pushed_and_won(tmp_path: Path, hub: FakeHubSpot) -> tuple[LocalStore, str]:
    """A referral pushed to the CRM 500 days ago and won since."""
    store = LocalStore(tmp_path / "store.sqlite")
    store.create("partners", "Partners", {"Name": "Pia Partner", "Email": PIA, "Joined On": "2024-01-02"}, created=THEN)
    fields = {
        "Referral": "Acme — Jo Buyer",
        "Direction": "From partner",
        "Partner Email": PIA,
        "Company": "Acme",
        "Contact Email": "jo@acme.example",
    }
    rid = store.create("referrals", "Referrals", fields, created=THEN - timedelta(hours=1)).id
    assert run(runtime(tmp_path, store, hub, THEN), "referrals", THEN).ok
    store.merge_fields("referrals", "Referrals", rid, {"Status": "Won", "Amount": 5000})
    return store, rid


def brought_back(store: LocalStore, tmp_path: Path, status: str) -> str:
    """The archived row imported into the table again, as Airtable's CSV import would (new id)."""
    (row,) = ArchiveFile(tmp_path / "archive" / "referrals-Referrals.csv").read()[1]
    skip = {RECORD_ID, CREATED_TIME, "Sync Notes"}
    cells: dict[str, object] = {k: v for k, v in row.items() if k not in skip and not k.endswith(IDS_SUFFIX) and v}
    cells["Amount"] = float(str(cells["Amount"]))
    cells["Status"] = status
    return store.create("referrals", "Referrals", cells, created=NOW).id


def scored(tmp_path: Path, store: LocalStore, hub: FakeHubSpot) -> tuple[object, ...]:
    """The partner's Won Referrals, Last and First Referral On and score, as the health job writes them."""
    assert run(runtime(tmp_path, store, hub, NOW), "health", NOW).ok
    (partner,) = store.all("partners", "Partners")
    names = ("Won Referrals", "Last Referral On", "First Referral On", "Health Score")
    return tuple(partner.get(n) for n in names)


@pytest.mark.parametrize("status", ["In CRM", "Won"])
def test_a_record_brought_back_is_not_pushed_again_nor_counted_twice(
    tmp_path: Path, hub: FakeHubSpot, status: str
) -> None:
    store, rid = pushed_and_won(tmp_path, hub)
    (deal,) = hub.deals()
    before = scored(tmp_path, store, hub)
    assert before[0] == 1
    (job,) = run_jobs(runtime(tmp_path, store, hub, NOW), [ARCHIVE], NOW)
    assert job.counts[Count.ARCHIVED] == 1 and store.is_archived("referrals", "Referrals", rid)

    again = brought_back(store, tmp_path, status)
    assert store.get("referrals", "Referrals", again).fields["CRM ID"] == deal["id"]  # type: ignore[union-attr]
    outcome = run(runtime(tmp_path, store, hub, NOW + timedelta(hours=1)), "referrals", NOW + timedelta(hours=1))
    assert outcome.ok, outcome.failures
    assert outcome.counts[Count.PUSHED] == 0
    assert [d["id"] for d in hub.deals()] == [deal["id"]]  # no second deal
    if status == "Won":
        assert scored(tmp_path, store, hub) == before  # counted once, registered when it first was
    else:  # its deal is followed again: the CRM says won, the brought-back record says Won
        hub.set_stage(deal["id"], "closedwon", amount=7000)
        later = NOW + timedelta(hours=2)
        assert run(runtime(tmp_path, store, hub, later), "stages", later).ok
        cells = store.get("referrals", "Referrals", again).fields  # type: ignore[union-attr]
        assert cells["Status"] == "Won" and cells["Amount"] == 7000
