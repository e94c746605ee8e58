"""The `referrals` job: register partner referrals and push accepted ones one way to the CRM.

Registration (pure rules in :mod:`jobs.referral_rules`) writes Status, Expires On, Conflict With
and Sync Notes. Each accepted registration becomes a ``crm.push`` effect: attribution is asked
of the CRM and stored first (so a repeated push cannot see its own deal as "already open"),
then the deal is upserted by the referral's id and CRM ID, CRM Pushed At and Status In CRM are
written back. A push killed half-way is simply repeated: the upsert finds the same deal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bases.records import Record, format_datetime, normalize_email
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
    effects = [
        cell_update(f"referral:{rid}:{digest(cells)}", "referrals", "Referrals", rid, cells, f"registration of {rid}")
        for rid, cells in plan.cells.items()
    ]
    pushes = to_push(referrals, plan.accepted) if rt.crm_target() is not None else []
    effects += [
        Effect(f"crm:{rid}", "crm.push", rid, {"referral_id": rid}, f"push referral {rid} to the CRM") for rid in pushes
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
        f"; {report.pending} push(es) retried next run" if report.pending else ""
    )
    return JobOutcome("referrals", "done", summary, failures)


def referrals_estimate(rt: Any, now: datetime) -> int:
    if rt.client is None:
        return 0
    new = [r for r in rt.store.all("referrals", "Referrals") if r.get("Status") in (None, "New", "Accepted")]
    return max(1, (len(new) * 3 + 9) // 10)


class CrmExecutor:
    """Carries out ``crm.push``: attribution, the upsert, and the write-back, each safe to repeat."""

    def __init__(self, target: CrmTarget, store: Any, writer: RecordWriter, now: Callable[[], datetime]) -> None:
        self.target, self.store, self.writer, self.now = target, store, writer, now

    def run(self, effect: Effect) -> dict[str, Any]:
        rid = effect.payload["referral_id"]
        record = self.store.get("referrals", "Referrals", rid)
        if record is None:
            raise EffectFailed(f"referral {rid} no longer exists in Airtable")
        if record.get("CRM ID"):
            return {"deal": record.get("CRM ID"), "already": True}
        try:
            attribution = record.get("Attribution") or self._attribution(record)
            deal_id = self.target.push(self._referral(record, attribution))
        except PushFailed as exc:
            if exc.permanent:
                self.writer.update("referrals", "Referrals", {rid: {"Sync Notes": f"Not in the CRM yet: {exc.why}"}})
            raise EffectFailed(exc.why, permanent=exc.permanent) from None
        self.writer.update(
            "referrals",
            "Referrals",
            {
                rid: {
                    "CRM ID": deal_id,
                    "CRM Pushed At": self.now(),
                    "Status": "In CRM",
                    "Sync Notes": "",
                }
            },
        )
        return {"deal": deal_id}

    def _attribution(self, record: Record) -> str:
        key, _how = registration_key(record.get("Company Domain"), record.get("Contact Email"))
        domain = key.split(":", 1)[1] if key and key.startswith("domain:") else None
        email = str(record.get("Contact Email") or "") or None
        attribution = "Influenced" if self.target.open_deal_exists(domain, email) else "Sourced"
        self.writer.update("referrals", "Referrals", {record.id: {"Attribution": attribution}})
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
