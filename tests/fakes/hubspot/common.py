"""Constants, records and errors shared by the fake HubSpot's modules."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.fakes.hubspot.schemas import Problem

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

PATH_RE = re.compile(
    r"^/crm/(?:(?P<legacy>v3|v4)/(?P<lfam>objects|properties|pipelines|associations)"
    r"|(?P<dfam>objects|properties|pipelines|associations)/(?P<date>\d{4}-\d{2}))(?:/(?P<rest>.*))?$"
)
ACCOUNT_RE = re.compile(r"^/account-info/(?P<version>v3|\d{4}-\d{2})/(?P<rest>.*)$")
TYPES = {
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
TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3"}
DEFAULT_ASSOC_TYPE = {("deals", "contacts"): 3, ("contacts", "deals"): 4, ("deals", "companies"): 341}
DATE_PROPS = {"hs_lastmodifieddate", "createdate", "closedate", "lastmodifieddate"}
READ_ONLY = {"hs_object_id", "hs_lastmodifieddate", "createdate", "lastmodifieddate"}
BASE_PROPERTIES: dict[str, list[tuple[str, str]]] = {
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
BUILTIN = [("hs_object_id", "number"), ("createdate", "datetime"), ("hs_lastmodifieddate", "datetime")]
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


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class StoredObject:
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
            "createdAt": iso(self.created),
            "updatedAt": iso(self.updated),
            "archived": False,
        }
        if new is not None:
            body["new"] = new
        return body


@dataclass
class Fault:
    path_contains: str
    status: int
    body: Json | None
    headers: dict[str, str]
    after_apply: bool
    drop: bool
    method: str | None
    times: int


@dataclass
class Call:
    method: str
    path: str
    status: int
    body: Any = field(default=None)


def invalid(problems: list[Problem]) -> ApiError:
    """HubSpot's 400 for a body that does not match the request schema."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ApiError(
        400,
        "VALIDATION_ERROR",
        f"Invalid input JSON: {problems[0].message}{more}",
        errors=[p.detail() for p in problems],
    )
