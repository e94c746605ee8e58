"""Circle membership rules (SPEC §4), pure: records + ``now`` + zone state in, decisions out.

Nothing here does I/O or talks to Slack: :func:`plan_circle` turns one circle's settings, the
partners (as scored by the health job) and the circle's Members records into :class:`Decision`
objects that the circles job carries out. Messaging limits (one nudge per 7 days, Do Not
Message) are the job's business; :class:`PartnerView` keeps ``do_not_message`` for it.

Choices where SPEC §4 leaves room:

- **In / pending.** A partner is *in* when it has a Members record of the circle with Status
  Active, *pending* with Status Pending invite. A partner with several Members records of one
  circle is read through the one that matters most: Active, else Pending invite, else Removed
  (newest Joined On, then record id, breaks ties); the extra records are listed in
  :attr:`CirclePlan.notes`.
- **Pending invites are admitted members whose Slack join has not completed.** They follow the
  leave rules (hysteresis included) like Active members: still qualifying → ``retry_pending``,
  meeting a leave rule → ``leave`` (the record becomes Removed). They never get ``at_risk`` (they
  are not in the channel yet) and they hold their place under Max Members.
- **Max Members.** Always-in partners are always admitted and count toward the cap; the places
  left after current members (Active and Pending invite, minus those leaving) and Always-in joins
  go to the other qualifying partners by highest score first, ties by e-mail. Lowering Max Members
  never removes anyone: the cap only limits joins. Partners the cap kept out are listed in
  :attr:`CirclePlan.waiting` (action ``"wait"``), for managers, not to be carried out.
- **No score** (Health Score empty: the health job has not scored the partner, e.g. a bad
  e-mail) means the partner does not qualify to join, and neither a low score nor staleness
  removes it (a data problem must not flap membership); Circle Override still applies.
- **Stale partners are not invited.** A partner whose score is ≥ Enter Score but who has no
  sourced referral for more than Stale After Days would be removed on the next run, so it does
  not join (possible with custom health weights or hand-edited scores).
- **Orphan members** (a Members record whose e-mail matches no usable Partners record) get no
  decision (a data problem; see notes) but occupy their place under the cap.
- **Rejoining** reuses the partner's Removed Members record: a ``join`` carries its id in
  ``member_id`` so the job can set it Active again instead of creating a record (the Circles base
  has 1,000 records on Airtable Free).
- **At risk.** ``zone_state`` maps a partner's e-mail to True once it was nudged in its current
  stay in the zone Leave ≤ score < Enter. The new state keeps only True entries: an e-mail is
  dropped when the score is back at or above Enter Score, when the partner leaves or is no longer
  in, or when it is Always in. Members without a score keep their entry unchanged.
- Duplicate Partners records with the same e-mail: the first one given is used.
- Days are whole calendar days: "more than Stale After Days" is ``(now - Last Referral On).days >
  stale_after_days`` (exactly 90 days stays, 91 leaves with the default).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from bases.records import Record
from bases.rows import MemberRow, PartnerRow
from bases.schema import MEMBER_STATUSES, OVERRIDES, table_def
from jobs.rules.circle_config import CircleConfig

MEMBERS_TABLE = table_def("circles", "Members")
AUTO, ALWAYS_IN, NEVER_IN = OVERRIDES
ACTIVE, REMOVED, PENDING = MEMBER_STATUSES

JOIN, LEAVE, AT_RISK, RETRY_PENDING, WAIT = "join", "leave", "at_risk", "retry_pending", "wait"
UNSET = ""  # a Members record made by hand without a Status
_STATUS_RANK = {ACTIVE: 0, PENDING: 1, REMOVED: 2, UNSET: 3}


@dataclass(frozen=True)
class PartnerView:
    """What the circle rules need of one partner (a Partners record after the health job ran)."""

    id: str
    email: str
    name: str
    score: int | None
    last_referral_on: date | None
    override: str = AUTO  # "Auto" | "Always in" | "Never in"
    do_not_message: bool = False

    @classmethod
    def from_row(cls, row: PartnerRow, score: int | None = None, last: date | None = None) -> PartnerView | None:
        """None when Email is missing or not an e-mail address.

        ``score`` and ``last`` (e.g. from a health plan not yet written) replace the record's
        Health Score and Last Referral On. An empty or unknown Circle Override is Auto.
        """
        if row.email is None:
            return None
        return cls(
            id=row.id,
            email=row.email,
            name=row.display_name,
            score=row.health_score if score is None else score,
            last_referral_on=row.last_referral_on if last is None else last,
            override=row.override if row.override in OVERRIDES else AUTO,
            do_not_message=row.do_not_message,
        )

    @classmethod
    def from_record(cls, rec: Record) -> PartnerView | None:
        return cls.from_row(PartnerRow.of(rec))


@dataclass(frozen=True)
class MemberView:
    """One Members record."""

    id: str
    circle_id: str
    email: str
    status: str  # Active | Removed | Pending invite | "" (made by hand, Status empty)
    joined_on: date | None = None
    removed_on: date | None = None

    @classmethod
    def from_record(cls, rec: Record) -> MemberView | None:
        """None when the record links no circle or has no valid Partner Email. A Status that is
        empty (a row made by hand) is read as :data:`UNSET`: the record is the partner's, and
        whether they are in the circle is not known.

        A record linked to several circles is read as a member of the first one.
        """
        row = MemberRow.of(rec)
        if row.circle_id is None or row.email is None:
            return None
        status = row.status if row.status in MEMBER_STATUSES else UNSET
        return cls(row.id, row.circle_id, row.email, status, row.joined_on, row.removed_on)


# --- decisions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What the job should do for one partner in one circle.

    ``action`` is "join", "leave", "at_risk" or "retry_pending" (and "wait" in
    :attr:`CirclePlan.waiting` only). ``reason`` is in plain words, shown to managers and used in
    the partner's message.
    """

    action: str
    circle_id: str
    partner_id: str
    email: str
    reason: str
    member_id: str | None = None
    score: int | None = None
    #: why, as a code the messages choose their words by (never shown to partners as is):
    #: never_in, low_score, stale, always_in, score, zone.
    why: str = ""
    #: the partner's other live (Active / Pending invite) Members records in this circle: a leave
    #: removes them all, so none of them makes the partner "in" again on the next run.
    also: tuple[str, ...] = ()


