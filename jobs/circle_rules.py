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

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from bases.records import Record, parse_fields
from bases.schema import CIRCLE_DEFAULTS, MEMBER_STATUSES, OVERRIDES, table_def

if TYPE_CHECKING:
    from jobs.health import Score

CIRCLES_TABLE = table_def("circles", "Circles")
MEMBERS_TABLE = table_def("circles", "Members")
PARTNERS_TABLE = table_def("partners", "Partners")

AUTO, ALWAYS_IN, NEVER_IN = OVERRIDES
ACTIVE, REMOVED, PENDING = MEMBER_STATUSES

JOIN, LEAVE, AT_RISK, RETRY_PENDING, WAIT = "join", "leave", "at_risk", "retry_pending", "wait"

DEFAULT_NAME: str = CIRCLE_DEFAULTS["Name"]
DEFAULT_ENTER: int = CIRCLE_DEFAULTS["Enter Score"]
DEFAULT_LEAVE: int = CIRCLE_DEFAULTS["Leave Score"]
DEFAULT_STALE_AFTER_DAYS: int = CIRCLE_DEFAULTS["Stale After Days"]

CHANNEL_ID_RE = re.compile(r"^[CG][A-Z0-9]{6,}$")
_STATUS_RANK = {ACTIVE: 0, PENDING: 1, REMOVED: 2}


# --- configuration and views of records -------------------------------------------------------


def _channel_id(raw: str) -> str | None:
    """A Slack channel id from what a manager pasted: the id itself or a link ending in it."""
    text = raw.strip()
    if CHANNEL_ID_RE.match(text):
        return text
    for part in reversed([p for p in re.split(r"[/?#&=]", text) if p]):
        if CHANNEL_ID_RE.match(part):
            return part
    return None


