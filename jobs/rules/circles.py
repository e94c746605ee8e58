"""The `circles` job's plan: each Circle's Slack channel in step with partner health (SPEC §4).

Pure: the decisions of :mod:`jobs.rules.circle_rules` become effects with stable keys. A join
is: invite, the Members record Active, a welcome message; a leave: remove, every live Members
record of the partner Removed with the reason, one message saying why and how to come back. The
at-risk nudge respects Do Not Message and one nudge per partner per 7 days. Slack users were
looked up before planning (the read step); a partner whose look-up failed waits for the next run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from bases.fields import CircleF, MemberF, MemberStatus, PartnerF
from bases.records import Cell, Record, format_date
from bases.rows import ActivityRow, PartnerRow, ReferralRow
from jobs.messages.partner import AtRisk, JoinPost, PendingNote, Removal, Welcome
from jobs.messages.render import Multiline, Trusted
from jobs.messages.words import day_words, first_name, month_words, signer, slack_link
from jobs.plan import (
    CellUpdate,
    ChannelPost,
    Count,
    DirectMessage,
    Effect,
    Invite,
    Kick,
    Plan,
    RecordCreate,
    RecordRef,
    StateSet,
    fingerprint,
)
from jobs.rules.circle_config import CircleConfig
from jobs.rules.circle_rules import (
    AT_RISK,
    JOIN,
    LEAVE,
    RETRY_PENDING,
    CirclePlan,
    Decision,
    MemberView,
    PartnerView,
    plan_circles,
)
from jobs.rules.outlook import Partner, Standing, kept_by, leaves_on, referrals_to_return, return_by, standing
from jobs.rules.scores import HealthSettings, is_sourced
from jobs.store.state import ZONE, ZoneState

NUDGE_GAP = timedelta(days=7)
NUDGE_PREFIX = "nudge:"
OUTBOX_USER = "(outbox)"  # without a Slack token every partner "is" in Slack: messages go to the outbox


@dataclass(frozen=True)
class CircleInputs:
    circles: Sequence[Record]
    partners: Sequence[Record]
    members: Sequence[Record]
    zone: ZoneState
    now: datetime
    #: partner e-mail → Slack user id (None: not in Slack). Looked up before planning for the
    #: partners a decision touches; a partner missing here was not looked up (or the look-up failed).
    slack_users: Mapping[str, str | None]
    #: partner e-mail → when a message last reached them (one nudge per 7 days).
    last_message: Mapping[str, datetime]
    #: the partners' referrals and activities (archived ones too) and the score model: what
    #: lies ahead if nothing changes (the words of the at-risk and removal messages).
    referrals: Sequence[Record] = ()
    activities: Sequence[Record] = ()
    health: HealthSettings = field(default_factory=HealthSettings)
    #: Owner e-mail (lower case) → their Slack name: who signs (else the Owner's e-mail).
    signatures: Mapping[str, str] = field(default_factory=dict)
    manager_channel: str = ""
    form_url: str = ""
    #: the scores a health plan not written yet would give (a dry run), by partner record id.
    scores: Mapping[str, tuple[int, date | None]] = field(default_factory=dict)
    #: partner e-mails whose membership change of an earlier run is still queued (e.g. its
    #: Members record waits for room in a full base): not decided again until it is done.
    in_flight: frozenset[str] = frozenset()


def configs(records: Sequence[Record]) -> tuple[dict[str, CircleConfig], dict[str, list[str]]]:
    out: dict[str, CircleConfig] = {}
    problems: dict[str, list[str]] = {}
    for rec in records:
        out[rec.id], problems[rec.id] = CircleConfig.from_record(rec)
    channels: dict[str, list[CircleConfig]] = {}
    for c in out.values():
        if c.active and c.channel_id:
            channels.setdefault(c.channel_id, []).append(c)
    for shared in (cs for cs in channels.values() if len(cs) > 1):
        names = ", ".join(c.name for c in shared)
        for c in shared:
            problems[c.id].append(
                f"Slack Channel ID: {names} all point at channel {c.channel_id}; give each circle its own "
                "channel (nobody joins or leaves these circles until then)"
            )
            out[c.id] = CircleConfig(**{**c.__dict__, "trusted": False})
    for cid, c in out.items():
        if c.active and not c.channel_id and not any("Slack Channel ID" in p for p in problems[cid]):
            problems[cid].append(
                "Slack Channel ID is empty; paste the private channel's id (C… or G…) to run this circle"
            )
    return out, problems


def views(inputs: CircleInputs) -> tuple[dict[str, PartnerRow], dict[str, PartnerView], list[MemberView]]:
    rows: dict[str, PartnerRow] = {}
    by_email: dict[str, PartnerView] = {}
    for record in inputs.partners:
        row = PartnerRow.of(record)
        score, last = inputs.scores.get(row.id, (None, None))
        view = PartnerView.from_row(row, score, last)
        if view is not None and view.email not in by_email:
            rows[row.id] = row
            by_email[view.email] = view
    members = [m for m in (MemberView.from_record(r) for r in inputs.members) if m is not None]
    return rows, by_email, members


def decisions(inputs: CircleInputs) -> dict[str, CirclePlan]:
    """What the rules decide, before any Slack look-up (the read step asks this whom to look up)."""
    circles, _problems = configs(inputs.circles)
    _rows, by_email, members = views(inputs)
    today = inputs.now.astimezone(timezone.utc).date()
    return plan_circles([c for c in circles.values() if c.runs], list(by_email.values()), members, today, inputs.zone)


class _Planner:
    def __init__(self, inputs: CircleInputs) -> None:
        self.inputs = inputs
        self.today = inputs.now.astimezone(timezone.utc).date()
        self.plan = Plan()
        self.circles, self.circle_problems = configs(inputs.circles)
        self.rows, self.by_email, self.members = views(inputs)
        self.zone_out: ZoneState = {}
        self.refs: dict[str, list[ReferralRow]] = {}
        for r in (ReferralRow.of(rec) for rec in inputs.referrals):
            if r.partner_email and is_sourced(r):
                self.refs.setdefault(r.partner_email, []).append(r)
        self.acts: dict[str, list[ActivityRow]] = {}
        for a in (ActivityRow.of(rec) for rec in inputs.activities):
            for pid in set(a.partner_ids):
                self.acts.setdefault(pid, []).append(a)

    def history(self, view: PartnerView) -> Partner:
        row = self.rows[view.id]
        refs, acts = self.refs.get(view.email, []), self.acts.get(view.id, [])
        return Partner(row, refs, acts, self.inputs.health)

    # helpers ------------------------------------------------------------------------------------

    def user(self, view: PartnerView) -> str | None:
        row = self.rows[view.id]
        if row.slack_user_id:
            return row.slack_user_id
        return self.inputs.slack_users.get(view.email)

    def looked_up(self, view: PartnerView) -> bool:
        return bool(self.rows[view.id].slack_user_id) or view.email in self.inputs.slack_users

    # messages ---------------------------------------------------------------------------------------

    def signed_by(self, view: PartnerView) -> str:
        return signer(self.rows[view.id].owner, self.inputs.signatures)

    def standing(self, view: PartnerView) -> Standing:
        """Where the partner's referrals stand: the reason a message gives (see ``reason.j2``)."""
        return standing(self.history(view), self.today)

    def welcome(self, view: PartnerView, circle: CircleConfig, d: Decision) -> str:
        return Welcome(
            first_name=first_name(view.name),
            signed_by=self.signed_by(view),
            circle=circle.name,
            why="always_in" if d.why == "always_in" else "score",
            back=d.action == JOIN and d.member_id is not None,  # their Removed record is reused
            perks=Multiline(circle.perks),
            channel_id=Trusted(circle.channel_id or ""),
        ).text()

    def removal(self, view: PartnerView, circle: CircleConfig, d: Decision) -> str:
        history, now = self.history(view), self.standing(view)
        back = referrals_to_return(circle, history, self.today)
        until = return_by(circle, history, self.today, back) if back else None
        return Removal(
            first_name=first_name(view.name),
            signed_by=self.signed_by(view),
            circle=circle.name,
            why=d.why if d.why in Removal.CODES["why"] else "low_score",
            reply_to=self.rows[view.id].owner or "",
            come_back=back if until else 0,
            return_by=day_words(until, self.today),
            capped=circle.max_members is not None,
            form_link=slack_link(self.inputs.form_url, "the referral form"),
            last_referral=month_words(now.last_referral_on, self.today),
            quiet=now.quiet,
            recent=now.recent,
            recent_days=now.recent_days,
        ).text()

    def at_risk_text(self, view: PartnerView, circle: CircleConfig) -> str:
        history, now = self.history(view), self.standing(view)
        leaving = leaves_on(circle, history, self.today)
        keep, until = kept_by(circle, history, self.today, leaving) if leaving else (0, None)
        return AtRisk(
            first_name=first_name(view.name),
            signed_by=self.signed_by(view),
            circle=circle.name,
            leaves_on=day_words(leaving, self.today),
            kept_by=keep,
            kept_until=day_words(until, self.today),
            form_link=slack_link(self.inputs.form_url, "the referral form"),
            last_referral=month_words(now.last_referral_on, self.today),
            quiet=now.quiet,
            recent=now.recent,
            recent_days=now.recent_days,
        ).text()

    def member(
        self, circle: CircleConfig, d: Decision, view: PartnerView, status: str, group: str, count: Count, **cells: Cell
    ) -> None:
        """The partner's membership record: the one they have, updated by id (SPEC §2.3: the record
        whose Circle and Partner Email match, whatever its label); created only when none exists.
        A leave sets every live record of the partner in the circle to Removed."""
        wanted: dict[str, Cell] = {
            MemberF.CIRCLE: [circle.id],
            MemberF.PARTNER_EMAIL: view.email,
            MemberF.STATUS: status,
            **cells,
        }
        when = cells.get(MemberF.JOINED_ON) or cells.get(MemberF.REMOVED_ON) or ""
        describe = f"Members: {view.name} {status} in {circle.name}"
        if d.member_id is None:
            label = {MemberF.MEMBER: f"{circle.name}: {view.email}"}
            self.plan.add(
                Effect(
                    f"member:{circle.id}:{view.email}:{status}:{when}",
                    RecordCreate(MemberF.BASE, MemberF.TABLE, [MemberF.MEMBER], {**label, **wanted}),
                    view.email,
                    describe,
                    group=group,
                    counts_as=count,
                )
            )
            return
        for i, rid in enumerate([d.member_id, *(d.also if status == MemberStatus.REMOVED else ())]):
            self.plan.add(
                Effect(
                    f"member:{circle.id}:{view.email}:{status}:{when}:{rid}",
                    CellUpdate(MemberF.BASE, MemberF.TABLE, rid, wanted),
                    view.email,
                    describe,
                    group=group,
                    counts_as=count if i == 0 else None,
                    source=RecordRef(MemberF.BASE, MemberF.TABLE, rid),
                )
            )

    def dm(
        self,
        key: str,
        view: PartnerView,
        user: str,
        text: str,
        describe: str,
        group: str,
        count: Count | None,
        check_prefix: str = "",
    ) -> None:
        self.plan.add(
            Effect(
                key,
                DirectMessage(view.email, user, text),
                view.email,
                describe,
                group=group,
                optional=True,
                counts_as=count,
                source=RecordRef(PartnerF.BASE, PartnerF.TABLE, view.id),
                check_first=bool(check_prefix),
                check_prefix=check_prefix,
            )
        )

    # decisions → effects ---------------------------------------------------------------------------

    def join(self, circle: CircleConfig, d: Decision, joined: list[str]) -> None:
        view = self.by_email[d.email]
        if not self.looked_up(view):
            self.plan.story.append(
                f"{circle.name}: {view.name} qualifies; Slack could not be asked, tried again next run"
            )
            return
        group = f"join:{circle.id}:{view.email}:{self.today}"
        user = self.user(view)
        if user is None:
            self.pending(circle, d, view, group)
            return
        row = self.rows[view.id]
        if user != OUTBOX_USER and row.slack_user_id != user:
            self.plan.add(
                Effect(
                    f"slackid:{view.id}:{user}",
                    CellUpdate(PartnerF.BASE, PartnerF.TABLE, view.id, {PartnerF.SLACK_USER_ID: user}),
                    view.email,
                    f"remember {view.name}'s Slack user",
                    group=group,
                    optional=True,
                )
            )
        invite = Invite(circle.channel_id or "", user, view.email)
        self.plan.add(
            Effect(f"invite:{group}", invite, view.email, f"invite {view.name} to {circle.name}", group=group)
        )
        cells: dict[str, Cell] = {
            MemberF.JOINED_ON: format_date(self.today),
            MemberF.REASON: d.reason,
            MemberF.REMOVED_ON: None,
        }
        self.member(circle, d, view, MemberStatus.ACTIVE, group, Count.JOINS, **cells)
        if not view.do_not_message:
            text = self.welcome(view, circle, d)
            self.dm(f"welcome:{group}", view, user, text, f"welcome {view.name} to {circle.name}", group, None)
        joined.append(view.name)
        self.plan.story.append(f"{circle.name}: {view.name} joins ({d.reason})")

    def pending(self, circle: CircleConfig, d: Decision, view: PartnerView, group: str) -> None:
        if d.action == RETRY_PENDING:
            return  # still not in Slack; the managers were told already
        self.member(circle, d, view, MemberStatus.PENDING_INVITE, group, Count.PENDING_INVITES)
        if self.inputs.manager_channel:
            text = PendingNote(name=view.name, email=view.email, circle=circle.name).text()
            post = ChannelPost(self.inputs.manager_channel, text)
            describe = f"tell the managers {view.name} is not in Slack"
            self.plan.add(
                Effect(f"pending:{circle.id}:{view.email}", post, "managers", describe, group=group, optional=True)
            )
        self.plan.story.append(
            f"{circle.name}: {view.name} qualifies ({d.reason}) but is not in Slack — Pending invite"
        )

    def leave(self, circle: CircleConfig, d: Decision) -> None:
        view = self.by_email[d.email]
        if not self.looked_up(view):
            self.plan.story.append(f"{circle.name}: {view.name} leaves; Slack could not be asked, tried again next run")
            return
        group = f"leave:{circle.id}:{view.email}:{self.today}"
        user = self.user(view)
        if user is not None:
            kick = Kick(circle.channel_id or "", user, view.email)
            self.plan.add(
                Effect(f"kick:{group}", kick, view.email, f"remove {view.name} from {circle.name}", group=group)
            )
        cells: dict[str, Cell] = {MemberF.REMOVED_ON: format_date(self.today), MemberF.REASON: d.reason}
        self.member(circle, d, view, MemberStatus.REMOVED, group, Count.LEAVES, **cells)
        if user is not None and not view.do_not_message:
            text = self.removal(view, circle, d)
            describe = f"tell {view.name} why they left {circle.name}"
            self.dm(f"removal:{group}", view, user, text, describe, group, None)
        self.plan.story.append(f"{circle.name}: {view.name} leaves ({d.reason})")

    def at_risk(self, circle: CircleConfig, d: Decision) -> bool:
        """The at-risk nudge; False when a messaging limit holds it back (it is tried again later)."""
        view = self.by_email[d.email]
        if view.do_not_message:
            self.plan.story.append(f"{circle.name}: {view.name} is at risk ({d.reason}), not nudged (Do Not Message)")
            return True
        # Any message counts towards the gap: a welcome yesterday and "at risk" today would be noise.
        last = self.inputs.last_message.get(view.email)
        if last is not None and self.inputs.now - last < NUDGE_GAP:
            self.plan.story.append(
                f"{circle.name}: {view.name} is at risk, nudge held back (a message went out less than 7 days ago)"
            )
            return False
        user = self.user(view) if self.looked_up(view) else None
        if user is None:
            return False
        text = self.at_risk_text(view, circle)
        # The zone state that says "nudged" is local: a home restored from an older copy forgets a
        # nudge sent since, and plans it again, maybe on another day. So it is looked up first by
        # every day's key, over the restore window (after the newest nudge this home knows of).
        prefix = f"{NUDGE_PREFIX}atrisk:{circle.id}:{view.email}:"
        describe = f"at-risk nudge to {view.name}"
        self.dm(f"{prefix}{self.today}", view, user, text, describe, "", Count.AT_RISK_NUDGES, check_prefix=prefix)
        self.plan.story.append(f"{circle.name}: {view.name} nudged — at risk ({d.reason})")
        return True

    def join_post(self, circle: CircleConfig, names: list[str]) -> None:
        post = ChannelPost(circle.channel_id or "", JoinPost.of(names).text())
        key = f"joinpost:{circle.id}:{self.today}:{fingerprint(sorted(names))}"
        self.plan.add(Effect(key, post, circle.channel_id or "", f"post in {circle.name}: {len(names)} new member(s)"))

    # the whole plan ------------------------------------------------------------------------------------

    def run(self) -> Plan:
        today_plans = plan_circles(
            [c for c in self.circles.values() if c.runs],
            list(self.by_email.values()),
            self.members,
            self.today,
            self.inputs.zone,
        )
        for circle_id, cplan in today_plans.items():
            self.circle(self.circles[circle_id], cplan)
        for cid, issues in self.circle_problems.items():
            self.plan.note(RecordRef(CircleF.BASE, CircleF.TABLE, cid), "\n".join(issues))
            self.plan.problems += [f"{self.circles[cid].name}: {i}" for i in issues]
        state: dict[str, object] = {cid: dict(s) for cid, s in self.zone_out.items()}
        self.plan.add(
            Effect(
                f"state:{ZONE}:{self.inputs.now.isoformat()}:{fingerprint(state)}",
                StateSet(ZONE, {cid: {e: True for e, v in s.items() if v} for cid, s in self.zone_out.items()}),
                "local",
                "remember who was nudged",
            )
        )
        return self.plan

    def circle(self, circle: CircleConfig, cplan: CirclePlan) -> None:
        state = dict(cplan.zone_state)
        joined: list[str] = []
        for d in cplan.decisions:
            if d.action in (JOIN, RETRY_PENDING, LEAVE) and d.email in self.inputs.in_flight:
                self.plan.story.append(f"{circle.name}: {d.email} waits for an earlier change still being applied")
            elif d.action in (JOIN, RETRY_PENDING):
                self.join(circle, d, joined)
            elif d.action == LEAVE:
                self.leave(circle, d)
            elif d.action == AT_RISK and not self.at_risk(circle, d):
                state[d.email] = self.inputs.zone.get(circle.id, {}).get(d.email, False)
        if joined:
            self.join_post(circle, joined)
        for mid, text in cplan.record_notes.items():
            self.plan.note(RecordRef(MemberF.BASE, MemberF.TABLE, mid), text)
        self.plan.story += [f"{circle.name}: {n}" for n in cplan.notes]
        self.zone_out[circle.id] = state


def plan_circles_effects(inputs: CircleInputs) -> Plan:
    return _Planner(inputs).run()
