"""The JSON document of one accepted referral, as the CRM webhook (``CRM=webhook``) and the
outbox receive it. It knows the Airtable field names of a referral and a partner, so it lives
with the jobs; :mod:`integrations.webhook` only delivers it (keyed by its ``referral_id``).

Document (``schema`` = ``partnerops.referral.v1``)
-------------------------------------------------
Every key is always present (``null`` when unknown), so a Zapier/Make sample shows every field to map.
Strings unless noted; nested keys appear in Zapier as ``referral__company`` etc.

=========================== ===================================================================
``schema``                  ``"partnerops.referral.v1"``; a new version only for breaking changes
``event``                   ``"referral.accepted"``: a partner's registration was accepted and
                            should become a deal
``referral_id``             stable id of the referral (its Airtable record id, ``rec…``); the same
                            on every retry and re-push — deduplicate on it, store it on the deal
``occurred_at``             ISO-8601 date-time (UTC) the event happened, e.g.
                            ``"2026-11-02T09:00:00Z"``
``attribution``             ``"Sourced"`` (no open deal for that company/contact existed),
                            ``"Influenced"`` (one did), or ``null`` (not determined)
``referral.name``           the referral's title (Airtable "Referral"), e.g. ``"Acme – website"``
``referral.company``        company name
``referral.company_domain`` company domain as registered, e.g. ``"acme.com"``
``referral.contact_name``   the referred contact's name
``referral.contact_email``  the referred contact's e-mail
``referral.notes``          the partner's notes
``referral.registered_on``  date the partner registered it (``YYYY-MM-DD``)
``referral.expires_on``     date the partner's registration protection ends (``YYYY-MM-DD``)
``partner.email``           the referring partner's e-mail (the partner's key)
``partner.name``            the referring partner's name
``partner.company``         the referring partner's company
=========================== ===================================================================

Example::

    {"schema": "partnerops.referral.v1", "event": "referral.accepted", "referral_id": "recA1b2C3d4E5f6G7",
     "occurred_at": "2026-11-02T09:00:00Z", "attribution": "Sourced",
     "referral": {"name": "Acme – website", "company": "Acme", "company_domain": "acme.com",
                  "contact_name": "Jane Doe", "contact_email": "jane@acme.com", "notes": null,
                  "registered_on": "2026-11-01", "expires_on": "2027-03-01"},
     "partner": {"email": "pat@agency.example", "name": "Pat Lee", "company": "Agency"}}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TypedDict

SCHEMA = "partnerops.referral.v1"
EVENT_REFERRAL_ACCEPTED = "referral.accepted"
EVENTS = frozenset({EVENT_REFERRAL_ACCEPTED})
ATTRIBUTIONS = frozenset({"Sourced", "Influenced"})

Part = dict[str, str | None]


class Document(TypedDict):
    """The document's keys (see the module docstring); ``referral``/``partner`` always hold every key."""

    schema: str
    event: str
    referral_id: str
    occurred_at: str
    attribution: str | None
    referral: Part
    partner: Part


# document key -> the names a caller's dict may use for it (snake_case, or the Airtable field name)
_REFERRAL_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name", "Referral"),
    "company": ("company", "Company"),
    "company_domain": ("company_domain", "Company Domain"),
    "contact_name": ("contact_name", "Contact Name"),
    "contact_email": ("contact_email", "Contact Email"),
    "notes": ("notes", "Notes"),
    "registered_on": ("registered_on", "Registered On", "createdTime", "created_time"),
    "expires_on": ("expires_on", "Expires On"),
}
_PARTNER_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("email", "Email"),
    "name": ("name", "Name"),
    "company": ("company", "Company"),
}
_DATE_KEYS = frozenset({"registered_on", "expires_on"})


def _text(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _as_date(text: str | None) -> str | None:
    """``YYYY-MM-DD`` from a date or date-time string; anything unreadable is passed on as is."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return text


def _pick(source: Mapping[str, object], spec: dict[str, tuple[str, ...]]) -> Part:
    out: Part = {}
    for key, names in spec.items():
        value: str | None = None
        for name in names:
            value = _text(source.get(name))
            if value is not None:
                break
        out[key] = _as_date(value) if key in _DATE_KEYS else value
    return out


def build_document(
    *,
    referral_id: str,
    event: str,
    occurred_at: str,
    referral: Mapping[str, object],
    partner: Mapping[str, object],
    attribution: str | None,
) -> Document:
    """The ``partnerops.referral.v1`` document (see the module docstring).

    ``referral`` and ``partner`` may use the document's snake_case keys or the Airtable field names
    ("Company Domain", "Contact Email", …); unknown keys are ignored, so the shape never changes.
    The partner's e-mail falls back to the referral's "Partner Email".
    """
    if not referral_id or not referral_id.strip():
        raise ValueError("referral_id is required")
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}; expected one of {sorted(EVENTS)}")
    try:
        datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"occurred_at must be an ISO-8601 date-time, not {occurred_at!r}") from None
    if attribution is not None and attribution not in ATTRIBUTIONS:
        raise ValueError(f"attribution must be one of {sorted(ATTRIBUTIONS)} or None, not {attribution!r}")
    partner_fields = _pick(partner, _PARTNER_FIELDS)
    if partner_fields["email"] is None:
        partner_fields["email"] = _text(referral.get("partner_email") or referral.get("Partner Email"))
    return {
        "schema": SCHEMA,
        "event": event,
        "referral_id": referral_id.strip(),
        "occurred_at": occurred_at,
        "attribution": attribution,
        "referral": _pick(referral, _REFERRAL_FIELDS),
        "partner": partner_fields,
    }
