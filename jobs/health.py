"""Partner health: the score model of SPEC §3, the Stage moves of SPEC §2.1, and the `health` job.

The rules are pure: records + ``now`` (a :class:`~datetime.date`) + :class:`HealthSettings` in,
a :class:`HealthPlan` (the job-owned cells that differ from what the records hold) out. Only
:func:`run_health` touches the store, and only through :class:`~jobs.writeback.RecordWriter`.

Choices where SPEC §3 leaves room (each is a named setting or documented here):

- All days are whole UTC calendar days: a referral's date is its ``createdTime`` (the
  registration date) in UTC; an activity's date is its ``Date`` cell.
- "In the last N days" means ``0 <= (now - date).days <= N``, matching the ``≤`` of the recency
  steps. Records dated after ``now`` have not happened yet and are ignored.
- The weighted sum is computed exactly (fractions) and rounded half up (62.5 → 63), not with
  Python's banker's ``round`` (62.5 → 62); the result is clamped to 0–100.
- Quality counts sourced referrals *registered* in the last 365 days that are now Won or Lost
  (the bases hold no close date).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from bases.records import Record, normalize_email, parse_datetime, parse_fields, sync_notes
from bases.schema import BANDS, Writer, table_def
from jobs.effects import Progress
from jobs.writeback import RecordWriter, _same, to_cell

if TYPE_CHECKING:
    from integrations.airtable import AirtableClient
    from integrations.local import LocalStore
    from jobs.cycle import JobOutcome

PARTNERS_TABLE = table_def("partners", "Partners")

NEW, TOP, HEALTHY, AT_RISK, STALE = BANDS
NOT_SOURCED_STATUSES = frozenset({"Duplicate", "Rejected"})
CLOSED_STATUSES = frozenset({"Won", "Lost"})

#: Cells this job writes on Partners (all job-owned, Stage is M/J).
HEALTH_FIELDS = (
    "Health Score",
    "Health Band",
    "Previous Band",
    "Band Changed On",
    "Last Referral On",
    "First Referral On",
    "Referrals 90d",
    "Won Referrals",
    "Stage",
    "Sync Notes",
)


@dataclass(frozen=True)
class HealthSettings:
    """The score model; the defaults are exactly SPEC §3."""

    weight_recency: float = 0.40
    weight_volume: float = 0.25
    weight_quality: float = 0.25
    weight_engagement: float = 0.10
    #: (at most this many days since the newest sourced referral, recency); older or none → 0.
    recency_steps: tuple[tuple[int, int], ...] = ((14, 100), (30, 85), (60, 70), (90, 50), (180, 25))
    volume_per_referral: float = 100 / 3
    volume_window_days: int = 90
    quality_window_days: int = 365
    #: Quality = 100·(won + prior_won) / (closed + prior_won + prior_lost): (won+1)/(closed+2).
    quality_prior_won: int = 1
    quality_prior_lost: int = 1
    engagement_per_activity: float = 50
    engagement_window_days: int = 90
    top_from: int = 75
    healthy_from: int = 50
    at_risk_from: int = 25
    new_partner_days: int = 30

    @property
    def weights(self) -> tuple[float, float, float, float]:
        return (self.weight_recency, self.weight_volume, self.weight_quality, self.weight_engagement)


DEFAULT_SETTINGS = HealthSettings()


def _exact(x: float) -> Fraction:
    """A setting as an exact fraction (0.4 → 2/5, 100/3 → 100/3), so rounding half up is exact."""
    return Fraction(x).limit_denominator(1_000_000)


def _num(x: Fraction) -> float:
    return float(x)


def _show(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


@dataclass(frozen=True)
class Score:
    recency: float
    volume: float
    quality: float
    engagement: float
    score: int
    band: str
    last_referral_on: date | None
    first_referral_on: date | None
    referrals_90d: int
    won_referrals: int  # all time
    won_in_window: int = 0
    closed_in_window: int = 0
    activities_in_window: int = 0
    weights: tuple[float, float, float, float] = DEFAULT_SETTINGS.weights

    def explain(self) -> str:
        wr, wv, wq, we = self.weights
        last = self.last_referral_on.isoformat() if self.last_referral_on else "none"
        return (
            f"score {self.score} = {wr:.2f}·{_show(self.recency)} recency + {wv:.2f}·{_show(self.volume)} volume"
            f" + {wq:.2f}·{_show(self.quality)} quality + {we:.2f}·{_show(self.engagement)} engagement"
            f" → {self.band} (last referral {last}, {self.referrals_90d} in 90d,"
            f" {self.won_in_window}/{self.closed_in_window} won/closed, {self.activities_in_window} activities)"
        )


# --- reading records -------------------------------------------------------------------------


def _select(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) and value else None


def _created_on(record: Record) -> date | None:
    """A record's createdTime as a UTC calendar date (None when missing or unreadable)."""
    try:
        return parse_datetime(record.created_time).astimezone(timezone.utc).date()
    except (ValueError, TypeError):
        return None


