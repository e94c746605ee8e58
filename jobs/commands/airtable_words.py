"""Airtable failures in plain words, with the fix (shared by the operator commands)."""

from __future__ import annotations

from integrations.airtable import ALLOWANCE_SPENT, BILLING_LIMIT, AirtableClient, AirtableError
from jobs.app import App
from jobs.commands.checklist import network_fix, no_answer
from jobs.refused import AIRTABLE_SCOPES, AIRTABLE_TOKEN_FIX

DEFAULT_API_URL = "https://api.airtable.com"


class NeedsAirtable(Exception):
    """A command that talks to Airtable was run without AIRTABLE_TOKEN."""


def _client(app: App) -> AirtableClient:
    if app.airtable is None:
        raise NeedsAirtable("this command talks to Airtable: set AIRTABLE_TOKEN (see config.example.env)")
    return app.airtable


def said(exc: AirtableError) -> str:
    """Airtable's own words (first sentence) with the status."""
    words = (exc.message or exc.code).split(". ")[0].rstrip(".")
    return f"{words} (HTTP {exc.status} {exc.code})" if exc.status else words


def explain_airtable_error(exc: AirtableError, what: str) -> str:
    """A failure in plain words, with the fix."""
    if exc.code in (BILLING_LIMIT, ALLOWANCE_SPENT):
        return f"{what}: {exc.message or exc.code}. Fix: wait for the 1st of next month, or see `partnerops budget`"
    if exc.status == 0:
        return f"{what}: Airtable did not answer ({no_answer(exc)}). Fix: {network_fix('AIRTABLE_API_URL', DEFAULT_API_URL)}"
    if exc.status == 401:
        return f"{what}: the token was rejected: {said(exc)}. Fix: {AIRTABLE_TOKEN_FIX}"
    if exc.status in (403, 404):
        return (
            f"{what}: {said(exc)}. Fix: check the id, and that the token lists it (or its workspace) "
            f"at https://airtable.com/create/tokens with the scopes {AIRTABLE_SCOPES}"
        )
    return f"{what}: {said(exc)}. Fix: try again later; if it persists, see Airtable's words above"
