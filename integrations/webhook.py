"""Generic webhook CRM target (``CRM=webhook``): one JSON document per referral, POSTed to a URL.

The receiver is a Make "Custom webhook", an n8n Webhook node (production ``/webhook/…`` URL) or a
Zapier "Catch Hook" (a paid Zapier plan); it creates the contact and deal in whatever CRM it likes.
Plain ``requests``; URL, timeout, session, :class:`~integrations.http.Clock` and the optional
signing secret are injected. The document itself (``partnerops.referral.v1``) is the caller's:
see :mod:`jobs.apply.crm_document`; this module only needs its ``referral_id``.

Delivery
--------
* ``POST <CRM_WEBHOOK_URL>`` with the JSON document as the body (UTF-8) and the headers
  ``Content-Type: application/json``, ``User-Agent: partnerops``,
  ``Idempotency-Key: <referral_id>`` and, when a secret is configured,
  ``X-Partnerops-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed by the secret>``.
* Any 2xx is "delivered" (Zapier answers 200 even when the Zap is off).
* Every document carries a stable ``referral_id``, so a receiver that deduplicates on it (or on
  the ``Idempotency-Key`` header) never makes a second deal.
* Within one call, a POST is sent again only when it surely was not applied or the receiver said
  so: no connection could be made (refused, unresolvable host, connect time-out, TLS handshake),
  or an answer of 408, 409 (idempotency key still in flight), 429 (waiting per ``Retry-After``,
  bounded) or 5xx — :data:`MAX_ATTEMPTS` attempts in all.
* A POST whose connection dropped after sending, or that timed out while reading the answer, has
  an UNKNOWN outcome: it is not repeated here; :class:`WebhookError` says ``outcome_unknown`` and
  the caller keeps the push started and settles it before any repeat.
* Redirects are not followed (a POST redirected would lose its body): a 3xx is a permanent error —
  set the final URL. Other 4xx are permanent too (fix the scenario / Zap, then push again).
* Every failure is one :class:`WebhookError` (a :class:`~integrations.errors.ServiceError`). The
  URL is a secret (catch-hook URLs embed their token and are often the only credential): errors,
  logs and ``repr`` show ``scheme://host/…`` only.

Verifying the signature (receiver side, e.g. an n8n Code node)::

    expected = "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    hmac.compare_digest(expected, request.headers["X-Partnerops-Signature"])
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

import requests

from integrations.errors import ServiceError
from integrations.http import LOST, Clock, never_sent, retry_after_seconds

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (5, 20)
USER_AGENT = "partnerops"
SIGNATURE_HEADER = "X-Partnerops-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"

MAX_ATTEMPTS = 3  # attempts in all, whatever the reason for repeating
BACKOFF_SECONDS = (1.0, 4.0)  # wait before the 2nd and 3rd attempt (no usable Retry-After)
RETRY_AFTER_MAX_SECONDS = 30.0  # a longer Retry-After is cut to this
IN_FLIGHT = 409  # the receiver still works on this Idempotency-Key: ask again
BODY_SNIPPET_CHARS = 500  # of a non-JSON answer, in push()'s result
ERROR_SNIPPET_CHARS = 200  # of an error answer, in the error message

NO_CONNECTION = "NO_CONNECTION"  # never reached the receiver: safe to repeat
ANSWER_LOST = "ANSWER_LOST"  # sent, no answer: may have been applied

# Path segments that name the service, not the hook; everything else in the path is treated as secret.
_PUBLIC_SEGMENTS = frozenset({"hooks", "hook", "catch", "webhook", "webhook-test", "webhooks", "api", "v1", "v2"})

Json = dict[str, object]


class WebhookError(ServiceError):
    """A webhook delivery failed.

    ``status``: the HTTP answer (0 = none); ``code``: the status as text, or ``NO_CONNECTION`` /
    ``ANSWER_LOST`` without an answer; ``message``: the receiver's words (secrets removed);
    ``url``: ``scheme://host/…``; ``attempts``: POSTs made. ``retryable`` for no connection,
    a lost answer, 408/409/429 and 5xx; 3xx and other 4xx need the URL or the receiving scenario
    fixed. ``outcome_unknown``: the POST may have been applied (settle it before any repeat).
    """

    service: ClassVar[str] = "CRM webhook"

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        url: str = "",
        outcome_unknown: bool = False,
        hint: str = "",
        attempts: int = 1,
    ) -> None:
        self.attempts = attempts
        super().__init__(status, code, message, url=url, outcome_unknown=outcome_unknown, hint=hint)

    def describe(self) -> str:
        what = f"answered {self.status}" if self.status else "gave no answer"
        text = f"{self.service} {self.url} {what}: {self.message}"
        if self.hint:
            text += f" - {self.hint}"
        if self.outcome_unknown:
            text += " (it may have been applied)"
        return text

    @property
    def retryable(self) -> bool:
        return self.status == IN_FLIGHT or super().retryable


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


def _hint(status: int) -> str:
    if status == 0:
        return "check CRM_WEBHOOK_URL and that the receiver is up"
    if 300 <= status < 400:
        return "it redirects elsewhere; set CRM_WEBHOOK_URL to the final address"
    if status in (404, 410):
        return "check CRM_WEBHOOK_URL and that the scenario, workflow or Zap is switched on"
    if 400 <= status < 500 and status not in (408, IN_FLIGHT, 429):
        return "fix the receiving scenario, workflow or Zap, then push again"
    return ""


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


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise ValueError("the webhook URL must be an http:// or https:// address with a host")


def _referral_id(document: Mapping[str, object]) -> str:
    referral_id = document.get("referral_id")
    if not isinstance(referral_id, str) or not referral_id.strip():
        raise ValueError("document needs a non-empty string 'referral_id' (the Idempotency-Key)")
    if any(c in referral_id for c in "\r\n"):
        raise ValueError("'referral_id' must be a single line")
    return referral_id


class WebhookClient:
    """POSTs referral documents to one webhook URL (Make, n8n, Zapier)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        clock: Clock | None = None,
        secret: str | None = None,
    ) -> None:
        _check_url(url)
        self._url = url
        self._secret = secret or None
        self._hidden = _secret_parts(url, self._secret)
        self.shown_url = redact_url(url)
        self.timeout = timeout
        self.session = session or requests.Session()
        self.clock = clock or Clock()

    def __repr__(self) -> str:
        return f"WebhookClient(url={self.shown_url!r}, signed={self._secret is not None})"

    def _scrub(self, text: str) -> str:
        for piece in self._hidden:
            text = text.replace(piece, "…")
        return text

    def push(self, document: Mapping[str, object]) -> Json:
        """POST one document; returns ``{"status": code, "body": parsed JSON or text[:500]}`` on 2xx.

        ``document["referral_id"]`` is required (ValueError otherwise) and becomes the
        ``Idempotency-Key``. Retries per the module docstring; raises :class:`WebhookError`.
        """
        body, headers = self._request(document)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._post(body, headers, attempt)
            except WebhookError as error:
                self._may_repeat(error, attempt, None)
                continue
            if 200 <= response.status_code < 300:
                return {"status": response.status_code, "body": _parse_body(response)}
            self._may_repeat(self._error(response, attempt), attempt, response.headers.get("Retry-After"))

    def _request(self, document: Mapping[str, object]) -> tuple[bytes, dict[str, str]]:
        referral_id = _referral_id(document)
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/plain;q=0.9, */*;q=0.1",
            "User-Agent": USER_AGENT,
            IDEMPOTENCY_HEADER: referral_id,
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(body, self._secret)
        return body, headers

    def _post(self, body: bytes, headers: dict[str, str], attempt: int) -> requests.Response:
        """One POST; a failure without an answer becomes a WebhookError saying whether it was sent."""
        try:
            return self.session.post(self._url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False)
        except LOST as exc:
            sent = not never_sent(exc)
            # str(exc) names the URL: only the exception type goes into the message.
            raise WebhookError(
                0,
                ANSWER_LOST if sent else NO_CONNECTION,
                f"{type(exc).__name__}" + (" after the request was sent" if sent else ", no connection"),
                url=self.shown_url,
                outcome_unknown=sent,
                hint=_hint(0),
                attempts=attempt,
            ) from None

    def _may_repeat(self, error: WebhookError, attempt: int, retry_after: str | None) -> None:
        """Wait before the next attempt, or raise ``error`` when it must not (or cannot) be repeated."""
        if not error.retryable or error.outcome_unknown or attempt >= MAX_ATTEMPTS:
            raise error
        wait = retry_after_seconds(retry_after, self.clock.now())
        if wait is None:
            wait = BACKOFF_SECONDS[min(attempt - 1, len(BACKOFF_SECONDS) - 1)]
        wait = min(wait, RETRY_AFTER_MAX_SECONDS)
        log.warning("%s (attempt %d of %d); retrying in %.1f s", error, attempt, MAX_ATTEMPTS, wait)
        self.clock.sleep(wait)

    def _error(self, response: requests.Response, attempt: int) -> WebhookError:
        status = response.status_code
        if 300 <= status < 400:
            detail = "a redirect, not followed"
        else:
            text = " ".join(response.text.split())[:ERROR_SNIPPET_CHARS]
            detail = self._scrub(text) if text else (response.reason or "no body")
        return WebhookError(status, str(status), detail, url=self.shown_url, hint=_hint(status), attempts=attempt)


def _parse_body(response: requests.Response) -> object:
    if not response.content:
        return ""
    try:
        parsed: object = response.json()
    except ValueError:
        return response.text[:BODY_SNIPPET_CHARS]
    return parsed
