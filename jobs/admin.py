"""Operator commands: `check`, `budget`, `bases create`, `bases check`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TextIO

from bases.drift import compare, create_base_body, link_fields
from bases.schema import BASES, CIRCLE_DEFAULTS
from integrations.airtable import AirtableClient, AirtableError
from integrations.hubspot import HubSpotError
from integrations.slack import HINT_AUTH, HINT_BOT_NOT_MEMBER, HINT_MISSING_SCOPE, REQUIRED_SCOPES, SlackError
from jobs import planner
from jobs.cadence import DAILY, DAILY_BASES, FRESH, FRESH_BASES, TIER_JOBS, load_state, make_plan, resyncs_due
from jobs.circle_rules import CircleConfig
from jobs.crm_targets import DEAL_PROPERTIES
from jobs.runtime import Runtime
from jobs.settings import BASE_VARS, Settings
from jobs.sync import capacity_warnings

PASS, FAIL = "ok  ", "FAIL"


class NeedsAirtable(Exception):
    pass


def _client(rt: Runtime) -> AirtableClient:
    if rt.client is None:
        raise NeedsAirtable("this command talks to Airtable: set AIRTABLE_TOKEN (see config.example.env)")
    return rt.client


def explain_airtable_error(exc: AirtableError, what: str) -> str:
    """A failure in plain words, with the fix."""
    fixes = {
        401: "the token is wrong or revoked: create a personal access token at airtable.com/create/tokens and set AIRTABLE_TOKEN",
        403: "the token cannot see this base: add the base to the token's access list, with scopes data.records:read/write, schema.bases:read/write, webhook:manage",
        404: "the base id is wrong: copy it from the base URL (app…)",
    }
    if exc.code == "PUBLIC_API_BILLING_LIMIT_EXCEEDED" or exc.code == "ALLOWANCE_SPENT":
        fix = "wait for the 1st of next month, or see `partnerops budget`"
    else:
        fix = fixes.get(exc.status, "see the message above")
    return f"{what}: {exc.message or exc.code} (HTTP {exc.status}). Fix: {fix}"


def cmd_check(settings: Settings, out: TextIO) -> int:
    print(f"{PASS} settings: every variable is valid", file=out)
    rt = Runtime.open(settings)
    failures = 0
    try:
        if rt.client is None:
            print(
                f"{PASS} Airtable: no AIRTABLE_TOKEN, the embedded local store under {settings.home} is the data",
                file=out,
            )
        else:
            failures += _check_airtable(rt.client, out)
        if rt.slack is None:
            print(f"{PASS} Slack: no SLACK_BOT_TOKEN, messages go to the outbox under {settings.home}/outbox", file=out)
        else:
            failures += _check_slack(rt, out)
        failures += _check_crm(rt, out)
        for base in BASES:
            for warning in capacity_warnings(rt.store, base):
                print(f"WARN {warning}", file=out)
    finally:
        rt.close()
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


def cmd_bases_check(settings: Settings, out: TextIO) -> int:
    rt = Runtime.open(settings)
    try:
        failures = _check_airtable(_client(rt), out)
    finally:
        rt.close()
    print("the bases match the templates" if not failures else f"{failures} difference(s)", file=out)
    return 0 if not failures else 1


def cmd_bases_create(settings: Settings, workspace: str, out: TextIO) -> int:
    rt = Runtime.open(settings)
    try:
        client = _client(rt)
        created: dict[str, str] = {}
        for base in BASES:
            try:
                answer = client.create_base(workspace, base.name, create_base_body(base))
                table_ids = {t["name"]: t["id"] for t in answer.get("tables", [])}
                for table_id, body in link_fields(base, table_ids):
                    client.create_field(answer["id"], table_id, body)
            except AirtableError as exc:
                print(explain_airtable_error(exc, f"creating base {base.name}"), file=out)
                return 1
            created[base.key] = answer["id"]
            print(f"created base {base.name}: {answer['id']}", file=out)
        client.base_ids.update(created)
        client.create("circles", "Circles", [dict(CIRCLE_DEFAULTS)])
        print("\nadd these lines to .env:", file=out)
        for key, base_id in created.items():
            print(f"{BASE_VARS[key]}={base_id}", file=out)
        print("\nthen add the views listed in bases/README.md, and fill Slack Channel ID of the circle", file=out)
        return 0
    finally:
        rt.close()


def cmd_budget(settings: Settings, out: TextIO, now: datetime | None = None) -> int:
    """The month so far, the projection, each tier's planned cadence and the latency it implies."""
    now = now or datetime.now(timezone.utc)
    rt = Runtime.open(settings)
    try:
        if rt.client is None:
            print("no AIRTABLE_TOKEN: the local store is the data and no Airtable budget applies", file=out)
            _print_cadence(rt, planner.offline_plan(), now, out)
            return 0
        used = rt.ledger.used(now)
        allowance = settings.airtable_monthly_calls
        print(f"Airtable calls in {now:%B %Y}: {used} of {allowance} ({used * 100 // allowance}%)", file=out)
        names = {v: b.name for b in BASES for k, v in settings.base_ids.items() if k == b.key and v}
        for base_id, kind, count in rt.ledger.breakdown(now):
            print(f"  {names.get(base_id, base_id):<10} {kind:<13} {count}", file=out)
        plan = make_plan(rt, now)
        target = round(planner.PLAN_SHARE * allowance)
        print(
            f"projected for the month at this cadence: {plan.projected} ({plan.projected * 100 // allowance}%); "
            f"the plan aims at no more than {target} ({planner.PLAN_SHARE:.0%})",
            file=out,
        )
        _print_cadence(rt, plan, now, out)
        if plan.mode == planner.STOPPED:
            print(f"STOPPED: {plan.why}", file=out)
        elif used >= 0.8 * allowance:
            print(
                f"WARNING: {used * 100 // allowance}% of the monthly allowance is spent; jobs slow down to last the month",
                file=out,
            )
        elif plan.projected > allowance:
            print("WARNING: at this pace the month ends over the allowance", file=out)
        return 0
    finally:
        rt.close()


