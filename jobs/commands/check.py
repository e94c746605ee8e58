"""`partnerops check`: settings, tokens, scopes, base schemas, Slack channels, SMTP, the CRM."""

from __future__ import annotations

from typing import TextIO

from bases.drift import compare
from bases.schema import BASES
from integrations.airtable import AirtableClient, AirtableError
from integrations.hubspot import HubSpotError
from integrations.slack import HINT_AUTH, HINT_BOT_NOT_MEMBER, HINT_MISSING_SCOPE, REQUIRED_SCOPES, SlackError
from jobs.app import App
from jobs.apply.crm_targets import DEAL_PROPERTIES, HubSpotTarget
from jobs.commands.airtable_words import explain_airtable_error
from jobs.rules.capacity import capacity_warning
from jobs.rules.circle_config import CircleConfig
from jobs.settings import BASE_VARS, Settings

PASS, FAIL, WARN = "ok  ", "FAIL", "WARN"


def cmd_check(settings: Settings, out: TextIO) -> int:
    print(f"{PASS} settings: every variable is valid", file=out)
    app = App.open(settings)
    failures = 0
    try:
        if app.airtable is None:
            print(
                f"{PASS} Airtable: no AIRTABLE_TOKEN, the embedded local store under {settings.home} is the data",
                file=out,
            )
        else:
            failures += _check_airtable(app.airtable, out)
        if app.slack is None:
            print(f"{PASS} Slack: no SLACK_BOT_TOKEN, messages go to the outbox under {settings.home}/outbox", file=out)
        else:
            failures += _check_slack(app, out)
        failures += _check_crm(app, out)
        for base in BASES:
            warning = capacity_warning(base.name, app.store.count(base.key), settings.airtable_record_cap)
            if warning:
                print(f"{WARN} {warning}", file=out)
    finally:
        app.close()
    print(f"{'all checks passed' if not failures else f'{failures} check(s) failed'}", file=out)
    return 0 if not failures else 1


def _check_airtable(client: AirtableClient, out: TextIO) -> int:
    failures = 0
    for base in BASES:
        var = BASE_VARS[base.key]
        try:
            schema = client.schema(base.key)
        except AirtableError as exc:
            print(f"{FAIL} {base.name} base ({var}): {explain_airtable_error(exc, 'cannot read the schema')}", file=out)
            failures += 1
            continue
        diffs = compare(base, schema)
        if not diffs:
            print(f"{PASS} {base.name} base: reachable, schema matches the template", file=out)
        for d in diffs:
            print(f"{FAIL} {d}", file=out)
            failures += 1
    return failures


def _check_slack(app: App, out: TextIO) -> int:
    """Token, scopes, and the bot's access to the managers' channel and each circle's channel."""
    assert app.slack is not None
    try:
        who = app.slack.auth_test()
    except SlackError as exc:
        print(f"{FAIL} Slack token: {exc.code}. Fix: {exc.hint or HINT_AUTH}", file=out)
        return 1
    print(f"{PASS} Slack token: workspace {who.get('team')}", file=out)
    failures = 0
    scopes = who.get("scopes")
    if scopes is None:
        print("WARN Slack did not say which scopes the token has; compare by hand with the list in README.md", file=out)
    else:
        missing = [s for s in REQUIRED_SCOPES if s not in scopes]
        if missing:
            failures += 1
            print(f"{FAIL} Slack scopes missing: {', '.join(missing)}. Fix: {HINT_MISSING_SCOPE}", file=out)
        else:
            print(f"{PASS} Slack scopes: all {len(REQUIRED_SCOPES)} present", file=out)
    channels = [("managers' channel (SLACK_MANAGER_CHANNEL)", app.settings.slack_manager_channel)]
    for record in app.store.all("circles", "Circles"):
        config, _problems = CircleConfig.from_record(record)
        if config.active:
            channels.append((f"circle {config.name!r}", config.channel_id or ""))
    for label, channel in channels:
        if not channel:
            continue
        try:
            app.slack.channel_info(channel)
        except SlackError as exc:
            failures += 1
            print(f"{FAIL} Slack {label} {channel}: {exc.code}. Fix: {exc.hint or HINT_BOT_NOT_MEMBER}", file=out)
            continue
        print(f"{PASS} Slack {label} {channel}: the bot can see it", file=out)
    return failures


def _check_crm(app: App, out: TextIO) -> int:
    """CRM access, and HubSpot's one-time setup: the deal properties, incl. the unique referral id."""
    settings = app.settings
    if settings.crm == "none":
        print(f"{PASS} CRM: none (referrals are registered, not pushed)", file=out)
        return 0
    if settings.crm == "webhook":
        print(f"{PASS} CRM: webhook set (not called by check: each call would be a referral to the receiver)", file=out)
        return 0
    target = app.crm
    assert isinstance(target, HubSpotTarget)
    problems = target.client.check_access()
    for problem in problems:
        print(f"{FAIL} {problem}", file=out)
    if problems:
        return len(problems)
    try:
        created = target.client.ensure_deal_properties(DEAL_PROPERTIES)
        pipeline, stage = target.client.first_stage()
    except HubSpotError as exc:
        print(
            f"{FAIL} HubSpot setup: {exc.code}: {exc.message}. Fix: give the token crm.schemas.deals.write",
            file=out,
        )
        return 1
    made = f"created deal properties {', '.join(created)}" if created else "deal properties in place"
    print(f"{PASS} HubSpot: reachable, {made}; new deals go to pipeline {pipeline}, stage {stage}", file=out)
    return 0
