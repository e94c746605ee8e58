"""The `stages` job: read back stage changes of the deals this program pushed (SPEC §5.5).

Only HubSpot can be read back. One search for deals carrying the referral-id property modified
since the last run (with an overlap, because search lags behind writes) — never a full sync.
For each referral whose stage label changed: CRM Stage, Amount, Status Won/Lost are written,
and the referring partner gets one Slack message per stage change (referral news is exempt from
the 7-day nudge limit; Do Not Message partners get none).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from bases.records import parse_datetime
from jobs.crm_targets import REFERRAL_ID_PROPERTY, HubSpotTarget
from jobs.effects import ApplyReport, Effect, Progress, apply, cell_update, digest, start
from jobs.messages import first_name, render
from jobs.partners import partner_by_email, slack_user

OVERLAP = timedelta(minutes=15)
FIRST_LOOKBACK = timedelta(days=30)
SINCE_STATE = "stages:since"
READ_PROPERTIES = ["dealstage", "amount", "dealname", "hs_lastmodifieddate"]


def _amount(raw: Any) -> float | None:
    try:
        return float(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _modified(deal: dict[str, Any]) -> datetime | None:
    raw = (deal.get("properties") or {}).get("hs_lastmodifieddate")
    if not raw:
        return None
    text = str(raw)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    return parse_datetime(text)


def plan_stage_changes(rt: Any, deals: list[dict[str, Any]], stages: dict[str, Any]) -> tuple[list[Effect], list[str]]:
    """Cell updates first, all together (the queue writes them 10 records a call), then the messages."""
    cells_effects: list[Effect] = []
    messages: list[Effect] = []
    story: list[str] = []
    for deal in deals:
        props = deal.get("properties") or {}
        rid = str(props.get(REFERRAL_ID_PROPERTY) or "")
        record = rt.store.get("referrals", "Referrals", rid) if rid else None
        stage = stages.get(str(props.get("dealstage")))
        if record is None or stage is None:
            continue
        cells: dict[str, Any] = {}
        if record.get("CRM Stage") != stage.label:
            cells["CRM Stage"] = stage.label
        amount = _amount(props.get("amount"))
        if amount is not None and record.get("Amount") != amount:
            cells["Amount"] = amount
        status = {"won": "Won", "lost": "Lost"}.get(stage.outcome)
        if status and record.get("Status") != status:
            cells["Status"] = status
        if not cells:
            continue
        name = str(record.get("Referral", rid))
        cells_effects.append(
            cell_update(
                f"stage-cells:{rid}:{digest(cells)}", "referrals", "Referrals", rid, cells, f"{name}: {stage.label}"
            )
        )
        story.append(f"{name} → {stage.label}")
        if "CRM Stage" in cells:
            messages += _partner_message(rt, record, stage, amount)
    return [*cells_effects, *messages], story


def _partner_message(rt: Any, record: Any, stage: Any, amount: float | None) -> list[Effect]:
    partner = partner_by_email(rt.store, str(record.get("Partner Email", "")))
    if partner is None or partner.get("Do Not Message"):
        return []
    user = slack_user(rt.slack, partner)
    if user is None:
        return []
    text = render(
        "stage_change",
        first_name=first_name(str(partner.get("Name", ""))),
        referral=str(record.get("Referral", "")),
        stage=stage.label,
        outcome=stage.outcome,
        amount=f"{amount:,.0f}" if amount else "",
    )
    return [
        Effect(
            f"stage-msg:{record.id}:{stage.id}",
            "slack.dm",
            str(partner.get("Email")),
            {"email": partner.get("Email"), "user_id": user, "text": text},
            f"tell {partner.get('Name')} about {stage.label}",
        )
    ]


def run_stages(rt: Any, now: datetime, dry_run: bool, progress: Progress) -> Any:
    from jobs.cycle import JobOutcome

    target = rt.crm_target()
    if not isinstance(target, HubSpotTarget):
        return JobOutcome("stages", "skipped", "only HubSpot deals can be read back (CRM is not hubspot)")
    leftovers = start(rt, progress) if not dry_run else ApplyReport()
    saved = rt.store.get_state(SINCE_STATE)
    since = (parse_datetime(saved) if saved else now - FIRST_LOOKBACK) - OVERLAP
    client = target.client
    target.setup()  # before any push, the search would fail on the unknown referral-id property
    deals = client.deals_modified_since(since, REFERRAL_ID_PROPERTY, READ_PROPERTIES)
    effects, story = plan_stage_changes(rt, deals, client.stages())
    if dry_run:
        return JobOutcome("stages", "planned", "\n".join(f"would write {s}" for s in story) or "no stage change")
    newest = max((m for m in (_modified(d) for d in deals) if m is not None), default=None)
    mark = max(newest, since + OVERLAP) if newest else since + OVERLAP
    effects.append(
        Effect(
            f"state:{SINCE_STATE}:{mark.isoformat()}",
            "state.set",
            "local",
            {"key": SINCE_STATE, "value": mark.isoformat()},
            "remember how far the CRM was read",
        )
    )
    applied = apply(rt, effects, leftovers, progress)
    failures = applied.failures
    return JobOutcome(
        "stages",
        "done",
        f"{len(deals)} deal(s) read back, {len(story)} changed" + (f": {'; '.join(story[:10])}" if story else ""),
        failures,
    )


def stages_estimate(rt: Any, now: datetime) -> int:
    return 0 if rt.client is None else 2
