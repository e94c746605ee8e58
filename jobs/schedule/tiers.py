"""Which jobs are due now: two tiers, their persisted last runs, and the budget plan.

* The **fresh** tier — poll the Referrals base, then ``referrals``, ``stages``, ``intros`` —
  runs when the plan's poll schedule says (:meth:`Plan.next_poll` after its last run): more
  often in the hours From-partner referrals usually arrive, learned from the store's created
  times (:func:`arrivals`), never more than 6 hours apart. It is what a new referral waits for
  before it reaches the CRM.
* The **daily** tier — poll the Partners and Circles bases, then ``health`` and ``circles`` —
  runs once a day at ``DAILY_AT`` (local to ``TZ``), together with the fresh tier.
* The **digest** tier — the ``digest`` job alone, no poll and no Airtable call — runs once an ISO
  week at ``DIGEST_AT`` (local to ``TZ``), after the other tiers due with it.

The last run of each tier is kept in the local store, so a long-running ``partnerops run`` and
``run --once`` from cron, a systemd timer or GitHub Actions decide the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bases.fields import Direction, ReferralF
from bases.schema import BASES
from jobs.app import App
from jobs.plan import JobOutcome, Status
from jobs.rules.cells import created_at, select
from jobs.rules.weeks import report_week
from jobs.schedule import planner
from jobs.schedule.archive_job import ARCHIVE_AUTO
from jobs.schedule.planner import BudgetView, Plan
from jobs.schedule.polls import ArrivalPattern
from jobs.schedule.registry import ORDER, RULE_JOBS, digest_job
from jobs.schedule.runner import Progress, Runnable, run_jobs
from jobs.schedule.sync_job import SyncJob
from jobs.store.state import CadenceState, JobRun, load_cadence, load_sync, save_cadence, when
from jobs.sync.syncer import FULL_SYNC, full_sync_cost

FRESH, DAILY, DIGEST = "fresh", "daily", "digest"
FRESH_BASES = ("referrals",)
DAILY_BASES = ("partners", "circles")
TIER_JOBS = {FRESH: ["referrals", "stages", "intros"], DAILY: ["health", "circles"], DIGEST: ["digest"]}
POLL_KIND = "webhook-poll"
# The fresh tier is due this much before its poll, so a cron or timer that fires a little early
# does not skip a whole gap: 90 s, but never more than a quarter of the gap (15 s before a poll a
# minute after the last; a whole 90 s would make a 1-minute schedule always due).
TOLERANCE = timedelta(seconds=90)
TOLERANCE_SHARE = 0.25


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


def daily_mark(app: App, now: datetime) -> datetime:
    """The latest DAILY_AT moment at or before ``now``."""
    local = now.astimezone(app.settings.zone)
    at = app.settings.daily_at
    mark = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if mark > local:
        mark -= timedelta(days=1)
    return mark


def next_daily(app: App, now: datetime) -> datetime:
    """The first DAILY_AT moment after ``now``."""
    return daily_mark(app, now) + timedelta(days=1)


def daily_runs_left(app: App, now: datetime, state: CadenceState) -> int:
    """Daily-tier runs still due before the month ends: one per DAILY_AT mark, and one now if it is overdue."""
    last = when(state.get(DAILY))
    runs = 1 if last is None or last < daily_mark(app, now) else 0
    end = planner.next_month(now)
    mark = next_daily(app, now)
    while mark < end:
        runs += 1
        mark = next_daily(app, mark)
    return runs


def arrivals(app: App, now: datetime) -> ArrivalPattern:
    """When From-partner referrals arrived in the last 8 weeks (archived ones too), local to TZ."""
    created = []
    for record in app.store.all(ReferralF.BASE, ReferralF.TABLE, archived=True):
        at = created_at(record)
        if at is not None and select(record.get(ReferralF.DIRECTION)) == Direction.FROM_PARTNER:
            created.append(at)
    return ArrivalPattern.learn(created, now, app.settings.zone)


def budget_view(app: App, now: datetime, state: CadenceState | None = None) -> BudgetView:
    """The month's facts for the planner: the ledger, the sync state and the tiers' shape."""
    state = load_cadence(app.store) if state is None else state
    by_kind: dict[str, int] = {}
    for _base, kind, count in app.ledger.breakdown(now):
        by_kind[kind] = by_kind.get(kind, 0) + count
    since = when(state.get("since")) or now
    return BudgetView(
        allowance=app.settings.airtable_monthly_calls,
        used=app.ledger.used(now),
        polls=by_kind.get(POLL_KIND, 0),
        full_syncs=by_kind.get(FULL_SYNC, 0),
        observed_since=max(planner.month_start(now), since),
        fresh_poll_calls=len(FRESH_BASES),
        # the daily run polls Referrals too: the schedule restarts from it, one poll more a day at most
        daily_poll_calls=len(DAILY_BASES) + len(FRESH_BASES),
        resync_calls=sum(resyncs_due(app, now)),
        blocked=app.ledger.blocked(now),
        arrivals=arrivals(app, now),
        daily_runs=daily_runs_left(app, now, state),
    )


def resyncs_due(app: App, now: datetime) -> list[int]:
    """The cost of each full base resync still due before the month ends."""
    if app.airtable is None:
        return []
    end = planner.next_month(now)
    every = timedelta(days=app.settings.sync_full_every_days)
    out = []
    for base in BASES:
        state = load_sync(app.store, base.key)
        cost = full_sync_cost(app.store, base, state)
        last = when(state.get("last_full")) if state else None
        moved = state is None or state.get("base_id") != app.airtable.base_id(base.key)
        at = now if last is None or moved else last + every
        while at < end:
            out.append(cost)
            at += every
    return out


def make_plan(app: App, now: datetime, state: CadenceState | None = None) -> Plan:
    if app.airtable is None:
        return planner.offline_plan(now)
    return planner.plan(budget_view(app, now, state), now)


def fresh_due(plan: Plan, now: datetime, state: CadenceState) -> datetime | None:
    """When the plan's schedule next polls the Referrals base (None: only with the daily tier)."""
    if plan.schedule is None:
        return None
    last = when(state.get(FRESH))
    return now if last is None else plan.next_poll(last)


