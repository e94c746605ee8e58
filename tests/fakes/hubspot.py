"""A fake HubSpot CRM API (free tier) served over real HTTP on loopback, for tests.

Serves both path families with the same handlers: legacy (``/crm/v3/objects``, ``/crm/v3/properties``,
``/crm/v3/pipelines``, ``/crm/v4/associations``, ``/crm/v4/objects/.../associations``,
``/account-info/v3``) and dated (``/crm/objects/2026-09``, ``/crm/properties/2026-09``,
``/crm/pipelines/2026-09``, ``/crm/associations/2026-09``, ``/account-info/2026-09``). Every
request body is checked against HubSpot's published request schema for its version (see
:mod:`tests.fakes.hubspot_schemas`) and refused with HubSpot's 400 VALIDATION_ERROR answer.
Enforces the Bearer token, unique property values, duplicate contact e-mails (409 "Existing ID:
N"), batch size ≤100, 207 partial results, search filters/sorts/paging and the 10,000 result cap,
deal currencies among the account's. Controls: ``deals()``, ``contacts()``, ``add_object``,
``associate``, ``set_stage``, ``calls``, ``fail_next`` (before or after applying, or dropping
the connection), ``company_currency``. Standard library only.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.hubspot_schemas import Problem, check_body

Json = dict[str, Any]

BATCH_LIMIT = 100
SEARCH_PAGE_LIMIT = 200
SEARCH_RESULT_CAP = 10_000
SEARCH_MAX_GROUPS = 5
SEARCH_MAX_FILTERS_PER_GROUP = 6
SEARCH_MAX_FILTERS = 18
DATED_VERSIONS = ("2026-03", "2026-09")
DEFAULT_START = datetime(2026, 11, 1, 10, 0, 0, tzinfo=timezone.utc)
FAMILIES = ("objects", "properties", "pipelines", "associations")

_PATH_RE = re.compile(
    r"^/crm/(?:(?P<legacy>v3|v4)/(?P<lfam>objects|properties|pipelines|associations)"
    r"|(?P<dfam>objects|properties|pipelines|associations)/(?P<date>\d{4}-\d{2}))(?:/(?P<rest>.*))?$"
)
_ACCOUNT_RE = re.compile(r"^/account-info/(?P<version>v3|\d{4}-\d{2})/(?P<rest>.*)$")
_TYPES = {
    "deal": "deals",
    "deals": "deals",
    "0-3": "deals",
    "contact": "contacts",
    "contacts": "contacts",
    "0-1": "contacts",
    "company": "companies",
    "companies": "companies",
    "0-2": "companies",
}
_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3"}
_DEFAULT_ASSOC_TYPE = {("deals", "contacts"): 3, ("contacts", "deals"): 4, ("deals", "companies"): 341}
_DATE_PROPS = {"hs_lastmodifieddate", "createdate", "closedate", "lastmodifieddate"}
_READ_ONLY = {"hs_object_id", "hs_lastmodifieddate", "createdate", "lastmodifieddate"}
_BASE_PROPERTIES: dict[str, list[tuple[str, str]]] = {
    "deals": [
        ("dealname", "string"),
        ("dealstage", "enumeration"),
        ("pipeline", "enumeration"),
        ("amount", "number"),
        ("deal_currency_code", "enumeration"),
        ("closedate", "datetime"),
        ("description", "string"),
    ],
    "contacts": [
        ("email", "string"),
        ("firstname", "string"),
        ("lastname", "string"),
        ("company", "string"),
        ("phone", "string"),
    ],
    "companies": [("name", "string"), ("domain", "string")],
}
_BUILTIN = [("hs_object_id", "number"), ("createdate", "datetime"), ("hs_lastmodifieddate", "datetime")]
DEFAULT_STAGES: list[tuple[str, str, str, str]] = [
    ("appointmentscheduled", "Appointment Scheduled", "false", "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", "false", "0.4"),
    ("presentationscheduled", "Presentation Scheduled", "false", "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "false", "0.8"),
    ("contractsent", "Contract Sent", "false", "0.9"),
    ("closedwon", "Closed Won", "true", "1.0"),
    ("closedlost", "Closed Lost", "true", "0.0"),
]
MSG_AUTH = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
RATE_LIMIT_BODY: Json = {
    "status": "error",
    "message": "You have reached your ten_secondly_rolling limit.",
    "errorType": "RATE_LIMIT",
    "category": "RATE_LIMITS",
    "policyName": "TEN_SECONDLY_ROLLING",
}
RATE_LIMIT_HEADERS = {
    "Retry-After": "1",
    "X-HubSpot-RateLimit-Max": "100",
    "X-HubSpot-RateLimit-Remaining": "0",
    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
}


class ManualClock:
    """Controllable ``now``: ``advance`` moves it; every write stamps ``hs_lastmodifieddate`` with it."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> datetime:
        self.current += timedelta(seconds=seconds)
        return self.current


