"""The archive end to end against the fake Airtable over HTTP: a base past 80% of the record cap
is archived down to under 70%, history (scores, metrics, the duplicate rule) is the same after,
a run killed anywhere loses nothing and writes nothing twice, an edited record is kept, and a
dry run changes nothing."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from jobs.plan import Count
from jobs.rules.attention import reciprocity
from jobs.rules.metrics import compute_metrics
from jobs.schedule.capacity import read_capacity
from jobs.schedule.inputs import history
from jobs.schedule.runner import run_jobs
from jobs.schedule.tiers import cycle_jobs, tick
from tests.archive_world import World, archive, email, seed
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.killing import Killed, kill_at

CAP = 100


@pytest.fixture
def world(fake: FakeAirtable, base_ids: dict[str, str], clock: FakeClock, tmp_path: Path) -> World:
    w = World(fake, base_ids, clock, tmp_path / "home", CAP)
    seed(w, old_activities=70)
    fake.record_cap = CAP
    return w


def cycle(world: World) -> None:
    app = world.app()
    outcomes = run_jobs(app, cycle_jobs(None), world.now())
    assert all(o.ok for o in outcomes), [o.failures for o in outcomes]
    app.close()


def managers_view(world: World, now: datetime) -> tuple[object, ...]:
    """The managers' metrics and reciprocity at ``now``, from what the store holds."""
    app = world.app()
    s = app.store
    partners = s.all("partners", "Partners")
    referrals = history(app, "referrals", "Referrals")
    activities = history(app, "partners", "Activities")
    zone = app.settings.zone
    metrics = compute_metrics(
        partners,
        referrals,
        activities,
        s.all("circles", "Members"),
        s.all("circles", "Circles"),
        now,
        zone,
        app.settings.health,
    )
    owed = reciprocity(partners, referrals, now, zone)
    app.close()
    return metrics, owed


def test_a_base_past_80_percent_is_archived_below_70_and_history_is_the_same(world: World) -> None:
    cycle(world)
    when = world.now()
    scores, view = world.partner_cells(), managers_view(world, when)
    referrals_before = world.records("referrals", "Referrals")
    assert len(referrals_before) == 85 and world.fake.base_records(world.ids["partners"]) == 79

    app = world.app()
    sync, job = archive(app)
    app.close()
    assert job.ok, job.failures
    assert job.counts[Count.ARCHIVED] == 16 + 10
    assert world.fake.base_records(world.ids["referrals"]) == 69  # under 70% of 100
    assert world.fake.base_records(world.ids["partners"]) == 69
    rows = world.csv_rows("referrals", "Referrals")
    gone = set(referrals_before) - set(world.records("referrals", "Referrals"))
    assert [r["Record ID"] for r in rows] == sorted(gone, key=[*referrals_before].index)  # oldest first
    assert {r["Status"] for r in rows} <= {"Won", "Lost", "Expired", "Duplicate", "Rejected"}
    first = rows[0]
    assert first["Referral"] == "Old 0 — Buyer" and first["Notes"] == "met at the fair\nline two of 0"
    assert first["Amount"] == "1000" and first["CRM ID"] == "deal-0" and first["Created Time"]
    activities = world.csv_rows("partners", "Activities")
    assert len(activities) == 10 and activities[0]["Partner"].startswith("Partner ")
    assert activities[0]["Partner (record ids)"].startswith("rec")
    store = world.app().store
    assert all(store.is_archived("referrals", "Referrals", rid) for rid in gone)

    cycle(world)
    assert world.partner_cells() == scores  # every partner's score, band, Won Referrals unchanged
    assert managers_view(world, when) == view


def test_the_duplicate_rule_still_sees_an_archived_won_deal(world: World) -> None:
    cycle(world)
    app = world.app()
    archive(app)
    won = next(r for r in world.csv_rows("referrals", "Referrals") if r["Status"] == "Won")
    referrals = history(app, "referrals", "Referrals")
    assert won["Record ID"] in {r.id for r in referrals}
    app.close()
    new = world.fake.ui_create(
        world.ids["referrals"],
        "Referrals",
        {
            "Referral": "Again",
            "Direction": "From partner",
            "Partner Email": email(1),
            "Company Domain": won["Company Domain"],
        },
    )
    cycle(world)
    cells = world.records("referrals", "Referrals")[new]
    assert cells["Status"] == "Duplicate" and won["Referral"] in str(cells["Conflict With"])