def _print_cadence(rt: Runtime, plan: planner.Plan, now: datetime, out: TextIO) -> None:
    s = rt.settings
    fresh = " + ".join(b.name for b in BASES if b.key in FRESH_BASES)
    daily = " + ".join(b.name for b in BASES if b.key in DAILY_BASES)
    print(f"cadence ({plan.mode}): {plan.why}", file=out)
    jobs = ", ".join(TIER_JOBS[FRESH])
    if plan.fresh_every is not None:
        print(f"  every {planner.span(plan.fresh_every):<13} poll {fresh}; {jobs}", file=out)
        median, p90 = plan.latency() or (plan.fresh_every, plan.fresh_every)
        print(
            f"  {'':<19} → a new referral reaches the CRM about {planner.span(median)} after it is submitted"
            f" (median), within {planner.span(p90)} 9 times in 10",
            file=out,
        )
    elif plan.mode != planner.STOPPED:
        print(f"  {'with the daily run':<19} poll {fresh}; {jobs}", file=out)
    print(
        f"  {'daily at ' + s.daily_at.strftime('%H:%M'):<19} poll {daily}; {', '.join(TIER_JOBS[DAILY])} ({s.tz})",
        file=out,
    )
    if rt.client is not None:
        resyncs = resyncs_due(rt, now)
        if resyncs:
            calls = sum(resyncs)
            print(
                f"  {'every ' + str(s.sync_full_every_days) + ' days':<19} full resync of each base as a safety net: "
                f"{len(resyncs)} base resyncs still due this month, about {calls} calls",
                file=out,
            )
    last = load_state(rt).get("jobs", {})
    if last:
        runs = ", ".join(f"{job} {str(v['at'])[5:16].replace('T', ' ')}" for job, v in sorted(last.items()))
        print(f"last runs (UTC): {runs}", file=out)


def _check_slack(rt: Runtime, out: TextIO) -> int:
    """Token, scopes, and the bot's access to the managers' channel and each circle's channel."""
    assert rt.slack is not None
    try:
        who = rt.slack.auth_test()
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
    channels = [("managers' channel (SLACK_MANAGER_CHANNEL)", rt.settings.slack_manager_channel)]
    for record in rt.store.all("circles", "Circles"):
        config, _problems = CircleConfig.from_record(record)
        if config.active:
            channels.append((f"circle {config.name!r}", config.channel_id or ""))
    for label, channel in channels:
        if not channel:
            continue
        try:
            rt.slack.channel_info(channel)
        except SlackError as exc:
            failures += 1
            print(f"{FAIL} Slack {label} {channel}: {exc.code}. Fix: {exc.hint or HINT_BOT_NOT_MEMBER}", file=out)
            continue
        print(f"{PASS} Slack {label} {channel}: the bot can see it", file=out)
    return failures


def _check_crm(rt: Runtime, out: TextIO) -> int:
    """CRM access, and HubSpot's one-time setup: the deal properties, incl. the unique referral id."""
    settings = rt.settings
    if settings.crm == "none":
        print(f"{PASS} CRM: none (referrals are registered, not pushed)", file=out)
        return 0
    if settings.crm == "webhook":
        print(f"{PASS} CRM: webhook set (not called by check: each call would be a referral to the receiver)", file=out)
        return 0
    target = rt.crm_target()
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
