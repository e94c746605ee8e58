"""The `circles` job: keep each Circle's Slack channel in step with partner health (SPEC §4).

Plan (pure rules in :mod:`jobs.circle_rules`) → effects with stable keys → the effect queue.
A join is: find the partner in Slack, invite, Members record Active, welcome message; a leave:
remove, Members record Removed with the reason, one message saying why and how to get back in.
Nudges (the at-risk message) respect Do Not Message and one nudge per partner per 7 days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from bases.records import Record, format_date
from integrations.slack import SlackClient, SlackError
from jobs.circle_rules import CircleConfig, CirclePlan, Decision, MemberView, PartnerView, plan_circles
from jobs.effects import Effect, EffectQueue, Progress, cell_update, digest
from jobs.messages import Trusted, first_name, render
from jobs.partners import OUTBOX_USER, slack_user

NUDGE_GAP = timedelta(days=7)
NUDGE_PREFIX = "nudge:"
ZONE_STATE = "circles:zone"


class SlackLookup(Protocol):
    def lookup_user_by_email(self, email: str) -> str | None: ...


@dataclass
class CircleWork:
    effects: list[Effect] = field(default_factory=list)
    story: list[str] = field(default_factory=list)  # plain-words lines for the summary
    zone_states: dict[str, dict[str, bool]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    member_notes: dict[str, str] = field(default_factory=dict)  # Members record id → Sync Notes


@dataclass
class CircleContext:
    now: datetime
    queue: EffectQueue
    slack: SlackClient | None
    manager_channel: str
    form_url: str
    partners: dict[str, Record]  # by id
    views: dict[str, PartnerView]  # by e-mail


def _user_id(ctx: CircleContext, view: PartnerView) -> str | None:
    return slack_user(ctx.slack, ctx.partners[view.id])


def _member_cells(circle: CircleConfig, view: PartnerView, status: str, **extra: Any) -> dict[str, Any]:
    return {"Circle": [circle.id], "Partner Email": view.email, "Status": status, **extra}


def _write_member(
    circle: CircleConfig, d: Decision, view: PartnerView, status: str, group: str, **extra: Any
) -> list[Effect]:
    """The partner's membership record: the existing one updated by id (SPEC §2.3: the record
    whose Circle and Partner Email match, whatever its label), created only when none exists.
    A leave sets every live record of the partner in the circle to Removed."""
    cells = _member_cells(circle, view, status, **extra)
    when = extra.get("Joined On") or extra.get("Removed On") or ""
    describe = f"Members: {view.name} {status} in {circle.name}"
    if d.member_id is None:
        # Created with an upsert on the label it writes: repeating it after a lost answer finds
        # the record it made instead of making a second one.
        return [
            Effect(
                key=f"member:{circle.id}:{view.email}:{status}:{when}",
                kind="airtable.upsert",
                target=view.email,
                payload={
                    "base": "circles",
                    "table": "Members",
                    "merge_on": ["Member"],
                    "cells": {"Member": f"{circle.name}: {view.email}", **cells},
                },
                describe=describe,
                group=group,
            )
        ]
    ids = [d.member_id, *(d.also if status == "Removed" else ())]
    return [
        cell_update(
            f"member:{circle.id}:{view.email}:{status}:{when}:{rid}",
            "circles",
            "Members",
            rid,
            cells,
            describe,
            group=group,
            target=view.email,
        )
        for rid in ids
    ]


def _dm(key: str, view: PartnerView, user_id: str, text: str, describe: str, group: str) -> Effect:
    return Effect(
        key, "slack.dm", view.email, {"email": view.email, "user_id": user_id, "text": text}, describe, group=group
    )


def _plan_join(ctx: CircleContext, circle: CircleConfig, d: Decision, work: CircleWork, joined: list[str]) -> None:
    view = ctx.views[d.email]
    today = ctx.now.date()
    user_id = _user_id(ctx, view)
    group = f"join:{circle.id}:{view.email}:{today}"
    if user_id is None:
        if d.action == "retry_pending":
            return  # still not in Slack; the managers were told already
        work.effects += _write_member(circle, d, view, "Pending invite", group)
        if ctx.manager_channel:
            text = render("pending_note", name=view.name, email=view.email, circle=circle.name)
            work.effects.append(
                Effect(
                    f"pending:{circle.id}:{view.email}",
                    "slack.post",
                    "managers",
                    {"channel": ctx.manager_channel, "text": text},
                    f"tell managers {view.name} is not in Slack",
                    group=group,
                )
            )
        work.story.append(f"{circle.name}: {view.name} qualifies ({d.reason}) but is not in Slack — Pending invite")
        return
    if user_id != OUTBOX_USER and not ctx.partners[view.id].get("Slack User ID"):
        work.effects.append(
            cell_update(
                f"slackid:{view.id}:{user_id}",
                "partners",
                "Partners",
                view.id,
                {"Slack User ID": user_id},
                f"remember {view.name}'s Slack user",
                group=group,
                target=view.email,
            )
        )
    work.effects.append(
        Effect(
            f"invite:{group}",
            "slack.invite",
            view.email,
            {"channel": circle.channel_id, "user_id": user_id, "email": view.email},
            f"invite {view.name} to {circle.name}",
            group=group,
        )
    )
    work.effects += _write_member(
        circle, d, view, "Active", group, **{"Joined On": format_date(today), "Reason": d.reason, "Removed On": None}
    )
    if not view.do_not_message:
        text = render(
            "welcome",
            first_name=first_name(view.name),
            circle=circle.name,
            reason=d.reason,
            perks=circle.perks,
            channel_id=Trusted(circle.channel_id or ""),
        )
        work.effects.append(
            _dm(f"welcome:{group}", view, user_id, text, f"welcome {view.name} to {circle.name}", group)
        )
    joined.append(view.name)
    work.story.append(f"{circle.name}: {view.name} joins ({d.reason})")


def _plan_leave(ctx: CircleContext, circle: CircleConfig, d: Decision, work: CircleWork) -> None:
    view = ctx.views[d.email]
    today = ctx.now.date()
    group = f"leave:{circle.id}:{view.email}:{today}"
    user_id = _user_id(ctx, view)
    if user_id is not None:
        work.effects.append(
            Effect(
                f"kick:{group}",
                "slack.kick",
                view.email,
                {"channel": circle.channel_id, "user_id": user_id, "email": view.email},
                f"remove {view.name} from {circle.name}",
                group=group,
            )
        )
    work.effects += _write_member(
        circle, d, view, "Removed", group, **{"Removed On": format_date(today), "Reason": d.reason}
    )
    if user_id is not None and not view.do_not_message:
        text = render(
            "removal",
            first_name=first_name(view.name),
            circle=circle.name,
            reason=d.reason,
            form_url=Trusted(ctx.form_url),
        )
        work.effects.append(
            _dm(f"removal:{group}", view, user_id, text, f"tell {view.name} why they left {circle.name}", group)
        )
    work.story.append(f"{circle.name}: {view.name} leaves ({d.reason})")


def _plan_at_risk(ctx: CircleContext, circle: CircleConfig, d: Decision, work: CircleWork) -> bool:
    """The at-risk nudge; False when a messaging limit holds it back (it is tried again later)."""
    view = ctx.views[d.email]
    if view.do_not_message:
        work.story.append(f"{circle.name}: {view.name} is at risk ({d.reason}), not nudged (Do Not Message)")
        return True
    # Any message counts towards the gap: a welcome yesterday and "at risk" today would be noise.
    last = ctx.queue.last_done(view.email, ("slack.dm",))
    if last is not None and ctx.now - last < NUDGE_GAP:
        work.story.append(
            f"{circle.name}: {view.name} is at risk, nudge held back (a message went out less than 7 days ago)"
        )
        return False
    user_id = _user_id(ctx, view)
    if user_id is None:
        return False
    text = render(
        "at_risk", first_name=first_name(view.name), circle=circle.name, reason=d.reason, form_url=Trusted(ctx.form_url)
    )
    key = f"{NUDGE_PREFIX}atrisk:{circle.id}:{view.email}:{ctx.now.date()}"
    work.effects.append(_dm(key, view, user_id, text, f"at-risk nudge to {view.name}", group=""))
    work.story.append(f"{circle.name}: {view.name} nudged — at risk ({d.reason})")
    return True


def _join_post(circle: CircleConfig, names: list[str], today: date) -> Effect:
    names_digest = digest(sorted(names))
    return Effect(
        f"joinpost:{circle.id}:{today}:{names_digest}",
        "slack.post",
        circle.channel_id or "",
        {"channel": circle.channel_id, "text": render("join_post", names=names)},
        f"post in {circle.name}: {len(names)} new member(s)",
    )


def plan_circle_effects(
    ctx: CircleContext, plans: dict[str, CirclePlan], circles: dict[str, CircleConfig], zone: dict[str, dict[str, bool]]
) -> CircleWork:
    work = CircleWork()
    for circle_id, plan in plans.items():
        circle = circles[circle_id]
        state = dict(plan.zone_state)
        joined: list[str] = []
        for d in plan.decisions:
            if d.action in ("join", "retry_pending"):
                _plan_join(ctx, circle, d, work, joined)
            elif d.action == "leave":
                _plan_leave(ctx, circle, d, work)
            elif d.action == "at_risk" and not _plan_at_risk(ctx, circle, d, work):
                state[d.email] = zone.get(circle_id, {}).get(d.email, False)
        if joined:
            work.effects.append(_join_post(circle, joined, ctx.now.date()))
        work.problems.extend(f"{circle.name}: {n}" for n in plan.notes)
        work.member_notes.update(plan.record_notes)
        work.zone_states[circle_id] = state
    return work


def state_effect(zone_states: dict[str, dict[str, bool]], now: datetime) -> Effect:
    """The at-risk memory is written by the queue, in the same transaction as the nudges it records."""
    return Effect(
        f"state:{ZONE_STATE}:{now.isoformat()}:{digest(zone_states)}",
        "state.set",
        "local",
        {"key": ZONE_STATE, "value": zone_states},
        "remember who was nudged",
    )


def _member_sync_notes(records: list[Record], wanted: dict[str, str]) -> dict[str, str]:
    """Sync Notes to write on Members records: the wanted text, or cleared where it no longer applies."""
    out: dict[str, str] = {}
    for rec in records:
        text = wanted.get(rec.id, "")
        if (rec.get("Sync Notes") or "") != text:
            out[rec.id] = text
    return out


def load_circles(records: list[Record]) -> tuple[dict[str, CircleConfig], dict[str, list[str]]]:
    configs: dict[str, CircleConfig] = {}
    problems: dict[str, list[str]] = {}
    for rec in records:
        config, issues = CircleConfig.from_record(rec)
        configs[rec.id] = config
        problems[rec.id] = issues
    return configs, problems


def run_circles(rt: Any, now: datetime, dry_run: bool, progress: Progress) -> Any:
    from jobs.cycle import JobOutcome
    from jobs.effects import ApplyReport, apply, start

    queue = rt.effects()
    leftovers = start(rt, progress) if not dry_run else ApplyReport()
    partners = {r.id: r for r in rt.store.all("partners", "Partners")}
    views = {v.email: v for v in (PartnerView.from_record(r) for r in partners.values()) if v is not None}
    configs, circle_problems = load_circles(rt.store.all("circles", "Circles"))
    usable = {cid: c for cid, c in configs.items() if c.active and c.channel_id}
    for cid, c in configs.items():
        if c.active and not c.channel_id:
            circle_problems[cid] = [
                *circle_problems[cid],
                "Slack Channel ID is empty; paste the private channel's id (C… or G…) to run this circle",
            ]
    members = [m for m in (MemberView.from_record(r) for r in rt.store.all("circles", "Members")) if m is not None]
    zone = rt.store.get_state(ZONE_STATE, {}) or {}
    plans = plan_circles(list(usable.values()), list(views.values()), members, now.date(), zone)
    ctx = CircleContext(
        now, queue, rt.slack, rt.settings.slack_manager_channel, rt.settings.referral_form_url, partners, views
    )
    try:
        work = plan_circle_effects(ctx, plans, usable, zone)
    except SlackError as exc:
        return JobOutcome("circles", "failed", f"Slack lookup failed: {exc}", [str(exc)])
    for cid, issues in circle_problems.items():
        notes = "\n".join(issues)
        work.effects.append(
            cell_update(
                f"notes:circles:{cid}:{digest(notes)}",
                "circles",
                "Circles",
                cid,
                {"Sync Notes": notes},
                "Sync Notes of the circle",
            )
        )
    for mid, notes in _member_sync_notes(rt.store.all("circles", "Members"), work.member_notes).items():
        work.effects.append(
            cell_update(
                f"notes:members:{mid}:{digest(notes)}", "circles", "Members", mid, {"Sync Notes": notes}, "Sync Notes"
            )
        )
    work.effects.append(state_effect(work.zone_states, now))
    if dry_run:
        lines = [f"would {e.describe}" for e in work.effects if e.kind != "state.set" and e.kind != "airtable.update"]
        return (
            JobOutcome("circles", "planned", "; ".join(work.story) or "no change", [], 0)
            if not lines
            else JobOutcome("circles", "planned", "\n".join([*work.story, *lines]))
        )
    applied = apply(rt, work.effects, leftovers, progress)
    report, already = applied.report, applied.already
    failures = [*work.problems, *applied.failures]
    for cid, issues in circle_problems.items():
        failures += [f"{configs[cid].name}: {i}" for i in issues]
    sent = len([e for e in report.done if e.kind.startswith("slack")])
    summary = "; ".join(work.story) or "no membership change"
    summary += f" ({sent} Slack action(s)" + (f", {already} already done earlier" if already else "") + ")"
    if report.pending:
        summary += f"; {report.pending} effect(s) will be retried next run"
    return JobOutcome("circles", "done", summary, failures)


def circles_estimate(rt: Any, now: datetime) -> int:
    """Airtable writes: at most a few Members upserts a cycle; a conservative small number."""
    return 0 if rt.client is None else 3
