"""Properties of the schedule the planner actually produces, walked through tiers.due_tiers and
next_due the way `partnerops run` follows them: never a gap over 6 hours between polls of the
Referrals base (in normal mode), and never more calls than the plan may spend."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bases.records import Record, format_datetime
from jobs.app import App
from jobs.schedule.planner import NORMAL, PLAN_SHARE, SLOWED, SPARE_SHARE, STOPPED, Plan, next_month
from jobs.schedule.polls import MAX_GAP
from jobs.schedule.tiers import DAILY, FRESH, budget_view, daily_mark, due_tiers, make_plan, next_due
from jobs.settings import Settings
from jobs.store.state import CadenceState
from tests.conftest import TOKEN

BASE_IDS = {"partners": "appPARTNERS00001", "referrals": "appREFERRALS0001", "circles": "appCIRCLES000001"}
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]
MONTHS = [datetime(2026, 3, 1), datetime(2026, 10, 1), datetime(2026, 11, 1), datetime(2027, 2, 1)]  # DST, February


def open_app(home: Path, zone: str, allowance: int) -> App:
    s = Settings(
        airtable_token=TOKEN,
        base_ids=BASE_IDS,
        airtable_api_url="http://127.0.0.1:9",  # never called: planning reads the store and the ledger
        airtable_monthly_calls=allowance,
        home=home,
        tz=zone,
        crm="none",
    )
    return App.open(s)


def referrals(now: datetime, ages: list[float], zone: ZoneInfo, working: bool) -> list[Record]:
    """From-partner referrals created ``ages`` seconds before ``now`` (moved into 08–18 local when ``working``)."""
    out = []
    for i, age in enumerate(ages):
        at = now - timedelta(seconds=age)
        if working:
            local = at.astimezone(zone)
            at = local.replace(hour=8 + local.hour % 10).astimezone(timezone.utc)
        created = format_datetime(min(at, now - timedelta(seconds=1)))
        out.append(Record(f"rec{i:014d}", created, {"Direction": "From partner", "Referral": f"R{i}"}))
    return out


def walk(app: App, plan: Plan, now: datetime, state: CadenceState) -> tuple[list[datetime], list[datetime]]:
    """Every poll of the Referrals base from ``now`` to the month's end as the tiers fall due, and
    the daily runs among them (they poll every base, and the plan counts them apart)."""
    end = next_month(now)
    polls: list[datetime] = []
    dailies: list[datetime] = []
    t = now
    while (due := next_due(app, plan, t, state)) < end:
        tiers = due_tiers(app, plan, due, state)
        assert tiers and FRESH in tiers, f"woken at {due} with {tiers} due"
        if DAILY in tiers:
            state["daily"] = due.isoformat()
            dailies.append(due)
        state["fresh"] = due.isoformat()
        polls.append(due)
        t = due
        assert len(polls) < 50_000
    return polls, dailies


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    month=st.sampled_from(MONTHS),
    day=st.floats(0, 27.9),
    zone=st.sampled_from(ZONES),
    allowance=st.sampled_from([300, 600, 1000, 2000, 3000]),
    used_share=st.floats(0, 1.05),
    poll_share=st.floats(0, 1),
    ages=st.lists(st.floats(0, 56 * 86400), max_size=120),
    working=st.booleans(),
    since_fresh=st.floats(0, 8 * 3600),
    daily_done=st.booleans(),
)
def test_the_planned_polls_never_leave_6_hours_nor_spend_past_the_cap(
    month: datetime,
    day: float,
    zone: str,
    allowance: int,
    used_share: float,
    poll_share: float,
    ages: list[float],
    working: bool,
    since_fresh: float,
    daily_done: bool,
) -> None:
    now = month.replace(tzinfo=timezone.utc) + timedelta(days=day)
    with tempfile.TemporaryDirectory() as tmp:
        app = open_app(Path(tmp), zone, allowance)
        try:
            app.store.put("referrals", "Referrals", referrals(now, ages, app.settings.zone, working))
            used = int(allowance * used_share * day / 30)
            polls = int(used * poll_share)
            app.ledger.record(now, BASE_IDS["referrals"], "webhook-poll", polls)
            app.ledger.record(now, BASE_IDS["partners"], "update", used - polls)
            mark = daily_mark(app, now)
            state = CadenceState(
                since=month.replace(tzinfo=timezone.utc).isoformat(),
                daily=(mark if daily_done else mark - timedelta(days=1)).isoformat(),
                fresh=(now - timedelta(seconds=since_fresh)).isoformat(),
            )
            view = budget_view(app, now, state)
            plan = make_plan(app, now, state)
            polls, dailies = walk(app, plan, now, dict(state))  # type: ignore[arg-type]
        finally:
            app.close()
    scheduled = len(polls) - len(dailies)  # the daily runs' polls are part of the committed calls
    event(f"{plan.mode}{'' if plan.schedule else ', daily runs only'}")
    spent = view.committed(now) + scheduled * view.fresh_poll_calls
    if plan.mode == STOPPED:
        assert polls == []
        return
    assert len(dailies) == view.daily_runs  # the plan paid for exactly the daily runs that happen
    if plan.schedule is None:
        assert scheduled == 0  # the month is spent: only the daily runs poll
    elif plan.mode == NORMAL:
        assert spent <= PLAN_SHARE * allowance + 1e-6
        first = max(now, now - timedelta(seconds=since_fresh) + MAX_GAP)
        assert polls[0] <= first + timedelta(seconds=1)
        gaps = [b - a for a, b in zip(polls, [*polls[1:], next_month(now)], strict=True)]
        assert max(gaps) <= MAX_GAP + timedelta(seconds=1)
    else:
        assert plan.mode == SLOWED
        assert spent <= SPARE_SHARE * allowance + 1e-6
