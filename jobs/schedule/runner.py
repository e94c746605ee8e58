"""One runner for every job: read → plan → apply, with the same rules for all of them.

1. A job that cannot afford its Airtable calls this month is skipped and says so.
2. A job whose fields cannot be trusted (renamed, retyped, a lost option: see ``bases check``)
   is blocked, with one clear message, and so are the jobs that read its output.
3. What a killed run of the job left queued is finished first, so the plan sees its results
   (each job finishes its own leftovers: a stopped job's wait with it).
4. ``read`` gathers what the rules need (the only I/O before planning: the store, Slack users,
   the CRM's deals); ``plan`` is pure; the plan's effects are queued together, then applied.
5. Sync Notes: each job says what it found wrong with the records it looked at, and every
   effect that failed explains itself on the record it was about; the text a record shows is
   composed from what every job says, written only where it changed.
A job that raises anything (an outage, a bug) fails alone; the jobs after it still run — except a
service refusing a setting (a rejected token, an unknown base id): the run stops there
(:mod:`jobs.refused`, exit 2).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from bases.fields import PartnerF
from bases.records import Cell
from bases.schema import base as base_def
from integrations.airtable import AirtableError, BudgetExhausted
from integrations.http import scrub
from jobs.app import App
from jobs.apply.drain import NOT_DONE, DrainReport
from jobs.apply.queue import Queued
from jobs.messages.partner import BaseFull
from jobs.plan import CellUpdate, ChannelPost, Effect, JobOutcome, Plan, RecordCreate, RecordRef, Status, fingerprint
from jobs.refused import SettingRefused, drain_for, stop_if_refused
from jobs.schedule import notices, trust

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
I = TypeVar("I")  # noqa: E741 - a job's inputs


class Runnable(Protocol):
    """What the runner needs of a job (the cycle holds jobs of different input types)."""

    @property
    def name(self) -> str: ...

    @property
    def fields(self) -> tuple[str, ...]: ...

    @property
    def after(self) -> tuple[str, ...]: ...

    def cost(self, app: App, now: datetime) -> int:
        """Airtable calls it expects to spend."""
        ...

    def execute(self, app: App, now: datetime, say: Progress) -> JobOutcome: ...


@dataclass(frozen=True)
class Job(Generic[I]):
    """A job of the cycle: what it reads, how it plans, what it costs, which fields it trusts."""

    name: str
    read: Callable[[App, datetime], I]
    plan: Callable[[I], Plan]
    estimate: Callable[[App, datetime], int]  # Airtable calls it expects to spend
    #: "Table.Field" it reads (or writes and reads back): when one cannot be trusted, the job does not run.
    fields: tuple[str, ...] = ()
    #: "Table.Field" it only writes: renamed, deleted or retyped, the job does not run either; a
    #: field the base never had (a newer template's) is written around.
    writes: tuple[str, ...] = ()
    #: jobs whose output it reads: blocked with them.
    after: tuple[str, ...] = ()

    def cost(self, app: App, now: datetime) -> int:
        return self.estimate(app, now)

    def execute(self, app: App, now: datetime, say: Progress) -> JobOutcome:
        leftovers = drain_for(app, say, runnable_now(self.name))
        return apply_plan(app, self.name, self.plan(self.read(app, now)), now, say, leftovers)


class Skip(Exception):
    """Raised by a job's read: it has nothing it can do here (e.g. this CRM cannot be read back)."""


@dataclass
class Cycle:
    """What the jobs of one cycle found, for the ones after them."""

    blocked: dict[str, str] = field(default_factory=dict)  # job → why it could not run


#: An effect still failing this long after it was queued (tried again every run meanwhile) is
#: reported as a failure (exit 1), no longer as "left for the next run".
FAILING_FOR_LONG = timedelta(days=1)
STOPPED = "runner:stopped"  # job → why: jobs stopped by a field that cannot be trusted (their leftovers wait)


def stopped_jobs(app: App) -> dict[str, str]:
    value = app.store.get_state(STOPPED)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _mark_stopped(app: App, job: str, why: str | None) -> None:
    jobs = stopped_jobs(app)
    if (jobs.get(job) or None) == why:
        return
    if why is None:
        jobs.pop(job, None)
    else:
        jobs[job] = why
    app.store.set_state(STOPPED, dict(jobs))


