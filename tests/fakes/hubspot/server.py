"""The fake HubSpot server: HTTP on loopback, controls, faults, routing, scopes."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.hubspot.common import (
    ACCOUNT_RE,
    BASE_PROPERTIES,
    BUILTIN,
    DATED_VERSIONS,
    DEFAULT_STAGES,
    MSG_AUTH,
    PATH_RE,
    RATE_LIMIT_BODY,
    RATE_LIMIT_HEADERS,
    SEARCH_RESULT_CAP,
    TYPE_IDS,
    TYPES,
    ApiError,
    Call,
    Fault,
    Json,
    StoredObject,
    invalid,
)
from tests.fakes.hubspot.definitions import DefinitionsMixin
from tests.fakes.hubspot.records import ObjectsMixin
from tests.fakes.hubspot.schemas import Problem, check_body
from tests.fakes.hubspot.search import SearchMixin
from tests.fakes.server import LoopbackServer, Reply, Request, Served

JSON_TYPE = "application/json;charset=utf-8"  # as HubSpot writes it


class FakeHubSpot(Served, ObjectsMixin, SearchMixin, DefinitionsMixin):
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
        self.requests: list[Call] = []
        self._lock = threading.RLock()
        self._next_id = 1000
        self._objects: dict[str, dict[str, StoredObject]] = {t: {} for t in TYPE_IDS}
        self._properties: dict[str, dict[str, Json]] = {t: {} for t in TYPE_IDS}
        self._groups: dict[str, dict[str, Json]] = {t: {} for t in TYPE_IDS}
        self._associations: set[tuple[str, str, str, str]] = set()
        self._faults: list[Fault] = []
        self.http = LoopbackServer(self._serve, name="fake-hubspot")
        for object_type, props in BASE_PROPERTIES.items():
            group = f"{object_type[:-1]}information"
            self._groups[object_type][group] = {"name": group, "label": group, "displayOrder": -1, "archived": False}
            for name, kind in [*props, *BUILTIN]:
                self._properties[object_type][name] = self._property_model(
                    {"name": name, "label": name, "type": kind, "fieldType": "text", "groupName": group},
                    hubspot_defined=True,
                )
        self._properties["contacts"]["email"]["hasUniqueValue"] = False  # unique in practice, handled apart
        self.pipelines: list[Json] = [self._pipeline("default", "Sales Pipeline", 0, DEFAULT_STAGES)]

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
            return self._create(TYPES[object_type], {k: str(v) for k, v in properties.items()}).id

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        with self._lock:
            self._link(TYPES[from_type], from_id, TYPES[to_type], to_id)

    def associations(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        f, t = TYPES[from_type], TYPES[to_type]
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
            self._faults.append(Fault(path_contains, status, body, headers, after_apply, drop, method, times))

    # ---------------------------------------------------------------- request flow

    def _serve(self, request: Request) -> Reply:
        method, path, raw = request.method, request.route, request.body
        query = parse_qs(urlsplit(request.path).query)
        with self._lock:
            fault = self._take_fault(method, path)
            if fault is not None and not fault.after_apply:
                return self._answer_fault(method, path, fault)
            try:
                if request.auth != f"Bearer {self.token}":
                    raise ApiError(401, "INVALID_AUTHENTICATION", MSG_AUTH)
                body = request.json()
                status, answer = self._route(method, path, query, body, raw)
            except ApiError as exc:
                status, answer = exc.status, exc.body
            except (ValueError, KeyError, TypeError) as exc:
                status, answer = 400, ApiError(400, "VALIDATION_ERROR", f"Invalid input JSON: {exc}").body
            if fault is not None:  # applied, but the answer is the fault's (or none)
                return self._answer_fault(method, path, fault)
            self.requests.append(Call(method, path, status, answer))
            headers = {} if path.endswith("/search") else self._rate_headers()
            return Reply(status, answer, headers, content_type=JSON_TYPE)

    def _rate_headers(self) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Max": "100",
            "X-HubSpot-RateLimit-Remaining": "99",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Daily": "250000",
            "X-HubSpot-RateLimit-Daily-Remaining": "249999",
        }

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.path_contains in path and (fault.method is None or fault.method == method):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _answer_fault(self, method: str, path: str, fault: Fault) -> Reply:
        self.requests.append(Call(method, path, 0 if fault.drop else fault.status))
        if fault.drop:
            return Reply(0, drop=True)
        body = fault.body
        if body is None:
            if fault.status == 429:
                body = dict(RATE_LIMIT_BODY)
            else:
                body = {"status": "error", "message": "Injected failure", "category": "UNKNOWN"}
            body["correlationId"] = str(uuid.uuid4())
        return Reply(fault.status, body, dict(fault.headers), content_type=JSON_TYPE)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any, raw: bytes) -> tuple[int, Any]:
        account = ACCOUNT_RE.match(path)
        if account is not None:
            return self._account_route(method, account.group("version"), account.group("rest"), raw)
        match = PATH_RE.match(path)
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
        object_type = TYPES.get(segs[0])
        if object_type is None:
            raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {segs[0]}")
        self._check_scope(family, object_type, method, segs[1:])
        problems = check_body(family, method, segs[1:], raw, body, dated=date is not None)
        if problems:
            raise invalid(problems)
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
            raise invalid([Problem("", "UNEXPECTED_BODY", "this call takes no request body")])
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