@dataclass(frozen=True)
class CircleConfig:
    """One Circles record, with SPEC §2.3 defaults for empty cells."""

    id: str
    name: str
    channel_id: str | None
    enter: int = DEFAULT_ENTER
    leave: int = DEFAULT_LEAVE
    stale_after_days: int = DEFAULT_STALE_AFTER_DAYS
    max_members: int | None = None
    perks: str = ""
    active: bool = True

    @classmethod
    def from_record(cls, rec: Record) -> tuple[CircleConfig, list[str]]:
        """The circle's settings and, in plain words, what is wrong with the record.

        Unreadable numbers fall back to the defaults; a Leave Score above the Enter Score is used
        as equal to the Enter Score (so members cannot flap) until a manager fixes it; a Stale
        After Days below 1 uses the default; a negative Max Members means no cap; a Slack Channel
        ID that is not a channel id is None (the job cannot invite until it is fixed).
        """
        parsed = parse_fields(CIRCLES_TABLE, rec.fields)
        values = parsed.values
        defaults: dict[str, Any] = {
            "Enter Score": DEFAULT_ENTER,
            "Leave Score": DEFAULT_LEAVE,
            "Stale After Days": DEFAULT_STALE_AFTER_DAYS,
            "Max Members": "no cap",
        }
        problems: list[str] = []
        for p in parsed.problems:
            if p.field in defaults:
                problems.append(f"{p}; using {defaults[p.field]} until it is fixed")
            elif p.field != "Sync Notes":
                problems.append(str(p))

        name = str(values.get("Name") or "").strip() or DEFAULT_NAME
        active = bool(values.get("Active", False))
        enter: int = values.get("Enter Score", DEFAULT_ENTER)
        leave: int = values.get("Leave Score", DEFAULT_LEAVE)
        stale: int = values.get("Stale After Days", DEFAULT_STALE_AFTER_DAYS)
        max_members: int | None = values.get("Max Members")

        if enter > 100:
            problems.append(f"Enter Score ({enter}) is above 100: no partner can reach it; use a score from 0 to 100")
        if enter < 0:
            problems.append(f"Enter Score ({enter}) is below 0; use a score from 0 to 100")
        if leave < 0:
            problems.append(
                f"Leave Score ({leave}) is below 0: nobody would ever leave for a low score; use a score from 0 to 100"
            )
        if leave > enter:
            problems.append(
                f"Leave Score ({leave}) is above Enter Score ({enter}): members would flap; set Leave Score below Enter Score"
            )
            leave = enter
        if stale < 1:
            problems.append(
                f"Stale After Days ({stale}) must be at least 1; using {DEFAULT_STALE_AFTER_DAYS} until it is fixed"
            )
            stale = DEFAULT_STALE_AFTER_DAYS
        if max_members is not None and max_members < 0:
            problems.append(
                f"Max Members ({max_members}) cannot be negative; leave it empty for no cap (no cap is used until it is fixed)"
            )
            max_members = None

        raw_channel = values.get("Slack Channel ID")
        channel_id: str | None = None
        if isinstance(raw_channel, str) and raw_channel.strip():
            channel_id = _channel_id(raw_channel)
            if channel_id is None:
                problems.append(
                    f"Slack Channel ID '{raw_channel.strip()}' does not look like a channel id (C… or G…);"
                    " in Slack open the private channel's details and copy the Channel ID at the bottom"
                )
        elif active:
            problems.append(
                "Slack Channel ID is empty: nobody can be invited; paste the private channel's id (C… or G…)"
            )

        perks = values.get("Perks")
        config = cls(
            id=rec.id,
            name=name,
            channel_id=channel_id,
            enter=enter,
            leave=leave,
            stale_after_days=stale,
            max_members=max_members,
            perks=perks.strip() if isinstance(perks, str) else "",
            active=active,
        )
        return config, problems


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
    def from_record(cls, rec: Record, health: Score | None = None) -> PartnerView | None:
        """None when Email is missing or not an e-mail address.

        ``health`` (the health job's :class:`~jobs.health.Score` of this partner, e.g. from a dry
        run that did not write it) replaces the record's Health Score and Last Referral On.
        An empty or unknown Circle Override is Auto.
        """
        values = parse_fields(PARTNERS_TABLE, rec.fields).values
        email = values.get("Email")
        if not isinstance(email, str):
            return None
        name = str(values.get("Name") or "").strip() or email
        score: int | None = values.get("Health Score")
        last: date | None = values.get("Last Referral On")
        if health is not None:
            score, last = health.score, health.last_referral_on
        return cls(
            id=rec.id,
            email=email,
            name=name,
            score=score,
            last_referral_on=last,
            override=values.get("Circle Override", AUTO),
            do_not_message=bool(values.get("Do Not Message", False)),
        )


@dataclass(frozen=True)
class MemberView:
    """One Members record."""

    id: str
    circle_id: str
    email: str
    status: str  # Active | Removed | Pending invite
    joined_on: date | None = None
    removed_on: date | None = None

    @classmethod
    def from_record(cls, rec: Record) -> MemberView | None:
        """None when the record links no circle, or has no valid Partner Email or Status.

        A record linked to several circles is read as a member of the first one.
        """
        values = parse_fields(MEMBERS_TABLE, rec.fields).values
        circles = values.get("Circle")
        email = values.get("Partner Email")
        status = values.get("Status")
        if not circles or not isinstance(email, str) or status not in MEMBER_STATUSES:
            return None
        return cls(
            id=rec.id,
            circle_id=str(circles[0]),
            email=email,
            status=status,
            joined_on=values.get("Joined On"),
            removed_on=values.get("Removed On"),
        )


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


def _leave_reason(circle: CircleConfig, p: PartnerView, now: date) -> str | None:
    """Why an in (or pending) partner leaves, or None when it stays."""
    if p.override == NEVER_IN:
        return "Circle Override is Never in"
    if p.override == ALWAYS_IN or p.score is None:
        return None
    if p.score < circle.leave:
        return f"score {p.score} < {circle.leave}"
    return _stale_reason(circle, p, now)