def runnable_now(job: str) -> Callable[[Queued], bool]:
    """The queued effects a drain during ``job`` carries out: its own (what a killed run left,
    first) and the managers' notices still waiting. Another job's wait for that job's next run, so
    they are counted and explained where they belong — and a stopped job's stay unsent."""
    return lambda q: q.job in (job, notices.JOB, "")


def run_job(app: App, job: Runnable, now: datetime, cycle: Cycle, say: Progress) -> JobOutcome:
    before = app.ledger.used(now)
    outcome = _guarded(app, job, now, cycle, say)
    outcome.calls = app.ledger.used(now) - before
    return outcome


def _stopped(app: App, job: Runnable, now: datetime, cycle: Cycle, say: Progress) -> JobOutcome | None:
    """The job's outcome when it must not run: what it reads comes from a job that could not run,
    or a field it reads or writes cannot be trusted. Said once, here and to the managers."""
    upstream = {**stopped_jobs(app), **cycle.blocked}
    waiting = [j for j in job.after if j in upstream]
    if waiting:
        cause = upstream[waiting[0]]
        short = f"not run: {waiting[0]} could not run"
        why = f"not run: it reads what {waiting[0]} writes, and {waiting[0]} could not run ({cause})"
    else:
        broken = trust.problems(app.store, job.fields, getattr(job, "writes", ()))
        if not broken:
            _mark_stopped(app, job.name, None)
            return None
        cause = "; ".join(broken)
        short = "not run: a field it needs cannot be trusted"
        why = f"not run: {cause}. Nothing was written or sent on its basis; it runs again by itself once this is fixed"
        notices.tell(app, [notices.stopped(job.name, broken)], now, say)
    cycle.blocked[job.name] = cause
    _mark_stopped(app, job.name, cause)
    return JobOutcome(job.name, Status.BLOCKED, reason=short, failures=[why])


def _guarded(app: App, job: Runnable, now: datetime, cycle: Cycle, say: Progress) -> JobOutcome:
    held = _stopped(app, job, now, cycle, say)
    if held is not None:
        return held
    if app.airtable is not None and app.dry is None:
        needed = job.cost(app, now)
        if needed > 0 and not app.airtable.can_afford(needed):  # a job that costs nothing runs (the digest)
            left = app.airtable.remaining()
            return JobOutcome(
                job.name, Status.SKIPPED, reason=f"needs about {needed} Airtable calls, {left} left this month"
            )
    say(f"{job.name}: running")
    try:
        return job.execute(app, now, say)
    except Skip as exc:
        return JobOutcome(job.name, Status.SKIPPED, reason=str(exc))
    except BudgetExhausted as exc:
        return JobOutcome(job.name, Status.FAILED, reason=f"stopped: {exc.message}", failures=[exc.message])
    except SettingRefused:
        raise  # met while applying the plan (a push with a rejected token): the run stops, exit 2
    except AirtableError as exc:
        stop_if_refused(exc, app.settings)  # a rejected token or unknown base: the run stops, exit 2
        log.error("%s failed: %s", job.name, exc)
        cycle.blocked[job.name] = str(exc)
        return JobOutcome(job.name, Status.FAILED, reason=str(exc), failures=[str(exc)])
    except Exception as exc:  # an outage or a bug: the jobs after this one still run
        stop_if_refused(exc, app.settings)
        log.exception("%s failed", job.name)
        why = scrub(f"{type(exc).__name__}: {exc}", app.settings.secrets())
        cycle.blocked[job.name] = why
        return JobOutcome(job.name, Status.FAILED, reason=why, failures=[why])