def _cell_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value).strip()[:10]) if value else None
    except ValueError:
        return None


def is_sourced(referral: Record) -> bool:
    """Direction From partner and Status not Duplicate/Rejected (an empty Status is New)."""
    return (
        _select(referral.get("Direction")) == "From partner"
        and _select(referral.get("Status")) not in NOT_SOURCED_STATUSES
    )


def _within(d: date, now: date, days: int) -> bool:
    return 0 <= (now - d).days <= days


# --- the score -------------------------------------------------------------------------------


def recency_part(days_since: int | None, settings: HealthSettings = DEFAULT_SETTINGS) -> int:
    if days_since is None:
        return 0
    for limit, value in settings.recency_steps:
        if days_since <= limit:
            return value
    return 0


def volume_part(n: int, settings: HealthSettings = DEFAULT_SETTINGS) -> Fraction:
    return min(Fraction(100), n * _exact(settings.volume_per_referral))


def quality_part(won: int, closed: int, settings: HealthSettings = DEFAULT_SETTINGS) -> Fraction:
    a, b = settings.quality_prior_won, settings.quality_prior_lost
    return Fraction(100 * (won + a), closed + a + b)


def engagement_part(n: int, settings: HealthSettings = DEFAULT_SETTINGS) -> Fraction:
    return min(Fraction(100), n * _exact(settings.engagement_per_activity))


def round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def band_for(score: int, settings: HealthSettings = DEFAULT_SETTINGS) -> str:
    """The band of a scored partner (New is decided by :func:`score_partner`)."""
    if score >= settings.top_from:
        return TOP
    if score >= settings.healthy_from:
        return HEALTHY
    if score >= settings.at_risk_from:
        return AT_RISK
    return STALE


def score_partner(
    partner: Record,
    sourced_referrals: Iterable[Record],
    activities: Iterable[Record],
    now: date,
    settings: HealthSettings = DEFAULT_SETTINGS,
) -> Score:
    """The health of one partner on day ``now``.

    ``sourced_referrals`` are this partner's referrals (those that are not sourced, see
    :func:`is_sourced`, or are dated after ``now`` are ignored); ``activities`` are the
    Activities linked to the partner. The partner record gives Joined On / createdTime for New.
    """
    refs: list[tuple[date, str | None]] = []
    for r in sourced_referrals:
        d = _created_on(r)
        if d is not None and d <= now and is_sourced(r):
            refs.append((d, _select(r.get("Status"))))
    dates = sorted(d for d, _ in refs)
    last = dates[-1] if dates else None
    first = dates[0] if dates else None
    n_volume = sum(1 for d in dates if _within(d, now, settings.volume_window_days))
    won_all = sum(1 for _, s in refs if s == "Won")
    in_quality = [s for d, s in refs if _within(d, now, settings.quality_window_days) and s in CLOSED_STATUSES]
    won, closed = in_quality.count("Won"), len(in_quality)
    n_acts = 0
    for a in activities:
        d = _cell_date(a.get("Date"))
        if d is not None and _within(d, now, settings.engagement_window_days):
            n_acts += 1

    recency = Fraction(recency_part((now - last).days if last else None, settings))
    volume = volume_part(n_volume, settings)
    quality = quality_part(won, closed, settings)
    engagement = engagement_part(n_acts, settings)
    wr, wv, wq, we = (_exact(w) for w in settings.weights)
    total = round_half_up(wr * recency + wv * volume + wq * quality + we * engagement)
    total = max(0, min(100, total))

    joined = _cell_date(partner.get("Joined On")) or _created_on(partner)
    is_new = not dates and joined is not None and (now - joined).days < settings.new_partner_days
    return Score(
        recency=_num(recency),
        volume=_num(volume),
        quality=_num(quality),
        engagement=_num(engagement),
        score=total,
        band=NEW if is_new else band_for(total, settings),
        last_referral_on=last,
        first_referral_on=first,
        referrals_90d=n_volume,
        won_referrals=won_all,
        won_in_window=won,
        closed_in_window=closed,
        activities_in_window=n_acts,
        weights=settings.weights,
    )


