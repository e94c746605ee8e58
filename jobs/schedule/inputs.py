"""Each job's ``read``: the only I/O before its plan — the store, and the outside look-ups the rules
need (Slack users by e-mail, the CRM's deals, the names that sign messages). A dry run looks no
partner up in Slack: a partner whose Slack user is not known yet stands for "found by e-mail".
It does read the Owners' names (read-only, a handful of calls), so the messages it lists are
signed as the real run would sign them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bases.fields import ActivityF, CircleF, MemberF, PartnerF, ReferralF
from bases.records import Record
from bases.rows import PartnerRow
from bases.schema import BASES
from integrations.slack import SlackError
from jobs.app import App
from jobs.apply.queue import DONE
from jobs.messages.words import owner_key
from jobs.rules import aliases, archive_rows
from jobs.rules.capacity import Capacity
from jobs.rules.circles import OUTBOX_USER, CircleInputs, decisions
from jobs.rules.digest import DigestInputs, digest_key
from jobs.rules.health import HealthInputs
from jobs.rules.intros import IntroInputs, new_intros
from jobs.rules.referrals import ReferralInputs, receipts_due, registrations
from jobs.rules.snapshots import WeeklySnapshot
from jobs.rules.stages import StageInputs, needs_account_currency, partners_to_tell, read_since
from jobs.rules.weeks import recent_weeks, report_week
from jobs.schedule.runner import Skip
from jobs.store.state import load_since, load_zone, snapshot_key

log = logging.getLogger(__name__)

DRY_USER = "(found by e-mail)"  # a dry run does not ask Slack
OUTBOX_CHANNEL = "(managers' channel)"  # the digest's channel in the outbox when SLACK_MANAGER_CHANNEL is empty
SNAPSHOT_WEEKS = 26  # how far back the digest looks for its last snapshot (a missed week or several)


def partners(app: App) -> list[PartnerRow]:
    return [PartnerRow.of(r) for r in app.store.all(PartnerF.BASE, PartnerF.TABLE)]


def history(app: App, base: str, table: str) -> list[Record]:
    """A table's records with those moved to the archive (history counts the same after archiving),
    less an archived one that was brought back by hand (:func:`jobs.rules.archive_rows.history`)."""
    live = frozenset(r.id for r in app.store.all(base, table))
    return archive_rows.history(app.store.all(base, table, archived=True), live)


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


def owner_names(app: App, emails: Iterable[str]) -> dict[str, str]:
    """Who signs the messages to these partners: their Owner's e-mail (lower case) → the Owner's
    Slack name. An Owner not in Slack, or whose look-up fails, is left out: their e-mail signs."""
    wanted = {e.strip().lower() for e in emails}
    owners = sorted({owner_key(r.owner) for r in partners(app) if r.email in wanted and r.owner})
    if app.slack is None or not owners:
        return {}
    out: dict[str, str] = {}
    for owner in owners:
        try:
            name = app.slack.user_name_by_email(owner)
        except SlackError as exc:
            log.warning("Slack look-up of the Owner %s failed (%s); their e-mail signs instead", owner, exc)
            continue
        if name:
            out[owner] = name
    return out


@dataclass(frozen=True)
class CirclesRead(CircleInputs):
    """The circles job's inputs, and the Members records that follow a partner's corrected e-mail."""

    follow: Mapping[str, str] = field(default_factory=dict)  # Members record id → e-mail to write


def moved_emails(app: App, remember: bool = True) -> dict[str, str]:
    """Old partner e-mail → the partner's current one (see :mod:`jobs.rules.aliases`); the
    e-mails seen now are remembered for the next run (``remember``: not by a read-only command)."""
    partners_now = app.store.all(PartnerF.BASE, PartnerF.TABLE)
    raw = app.store.get_state(aliases.EMAILS)
    seen: dict[str, list[str]] = {}
    if isinstance(raw, dict):
        seen = {str(k): [str(e) for e in v] for k, v in raw.items() if isinstance(v, list)}
    moved = aliases.old_to_current(partners_now, seen)
    now_seen = aliases.remembered(partners_now, seen)
    if remember and now_seen != seen:
        app.store.set_state(aliases.EMAILS, {k: list(v) for k, v in now_seen.items()})
    return moved


def _unknown_users(rows: Iterable[PartnerRow], emails: Iterable[str]) -> list[str]:
    cached = {r.email for r in rows if r.email and r.slack_user_id}
    return [e for e in emails if e not in cached]


def read_health(app: App, now: datetime) -> HealthInputs:
    moved = moved_emails(app)
    return HealthInputs(
        partners=app.store.all(PartnerF.BASE, PartnerF.TABLE),
        referrals=aliases.referrals_as_partners_now(history(app, ReferralF.BASE, ReferralF.TABLE), moved),
        activities=history(app, ActivityF.BASE, ActivityF.TABLE),
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
        referrals=aliases.referrals_as_partners_now(history(app, ReferralF.BASE, ReferralF.TABLE), moved),
        activities=history(app, ActivityF.BASE, ActivityF.TABLE),
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
    queued = frozenset(q.effect.target for q in app.queue.queued() if q.effect.key.startswith("member:"))
    names = owner_names(app, touched)
    update = {"slack_users": users, "last_message": last, "in_flight": queued, "signatures": names}
    return CirclesRead(**{**base.__dict__, **update})


def read_referrals(app: App, now: datetime) -> ReferralInputs:
    live = frozenset(r.id for r in app.store.all(ReferralF.BASE, ReferralF.TABLE))
    base = ReferralInputs(
        referrals=aliases.referrals_as_partners_now(history(app, ReferralF.BASE, ReferralF.TABLE), moved_emails(app)),
        partners=app.store.all(PartnerF.BASE, PartnerF.TABLE),
        now=now,
        crm=app.crm.name if app.crm is not None else None,
        live=live,
    )
    reg = registrations(base)
    by_id = {r.id: r for r in base.referrals}
    emails = [str(by_id[rid].get(ReferralF.PARTNER_EMAIL) or "").strip().lower() for rid in receipts_due(base, reg)]
    users = slack_users(app, _unknown_users(partners(app), [e for e in emails if e]))
    names = owner_names(app, emails)
    return ReferralInputs(**{**base.__dict__, "slack_users": users, "registration": reg, "signatures": names})


def read_stages(app: App, now: datetime) -> StageInputs:
    if app.crm is None:
        raise Skip("no CRM to read back (CRM=none)")
    since = read_since(load_since(app.store), now)
    deals = app.crm.read_back(since)
    if deals is None:
        raise Skip(f"only HubSpot deals can be read back (CRM is {app.crm.name})")
    base = StageInputs(
        deals=deals,
        referrals=aliases.referrals_as_partners_now(app.store.all(ReferralF.BASE, ReferralF.TABLE), moved_emails(app)),
        partners=app.store.all(PartnerF.BASE, PartnerF.TABLE),
        now=now,
        since=since,
        alerts=app.settings.stage_alerts,
        account_currency=app.crm.account_currency() if needs_account_currency(deals) else None,
    )
    told = partners_to_tell(base)
    users = slack_users(app, _unknown_users(partners(app), told))
    return StageInputs(**{**base.__dict__, "slack_users": users, "signatures": owner_names(app, told)})


def read_intros(app: App, now: datetime) -> IntroInputs:
    referrals = aliases.referrals_as_partners_now(app.store.all(ReferralF.BASE, ReferralF.TABLE), moved_emails(app))
    emails = [r.partner_email for r in new_intros(referrals) if r.partner_email]
    queued = {q.effect.key.split(":")[1] for q in app.queue.queued() if q.effect.key.startswith("intro-")}
    delivery = {
        ref.id: why for ref, why in app.queue.failures_by_source("intros").items() if ref.table == ReferralF.TABLE
    }
    return IntroInputs(
        referrals=referrals,
        partners=app.store.all(PartnerF.BASE, PartnerF.TABLE),
        now=now,
        email_from=app.settings.email_from,
        slack_users=slack_users(app, _unknown_users(partners(app), emails)),
        signatures=owner_names(app, emails),
        in_flight=frozenset(queued),
        delivery=delivery,
    )


def read_digest(app: App, now: datetime, projected: Callable[[App, datetime], int]) -> DigestInputs:
    """The weekly digest's inputs, or Skip: DIGEST_AT=off, no channel to post in, or the report
    week's digest went out already. ``projected``: the month's projected Airtable calls (the
    budget plan's, :func:`jobs.schedule.tiers.make_plan`)."""
    s = app.settings
    if s.digest_at is None:
        raise Skip("DIGEST_AT=off: no weekly digest")
    if app.slack is not None and not s.slack_manager_channel:
        raise Skip(
            "no SLACK_MANAGER_CHANNEL: the weekly digest has nowhere to go; set it to the managers' channel id "
            "(C…) and invite the bot there"
        )
    week = report_week(now, s.zone).label
    if app.queue.status(digest_key(week)) == DONE:
        raise Skip(f"the digest of {week} went out already")
    return managers_inputs(app, now, projected(app, now), channel=s.slack_manager_channel or OUTBOX_CHANNEL)


MANAGERS_TABLES = (
    ("partners", PartnerF.BASE, PartnerF.TABLE),
    ("referrals", ReferralF.BASE, ReferralF.TABLE),
    ("activities", ActivityF.BASE, ActivityF.TABLE),
    ("members", MemberF.BASE, MemberF.TABLE),
    ("circles", CircleF.BASE, CircleF.TABLE),
)


def managers_inputs(app: App, now: datetime, projected: int, channel: str = "") -> DigestInputs:
    """Everything the managers' view reads (the digest, ``partnerops report``): the store only."""
    tables = {key: app.store.all(base, table, archived=True) for key, base, table in MANAGERS_TABLES}
    tables["referrals"] = aliases.referrals_as_partners_now(tables["referrals"], moved_emails(app, remember=False))
    live = {r.id for _key, base, table in MANAGERS_TABLES for r in app.store.all(base, table)}
    return DigestInputs(
        partners=tables["partners"],
        referrals=tables["referrals"],
        activities=tables["activities"],
        members=tables["members"],
        circles=tables["circles"],
        archived=frozenset(r.id for records in tables.values() for r in records if r.id not in live),
        stored=stored_snapshots(app, now),
        capacity=capacity(app, now, projected),
        now=now,
        zone=app.settings.zone,
        health=app.settings.health,
        channel=channel,
    )


def stored_snapshots(app: App, now: datetime) -> list[WeeklySnapshot]:
    """The weekly snapshots kept in the store for the last 26 report weeks, oldest first; one that
    cannot be read (a home from another version) is left out and logged."""
    found = []
    for week in recent_weeks(now, app.settings.zone, SNAPSHOT_WEEKS):
        value = app.store.get_state(snapshot_key(week.label))
        if value is None:
            continue
        try:
            found.append(WeeklySnapshot.from_json(json.dumps(value)))
        except ValueError as exc:
            log.warning("the stored snapshot of %s is left out: %s", week.label, exc)
    return found


def capacity(app: App, now: datetime, projected: int) -> Capacity:
    """Airtable calls used and projected this month, and records per base against the cap."""
    return Capacity(
        calls_used=app.ledger.used(now),
        calls_projected=projected,
        calls_allowance=app.settings.airtable_monthly_calls,
        records={base.name: app.store.count(base.key) for base in BASES},
        record_cap=app.settings.airtable_record_cap,
    )
