"""HubSpot's failures as one :class:`HubSpotError`, a :class:`integrations.errors.ServiceError`.

``code`` is HubSpot's ``category``; whether to try again is :attr:`ServiceError.retryable`, and
whether a write may have been applied without an answer is :attr:`ServiceError.outcome_unknown`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from integrations.errors import ServiceError
from integrations.http import scrub

#: A JSON object as HubSpot sent it; each field is checked where it is read.
Json = dict[str, Any]

EXISTING_ID_RE = re.compile(r"Existing ID:\s*(\d+)")
#: HubSpot's "migration in progress": answered before anything was applied, with Retry-After.
MIGRATION_IN_PROGRESS = 477
HINT_TOKEN = "check HUBSPOT_TOKEN: a service key or private app token (pat-…)"


class HubSpotError(ServiceError):
    """A HubSpot call failed or was refused.

    ``code`` is HubSpot's ``category`` (VALIDATION_ERROR, CONFLICT, MISSING_SCOPES, RATE_LIMITS, …;
    NETWORK when no answer came); ``correlation_id`` is HubSpot's reference for its support;
    ``details`` is its ``errors`` list ([{message, code, in, context}]); ``body`` the whole answer.
    """

    service = "HubSpot"

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        url: str = "",
        outcome_unknown: bool = False,
        hint: str = "",
        correlation_id: str = "",
        details: list[Json] | None = None,
        body: Json | None = None,
    ) -> None:
        self.correlation_id = correlation_id
        self.details = list(details or [])
        self.body = dict(body or {})
        super().__init__(status, code, message, url=url, outcome_unknown=outcome_unknown, hint=hint)

    def describe(self) -> str:
        text = super().describe()
        return f"{text} [correlationId {self.correlation_id}]" if self.correlation_id else text

    @property
    def retryable(self) -> bool:
        return super().retryable or self.status == MIGRATION_IN_PROGRESS

    @property
    def codes(self) -> list[str]:
        """The per-error codes, e.g. ``["PROPERTY_DOESNT_EXIST"]``."""
        return [str(d.get("code")) for d in self.details if d.get("code")]


def error_from_body(
    status: int, body: object, *, url: str = "", token: str = "", outcome_unknown: bool = False
) -> HubSpotError:
    """One :class:`HubSpotError` from any HubSpot error body (every field treated as optional)."""
    if not isinstance(body, Mapping):
        text = scrub(str(body or "")[:200], [token])
        return HubSpotError(status, "UNKNOWN", text, url=url, outcome_unknown=outcome_unknown)
    fallback = "RATE_LIMITS" if status == 429 else "UNKNOWN"
    code = str(body.get("category") or body.get("errorType") or fallback)
    raw_details = body.get("errors")
    details = [dict(d) for d in raw_details if isinstance(d, Mapping)] if isinstance(raw_details, list) else []
    return HubSpotError(
        status,
        code,
        scrub(str(body.get("message", "")), [token]),
        url=url,
        outcome_unknown=outcome_unknown,
        hint=_hint(status, details),
        correlation_id=str(body.get("correlationId", "")),
        details=details,
        body=dict(body),
    )


def _hint(status: int, details: list[Json]) -> str:
    if status == 401:
        return HINT_TOKEN
    scopes = _scopes_in(details)
    if status == 403 and scopes:
        return f"give the token {', '.join(scopes)}"
    return ""


def existing_id(err: HubSpotError) -> str | None:
    """The record id in a "Contact already exists. Existing ID: 123" answer (409, or a batch error)."""
    if err.status not in (409, 400) and err.code != "CONFLICT":
        return None
    match = EXISTING_ID_RE.search(err.message)
    return match.group(1) if match else None


def error_keys(raw: Mapping[str, Any]) -> list[str]:
    """Which inputs a batch error is about: objectWriteTraceId, else ids in its context, else ``id``."""
    keys: list[str] = []
    if raw.get("objectWriteTraceId"):
        keys.append(str(raw["objectWriteTraceId"]))
    context = raw.get("context")
    if isinstance(context, Mapping):
        for name in ("objectWriteTraceId", "ids", "id"):
            values = context.get(name)
            if isinstance(values, list):
                keys.extend(str(v) for v in values)
            elif values:
                keys.append(str(values))
    if raw.get("id"):
        keys.append(str(raw["id"]))
    return list(dict.fromkeys(keys))


def required_scopes(err: HubSpotError) -> list[str]:
    """The scopes a 403 MISSING_SCOPES answer names."""
    return _scopes_in(err.details)


def _scopes_in(details: list[Json]) -> list[str]:
    found: list[str] = []
    for detail in details:
        context = detail.get("context")
        if not isinstance(context, Mapping):
            continue
        for name in ("requiredGranularScopes", "requiredScopes"):
            values = context.get(name)
            if isinstance(values, list):
                found.extend(str(v) for v in values)
    return list(dict.fromkeys(found))
