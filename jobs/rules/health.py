"""The `health` job's rules: every partner's score, band, Stage move and the figures managers
read on the Partners table (SPEC §2.1, §3). Pure: records + ``now`` + settings → a :class:`Plan`
of cell updates (only the cells that differ), Sync Notes and counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from bases.fields import ActivityF, PartnerF, Stage
from bases.records import Cell, Record, cell_diff, sync_notes
from bases.rows import PARTNERS, ActivityRow, PartnerRow, ReferralRow
from bases.schema import Writer
from jobs.plan import CellUpdate, Count, Effect, Plan, RecordRef, fingerprint
from jobs.rules.partner_fields import Given, given_counts, health_detail
from jobs.rules.scores import DEFAULT_SETTINGS, STALE, HealthSettings, Score, is_sourced, score_rows


@dataclass(frozen=True)
class HealthInputs:
    partners: Sequence[Record]
    referrals: Sequence[Record]  # archived ones included: history counts
    activities: Sequence[Record]
    now: datetime
    settings: HealthSettings = field(default_factory=HealthSettings)


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


def next_stage(stage: str | None, old_band: str | None, score: Score, band_changed_on: date | None) -> str | None:
    """SPEC §2.1: Onboarded→Active on the first sourced referral; Active→Stale when the band
    becomes Stale; Stale→Active on a sourced referral newer than the last band change."""
    if stage is None:
        return None
    new = stage
    if new == Stage.ONBOARDED and score.first_referral_on is not None:
        new = Stage.ACTIVE
    if new == Stage.ACTIVE and score.band == STALE and old_band != STALE:
        new = Stage.STALE
    elif (
        stage == Stage.STALE
        and score.last_referral_on is not None
        and band_changed_on is not None
        and score.last_referral_on > band_changed_on
    ):
        new = Stage.ACTIVE
    return new


_OWN = {f.name for f in PARTNERS.fields if f.writer is Writer.JOB}


def _partner_notes(row: PartnerRow, duplicate_of: PartnerRow | None, today: date) -> str:
    # Problems in cells this job overwrites anyway (its own fields) are not the manager's to fix.
    extra = []
    if row.joined_on is not None and row.joined_on > today:
        extra.append(
            f"Joined On: {row.joined_on.isoformat()} is in the future; the partner counts as new until 30 days "
            "after it. If that is a typo, correct it"
        )
    if duplicate_of is not None:
        extra.append(
            f"Email: {duplicate_of.display_name} has the same e-mail; the jobs use that (older) record. "
            "Merge the two or delete this one"
        )
    return sync_notes([p for p in row.problems if p.field not in _OWN], extra)


def _wanted(score: Score, row: PartnerRow, now: date, settings: HealthSettings) -> dict[str, object]:
    wanted: dict[str, object] = {
        PartnerF.HEALTH_SCORE: score.score,
        PartnerF.HEALTH_BAND: score.band,
        PartnerF.LAST_REFERRAL_ON: score.last_referral_on,
        PartnerF.FIRST_REFERRAL_ON: score.first_referral_on,
        PartnerF.REFERRALS_90D: score.referrals_90d,
        PartnerF.WON_REFERRALS: score.won_referrals,
        PartnerF.HEALTH_DETAIL: health_detail(score, settings),
    }
    if score.band != row.health_band:
        wanted[PartnerF.BAND_CHANGED_ON] = now
        if row.health_band is not None:
            wanted[PartnerF.PREVIOUS_BAND] = row.health_band
    return wanted


@dataclass(frozen=True)
class StageMove:
    record_id: str
    name: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.name} {self.old}→{self.new}"


@dataclass
class HealthAssessment:
    """What the health rules found, before it becomes effects."""

    #: record id → the job-owned cells that differ from what the record holds (cell format).
    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)
    scores: dict[str, Score] = field(default_factory=dict)  # record id → score, scored partners only
    changes: list[HealthChange] = field(default_factory=list)
    stage_moves: list[StageMove] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # Partners record id → Sync Notes ("" = none)
    activity_notes: dict[str, str] = field(default_factory=dict)  # Activities record id → Sync Notes
    unscored: list[str] = field(default_factory=list)  # record ids without a usable Email
    names: dict[str, str] = field(default_factory=dict)  # record id → display name

    @property
    def band_changes(self) -> list[HealthChange]:
        return [c for c in self.changes if c.band_changed]


class _Assessor:
    def __init__(
        self,
        referrals: Sequence[Record],
        activities: Sequence[Record],
        today: date,
        settings: HealthSettings,
    ) -> None:
        self.today, self.settings = today, settings
        self.out = HealthAssessment()
        refs = [ReferralRow.of(r) for r in referrals]
        self.by_email: dict[str, list[ReferralRow]] = defaultdict(list)
        for r in refs:
            if r.partner_email and is_sourced(r):
                self.by_email[r.partner_email].append(r)
        self.given: dict[str, Given] = {}
        self.activities: dict[str, list[ActivityRow]] = defaultdict(list)
        for a in activities:
            act = ActivityRow.of(a)
            for link in set(act.partner_ids):
                self.activities[link].append(act)
            self.out.activity_notes[a.id] = sync_notes(list(act.problems))
        self.first_of: dict[str, PartnerRow] = {}

    def partner(self, row: PartnerRow) -> None:
        out = self.out
        out.names[row.id] = row.display_name
        duplicate_of = self.first_of.get(row.email) if row.email else None
        if row.email and duplicate_of is None:
            self.first_of[row.email] = row
        out.notes[row.id] = _partner_notes(row, duplicate_of, self.today)
        if row.email is None:
            out.unscored.append(row.id)
            return
        score = score_rows(
            row, self.by_email.get(row.email, ()), self.activities.get(row.id, ()), self.today, self.settings
        )
        out.scores[row.id] = score
        wanted = _wanted(score, row, self.today, self.settings)
        given, last_given = self.given.get(row.email, Given(0, None))
        wanted[PartnerF.REFERRALS_GIVEN] = given
        wanted[PartnerF.LAST_GIVEN_ON] = last_given
        stage = next_stage(row.stage, row.health_band, score, row.band_changed_on)
        if row.stage is not None and stage is not None and stage != row.stage:
            wanted[PartnerF.STAGE] = stage
            out.stage_moves.append(StageMove(row.id, row.display_name, row.stage, stage))
        if score.score != row.health_score or score.band != row.health_band:
            old = (row.health_score, row.health_band)
            out.changes.append(HealthChange(row.id, row.display_name, *old, score.score, score.band, score.explain()))
        diff = cell_diff(row.record.fields, wanted)
        if diff:
            out.cells[row.id] = diff


def assess_health(
    partners: Sequence[Record],
    referrals: Sequence[Record],
    activities: Sequence[Record],
    today: date,
    settings: HealthSettings = DEFAULT_SETTINGS,
) -> HealthAssessment:
    """Each partner's health on ``today`` and the cells to write on Partners to show it."""
    assessor = _Assessor(referrals, activities, today, settings)
    assessor.given = given_counts(referrals, partners)
    for record in partners:
        assessor.partner(PartnerRow.of(record))
    return assessor.out


