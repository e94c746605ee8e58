"""At 100% of the record cap: a create Airtable refuses (a circle's new Members record) is held,
explained to the managers, costs no call while the base stays full, and goes through — once —
after the archive made room."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from integrations.airtable import AirtableError
from jobs.apply.room import is_cap_refusal
from jobs.plan import Count
from jobs.schedule.runner import run_jobs
from jobs.schedule.tiers import cycle_jobs
from tests.apps import run
from tests.archive_world import World, archive, email, seed
from tests.fakes.airtable import RECORD_CAP_MESSAGE, RECORD_CAP_TYPE, FakeAirtable, FakeClock
from tests.test_archive import cycle

CAP = 100
CHANNEL, MANAGERS = "G0CIRCLE01", "C0MANAGERS"


def outbox(world: World, kind: str) -> list[str]:
    """The outbox files of this kind, leaving out the weekly digest (it has its own tests)."""
    folder = world.home / "outbox" / "slack"
    found = [p.read_text() for p in sorted(folder.glob(f"slack-{kind}-*"))] if folder.exists() else []
    return [text for text in found if "\nkey: digest:" not in text]


@pytest.fixture
def world(fake: FakeAirtable, base_ids: dict[str, str], clock: FakeClock, tmp_path: Path) -> World:
    w = World(fake, base_ids, clock, tmp_path / "home", CAP, manager_channel=MANAGERS)
    seed(w)
    circle = fake.ui_create(
        base_ids["circles"],
        "Circles",
        {"Name": "Top Partners", "Slack Channel ID": CHANNEL, "Enter Score": 75, "Leave Score": 50, "Active": True},
    )
    removed_on = (w.now() - timedelta(days=500)).date().isoformat()
    for i in range(CAP - 2):
        fake.ui_create(
            base_ids["circles"],
            "Members",
            {
                "Member": f"Top Partners: old{i}@gone.example",
                "Circle": [circle],
                "Partner Email": f"old{i}@gone.example",
            }
            | {"Status": "Removed", "Removed On": removed_on, "Reason": "stale"},
            created=w.now() - timedelta(days=600),
        )
    for rid in w.records("partners", "Partners"):  # the circle closed to everyone, for now
        fake.ui_update(base_ids["partners"], "Partners", rid, {"Circle Override": "Never in"})
    fake.record_cap = CAP
    return w


def test_a_create_the_full_base_refuses_is_explained_kept_and_done_after_archiving(world: World) -> None:
    cycle_before_full(world)
    # A manager adds a record the mirror has not seen: Airtable holds 100, the mirror 99.
    world.fake.ui_create(world.ids["circles"], "Members", {"Member": "by hand", "Status": "Removed"})
    app = world.app()
    outcome = run(app, "circles", world.now())
    assert not outcome.ok
    (why,) = outcome.failures
    assert "Members: Partner 0 Active in Top Partners: waits: the Circles base is full (100 of 100 records)" in why
    assert "Nothing is lost" in why and "partnerops archive" in why
    (post,) = outbox(world, "post-managers")
    assert f"POST in channel {MANAGERS}" in post and "*Circles* base is full (100 of 100 records)" in post
    assert outbox(world, "dm") == []  # the welcome waits for its Members record
    upserts = world.fake.calls("PATCH", "/Members")
    assert upserts == 1

    again = run(app, "circles", world.now() + timedelta(hours=1))
    assert world.fake.calls("PATCH", "/Members") == upserts  # no call while the base is full
    assert again.counts[Count.JOINS] == 0 and len(outbox(world, "post-managers")) == 1
    assert len(outbox(world, "invite")) == 1  # not decided again while it waits
    outcomes = run_jobs(app, cycle_jobs(None), world.now() + timedelta(hours=1))
    assert [o.job for o in outcomes if any("waits" in f for f in o.failures)] == ["circles"]  # said once
    assert world.fake.calls("PATCH", "/Members") == upserts

    assert archive(app)[1].counts[Count.ARCHIVED] == 31 + 16  # Circles 100 → 69, and Referrals 85 → 69
    done = run(app, "circles", world.now() + timedelta(hours=2))
    assert done.ok, done.failures
    members = world.records("circles", "Members").values()
    assert [m["Status"] for m in members if m.get("Partner Email") == email(0)] == ["Active"]
    assert len(outbox(world, "dm")) == 1 and len(outbox(world, "invite")) == 1  # welcomed once
    app.close()


def cycle_before_full(world: World) -> None:
    """A settled program; then a manager puts Partner 0 "Always in" the circle (synced)."""
    cycle(world)
    partners = world.records("partners", "Partners")
    first = next(rid for rid, c in partners.items() if c["Email"] == email(0))
    world.fake.ui_update(world.ids["partners"], "Partners", first, {"Circle Override": "Always in"})
    app = world.app()
    run(app, "sync", world.now())
    app.close()


def test_the_fakes_refusal_is_read_as_the_base_being_full() -> None:
    exc = AirtableError(422, RECORD_CAP_TYPE, RECORD_CAP_MESSAGE.format(cap=1000))
    assert is_cap_refusal(exc)
    assert not is_cap_refusal(AirtableError(422, "INVALID_VALUE_FOR_COLUMN", 'Field "Status" cannot accept it'))
    assert not is_cap_refusal(AirtableError(429, "RATE_LIMIT_REACHED", "Rate limit exceeded"))