def test_the_archive_costs_one_call_per_10_records_beyond_its_sync(world: World) -> None:
    cycle(world)
    app = world.app()
    sync, job = archive(app)
    app.close()
    deletes = world.fake.calls("DELETE", "/v0/app")
    assert job.calls == deletes == 2 + 1  # 16 referrals, 10 activities
    assert sync.calls == 3  # one change-feed poll per base


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 6])
def test_a_run_killed_anywhere_loses_nothing_and_writes_nothing_twice(world: World, k: int, after: bool) -> None:
    cycle(world)
    before = {**world.records("referrals", "Referrals"), **world.records("partners", "Activities")}
    app = world.app()
    kill_at(app, k, after=after)
    with pytest.raises(Killed):
        archive(app)
    app.close()
    world.clock.advance(600)
    app = world.app()
    sync, job = archive(app)
    assert job.ok, job.failures
    rows = world.csv_rows("referrals", "Referrals") + world.csv_rows("partners", "Activities")
    written = Counter(r["Record ID"] for r in rows)
    assert len(rows) == 26 and set(written.values()) == {1}
    live = {**world.records("referrals", "Referrals"), **world.records("partners", "Activities")}
    assert not set(written) & set(live)
    assert set(before) == set(live) | set(written)  # nothing lost
    tables = {
        r["Record ID"]: ("referrals", "Referrals") if "Referral" in r else ("partners", "Activities") for r in rows
    }
    assert all(app.store.is_archived(*tables[rid], rid) for rid in written)
    again = archive(app)[1]
    assert again.counts[Count.ARCHIVED] == 0 and len(world.csv_rows("referrals", "Referrals")) == 16
    app.close()


def test_a_record_edited_after_it_was_chosen_is_not_deleted(world: World) -> None:
    cycle(world)
    app = world.app()
    kill_at(app, 4, after=False)  # (Activities first) ten Referrals in the file, not yet deleted
    with pytest.raises(Killed):
        archive(app)
    app.close()
    (first, *_rest) = world.csv_rows("referrals", "Referrals")
    world.fake.ui_update(world.ids["referrals"], "Referrals", first["Record ID"], {"Notes": "call back in May"})
    world.clock.advance(600)
    app = world.app()
    archive(app)
    live = world.records("referrals", "Referrals")
    assert live[first["Record ID"]]["Notes"] == "call back in May"  # kept
    assert not app.store.is_archived("referrals", "Referrals", first["Record ID"])
    rows = world.csv_rows("referrals", "Referrals")
    assert Counter(r["Record ID"] for r in rows)[first["Record ID"]] == 1  # its row as chosen, once
    assert len(rows) == 16 + 1  # 16 archived (one more went in its place), and the kept one's row
    again = archive(app)[1]
    assert again.counts[Count.ARCHIVED] == 0  # edited: touched now, not chosen again
    app.close()


def test_a_dry_run_lists_what_would_go_and_changes_nothing(world: World) -> None:
    cycle(world)
    app = world.app()
    store_before = {r.id for r in app.store.all("referrals", "Referrals")}
    records_before = world.records("referrals", "Referrals")
    copy = app.dry_copy()
    outcomes = archive(copy)
    assert all(o.ok for o in outcomes)
    lines = copy.dry.lines if copy.dry else []
    listed = "\n".join(lines)
    assert "write 10 Referrals record(s) to archive/referrals-Referrals.csv" in listed
    assert "Old 0 — Buyer" in listed and "delete the same 6 Referrals record(s) from Airtable" in listed
    assert world.records("referrals", "Referrals") == records_before
    assert {r.id for r in app.store.all("referrals", "Referrals")} == store_before
    assert not (world.home / "archive").exists()
    assert world.fake.calls("DELETE") == 0
    app.close()


def test_auto_archives_in_the_daily_tier_only_past_80_percent(world: World) -> None:
    cycle(world)
    world.archive = "auto"
    world.clock.advance(timedelta(days=1).total_seconds())
    app = world.app()
    report = tick(app, world.now())
    assert [o.job for o in report.outcomes][:2] == ["sync", "archive"]
    archived = report.outcomes[1]
    assert archived.counts[Count.ARCHIVED] == 16  # Referrals at 85%; Partners at 79% stays
    assert world.fake.base_records(world.ids["partners"]) == 79
    app.close()


def test_the_digest_gets_records_per_base_against_the_cap(world: World) -> None:
    cycle(world)
    app = world.app()
    cap = read_capacity(app, world.now())
    assert cap.records == {"Partners": 79, "Referrals": 85, "Circles": 0} and cap.record_cap == CAP
    assert cap.full_bases == ["Referrals"] and cap.calls_used > 0
    archive(app)
    assert read_capacity(app, world.now()).full_bases == []
    app.close()
