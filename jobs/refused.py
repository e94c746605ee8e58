"""An outside system's refusal that means a setting is wrong: which variable, and the fix.

A rejected token, or a base id Airtable does not know, fails every job the same way, so a run
stops at the first one and exits 2 (bad configuration) with the fix, instead of failing job after
job with the service's raw words. An outage, a rate limit or one bad record is not a setting: it
stays a failure of the job (exit 1).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from integrations.airtable import AirtableError
from integrations.errors import ServiceError
from integrations.hubspot import HubSpotError
from integrations.hubspot.errors import required_scopes
from integrations.slack import HINT_AUTH, HINT_MISSING_SCOPE, SlackError
from jobs.app import App
from jobs.apply.drain import DrainReport, Select, drain
from jobs.settings import BASE_VARS, ConfigError, Settings

AIRTABLE_SCOPES = "data.records:read, data.records:write, schema.bases:read, schema.bases:write, webhook:manage"
AIRTABLE_TOKEN_FIX = (
    "create a personal access token at https://airtable.com/create/tokens with the scopes "
    f"{AIRTABLE_SCOPES} and the three bases (or their workspace) as resources, and set AIRTABLE_TOKEN"
)
HUBSPOT_READ_SCOPES = (
    "crm.objects.deals.read, crm.objects.contacts.read, crm.objects.companies.read, crm.schemas.deals.read"
)
HUBSPOT_WRITE_SCOPES = "crm.objects.deals.write, crm.objects.contacts.write, crm.schemas.deals.write"
HUBSPOT_TOKEN_FIX = (
    "in HubSpot create a service key (or a private app) with the scopes "
    f"{HUBSPOT_READ_SCOPES}, {HUBSPOT_WRITE_SCOPES}, and set HUBSPOT_TOKEN to its token (pat-…)"
)
SLACK_AUTH_CODES = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})
# Airtable calls that name a base and nothing in it: a refusal there is about the base id (or the
# token's access to the base), never about one record or table.
_BASE_LEVEL = (
    re.compile(r"/v0/meta/bases/(app[A-Za-z0-9]+)/tables$"),
    re.compile(r"/v0/bases/(app[A-Za-z0-9]+)/webhooks$"),
)


class SettingRefused(ConfigError):
    """A service refused a setting (a token, a base id): the run stops, exit 2."""

    def __init__(self, problem: str) -> None:
        super().__init__([problem])


def refused_setting(exc: BaseException, settings: Settings) -> SettingRefused | None:
    """The setting to fix when ``exc`` is a service refusing one; None for anything else."""
    problem: str | None = None
    if isinstance(exc, AirtableError):
        problem = airtable_problem(exc, settings)
    elif isinstance(exc, HubSpotError):
        problem = hubspot_problem(exc)
    elif isinstance(exc, SlackError):
        problem = slack_problem(exc)
    return SettingRefused(problem) if problem else None


def stop_if_refused(exc: BaseException, settings: Settings) -> None:
    """Raise :class:`SettingRefused` when ``exc`` means a setting is wrong (see the module docstring)."""
    refused = refused_setting(exc, settings)
    if refused is not None:
        raise refused from None


def _said(exc: ServiceError) -> str:
    """The service's own words, first sentence only, with its status."""
    words = (exc.message or exc.code).split(". ")[0].rstrip(".")
    return f"{words} (HTTP {exc.status} {exc.code})" if exc.status else words


def base_variable(base_id: str, settings: Settings) -> str | None:
    """The variable that holds ``base_id`` (AIRTABLE_PARTNERS_BASE …), if one does."""
    for key, var in BASE_VARS.items():
        if settings.base_ids.get(key) == base_id:
            return var
    return None


def airtable_problem(exc: AirtableError, settings: Settings) -> str | None:
    if exc.status == 401:
        return f"Airtable rejected AIRTABLE_TOKEN: the token was rejected: {_said(exc)}. Fix: {AIRTABLE_TOKEN_FIX}"
    if exc.status not in (403, 404):
        return None
    for pattern in _BASE_LEVEL:
        match = pattern.search(exc.url)
        var = base_variable(match.group(1), settings) if match else None
        if match and var:
            return base_refused(var, match.group(1), f"HTTP {exc.status} {exc.code}")
    return None


def base_refused(var: str, base_id: str, how: str) -> str:
    """A base id Airtable does not know (or the token may not use), in plain words: ``how`` says
    how that showed (an HTTP status, or the token's list of bases)."""
    return (
        f"{var}={base_id}: Airtable has no base with this id that the token may use ({how}). Fix: check {var} — "
        "copy the id (app…) from the base's address in the browser, https://airtable.com/app…/… — and that "
        f"the token at https://airtable.com/create/tokens lists this base (or its workspace) with the scopes {AIRTABLE_SCOPES}"
    )


def hubspot_problem(exc: HubSpotError) -> str | None:
    if exc.status == 401:
        return f"HubSpot rejected HUBSPOT_TOKEN: the token was rejected: {_said(exc)}. Fix: {HUBSPOT_TOKEN_FIX}"
    if exc.status == 403 and (exc.code == "MISSING_SCOPES" or required_scopes(exc)):
        scopes = ", ".join(required_scopes(exc)) or "a scope this program needs"
        return f"HubSpot refused HUBSPOT_TOKEN: it lacks {scopes}. Fix: {HUBSPOT_TOKEN_FIX}"
    return None


def slack_problem(exc: SlackError) -> str | None:
    if exc.code in SLACK_AUTH_CODES:
        return f"Slack rejected SLACK_BOT_TOKEN: the token was rejected ({exc.code}). Fix: {HINT_AUTH}"
    if exc.code == "missing_scope":
        return f"Slack refused SLACK_BOT_TOKEN: the app lacks the scope {exc.needed or '(not named)'}. Fix: {HINT_MISSING_SCOPE}"
    return None


def drain_for(app: App, say: Callable[[str], None], select: Select) -> DrainReport:
    """Drain what ``select`` picks; a rejected token or unknown base met on the way stops the
    run (exit 2, with the fix) and leaves the effect that met it queued for after the fix."""
    report = drain(
        app.queue, app.executors(), app.now, say, select, lambda e: refused_setting(e, app.settings) is not None
    )
    if report.refused is not None:
        stop_if_refused(report.refused, app.settings)
    return report