def _stale_reason(circle: CircleConfig, p: PartnerView, now: date) -> str | None:
    if p.last_referral_on is None:
        return f"no referral on record (more than {circle.stale_after_days} days)"
    days = (now - p.last_referral_on).days
    if days > circle.stale_after_days:
        return f"no referral for {days} days (more than {circle.stale_after_days})"
    return None


def _join_reason(circle: CircleConfig, p: PartnerView, now: date) -> str | None:
    """Why an out partner joins, or None when it does not qualify."""
    if p.override == NEVER_IN:
        return None
    if p.override == ALWAYS_IN:
        return "Circle Override is Always in"
    if p.score is None or p.score < circle.enter:
        return None
    if _stale_reason(circle, p, now) is not None:
        return None
    return f"health score {p.score} ≥ {circle.enter}"


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
        live = [r for r in records if r.status != REMOVED]
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
    if not circle.active:
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
    always_candidates: list[tuple[PartnerView, str, str | None]] = []
    auto_candidates: list[tuple[PartnerView, str, str | None]] = []
    new_state: dict[str, bool] = {}
    occupied = 0  # Active + Pending invite places that stay taken this cycle

    for email, orphan in member_of.items():
        if orphan.status != REMOVED and email not in seen:
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

        def decide(action: str, reason: str, p: PartnerView = p, member_id: str | None = member_id) -> Decision:
            return Decision(action, circle.id, p.id, p.email, reason, member_id, p.score, also_of.get(p.email, ()))

        if status in (ACTIVE, PENDING):
            why = _leave_reason(circle, p, now)
            if why is not None:
                leaves.append(decide(LEAVE, why))
                continue
            occupied += 1
            if status == PENDING:
                if p.override == ALWAYS_IN:
                    retries.append(decide(RETRY_PENDING, "invite still pending; Circle Override is Always in"))
                elif p.score is not None and p.score >= circle.enter:
                    retries.append(
                        decide(RETRY_PENDING, f"invite still pending; health score {p.score} ≥ {circle.enter}")
                    )
                elif p.score is None:
                    retries.append(decide(RETRY_PENDING, "invite still pending; no health score yet"))
                else:
                    retries.append(decide(RETRY_PENDING, f"invite still pending; score {p.score} ≥ {circle.leave}"))
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
                    at_risk.append(decide(AT_RISK, f"score {p.score} < {circle.enter} (leaves below {circle.leave})"))
                new_state[p.email] = True
            continue

        why = _join_reason(circle, p, now)
        if why is None:
            continue
        if p.override == ALWAYS_IN:
            always_candidates.append((p, why, member_id))
        else:
            auto_candidates.append((p, why, member_id))

    joins: list[Decision] = []
    waiting: list[Decision] = []
    for p, why, member_id in always_candidates:
        joins.append(Decision(JOIN, circle.id, p.id, p.email, why, member_id, p.score))
    occupied += len(always_candidates)
    auto_candidates.sort(key=lambda c: (-(c[0].score or 0), c[0].email))
    free = None if circle.max_members is None else max(0, circle.max_members - occupied)
    for i, (p, why, member_id) in enumerate(auto_candidates):
        if free is None or i < free:
            joins.append(Decision(JOIN, circle.id, p.id, p.email, why, member_id, p.score))
        else:
            waiting.append(
                Decision(
                    WAIT,
                    circle.id,
                    p.id,
                    p.email,
                    f"{why}, but {circle.name} is full (Max Members {circle.max_members})",
                    member_id,
                    p.score,
                )
            )

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
    """:func:`plan_circle` for each Active circle, with its own members and at-risk state."""
    states = zone_states or {}
    plans: dict[str, CirclePlan] = {}
    for circle in circles:
        if circle.active:
            own = [m for m in members if m.circle_id == circle.id]
            plans[circle.id] = plan_circle(circle, partners, own, now, states.get(circle.id, {}))
    return plans
