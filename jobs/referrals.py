"""The `referrals` job: register partner referrals and push accepted ones one way to the CRM.

Registration (pure rules in :mod:`jobs.referral_rules`) writes Status, Expires On, Conflict With
and Sync Notes. Each accepted registration becomes a ``crm.push`` effect that carries its
registration cells: attribution is asked of the CRM and remembered locally first (so a repeated
push cannot see its own deal as "already open"), then the deal is upserted by the referral's id,
and the registration cells, Attribution, CRM ID, CRM Pushed At and Status In CRM are written
back in one Airtable call. A push killed half-way is simply repeated: the upsert finds the same
deal. Registration-only changes (duplicates, expiry, notes, CRM=none) are cell updates, which
the effect queue writes 10 records a call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bases.records import Record, format_datetime, normalize_email
from integrations.airtable import AirtableError
from jobs.crm_targets import CrmTarget, PushFailed, Referral
from jobs.effects import ApplyReport, Effect, EffectFailed, Progress, apply, cell_update, digest, start
from jobs.referral_rules import plan_registrations, registration_key
from jobs.writeback import RecordWriter


def to_push(referrals: list[Record], accepted: list[str]) -> list[str]:
    """Newly accepted, plus accepted ones never pushed (a CRM set up later, or a push that failed)."""
    waiting = [
        r.id
        for r in referrals
        if r.get("Status") == "Accepted" and not r.get("CRM ID") and r.get("Direction") == "From partner"
    ]
    return list(dict.fromkeys([*accepted, *waiting]))


def run_referrals(rt: Any, now: datetime, dry_run: bool, progress: Progress) -> Any:
    from jobs.cycle import JobOutcome

    leftovers = start(rt, progress) if not dry_run else ApplyReport()
    referrals = rt.store.all("referrals", "Referrals")
    partners = {
        normalize_email(str(p.get("Email", ""))) for p in rt.store.all("partners", "Partners") if p.get("Email")
    }
    plan = plan_registrations(referrals, partners, now.date())
    pushes = to_push(referrals, plan.accepted) if rt.crm_target() is not None else []
    pushes = [rid for rid in pushes if rid not in plan.expired]  # its protection ended: nothing to push
    pushing = set(pushes)
    # A pushed referral's registration cells go with its push: one Airtable write for both.
    effects = [
        cell_update(f"referral:{rid}:{digest(cells)}", "referrals", "Referrals", rid, cells, f"registration of {rid}")
        for rid, cells in plan.cells.items()
        if rid not in pushing
    ]
    effects += [
        Effect(
            f"crm:{rid}",
            "crm.push",
            rid,
            {"referral_id": rid, "cells": plan.cells.get(rid, {})},
            f"push referral {rid} to the CRM",
        )
        for rid in pushes
    ]
    if dry_run:
        lines = [*plan.summary_lines, *(f"would push {rid} to {rt.crm_target().name}" for rid in pushes)]
        return JobOutcome("referrals", "planned", "\n".join(lines) or "nothing to register")
    applied = apply(rt, effects, leftovers, progress)
    report = applied.report
    failures = applied.failures
    pushed = sum(1 for e in report.done if e.kind == "crm.push")
    counts = f"{len(plan.accepted)} accepted, {len(plan.duplicates)} duplicate, {len(plan.expired)} expired, {len(plan.rejected_notes)} need a fix"
    summary = f"{counts}; {pushed} pushed to the CRM" + (
        f"; {report.pending} change(s) retried next run" if report.pending else ""
    )
    return JobOutcome("referrals", "done", summary, failures)


def referrals_estimate(rt: Any, now: datetime) -> int:
    """Airtable calls: one per referral that may be pushed (its cells and the CRM's answer in one
    write); registration-only changes go 10 records a call."""
    if rt.client is None:
        return 0
    waiting = [
        r
        for r in rt.store.all("referrals", "Referrals")
        if r.get("Direction") == "From partner"
        and (r.get("Status") in (None, "", "New") or (r.get("Status") == "Accepted" and not r.get("CRM ID")))
    ]
    return max(1, len(waiting) if rt.crm_target() is not None else (len(waiting) + 9) // 10)


def attribution_state(referral_id: str) -> str:
    """Where the CRM's attribution answer for a referral is remembered (local state, no Airtable call)."""
    return f"attribution:{referral_id}"


