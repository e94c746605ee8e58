"""One HubSpot call: the path for the configured API version, the token, waits and repeats.

* Paths: ``"v3"`` gives HubSpot's legacy paths (``/crm/v3/…``, ``/crm/v4/`` for associations,
  ``/account-info/v3/…``); a dated version such as ``"2026-09"`` gives ``/crm/objects/2026-09/…``,
  ``/crm/properties/2026-09/…``, ``/crm/pipelines/2026-09/…``, ``/crm/associations/2026-09/…`` and
  ``/account-info/2026-09/…`` — each checked against HubSpot's published specs for that version.
* 429, 423 and 477 (answered before anything was applied) wait per ``Retry-After`` or the
  ``X-HubSpot-RateLimit-*`` headers and are repeated, a bounded number of times, for every call.
* 5xx and network failures are repeated only for reads (GET, search, batch read) and for writes the
  caller marks ``repeat_if_lost`` (definitions whose repeat answers 409). Any other write raises at
  once, with ``outcome_unknown=True``: it may have been applied, and the caller reconciles.

The token never appears in an error or a log line.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests

from integrations.http import redact_url, retry_after_seconds
from integrations.hubspot.errors import MIGRATION_IN_PROGRESS, HubSpotError, Json, error_from_body

log = logging.getLogger("integrations.hubspot")

DEFAULT_API_URL = "https://api.hubapi.com"
DEFAULT_API_VERSION = "2026-09"  # dated; "v3" (legacy paths, unsupported from 2027) only on request
DEFAULT_TIMEOUT = (5.0, 30.0)
DATED_VERSION_RE = re.compile(r"^\d{4}-\d{2}$")
FAMILIES = ("objects", "properties", "pipelines", "associations", "account-info")
READ_SUFFIXES = ("/search", "/batch/read")

RATE_LIMIT_TRIES = 3  # attempts in all, when HubSpot answers 429/423/477
RATE_LIMIT_DEFAULT_WAIT_SECONDS = 10.0  # TEN_SECONDLY_ROLLING window
RATE_LIMIT_SECONDLY_WAIT_SECONDS = 1.0  # search: 5 requests a second
RATE_LIMIT_MAX_WAIT_SECONDS = 30.0
LOCKED_WAIT_SECONDS = 2.0  # 423: "include a delay of at least 2 seconds"
NOT_APPLIED_STATUS = (423, 429, MIGRATION_IN_PROGRESS)
SERVER_ERROR_TRIES = 3  # attempts in all for a read (or a repeatable write) that got no answer or a 5xx
SERVER_ERROR_BACKOFF_SECONDS = (1.0, 4.0)
RETRIABLE_STATUS = (500, 502, 503, 504, 524)


def check_version(api_version: str) -> str:
    """``api_version`` when it is "v3" or dated (YYYY-MM); ValueError otherwise."""
    if api_version != "v3" and not DATED_VERSION_RE.match(api_version):
        raise ValueError(f"api_version must be a dated version like '2026-09' or 'v3', not {api_version!r}")
    return api_version


def api_path(api_version: str, family: str, rest: str) -> str:
    """The path of ``rest`` in ``family`` (objects | properties | pipelines | associations | account-info).

    Dated: ``/crm/{family}/{version}/{rest}`` (``/account-info/{version}/{rest}``). ``v3``:
    ``/crm/v3/{family}/{rest}``, except associations and the object association sub-paths
    (``…/associations/default/…``), which only exist as ``/crm/v4/…``.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown API family {family!r}")
    rest = rest.lstrip("/")
    if family == "account-info":
        return f"/account-info/{api_version}/{rest}"
    if api_version != "v3":
        return f"/crm/{family}/{api_version}/{rest}"
    if family == "associations" or (family == "objects" and "/associations/" in rest):
        return f"/crm/v4/{family}/{rest}"
    return f"/crm/v3/{family}/{rest}"


def is_read(method: str, path: str) -> bool:
    """GET, a search or a batch read: changes nothing, so it may always be sent again."""
    return method == "GET" or path.endswith(READ_SUFFIXES)


@dataclass
class _Tries:
    rate_limited: int = 0
    lost: int = 0