def _early(due: datetime, state: CadenceState) -> timedelta:
    last = when(state.get(FRESH))
    return TOLERANCE if last is None else min(TOLERANCE, (due - last) * TOLERANCE_SHARE)


def due_tiers(app: App, plan: Plan, now: datetime, state: CadenceState) -> list[str]:
    if not plan.airtable_allowed:
        return []
    last_daily = when(state.get(DAILY))
    if last_daily is None or last_daily < daily_mark(app, now):
        return [DAILY, FRESH]
    due = fresh_due(plan, now, state)
    if due is not None and now >= due - _early(due, state):
        return [FRESH]
    return []


def next_due(app: App, plan: Plan, now: datetime, state: CadenceState) -> datetime:
    """When the next tier falls due, exactly (``now`` if one is due already)."""
    if not plan.airtable_allowed:
        return plan.until or now
    if due_tiers(app, plan, now, state):
        return now
    candidates = [next_daily(app, now)]
    due = fresh_due(plan, now, state)
    if due is not None:
        candidates.append(due)
    return max(now, min(candidates))


def jobs_for(tiers: list[str], *, archive: bool = False) -> list[Runnable]:
    """The jobs of these tiers in cycle order, with one sync of just the bases they need.
    With ``archive`` (ARCHIVE=auto) the daily tier archives right after its sync, where a base
    has passed 80% of the record cap (before the jobs that may create records)."""
    bases = (*(DAILY_BASES if DAILY in tiers else ()), *(FRESH_BASES if FRESH in tiers else ()))
    names = {n for t in tiers for n in TIER_JOBS[t]}
    jobs: list[Runnable] = [SyncJob(bases)] if bases else []
    if archive and DAILY in tiers:
        jobs.append(ARCHIVE_AUTO)
    return jobs + [j for n in ORDER for j in _all_jobs() if j.name == n and n in names]