@dataclass
class CirclePlan:
    decisions: list[Decision] = field(default_factory=list)
    #: the new at-risk state: partner e-mail → True once nudged in the current stay in the zone.
    zone_state: dict[str, bool] = field(default_factory=dict)
    #: qualifying partners the Max Members cap kept out (action "wait"): for managers only.
    waiting: list[Decision] = field(default_factory=list)
    #: data problems seen while planning, in plain words (duplicate or orphan Members records).
    notes: list[str] = field(default_factory=list)
    #: Members record id → Sync Notes text (e.g. a second live record for the same partner).
    record_notes: dict[str, str] = field(default_factory=dict)

    def of(self, action: str) -> list[Decision]:
        return [d for d in self.decisions if d.action == action]

    @property
    def joins(self) -> list[Decision]:
        return self.of(JOIN)

    @property
    def leaves(self) -> list[Decision]:
        return self.of(LEAVE)

    @property
    def at_risk(self) -> list[Decision]:
        return self.of(AT_RISK)

    @property
    def retries(self) -> list[Decision]:
        return self.of(RETRY_PENDING)


# --- the rules --------------------------------------------------------------------------------


class Reason(NamedTuple):
    code: str  # what the partner's message is chosen by
    text: str  # for managers: the Members record's Reason, the run summary


def _leave_reason(circle: CircleConfig, p: PartnerView, now: date) -> Reason | None:
    """Why an in (or pending) partner leaves, or None when it stays."""
    if p.override == NEVER_IN:
        return Reason("never_in", "Circle Override is Never in")
    if p.override == ALWAYS_IN or p.score is None:
        return None
    if p.score < circle.leave:
        return Reason("low_score", f"score {p.score} < {circle.leave}")
    return _stale_reason(circle, p, now)


