"""`partnerops budget`: Airtable calls this month, the projection, the cadence it implies."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TextIO

from bases.schema import BASES
from jobs.app import App
from jobs.schedule import planner
from jobs.schedule.tiers import DAILY, DAILY_BASES, FRESH, FRESH_BASES, TIER_JOBS, make_plan, resyncs_due
from jobs.settings import Settings
from jobs.store.state import load_cadence


def cmd_budget(settings: Settings, out: TextIO, now: datetime | None = None) -> int:
    """The month so far, the projection, each tier's planned cadence and the latency it implies."""
    now = now or datetime.now(timezone.utc)
    app = App.open(settings)
    try:
        if app.airtable is None:
            print("no AIRTABLE_TOKEN: the local store is the data and no Airtable budget applies", file=out)
            _print_cadence(app, planner.offline_plan(), now, out)
            return 0
        used = app.ledger.used(now)
        allowance = settings.airtable_monthly_calls
        print(f"Airtable calls in {now:%B %Y}: {used} of {allowance} ({used * 100 // allowance}%)", file=out)
        names = {v: b.name for b in BASES for k, v in settings.base_ids.items() if k == b.key and v}
        for base_id, kind, count in app.ledger.breakdown(now):
            print(f"  {names.get(base_id, base_id):<10} {kind:<13} {count}", file=out)
        plan = make_plan(app, now)
        target = round(planner.PLAN_SHARE * allowance)
        print(
            f"projected for the month at this cadence: {plan.projected} ({plan.projected * 100 // allowance}%); "
            f"the plan aims at no more than {target} ({planner.PLAN_SHARE:.0%})",
            file=out,
        )
        _print_cadence(app, plan, now, out)
        if plan.mode == planner.STOPPED:
            print(f"STOPPED: {plan.why}", file=out)
        elif used >= 0.8 * allowance:
            print(
                f"WARNING: {used * 100 // allowance}% of the monthly allowance is spent; jobs slow down to last the month",
                file=out,
            )
        elif plan.projected > allowance:
            print("WARNING: at this pace the month ends over the allowance", file=out)
        return 0
    finally:
        app.close()


def _print_cadence(app: App, plan: planner.Plan, now: datetime, out: TextIO) -> None:
    s = app.settings
    fresh = " + ".join(b.name for b in BASES if b.key in FRESH_BASES)
    daily = " + ".join(b.name for b in BASES if b.key in DAILY_BASES)
    print(f"cadence ({plan.mode}): {plan.why}", file=out)
    jobs = ", ".join(TIER_JOBS[FRESH])
    if plan.fresh_every is not None:
        print(f"  every {planner.span(plan.fresh_every):<13} poll {fresh}; {jobs}", file=out)
        median, p90 = plan.latency() or (plan.fresh_every, plan.fresh_every)
        print(
            f"  {'':<19} → a new referral reaches the CRM about {planner.span(median)} after it is submitted"
            f" (median), within {planner.span(p90)} 9 times in 10",
            file=out,
        )
    elif plan.mode != planner.STOPPED:
        print(f"  {'with the daily run':<19} poll {fresh}; {jobs}", file=out)
    print(
        f"  {'daily at ' + s.daily_at.strftime('%H:%M'):<19} poll {daily}; {', '.join(TIER_JOBS[DAILY])} ({s.tz})",
        file=out,
    )
    if app.airtable is not None:
        resyncs = resyncs_due(app, now)
        if resyncs:
            calls = sum(resyncs)
            print(
                f"  {'every ' + str(s.sync_full_every_days) + ' days':<19} full resync of each base as a safety net: "
                f"{len(resyncs)} base resyncs still due this month, about {calls} calls",
                file=out,
            )
    last = load_cadence(app.store).get("jobs", {})
    if last:
        runs = ", ".join(f"{job} {str(v['at'])[5:16].replace('T', ' ')}" for job, v in sorted(last.items()))
        print(f"last runs (UTC): {runs}", file=out)
