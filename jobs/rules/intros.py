"""The `intros` job's plan: give a referral to a partner (SPEC §5, "To partner"), once ever.

A New To-partner record becomes one group of effects, in this order:

1. Intro Sent At is written first — the claim: from then on Airtable itself says the intro is
   under way, so neither a re-run nor a home restored from an older copy starts it again;
2. the intro e-mail to the partner with the referred contact in Cc, sent at most once, from
   the partner's Owner;
3. a Slack message to the partner saying the e-mail is out (optional: if Slack refuses it, the
   referral is still introduced; and it goes only once the e-mail did, so it never announces an
   e-mail that is not there);
4. Status Introduced.

A record with Intro Sent At but still New and nothing of it left in the queue is *in doubt*:
the e-mail may or may not have gone (a run stopped while sending it, or the mail server did
not confirm it). It is never sent again by itself; its Sync Notes say what to check and how to
send it again (clear Intro Sent At: the claim, the e-mail and Introduced are a new generation,
keyed by the new claim's time; the Slack message stays once per referral). Do Not Message
partners get the e-mail (a manager chose to give them this lead) but no Slack message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bases.fields import Direction, PartnerF, ReferralF, RefStatus
from bases.records import Cell, Record, format_datetime
from bases.rows import PartnerRow, ReferralRow
from jobs.messages.email import Intro, intro_eml
from jobs.messages.partner import IntroNote
from jobs.messages.render import Multiline
from jobs.messages.words import first_name, signer
from jobs.plan import CellUpdate, Count, DirectMessage, Effect, EmailSend, Plan, RecordRef

NEW_STATUSES = frozenset({RefStatus.NEW})


@dataclass(frozen=True)
class IntroInputs:
    referrals: Sequence[Record]
    partners: Sequence[Record]
    now: datetime
    email_from: str = ""
    #: partner e-mail → Slack user id (None: not in Slack), looked up for the partners of new intros.
    slack_users: Mapping[str, str | None] = field(default_factory=dict)
    #: Owner e-mail (lower case) → their Slack name: who signs (else the Owner's e-mail).
    signatures: Mapping[str, str] = field(default_factory=dict)
    #: referrals whose intro effects are still queued (under way: not in doubt).
    in_flight: frozenset[str] = frozenset()
    #: referral id → why its intro e-mail failed or is unknown (from the effect queue).
    delivery: Mapping[str, str] = field(default_factory=dict)


def is_to_partner(row: ReferralRow) -> bool:
    return row.direction == Direction.TO_PARTNER and row.status in NEW_STATUSES


def new_intros(referrals: Sequence[Record]) -> list[ReferralRow]:
    """To-partner referrals not yet started (the read step looks their partners up in Slack)."""
    return [row for row in (ReferralRow.of(r) for r in referrals) if is_to_partner(row) and row.intro_sent_at is None]


class _Planner:
    def __init__(self, inputs: IntroInputs) -> None:
        self.inputs = inputs
        self.plan = Plan()
        self.partners: dict[str, PartnerRow] = {}
        for p in inputs.partners:
            row = PartnerRow.of(p)
            if row.email and row.email not in self.partners:
                self.partners[row.email] = row

    def run(self) -> Plan:
        for record in self.inputs.referrals:
            row = ReferralRow.of(record)
            if not is_to_partner(row):
                continue
            ref = RecordRef(ReferralF.BASE, ReferralF.TABLE, row.id)
            if row.intro_sent_at is not None:
                if row.id not in self.inputs.in_flight:
                    self.in_doubt(row, ref)
                continue
            if row.id not in self.inputs.in_flight:  # else its claim is still queued: under way
                self.intro(row, ref)
        return self.plan

    def problems(self, row: ReferralRow, partner: PartnerRow | None) -> list[str]:
        notes = [str(p) for p in row.problems]
        if row.partner_email and partner is None:
            notes.append(
                f"Partner Email {row.partner_email} is not a partner in the Partners base; fix the e-mail or add the partner"
            )
        if row.contact_email is None and not any(p.field == ReferralF.CONTACT_EMAIL for p in row.problems):
            notes.append("Contact Email is empty; the intro e-mail needs the contact's address for Cc")
        return notes

    def signer(self, partner: PartnerRow) -> tuple[str, str]:
        """Who signs (the Owner's Slack name, else e-mail; "" → the partner team) and where replies go."""
        return signer(partner.owner, self.inputs.signatures), (partner.owner or "").strip()

    def intro(self, row: ReferralRow, ref: RecordRef) -> None:
        partner = self.partners.get(row.partner_email or "")
        problems = self.problems(row, partner)
        if problems or partner is None or row.contact_email is None:
            self.plan.note(ref, "\n".join(problems))
            self.plan.counts[Count.NEED_FIX] += 1
            self.plan.story.append(f"{row.name} needs a fix: {problems[0] if problems else 'no partner'}")
            return
        owner_name, owner_email = self.signer(partner)
        intro = Intro(
            key=row.id,
            partner_name=partner.name or partner.display_name,
            partner_email=partner.email or "",
            partner_company=partner.company,
            contact_name=row.contact_name,
            contact_email=row.contact_email,
            company=row.company,
            notes=row.notes,
            owner_name=owner_name,
            owner_email=owner_email,
        )
        try:
            eml = intro_eml(intro, self.inputs.email_from, self.inputs.now)
        except ValueError as exc:
            self.plan.note(ref, f"The intro e-mail cannot be built: {exc}")
            self.plan.counts[Count.NEED_FIX] += 1
            return
        self.plan.note(ref, "")
        self.effects(row, ref, partner, eml, owner_name)

    def effects(self, row: ReferralRow, ref: RecordRef, partner: PartnerRow, eml: str, owner: str) -> None:
        claimed = format_datetime(self.inputs.now)
        group, email, name = f"intro:{row.id}:{claimed}", partner.email or "", row.name
        claim: dict[str, Cell] = {ReferralF.INTRO_SENT_AT: claimed}
        self.plan.add(
            Effect(
                f"intro-claim:{row.id}:{claimed}",
                CellUpdate(ReferralF.BASE, ReferralF.TABLE, row.id, claim),
                row.id,
                f"mark {name} as being introduced",
                group=group,
                source=ref,
            )
        )
        self.plan.add(
            Effect(
                f"intro-email:{row.id}:{claimed}",
                EmailSend(eml),
                email,
                f"intro e-mail for {name} to {partner.display_name}",
                repeatable=False,
                group=group,
                counts_as=Count.INTRO_EMAILS,
                source=ref,
            )
        )
        user = partner.slack_user_id or self.inputs.slack_users.get(email)
        if user and not partner.do_not_message:
            text = IntroNote(
                first_name=first_name(partner.name),
                signed_by=owner,
                contact_name=row.contact_name or row.contact_email or "",
                contact_email=row.contact_email or "",
                company=row.company,
                notes=Multiline(row.notes),
            ).text()
            self.plan.add(
                Effect(
                    f"intro-dm:{row.id}:{claimed}",  # it follows the e-mail: one per e-mail sent
                    DirectMessage(email, user, text),
                    email,
                    f"Slack: referral {name} to {partner.display_name}",
                    group=group,
                    optional=True,
                    counts_as=Count.INTRO_MESSAGES,
                    source=RecordRef(PartnerF.BASE, PartnerF.TABLE, partner.id),
                )
            )
        done: dict[str, Cell] = {ReferralF.STATUS: RefStatus.INTRODUCED}
        self.plan.add(
            Effect(
                f"intro-done:{row.id}:{claimed}",
                CellUpdate(ReferralF.BASE, ReferralF.TABLE, row.id, done),
                row.id,
                f"mark {name} Introduced",
                group=group,
                counts_as=Count.REFERRALS_GIVEN,
                source=ref,
            )
        )
        self.plan.story.append(f"{name} given to {partner.display_name}")

    def in_doubt(self, row: ReferralRow, ref: RecordRef) -> None:
        when = f"{row.intro_sent_at:%Y-%m-%d %H:%M} UTC" if row.intro_sent_at else "earlier"
        why = self.inputs.delivery.get(row.id, "")
        text = (
            f"The intro e-mail for this referral was started at {when} but not confirmed"
            + (f" ({why})" if why else "")
            + ". Check with the partner whether it arrived: if it did, set Status to Introduced; "
            "to send it again, clear Intro Sent At."
        )
        self.plan.note(ref, text)
        self.plan.counts[Count.NEED_FIX] += 1
        self.plan.story.append(f"{row.name}: the intro e-mail may not have arrived; see its Sync Notes")


def plan_intros(inputs: IntroInputs) -> Plan:
    return _Planner(inputs).run()