class ApiError(Exception):
    def __init__(self, status: int, category: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: Json = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        }


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _to_ms(value: Any) -> float | None:
    if value is None or value == "":
        return None
    text = str(value)
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return None


@dataclass
class _Object:
    id: str
    type: str
    properties: dict[str, str]
    created: datetime
    updated: datetime

    def model(self, names: list[str] | None = None, *, new: bool | None = None) -> Json:
        base = ["hs_object_id", "createdate", "hs_lastmodifieddate"]
        wanted = list(dict.fromkeys([*(names or []), *base])) if names is not None else list(self.properties)
        props = {n: self.properties.get(n) for n in wanted}
        body: Json = {
            "id": self.id,
            "properties": props,
            "createdAt": _iso(self.created),
            "updatedAt": _iso(self.updated),
            "archived": False,
        }
        if new is not None:
            body["new"] = new
        return body


@dataclass
class _Fault:
    path_contains: str
    status: int
    body: Json | None
    headers: dict[str, str]
    after_apply: bool
    drop: bool
    method: str | None
    times: int


@dataclass
class _Call:
    method: str
    path: str
    status: int
    body: Any = field(default=None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeHubSpot) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet."""

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        outcome = self.server.fake._serve(self.command, self.path, self.headers.get("Authorization"), raw)
        if outcome is None:
            self.close_connection = True
            return
        status, body, headers = outcome
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class FakeHubSpot:
    """Fake HubSpot server; see the module docstring."""

    def __init__(
        self,
        token: str = "pat-na1-fake",
        *,
        now: Callable[[], datetime] | None = None,
        scopes: set[str] | None = None,
        search_cap: int = SEARCH_RESULT_CAP,
        company_currency: str = "USD",
        additional_currencies: tuple[str, ...] = (),
    ) -> None:
        self.token = token
        self.company_currency = company_currency
        self.additional_currencies = list(additional_currencies)
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(timezone.utc))
        self.scopes = scopes  # None = every scope granted
        self.search_cap = search_cap
        self.url = ""
        self.requests: list[_Call] = []
        self._lock = threading.RLock()
        self._next_id = 1000
        self._objects: dict[str, dict[str, _Object]] = {t: {} for t in _TYPE_IDS}
        self._properties: dict[str, dict[str, Json]] = {t: {} for t in _TYPE_IDS}
        self._groups: dict[str, dict[str, Json]] = {t: {} for t in _TYPE_IDS}
        self._associations: set[tuple[str, str, str, str]] = set()
        self._faults: list[_Fault] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        for object_type, props in _BASE_PROPERTIES.items():
            group = f"{object_type[:-1]}information"
            self._groups[object_type][group] = {"name": group, "label": group, "displayOrder": -1, "archived": False}
            for name, kind in [*props, *_BUILTIN]:
                self._properties[object_type][name] = self._property_model(
                    {"name": name, "label": name, "type": kind, "fieldType": "text", "groupName": group},
                    hubspot_defined=True,
                )
        self._properties["contacts"]["email"]["hasUniqueValue"] = False  # unique in practice, handled apart
        self.pipelines: list[Json] = [self._pipeline("default", "Sales Pipeline", 0, DEFAULT_STAGES)]

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeHubSpot:
        if self._server is None:
            self._server = _Server(self)
            self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-hubspot", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeHubSpot:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- controls

    def deals(self) -> list[Json]:
        with self._lock:
            return [o.model() for o in self._objects["deals"].values()]

    def contacts(self) -> list[Json]:
        with self._lock:
            return [o.model() for o in self._objects["contacts"].values()]

    def companies(self) -> list[Json]:
        with self._lock:
            return [o.model() for o in self._objects["companies"].values()]

    def deal_properties(self) -> dict[str, Json]:
        with self._lock:
            return {k: dict(v) for k, v in self._properties["deals"].items()}

    def add_object(self, object_type: str, properties: dict[str, Any]) -> str:
        """Create a record as a HubSpot user would (no API call, no checks)."""
        with self._lock:
            return self._create(_TYPES[object_type], {k: str(v) for k, v in properties.items()}).id

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        with self._lock:
            self._link(_TYPES[from_type], from_id, _TYPES[to_type], to_id)

    def associations(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        f, t = _TYPES[from_type], _TYPES[to_type]
        with self._lock:
            return sorted(a[3] for a in self._associations if a[0] == f and a[1] == from_id and a[2] == t)

    def set_stage(
        self, deal_id: str, stage_id: str, amount: float | str | None = None, currency: str | None = None
    ) -> None:
        """Move a deal as a salesperson would (optionally its amount and currency); bumps ``hs_lastmodifieddate``."""
        with self._lock:
            deal = self._objects["deals"][deal_id]
            deal.properties["dealstage"] = stage_id
            if amount is not None:
                deal.properties["amount"] = str(amount)
            if currency is not None:
                deal.properties["deal_currency_code"] = currency
            self._touch(deal)

    def calls(self, path_contains: str = "", method: str | None = None) -> int:
        with self._lock:
            return sum(
                1 for c in self.requests if path_contains in c.path and (method is None or c.method == method.upper())
            )

    def reset_calls(self) -> None:
        with self._lock:
            self.requests.clear()

    def fail_next(
        self,
        path_contains: str,
        status: int,
        body: Json | None = None,
        headers: dict[str, str] | None = None,
        after_apply: bool = False,
        drop: bool = False,
        *,
        method: str | None = None,
        times: int = 1,
    ) -> None:
        """The next matching call(s) answer ``status`` (before or after applying it), or get no answer (drop)."""
        if headers is None:
            headers = dict(RATE_LIMIT_HEADERS) if status == 429 else {}
        with self._lock:
            self._faults.append(_Fault(path_contains, status, body, headers, after_apply, drop, method, times))

    # ---------------------------------------------------------------- request flow

    def _serve(self, method: str, target: str, auth: str | None, raw: bytes) -> tuple[int, Any, dict[str, str]] | None:
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        with self._lock:
            fault = self._take_fault(method, path)
            if fault is not None and not fault.after_apply:
                return self._answer_fault(method, path, fault)
            try:
                if auth != f"Bearer {self.token}":
                    raise ApiError(401, "INVALID_AUTHENTICATION", MSG_AUTH)
                body = json.loads(raw) if raw else {}
                status, answer = self._route(method, path, query, body, raw)
            except ApiError as exc:
                status, answer = exc.status, exc.body
            except (ValueError, KeyError, TypeError) as exc:
                status, answer = 400, ApiError(400, "VALIDATION_ERROR", f"Invalid input JSON: {exc}").body
            if fault is not None:  # applied, but the answer is the fault's (or none)
                return self._answer_fault(method, path, fault)
            self.requests.append(_Call(method, path, status, answer))
            headers = {} if path.endswith("/search") else self._rate_headers()
            return status, answer, headers

    def _rate_headers(self) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Max": "100",
            "X-HubSpot-RateLimit-Remaining": "99",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Daily": "250000",
            "X-HubSpot-RateLimit-Daily-Remaining": "249999",
        }

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.path_contains in path and (fault.method is None or fault.method == method):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _answer_fault(self, method: str, path: str, fault: _Fault) -> tuple[int, Any, dict[str, str]] | None:
        self.requests.append(_Call(method, path, 0 if fault.drop else fault.status))
        if fault.drop:
            return None
        body = fault.body
        if body is None:
            if fault.status == 429:
                body = dict(RATE_LIMIT_BODY)
            else:
                body = {"status": "error", "message": "Injected failure", "category": "UNKNOWN"}
            body["correlationId"] = str(uuid.uuid4())
        return fault.status, body, dict(fault.headers)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any, raw: bytes) -> tuple[int, Any]:
        account = _ACCOUNT_RE.match(path)
        if account is not None:
            return self._account_route(method, account.group("version"), account.group("rest"), raw)
        match = _PATH_RE.match(path)
        if match is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unknown path {path}")
        family = match.group("lfam") or match.group("dfam")
        legacy, date = match.group("legacy"), match.group("date")
        if date is not None and date not in DATED_VERSIONS:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unknown API version {date}")
        segs = [s for s in (match.group("rest") or "").split("/") if s]
        if legacy == "v4" and family not in ("associations", "objects"):
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unknown path {path}")
        if legacy == "v3" and family == "associations":
            raise ApiError(404, "OBJECT_NOT_FOUND", "use /crm/v4/associations")
        if legacy == "v4" and family == "objects" and "associations" not in segs:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unknown path {path}")
        if not segs:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unknown path {path}")
        object_type = _TYPES.get(segs[0])
        if object_type is None:
            raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {segs[0]}")
        self._check_scope(family, object_type, method, segs[1:])
        problems = check_body(family, method, segs[1:], raw, body, dated=date is not None)
        if problems:
            raise _invalid(problems)
        if family == "objects":
            return self._objects_route(method, object_type, segs[1:], query, body)
        if family == "properties":
            return self._properties_route(method, object_type, segs[1:], body)
        if family == "pipelines":
            return self._pipelines_route(method, object_type, segs[1:])
        return self._associations_route(method, object_type, segs[1:], body)

    def _account_route(self, method: str, version: str, rest: str, raw: bytes) -> tuple[int, Any]:
        if method != "GET" or rest != "details":
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unknown account-info path {rest} ({method})")
        if version != "v3" and version not in DATED_VERSIONS:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unknown API version {version}")
        if raw.strip():
            raise _invalid([Problem("", "UNEXPECTED_BODY", "this call takes no request body")])
        return 200, {
            "portalId": 1234567,
            "accountType": "STANDARD",
            "timeZone": "Europe/Berlin",
            "companyCurrency": self.company_currency,
            "additionalCurrencies": list(self.additional_currencies),
            "utcOffset": "+01:00",
            "utcOffsetMilliseconds": 3_600_000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }

    def _check_scope(self, family: str, object_type: str, method: str, segs: list[str]) -> None:
        if self.scopes is None:
            return
        reading = method == "GET" or (method == "POST" and bool(segs) and segs[-1] in ("search", "read"))
        kind = "schemas" if family == "properties" else "objects"
        needed = f"crm.{kind}.{object_type}.{'read' if reading else 'write'}"
        if needed not in self.scopes:
            raise ApiError(
                403,
                "MISSING_SCOPES",
                "This app hasn't been granted all required scopes to make this call. Read more about required "
                "scopes here: https://developers.hubspot.com/scopes.",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": [needed]},
                    }
                ],
                links={"scopes": "https://developers.hubspot.com/scopes"},
            )

    # ---------------------------------------------------------------- objects

    def _objects_route(
        self, method: str, object_type: str, segs: list[str], query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        if not segs:
            if method == "GET":
                limit = int((query.get("limit") or ["10"])[0])
                items = list(self._objects[object_type].values())[:limit]
                return 200, {"results": [o.model() for o in items]}
            if method == "POST":
                return 201, self._create_one(object_type, body).model()
        elif segs == ["batch", "create"] and method == "POST":
            return self._batch_create(object_type, body)
        elif segs == ["batch", "upsert"] and method == "POST":
            return self._batch_upsert(object_type, body, query)
        elif segs == ["batch", "read"] and method == "POST":
            return self._batch_read(object_type, body)
        elif segs == ["search"] and method == "POST":
            return 200, self._search(object_type, body)
        elif len(segs) == 1 and method == "GET":
            return 200, self._get_object(object_type, segs[0]).model()
        elif len(segs) == 5 and segs[1] == "associations" and segs[2] == "default" and method == "PUT":
            to_type = _TYPES.get(segs[3])
            if to_type is None:
                raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {segs[3]}")
            self._get_object(object_type, segs[0])
            self._get_object(to_type, segs[4])
            self._link(object_type, segs[0], to_type, segs[4])
            return 200, {
                "status": "COMPLETE",
                "results": [self._assoc_model(object_type, segs[0], to_type, segs[4])],
            }
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Unknown objects path {'/'.join(segs)} ({method})")

    def _inputs(self, body: Any) -> list[Json]:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise ApiError(400, "VALIDATION_ERROR", "Invalid input JSON: 'inputs' is required")
        if len(inputs) > BATCH_LIMIT:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                f"Batch input limit exceeded. Provided: {len(inputs)}, limit: {BATCH_LIMIT}",
                context={"limit": [str(BATCH_LIMIT)]},
            )
        return [i for i in inputs if isinstance(i, dict)]

    def _get_object(self, object_type: str, object_id: str) -> _Object:
        obj = self._objects[object_type].get(object_id)
        if obj is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Object not found.  objectId are usually numeric. ({object_id})")
        return obj

    def _validate_props(self, object_type: str, props: Any, *, creating: bool) -> dict[str, str]:
        if not isinstance(props, dict):
            raise ApiError(400, "VALIDATION_ERROR", "properties must be an object")
        unknown = sorted(n for n in props if n not in self._properties[object_type])
        if unknown:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                f"Property values were not valid: {unknown}",
                errors=[
                    {
                        "message": f'Property "{n}" does not exist',
                        "code": "PROPERTY_DOESNT_EXIST",
                        "context": {"propertyName": [n]},
                    }
                    for n in unknown
                ],
            )
        clean = {k: "" if v is None else str(v) for k, v in props.items() if k not in _READ_ONLY}
        if object_type == "deals" and creating:
            missing = [n for n in ("dealname", "dealstage", "pipeline") if not clean.get(n)]
            if missing:
                raise ApiError(400, "VALIDATION_ERROR", f"Required properties missing: {missing}")
        if object_type == "deals" and "dealstage" in clean:
            pipeline = clean.get("pipeline")
            stages = {s["id"] for p in self.pipelines if pipeline in (None, p["id"]) for s in p["stages"]}
            if clean["dealstage"] not in stages:
                raise ApiError(
                    400,
                    "VALIDATION_ERROR",
                    f"Property values were not valid: dealstage {clean['dealstage']!r} is not a valid stage",
                    errors=[{"message": "invalid option", "code": "INVALID_OPTION", "context": {}}],
                )
        currency = clean.get("deal_currency_code") if object_type == "deals" else None
        if currency and currency not in [self.company_currency, *self.additional_currencies]:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                f"Property values were not valid: {currency!r} is not one of the account's currencies",
                errors=[{"message": "invalid option", "code": "INVALID_OPTION", "context": {}}],
            )
        return clean

    def _unique_conflict(self, object_type: str, props: dict[str, str], own_id: str | None) -> ApiError | None:
        for name, value in props.items():
            definition = self._properties[object_type].get(name, {})
            unique = definition.get("hasUniqueValue") or (object_type == "contacts" and name == "email")
            if not unique or value == "":
                continue
            for other in self._objects[object_type].values():
                if other.id != own_id and other.properties.get(name, "").lower() == value.lower():
                    if object_type == "contacts" and name == "email":
                        return ApiError(409, "CONFLICT", f"Contact already exists. Existing ID: {other.id}")
                    return ApiError(
                        409,
                        "CONFLICT",
                        f"{other.id} already has that value for unique property {name}",
                        context={"propertyName": [name], "existingId": [other.id]},
                    )
        return None

    def _create_one(self, object_type: str, body: Any) -> _Object:
        props = self._validate_props(object_type, (body or {}).get("properties", {}), creating=True)
        conflict = self._unique_conflict(object_type, props, None)
        if conflict is not None:
            raise conflict
        obj = self._create(object_type, props)
        for assoc in (body or {}).get("associations") or []:
            to_id = str(assoc["to"]["id"])
            for other_type, objects in self._objects.items():
                if to_id in objects:
                    self._link(object_type, obj.id, other_type, to_id)
        return obj

    def _batch_create(self, object_type: str, body: Any) -> tuple[int, Any]:
        inputs = self._inputs(body)
        traces = [i.get("objectWriteTraceId") for i in inputs]
        multi = all(traces) and len(set(traces)) == len(traces)
        started = _iso(self.now())
        results, errors = [], []
        for item in inputs:
            try:
                results.append(self._create_one(object_type, item).model(list(item.get("properties", {}))))
            except ApiError as exc:
                if not multi:
                    raise
                err = dict(exc.body)
                err["context"] = {**err.get("context", {}), "objectWriteTraceId": [item["objectWriteTraceId"]]}
                errors.append(err)
        return self._batch_answer(results, errors, started, ok_status=201)

    def _batch_answer(
        self, results: list[Json], errors: list[Json], started: str, *, ok_status: int
    ) -> tuple[int, Json]:
        answer: Json = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _iso(self.now())}
        if errors:
            answer["errors"] = errors
            answer["numErrors"] = len(errors)
            return 207, answer
        return ok_status, answer

    def _batch_upsert(self, object_type: str, body: Any, query: dict[str, list[str]]) -> tuple[int, Any]:
        inputs = self._inputs(body)
        default_id_prop = (query.get("idProperty") or [""])[0]
        keys: list[tuple[str, str]] = []
        for item in inputs:
            id_prop = item.get("idProperty") or default_id_prop
            if not id_prop or "id" not in item or "properties" not in item:
                raise ApiError(
                    400, "VALIDATION_ERROR", "Invalid input JSON: id, idProperty and properties are required"
                )
            definition = self._properties[object_type].get(id_prop)
            unique = (definition or {}).get("hasUniqueValue") or (object_type == "contacts" and id_prop == "email")
            if not unique:
                type_id = _TYPE_IDS[object_type]
                raise ApiError(
                    400,
                    "VALIDATION_ERROR",
                    f"Unable to perform update/upsert by non-unique {type_id} property {id_prop}",
                )
            keys.append((id_prop, str(item["id"]).lower()))
        if len(set(keys)) != len(keys):
            raise ApiError(
                400, "VALIDATION_ERROR", "Duplicate IDs found in batch input: two inputs resolve to one record"
            )
        started = _iso(self.now())
        results, errors = [], []
        for item, (id_prop, key) in zip(inputs, keys, strict=True):
            existing = next(
                (o for o in self._objects[object_type].values() if o.properties.get(id_prop, "").lower() == key), None
            )
            try:
                props = self._validate_props(
                    object_type, {**item["properties"], id_prop: str(item["id"])}, creating=existing is None
                )
                conflict = self._unique_conflict(object_type, props, existing.id if existing else None)
                if conflict is not None:
                    raise conflict
            except ApiError as exc:
                err = dict(exc.body)
                context = {**err.get("context", {}), "ids": [str(item["id"])]}
                if item.get("objectWriteTraceId"):
                    context["objectWriteTraceId"] = [item["objectWriteTraceId"]]
                err["context"] = context
                errors.append(err)
                continue
            if existing is None:
                obj, new = self._create(object_type, props), True
            else:
                existing.properties.update(props)
                self._touch(existing)
                obj, new = existing, False
            model = obj.model([*item["properties"], id_prop], new=new)
            if item.get("objectWriteTraceId"):
                model["objectWriteTraceId"] = item["objectWriteTraceId"]
            results.append(model)
        return self._batch_answer(results, errors, started, ok_status=200)

    def _batch_read(self, object_type: str, body: Any) -> tuple[int, Any]:
        inputs = self._inputs(body)
        id_prop = body.get("idProperty")
        names = list(body.get("properties") or [])
        started = _iso(self.now())
        results, missing = [], []
        for item in inputs:
            wanted = str(item.get("id"))
            if id_prop:
                obj = next(
                    (o for o in self._objects[object_type].values() if o.properties.get(id_prop) == wanted), None
                )
            else:
                obj = self._objects[object_type].get(wanted)
            if obj is None:
                missing.append(wanted)
            else:
                results.append(obj.model(names))
        if missing and not results:
            raise ApiError(404, "OBJECT_NOT_FOUND", "Could not get some objects, they may be deleted or not exist.")
        errors = []
        if missing:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some objects, they may be deleted or not exist.",
                    "context": {"ids": missing},
                }
            )
        return self._batch_answer(results, errors, started, ok_status=200)

    # ---------------------------------------------------------------- search

    def _search(self, object_type: str, body: Any) -> Json:
        if len(json.dumps(body)) > 3000:
            raise ApiError(400, "VALIDATION_ERROR", "Search request body is larger than 3000 characters")
        groups = body.get("filterGroups") or []
        if len(groups) > SEARCH_MAX_GROUPS or any(
            len(g.get("filters") or []) > SEARCH_MAX_FILTERS_PER_GROUP for g in groups
        ):
            raise ApiError(400, "VALIDATION_ERROR", "Too many filter groups or filters")
        if sum(len(g.get("filters") or []) for g in groups) > SEARCH_MAX_FILTERS:
            raise ApiError(400, "VALIDATION_ERROR", "Too many filters")
        limit = int(body.get("limit", 10))
        if limit > SEARCH_PAGE_LIMIT or limit < 0:
            raise ApiError(400, "VALIDATION_ERROR", f"limit must be at most {SEARCH_PAGE_LIMIT}")
        after = int(body.get("after") or 0)
        if after >= self.search_cap:
            raise ApiError(400, "VALIDATION_ERROR", f"Paging past {self.search_cap} results is not allowed")
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            raise ApiError(400, "VALIDATION_ERROR", "Only one sort is supported")
        for group in groups:
            for flt in group.get("filters") or []:
                name = str(flt.get("propertyName", ""))
                if not name.startswith("associations.") and name not in self._properties[object_type]:
                    raise ApiError(400, "VALIDATION_ERROR", f"There was a problem with the request: {name} unknown")
        matched = [
            o for o in self._objects[object_type].values() if not groups or any(self._matches(o, g) for g in groups)
        ]
        if sorts:
            sort = sorts[0]
            name = sort["propertyName"] if isinstance(sort, dict) else str(sort)
            descending = isinstance(sort, dict) and sort.get("direction") == "DESCENDING"
            matched.sort(key=lambda o: (_sort_key(name, o.properties.get(name)), int(o.id)), reverse=descending)
        else:
            matched.sort(key=lambda o: int(o.id))
        page = matched[after : after + limit]
        names = list(body.get("properties") or [])
        answer: Json = {"total": len(matched), "results": [o.model(names) for o in page]}
        if after + limit < len(matched):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return answer

    def _matches(self, obj: _Object, group: Json) -> bool:
        return all(self._filter(obj, f) for f in group.get("filters") or [])

    def _filter(self, obj: _Object, flt: Json) -> bool:
        name, op = str(flt.get("propertyName")), str(flt.get("operator", "EQ"))
        if name.startswith("associations."):
            other = _TYPES.get(name.split(".", 1)[1], "")
            linked = {a[3] for a in self._associations if a[0] == obj.type and a[1] == obj.id and a[2] == other}
            return str(flt.get("value")) in linked if op == "EQ" else str(flt.get("value")) not in linked
        actual = obj.properties.get(name, "")
        if op == "HAS_PROPERTY":
            return actual != ""
        if op == "NOT_HAS_PROPERTY":
            return actual == ""
        if op in ("IN", "NOT_IN"):
            values = {str(v).lower() for v in flt.get("values") or []}
            return (actual.lower() in values) == (op == "IN")
        value = flt.get("value")
        if op in ("EQ", "NEQ"):
            equal = _compare(name, actual, value) == 0
            return equal if op == "EQ" else not equal
        if actual == "":
            return False
        cmp = _compare(name, actual, value)
        if op == "BETWEEN":
            return cmp >= 0 and _compare(name, actual, flt.get("highValue")) <= 0
        return {"GT": cmp > 0, "GTE": cmp >= 0, "LT": cmp < 0, "LTE": cmp <= 0}.get(op, False)

    # ---------------------------------------------------------------- properties & pipelines

    def _property_model(self, body: Json, *, hubspot_defined: bool = False) -> Json:
        stamp = _iso(DEFAULT_START)
        return {
            "name": body["name"],
            "label": body["label"],
            "type": body["type"],
            "fieldType": body["fieldType"],
            "groupName": body["groupName"],
            "description": body.get("description", ""),
            "options": body.get("options", []),
            "displayOrder": body.get("displayOrder", -1),
            "hasUniqueValue": bool(body.get("hasUniqueValue", False)),
            "hidden": False,
            "formField": bool(body.get("formField", False)),
            "hubspotDefined": hubspot_defined,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }

    def _properties_route(self, method: str, object_type: str, segs: list[str], body: Any) -> tuple[int, Any]:
        props, groups = self._properties[object_type], self._groups[object_type]
        if not segs and method == "GET":
            return 200, {"results": [dict(p) for p in props.values()]}
        if not segs and method == "POST":
            name = str(body["name"])
            if name in props:
                raise ApiError(409, "CONFLICT", f"Property named '{name}' already exists.")
            if body["groupName"] not in groups:
                raise ApiError(400, "VALIDATION_ERROR", f"property group {body['groupName']} does not exist")
            if body.get("hasUniqueValue") and sum(1 for p in props.values() if p["hasUniqueValue"]) >= 10:
                raise ApiError(400, "VALIDATION_ERROR", "You can have up to ten unique ID properties per object")
            props[name] = self._property_model(body)
            return 201, dict(props[name])
        if segs == ["groups"] and method == "GET":
            return 200, {"results": [dict(g) for g in groups.values()]}
        if segs == ["groups"] and method == "POST":
            name = str(body["name"])
            if name in groups:
                raise ApiError(409, "CONFLICT", f"A property group named '{name}' already exists.")
            groups[name] = {"name": name, "label": body["label"], "displayOrder": body.get("displayOrder", -1)}
            groups[name]["archived"] = False
            return 201, dict(groups[name])
        if len(segs) == 1 and method == "GET":
            if segs[0] not in props:
                raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property {segs[0]}")
            return 200, dict(props[segs[0]])
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Unknown properties path {'/'.join(segs)} ({method})")

    def _pipeline(self, pid: str, label: str, order: int, stages: list[tuple[str, str, str, str]]) -> Json:
        stamp = _iso(DEFAULT_START)
        return {
            "id": pid,
            "label": label,
            "displayOrder": order,
            "archived": False,
            "createdAt": stamp,
            "updatedAt": stamp,
            "stages": [
                {
                    "id": sid,
                    "label": slabel,
                    "displayOrder": i,
                    "metadata": {"isClosed": closed, "probability": prob},
                    "archived": False,
                    "createdAt": stamp,
                    "updatedAt": stamp,
                    "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                }
                for i, (sid, slabel, closed, prob) in enumerate(stages)
            ],
        }

    def _pipelines_route(self, method: str, object_type: str, segs: list[str]) -> tuple[int, Any]:
        if object_type != "deals" or method != "GET":
            raise ApiError(404, "OBJECT_NOT_FOUND", "only deal pipelines are served")
        if not segs:
            return 200, {"results": json.loads(json.dumps(self.pipelines))}
        for pipeline in self.pipelines:
            if pipeline["id"] == segs[0]:
                return 200, json.loads(json.dumps(pipeline))
        raise ApiError(404, "OBJECT_NOT_FOUND", f"pipeline {segs[0]} not found")

    # ---------------------------------------------------------------- associations

    def _associations_route(self, method: str, from_type: str, segs: list[str], body: Any) -> tuple[int, Any]:
        if len(segs) < 3 or method != "POST" or segs[1] != "batch":
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unknown associations path {'/'.join(segs)}")
        to_type = _TYPES.get(segs[0])
        if to_type is None:
            raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {segs[0]}")
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise ApiError(400, "VALIDATION_ERROR", "Invalid input JSON: 'inputs' is required")
        started = _iso(self.now())
        action = "/".join(segs[2:])
        if action in ("associate/default", "create"):
            results = []
            for item in inputs:
                from_id, to_id = str(item["from"]["id"]), str(item["to"]["id"])
                self._get_object(from_type, from_id)
                self._get_object(to_type, to_id)
                self._link(from_type, from_id, to_type, to_id)
                results.append(self._assoc_model(from_type, from_id, to_type, to_id))
            return self._batch_answer(results, [], started, ok_status=200 if action == "associate/default" else 201)
        if action == "read":
            if len(inputs) > 1000:
                raise ApiError(400, "VALIDATION_ERROR", "Batch input limit exceeded (1000)")
            results, errors = [], []
            for item in inputs:
                from_id = str(item["id"])
                linked = self.associations(from_type, from_id, to_type)
                if not linked:
                    errors.append(
                        {
                            "status": "error",
                            "category": "OBJECT_NOT_FOUND",
                            "message": f"No {to_type} is associated with {from_type[:-1]} {from_id}.",
                            "context": {"fromObjectId": [from_id]},
                        }
                    )
                    continue
                type_id = _DEFAULT_ASSOC_TYPE.get((from_type, to_type), 0)
                to = [
                    {
                        "toObjectId": int(t),
                        "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}],
                    }
                    for t in linked
                ]
                results.append({"from": {"id": from_id}, "to": to})
            return self._batch_answer(results, errors, started, ok_status=200)
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Unknown associations action {action}")

    def _assoc_model(self, from_type: str, from_id: str, to_type: str, to_id: str) -> Json:
        return {
            "fromObjectTypeId": _TYPE_IDS[from_type],
            "fromObjectId": int(from_id),
            "toObjectTypeId": _TYPE_IDS[to_type],
            "toObjectId": int(to_id),
            "labels": [],
        }

    # ---------------------------------------------------------------- store

    def _create(self, object_type: str, props: dict[str, str]) -> _Object:
        self._next_id += 1
        now = self.now()
        obj = _Object(str(self._next_id), object_type, dict(props), now, now)
        obj.properties["hs_object_id"] = obj.id
        obj.properties["createdate"] = _iso(now)
        obj.properties["hs_lastmodifieddate"] = _iso(now)
        self._objects[object_type][obj.id] = obj
        return obj

    def _touch(self, obj: _Object) -> None:
        obj.updated = self.now()
        obj.properties["hs_lastmodifieddate"] = _iso(obj.updated)

    def _link(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self._associations.add((from_type, from_id, to_type, to_id))
        self._associations.add((to_type, to_id, from_type, from_id))


def _invalid(problems: list[Problem]) -> ApiError:
    """HubSpot's 400 for a body that does not match the request schema."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ApiError(
        400,
        "VALIDATION_ERROR",
        f"Invalid input JSON: {problems[0].message}{more}",
        errors=[p.detail() for p in problems],
    )


def _compare(name: str, actual: Any, value: Any) -> int:
    if name in _DATE_PROPS:
        a, b = _to_ms(actual), _to_ms(value)
        if a is not None and b is not None:
            return (a > b) - (a < b)
    try:
        fa, fb = float(actual), float(value)
        return (fa > fb) - (fa < fb)
    except (TypeError, ValueError):
        sa, sb = str(actual).lower(), str(value).lower()
        return (sa > sb) - (sa < sb)


def _sort_key(name: str, value: Any) -> tuple[int, float, str]:
    if name in _DATE_PROPS:
        ms = _to_ms(value)
        return (0, ms if ms is not None else float("-inf"), "")
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value or ""))
