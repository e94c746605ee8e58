"""Generic webhook CRM target (``CRM=webhook``): one JSON document per referral, POSTed to a URL.

The receiver is a Make "Custom webhook", an n8n Webhook node (production ``/webhook/…`` URL) or a
Zapier "Catch Hook" (a paid Zapier plan); it creates the contact and deal in whatever CRM it likes.
Plain ``requests``; URL, timeout, session, ``sleep`` and the optional signing secret are injected.

Delivery
--------
* ``POST <CRM_WEBHOOK_URL>`` with the JSON document as the body (UTF-8) and the headers
  ``Content-Type: application/json``, ``User-Agent: partnerops``,
  ``Idempotency-Key: <referral_id>`` and, when a secret is configured,
  ``X-Partnerops-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed by the secret>``.
* Any 2xx is "delivered" (Zapier answers 200 even when the Zap is off).
* Every document carries a stable ``referral_id``, so repeating a POST is safe: a receiver that
  deduplicates on ``referral_id`` (or the ``Idempotency-Key`` header) never makes a second deal.
  Connection errors, timeouts, 408, 409 (idempotency key still in flight), 429 (waiting per
  ``Retry-After``, bounded) and 5xx are retried, :data:`MAX_ATTEMPTS` attempts in all.
* Redirects are not followed (a POST redirected would lose its body): a 3xx is a permanent error —
  set the final URL. Other 4xx are permanent too (fix the scenario / Zap, then push again).
* Every failure is one :class:`WebhookError`. The URL is a secret (catch-hook URLs embed their
  token and are often the only credential): errors, logs and ``repr`` show ``scheme://host/…`` only.

Verifying the signature (receiver side, e.g. an n8n Code node)::

    expected = "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    hmac.compare_digest(expected, request.headers["X-Partnerops-Signature"])

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

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

log = logging.getLogger(__name__)

SCHEMA = "partnerops.referral.v1"
EVENT_REFERRAL_ACCEPTED = "referral.accepted"
EVENTS = frozenset({EVENT_REFERRAL_ACCEPTED})
ATTRIBUTIONS = frozenset({"Sourced", "Influenced"})

DEFAULT_TIMEOUT = (5, 20)
USER_AGENT = "partnerops"
SIGNATURE_HEADER = "X-Partnerops-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"

MAX_ATTEMPTS = 3  # attempts in all, whatever the reason for repeating
BACKOFF_SECONDS = (1.0, 4.0)  # wait before the 2nd and 3rd attempt (no usable Retry-After)
RETRY_AFTER_MAX_SECONDS = 30.0  # a longer Retry-After is cut to this
RETRIABLE_STATUS = frozenset({408, 409, 429})  # plus every 5xx
BODY_SNIPPET_CHARS = 500  # of a non-JSON answer, in push()'s result
ERROR_SNIPPET_CHARS = 200  # of an error answer, in the error message

# Path segments that name the service, not the hook; everything else in the path is treated as secret.
_PUBLIC_SEGMENTS = frozenset({"hooks", "hook", "catch", "webhook", "webhook-test", "webhooks", "api", "v1", "v2"})


class WebhookError(Exception):
    """A webhook delivery failed: HTTP status (0 = no answer) and whether retrying later is pointless.

    ``permanent`` is True for 3xx and 4xx other than 408/409/429 (the URL or the receiving scenario
    needs fixing); False for network failures, 408/409/429 and 5xx (push again on a later run).
    """

    def __init__(self, status: int, message: str, *, permanent: bool, attempts: int = 1) -> None:
        self.status = status
        self.permanent = permanent
        self.message = message
        self.attempts = attempts
        super().__init__(message)


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: the only part of a webhook URL that may be shown."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<webhook URL>"
    return f"{parts.scheme or '?'}://{host}{port}/…"


def sign(body: bytes, secret: str) -> str:
    """The ``X-Partnerops-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def is_permanent(status: int) -> bool:
    """3xx and 4xx except 408/409/429; never a network failure (0) or 5xx."""
    return 300 <= status < 500 and status not in RETRIABLE_STATUS