def _stale_reason(circle: CircleConfig, p: PartnerView, now: date) -> Reason | None:
    if p.last_referral_on is None:
        return Reason("stale", f"no referral on record (more than {circle.stale_after_days} days)")
    days = (now - p.last_referral_on).days
    if days > circle.stale_after_days:
        return Reason("stale", f"no referral for {days} days (more than {circle.stale_after_days})")
    return None


def _join_reason(circle: CircleConfig, p: PartnerView, now: date) -> Reason | None:
    """Why an out partner joins, or None when it does not qualify."""
    if p.override == NEVER_IN:
        return None
    if p.override == ALWAYS_IN:
        return Reason("always_in", "Circle Override is Always in")
    if p.score is None or p.score < circle.enter:
        return None
    if _stale_reason(circle, p, now) is not None:
        return None
    return Reason("score", f"health score {p.score} ≥ {circle.enter}")


def _unset_note(circle: CircleConfig, p: PartnerView) -> str:
    return (
        f"Status is empty, so partnerops does not know whether {p.email} is in {circle.name}, and leaves them "
        "as they are: set Status to Active if they are in the channel, or Removed if they are not"
    )


def _member_key(m: MemberView) -> tuple[int, int, str]:
    joined = m.joined_on.toordinal() if m.joined_on else 0
    return (_STATUS_RANK[m.status], -joined, m.id)


def _members_by_email(
    circle: CircleConfig, members: Iterable[MemberView], notes: list[str], record_notes: dict[str, str]
) -> tuple[dict[str, MemberView], dict[str, tuple[str, ...]]]:
    """The Members record that stands for each partner, and the partner's other live records.

    Membership is the record whose Circle links this circle and whose Partner Email is the
    partner's (SPEC §2.3); the Member label is never compared.
    """
    grouped: dict[str, list[MemberView]] = {}
    for m in members:
        if m.circle_id == circle.id:
            grouped.setdefault(m.email, []).append(m)
    chosen: dict[str, MemberView] = {}
    others: dict[str, tuple[str, ...]] = {}
    for email, records in grouped.items():
        records.sort(key=_member_key)
        chosen[email] = records[0]
        live = [r for r in records if r.status in (ACTIVE, PENDING)]
        if len(live) > 1:
            others[email] = tuple(r.id for r in live[1:])
            notes.append(
                f"{email} has {len(live)} Active/Pending invite Members records in {circle.name}; "
                f"{records[0].id} is used and the others ({', '.join(others[email])}) are ignored"
            )
            for extra in live[1:]:
                record_notes[extra.id] = (
                    f"{email} has another live record in {circle.name} ({records[0].id}), which the job uses; "
                    "delete this one or set its Status to Removed"
                )
    return chosen, others


