"""Airtable Web API client that lives within Airtable Free.

pyairtable does the requests; this module adds what a 1,000-calls-a-month workspace needs:

* every call is counted in the :class:`~integrations.ledger.CallLedger` (month of the injected
  clock's ``now``, base, kind);
* no call is sent once the allowance is spent, nor after Airtable's monthly block
  (``PUBLIC_API_BILLING_LIMIT_EXCEEDED``, never retried);
* at most 5 requests per base in any 1-second window (a sliding window on the injected clock,
  :class:`SlidingWindow`); ``RATE_LIMIT_REACHED`` waits the 30 s penalty and retries a bounded
  number of times;
* 5xx and lost answers are retried only for requests that are safe to repeat (reads, PATCH,
  DELETE) or that never reached Airtable (no connection could be made);
* every failure is one :class:`AirtableError` (a :class:`~integrations.errors.ServiceError`)
  with the HTTP status, Airtable's code and message; a create whose answer was lost carries
  ``outcome_unknown=True``.

The token never appears in an error or a log line.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import requests
from pyairtable import Api

from bases.records import Record
from integrations.errors import ServiceError
from integrations.http import LOST, Clock, never_sent, redact_url
from integrations.ledger import CallLedger

log = logging.getLogger(__name__)

REQUESTS_PER_SECOND = 5
RATE_WINDOW_SECONDS = 1.0
RATE_MARGIN_SECONDS = 0.001  # a send waits until the oldest of the window is this far out of it
RATE_LIMIT_PENALTY_SECONDS = 30.0
RATE_LIMIT_RETRIES = 2
SERVER_ERROR_RETRIES = 2
SERVER_ERROR_BACKOFF_SECONDS = (2.0, 8.0)
RETRIABLE_STATUS = (500, 502, 503, 504)
AMBIGUOUS_STATUS = (500, 502, 504)  # the request may have been applied before the failure
DEFAULT_TIMEOUT = (5, 30)
WRITE_BATCH = 10
PAGE_SIZE = 100
BILLING_LIMIT = "PUBLIC_API_BILLING_LIMIT_EXCEEDED"
ALLOWANCE_SPENT = "ALLOWANCE_SPENT"
RATE_LIMIT = "RATE_LIMIT_REACHED"

_BASE_RE = re.compile(r"/(app[A-Za-z0-9]+)")


class AirtableError(ServiceError):
    """An Airtable call failed: HTTP status (0 = no answer), Airtable's code, its message.

    ``retryable`` as for every service, except that the monthly block and a spent allowance
    are not (waiting a few seconds changes nothing before the 1st).
    """

    service: ClassVar[str] = "Airtable"
    permanent_codes: ClassVar[frozenset[str]] = frozenset({BILLING_LIMIT, ALLOWANCE_SPENT})


class BudgetExhausted(AirtableError):
    """No call may be sent this month: the allowance is spent or Airtable blocks the workspace."""


def parse_error_body(body: object) -> tuple[str, str]:
    """Airtable's error code and message from any of its three body shapes."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, str):
            return err, str(body.get("message", ""))
        if isinstance(err, dict):
            return str(err.get("type", "UNKNOWN")), str(err.get("message", ""))
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return str(first.get("error", first.get("type", "UNKNOWN"))), str(first.get("message", ""))
    return "UNKNOWN", ""


def error_from_response(response: requests.Response) -> AirtableError:
    try:
        code, message = parse_error_body(response.json())
    except ValueError:
        code, message = "UNKNOWN", response.text[:200]
    request = response.request
    method, url = (str(request.method or "GET"), str(request.url or "")) if request else ("GET", "")
    unknown = response.status_code in AMBIGUOUS_STATUS and not safe_to_repeat(method, url)
    cls = BudgetExhausted if code == BILLING_LIMIT else AirtableError
    return cls(response.status_code, code, message, url=redact_url(url), outcome_unknown=unknown)


def call_kind(method: str, url: str) -> str:
    """A short name for the kind of call, used by the ledger and `partnerops budget`."""
    path = url.split("?")[0]
    if "/webhooks" in path:
        return "webhook-poll" if path.endswith("/payloads") else "webhook"
    if "/meta/" in path:
        return "schema" if method == "GET" else "schema-write"
    if method == "GET" or path.endswith("/listRecords"):
        return "read"
    return {"POST": "create", "PATCH": "update", "PUT": "update", "DELETE": "delete"}.get(method, method.lower())


