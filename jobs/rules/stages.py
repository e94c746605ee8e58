"""The `stages` job's plan: what the CRM says of the deals this program pushed (SPEC §5.5).

Pure: the deals read back (only those modified since the last run, never a full sync) → CRM
Stage, Amount and Status Won/Lost written (all cell updates together, 10 records a call),
then the referring partner's message: when the deal is won or lost (``STAGE_ALERTS=closed``)
or at every stage change (``all``). A won message names the amount with its currency. Referral
news is exempt from the 7-day nudge limit; Do Not Message partners get none. The message is
planned from the CRM Stage cell it follows, written first, so a restored home does not repeat it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bases.fields import PartnerF, ReferralF, RefStatus
from bases.records import Cell, Record
from bases.rows import PartnerRow, ReferralRow
from jobs.messages.partner import StageNews
from jobs.messages.words import first_name, money, referral_words, signer
from jobs.plan import CellUpdate, Count, DealState, DirectMessage, Effect, Plan, RecordRef, StateSet, fingerprint
from jobs.store.state import STAGES_SINCE

OVERLAP = timedelta(minutes=15)  # CRM search lags behind writes: each read starts this much earlier
FIRST_LOOKBACK = timedelta(days=30)
ALERTS = ("closed", "all")


@dataclass(frozen=True)
class StageInputs:
    deals: Sequence[DealState]
    referrals: Sequence[Record]
    partners: Sequence[Record]
    now: datetime
    since: datetime  # where this read started (the state to move on from)
    alerts: str = "closed"  # STAGE_ALERTS
    #: the CRM account's own currency: a deal without a currency of its own is in this one.
    account_currency: str | None = None
    slack_users: Mapping[str, str | None] = field(default_factory=dict)
    #: Owner e-mail (lower case) → their Slack name: who signs (else the Owner's e-mail).
    signatures: Mapping[str, str] = field(default_factory=dict)


def read_since(saved: datetime | None, now: datetime) -> datetime:
    """Where the next read of the CRM starts: the last mark minus the overlap."""
    return (saved or now - FIRST_LOOKBACK) - OVERLAP


def _status(deal: DealState) -> str | None:
    return {"won": RefStatus.WON, "lost": RefStatus.LOST}.get(deal.outcome)


class _Planner:
    def __init__(self, inputs: StageInputs) -> None:
        self.inputs = inputs
        self.plan = Plan()
        self.referrals = {r.id: ReferralRow.of(r) for r in inputs.referrals}
        self.partners: dict[str, PartnerRow] = {}
        for p in inputs.partners:
            row = PartnerRow.of(p)
            if row.email and row.email not in self.partners:
                self.partners[row.email] = row
        self.messages: list[Effect] = []

    def run(self) -> Plan:
        self.plan.counts[Count.DEALS_READ] = len(self.inputs.deals)
        for deal in self.inputs.deals:
            self.deal(deal)
        self.plan.effects += self.messages  # after every cell write: the messages follow what Airtable says
        newest = max((d.modified for d in self.inputs.deals if d.modified), default=None)
        mark = max(newest, self.inputs.since + OVERLAP) if newest else self.inputs.since + OVERLAP
        self.plan.add(
            Effect(
                f"state:{STAGES_SINCE}:{mark.isoformat()}",
                StateSet(STAGES_SINCE, mark.isoformat()),
                "local",
                "remember how far the CRM was read",
            )
        )
        return self.plan

    def deal(self, deal: DealState) -> None:
        row = _referral_of(deal, self.referrals)
        if row is None:
            return
        cells: dict[str, Cell] = {}
        if row.crm_stage != deal.stage:
            cells[ReferralF.CRM_STAGE] = deal.stage
        if deal.amount is not None and row.amount != deal.amount:
            cells[ReferralF.AMOUNT] = deal.amount
        status = _status(deal)
        if status and row.status != status:
            cells[ReferralF.STATUS] = status
            self.plan.counts[Count.WON if status == RefStatus.WON else Count.LOST] += 1
        if not cells:
            return
        self.plan.counts[Count.STAGE_CHANGES] += 1
        key = f"stage-cells:{row.id}:{fingerprint([row.record.fields, cells])}"
        ref = RecordRef(ReferralF.BASE, ReferralF.TABLE, row.id)
        describe = f"{row.name}: {deal.stage}"
        self.plan.add(
            Effect(key, CellUpdate(ReferralF.BASE, ReferralF.TABLE, row.id, cells), row.id, describe, source=ref)
        )
        self.plan.story.append(f"{row.name} → {deal.stage}")
        if ReferralF.CRM_STAGE in cells and alerted(deal, self.inputs.alerts):
            self.message(row, deal)

    def amount(self, deal: DealState) -> str:
        """ "12,000 EUR": named only with its currency (the deal's, else the account's), never bare."""
        currency = deal.currency or self.inputs.account_currency
        return money(deal.amount, currency) if deal.amount and currency else ""

    def message(self, row: ReferralRow, deal: DealState) -> None:
        partner = self.partners.get(row.partner_email or "")
        if partner is None or partner.do_not_message or partner.email is None:
            return
        user = partner.slack_user_id or self.inputs.slack_users.get(partner.email)
        if user is None:
            return
        text = StageNews(
            first_name=first_name(partner.name),
            signed_by=signer(partner.owner, self.inputs.signatures),
            outcome=deal.outcome if deal.outcome in StageNews.CODES["outcome"] else "open",
            referral=referral_words(row.company, row.contact_name, row.name),
            stage=deal.stage,
            amount=self.amount(deal),
        ).text()
        self.messages.append(
            Effect(
                f"stage-msg:{row.id}:{deal.stage_id}",
                DirectMessage(partner.email, user, text),
                partner.email,
                f"tell {partner.display_name} {row.name} is {deal.outcome if deal.outcome != 'open' else deal.stage}",
                counts_as=Count.STAGE_ALERTS,
                source=RecordRef(PartnerF.BASE, PartnerF.TABLE, partner.id),
            )
        )


def _referral_of(deal: DealState, by_id: Mapping[str, ReferralRow]) -> ReferralRow | None:
    """The referral a deal was pushed for; else the one whose CRM ID is the deal (a referral
    brought back from the archive by hand has a new record id)."""
    row = by_id.get(deal.referral_id)
    if row is None:
        row = next((r for r in by_id.values() if r.crm_id == deal.deal_id), None)
    return row


def alerted(deal: DealState, alerts: str) -> bool:
    """Whether a stage change is news for the partner: won or lost (``closed``), or any (``all``)."""
    return alerts == "all" or deal.outcome in ("won", "lost")


def needs_account_currency(deals: Sequence[DealState]) -> bool:
    """Whether a won message may need the account's currency (a won deal with an amount but no
    currency of its own): the read step asks the CRM only then."""
    return any(d.outcome == "won" and d.amount and not d.currency for d in deals)


def partners_to_tell(inputs: StageInputs) -> list[str]:
    """The partners a message may go to (the read step looks them up in Slack)."""
    out = []
    by_id = {r.id: ReferralRow.of(r) for r in inputs.referrals}
    for deal in inputs.deals:
        row = _referral_of(deal, by_id)
        if row is not None and row.partner_email and row.crm_stage != deal.stage and alerted(deal, inputs.alerts):
            out.append(row.partner_email)
    return out


def plan_stages(inputs: StageInputs) -> Plan:
    return _Planner(inputs).run()
