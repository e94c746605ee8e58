"""The managers' view rules on small hand-made records: weeks and zones, snapshots, won/lost
since the last digest, circle moves, Sync Notes, Health Detail and referrals given."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bases.records import Record
from jobs.rules.metrics import (
    Capacity,
    WeeklySnapshot,
    backfill,
    compute_metrics,
    given_counts,
    health_detail,
    merge_history,
    needs_attention,
    previous_snapshot,
    report_week,
    snapshot_of,
    week_changes,
)
from jobs.rules.scores import HealthSettings, score_partner

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
NOW = datetime(2026, 6, 1, 6, 0, tzinfo=timezone.utc)  # Monday 08:00 in Berlin
_ids = itertools.count()


def rec(created: str, **fields: Any) -> Record:
    return Record(f"rec{next(_ids):05d}", created, fields)


def partner(name: str = "Ana Silva", email: str = "ana@acme.example", **fields: Any) -> Record:
    return rec("2025-01-01T10:00:00.000Z", Name=name, Email=email, Company="Acme", **fields)


def referral(created: str, status: str = "In CRM", direction: str = "From partner", **fields: Any) -> Record:
    base = {"Direction": direction, "Partner Email": "ana@acme.example", "Status": status, "Referral": "Lead"}
    return rec(created, **{**base, **fields})


# --- weeks and zones -------------------------------------------------------------------------


def test_the_report_week_is_the_last_complete_iso_week_in_the_local_zone() -> None:
    assert report_week(NOW, BERLIN).label == "2026-W22"
    assert report_week(datetime(2026, 5, 31, 23, 30, tzinfo=BERLIN), BERLIN).label == "2026-W21"  # Sunday night
    assert report_week(datetime(2026, 6, 1, 0, 30, tzinfo=BERLIN), BERLIN).label == "2026-W22"  # Monday 00:30
    # 22:30 UTC on Sunday is already Monday in Berlin, not yet in UTC
    sunday_night = datetime(2026, 5, 31, 22, 30, tzinfo=timezone.utc)
    assert (report_week(sunday_night, BERLIN).label, report_week(sunday_night, UTC).label) == ("2026-W22", "2026-W21")
    assert report_week(datetime(2027, 1, 4, 9, tzinfo=UTC), UTC).label == "2026-W53"


def test_a_referral_counts_in_the_week_of_its_local_day() -> None:
    refs = [
        referral("2026-05-24T22:30:00.000Z", Attribution="Sourced"),  # Mon 25 May 00:30 in Berlin: in W22
        referral("2026-05-31T22:30:00.000Z", Attribution="Sourced"),  # Mon 1 Jun 00:30 in Berlin: W23
        referral("2026-05-27T12:00:00.000Z", Attribution="Influenced"),
        referral("2026-05-27T12:00:00.000Z", status="Duplicate"),  # not sourced
        referral("2026-05-27T12:00:00.000Z", status="New"),  # sourced until the CRM says otherwise
    ]
    berlin, utc = backfill(refs, NOW, BERLIN, weeks=2), backfill(refs, NOW, UTC, weeks=2)
    assert [(w.week, w.sourced, w.influenced) for w in berlin] == [("2026-W21", 0, 0), ("2026-W22", 2, 1)]
    assert [(w.week, w.sourced, w.influenced) for w in utc] == [("2026-W21", 1, 0), ("2026-W22", 2, 1)]


# --- snapshots -------------------------------------------------------------------------------


def test_a_snapshot_survives_json_and_rejects_anything_else() -> None:
    snap = WeeklySnapshot(
        "2026-W22", 7, 2, {"Top": 3, "New": 1}, "2026-06-01T06:00:00.000Z", 1500.0, 0.25, None, 12.0, ("recA",), ()
    )
    assert WeeklySnapshot.from_json(snap.to_json()) == snap
    assert WeeklySnapshot.from_json(WeeklySnapshot("2026-W01", 0, 0).to_json()) == WeeklySnapshot("2026-W01", 0, 0)
    for bad in ("", "[]", '{"version": 99, "week": "x"}', '{"version": 1}', "{nope"):
        with pytest.raises(ValueError):
            WeeklySnapshot.from_json(bad)


def test_stored_snapshots_win_over_the_backfill_and_the_previous_one_is_the_newest_before() -> None:
    filled = [WeeklySnapshot(f"2026-W{n}", n, 0) for n in (20, 21, 22)]
    stored = [
        WeeklySnapshot("2026-W21", 99, 1, {"Top": 4}, "2026-05-25T06:00:00.000Z"),
        WeeklySnapshot("2026-W10", 5, 5, {"Top": 1}, "2026-03-09T06:00:00.000Z"),
    ]
    merged = merge_history(stored, filled)
    assert [(s.week, s.sourced, s.bands) for s in merged] == [
        ("2026-W20", 20, None),
        ("2026-W21", 99, {"Top": 4}),
        ("2026-W22", 22, None),
    ]
    assert previous_snapshot(stored, "2026-W22") == stored[0]
    assert previous_snapshot(stored, "2026-W21") == stored[1]
    assert previous_snapshot(filled, "2026-W22") is None  # a backfilled week was never taken
    assert previous_snapshot([WeeklySnapshot("2025-W52", 0, 0, taken_at="x")], "2026-W01") is not None


def test_snapshot_of_refuses_metrics_of_another_week() -> None:
    m = compute_metrics([partner()], [], [], [], [], NOW, BERLIN, HealthSettings())
    with pytest.raises(ValueError):
        snapshot_of(m, NOW + timedelta(days=7), BERLIN)


# --- the week's changes ----------------------------------------------------------------------


def test_won_and_lost_are_those_closed_since_the_previous_snapshot() -> None:
    old_won = referral("2026-01-05T10:00:00.000Z", "Won", Amount=1000)
    new_won = referral("2026-03-05T10:00:00.000Z", "Won", Amount=2500)
    new_won2 = referral("2026-03-06T10:00:00.000Z", "Won", Amount="1,500")
    new_lost = referral("2026-03-07T10:00:00.000Z", "Lost")
    refs = [old_won, new_won, new_won2, new_lost]
    previous = WeeklySnapshot("2026-W21", 0, 0, {}, "2026-05-25T06:00:00.000Z", won_ids=(old_won.id,), lost_ids=())
    c = week_changes([partner()], refs, [], [], NOW, BERLIN, previous)
    assert (c.won, c.lost, c.won_amount, c.since) == (2, 1, 4000.0, "2026-W21")
    unknown = week_changes([partner()], refs, [], [], NOW, BERLIN, None)
    assert (unknown.won, unknown.lost, unknown.won_amount) == (None, None, None)


def test_new_referrals_that_wait_for_a_manager_and_given_ones() -> None:
    in_week = "2026-05-26T09:00:00.000Z"
    refs = [
        referral(in_week, "New", **{"Sync Notes": "Contact Email: 'jane@' is not a valid e-mail address"}),
        referral(in_week, "New"),
        referral(in_week, "Duplicate"),
        referral(in_week, "Rejected"),
        referral(in_week, "Accepted", **{"CRM Pushed At": "2026-05-26T09:05:00.000Z"}),
        referral("2026-05-10T09:00:00.000Z", "In CRM", **{"CRM Pushed At": "2026-05-27T09:05:00.000Z"}),
        referral(
            "2026-05-10T09:00:00.000Z", "Introduced", "To partner", **{"Intro Sent At": "2026-05-28T09:00:00.000Z"}
        ),
        referral(in_week, "Introduced", "To partner"),  # marked by hand, no intro time: its created day
        referral(in_week, "New", "To partner"),  # not given yet
    ]
    c = week_changes([partner()], refs, [], [], NOW, BERLIN, None)
    assert (c.new_from_partner, c.accepted, c.needs_fix, c.waiting, c.duplicate, c.rejected) == (5, 1, 1, 1, 1, 1)
    assert (c.pushed, c.given) == (2, 2)


def test_circle_joins_and_leaves_of_the_week_by_partner_name() -> None:
    circle = rec("2025-01-01T00:00:00.000Z", Name="Top Partners", Active=True)
    other = rec("2025-01-01T00:00:00.000Z", Name="Inner circle", Active=True)
    ana, ben = partner(), partner("Ben Okafor", "ben@bolt.example")
    members = [
        rec(
            "2026-05-27T08:00:00.000Z",
            Circle=[circle.id],
            **{"Partner Email": "ANA@acme.example ", "Status": "Active", "Joined On": "2026-05-27"},
        ),
        rec(
            "2026-01-01T08:00:00.000Z",
            Circle=[circle.id],
            **{
                "Partner Email": "ben@bolt.example",
                "Status": "Removed",
                "Joined On": "2026-01-01",
                "Removed On": "2026-05-31",
                "Reason": "No sourced referral for 90 days",
            },
        ),
        rec(
            "2026-05-20T08:00:00.000Z",
            Circle=[other.id],
            **{"Partner Email": "ben@bolt.example", "Status": "Active", "Joined On": "2026-05-20"},
        ),  # the week before
        rec(
            "2026-05-27T08:00:00.000Z",
            Circle=[other.id],
            **{"Partner Email": "ana@acme.example", "Status": "Pending invite"},
        ),
    ]
    c = week_changes([ana, ben], [], members, [circle, other], NOW, BERLIN, None)
    assert [(x.circle, x.joined, x.left) for x in c.circles] == [
        ("Top Partners", ("Ana Silva",), (("Ben Okafor", "No sourced referral for 90 days"),))
    ]
    a = needs_attention([ana, ben], [], [], members, [circle, other], NOW, BERLIN)
    assert [(p.partner, p.circle) for p in a.pending_invites] == [("Ana Silva", "Inner circle")]
    m = compute_metrics([ana, ben], [], [], members, [circle, other], NOW, BERLIN, HealthSettings())
    assert m.circle_members == (("Top Partners", 1), ("Inner circle", 1))


def test_records_with_sync_notes_referrals_first_newest_first() -> None:
    p = partner(**{"Sync Notes": "Email: is empty"})
    old = referral("2026-05-01T09:00:00.000Z", "New", Referral="Old lead", **{"Sync Notes": "Partner Email: unknown"})
    new = referral("2026-05-30T09:00:00.000Z", "New", Referral="New lead", **{"Sync Notes": "\n  first line\nsecond"})
    act = rec("2026-05-02T09:00:00.000Z", Activity="Call", **{"Sync Notes": "Partner: is empty"})
    a = needs_attention([p], [old, new], [act], [], [], NOW, BERLIN)
    assert [(n.table, n.name, n.note) for n in a.notes] == [
        ("Referrals", "New lead", "first line"),
        ("Referrals", "Old lead", "Partner Email: unknown"),
        ("Partners", "Ana Silva", "Email: is empty"),
        ("Activities", "Call", "Partner: is empty"),
    ]
    assert a.total == 4


def test_capacity_warns_past_80_percent_and_not_without_a_cap() -> None:
    cap = Capacity(500, 1200, 1000, {"Partners": 420, "Referrals": 810}, 1000)
    assert cap.full_bases == ["Referrals"] and cap.over_allowance and cap.share("Partners") == 0.42
    uncapped = Capacity(1, 2, 1000, {"Referrals": 5000}, 0)
    assert uncapped.full_bases == [] and uncapped.share("Referrals") is None and not uncapped.over_allowance


# --- Health Detail and referrals given -------------------------------------------------------

TODAY = date(2026, 6, 1)


def at(days: int) -> str:
    return (datetime(2026, 6, 1, 12, tzinfo=timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def activity(days: int) -> Record:
    return rec(at(400), Activity="Call", Partner=["p"], Date=(TODAY - timedelta(days=days)).isoformat())


def test_health_detail_in_plain_words() -> None:
    score = score_partner(partner(), [referral(at(20), "In CRM"), referral(at(40), "New")], [activity(10)], TODAY)
    assert health_detail(score) == (
        "recency 85: last referral within 30 days · volume 67: 2 referrals in 90 days · "
        "quality 50: no closed referral in a year · engagement 50: 1 activity in 90 days"
    )
    busy = score_partner(
        partner(),
        [referral(at(d), s) for d, s in ((1, "Won"), (5, "Lost"), (9, "In CRM"), (30, "Won"))],
        [activity(1), activity(2), activity(3)],
        TODAY,
    )
    assert health_detail(busy) == (
        "recency 100: last referral within 14 days · volume 100: 3 or more referrals in 90 days · "
        "quality 60: 2 won of 3 closed in a year · engagement 100: 2 or more activities in 90 days"
    )
    idle = score_partner(partner(), [], [], TODAY)
    assert health_detail(idle).startswith("recency 0: no referral yet · volume 0: no referral in 90 days")
    gone = score_partner(partner(), [referral(at(200), "Lost")], [], TODAY)
    assert health_detail(gone).startswith("recency 0: no referral in 180 days")
    assert "quality 33: 0 won of 1 closed in a year" in health_detail(gone)


@settings(max_examples=60, deadline=None)
@given(
    referral_days=st.lists(st.integers(0, 400), max_size=6),
    activity_days=st.lists(st.integers(0, 200), max_size=4),
    closed=st.lists(st.sampled_from(["Won", "Lost", "In CRM"]), min_size=6, max_size=6),
)
def test_health_detail_changes_with_the_parts_not_with_the_days(
    referral_days: list[int], activity_days: list[int], closed: list[str]
) -> None:
    refs = [referral(at(d), s) for d, s in zip(referral_days, closed, strict=False)]
    acts = [activity(d) for d in activity_days]
    texts: dict[tuple[float, ...], set[str]] = {}
    for shift in range(0, 400, 3):  # the same records, read on later and later days
        sc = score_partner(partner(), refs, acts, TODAY + timedelta(days=shift))
        parts = (sc.recency, sc.volume, sc.quality, sc.engagement, sc.won_in_window, sc.closed_in_window)
        texts.setdefault(parts, set()).add(health_detail(sc))
    # one text per set of parts (quality's won/closed counts included): the days alone change nothing
    assert all(len(t) == 1 for t in texts.values())


def test_given_counts_to_partner_referrals_introduced_or_later() -> None:
    ana, ben = partner(), partner("Ben", "ben@bolt.example")
    refs = [
        referral(at(50), "Introduced", "To partner", **{"Intro Sent At": "2026-04-12T23:30:00.000Z"}),
        referral(at(10), "Won", "To partner"),
        referral(at(5), "New", "To partner"),  # not introduced yet
        referral(at(3), "In CRM"),  # From partner: not given
        referral(at(2), "Introduced", "To partner", **{"Partner Email": "stranger@nowhere.example"}),
    ]
    counts = given_counts(refs, [ana, ben])
    assert counts == {"ana@acme.example": (2, TODAY - timedelta(days=10)), "ben@bolt.example": (0, None)}
    assert counts["ana@acme.example"].total == 2