def plan_circle(
    circle: CircleConfig,
    partners: Sequence[PartnerView],
    members: Sequence[MemberView],
    now: date,
    zone_state: dict[str, bool] | None = None,
) -> CirclePlan:
    """The membership decisions for one circle on day ``now`` (see the module docstring)."""
    state_in = dict(zone_state or {})
    if not (circle.active and circle.trusted):
        return CirclePlan(zone_state=state_in)

    notes: list[str] = []
    record_notes: dict[str, str] = {}
    member_of, also_of = _members_by_email(circle, members, notes, record_notes)

    seen: dict[str, PartnerView] = {}
    for p in partners:
        seen.setdefault(p.email, p)
    views = sorted(seen.values(), key=lambda p: p.email)

    leaves: list[Decision] = []
    retries: list[Decision] = []
    at_risk: list[Decision] = []
    always_candidates: list[tuple[PartnerView, Reason, str | None]] = []
    auto_candidates: list[tuple[PartnerView, Reason, str | None]] = []
    new_state: dict[str, bool] = {}
    occupied = 0  # Active + Pending invite places that stay taken this cycle

    for email, orphan in member_of.items():
        if orphan.status in (ACTIVE, PENDING) and email not in seen:
            occupied += 1
            notes.append(
                f"{email} is {orphan.status} in {circle.name} but has no usable Partners record; no change is made"
            )
            if orphan.status == ACTIVE and state_in.get(email):
                new_state[email] = True

    for p in views:
        m = member_of.get(p.email)
        status = m.status if m else None
        member_id = m.id if m else None

        def decide(
            action: str, reason: str, code: str = "", p: PartnerView = p, member_id: str | None = member_id
        ) -> Decision:
            also = also_of.get(p.email, ())
            return Decision(action, circle.id, p.id, p.email, reason, member_id, p.score, code, also)

        if status in (ACTIVE, PENDING):
            leave = _leave_reason(circle, p, now)
            if leave is not None:
                leaves.append(decide(LEAVE, leave.text, leave.code))
                continue
            occupied += 1
            if status == PENDING:
                if p.override == ALWAYS_IN:
                    retries.append(
                        decide(RETRY_PENDING, "invite still pending; Circle Override is Always in", "always_in")
                    )
                elif p.score is not None and p.score >= circle.enter:
                    retries.append(
                        decide(RETRY_PENDING, f"invite still pending; health score {p.score} ≥ {circle.enter}", "score")
                    )
                elif p.score is None:
                    retries.append(decide(RETRY_PENDING, "invite still pending; no health score yet", "score"))
                else:
                    retries.append(
                        decide(RETRY_PENDING, f"invite still pending; score {p.score} ≥ {circle.leave}", "score")
                    )
                continue
            # Active member that stays.
            if p.override == ALWAYS_IN:
                continue
            if p.score is None:
                if state_in.get(p.email):
                    new_state[p.email] = True
                continue
            if p.score < circle.enter:  # leave ≤ score < enter: the at-risk zone
                if not state_in.get(p.email):
                    at_risk.append(
                        decide(AT_RISK, f"score {p.score} < {circle.enter} (leaves below {circle.leave})", "zone")
                    )
                new_state[p.email] = True
            continue

        join = _join_reason(circle, p, now)
        if join is None:
            if status == UNSET and member_id is not None:
                record_notes.setdefault(member_id, _unset_note(circle, p))
            continue
        if p.override == ALWAYS_IN:
            always_candidates.append((p, join, member_id))
        else:
            auto_candidates.append((p, join, member_id))

    joins: list[Decision] = []
    waiting: list[Decision] = []
    for p, join, member_id in always_candidates:
        joins.append(Decision(JOIN, circle.id, p.id, p.email, join.text, member_id, p.score, join.code))
    occupied += len(always_candidates)
    auto_candidates.sort(key=lambda c: (-(c[0].score or 0), c[0].email))
    free = None if circle.max_members is None else max(0, circle.max_members - occupied)
    for i, (p, join, member_id) in enumerate(auto_candidates):
        if free is None or i < free:
            joins.append(Decision(JOIN, circle.id, p.id, p.email, join.text, member_id, p.score, join.code))
        else:
            full = f"{join.text}, but {circle.name} is full (Max Members {circle.max_members})"
            waiting.append(Decision(WAIT, circle.id, p.id, p.email, full, member_id, p.score, join.code))

    return CirclePlan(
        decisions=[*leaves, *joins, *retries, *at_risk],
        zone_state=new_state,
        waiting=waiting,
        notes=notes,
        record_notes=record_notes,
    )


def plan_circles(
    circles: Sequence[CircleConfig],
    partners: Sequence[PartnerView],
    members: Sequence[MemberView],
    now: date,
    zone_states: dict[str, dict[str, bool]] | None = None,
) -> dict[str, CirclePlan]:
    """:func:`plan_circle` for each circle that runs, with its own members and at-risk state."""
    states = zone_states or {}
    plans: dict[str, CirclePlan] = {}
    for circle in circles:
        if circle.runs:
            own = [m for m in members if m.circle_id == circle.id]
            plans[circle.id] = plan_circle(circle, partners, own, now, states.get(circle.id, {}))
    return plans