# --- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthChange:
    """A partner whose score or band changes (old values are None before the first scoring)."""

    record_id: str
    name: str
    old_score: int | None
    old_band: str | None
    new_score: int
    new_band: str
    explain: str

    @property
    def band_changed(self) -> bool:
        return self.old_band != self.new_band

    def __str__(self) -> str:
        old = f"{self.old_score if self.old_score is not None else '–'} {self.old_band or '–'}"
        return f"{self.name}: {old} → {self.new_score} {self.new_band}; {self.explain}"


@dataclass(frozen=True)
class StageMove:
    record_id: str
    name: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.name} {self.old}→{self.new}"


@dataclass
class HealthPlan:
    #: record id → {field: value in Airtable cell format}; only cells that differ.
    cells: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: dict[str, Score] = field(default_factory=dict)  # record id → score, scored partners only
    changes: list[HealthChange] = field(default_factory=list)
    stage_moves: list[StageMove] = field(default_factory=list)
    needs_attention: dict[str, str] = field(default_factory=dict)  # record id → Sync Notes text
    unscored: list[str] = field(default_factory=list)  # record ids without a usable Email
    names: dict[str, str] = field(default_factory=dict)  # record id → display name

    @property
    def band_changes(self) -> list[HealthChange]:
        return [c for c in self.changes if c.band_changed]


def _display_name(record: Record) -> str:
    for key in ("Name", "Email"):
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return record.id


def _next_stage(stage: str | None, old_band: str | None, score: Score, band_changed_on: date | None) -> str | None:
    """SPEC §2.1: Onboarded→Active on the first sourced referral; Active→Stale when the band
    becomes Stale; Stale→Active on a sourced referral newer than the last band change."""
    if stage is None:
        return None
    new = stage
    if new == "Onboarded" and score.first_referral_on is not None:
        new = "Active"
    if new == "Active" and score.band == STALE and old_band != STALE:
        new = "Stale"
    elif (
        stage == "Stale"
        and score.last_referral_on is not None
        and band_changed_on is not None
        and score.last_referral_on > band_changed_on
    ):
        new = "Active"
    return new


def _problems_text(parsed_problems: Sequence[Any]) -> str:
    # Problems in cells this job overwrites anyway (its own fields) are not the manager's to fix.
    own = {f.name for f in PARTNERS_TABLE.fields if f.writer is Writer.JOB}
    return sync_notes([p for p in parsed_problems if p.field not in own])


def plan_health(
    partners: Sequence[Record],
    referrals: Sequence[Record],
    activities: Sequence[Record],
    now: date,
    settings: HealthSettings = DEFAULT_SETTINGS,
) -> HealthPlan:
    """The cells to write on Partners so they show each partner's health on day ``now``."""
    by_email: dict[str, list[Record]] = defaultdict(list)
    for r in referrals:
        email = r.get("Partner Email")
        if isinstance(email, str) and email.strip() and is_sourced(r):
            by_email[normalize_email(email)].append(r)
    by_partner: dict[str, list[Record]] = defaultdict(list)
    for a in activities:
        links = a.get("Partner")
        if isinstance(links, list):
            for link in {(x.get("id") if isinstance(x, dict) else x) for x in links}:
                if isinstance(link, str):
                    by_partner[link].append(a)

    plan = HealthPlan()
    for rec in partners:
        name = _display_name(rec)
        plan.names[rec.id] = name
        parsed = parse_fields(PARTNERS_TABLE, rec.fields)
        notes = _problems_text(parsed.problems)
        wanted: dict[str, Any] = {"Sync Notes": notes}
        if notes:
            plan.needs_attention[rec.id] = notes
        email = parsed.values.get("Email")
        if email is not None:
            score = score_partner(rec, by_email.get(email, ()), by_partner.get(rec.id, ()), now, settings)
            plan.scores[rec.id] = score
            old_score: int | None = parsed.values.get("Health Score")
            old_band: str | None = parsed.values.get("Health Band")
            wanted.update(
                {
                    "Health Score": score.score,
                    "Health Band": score.band,
                    "Last Referral On": score.last_referral_on,
                    "First Referral On": score.first_referral_on,
                    "Referrals 90d": score.referrals_90d,
                    "Won Referrals": score.won_referrals,
                }
            )
            if score.band != old_band:
                wanted["Band Changed On"] = now
                if old_band is not None:
                    wanted["Previous Band"] = old_band
            stage: str | None = parsed.values.get("Stage")
            new_stage = _next_stage(stage, old_band, score, parsed.values.get("Band Changed On"))
            if stage is not None and new_stage is not None and new_stage != stage:
                wanted["Stage"] = new_stage
                plan.stage_moves.append(StageMove(rec.id, name, stage, new_stage))
            if score.score != old_score or score.band != old_band:
                plan.changes.append(
                    HealthChange(rec.id, name, old_score, old_band, score.score, score.band, score.explain())
                )
        else:
            plan.unscored.append(rec.id)
        diff = {n: to_cell(v) for n, v in wanted.items() if not _same(rec.get(n), to_cell(v))}
        if diff:
            plan.cells[rec.id] = diff
    return plan


