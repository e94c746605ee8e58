"""Airtable failures in plain words, with the fix (shared by the operator commands)."""

from __future__ import annotations

from integrations.airtable import AirtableClient, AirtableError
from jobs.app import App


class NeedsAirtable(Exception):
    """A command that talks to Airtable was run without AIRTABLE_TOKEN."""


def _client(app: App) -> AirtableClient:
    if app.airtable is None:
        raise NeedsAirtable("this command talks to Airtable: set AIRTABLE_TOKEN (see config.example.env)")
    return app.airtable


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