def plan_health(inputs: HealthInputs) -> Plan:
    """The effects that make Partners show each partner's health on ``inputs.now``."""
    today = inputs.now.astimezone(timezone.utc).date()
    found = assess_health(inputs.partners, inputs.referrals, inputs.activities, today, inputs.settings)
    plan = Plan()
    plan.counts.update(
        {
            Count.SCORED: len(found.scores),
            Count.SCORE_CHANGES: len(found.changes),
            Count.BAND_CHANGES: len(found.band_changes),
            Count.STAGE_MOVES: len(found.stage_moves),
            Count.NOT_SCORED: len(found.unscored),
        }
    )
    plan.story += [str(c) for c in found.changes]
    plan.story += [f"{m.name}: Stage {m.old} → {m.new}" for m in found.stage_moves]
    plan.story += [
        f"{found.names[i]} is not scored: the Email is missing or not an e-mail address" for i in found.unscored
    ]
    for rid, text in found.notes.items():
        plan.note(RecordRef(PartnerF.BASE, PartnerF.TABLE, rid), text)
    for rid, text in found.activity_notes.items():
        plan.note(RecordRef(ActivityF.BASE, ActivityF.TABLE, rid), text)
    for rid, cells in found.cells.items():
        name = found.names.get(rid, rid)
        key = f"health:{rid}:{inputs.now.isoformat()}:{fingerprint(cells)}"
        plan.add(
            Effect(
                key,
                CellUpdate(PartnerF.BASE, PartnerF.TABLE, rid, cells),
                target=rid,
                describe=f"write {name}'s health ({', '.join(cells)})",
                counts_as=Count.RECORDS_WRITTEN,
                source=RecordRef(PartnerF.BASE, PartnerF.TABLE, rid),
            )
        )
    return plan


def scores_of(inputs: HealthInputs) -> dict[str, Score]:
    """Partner record id → its score now (the report; a dry run's circles)."""
    today = inputs.now.astimezone(timezone.utc).date()
    return assess_health(inputs.partners, inputs.referrals, inputs.activities, today, inputs.settings).scores