def safe_to_repeat(method: str, url: str) -> bool:
    """Reads, PATCH/PUT/DELETE and a webhook refresh: applying them twice is applying them once."""
    path = url.split("?")[0]
    return method in ("GET", "PATCH", "PUT", "DELETE") or path.endswith(("/listRecords", "/refresh"))


class SlidingWindow:
    """At most ``limit`` sends per key in any closed window of ``window`` seconds, on ``clock.time``.

    Airtable allows 5 requests per second per base: a send waits (``clock.sleep``) until the
    oldest of the key's last ``limit`` sends is more than ``window`` seconds old, then counts
    itself at the clock's time. One lock per key: callers on one base queue up, other bases
    are not held up. A clock whose ``sleep`` does not move ``time`` (a test's no-op sleep)
    still gets its send counted at the time it waited for, so a send never waits forever.
    """

    def __init__(self, clock: Clock, limit: int = REQUESTS_PER_SECOND, window: float = RATE_WINDOW_SECONDS) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self._sent: dict[str, deque[float]] = defaultdict(deque)
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def acquire(self, key: str) -> float:
        """Wait until one more send on ``key`` keeps every window within the limit; count it and
        return its time."""
        with self._guard:
            lock = self._locks[key]
        with lock:
            sent = self._sent[key]
            now = self.clock.time()
            wait = self._wait(sent, now)
            if wait > 0:
                self.clock.sleep(wait)
                now = max(self.clock.time(), now + wait)
            sent.append(now)
            return now

    def _wait(self, sent: deque[float], now: float) -> float:
        """Seconds until a send at ``now`` would leave at most ``limit`` sends in every window."""
        while sent and now - sent[0] > self.window:
            sent.popleft()
        if len(sent) < self.limit:
            return 0.0
        return sent[-self.limit] + self.window + RATE_MARGIN_SECONDS - now


@dataclass(frozen=True)
class _Call:
    method: str
    url: str
    base: str
    kind: str

    @classmethod
    def of(cls, method: str | bytes, url: str | bytes, purpose: str | None) -> _Call:
        method_s = method.decode() if isinstance(method, bytes) else str(method).upper()
        url_s = url.decode() if isinstance(url, bytes) else str(url)
        match = _BASE_RE.search(url_s.split("?")[0])
        base = match.group(1) if match else "meta"
        return cls(method_s, url_s, base, purpose or call_kind(method_s, url_s))

    @property
    def repeatable(self) -> bool:
        return safe_to_repeat(self.method, self.url)


@dataclass
class _Retries:
    """What is left of one call's retries."""

    rate: int = RATE_LIMIT_RETRIES
    server: int = SERVER_ERROR_RETRIES