def apply_plan(app: App, job: str, plan: Plan, now: datetime, say: Progress, leftovers: DrainReport) -> JobOutcome:
    """Queue a plan's effects together (its Sync Notes last, so they share writes), carry them
    out, then explain on each record what failed — and tell the managers, once per problem."""
    app.store.set_notes(job, {(r.base, r.table, r.id): t for r, t in plan.notes.items()})
    effects = [*plan.effects, *notes_effects(app, job, composed(app, set(plan.notes)), now)]
    plan.effects = _writable(app, effects)
    enqueued = app.queue.enqueue(plan.effects, now, job)
    runnable = runnable_now(job)
    report = drain_for(app, say, runnable)
    report.merge(leftovers)
    _own_held(app, job, report)
    stuck = failing_for_long(app, job, now)
    still = {**enqueued.still_failing, **{key: why for key, (_e, why) in stuck.items()}}
    # What this run's effects, a run's leftovers done now, and the long-failing ones were about.
    about = list({e.key: e for e in [*report.done, *(e for e, _why in stuck.values()), *plan.effects]}.values())
    delivery = delivery_notes(about, report, still)
    app.store.set_notes(f"{job} (delivery)", {(r.base, r.table, r.id): t for r, t in delivery.items()})
    later = notes_effects(app, f"{job}-delivery", composed(app, set(delivery)), now) + held_posts(app, report, now)
    if later:
        app.queue.enqueue(later, now, job)
        report.merge(drain_for(app, say, runnable))
        _own_held(app, job, report)
    told = failure_notices(job, plan, report)
    told += [notices.failing(job, e.key, e.describe, why) for e, why in stuck.values()]
    notices.tell(app, told, now, say)
    return outcome(job, plan, report, still, Status.PLANNED if app.dry else Status.DONE)


def failure_notices(job: str, plan: Plan, report: DrainReport) -> list[notices.Notice]:
    """One notice per reason the effects of this plan failed for good (or may not have happened),
    and one per problem the plan reported; an effect skipped because its group stopped is not
    a reason of its own."""
    by_why: dict[str, list[str]] = {}
    for e in plan.effects:
        why = report.failed.get(e.key) or report.unknown.get(e.key)
        if why and not why.startswith(NOT_DONE):
            by_why.setdefault(why, []).append(e.describe)
    out = [notices.refused(job, why, describes) for why, describes in by_why.items()]
    return out + [notices.problem(job, p) for p in plan.problems]


def failing_for_long(app: App, job: str, now: datetime) -> dict[str, tuple[Effect, str]]:
    """Effects of this job that are still tried every run and have failed for more than
    :data:`FAILING_FOR_LONG` (the CRM or Slack down for a day): no longer "left for the next run"
    but a failure, reported with its reason — and still tried every run."""
    out: dict[str, tuple[Effect, str]] = {}
    for effect, why, since in app.queue.failing_since(job, now - FAILING_FOR_LONG):
        out[effect.key] = (effect, f"failing since {since:%Y-%m-%d %H:%M} UTC, tried again every run: {why}")
    return out


def _own_held(app: App, job: str, report: DrainReport) -> None:
    """An effect held for room is retried by every job's drain: only the job that planned it tells."""
    report.held = [(e, why) for e, why in report.held if app.queue.job_of(e.key) in (job, "")]


def _writable(app: App, effects: list[Effect]) -> list[Effect]:
    """Cells of fields the live table does not have are left out (a template field added by a
    newer version, before `bases check --fix`), instead of failing the whole write."""
    out = []
    for e in effects:
        p = e.payload
        if isinstance(p, CellUpdate):
            have = _live_fields(app, p.base, p.table)
            if have is not None and any(name not in have for name in p.cells):
                cells = {k: v for k, v in p.cells.items() if k in have}
                if not cells:
                    continue
                e = replace(e, payload=CellUpdate(p.base, p.table, p.id, cells))
        out.append(e)
    return out


def _live_fields(app: App, base: str, table: str) -> set[str] | None:
    state = app.store.get_state(f"sync:{base}")
    if app.airtable is None or not isinstance(state, dict):
        return None
    fields = state.get("fields")
    have = fields.get(table) if isinstance(fields, dict) else None
    return {str(f) for f in have} if isinstance(have, list) else None


