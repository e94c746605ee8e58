"""``crm.push``: attribution, the idempotent push, and one Airtable write-back — each safe to repeat.

The payload carries the registration cells planned for the referral (Status Accepted, Expires
On, …), written together with the CRM's answer:

- pushed: registration cells + Attribution + CRM ID, CRM Pushed At, Status In CRM and the
  deal's first CRM Stage (so `stages` has nothing to write for a new deal) — one Airtable call;
- refused by the CRM (permanent): registration cells + Attribution when known — one call; the
  effect fails with the CRM's reason, which the runner puts in the referral's Sync Notes;
- CRM unreachable (transient) or its answer lost: the registration cells alone, so managers see
  Accepted while the CRM is down; the retry finds them unchanged and writes nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bases.fields import PartnerF, ReferralF, RefStatus
from bases.records import Cell, Record, format_datetime, normalize_email
from bases.rows import PartnerRow, ReferralRow
from integrations.airtable import AirtableError
from jobs.apply.crm_targets import CrmTarget, PushFailed, Referral
from jobs.apply.drain import EffectFailed, Result
from jobs.apply.writer import RecordWriter
from jobs.plan import CrmPush, Effect
from jobs.store.local import LocalStore
from jobs.store.state import attribution_key, first_push_key


class CrmExecutor:
    def __init__(self, target: CrmTarget, store: LocalStore, writer: RecordWriter, now: Callable[[], datetime]) -> None:
        self.target, self.store, self.writer, self.now = target, store, writer, now

    def run(self, effect: Effect) -> Result:
        p = effect.payload
        if not isinstance(p, CrmPush):
            raise EffectFailed(f"the CRM cannot carry out {effect.kind}")
        record = self.store.get(ReferralF.BASE, ReferralF.TABLE, p.referral_id)
        if record is None:
            raise EffectFailed(f"referral {p.referral_id} no longer exists in Airtable")
        if record.get(ReferralF.CRM_ID):
            return {"deal": str(record.get(ReferralF.CRM_ID)), "already": True}
        # The referral as it is about to be: its registration cells (e.g. Expires On) go to the CRM too.
        planned = ReferralRow.of(Record(record.id, record.created_time, {**record.fields, **p.cells}))
        stored = self.store.get_state(attribution_key(record.id))
        attribution = planned.attribution or (stored if isinstance(stored, str) else None)
        try:
            if not attribution:
                attribution = self._ask_attribution(planned, p.domain)
            deal_id = self.target.push(self._referral(planned, attribution, p.domain))
        except PushFailed as exc:
            cells = dict(p.cells)
            if exc.permanent and attribution:
                cells[ReferralF.ATTRIBUTION] = attribution
            unwritten = self._write_back(record.id, cells)
            why = exc.why if unwritten is None else f"{exc.why} (and Airtable was not updated: {unwritten.why})"
            raise EffectFailed(why, permanent=exc.permanent, unknown=exc.unknown, cause=exc.cause) from None
        return self._pushed(record, p.cells, attribution, deal_id)

    def _pushed(self, record: Record, registration: dict[str, Cell], attribution: str, deal_id: str) -> Result:
        cells: dict[str, Cell] = {
            **registration,
            ReferralF.ATTRIBUTION: attribution,
            ReferralF.CRM_ID: deal_id,
            ReferralF.CRM_PUSHED_AT: format_datetime(self.now()),
            ReferralF.STATUS: RefStatus.IN_CRM,
        }
        stage = None if record.get(ReferralF.CRM_STAGE) else self.target.initial_stage()
        if stage:
            cells[ReferralF.CRM_STAGE] = stage
        unwritten = self._write_back(record.id, cells)
        if unwritten is not None:
            # Repeating the push finds the same deal, so a retry only costs the write again.
            why = f"deal {deal_id} is in the CRM, but writing it back failed: {unwritten.why}"
            raise EffectFailed(why, permanent=unwritten.permanent)
        return {"deal": deal_id}

    def _write_back(self, rid: str, cells: dict[str, Cell]) -> EffectFailed | None:
        """The referral's cells in one Airtable call (only those that changed); why it failed, if it did."""
        if not cells:
            return None
        try:
            result = self.writer.update(ReferralF.BASE, ReferralF.TABLE, {rid: cells})
        except AirtableError as exc:
            return EffectFailed(f"Airtable said {exc.code}: {exc.message}", permanent=exc.status == 422)
        why = result.failed.get(rid)
        return None if why is None else EffectFailed(f"Airtable refused the record: {why}")

    def _ask_attribution(self, referral: ReferralRow, domain: str | None) -> str:
        """Influenced when the CRM already has an open deal for the company or contact, else
        Sourced; remembered before the push, so a repeated push cannot count its own deal."""
        attribution = "Influenced" if self.target.open_deal_exists(domain, referral.contact_email) else "Sourced"
        self.store.set_state(attribution_key(referral.id), attribution)
        return attribution

    def _partner(self, email: str) -> PartnerRow | None:
        for record in self.store.all(PartnerF.BASE, PartnerF.TABLE):
            row = PartnerRow.of(record)
            if row.email == email:
                return row
        return None

    def _referral(self, referral: ReferralRow, attribution: str, domain: str | None) -> Referral:
        email = normalize_email(referral.partner_email or "")
        partner = self._partner(email)
        return Referral(
            id=referral.id,
            name=referral.title,
            company=referral.company,
            domain=domain,
            contact_name=referral.contact_name,
            contact_email=referral.contact_email,
            notes=referral.notes,
            partner_email=email,
            partner_name=partner.name if partner else "",
            registered_at=referral.record.created_time,
            attribution=attribution,
            expires_on=referral.expires_on.isoformat() if referral.expires_on else None,
            partner_company=(partner.company or None) if partner else None,
            pushed_at=self._first_push(referral.id),
        )

    def _first_push(self, referral_id: str) -> str:
        key = first_push_key(referral_id)
        stored = self.store.get_state(key)
        if isinstance(stored, str) and stored:
            return stored
        when = format_datetime(self.now())
        self.store.set_state(key, when)
        return when

    def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
        return None  # the push is an upsert by the referral id: repeating it is safe
