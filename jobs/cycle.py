"""The jobs, their order within a cycle, and one cycle of them.

A job that cannot afford its Airtable calls this month is skipped and says so; a job that
fails does not stop the ones after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bases.schema import BASES, BaseDef
from integrations.airtable import AirtableError, BudgetExhausted
from jobs.circles import circles_estimate, run_circles
from jobs.effects import Progress
from jobs.health import health_estimate, run_health
from jobs.intros import intros_estimate, run_intros
from jobs.referrals import referrals_estimate, run_referrals
from jobs.runtime import Runtime, scrub
from jobs.stages import run_stages, stages_estimate
from jobs.sync import Syncer, full_sync_cost, full_sync_reason

log = logging.getLogger(__name__)


@dataclass
class JobOutcome:
    job: str
    status: str  # done, skipped, failed, planned
    summary: str
    failures: list[str] = field(default_factory=list)
    calls: int = 0

    @property
    def ok(self) -> bool:
        return self.status in ("done", "skipped", "planned") and not self.failures


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Runtime, datetime, bool, Progress], JobOutcome]
    estimate: Callable[[Runtime, datetime], int]  # Airtable calls it expects to spend


def _sync_estimate(rt: Runtime, now: datetime, bases: list[str] | None = None) -> int:
    if rt.client is None:
        return 0
    calls = 0
    for base in _bases(bases):
        state = rt.store.get_state(f"sync:{base.key}")
        if full_sync_reason(state, rt.client.base_id(base.key), now, rt.settings.sync_full_every_days):
            calls += full_sync_cost(rt.store, base, state)
        else:
            calls += 2  # a poll, and room for a read when the feed did not carry a record whole
    return calls


def _bases(keys: list[str] | None) -> list[BaseDef]:
    return [b for b in BASES if keys is None or b.key in keys]


def _run_sync(
    rt: Runtime, now: datetime, dry_run: bool, progress: Progress, bases: list[str] | None = None
) -> JobOutcome:
    if rt.client is None:
        return JobOutcome("sync", "skipped", "no AIRTABLE_TOKEN: the local store is the data, nothing to sync")
    if dry_run:
        plans = []
        for base in _bases(bases):
            reason = full_sync_reason(
                rt.store.get_state(f"sync:{base.key}"),
                rt.client.base_id(base.key),
                now,
                rt.settings.sync_full_every_days,
            )
            plans.append(f"{base.name}: " + (f"full resync ({reason})" if reason else "poll the change feed"))
        return JobOutcome("sync", "planned", "; ".join(plans))
    syncer = Syncer(rt.client, rt.store, full_every_days=rt.settings.sync_full_every_days, progress=progress)
    reports = syncer.run(now, bases)
    failures = [str(d) for r in reports for d in r.differences if d.blocking]
    for r in reports:
        for w in r.warnings:
            log.warning("%s", w)
    summary = "; ".join(r.summary() for r in reports)
    return JobOutcome("sync", "done", summary, failures)


def sync_job(bases: list[str] | None) -> Job:
    """The sync job for some bases only (the planner polls the Referrals base more often)."""
    return Job(
        "sync",
        lambda rt, now, dry, say: _run_sync(rt, now, dry, say, bases),
        lambda rt, now: _sync_estimate(rt, now, bases),
    )


JOBS: dict[str, Job] = {
    "sync": sync_job(None),
    "health": Job(
        "health", lambda rt, now, dry, say: run_health(rt, now, dry, say, rt.settings.health), health_estimate
    ),
    "circles": Job("circles", run_circles, circles_estimate),
    "referrals": Job("referrals", run_referrals, referrals_estimate),
    "stages": Job("stages", run_stages, stages_estimate),
    "intros": Job("intros", run_intros, intros_estimate),
}
ORDER = ["sync", "health", "circles", "referrals", "stages", "intros", "digest"]


def unknown_jobs(names: list[str]) -> list[str]:
    return [n for n in names if n not in JOBS]


def run_cycle(
    rt: Runtime,
    now: datetime,
    *,
    only: list[str] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[JobOutcome]:
    """Every job (or those named), in cycle order, whether due or not."""
    jobs = [JOBS[n] for n in ORDER if n in JOBS and (not only or n in only)]
    return run_jobs(rt, jobs, now, dry_run=dry_run, progress=progress, should_stop=should_stop)


def run_jobs(
    rt: Runtime,
    jobs: list[Job],
    now: datetime,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[JobOutcome]:
    """Run ``jobs`` in the order given; a stop request is honoured between jobs, never inside one."""
    say = progress or (lambda _m: None)
    outcomes = []
    for job in jobs:
        if should_stop():
            break
        outcomes.append(run_job(rt, job, now, dry_run, say))
    return outcomes


def run_job(rt: Runtime, job: Job, now: datetime, dry_run: bool, say: Progress) -> JobOutcome:
    before = rt.ledger.used(now)
    if rt.client is not None and not dry_run:
        needed = job.estimate(rt, now)
        if not rt.client.can_afford(needed):
            left = rt.client.remaining()
            return JobOutcome(job.name, "skipped", f"needs about {needed} Airtable calls, {left} left this month")
    say(f"{job.name}: running")
    try:
        outcome = job.run(rt, now, dry_run, say)
    except BudgetExhausted as exc:
        outcome = JobOutcome(job.name, "failed", f"stopped: {exc.message}", [exc.message])
    except AirtableError as exc:
        log.error("%s failed: %s", job.name, exc)
        outcome = JobOutcome(job.name, "failed", str(exc), [str(exc)])
    except Exception as exc:  # a CRM or Slack outage, or a bug: the jobs after this one still run
        log.exception("%s failed", job.name)
        why = scrub(f"{type(exc).__name__}: {exc}", rt.settings.secrets())
        outcome = JobOutcome(job.name, "failed", why, [why])
    outcome.calls = rt.ledger.used(now) - before
    return outcome