class Transport:
    """Sends HubSpot calls; see the module docstring."""

    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        api_version: str = DEFAULT_API_VERSION,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._token = token
        self.api_url = api_url.rstrip("/")
        self.api_version = check_version(api_version)
        self.timeout = timeout
        self.session = session or requests.Session()
        self.sleep = sleep

    def path(self, family: str, rest: str) -> str:
        return api_path(self.api_version, family, rest)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, object] | None = None,
        params: Mapping[str, str | int] | None = None,
        repeat_if_lost: bool = False,
    ) -> tuple[int, Json]:
        """Send one call; (status, body) for 2xx, else :class:`HubSpotError`.

        ``repeat_if_lost``: the write may be sent again after a 5xx or no answer (its repeat is
        harmless, e.g. a definition whose repeat answers 409); reads always may.
        """
        method = method.upper()
        read = is_read(method, path)
        may_repeat = read or repeat_if_lost
        tries = _Tries()
        while True:
            try:
                response = self._send(method, path, json, params)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if self._repeat_lost(may_repeat, tries):
                    continue
                raise self._no_answer(path, exc, write=not read) from None
            status = response.status_code
            body = _json_object(response)
            if status < 300:
                return status, body
            if self._repeat_refused(method, path, response, body, may_repeat, tries):
                continue
            raise self.refusal(status, body or response.text[:200], path, outcome_unknown=not read and status >= 500)

    def refusal(self, status: int, body: object, path: str, *, outcome_unknown: bool = False) -> HubSpotError:
        """The :class:`HubSpotError` for HubSpot's error ``body`` (a whole answer, or one item of a 207)."""
        return error_from_body(status, body, url=self._where(path), token=self._token, outcome_unknown=outcome_unknown)

    def _send(
        self, method: str, path: str, json: Mapping[str, object] | None, params: Mapping[str, str | int] | None
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        return self.session.request(
            method, self.api_url + path, json=json, params=params, headers=headers, timeout=self.timeout
        )

    def _repeat_lost(self, may_repeat: bool, tries: _Tries) -> bool:
        tries.lost += 1
        if not may_repeat or tries.lost >= SERVER_ERROR_TRIES:
            return False
        index = min(tries.lost - 1, len(SERVER_ERROR_BACKOFF_SECONDS) - 1)
        self.sleep(SERVER_ERROR_BACKOFF_SECONDS[index])
        return True

    def _repeat_refused(
        self, method: str, path: str, response: requests.Response, body: Json, may_repeat: bool, tries: _Tries
    ) -> bool:
        status = response.status_code
        if status in RETRIABLE_STATUS:
            return self._repeat_lost(may_repeat, tries)
        if status not in NOT_APPLIED_STATUS:
            return False
        tries.rate_limited += 1
        wait = rate_limit_wait(status, response.headers, body)
        if wait is None or tries.rate_limited >= RATE_LIMIT_TRIES:
            return False
        log.warning("HubSpot %s on %s %s; waiting %.1f s", status, method, path, wait)
        self.sleep(wait)
        return True

    def _no_answer(self, path: str, exc: Exception, *, write: bool) -> HubSpotError:
        what = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
        message = f"{what} ({type(exc).__name__})"
        return HubSpotError(0, "NETWORK", message, url=self._where(path), outcome_unknown=write)

    def _where(self, path: str) -> str:
        return redact_url(self.api_url + path)


def rate_limit_wait(status: int, headers: Mapping[str, str], body: Json) -> float | None:
    """Seconds to wait before repeating a call HubSpot did not apply; None = do not repeat (daily limit)."""
    policy = str(body.get("policyName", "")).upper()
    if policy == "DAILY":
        return None
    wait = retry_after_seconds(headers.get("Retry-After"))
    if wait is None and headers.get("X-HubSpot-RateLimit-Remaining") == "0":
        wait = _interval_seconds(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds"))
    if wait is None:
        if status == 423:
            wait = LOCKED_WAIT_SECONDS
        elif policy == "SECONDLY":
            wait = RATE_LIMIT_SECONDLY_WAIT_SECONDS
        else:
            wait = RATE_LIMIT_DEFAULT_WAIT_SECONDS
    return max(0.0, min(wait, RATE_LIMIT_MAX_WAIT_SECONDS))


def _interval_seconds(value: str | None) -> float | None:
    try:
        return float(value) / 1000.0 if value else None
    except ValueError:
        return None


def _json_object(response: requests.Response) -> Json:
    """The answer's JSON object; {} when it is empty, not JSON, or not an object."""
    if not response.content:
        return {}
    try:
        parsed = response.json()
    except ValueError:
        return {}
    return dict(parsed) if isinstance(parsed, dict) else {}
