"""Each job's ``read``: the only I/O before its plan — the store, and the outside look-ups the rules
need (Slack users by e-mail, the CRM's deals). A dry run looks nothing up in Slack: a partner
whose Slack user is not known yet stands for "found by e-mail".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bases.fields import ActivityF, CircleF, MemberF, PartnerF, ReferralF
from bases.rows import PartnerRow
from integrations.slack import SlackError
from jobs.app import App
from jobs.rules import aliases
from jobs.rules.circles import OUTBOX_USER, CircleInputs, decisions
from jobs.rules.health import HealthInputs
from jobs.rules.intros import IntroInputs, new_intros
from jobs.rules.referrals import ReferralInputs, receipts_due, registrations
from jobs.rules.stages import StageInputs, partners_to_tell, read_since
from jobs.schedule.runner import Skip
from jobs.store.state import load_since, load_zone

log = logging.getLogger(__name__)

DRY_USER = "(found by e-mail)"  # a dry run does not ask Slack


def partners(app: App) -> list[PartnerRow]:
    return [PartnerRow.of(r) for r in app.store.all(PartnerF.BASE, PartnerF.TABLE)]


def slack_users(app: App, emails: Iterable[str]) -> dict[str, str | None]:
    """E-mail → Slack user id (None: not in the workspace). A look-up that fails is left out: that
    partner waits for the next run, the others go ahead."""
    wanted = sorted(set(emails))
    if app.slack is None:
        return {e: OUTBOX_USER for e in wanted}
    if app.dry is not None:
        return {e: DRY_USER for e in wanted}
    out: dict[str, str | None] = {}
    for email in wanted:
        try:
            out[email] = app.slack.lookup_user_by_email(email)
        except SlackError as exc:
            log.warning("Slack look-up of %s failed (%s); tried again next run", email, exc)
    return out


@dataclass(frozen=True)
class CirclesRead(CircleInputs):
    """The circles job's inputs, and the Members records that follow a partner's corrected e-mail."""

    follow: Mapping[str, str] = field(default_factory=dict)  # Members record id → e-mail to write


def moved_emails(app: App) -> dict[str, str]:
    """Old partner e-mail → the partner's current one (see :mod:`jobs.rules.aliases`); the
    e-mails seen now are remembered for the next run."""
    partners_now = app.store.all(PartnerF.BASE, PartnerF.TABLE)
    raw = app.store.get_state(aliases.EMAILS)
    seen: dict[str, list[str]] = {}
    if isinstance(raw, dict):
        seen = {str(k): [str(e) for e in v] for k, v in raw.items() if isinstance(v, list)}
    moved = aliases.old_to_current(partners_now, seen)
    now_seen = aliases.remembered(partners_now, seen)
    if now_seen != seen:
        app.store.set_state(aliases.EMAILS, {k: list(v) for k, v in now_seen.items()})
    return moved


def _unknown_users(rows: Iterable[PartnerRow], emails: Iterable[str]) -> list[str]:
    cached = {r.email for r in rows if r.email and r.slack_user_id}
    return [e for e in emails if e not in cached]


def read_health(app: App, now: datetime) -> HealthInputs:
    moved = moved_emails(app)
    return HealthInputs(
        partners=app.store.all(PartnerF.BASE, PartnerF.TABLE),
        referrals=aliases.referrals_as_partners_now(
            app.store.all(ReferralF.BASE, ReferralF.TABLE, archived=True), moved
        ),
        activities=app.store.all(ActivityF.BASE, ActivityF.TABLE, archived=True),
        now=now,
        settings=app.settings.health,
    )


def read_circles(app: App, now: datetime) -> CirclesRead:
    moved = moved_emails(app)
    members, follow = aliases.members_following(app.store.all(MemberF.BASE, MemberF.TABLE), moved)
    base = CirclesRead(
        circles=app.store.all(CircleF.BASE, CircleF.TABLE),
        partners=app.store.all(PartnerF.BASE, PartnerF.TABLE),
        members=members,
        zone=load_zone(app.store),
        now=now,
        slack_users={},
        last_message={},
        referrals=aliases.referrals_as_partners_now(
            app.store.all(ReferralF.BASE, ReferralF.TABLE, archived=True), moved
        ),
        activities=app.store.all(ActivityF.BASE, ActivityF.TABLE, archived=True),
        health=app.settings.health,
        manager_channel=app.settings.slack_manager_channel,
        form_url=app.settings.referral_form_url,
        follow=follow,
    )
    touched = [d.email for plan in decisions(base).values() for d in plan.decisions]
    last = {}
    for email in touched:
        when = app.queue.last_done(email, ("slack.dm",))
        if when is not None:
            last[email] = when
    users = slack_users(app, _unknown_users(partners(app), touched))
    return CirclesRead(**{**base.__dict__, "slack_users": users, "last_message": last})


def read_referrals(app: App, now: datetime) -> ReferralInputs:
    live = frozenset(r.id for r in app.store.all(ReferralF.BASE, ReferralF.TABLE))
    base = ReferralInputs(
        referrals=app.store.all(ReferralF.BASE, ReferralF.TABLE, archived=True),
        partners=app.store.all(PartnerF.BASE, PartnerF.TABLE),
        now=now,
        crm=app.crm.name if app.crm is not None else None,
        live=live,
    )
    reg = registrations(base)
    by_id = {r.id: r for r in base.referrals}
    emails = [str(by_id[rid].get(ReferralF.PARTNER_EMAIL) or "").strip().lower() for rid in receipts_due(base, reg)]
    users = slack_users(app, _unknown_users(partners(app), [e for e in emails if e]))
    return ReferralInputs(**{**base.__dict__, "slack_users": users, "registration": reg})


def read_stages(app: App, now: datetime) -> StageInputs:
    if app.crm is None:
        raise Skip("no CRM to read back (CRM=none)")
    since = read_since(load_since(app.store), now)
    deals = app.crm.read_back(since)
    if deals is None:
        raise Skip(f"only HubSpot deals can be read back (CRM is {app.crm.name})")
    base = StageInputs(
        deals=deals,
        referrals=app.store.all(ReferralF.BASE, ReferralF.TABLE),
        partners=app.store.all(PartnerF.BASE, PartnerF.TABLE),
        now=now,
        since=since,
        alerts=app.settings.stage_alerts,
    )
    users = slack_users(app, _unknown_users(partners(app), partners_to_tell(base)))
    return StageInputs(**{**base.__dict__, "slack_users": users})


def read_intros(app: App, now: datetime) -> IntroInputs:
    referrals = app.store.all(ReferralF.BASE, ReferralF.TABLE)
    emails = [r.partner_email for r in new_intros(referrals) if r.partner_email]
    queued = {q.effect.key.split(":", 1)[1] for q in app.queue.queued() if q.effect.key.startswith("intro-")}
    delivery = {
        ref.id: why for ref, why in app.queue.failures_by_source("intros").items() if ref.table == ReferralF.TABLE
    }
    return IntroInputs(
        referrals=referrals,
        partners=app.store.all(PartnerF.BASE, PartnerF.TABLE),
        now=now,
        email_from=app.settings.email_from,
        slack_users=slack_users(app, _unknown_users(partners(app), emails)),
        in_flight=frozenset(queued),
        delivery=delivery,
    )