class CrmExecutor:
    """Carries out ``crm.push``: attribution, the upsert, and one write-back, each safe to repeat.

    The payload is ``{"referral_id": …, "cells": {…}}``: the registration cells planned for the
    referral (Status Accepted, Expires On, …), written together with the CRM's answer:

    - pushed: registration cells + Attribution + CRM ID, CRM Pushed At, Status In CRM, the
      deal's first CRM Stage (so `stages` has nothing to write for a new deal), Sync Notes
      cleared — one Airtable call;
    - refused by the CRM (permanent): registration cells + Attribution (when known) + Sync Notes
      "Not in the CRM yet: …" — one call; the effect fails with the CRM's reason;
    - CRM unreachable (transient): the registration cells alone, so managers see Accepted while
      the CRM is down; the retry finds them unchanged and writes nothing more for them.
    """

    def __init__(self, target: CrmTarget, store: Any, writer: RecordWriter, now: Callable[[], datetime]) -> None:
        self.target, self.store, self.writer, self.now = target, store, writer, now

    def run(self, effect: Effect) -> dict[str, Any]:
        rid = effect.payload["referral_id"]
        registration: dict[str, Any] = dict(effect.payload.get("cells") or {})
        record = self.store.get("referrals", "Referrals", rid)
        if record is None:
            raise EffectFailed(f"referral {rid} no longer exists in Airtable")
        if record.get("CRM ID"):
            return {"deal": record.get("CRM ID"), "already": True}
        # The referral as it is about to be: its registration cells (e.g. Expires On) go to the CRM too.
        planned = Record(record.id, record.created_time, {**record.fields, **registration})
        attribution: str | None = record.get("Attribution") or self.store.get_state(attribution_state(rid))
        try:
            if not attribution:
                attribution = self._ask_attribution(planned)
            deal_id = self.target.push(self._referral(planned, attribution))
        except PushFailed as exc:
            cells = registration
            if exc.permanent:
                known = {"Attribution": attribution} if attribution else {}
                cells = {**registration, **known, "Sync Notes": f"Not in the CRM yet: {exc.why}"}
            unwritten = self._write_back(rid, cells)
            why = exc.why if unwritten is None else f"{exc.why} (and Airtable was not updated: {unwritten.why})"
            raise EffectFailed(why, permanent=exc.permanent) from None
        cells = {
            **registration,
            "Attribution": attribution,
            "CRM ID": deal_id,
            "CRM Pushed At": self.now(),
            "Status": "In CRM",
            "Sync Notes": "",
        }
        stage = None if record.get("CRM Stage") else self.target.initial_stage()
        if stage:
            cells["CRM Stage"] = stage
        unwritten = self._write_back(rid, cells)
        if unwritten is not None:
            # Repeating the push finds the same deal, so a retry only costs the write again.
            why = f"deal {deal_id} is in the CRM, but writing it back failed: {unwritten.why}"
            raise EffectFailed(why, permanent=unwritten.permanent)
        return {"deal": deal_id}

    def _write_back(self, rid: str, cells: dict[str, Any]) -> EffectFailed | None:
        """The referral's cells in one Airtable call (only those that changed); why it failed, if it did."""
        if not cells:
            return None
        try:
            result = self.writer.update("referrals", "Referrals", {rid: cells})
        except AirtableError as exc:
            return EffectFailed(f"Airtable said {exc.code}: {exc.message}", permanent=exc.status == 422)
        why = result.failed.get(rid)
        return None if why is None else EffectFailed(f"Airtable refused the record: {why}")

    def _ask_attribution(self, record: Record) -> str:
        """Influenced when the CRM already has an open deal for the company or contact, else
        Sourced; remembered before the push, so a repeated push cannot count its own deal."""
        key, _how = registration_key(record.get("Company Domain"), record.get("Contact Email"))
        domain = key.split(":", 1)[1] if key and key.startswith("domain:") else None
        email = str(record.get("Contact Email") or "") or None
        attribution = "Influenced" if self.target.open_deal_exists(domain, email) else "Sourced"
        self.store.set_state(attribution_state(record.id), attribution)
        return attribution

    def _referral(self, record: Record, attribution: str) -> Referral:
        key, _how = registration_key(record.get("Company Domain"), record.get("Contact Email"))
        email = normalize_email(str(record.get("Partner Email", "")))
        partner = next(
            (p for p in self.store.all("partners", "Partners") if normalize_email(str(p.get("Email", ""))) == email),
            None,
        )
        return Referral(
            id=record.id,
            name=str(record.get("Referral", "")),
            company=str(record.get("Company", "")),
            domain=key.split(":", 1)[1] if key and key.startswith("domain:") else None,
            contact_name=str(record.get("Contact Name", "")),
            contact_email=str(record.get("Contact Email") or "") or None,
            notes=str(record.get("Notes", "")),
            partner_email=email,
            partner_name=str(partner.get("Name", "")) if partner else "",
            registered_at=record.created_time,
            attribution=attribution,
            expires_on=str(record.get("Expires On") or "") or None,
            partner_company=str(partner.get("Company", "")) or None if partner else None,
            pushed_at=format_datetime(self.now()),
        )

    def reconcile(self, effect: Effect, started_at: datetime) -> dict[str, Any] | None:
        return None  # the push is an upsert by the referral id: repeating it is safe