def _secret_parts(url: str, secret: str | None) -> list[str]:
    """Every piece of the URL (and the signing secret) that must not appear in a message, longest first."""
    parts = urlsplit(url)
    pieces = {url, parts.netloc, parts.path, parts.path.strip("/"), parts.query, parts.fragment}
    if parts.username:
        pieces.add(parts.username)
    if parts.password:
        pieces.add(parts.password)
    pieces.update(s for s in parts.path.split("/") if s.lower() not in _PUBLIC_SEGMENTS)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        pieces.update((key, value))
    if secret:
        pieces.add(secret)
    host = parts.hostname or ""
    return sorted((p for p in pieces if len(p) >= 3 and p != host), key=len, reverse=True)


class WebhookClient:
    """POSTs referral documents to one webhook URL (Make, n8n, Zapier)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        secret: str | None = None,
    ) -> None:
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid:
            raise ValueError("the webhook URL must be an http:// or https:// address with a host")
        self._url = url
        self._secret = secret or None
        self._hidden = _secret_parts(url, self._secret)
        self.shown_url = redact_url(url)
        self.timeout = timeout
        self.session = session or requests.Session()
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"WebhookClient(url={self.shown_url!r}, signed={self._secret is not None})"

    def _scrub(self, text: str) -> str:
        for piece in self._hidden:
            text = text.replace(piece, "…")
        return text

    def push(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """POST one document; returns ``{"status": code, "body": parsed JSON or text[:500]}`` on 2xx.

        ``document["referral_id"]`` is required (ValueError otherwise) and becomes the
        ``Idempotency-Key``. Retries per the module docstring; raises :class:`WebhookError`.
        """
        referral_id = document.get("referral_id")
        if not isinstance(referral_id, str) or not referral_id.strip():
            raise ValueError("document needs a non-empty string 'referral_id' (the Idempotency-Key)")
        if any(c in referral_id for c in "\r\n"):
            raise ValueError("'referral_id' must be a single line")
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/plain;q=0.9, */*;q=0.1",
            "User-Agent": USER_AGENT,
            IDEMPOTENCY_HEADER: referral_id,
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(body, self._secret)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.post(
                    self._url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                # str(exc) names the URL: only the exception type goes into the message.
                error = WebhookError(
                    0,
                    f"webhook {self.shown_url} gave no answer: {type(exc).__name__}",
                    permanent=False,
                    attempts=attempt,
                )
                if attempt < MAX_ATTEMPTS:
                    self._wait(attempt, None, error)
                    continue
                raise error from None
            status = response.status_code
            if 200 <= status < 300:
                return {"status": status, "body": _parse_body(response)}
            error = self._error(response, attempt)
            if not error.permanent and attempt < MAX_ATTEMPTS:
                self._wait(attempt, response.headers.get("Retry-After"), error)
                continue
            raise error

    def _error(self, response: requests.Response, attempt: int) -> WebhookError:
        status = response.status_code
        if 300 <= status < 400:
            detail = "redirects elsewhere; set CRM_WEBHOOK_URL to the final address"
        else:
            text = " ".join(response.text.split())[:ERROR_SNIPPET_CHARS]
            detail = self._scrub(text) if text else (response.reason or "no body")
        return WebhookError(
            status,
            f"webhook {self.shown_url} answered {status}: {detail}",
            permanent=is_permanent(status),
            attempts=attempt,
        )

    def _wait(self, attempt: int, retry_after: str | None, error: WebhookError) -> None:
        wait = _retry_after_seconds(retry_after)
        if wait is None:
            wait = BACKOFF_SECONDS[min(attempt - 1, len(BACKOFF_SECONDS) - 1)]
        wait = max(0.0, min(wait, RETRY_AFTER_MAX_SECONDS))
        log.warning("%s (attempt %d of %d); retrying in %.1f s", error.message, attempt, MAX_ATTEMPTS, wait)
        self.sleep(wait)


def _parse_body(response: requests.Response) -> Any:
    if not response.content:
        return ""
    try:
        return response.json()
    except ValueError:
        return response.text[:BODY_SNIPPET_CHARS]


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - datetime.now(timezone.utc)).total_seconds()


# the document ----------------------------------------------------------------------------------

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


def _text(value: Any) -> str | None:
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


def _pick(source: Mapping[str, Any], spec: dict[str, tuple[str, ...]]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
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
    referral: Mapping[str, Any],
    partner: Mapping[str, Any],
    attribution: str | None,
) -> dict[str, Any]:
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
