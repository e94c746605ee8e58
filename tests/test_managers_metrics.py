"""The managers' numbers on the reference workload, checked against a separate, plain computation.

Every expected value below is computed here, loop by loop, from the SPEC §8 definitions, never
by calling the functions under test. NOW is Monday 1 June 2026, 08:00 in Berlin, so the report
week is 25–31 May (ISO 2026-W22) and local days differ from UTC days near midnight.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bases.records import Record
from jobs.rules.metrics import (
    backfill,
    compute_metrics,
    given_counts,
    needs_attention,
    partner_rows,
    reciprocity,
    snapshot_of,
    week_changes,
)
from jobs.rules.scores import HealthSettings, score_partner
from tests.managers_fixtures import Tables, reference_tables

NOW = datetime(2026, 6, 1, 6, 0, tzinfo=timezone.utc)
ZONE = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 6, 1)
MONDAY, SUNDAY = date(2026, 5, 25), date(2026, 5, 31)
HEALTH = HealthSettings()


@pytest.fixture(scope="module")
def t() -> Tables:
    return reference_tables(NOW)


# --- a plain reading of the records ----------------------------------------------------------


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def local_day(text: str) -> date:
    return moment(text).astimezone(ZONE).date()


def f(r: Record, name: str) -> Any:
    return r.fields.get(name)


def from_partner(r: Record) -> bool:
    return f(r, "Direction") == "From partner"


def counts_as_sourced(r: Record) -> bool:
    return from_partner(r) and f(r, "Status") not in ("Duplicate", "Rejected")


def days_ago(d: date) -> int:
    return (TODAY - d).days


def given_day(r: Record) -> date | None:
    if f(r, "Direction") != "To partner" or f(r, "Status") not in ("Introduced", "Won", "Lost", "Expired"):
        return None
    return local_day(f(r, "Intro Sent At") or r.created_time)


# --- program metrics -------------------------------------------------------------------------


def test_referrals_of_the_report_week(t: Tables) -> None:
    sourced = influenced = 0
    for r in t.referrals:
        if counts_as_sourced(r) and MONDAY <= local_day(r.created_time) <= SUNDAY:
            if f(r, "Attribution") == "Influenced":
                influenced += 1
            else:
                sourced += 1
    m = compute_metrics(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE, HEALTH)
    assert m.week.label == "2026-W22" and (m.week.monday, m.week.sunday) == (MONDAY, SUNDAY)
    assert sourced > 0 and influenced > 0
    assert (m.week_sourced, m.week_influenced) == (sourced, influenced)


def test_pipeline_win_rate_activation_and_time_to_first_referral(t: Tables) -> None:
    open_ = won_amount = 0.0
    won = closed = 0
    for r in t.referrals:
        if from_partner(r) and f(r, "Attribution") == "Sourced":
            if f(r, "Status") in ("Accepted", "In CRM"):
                open_ += f(r, "Amount") or 0.0
            if f(r, "Status") == "Won":
                won_amount += f(r, "Amount") or 0.0
        if from_partner(r) and 0 <= days_ago(local_day(r.created_time)) <= 365 and f(r, "Status") in ("Won", "Lost"):
            closed += 1
            won += f(r, "Status") == "Won"

    first: dict[str, date] = {}
    for r in t.referrals:
        if counts_as_sourced(r):
            email, d = f(r, "Partner Email").lower(), local_day(r.created_time)
            first[email] = min(d, first.get(email, d))
    onboarded = [p for p in t.partners if f(p, "Stage") in ("Onboarded", "Active", "Stale")]
    activated = [p for p in onboarded if f(p, "Email").lower() in first]
    cohort = [
        p for p in t.partners if f(p, "Joined On") and 0 <= days_ago(date.fromisoformat(f(p, "Joined On"))) <= 180
    ]
    waits = [
        max(0, (first[f(p, "Email").lower()] - date.fromisoformat(f(p, "Joined On"))).days)
        for p in cohort
        if f(p, "Email").lower() in first
    ]

    m = compute_metrics(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE, HEALTH)
    assert won_amount > 0 and closed > 0 and waits
    assert m.pipeline_open == pytest.approx(open_)
    assert m.pipeline_won == pytest.approx(won_amount)
    assert m.pipeline == pytest.approx(open_ + won_amount)
    assert (m.won_365, m.closed_365) == (won, closed)
    assert m.win_rate == pytest.approx(won / closed)
    assert (m.activated, m.onboarded) == (len(activated), len(onboarded))
    assert m.activation == pytest.approx(len(activated) / len(onboarded))
    assert (m.joined_180, m.referred_180) == (len(cohort), len(waits))
    assert m.median_days_to_first == pytest.approx(statistics.median(waits))
    assert m.circle_members == (("Top Partners", sum(1 for x in t.members if f(x, "Status") == "Active")),)


def test_partners_by_band_are_the_health_jobs_bands(t: Tables) -> None:
    referrals_of: dict[str, list[Record]] = defaultdict(list)
    for r in t.referrals:
        referrals_of[str(f(r, "Partner Email")).lower()].append(r)
    activities_of: dict[str, list[Record]] = defaultdict(list)
    for a in t.activities:
        for pid in f(a, "Partner"):
            activities_of[pid].append(a)
    expected = Counter(
        score_partner(p, referrals_of[f(p, "Email").lower()], activities_of[p.id], NOW.date(), HEALTH).band
        for p in t.partners
    )
    m = compute_metrics(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE, HEALTH)
    assert dict(m.bands) == {band: expected.get(band, 0) for band in ("New", "Top", "Healthy", "At risk", "Stale")}
    assert m.unscored == 0 and m.partners == 250
    assert len([b for b in expected.values() if b]) >= 4  # the sample spreads partners over the bands


def test_snapshot_carries_the_week_and_the_closed_referrals(t: Tables) -> None:
    m = compute_metrics(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE, HEALTH)
    snap = snapshot_of(m, NOW, ZONE)
    assert snap.week == "2026-W22" and snap.bands == dict(m.bands)
    assert set(snap.won_ids or ()) == {r.id for r in t.referrals if f(r, "Status") == "Won"}
    assert set(snap.lost_ids or ()) == {r.id for r in t.referrals if f(r, "Status") == "Lost"}
    assert (snap.sourced, snap.influenced) == (m.week_sourced, m.week_influenced)


def test_backfill_counts_twelve_past_weeks_from_created_times_and_knows_no_bands(t: Tables) -> None:
    weeks = backfill(t.referrals, NOW, ZONE)
    assert [w.week for w in weeks] == [f"2026-W{n:02d}" for n in range(11, 23)]
    for i, snap in enumerate(weeks):
        monday = MONDAY - timedelta(weeks=11 - i)
        days = [local_day(r.created_time) for r in t.referrals if counts_as_sourced(r)]
        inf = [
            local_day(r.created_time)
            for r in t.referrals
            if counts_as_sourced(r) and f(r, "Attribution") == "Influenced"
        ]
        in_week = sum(1 for d in days if monday <= d <= monday + timedelta(days=6))
        influenced = sum(1 for d in inf if monday <= d <= monday + timedelta(days=6))
        assert (snap.sourced + snap.influenced, snap.influenced) == (in_week, influenced)
        assert snap.bands is None and snap.taken_at is None and snap.win_rate is None
    assert sum(w.sourced for w in weeks) > 100


# --- the week, attention, reciprocity, the table ---------------------------------------------


def test_week_changes_split_the_new_referrals_and_read_pushes_and_intros(t: Tables) -> None:
    kinds: Counter[str] = Counter()
    for r in t.referrals:
        if from_partner(r) and MONDAY <= local_day(r.created_time) <= SUNDAY:
            status = f(r, "Status")
            if status in ("Accepted", "In CRM", "Won", "Lost", "Expired"):
                kinds["accepted"] += 1
            else:
                kinds[{"Duplicate": "duplicate", "Rejected": "rejected"}.get(status, "waiting")] += 1
    pushed = sum(
        1
        for r in t.referrals
        if from_partner(r) and f(r, "CRM Pushed At") and MONDAY <= local_day(f(r, "CRM Pushed At")) <= SUNDAY
    )
    given = sum(1 for r in t.referrals if (d := given_day(r)) is not None and MONDAY <= d <= SUNDAY)

    c = week_changes(t.partners, t.referrals, t.members, t.circles, NOW, ZONE, previous=None)
    assert kinds["accepted"] > 0 and pushed > 0
    assert (c.accepted, c.duplicate, c.rejected, c.waiting, c.needs_fix) == (
        kinds["accepted"],
        kinds["duplicate"],
        kinds["rejected"],
        kinds["waiting"],
        0,
    )
    assert c.new_from_partner == sum(kinds.values())
    assert (c.pushed, c.given) == (pushed, given)
    assert (c.won, c.lost, c.won_amount, c.since) == (None, None, None, None)  # no snapshot: unknown


def test_reciprocity_lists_the_top_senders_given_nothing_in_180_days(t: Tables) -> None:
    sent: Counter[str] = Counter()
    last: dict[str, date] = {}
    given_recently: set[str] = set()
    for r in t.referrals:
        email = str(f(r, "Partner Email")).lower()
        d = local_day(r.created_time)
        if counts_as_sourced(r) and 0 <= days_ago(d) <= 180:
            sent[email] += 1
            last[email] = max(d, last.get(email, d))
        g = given_day(r)
        if g is not None and 0 <= days_ago(g) <= 180:
            given_recently.add(email)
    partners = {f(p, "Email").lower(): p for p in t.partners}
    owed = [e for e in sent if e in partners and e not in given_recently]
    owed.sort(key=lambda e: (-sent[e], -last[e].toordinal(), f(partners[e], "Name")))
    expected = [(f(partners[e], "Name"), sent[e]) for e in owed[:5]]

    got = reciprocity(t.partners, t.referrals, NOW, ZONE)
    assert len(expected) == 5 and len(given_recently) > 0
    assert [(o.name, o.sent) for o in got] == expected
    assert all(o.email not in given_recently for o in got)


def test_needs_attention_lists_registrations_whose_protection_ends_within_14_days(t: Tables) -> None:
    expected = sorted(
        (date.fromisoformat(f(r, "Expires On")), f(r, "Referral"))
        for r in t.referrals
        if from_partner(r)
        and f(r, "Status") in ("Accepted", "In CRM")
        and f(r, "Expires On")
        and 0 <= (date.fromisoformat(f(r, "Expires On")) - TODAY).days <= 14
    )
    a = needs_attention(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE)
    assert expected and [(e.expires_on, e.referral) for e in a.expiring] == expected
    assert a.notes == () and a.pending_invites == ()  # the sample has neither


def test_given_counts_and_the_partner_table(t: Tables) -> None:
    given: Counter[str] = Counter()
    last: dict[str, date] = {}
    for r in t.referrals:
        if f(r, "Direction") == "To partner" and f(r, "Status") in ("Introduced", "Won", "Lost", "Expired"):
            email = f(r, "Partner Email").lower()
            d = moment(f(r, "Intro Sent At") or r.created_time).date()  # UTC day, as the health job's
            given[email] += 1
            last[email] = max(d, last.get(email, d))
    counts = given_counts(t.referrals, t.partners)
    assert len(counts) == 250 and sum(given.values()) > 50
    for p in t.partners:
        email = f(p, "Email").lower()
        assert counts[email] == (given.get(email, 0), last.get(email))

    rows = partner_rows(t.partners, t.referrals, t.activities, NOW, HEALTH)
    assert sorted(r.record_id for r in rows) == sorted(p.id for p in t.partners)
    assert [r.score for r in rows] == sorted((r.score for r in rows if r.score is not None), reverse=True)
    by_email = {r.email: r for r in rows}
    for email, n in given.items():
        assert by_email[email].given == n
    utc_today = NOW.date()
    for p in t.partners:
        email = f(p, "Email").lower()
        recent = sum(
            1
            for r in t.referrals
            if counts_as_sourced(r)
            and str(f(r, "Partner Email")).lower() == email
            and 0 <= (utc_today - moment(r.created_time).date()).days <= 90
        )
        assert by_email[email].referrals_90d == recent
        assert by_email[email].detail.startswith(f"recency {by_email[email].recency:.0f}: ")