# --- the job ---------------------------------------------------------------------------------


class HealthRuntime(Protocol):
    store: LocalStore
    client: AirtableClient | None


def today_of(now: datetime) -> date:
    """The UTC calendar day of ``now`` (a naive ``now`` is taken as UTC)."""
    return now.astimezone(timezone.utc).date() if now.tzinfo else now.date()


def load_plan(rt: HealthRuntime, now: datetime, settings: HealthSettings = DEFAULT_SETTINGS) -> HealthPlan:
    return plan_health(
        rt.store.all("partners", "Partners"),
        rt.store.all("referrals", "Referrals"),
        rt.store.all("partners", "Activities"),
        today_of(now),
        settings,
    )


def health_estimate(rt: HealthRuntime, now: datetime) -> int:
    """Airtable calls the job will spend: one per 10 partners with changed cells (0 offline)."""
    if rt.client is None:
        return 0
    return math.ceil(len(load_plan(rt, now).cells) / 10)


def _listed(items: Sequence[object], limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f", … {len(items) - limit} more" if len(items) > limit else "")


def summarize(plan: HealthPlan) -> str:
    """One line: "250 partners scored: 4 changed (2 band changes: Ana Top→Healthy, …), …"."""
    bands = [f"{c.name} {c.old_band or '–'}→{c.new_band}" for c in plan.band_changes]
    text = f"{len(plan.scores)} partners scored: {len(plan.changes)} changed"
    if bands:
        text += f" ({len(bands)} band change{'s' if len(bands) != 1 else ''}: {_listed(bands)})"
    if plan.stage_moves:
        n = len(plan.stage_moves)
        text += f"; {n} stage move{'s' if n != 1 else ''}: {_listed(plan.stage_moves)}"
    if plan.unscored:
        names = [plan.names[i] for i in plan.unscored]
        text += f"; {len(names)} not scored (see Sync Notes): {_listed(names)}"
    return text


def run_health(
    rt: HealthRuntime,
    now: datetime,
    dry_run: bool,
    progress: Progress,
    settings: HealthSettings = DEFAULT_SETTINGS,
) -> JobOutcome:
    from jobs.cycle import JobOutcome  # jobs.cycle imports this module

    plan = load_plan(rt, now, settings)
    summary = summarize(plan)
    if dry_run:
        lines = [summary, *(f"  {c}" for c in plan.changes), *(f"  stage: {m}" for m in plan.stage_moves)]
        lines += [f"  {plan.names[i]}: Sync Notes: {t}" for i, t in plan.needs_attention.items()]
        lines.append(f"  would write {len(plan.cells)} partner records")
        return JobOutcome("health", "planned", "\n".join(lines))
    progress(f"health: writing {len(plan.cells)} partner records")
    result = RecordWriter(rt.store, rt.client).update("partners", "Partners", plan.cells)
    failures = [f"{plan.names.get(i, i)}: {why}" for i, why in result.failed.items()]
    return JobOutcome("health", "done", f"{summary}; {result.written} records written", failures)