class GuardedSession(requests.Session):
    """A requests session that counts, throttles and retries every Airtable call."""

    def __init__(self, ledger: CallLedger, allowance: int, clock: Clock) -> None:
        super().__init__()
        self.ledger = ledger
        self.allowance = allowance
        self.clock = clock
        self.purpose: str | None = None  # when set, the ledger files calls under it instead of their kind
        self.limiter = SlidingWindow(clock)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        call = _Call.of(method, url, self.purpose)
        left = _Retries()
        while True:
            self._before_send(call)
            try:
                response = super().request(call.method, call.url, *args, **kwargs)
            except LOST as exc:
                self._no_answer(call, exc, left)
                continue
            if not self._again(call, response, left):
                return response

    def _before_send(self, call: _Call) -> None:
        """Refuse when the month cannot afford it, wait for the base's window, then count it."""
        self._check_budget()
        self.limiter.acquire(call.base)
        self.ledger.record(self.clock.now(), call.base, call.kind)

    def _no_answer(self, call: _Call, exc: requests.RequestException, left: _Retries) -> None:
        """Back off for a retry when repeating is safe; otherwise raise (outcome unknown if it was sent)."""
        sent = not never_sent(exc)
        if left.server > 0 and (call.repeatable or not sent):
            self._backoff(left)
            return
        raise AirtableError(
            0,
            "NETWORK",
            f"no answer: {type(exc).__name__}",
            url=redact_url(call.url),
            outcome_unknown=sent and not call.repeatable,
        ) from None

    def _again(self, call: _Call, response: requests.Response, left: _Retries) -> bool:
        """Whether to send the call again after this answer (having waited); raises on a block."""
        if response.status_code == 429:
            return self._rate_limited(call, response, left)
        if response.status_code in RETRIABLE_STATUS and left.server > 0 and call.repeatable:
            self._backoff(left)
            return True
        return False

    def _rate_limited(self, call: _Call, response: requests.Response, left: _Retries) -> bool:
        err = error_from_response(response)
        if isinstance(err, BudgetExhausted):
            self.ledger.block(self.clock.now(), err.message)
            raise err
        if left.rate <= 0:
            raise err
        log.warning("Airtable rate limit on %s; waiting %.0f s", call.base, RATE_LIMIT_PENALTY_SECONDS)
        self.clock.sleep(RATE_LIMIT_PENALTY_SECONDS)
        left.rate -= 1
        return True

    def _check_budget(self) -> None:
        now = self.clock.now()
        reason = self.ledger.blocked(now)
        if reason is not None:
            raise BudgetExhausted(
                429, BILLING_LIMIT, f"Airtable blocks this workspace until the 1st of next month: {reason}"
            )
        used = self.ledger.used(now)
        if used >= self.allowance:
            raise BudgetExhausted(
                0,
                ALLOWANCE_SPENT,
                f"{used} of {self.allowance} Airtable calls used this month; no more calls until the 1st "
                "(raise AIRTABLE_MONTHLY_CALLS only if your plan allows more)",
            )

    def _backoff(self, left: _Retries) -> None:
        index = min(SERVER_ERROR_RETRIES - left.server, len(SERVER_ERROR_BACKOFF_SECONDS) - 1)
        left.server -= 1
        self.clock.sleep(SERVER_ERROR_BACKOFF_SECONDS[index])


class GuardedApi(Api):
    """pyairtable's Api over a :class:`GuardedSession`, raising :class:`AirtableError`."""

    def __init__(self, token: str, *, endpoint_url: str, session: GuardedSession, timeout: tuple[int, int]) -> None:
        super().__init__(token, timeout=timeout, retry_strategy=None, endpoint_url=endpoint_url.rstrip("/"))
        session.headers.update(self.session.headers)
        self.session = session

    def request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().request(*args, **kwargs)
        except requests.HTTPError as exc:
            if exc.response is None:
                raise AirtableError(0, "UNKNOWN", "no response") from None
            raise error_from_response(exc.response) from None


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def record_id_formula(ids: Iterable[str]) -> str:
    parts = [f"RECORD_ID()='{i}'" for i in ids]
    return parts[0] if len(parts) == 1 else f"OR({','.join(parts)})"