def delivery_notes(effects: list[Effect], report: DrainReport, still_failing: dict[str, str]) -> dict[RecordRef, str]:
    """For each record one of these effects was about: why it failed ("" when nothing did)."""
    lines: dict[RecordRef, list[str]] = {}
    held = {e.key: why for e, why in report.held}
    for e in effects:
        if e.source is None:
            continue
        why = report.failed.get(e.key) or report.unknown.get(e.key) or held.get(e.key) or still_failing.get(e.key)
        lines.setdefault(e.source, [])
        if why:
            lines[e.source].append(f"{e.describe} failed: {why}")
    return {ref: "\n".join(w) for ref, w in lines.items()}


def held_posts(app: App, report: DrainReport, now: datetime) -> list[Effect]:
    """A create held because its base is full, about no record: the managers' channel is told,
    once a day per base (the run's log and summary say it every time)."""
    posts: dict[str, Effect] = {}
    for effect, why in dict((e.key, (e, w)) for e, w in report.held).values():
        p = effect.payload
        log.warning("%s: waits: %s", effect.describe, why)
        if effect.source is not None or not isinstance(p, RecordCreate):
            continue
        key = f"held:{p.base}:{now.date().isoformat()}"
        count = max(app.store.count(p.base), app.settings.airtable_record_cap)
        text = BaseFull(base_def(p.base).name, count, app.settings.airtable_record_cap, effect.describe).text()
        channel = app.settings.slack_manager_channel
        if channel and key not in posts:
            posts[key] = Effect(
                key, ChannelPost(channel, text), "managers", f"tell the managers the {p.base} base is full"
            )
    return list(posts.values())


def composed(app: App, refs: set[RecordRef]) -> dict[RecordRef, str]:
    """The Sync Notes text these records should show (every job's notes), where it differs."""
    out: dict[RecordRef, str] = {}
    for ref in refs:
        text = "\n".join(t for _j, t in app.store.notes_for(ref.base, ref.table, ref.id))
        record = app.store.get(ref.base, ref.table, ref.id)
        if record is not None and (str(record.get(PartnerF.SYNC_NOTES) or "")).rstrip() != text.rstrip():
            out[ref] = text
    return out


def notes_effects(app: App, job: str, notes: dict[RecordRef, str], now: datetime) -> list[Effect]:
    effects = []
    for ref, text in sorted(notes.items(), key=lambda kv: (kv[0].base, kv[0].table, kv[0].id)):
        cells: dict[str, Cell] = {PartnerF.SYNC_NOTES: text or None}
        key = f"notes:{job}:{ref.base}:{ref.table}:{ref.id}:{now.isoformat()}:{fingerprint(text)}"
        payload = CellUpdate(ref.base, ref.table, ref.id, cells)
        effects.append(Effect(key, payload, ref.id, f"Sync Notes of {ref.table} {ref.id}"))
    return _writable(app, effects)


def outcome(job: str, plan: Plan, report: DrainReport, still_failing: dict[str, str], status: Status) -> JobOutcome:
    """What the job did: a count that effects carry (a push, a message) counts what was carried
    out; the others count what was decided (a duplicate, a record that needs a fix)."""
    carried = {e.counts_as for e in plan.effects if e.counts_as is not None}
    counts = Counter({c: n for c, n in plan.counts.items() if c not in carried})
    for e in report.done:
        if e.counts_as is not None:
            counts[e.counts_as] += 1
    failures = [*plan.problems, *report.failed.values(), *report.unknown.values(), *still_failing.values()]
    failures += list(dict.fromkeys(f"{e.describe}: waits: {why}" for e, why in report.held))
    fixes = [ref for ref, text in plan.notes.items() if text]
    if fixes:
        failures.append(f"{len(fixes)} record(s) need a fix: see their Sync Notes")
    return JobOutcome(job, status, counts=counts, story=plan.story, failures=failures, pending=report.pending)


def run_jobs(
    app: App,
    jobs: Sequence[Runnable],
    now: datetime,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[JobOutcome]:
    """Run ``jobs`` in the order given; a stop request is honoured between jobs, never inside one."""
    say = progress or (lambda _m: None)
    cycle = Cycle()
    outcomes = []
    for job in jobs:
        if should_stop():
            break
        outcomes.append(run_job(app, job, now, cycle, say))
    return outcomes
