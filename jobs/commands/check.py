"""`partnerops check`: a preflight against the live systems, not the mirror.

Settings; Airtable (the token, each base against its template, the Circles table as it is now);
Slack (the token, its scopes, the managers' channel and each Active circle's channel); SMTP
(connect, EHLO, STARTTLS and login as configured; nothing sent); the CRM; the record cap. Each
failure says its fix; exit 0 only when every check passed (warnings do not fail it).
"""

from __future__ import annotations

from typing import TextIO

from bases.fields import CircleF
from bases.records import Record
from bases.schema import BASES
from integrations.airtable import AirtableClient
from integrations.hubspot import HubSpotError
from integrations.smtp import NO_ANSWER, SmtpError
from jobs.app import App
from jobs.apply.crm_targets import DEAL_PROPERTIES, HubSpotTarget
from jobs.commands.check_airtable import check_schemas, check_token, read_circles
from jobs.commands.check_slack import check_slack
from jobs.commands.checklist import FAIL, PASS, WARN, Checklist, network_fix, no_answer
from jobs.refused import HUBSPOT_TOKEN_FIX
from jobs.rules.capacity import capacity_warning
from jobs.settings import DEFAULTS, Settings
from jobs.store.state import load_sync

__all__ = ["FAIL", "PASS", "WARN", "cmd_check"]


def cmd_check(settings: Settings, out: TextIO) -> int:
    report = Checklist(out, settings.secrets())
    report.ok("settings: every variable is valid")
    _settings_warnings(settings, report)
    app = App.open(settings)
    try:
        circles = _airtable(app, report)
        check_slack(app.slack, settings, circles, report)
        _check_smtp(app, report)
        _check_crm(app, report)
        _check_capacity(app, report)
    finally:
        app.close()
    print(report.summary(), file=out)
    return 0 if not report.failures else 1


def _settings_warnings(settings: Settings, report: Checklist) -> None:
    if not settings.slack_manager_channel:
        report.warn(
            "SLACK_MANAGER_CHANNEL is empty: the managers get no weekly digest and no needs-attention notes in Slack",
            "set it to the managers' channel id (C… or G…), and invite the bot there",
        )
    if not settings.referral_form_url:
        report.warn(
            "REFERRAL_FORM_URL is empty: messages to partners carry no link to the referral form",
            "set it to the share link of the Referrals base's partner form",
        )


def _check_airtable(client: AirtableClient, out: TextIO, secrets: list[str] | None = None) -> int:
    """The token, then each base against its template (what `bases check` prints); the failures."""
    report = Checklist(out, secrets or [])
    visible = check_token(client, report)
    if visible is not None:
        check_schemas(client, visible, report)
    return report.failures


def _airtable(app: App, report: Checklist) -> list[Record] | None:
    """The circles to check: live from Airtable, or the local store when it is the data."""
    if app.airtable is None:
        report.ok(f"Airtable: no AIRTABLE_TOKEN, the embedded local store under {app.home} is the data")
        return app.store.all(CircleF.BASE, CircleF.TABLE)
    visible = check_token(app.airtable, report)
    if visible is None:
        return None
    readable = check_schemas(app.airtable, visible, report)
    return read_circles(app.airtable, report) if CircleF.BASE in readable else None


def _check_smtp(app: App, report: Checklist) -> None:
    if app.smtp is None:
        report.ok(f"SMTP: no SMTP_HOST, intro e-mails go to the outbox under {app.home}/outbox")
        return
    try:
        said = app.smtp.verify()
    except SmtpError as exc:
        report.fail(f"SMTP {exc.url} ({exc.stage})", _smtp_why(exc), _smtp_fix(exc))
        return
    report.ok(f"SMTP {said}; nothing sent")


def _smtp_why(exc: SmtpError) -> str:
    if exc.code == NO_ANSWER and exc.stage in ("connect", "ehlo"):
        return f"no SMTP server answers: {no_answer(exc)}"
    return exc.message


def _smtp_fix(exc: SmtpError) -> str:
    if exc.code == NO_ANSWER and exc.stage in ("connect", "ehlo"):
        return (
            "check SMTP_HOST and SMTP_PORT (the submission port is usually 587), and that this machine's "
            "network lets it out to that port (firewall)"
        )
    return exc.hint or "check SMTP_HOST, SMTP_PORT, SMTP_STARTTLS, SMTP_USER and SMTP_PASSWORD with your mail provider"


def _check_crm(app: App, report: Checklist) -> None:
    """CRM access, and HubSpot's one-time setup: the deal properties, incl. the unique referral id."""
    settings = app.settings
    if settings.crm == "none":
        report.ok("CRM: none (referrals are registered, not pushed)")
        return
    if settings.crm == "webhook":
        report.ok("CRM: webhook set (not called by check: each call would be a referral to the receiver)")
        return
    target = app.crm
    assert isinstance(target, HubSpotTarget)
    problems = target.client.check_access()
    for problem in problems:
        report.fail_line(f"{problem}. Fix: {_hubspot_fix(problem)}")
    if problems:
        return
    try:
        created = target.client.ensure_deal_properties(DEAL_PROPERTIES)
        pipeline, stage = target.client.first_stage()
    except HubSpotError as exc:
        report.fail("HubSpot setup", f"{exc.code}: {exc.message}", "give the token crm.schemas.deals.write")
        return
    made = f"created deal properties {', '.join(created)}" if created else "deal properties in place"
    report.ok(f"HubSpot: reachable, {made}; new deals go to pipeline {pipeline}, stage {stage}")


def _hubspot_fix(problem: str) -> str:
    if "unreachable" in problem:
        return network_fix("HUBSPOT_API_URL", DEFAULTS["HUBSPOT_API_URL"])
    if "rejected" in problem:
        return HUBSPOT_TOKEN_FIX
    return "give the token the scopes named, in HubSpot (the service key's or private app's Scopes)"


def _check_capacity(app: App, report: Checklist) -> None:
    """Records per base against AIRTABLE_RECORD_CAP, counted in the local store: counting them live
    would cost calls check does not otherwise make (it reads schemas and the Circles table only)."""
    cap = app.settings.airtable_record_cap
    if cap <= 0:
        report.ok("record cap: none (AIRTABLE_RECORD_CAP=0)")
        return
    if app.airtable is not None and not any(load_sync(app.store, b.key) for b in BASES):
        report.ok("record cap: not counted yet; the local store has no sync yet (run `partnerops run --once`)")
        return
    live = app.airtable is not None
    where = "the local store as of the last sync" if live else "the local store"
    counts = {base.name: app.store.count(base.key) for base in BASES}
    warnings = [w for w in (capacity_warning(name, n, cap) for name, n in counts.items()) if w]
    for warning in warnings:
        report.warn(f"{warning} (counted in {where})")
    if not warnings:
        listed = ", ".join(f"{name} {n}" for name, n in counts.items())
        aside = " (counting them live would cost Airtable calls)" if live else ""
        report.ok(f"record cap: {listed} of {cap} records per base, counted in {where}{aside}")