class AirtableClient:
    """The calls the jobs make, addressed by base *key* ("partners", "referrals", "circles")."""

    def __init__(
        self,
        token: str,
        base_ids: dict[str, str],
        *,
        ledger: CallLedger,
        allowance: int,
        api_url: str = "https://api.airtable.com",
        clock: Clock | None = None,
        timeout: tuple[int, int] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_ids = dict(base_ids)
        self.ledger = ledger
        self.clock = clock or Clock()
        self.session = GuardedSession(ledger, allowance, self.clock)
        self.api = GuardedApi(token, endpoint_url=api_url, session=self.session, timeout=timeout)
        self.endpoint = api_url.rstrip("/")

    def base_id(self, key: str) -> str:
        return self.base_ids[key]

    @contextmanager
    def counted_as(self, purpose: str) -> Iterator[None]:
        """File the calls made inside under ``purpose`` in the ledger (e.g. ``full-sync``)."""
        previous, self.session.purpose = self.session.purpose, purpose
        try:
            yield
        finally:
            self.session.purpose = previous

    def remaining(self) -> int:
        return max(0, self.session.allowance - self.ledger.used(self.clock.now()))

    def can_afford(self, calls: int) -> bool:
        return self.ledger.blocked(self.clock.now()) is None and calls <= self.remaining()

    # records ---------------------------------------------------------------------------------

    def list_records(
        self, key: str, table: str, *, fields: list[str] | None = None, formula: str | None = None
    ) -> list[Record]:
        options: dict[str, Any] = {"page_size": PAGE_SIZE}
        if fields is not None:
            options["fields"] = fields
        if formula:
            options["formula"] = formula
        out: list[Record] = []
        for page in self.api.table(self.base_id(key), table).iterate(**options):
            out.extend(Record.from_api(dict(r)) for r in page)
        return out

    def records_by_id(self, key: str, table: str, ids: list[str], *, fields: list[str] | None = None) -> list[Record]:
        """Read only these records: one call per 100 ids."""
        out: list[Record] = []
        for chunk in _chunks(sorted(set(ids)), PAGE_SIZE):
            out.extend(self.list_records(key, table, fields=fields, formula=record_id_formula(chunk)))
        return out

    def create(self, key: str, table: str, rows: list[dict[str, Any]]) -> list[Record]:
        tbl = self.api.table(self.base_id(key), table)
        out: list[Record] = []
        for chunk in _chunks(rows, WRITE_BATCH):
            out.extend(Record.from_api(dict(r)) for r in tbl.batch_create(chunk))
        return out

    def update(self, key: str, table: str, changes: list[tuple[str, dict[str, Any]]]) -> list[Record]:
        """PATCH only the given cells, 10 records a call."""
        tbl = self.api.table(self.base_id(key), table)
        out: list[Record] = []
        for chunk in _chunks(changes, WRITE_BATCH):
            payload: list[Any] = [{"id": rid, "fields": fields} for rid, fields in chunk]
            out.extend(Record.from_api(dict(r)) for r in tbl.batch_update(payload))
        return out

    def upsert(self, key: str, table: str, rows: list[dict[str, Any]], merge_on: list[str]) -> list[Record]:
        """Create or update by the ``merge_on`` fields, 10 a call: safe to repeat."""
        tbl = self.api.table(self.base_id(key), table)
        out: list[Record] = []
        for chunk in _chunks(rows, WRITE_BATCH):
            answer = tbl.batch_upsert([{"fields": r} for r in chunk], key_fields=merge_on)
            out.extend(Record.from_api(dict(r)) for r in answer["records"])
        return out

    def delete(self, key: str, table: str, ids: list[str]) -> None:
        tbl = self.api.table(self.base_id(key), table)
        for chunk in _chunks(ids, WRITE_BATCH):
            tbl.batch_delete(chunk)

    # metadata --------------------------------------------------------------------------------

    def schema(self, key: str) -> dict[str, Any]:
        """The live base schema: {"tables": [{"id", "name", "fields": [...]}, ...]} (1 call)."""
        url = f"{self.endpoint}/v0/meta/bases/{self.base_id(key)}/tables"
        return dict(self.api.request("GET", url))

    def list_bases(self) -> list[dict[str, Any]]:
        return list(self.api.request("GET", f"{self.endpoint}/v0/meta/bases").get("bases", []))

    def create_base(self, workspace_id: str, name: str, tables: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"name": name, "workspaceId": workspace_id, "tables": tables}
        return dict(self.api.request("POST", f"{self.endpoint}/v0/meta/bases", json=body))

    def create_field(self, base_id: str, table_id: str, field: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.endpoint}/v0/meta/bases/{base_id}/tables/{table_id}/fields"
        return dict(self.api.request("POST", url, json=field))

    # webhooks as a polled change feed --------------------------------------------------------

    def _hooks_url(self, key: str) -> str:
        return f"{self.endpoint}/v0/bases/{self.base_id(key)}/webhooks"

    def list_webhooks(self, key: str) -> list[dict[str, Any]]:
        return list(self.api.request("GET", self._hooks_url(key)).get("webhooks", []))

    def create_webhook(self, key: str, specification: dict[str, Any]) -> dict[str, Any]:
        body = {"notificationUrl": None, "specification": specification}
        return dict(self.api.request("POST", self._hooks_url(key), json=body))

    def delete_webhook(self, key: str, webhook_id: str) -> None:
        self.api.request("DELETE", f"{self._hooks_url(key)}/{webhook_id}")

    def webhook_payloads(self, key: str, webhook_id: str, cursor: int) -> dict[str, Any]:
        """One page (≤50) of payloads from ``cursor``: {"payloads", "cursor", "mightHaveMore"}."""
        url = f"{self._hooks_url(key)}/{webhook_id}/payloads"
        return dict(self.api.request("GET", url, params={"cursor": cursor}))
