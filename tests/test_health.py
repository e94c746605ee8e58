"""Health score rules (SPEC §3), Stage moves (SPEC §2.1) and the `health` job."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bases.records import Record, format_datetime
from jobs.apply.writer import RecordWriter
from jobs.plan import Count
from jobs.rules.health import assess_health as plan_health
from jobs.rules.scores import (
    HealthSettings,
    band_for,
    round_half_up,
    score_partner,
)
from jobs.settings import Settings
from jobs.store.local import LocalStore
from tests.apps import dry, make_app, run

NOW = date(2026, 6, 1)
NOW_DT = datetime.combine(NOW, time(6, 0), tzinfo=timezone.utc)
_ids = itertools.count()


def at(days_ago: int) -> str:
    """A createdTime `days_ago` days before NOW, at noon UTC."""
    return format_datetime(datetime.combine(NOW - timedelta(days=days_ago), time(12, 0), tzinfo=timezone.utc))


def day(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def partner(pid: str = "recAna", *, created_ago: int = 400, **fields: Any) -> Record:
    base: dict[str, Any] = {"Name": "Ana", "Email": "ana@partner.example"}
    return Record(pid, at(created_ago), {**base, **fields})


def ref(
    days_ago: int, status: str | None = "New", *, direction: str = "From partner", email: str = "ana@partner.example"
) -> Record:
    fields: dict[str, Any] = {"Direction": direction, "Partner Email": email}
    if status:
        fields["Status"] = status
    return Record(f"recR{next(_ids)}", at(days_ago), fields)


def act(days_ago: int, pid: str = "recAna") -> Record:
    return Record(f"recA{next(_ids)}", at(400), {"Activity": "Call", "Partner": [pid], "Date": day(days_ago)})


def score(refs: list[Record] = (), acts: list[Record] = (), **partner_fields: Any):  # type: ignore[no-untyped-def,assignment]
    return score_partner(partner(**partner_fields), refs, acts, NOW)


# --- the parts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_ago", "recency"),
    [
        (0, 100),
        (14, 100),
        (15, 85),
        (30, 85),
        (31, 70),
        (60, 70),
        (61, 50),
        (90, 50),
        (91, 25),
        (180, 25),
        (181, 0),
        (None, 0),
    ],
)
def test_recency_steps(days_ago: int | None, recency: int) -> None:
    s = score([] if days_ago is None else [ref(days_ago)])
    assert s.recency == recency


def test_recency_uses_the_newest_sourced_referral() -> None:
    assert score([ref(200), ref(20), ref(100)]).recency == 85


@pytest.mark.parametrize(
    "bad",
    [
        ref(3, "Duplicate"),
        ref(3, "Rejected"),
        ref(3, direction="To partner"),
        ref(3, email="someone.else@partner.example"),
        ref(-1),  # a registration after `now` has not happened yet
    ],
)
def test_referrals_that_do_not_count(bad: Record) -> None:
    s = plan_health([partner()], [bad], [], NOW).scores["recAna"]
    assert (s.recency, s.referrals_90d, s.last_referral_on) == (0, 0, None)


@pytest.mark.parametrize("status", [None, "New", "Accepted", "In CRM", "Won", "Lost", "Expired"])
def test_every_other_status_is_sourced(status: str | None) -> None:
    assert score([ref(3, status)]).recency == 100


@pytest.mark.parametrize(
    ("days", "volume"),
    [
        ([], 0),
        ([1], 100 / 3),
        ([1, 2], 200 / 3),
        ([1, 2, 3], 100),
        ([1, 2, 3, 4, 5], 100),
        ([90], 100 / 3),
        ([91], 0),
        ([90, 91, 300], 100 / 3),
    ],
)
def test_volume(days: list[int], volume: float) -> None:
    s = score([ref(d) for d in days])
    assert s.volume == pytest.approx(volume)
    assert s.referrals_90d == sum(1 for d in days if d <= 90)


@pytest.mark.parametrize(
    ("statuses", "quality"),
    [
        ([], 50),
        (["New", "In CRM"], 50),
        (["Won"], 200 / 3),
        (["Lost"], 100 / 3),
        (["Won", "Won", "Won", "Lost"], 400 / 6),
        (["Lost", "Lost"], 25),
    ],
)
def test_quality_prior(statuses: list[str], quality: float) -> None:
    assert score([ref(10, s) for s in statuses]).quality == pytest.approx(quality)


def test_quality_window_is_365_days_of_registration() -> None:
    s = score([ref(365, "Won"), ref(366, "Won"), ref(400, "Lost")])
    assert (s.won_in_window, s.closed_in_window, s.quality) == (1, 1, pytest.approx(200 / 3))
    assert s.won_referrals == 2  # all time


@pytest.mark.parametrize(
    ("days", "engagement"),
    [
        ([], 0),
        ([0], 50),
        ([5, 80], 100),
        ([1, 2, 3], 100),
        ([90], 50),
        ([91], 0),
        ([-2], 0),
    ],
)
def test_engagement(days: list[int], engagement: float) -> None:
    assert score(acts=[act(d) for d in days]).engagement == engagement


def test_activities_of_other_partners_do_not_count() -> None:
    plan = plan_health([partner(), partner("recBo", Email="bo@partner.example")], [], [act(1, "recBo")], NOW)
    assert (plan.scores["recAna"].engagement, plan.scores["recBo"].engagement) == (0, 50)


# --- the total, rounding and bands -------------------------------------------------------


def test_round_half_up_not_bankers() -> None:
    assert round(62.5) == 62  # Python's round; the score uses half up instead
    assert [round_half_up(Fraction(x)) for x in ("62.5", "62.49", "63.5", "0.5")] == [63, 62, 64, 1]


@pytest.mark.parametrize(
    ("refs", "acts", "total"),
    [
        ([ref(200)], [], 13),  # 0.25·50 quality = 12.5 → 13 (banker's round would give 12)
        ([ref(200)], [act(1)], 18),  # 12.5 + 5 = 17.5 → 18
        ([ref(3)], [], 61),  # 40 + 8.33 + 12.5 = 60.83
        ([ref(3), ref(4), ref(5, "Won")], [act(1), act(2)], 92),  # 40 + 25 + 16.67 + 10 = 91.67
        ([], [], 13),
    ],
)
def test_weighted_total(refs: list[Record], acts: list[Record], total: int) -> None:
    s = score(refs, acts)
    exact = 0.40 * s.recency + 0.25 * s.volume + 0.25 * s.quality + 0.10 * s.engagement
    assert s.score == total == int(exact + 0.5 + 1e-9)


def test_explain_reads_as_the_formula() -> None:
    text = score([ref(20)]).explain()
    assert text.startswith("score 55 = 0.40·85 recency + 0.25·33.3 volume + 0.25·50 quality + 0.10·0 engagement")
    assert "→ Healthy" in text


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (100, "Top"),
        (75, "Top"),
        (74, "Healthy"),
        (50, "Healthy"),
        (49, "At risk"),
        (25, "At risk"),
        (24, "Stale"),
        (0, "Stale"),
    ],
)
def test_band_thresholds(value: int, band: str) -> None:
    assert band_for(value) == band


def test_band_thresholds_are_settings() -> None:
    assert band_for(74, HealthSettings(top_from=70)) == "Top"


@pytest.mark.parametrize(
    ("fields", "created_ago", "refs", "band"),
    [
        ({"Joined On": day(29)}, 400, [], "New"),
        ({"Joined On": day(30)}, 400, [], "Stale"),
        ({}, 29, [], "New"),  # no Joined On: the record's createdTime
        ({}, 30, [], "Stale"),
        ({"Joined On": day(100)}, 5, [], "Stale"),  # Joined On wins over createdTime
        ({"Joined On": day(5)}, 5, [ref(200)], "Stale"),  # a sourced referral ends "New"
        ({"Joined On": day(5)}, 5, [ref(2, "Rejected")], "New"),
    ],
)
def test_new_band(fields: dict[str, Any], created_ago: int, refs: list[Record], band: str) -> None:
    assert score(refs, created_ago=created_ago, **fields).band == band


def test_weights_are_settings() -> None:
    s = score_partner(
        partner(),
        [ref(3)],
        [],
        NOW,
        HealthSettings(weight_recency=1.0, weight_volume=0, weight_quality=0, weight_engagement=0),
    )
    assert s.score == 100


# --- the plan: cells, band history, stage moves -----------------------------------------


def test_first_scoring_writes_every_health_cell() -> None:
    plan = plan_health([partner()], [ref(20), ref(100, "Won")], [act(3)], NOW)
    assert plan.cells == {
        "recAna": {
            "Health Score": 64,
            "Health Band": "Healthy",
            "Band Changed On": "2026-06-01",
            "Last Referral On": day(20),
            "First Referral On": day(100),
            "Referrals 90d": 1,
            "Won Referrals": 1,
            "Health Detail": "recency 85: last referral within 30 days · volume 33: 1 referral in 90 days · "
            "quality 67: 1 won of 1 closed in a year · engagement 50: 1 activity in 90 days",
            "Referrals Given": 0,
        }
    }
    assert [(c.name, c.old_band, c.new_band) for c in plan.changes] == [("Ana", None, "Healthy")]


def test_referral_email_is_normalised() -> None:
    plan = plan_health([partner(Email=" Ana@Partner.EXAMPLE")], [ref(3, email="ANA@partner.example ")], [], NOW)
    assert plan.scores["recAna"].recency == 100


def test_band_change_keeps_the_old_band() -> None:
    p = partner(**{"Health Score": 80, "Health Band": "Top", "Band Changed On": day(50), "Previous Band": "Healthy"})
    cells = plan_health([p], [ref(20)], [], NOW).cells["recAna"]
    assert (cells["Health Band"], cells["Previous Band"], cells["Band Changed On"]) == ("Healthy", "Top", "2026-06-01")


def test_no_band_change_leaves_the_band_history_alone() -> None:
    p = partner(**{"Health Score": 70, "Health Band": "Healthy", "Band Changed On": day(50), "Previous Band": "Top"})
    plan = plan_health([p], [ref(20)], [], NOW)
    cells = plan.cells["recAna"]
    assert {k: cells[k] for k in ("Health Score", "Last Referral On", "First Referral On", "Referrals 90d")} == {
        "Health Score": 55,
        "Last Referral On": day(20),
        "First Referral On": day(20),
        "Referrals 90d": 1,
    }
    assert not {"Health Band", "Previous Band", "Band Changed On"} & set(cells)
    assert [(c.old_score, c.new_score, c.band_changed) for c in plan.changes] == [(70, 55, False)]


def test_only_changed_cells_are_planned() -> None:
    p = partner(
        **{
            "Health Score": 55,
            "Health Band": "Healthy",
            "Band Changed On": day(50),
            "Last Referral On": day(20),
            "First Referral On": day(20),
            "Referrals 90d": 1,
            "Won Referrals": 0,
            "Referrals Given": 0,
            "Health Detail": "recency 85: last referral within 30 days · volume 33: 1 referral in 90 days · "
            "quality 50: no closed referral in a year · engagement 0: no activity in 90 days",
        }
    )
    plan = plan_health([p], [ref(20)], [], NOW)
    assert plan.cells == {} and plan.changes == []


def _stage_plan(stage: str, refs: list[Record], **fields: Any) -> str | None:
    plan = plan_health([partner(Stage=stage, **fields)], refs, [], NOW)
    return plan.cells.get("recAna", {}).get("Stage")


@pytest.mark.parametrize(
    ("stage", "refs", "fields", "moved_to"),
    [
        ("Onboarded", [ref(3)], {}, "Active"),  # first sourced referral
        ("Onboarded", [ref(3, "Duplicate")], {}, None),
        ("Onboarded", [], {}, None),
        ("Prospect", [ref(3)], {}, None),  # only Onboarded moves
        ("Active", [ref(200)], {"Health Band": "At risk", "Health Score": 30}, "Stale"),  # band becomes Stale
        ("Active", [ref(200)], {"Health Band": "Stale", "Health Score": 13}, None),  # already Stale: manager's call
        ("Active", [ref(3)], {"Health Band": "Stale", "Health Score": 13}, None),
        ("Stale", [ref(10)], {"Health Band": "Stale", "Band Changed On": day(30)}, "Active"),  # newer referral
        ("Stale", [ref(40)], {"Health Band": "Stale", "Band Changed On": day(30)}, None),  # older referral
        ("Stale", [ref(30)], {"Health Band": "Stale", "Band Changed On": day(30)}, None),  # same day: not newer
        ("Stale", [ref(10)], {}, None),  # never scored: no reference point
        ("Onboarded", [ref(200)], {}, "Stale"),  # Onboarded→Active→Stale at once
    ],
)
def test_stage_moves(stage: str, refs: list[Record], fields: dict[str, Any], moved_to: str | None) -> None:
    assert _stage_plan(stage, refs, **fields) == moved_to


def test_stage_moves_are_listed() -> None:
    plan = plan_health([partner(Stage="Onboarded")], [ref(3)], [], NOW)
    assert [str(m) for m in plan.stage_moves] == ["Ana Onboarded→Active"]


@pytest.mark.parametrize(
    ("email", "note"),
    [
        ("not-an-email", "Email: 'not-an-email' is not a valid e-mail address"),
        (None, "Email: is empty"),
    ],
)
def test_a_bad_email_gets_sync_notes_and_no_score(email: str | None, note: str) -> None:
    p = Record("recX", at(400), {"Name": "Xi", **({"Email": email} if email else {})})
    plan = plan_health([p], [ref(3, email=email or "")], [], NOW)
    assert plan.cells == {} and plan.notes["recX"].startswith(note)
    assert plan.scores == {} and plan.unscored == ["recX"] and plan.changes == []


def test_a_fixed_email_clears_sync_notes() -> None:
    p = partner(**{"Sync Notes": "Email: 'ana@' is not a valid e-mail address"})
    plan = plan_health([p], [], [], NOW)
    assert plan.notes["recAna"] == "" and plan.cells["recAna"]["Health Band"] == "Stale"


def test_other_manager_problems_are_noted_but_still_scored() -> None:
    plan = plan_health([partner(Owner="nobody")], [ref(3)], [], NOW)
    assert plan.notes["recAna"].startswith("Owner:") and plan.cells["recAna"]["Health Score"] == 61


# --- properties ---------------------------------------------------------------------------

STATUSES = ["New", "Accepted", "Duplicate", "Rejected", "In CRM", "Introduced", "Won", "Lost", "Expired", None]
referral_st = st.builds(
    lambda d, s, direction: ref(d, s, direction=direction),
    st.integers(-5, 500),
    st.sampled_from(STATUSES),
    st.sampled_from(["From partner", "From partner", "To partner"]),
)
history = st.tuples(
    st.lists(referral_st, max_size=12),
    st.lists(st.builds(act, st.integers(-5, 200)), max_size=5),
    st.integers(-10, 400),  # joined days ago
)


@settings(max_examples=300, deadline=None)
@given(history, st.sampled_from(["New", "Accepted", "In CRM", "Introduced", "Expired", "Won", None]))
def test_a_new_referral_never_lowers_the_score(h: tuple[list[Record], list[Record], int], status: str | None) -> None:
    refs, acts, joined = h
    p = partner(**{"Joined On": day(joined)})
    before = score_partner(p, refs, acts, NOW)
    after = score_partner(p, [*refs, ref(0, status)], acts, NOW)
    assert after.score >= before.score


@settings(max_examples=300, deadline=None)
@given(history)
def test_score_and_band_are_consistent(h: tuple[list[Record], list[Record], int]) -> None:
    refs, acts, joined = h
    s = score_partner(partner(**{"Joined On": day(joined)}), refs, acts, NOW)
    assert 0 <= s.score <= 100
    assert all(0 <= part <= 100 for part in (s.recency, s.volume, s.quality, s.engagement))
    has_sourced = any(
        r.get("Direction") == "From partner"
        and r.get("Status") not in ("Duplicate", "Rejected")
        and r.created_time <= at(0)
        for r in refs
    )
    if not has_sourced and joined < 30:
        assert s.band == "New"
    else:
        assert s.band == band_for(s.score)


@settings(max_examples=100, deadline=None)
@given(history, st.sampled_from(["Prospect", "Onboarded", "Active", "Stale", None]), st.integers(0, 60))
def test_replanning_after_applying_is_a_no_op(
    h: tuple[list[Record], list[Record], int], stage: str | None, later: int
) -> None:
    refs, acts, joined = h
    p = partner(**{"Joined On": day(joined), **({"Stage": stage} if stage else {})})
    when = NOW
    for _ in range(2):  # apply on NOW, then on a later day
        plan = plan_health([p], refs, acts, when)
        p = Record(
            p.id,
            p.created_time,
            {k: v for k, v in {**p.fields, **plan.cells.get(p.id, {})}.items() if v is not None and v != ""},
        )
        assert plan_health([p], refs, acts, when).cells == {}
        when = NOW + timedelta(days=later)


# --- the job, end to end ------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store.sqlite")


def _created(days_ago: int) -> datetime:
    return datetime.combine(NOW - timedelta(days=days_ago), time(12, 0), tzinfo=timezone.utc)


def test_run_health_end_to_end(store: LocalStore) -> None:
    ana = store.create(
        "partners",
        "Partners",
        {"Name": "Ana", "Email": "ana@p.example", "Stage": "Onboarded", "Health Score": 90, "Health Band": "Top"},
        created=_created(300),
    )
    bo = store.create("partners", "Partners", {"Name": "Bo", "Email": "bo@p.example"}, created=_created(299))
    bad = store.create("partners", "Partners", {"Name": "Cy", "Email": "cy at p"}, created=_created(298))
    store.create(
        "referrals", "Referrals", {"Direction": "From partner", "Partner Email": "ANA@p.example"}, created=_created(20)
    )
    store.create("partners", "Activities", {"Activity": "QBR", "Partner": [bo.id], "Date": day(5)}, created=_created(5))
    rt = make_app(Settings(home=store.path.parent), store)

    planned, lines = dry(rt, "health", NOW_DT)
    assert planned.status == "planned"
    assert any(line.startswith("Ana: 90 Top → 55 Healthy; score 55 = 0.40·85 recency") for line in planned.story)
    assert any("Partners" in line and "Sync Notes = " in line and "Email:" in line for line in lines)
    assert store.get("partners", "Partners", ana.id).fields["Health Score"] == 90  # type: ignore[union-attr]

    done = run(rt, "health", NOW_DT)
    assert done.status == "done" and not done.ok  # Cy's e-mail needs a fix
    assert done.failures == ["1 record(s) need a fix: see their Sync Notes"]
    assert (done.counts[Count.SCORED], done.counts[Count.SCORE_CHANGES], done.counts[Count.BAND_CHANGES]) == (2, 2, 2)
    assert done.counts[Count.STAGE_MOVES] == 1 and done.counts[Count.NOT_SCORED] == 1
    assert "Ana: Stage Onboarded → Active" in done.story
    a = store.get("partners", "Partners", ana.id).fields  # type: ignore[union-attr]
    assert (a["Health Score"], a["Health Band"], a["Previous Band"], a["Stage"]) == (55, "Healthy", "Top", "Active")
    assert (a["Last Referral On"], a["Band Changed On"], a["Referrals 90d"]) == (day(20), "2026-06-01", 1)
    assert store.get("partners", "Partners", bo.id).fields["Health Score"] == 18  # type: ignore[union-attr]
    c = store.get("partners", "Partners", bad.id).fields  # type: ignore[union-attr]
    assert "Health Score" not in c and c["Sync Notes"].startswith("Email:")

    again = run(rt, "health", NOW_DT)
    assert again.counts[Count.SCORE_CHANGES] == 0 and again.counts[Count.RECORDS_WRITTEN] == 0


def test_sample_data_plan_is_idempotent(store: LocalStore) -> None:
    from jobs.store.sample import load_into

    load_into(store, NOW_DT)
    rt = make_app(Settings(home=store.path.parent), store)
    first = run(rt, "health", NOW_DT)
    assert first.status == "done"
    partners = store.all("partners", "Partners")
    plan = plan_health(partners, store.all("referrals", "Referrals"), store.all("partners", "Activities"), NOW)
    assert plan.cells == {}
    assert {s.band for s in plan.scores.values()} >= {"Top", "Healthy", "Stale"}
    written = RecordWriter(store, None, lambda: NOW_DT).update("partners", "Partners", plan.cells)
    assert written.written == 0
