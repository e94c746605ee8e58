"""Which jobs are due now: two tiers, their persisted last runs, and the budget plan.

* The **fresh** tier — poll the Referrals base, then ``referrals``, ``stages``, ``intros`` —
  runs every :attr:`Plan.fresh_every`, the interval the planner can afford this month. It is
  what a new referral waits for before it reaches the CRM.
* The **daily** tier — poll the Partners and Circles bases, then ``health`` and ``circles`` —
  runs once a day at ``DAILY_AT`` (local to ``TZ``), together with the fresh tier.

The last run of each tier is kept in the local store, so a long-running ``partnerops run`` and
``run --once`` from cron, a systemd timer or GitHub Actions decide the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bases.records import parse_datetime
from bases.schema import BASES
from jobs import planner
from jobs.cycle import JOBS, ORDER, Job, JobOutcome, run_jobs, sync_job
from jobs.effects import Progress
from jobs.planner import BudgetView, Plan
from jobs.runtime import Runtime
from jobs.sync import FULL_SYNC, full_sync_cost

FRESH, DAILY = "fresh", "daily"
FRESH_BASES = ["referrals"]
DAILY_BASES = ["partners", "circles"]
TIER_JOBS = {FRESH: ["referrals", "stages", "intros"], DAILY: ["health", "circles"]}
POLL_KIND = "webhook-poll"
STATE_KEY = "cadence"
# A tier is due this much before its interval is over, so a cron or timer that fires a little
# early (or a scheduler that wakes on the minute) does not skip a whole interval.
TOLERANCE = timedelta(seconds=90)


@dataclass
class TickReport:
    """What one tick decided and did."""

    now: datetime
    plan: Plan
    tiers: list[str]
    outcomes: list[JobOutcome] = field(default_factory=list)
    next_due: datetime | None = None

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)


def load_state(rt: Runtime) -> dict[str, Any]:
    state = rt.store.get_state(STATE_KEY)
    return dict(state) if isinstance(state, dict) else {}


def _when(state: dict[str, Any], key: str) -> datetime | None:
    value = state.get(key)
    return parse_datetime(value) if value else None


def daily_mark(rt: Runtime, now: datetime) -> datetime:
    """The latest DAILY_AT moment at or before ``now``."""
    local = now.astimezone(rt.settings.zone)
    mark = local.replace(hour=rt.settings.daily_at.hour, minute=rt.settings.daily_at.minute, second=0, microsecond=0)
    if mark > local:
        mark -= timedelta(days=1)
    return mark


def budget_view(rt: Runtime, now: datetime, state: dict[str, Any] | None = None) -> BudgetView:
    """The month's facts for the planner: the ledger, the sync state and the tiers' shape."""
    assert rt.client is not None
    state = load_state(rt) if state is None else state
    by_kind: dict[str, int] = {}
    for _base, kind, count in rt.ledger.breakdown(now):
        by_kind[kind] = by_kind.get(kind, 0) + count
    since = _when(state, "since") or now
    return BudgetView(
        allowance=rt.settings.airtable_monthly_calls,
        used=rt.ledger.used(now),
        polls=by_kind.get(POLL_KIND, 0),
        full_syncs=by_kind.get(FULL_SYNC, 0),
        observed_since=max(planner.month_start(now), since),
        fresh_poll_calls=len(FRESH_BASES),
        daily_poll_calls=len(DAILY_BASES),
        resync_calls=sum(resyncs_due(rt, now)),
        blocked=rt.ledger.blocked(now),
    )


def resyncs_due(rt: Runtime, now: datetime) -> list[int]:
    """The cost of each full base resync still due before the month ends."""
    assert rt.client is not None
    end = planner.next_month(now)
    every = timedelta(days=rt.settings.sync_full_every_days)
    out = []
    for base in BASES:
        state = rt.store.get_state(f"sync:{base.key}")
        cost = full_sync_cost(rt.store, base, state)
        last = parse_datetime(state["last_full"]) if state and state.get("last_full") else None
        moved = state is None or state.get("base_id") != rt.client.base_id(base.key)
        when = now if last is None or moved else last + every
        while when < end:
            out.append(cost)
            when += every
    return out


def make_plan(rt: Runtime, now: datetime, state: dict[str, Any] | None = None) -> Plan:
    if rt.client is None:
        return planner.offline_plan()
    return planner.plan(budget_view(rt, now, state), now)


def due_tiers(rt: Runtime, plan: Plan, now: datetime, state: dict[str, Any]) -> list[str]:
    if not plan.airtable_allowed:
        return []
    last_daily = _when(state, DAILY)
    if last_daily is None or last_daily < daily_mark(rt, now):
        return [DAILY, FRESH]
    last_fresh = _when(state, FRESH)
    if plan.fresh_every is not None and (last_fresh is None or now - last_fresh >= plan.fresh_every - TOLERANCE):
        return [FRESH]
    return []


def next_due(rt: Runtime, plan: Plan, now: datetime, state: dict[str, Any]) -> datetime:
    """When the next tier falls due (``now`` if one is due already)."""
    if not plan.airtable_allowed:
        return plan.until or now
    if due_tiers(rt, plan, now, state):
        return now
    candidates = [daily_mark(rt, now) + timedelta(days=1)]
    last_fresh = _when(state, FRESH)
    if plan.fresh_every is not None and last_fresh is not None:
        candidates.append(last_fresh + plan.fresh_every - TOLERANCE)
    return max(now, min(candidates))


def jobs_for(tiers: list[str]) -> list[Job]:
    """The jobs of these tiers in cycle order, with one sync of just the bases they need."""
    bases = [*(DAILY_BASES if DAILY in tiers else []), *(FRESH_BASES if FRESH in tiers else [])]
    names = {n for t in tiers for n in TIER_JOBS[t]}
    jobs = [sync_job(bases)] if bases else []
    return jobs + [JOBS[n] for n in ORDER if n in names and n in JOBS]


def record_runs(rt: Runtime, now: datetime, tiers: list[str], outcomes: list[JobOutcome], *, complete: bool) -> None:
    """Remember the tick. A tick cut short by a stop request leaves its tiers due, to finish next time."""
    state = load_state(rt)
    state.setdefault("since", now.isoformat())
    if complete:
        for tier in tiers:
            state[tier] = now.isoformat()
    jobs = state.setdefault("jobs", {})
    for o in outcomes:
        if o.status != "skipped":
            jobs[o.job] = {"at": now.isoformat(), "status": o.status, "calls": o.calls}
    rt.store.set_state(STATE_KEY, state)


def tick(
    rt: Runtime,
    now: datetime,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    should_stop: Any = lambda: False,
) -> TickReport:
    """Run the tiers due at ``now`` and remember it; ``dry_run`` only says what would run."""
    state = load_state(rt)
    plan = make_plan(rt, now, state)
    tiers = due_tiers(rt, plan, now, state)
    report = TickReport(now, plan, tiers)
    if tiers:
        jobs = jobs_for(tiers)
        report.outcomes = run_jobs(rt, jobs, now, dry_run=dry_run, progress=progress, should_stop=should_stop)
        if not dry_run:
            record_runs(rt, now, tiers, report.outcomes, complete=len(report.outcomes) == len(jobs))
            state = load_state(rt)
            report.plan = plan = make_plan(rt, now, state)
    report.next_due = next_due(rt, plan, now, state)
    return report
