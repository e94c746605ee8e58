"""`partnerops budget`: Airtable calls this month, the projection, the cadence it implies."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import TextIO

from bases.schema import BASES
from integrations.http import fixed_clock
from jobs.app import App
from jobs.schedule import planner
from jobs.schedule.polls import LEARN_WEEKS, PollSchedule, span
from jobs.schedule.tiers import (
    DAILY,
    DAILY_BASES,
    FRESH,
    FRESH_BASES,
    TIER_JOBS,
    fresh_due,
    make_plan,
    next_daily,
    next_due,
    resyncs_due,
)
from jobs.settings import Settings
from jobs.store.state import load_cadence
from jobs.sync.syncer import FULL_SYNC

# What each kind of call in the ledger is for, in words (integrations.airtable.call_kind and FULL_SYNC).
KIND_WORDS = {
    "webhook-poll": "checking for changes",
    FULL_SYNC: "full resync (safety net)",
    "update": "writing cells",
    "create": "creating records",
    "delete": "deleting records",
    "read": "reading records the feed did not carry",
    "schema": "reading the bases' fields",
    "schema-write": "adding or changing fields",
    "webhook": "setting up the change feed",
}


def kind_words(kind: str) -> str:
    """A ledger kind as people read it: "checking for changes (webhook-poll)"."""
    words = KIND_WORDS.get(kind)
    return f"{words} ({kind})" if words else kind


def cmd_budget(settings: Settings, out: TextIO, now: datetime) -> int:
    """The month so far, the projection, each tier's planned cadence, the latency it implies, the next run."""
    app = App.open(settings, fixed_clock(now))  # `--now` is the clock of everything it reads
    try:
        if app.airtable is None:
            print("no AIRTABLE_TOKEN: the local store is the data and no Airtable budget applies", file=out)
            plan = planner.offline_plan(now)
        else:
            plan = make_plan(app, now)
            _print_month(app, plan, now, out)
        _print_cadence(app, plan, now, out)
        _print_next(app, plan, now, out)
        _print_warning(app, plan, now, out)
        return 0
    finally:
        app.close()


def _print_month(app: App, plan: planner.Plan, now: datetime, out: TextIO) -> None:
    used, allowance = app.ledger.used(now), app.settings.airtable_monthly_calls
    print(f"Airtable calls in {now:%B %Y}: {used} of {allowance} ({used * 100 // allowance}%)", file=out)
    names = {app.settings.base_ids.get(b.key): b.name for b in BASES}
    for base_id, kind, count in app.ledger.breakdown(now):
        print(f"  {names.get(base_id, base_id):<10} {kind_words(kind):<44} {count:>5}", file=out)
    target = round(planner.PLAN_SHARE * allowance)
    print(
        f"projected for the month at this cadence: {plan.projected} ({plan.projected * 100 // allowance}%); "
        f"the plan aims at no more than {target} ({planner.PLAN_SHARE:.0%})",
        file=out,
    )


def _print_cadence(app: App, plan: planner.Plan, now: datetime, out: TextIO) -> None:
    s = app.settings
    fresh = " + ".join(b.name for b in BASES if b.key in FRESH_BASES)
    daily = " + ".join(b.name for b in BASES if b.key in DAILY_BASES)
    jobs = ", ".join(TIER_JOBS[FRESH])
    print(f"cadence ({plan.mode}): {plan.why}", file=out)
    if plan.schedule is not None:
        print(f"  {'new referrals':<19} poll {fresh}; {jobs} — {_learned(plan.schedule, s.tz)}", file=out)
        for part, gap in plan.cadence():
            print(f"    {part:<17} every {span(gap)}", file=out)
        latency = plan.latency()
        if latency is not None:
            median, p90 = latency
            print(
                f"    → a new referral reaches the CRM about {span(median)} after it is submitted"
                f" (median), within {span(p90)} 9 times in 10",
                file=out,
            )
    elif plan.mode != planner.STOPPED:
        print(f"  {'with the daily run':<19} poll {fresh}; {jobs}", file=out)
    print(
        f"  {'daily at ' + s.daily_at.strftime('%H:%M'):<19} poll {daily}; {', '.join(TIER_JOBS[DAILY])} ({s.tz})",
        file=out,
    )
    if s.digest_at is not None:
        weekday, at = s.digest_at
        when = f"{calendar.day_abbr[weekday]} {at.strftime('%H:%M')}"
        print(f"  {'weekly, ' + when:<19} the managers' digest; no Airtable call ({s.tz})", file=out)
    resyncs = resyncs_due(app, now)
    if resyncs:
        print(
            f"  {'every ' + str(s.sync_full_every_days) + ' days':<19} full resync of each base as a safety net: "
            f"{len(resyncs)} base resyncs still due this month, about {sum(resyncs)} calls",
            file=out,
        )


def _learned(schedule: PollSchedule, tz: str) -> str:
    seen = schedule.pattern.arrivals
    if not seen:
        return f"no From-partner referral in the last {LEARN_WEEKS} weeks yet, so the polls come evenly"
    if schedule.pattern.flat:
        how = "no hour of the week stands out from chance, so the polls come evenly"
    elif schedule.even:
        how = "too few polls to follow their busy hours, so the polls come evenly"
    else:
        how = "polled most in the hours they usually arrive"
    return f"{seen} From-partner referrals in the last {LEARN_WEEKS} weeks ({tz}): {how}"


def _print_next(app: App, plan: planner.Plan, now: datetime, out: TextIO) -> None:
    state = load_cadence(app.store)
    due = next_due(app, plan, now, state)
    zone = app.settings.zone
    if not plan.airtable_allowed:
        what = "nothing calls Airtable before then"
    elif due <= now:
        what = "due now"
    elif due == fresh_due(plan, now, state) and due < next_daily(app, now):
        what = f"in {_wait(due - now)}: the fresh tier"
    else:
        what = f"in {_wait(due - now)}: the daily and fresh tiers"
    print(f"next run due {due.astimezone(zone):%Y-%m-%d %H:%M %Z} ({what})", file=out)
    last = state.get("jobs", {})
    if last:
        runs = ", ".join(f"{job} {str(v['at'])[5:16].replace('T', ' ')}" for job, v in sorted(last.items()))
        print(f"last runs (UTC): {runs}", file=out)


def _wait(delta: timedelta) -> str:
    return span(delta) if delta >= timedelta(minutes=1) else f"{max(1, round(delta.total_seconds()))} s"


def _print_warning(app: App, plan: planner.Plan, now: datetime, out: TextIO) -> None:
    if app.airtable is None:
        return
    used, allowance = app.ledger.used(now), app.settings.airtable_monthly_calls
    if plan.mode == planner.STOPPED:
        print(f"STOPPED: {plan.why}", file=out)
    elif used >= 0.8 * allowance:
        print(
            f"WARNING: {used * 100 // allowance}% of the monthly allowance is spent; jobs slow down to last the month",
            file=out,
        )
    elif plan.projected > allowance:
        print("WARNING: at this pace the month ends over the allowance", file=out)
