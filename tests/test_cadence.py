"""Which tiers are due: persisted last runs, DAILY_AT in TZ, and the plan's interval."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from jobs.app import App as Runtime
from jobs.commands.budget import cmd_budget
from jobs.commands.run import MAX_NAP, sleep_until
from jobs.schedule.planner import even
from jobs.schedule.polls import ArrivalPattern
from jobs.schedule.tiers import DAILY, FRESH, TOLERANCE, daily_mark, due_tiers, jobs_for, make_plan, next_due, tick
from jobs.settings import Settings
from jobs.store.state import CadenceState, load_cadence
from tests.conftest import TOKEN, client_clock
from tests.fakes.airtable import FakeAirtable, FakeClock

# Saturday 21 Nov 2026, 09:00 UTC
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def rt(fake: FakeAirtable, base_ids: dict[str, str], tmp_path: Path, clock: FakeClock) -> Runtime:
    clock.advance((NOW - clock.now()).total_seconds())
    settings = Settings(
        airtable_token=TOKEN, base_ids=base_ids, airtable_api_url=fake.url, home=tmp_path / "home", crm="none"
    )
    runtime = Runtime.open(settings, client_clock(clock))
    yield runtime
    runtime.close()


def test_the_first_tick_runs_both_tiers_and_a_second_at_the_same_moment_nothing(
    rt: Runtime, fake: FakeAirtable
) -> None:
    first = tick(rt, NOW)
    assert first.tiers == [DAILY, FRESH]
    assert [o.job for o in first.outcomes] == ["sync", "health", "circles", "referrals", "stages", "intros"]
    assert "Partners: full (first run)" in " ".join(first.outcomes[0].story)
    assert "Circles: full" in " ".join(first.outcomes[0].story) and "Referrals: full" in " ".join(
        first.outcomes[0].story
    )
    fake.reset_counts()
    again = tick(rt, NOW + timedelta(minutes=5))
    assert again.tiers == [] and again.outcomes == []
    assert fake.requests == []  # nothing due costs nothing
    assert first.next_due is not None and again.next_due is not None
    assert abs(first.next_due - again.next_due) < timedelta(seconds=30)  # re-planned, about the same


def test_the_fresh_tier_polls_only_the_referrals_base_on_its_interval(rt: Runtime, fake: FakeAirtable) -> None:
    first = tick(rt, NOW)
    assert first.next_due is not None and first.plan.schedule is not None
    assert first.next_due == first.plan.schedule.next_after(NOW)  # exactly when the schedule polls
    every = first.next_due - NOW
    assert timedelta(minutes=1) <= every <= timedelta(hours=6)
    fake.reset_counts()
    later = first.next_due
    report = tick(rt, later)
    assert report.tiers == [FRESH]
    assert [o.job for o in report.outcomes] == ["sync", "referrals", "stages", "intros"]
    assert report.outcomes[0].story[0].startswith("Referrals: incremental")
    assert fake.calls() == 1 and fake.calls("GET", "/payloads") == 1  # one poll, nothing changed
    assert load_cadence(rt.store)[FRESH] == later.isoformat()


@pytest.mark.parametrize("gap", [timedelta(minutes=1), timedelta(minutes=30)])
def test_a_tier_is_due_a_little_early_but_never_a_whole_gap_early(rt: Runtime, gap: timedelta) -> None:
    plan = replace(make_plan(rt, NOW), schedule=even(ArrivalPattern.uniform(), NOW, NOW + timedelta(days=1), gap))
    state = CadenceState(daily=NOW.isoformat(), fresh=NOW.isoformat())
    early = min(TOLERANCE, gap / 4)  # 15 s before a 1-minute poll, 90 s before a 30-minute one
    assert due_tiers(rt, plan, NOW + gap - early - timedelta(seconds=1), state) == []
    assert due_tiers(rt, plan, NOW + gap - early, state) == [FRESH]
    assert next_due(rt, plan, NOW, state) == NOW + gap  # the scheduler wakes exactly when due


def test_the_daily_tier_runs_once_a_day_at_daily_at_in_tz(rt: Runtime) -> None:
    berlin = replace(rt.settings, tz="Europe/Berlin", daily_at=time(7, 30))
    rt.settings = berlin
    assert daily_mark(rt, NOW) == datetime(2026, 11, 21, 6, 30, tzinfo=timezone.utc)
    assert daily_mark(rt, datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc)).day == 20
    tick(rt, NOW)
    before_mark = datetime(2026, 11, 22, 6, 29, tzinfo=timezone.utc)
    assert DAILY not in tick(rt, before_mark).tiers
    assert tick(rt, datetime(2026, 11, 22, 6, 31, tzinfo=timezone.utc)).tiers == [DAILY, FRESH]


def test_a_stopped_plan_runs_nothing_and_names_the_first_of_next_month(rt: Runtime, fake: FakeAirtable) -> None:
    rt.ledger.record(NOW, "appX", "read", 1000)
    fake.reset_counts()
    report = tick(rt, NOW)
    assert report.tiers == [] and fake.requests == []
    assert report.next_due == datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert "no Airtable calls until 2026-12-01 00:00 UTC" in report.plan.why


def test_jobs_for_a_tier_sync_only_the_bases_it_needs() -> None:
    assert [j.name for j in jobs_for([FRESH])] == ["sync", "referrals", "stages", "intros"]
    assert [j.name for j in jobs_for([DAILY])] == ["sync", "health", "circles"]


def test_budget_shows_use_projection_cadence_and_latency(rt: Runtime) -> None:
    tick(rt, NOW)
    out = io.StringIO()
    assert cmd_budget(rt.settings, out, now=NOW) == 0
    text = out.getvalue()
    assert "Airtable calls in November 2026:" in text
    assert "full-sync" in text  # the first run's full resyncs, by base
    assert "projected for the month at this cadence:" in text and "no more than 900 (90%)" in text
    plan = make_plan(rt, NOW)
    assert plan.schedule is not None
    assert "poll Referrals; referrals, stages, intros" in text
    assert "full resync (safety net) (full-sync)" in text  # each ledger kind in words
    for part, _gap in plan.cadence():
        assert f"    {part} " in text
    assert "→ a new referral reaches the CRM about" in text
    assert re.search(r"^next run due 2026-11-21 \d\d:\d\d UTC \(in \d+ min: the fresh tier\)$", text, flags=re.M)
    assert "daily at 07:00" in text and "poll Partners + Circles; health, circles (UTC)" in text
    assert "weekly, Mon 08:00   the managers' digest; no Airtable call (UTC)" in text
    assert "full resync of each base as a safety net" in text


def test_budget_leaves_out_the_digest_when_it_is_off(rt: Runtime) -> None:
    out = io.StringIO()
    assert cmd_budget(replace(rt.settings, digest_at=None), out, now=NOW) == 0
    assert "digest" not in out.getvalue().split("cadence", 1)[1].split("last runs", 1)[0]


def test_budget_warns_at_80_percent(rt: Runtime) -> None:
    rt.ledger.record(NOW, rt.settings.base_ids["referrals"], "webhook-poll", 820)
    out = io.StringIO()
    cmd_budget(rt.settings, out, now=NOW)
    assert "WARNING: 82% of the monthly allowance is spent" in out.getvalue()


@pytest.mark.parametrize("where", ["after the sync", "before the push", "after the push"])
def test_a_tick_killed_anywhere_then_rerun_loses_no_referral_and_makes_one_deal(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    tmp_path: Path,
    clock: FakeClock,
    where: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dataclasses import replace as swap

    from jobs.schedule import tiers
    from tests.fakes.hubspot import FakeHubSpot
    from tests.killing import Killed, kill_at

    clock.advance((NOW - clock.now()).total_seconds())
    fake.ui_create(base_ids["partners"], "Partners", {"Name": "Pia", "Email": "pia@agency.example"})
    with FakeHubSpot("pat-na1-test", now=clock.now) as hub:
        settings = Settings(
            airtable_token=TOKEN,
            base_ids=base_ids,
            airtable_api_url=fake.url,
            home=tmp_path / "home",
            crm="hubspot",
            hubspot_token=hub.token,
            hubspot_api_url=hub.url,
        )

        def runtime() -> Runtime:
            return Runtime.open(settings, client_clock(clock))

        rt = runtime()
        tick(rt, clock.now())
        rid = fake.ui_create(
            base_ids["referrals"],
            "Referrals",
            {
                "Referral": "Acme — Jo",
                "Direction": "From partner",
                "Partner Email": "pia@agency.example",
                "Company": "Acme",
                "Company Domain": "acme.example",
                "Contact Email": "jo@acme.example",
            },
            source="formSubmission",
        )
        clock.advance(3 * 3600)
        if where == "after the sync":

            def die(*_a: object) -> None:
                raise Killed

            dying = tuple(swap(j, read=die) if j.name == "referrals" else j for j in tiers.RULE_JOBS)  # type: ignore[type-var]
            monkeypatch.setattr(tiers, "RULE_JOBS", dying)
        else:
            kill_at(rt, 1, after=where == "after the push")
        with pytest.raises(Killed):
            tick(rt, clock.now())
        monkeypatch.undo()
        rt.close()  # the process died; a new one starts
        assert load_cadence((rt_state := runtime()).store)[FRESH] != clock.now().isoformat()  # the tier is still due
        rt_state.close()
        clock.advance(60)
        rt = runtime()
        report = tick(rt, clock.now())
        assert FRESH in report.tiers and report.ok
        deals = [d for d in hub.deals() if d["properties"].get("partnerops_referral_id") == rid]
        assert len(deals) == 1
        live = next(r["fields"] for r in fake.records(base_ids["referrals"], "Referrals") if r["id"] == rid)
        assert live["Status"] == "In CRM" and live["CRM ID"] == deals[0]["id"]
        rt.close()


def test_the_scheduler_sleeps_until_due_in_naps_of_a_minute_and_a_stop_ends_a_nap() -> None:
    clock = {"now": NOW}
    naps: list[float] = []

    def wait(seconds: float) -> bool:  # a nap that runs its full length
        naps.append(seconds)
        clock["now"] += timedelta(seconds=seconds)
        return False

    due = NOW + timedelta(minutes=2, seconds=30)
    woken = [sleep_until(due, lambda: clock["now"], wait) for _ in range(3)]
    assert woken == [False, False, True] and clock["now"] == due  # exactly when due, not on the minute
    assert naps == [MAX_NAP.total_seconds(), MAX_NAP.total_seconds(), 30.0]
    assert sleep_until(due, lambda: clock["now"], wait) is True and len(naps) == 3  # due already: no nap
    assert sleep_until(due + timedelta(hours=1), lambda: clock["now"], lambda s: True) is False  # stopped