def record_runs(app: App, now: datetime, tiers: list[str], outcomes: list[JobOutcome], *, complete: bool) -> None:
    """Remember the tick. A tick cut short by a stop request leaves its tiers due, to finish next time."""
    state = load_cadence(app.store)
    state.setdefault("since", now.isoformat())
    if complete:
        if DAILY in tiers:
            state["daily"] = now.isoformat()
        if FRESH in tiers:
            state["fresh"] = now.isoformat()
        if DIGEST in tiers:
            state["digest"] = report_week(now, app.settings.zone).label
    jobs = state.setdefault("jobs", {})
    for o in outcomes:
        if o.status != Status.SKIPPED:
            jobs[o.job] = JobRun(at=now.isoformat(), status=o.status.value, calls=o.calls)
    save_cadence(app.store, state)


def tick(
    app: App,
    now: datetime,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> TickReport:
    """Run the tiers due at ``now`` and remember it (a dry run's copy remembers nothing real)."""
    state = load_cadence(app.store)
    plan = make_plan(app, now, state)
    tiers = due_tiers(app, plan, now, state) + digest_tier(app, now, state)
    report = TickReport(now, plan, tiers)
    if tiers:
        jobs = jobs_for(tiers, archive=app.settings.archive == "auto")
        report.outcomes = run_jobs(app, jobs, now, progress=progress, should_stop=should_stop)
        if app.dry is None:
            if DAILY in tiers:
                app.queue.prune(now)  # done effects older than 90 days; open, failed and unknown ones stay
            record_runs(app, now, tiers, report.outcomes, complete=len(report.outcomes) == len(jobs))
            state = load_cadence(app.store)
            report.plan = plan = make_plan(app, now, state)
    report.next_due = min(filter(None, (next_due(app, plan, now, state), next_digest(app, now, state))))
    return report


def cycle_jobs(only: list[str] | None) -> list[Runnable]:
    """Every job (or those named), in cycle order, whether due or not."""
    jobs: list[Runnable] = [SyncJob()] if not only or "sync" in only else []
    return jobs + [j for n in ORDER for j in _all_jobs() if j.name == n and (not only or n in only)]


def known_jobs() -> list[str]:
    return ["sync", *(j.name for j in _all_jobs())]


# --- the weekly digest ------------------------------------------------------------------------


def _projected(app: App, now: datetime) -> int:
    return make_plan(app, now).projected


DIGEST_JOB = digest_job(_projected)


def _all_jobs() -> tuple[Runnable, ...]:
    return (*RULE_JOBS, DIGEST_JOB)


def digest_mark(app: App, now: datetime) -> datetime | None:
    """This ISO week's DIGEST_AT moment (local to TZ, the week of ``now`` there); None when off."""
    if app.settings.digest_at is None:
        return None
    weekday, at = app.settings.digest_at
    local = now.astimezone(app.settings.zone)
    day = local.date() + timedelta(days=weekday - local.weekday())
    return datetime.combine(day, at, tzinfo=app.settings.zone)


def digest_tier(app: App, now: datetime, state: CadenceState) -> list[str]:
    """``[DIGEST]`` once this week's DIGEST_AT has passed and this week's digest has not run.

    A run is remembered by the week it reported on. The program must have been running at that
    moment: a new install sends its first digest at the next DIGEST_AT. Posting twice is
    prevented by the post itself (its key, looked up in Slack first), not by this memory, so a
    restored older home that finds the digest due again posts nothing twice.
    """
    mark = digest_mark(app, now)
    since = when(state.get("since"))
    if mark is None or now < mark or since is None or since > mark:
        return []
    return [] if state.get("digest") == report_week(now, app.settings.zone).label else [DIGEST]


def next_digest(app: App, now: datetime, state: CadenceState) -> datetime | None:
    """When the digest tier falls due next (``now`` if it is due)."""
    mark = digest_mark(app, now)
    if mark is None or when(state.get("since")) is None:
        return None  # off, or the program has not run yet: the first digest follows the first run
    if digest_tier(app, now, state):
        return now
    return mark if mark > now else mark + timedelta(weeks=1)
