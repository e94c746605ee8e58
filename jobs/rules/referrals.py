"""The `referrals` job's plan: register partner referrals, push accepted ones one way to the CRM,
and send each referring partner one receipt (SPEC §5, rules 1–4, 5a and 6).

Pure. Registration (:mod:`jobs.rules.registration`) decides Status, Expires On, Conflict With
and Sync Notes. Each accepted registration becomes a ``crm.push`` that carries its registration
cells (one Airtable write for both); registration-only changes (duplicates, expiry, CRM=none)
are cell updates, written 10 records a call. A receipt is checked against Slack before it is
sent, so a home restored from an older copy cannot send it twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from bases.fields import Direction, PartnerF, ReferralF, RefStatus
from bases.records import Cell, Record
from bases.rows import PartnerRow, ReferralRow
from jobs.messages.partner import Receipt
from jobs.messages.words import day_words, first_name, referral_words, signer
from jobs.plan import CellUpdate, Count, CrmPush, DirectMessage, Effect, Plan, RecordRef, fingerprint
from jobs.rules.registration import ReferralSettings, RegistrationPlan, plan_registrations

OUTBOX_USER = "(outbox)"


@dataclass(frozen=True)
class ReferralInputs:
    referrals: Sequence[Record]  # archived ones too: the duplicate rules need their history
    partners: Sequence[Record]
    now: datetime
    crm: str | None  # the CRM target's name; None: CRM=none (register only)
    live: frozenset[str] = frozenset()  # ids of the referrals still in Airtable (empty: all are)
    #: partner e-mail → Slack user id (None: not in Slack); looked up for the receipts.
    slack_users: Mapping[str, str | None] = field(default_factory=dict)
    #: Owner e-mail (lower case) → their Slack name: who signs (else the Owner's e-mail).
    signatures: Mapping[str, str] = field(default_factory=dict)
    settings: ReferralSettings = field(default_factory=ReferralSettings)
    #: the registration decisions, when the read step already made them (to know whom to look up)
    registration: RegistrationPlan | None = None


def registrations(inputs: ReferralInputs) -> RegistrationPlan:
    emails = {row.email for row in (PartnerRow.of(p) for p in inputs.partners) if row.email}
    return plan_registrations(
        list(inputs.referrals), emails, inputs.now.astimezone(timezone.utc).date(), inputs.settings
    )


def to_push(referrals: Sequence[Record], accepted: list[str], live: frozenset[str]) -> list[str]:
    """Newly accepted, plus accepted ones never pushed (a CRM set up later, or a push that failed)."""
    waiting = []
    for record in referrals:
        row = ReferralRow.of(record)
        if row.status == RefStatus.ACCEPTED and not row.crm_id and row.direction == Direction.FROM_PARTNER:
            waiting.append(row.id)
    return [rid for rid in dict.fromkeys([*accepted, *waiting]) if not live or rid in live]


def _domain(key: str | None) -> str | None:
    return key.split(":", 1)[1] if key and key.startswith("domain:") else None


def receipts_due(inputs: ReferralInputs, reg: RegistrationPlan) -> list[str]:
    """The referrals settled by this plan whose partner gets a receipt (the read step looks them up)."""
    return [rid for rid in [*reg.accepted, *reg.duplicates] if not inputs.live or rid in inputs.live]


class _Planner:
    def __init__(self, inputs: ReferralInputs) -> None:
        self.inputs = inputs
        self.plan = Plan()
        self.reg = inputs.registration or registrations(inputs)
        self.records = {r.id: r for r in inputs.referrals}
        self.partners: dict[str, PartnerRow] = {}
        for p in inputs.partners:
            row = PartnerRow.of(p)
            if row.email and row.email not in self.partners:
                self.partners[row.email] = row

    def live(self, rid: str) -> bool:
        return not self.inputs.live or rid in self.inputs.live

    def run(self) -> Plan:
        reg = self.reg
        self.plan.counts.update(
            {
                Count.ACCEPTED: len(reg.accepted),
                Count.DUPLICATES: len(reg.duplicates),
                Count.NEED_FIX: len(reg.rejected_notes),
                Count.EXPIRED: len(reg.expired),
            }
        )
        self.plan.story += reg.summary_lines[1:]
        pushes = [] if self.inputs.crm is None else to_push(self.inputs.referrals, reg.accepted, self.inputs.live)
        pushes = [rid for rid in pushes if rid not in reg.expired]  # its protection ended: nothing to push
        for rid, cells in reg.cells.items():
            if rid not in pushes and self.live(rid):
                self.cells(rid, cells)
        for rid in pushes:
            self.push(rid)
        for rid in receipts_due(self.inputs, reg):
            self.receipt(rid)
        for rid, text in reg.notes.items():
            if self.live(rid):
                self.plan.note(RecordRef(ReferralF.BASE, ReferralF.TABLE, rid), text)
        return self.plan

    def name(self, rid: str) -> str:
        record = self.records.get(rid)
        return ReferralRow.of(record).name if record else rid

    def cells(self, rid: str, cells: dict[str, Cell]) -> None:
        key = f"referral:{rid}:{self.inputs.now.isoformat()}:{fingerprint(cells)}"
        self.plan.add(
            Effect(
                key,
                CellUpdate(ReferralF.BASE, ReferralF.TABLE, rid, cells),
                rid,
                f"registration of {self.name(rid)}",
                source=RecordRef(ReferralF.BASE, ReferralF.TABLE, rid),
            )
        )

    def push(self, rid: str) -> None:
        payload = CrmPush(rid, self.reg.cells.get(rid, {}), _domain(self.reg.keys.get(rid)))
        self.plan.add(
            Effect(
                f"crm:{rid}",
                payload,
                rid,
                f"push {self.name(rid)} to the CRM ({self.inputs.crm})",
                counts_as=Count.PUSHED,
                source=RecordRef(ReferralF.BASE, ReferralF.TABLE, rid),
            )
        )

    def receipt(self, rid: str) -> None:
        row = ReferralRow.of(self.records[rid])
        partner = self.partners.get(row.partner_email or "")
        if partner is None or partner.do_not_message:
            return
        user = partner.slack_user_id or self.inputs.slack_users.get(partner.email or "")
        if user is None:
            return
        accepted = rid in self.reg.accepted
        expires = self.reg.cells.get(rid, {}).get(ReferralF.EXPIRES_ON)
        today = self.inputs.now.astimezone(timezone.utc).date()
        text = Receipt(
            first_name=first_name(partner.name),
            signed_by=signer(partner.owner, self.inputs.signatures),
            outcome="accepted" if accepted else "own" if rid in self.reg.own else "duplicate",
            referral=referral_words(row.company, row.contact_name, row.name),
            expires_on=day_words(_date(expires)),
            registered_on=day_words(self.reg.earlier.get(rid), today),
        ).text()
        self.plan.add(
            Effect(
                f"receipt:{rid}",
                DirectMessage(partner.email or "", user, text),
                partner.email or "",
                f"tell {partner.display_name} that {row.name} is {'registered' if accepted else 'a duplicate'}",
                counts_as=Count.RECEIPTS,
                source=RecordRef(PartnerF.BASE, PartnerF.TABLE, partner.id),
                check_first=True,
            )
        )


def _date(cell: Cell) -> date | None:
    """A date cell ("2026-03-01") as a date; None when empty or unreadable."""
    try:
        return date.fromisoformat(str(cell)[:10]) if cell else None
    except ValueError:
        return None


def plan_referrals(inputs: ReferralInputs) -> Plan:
    return _Planner(inputs).run()
