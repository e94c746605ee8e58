"""A fake Airtable Web API served over real HTTP on loopback, for tests.

Start it, point a client at ``fake.url`` and drive/inspect it through the
Python control API (``add_base``, ``ui_*``, ``fail_next``, ``requests`` ...).
Time is a :class:`FakeClock`, so rate limits, webhook expiry and the monthly
allowance can be exercised without really sleeping.  Standard library only.

Like Airtable, it meters requests per base over a sliding second: a request that would be
the 6th on a base within any 1.0 s (closed window, on the fake clock) is answered 429
``RATE_LIMIT_REACHED`` with Airtable's body, and so is every request on that base for the
next 30 s.  ``sent`` logs the clock time and base of every request, for checking a client's
own throttle (:meth:`FakeAirtable.busiest_second`).

With ``record_cap`` (or ``record_caps[base_id]``) a base holds at most that many records, all
tables together, as on Airtable's plans: a create past it is refused (422, see RECORD_CAP_TYPE).
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.server import LoopbackServer, Reply, Request, Served

Json = dict[str, Any]
Response = tuple[int, Json]

DEFAULT_START = datetime(2026, 11, 1, 10, 0, 0, tzinfo=timezone.utc)
WEEK = 7 * 24 * 3600.0
RATE_PER_SECOND = 5
PENALTY_SECONDS = 30.0
MAX_BATCH = 10
MAX_PAGE = 100
MAX_WEBHOOKS = 10
MAX_PAYLOADS = 50
META_KEY = "meta"

# Computed field types: read-only through the API and not creatable by it.
COMPUTED_TYPES = frozenset(
    {
        "autoNumber",
        "button",
        "count",
        "createdBy",
        "createdTime",
        "formula",
        "lastModifiedBy",
        "lastModifiedTime",
        "lookup",
        "multipleLookupValues",
        "rollup",
    }
)
NUMBER_TYPES = frozenset({"number", "currency", "percent", "rating", "duration"})
TEXT_TYPES = frozenset({"singleLineText", "multilineText", "richText", "email", "url", "phoneNumber"})

MSG_NOT_FOUND = (
    "Invalid permissions, or the requested model was not found. Check that both "
    "your user and your token have the required permissions, and that the model "
    "names and/or ids are correct."
)
BILLING_BODY: Json = {
    "errors": [
        {
            "error": "PUBLIC_API_BILLING_LIMIT_EXCEEDED",
            "message": "API billing plan limit exceeded. You've reached the maximum "
            "number of requests allowed for this month.",
        }
    ]
}
# A create that would take a base past its record cap (Free: 1,000 records per base, all tables
# together). Airtable documents no API error for this case (searched its API reference, its
# support pages and public issues and code): this body is our choice, in the shape of its
# documented 422 answers ({"error": {"type", "message"}}) with a message naming the limit.
RECORD_CAP_TYPE = "RECORD_LIMIT_EXCEEDED"
RECORD_CAP_MESSAGE = (
    "This base has reached the record limit of its plan ({cap} records). "
    "Delete records or upgrade the workspace's plan to add more."
)
_ALNUM = string.ascii_letters + string.digits


# --------------------------------------------------------------------------- clock


class FakeClock:
    """Controllable time; ``sleep`` only advances it."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        self._t = start.timestamp()
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the fake clock cannot go backwards")
        with self._lock:
            self._t += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


def _iso(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _parse_dt(value: str) -> datetime:
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _is_empty(value: Any) -> bool:
    if value is None or value is False:
        return True
    return isinstance(value, str | list | dict) and len(value) == 0


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


# -------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error answer: HTTP status plus JSON body."""

    def __init__(self, status: int, body: Json) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def _error(status: int, kind: str, message: str | None = None) -> ApiError:
    err: Json = {"type": kind}
    if message is not None:
        err["message"] = message
    return ApiError(status, {"error": err})


def _model_not_found() -> ApiError:
    return _error(403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", MSG_NOT_FOUND)


def _not_found() -> ApiError:
    return _error(404, "NOT_FOUND")


def _invalid_request(detail: str = "parameter validation failed") -> ApiError:
    return _error(422, "INVALID_REQUEST_UNKNOWN", f"Invalid request: {detail}.")


def _unknown_field(name: str) -> ApiError:
    return _error(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')


def _invalid_value(name: str) -> ApiError:
    msg = f'Field "{name}" cannot accept the provided value'
    return _error(422, "INVALID_VALUE_FOR_COLUMN", msg)


def _too_many(count: int, verb: str) -> ApiError:
    msg = f"A maximum of {MAX_BATCH} records can be {verb} per request but you have provided {count}."
    return _error(422, "INVALID_RECORDS", msg)


# -------------------------------------------------------------------------- models


@dataclass
class _Field:
    id: str
    name: str
    type: str
    options: Json | None = None
    description: str | None = None

    def model(self) -> Json:
        out: Json = {"id": self.id, "name": self.name, "type": self.type}
        if self.options:
            out["options"] = _copy(self.options)
        if self.description:
            out["description"] = self.description
        return out

    def choice_names(self) -> list[str]:
        choices = (self.options or {}).get("choices") or []
        return [str(c["name"]) for c in choices]


@dataclass
class _Record:
    id: str
    created: float
    modified: float
    seq: int
    cells: Json = field(default_factory=dict)


@dataclass
class _Table:
    id: str
    name: str
    view_id: str
    fields: list[_Field]
    description: str | None = None
    records: dict[str, _Record] = field(default_factory=dict)
    next_seq: int = 1

    def field(self, key: str) -> _Field | None:
        for f in self.fields:
            if key in (f.id, f.name):
                return f
        return None

    def has_name(self, name: str) -> bool:
        return any(f.name.lower() == name.lower() for f in self.fields)

    def model(self) -> Json:
        out: Json = {
            "id": self.id,
            "name": self.name,
            "primaryFieldId": self.fields[0].id,
            "fields": [f.model() for f in self.fields],
            "views": [{"id": self.view_id, "name": "Grid view", "type": "grid"}],
        }
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class _Payload:
    cursor: int
    time: float
    body: Json


@dataclass
class _Webhook:
    id: str
    notification_url: str | None
    spec: Json
    secret: str
    expiration: float
    payloads: list[_Payload] = field(default_factory=list)
    next_cursor: int = 1

    def enabled(self, now: float) -> bool:
        return now < self.expiration

    def _filters(self) -> Json:
        filters = self.spec.get("options", {}).get("filters", {})
        return filters if isinstance(filters, dict) else {}

    def _includes(self) -> Json:
        includes = self.spec.get("options", {}).get("includes") or {}
        return includes if isinstance(includes, dict) else {}

    def wants(self, data_type: str, source: str, table_id: str) -> bool:
        filters = self._filters()
        if data_type not in (filters.get("dataTypes") or []):
            return False
        sources = filters.get("fromSources") or []
        if sources and source not in sources:
            return False
        scope = filters.get("recordChangeScope")
        return not scope or scope == table_id

    def shape(self, changes: Json) -> Json:
        """Copy of a table change, minus 'previous' values not asked for."""
        out: Json = _copy(changes)
        includes = self._includes()
        strip = (
            ("changedRecordsById", "includePreviousCellValues"),
            ("changedFieldsById", "includePreviousFieldDefinitions"),
        )
        for key, flag in strip:
            if not includes.get(flag):
                for entry in out.get(key, {}).values():
                    entry.pop("previous", None)
        wanted = includes.get("includeCellValuesInFieldIds")
        for entry in out.get("changedRecordsById", {}).values():
            unchanged = entry.get("unchanged", {}).get("cellValuesByFieldId", {})
            if wanted == "all":
                continue
            kept = {f: v for f, v in unchanged.items() if isinstance(wanted, list) and f in wanted}
            if kept:
                entry["unchanged"] = {"cellValuesByFieldId": kept}
            else:
                entry.pop("unchanged", None)
        return out

    def prune(self, now: float) -> None:
        self.payloads = [p for p in self.payloads if now - p.time <= WEEK]

    def model(self, now: float) -> Json:
        return {
            "id": self.id,
            "notificationUrl": self.notification_url,
            "cursorForNextPayload": self.next_cursor,
            "isHookEnabled": self.enabled(now),
            "areNotificationsEnabled": False,
            "lastSuccessfulNotificationTime": None,
            "lastNotificationResult": None,
            "expirationTime": _iso(self.expiration),
            "specification": _copy(self.spec),
        }


@dataclass
class _Base:
    id: str
    name: str
    tables: list[_Table]
    webhooks: dict[str, _Webhook] = field(default_factory=dict)
    txn: int = 0

    def table(self, key: str) -> _Table | None:
        for t in self.tables:
            if key in (t.id, t.name):
                return t
        return None


@dataclass
class _Change:
    record: _Record | None  # None: create a new record
    cells: Json
    replace: bool = False


@dataclass
class _Fault:
    method: str | None
    path_contains: str | None
    status: int
    body: Json
    after_apply: bool
    drop: bool
    times: int

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path_contains is None or self.path_contains in path


# ------------------------------------------------------------------------- formula

_QUOTED = r"""(?:'([^']*)'|"([^"]*)")"""
_RID_RE = re.compile(rf"^\s*RECORD_ID\(\)\s*=\s*{_QUOTED}\s*$")
_OR_RE = re.compile(r"^\s*OR\((.*)\)\s*$", re.S)
_AFTER_RE = re.compile(
    r"^\s*IS_AFTER\(\s*LAST_MODIFIED_TIME\(\)\s*,\s*DATETIME_PARSE\(\s*" + _QUOTED + r"\s*\)\s*\)\s*$"
)
Predicate = Callable[[_Record], bool]


def _bad_formula(formula: str) -> ApiError:
    msg = f"The formula for filtering records is invalid: {formula}"
    return _error(422, "INVALID_FILTER_BY_FORMULA", msg)


def _record_ids(formula: str) -> set[str] | None:
    single = _RID_RE.match(formula)
    if single:
        return {single.group(1) or single.group(2) or ""}
    alternatives = _OR_RE.match(formula)
    if not alternatives:
        return None
    ids: set[str] = set()
    for part in alternatives.group(1).split(","):
        m = _RID_RE.match(part)
        if not m:
            return None
        ids.add(m.group(1) or m.group(2) or "")
    return ids


def _parse_formula(formula: str) -> Predicate:
    if not formula.strip():
        return lambda _rec: True
    ids = _record_ids(formula)
    if ids is not None:
        return lambda rec: rec.id in ids
    after = _AFTER_RE.match(formula)
    if after:
        try:
            limit = _parse_dt(after.group(1) or after.group(2) or "").timestamp()
        except ValueError:
            raise _bad_formula(formula) from None
        return lambda rec: rec.modified > limit
    raise _bad_formula(formula)


# ------------------------------------------------------------------- request parts


def _split_path(raw_path: str) -> list[str]:
    return [unquote(s) for s in raw_path.split("/") if s]


def _limit_key(segs: list[str]) -> str:
    if len(segs) >= 2 and segs[1] == "meta":
        return segs[3] if len(segs) >= 4 and segs[2] == "bases" else META_KEY
    if len(segs) >= 3 and segs[1] == "bases":
        return segs[2]
    return segs[1] if len(segs) >= 2 else META_KEY


def _parse_body(req: Request) -> Json:
    try:
        body = req.json()
    except ValueError:
        raise _invalid_request("could not parse request body") from None
    if not isinstance(body, dict):
        raise _invalid_request("request body must be an object")
    return body


def _query_options(query: dict[str, list[str]]) -> Json:
    opts: Json = {}
    names = query.get("fields[]", []) + query.get("fields", [])
    if names:
        opts["fields"] = names
    for key in ("filterByFormula", "pageSize", "maxRecords", "offset"):
        if key in query:
            opts[key] = query[key][-1]
    return opts


def _int_option(opts: Json, key: str, default: int | None) -> int | None:
    value = opts.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _invalid_request(f"{key} must be an integer") from None


# ---------------------------------------------------------------------- the fake


class FakeAirtable(Served):
    """Fake Airtable API server; see the module docstring."""

    def __init__(
        self,
        token: str = "patFAKE.token",
        *,
        clock: FakeClock | None = None,
        monthly_limit: int | None = None,
        rate_limit: bool = True,
        seed: int = 20261101,
        record_cap: int | None = None,
    ) -> None:
        self.token = token
        self.clock = clock or FakeClock()
        self.monthly_limit = monthly_limit
        # Records a base may hold (all its tables); a create past it is refused. Per base: record_caps.
        self.record_cap = record_cap
        self.record_caps: dict[str, int] = {}
        self.rate_limit = rate_limit
        self.url = ""
        self.requests: list[tuple[str, str, int]] = []
        self.sent: list[tuple[float, str]] = []  # (fake clock time, base or "meta") of every request
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self.workspace_id = self._new_id("wsp")
        self._bases: dict[str, _Base] = {}
        self._faults: list[_Fault] = []
        self._offsets: dict[str, int] = {}
        self._windows: dict[str, list[float]] = {}
        self._penalty_until: dict[str, float] = {}
        self._monthly: dict[tuple[int, int], int] = {}
        self.http = LoopbackServer(self._serve, name="fake-airtable")

    # ------------------------------------------------------------ control: data

    def add_base(self, name: str, tables: list[Json]) -> str:
        """Create a base directly (no request counted); returns its id."""
        with self._lock:
            base = self._build_base(name, tables, for_api=False)
            return base.id

    def table_id(self, base_id: str, table: str) -> str:
        with self._lock:
            return self._lookup(base_id, table)[1].id

    def field_id(self, base_id: str, table: str, field: str) -> str:
        with self._lock:
            return self._field(self._lookup(base_id, table)[1], field).id

    def records(self, base_id: str, table: str) -> list[Json]:
        with self._lock:
            tbl = self._lookup(base_id, table)[1]
            return [self._render(tbl, rec) for rec in tbl.records.values()]

    def changed_since(self, base_id: str, table: str, since: datetime) -> set[str]:
        """Ids of the records created or changed in content at or after ``since`` (for counting writes)."""
        t = since.timestamp() - 1e-6  # a datetime keeps microseconds; the clock keeps a float
        with self._lock:
            return {r.id for r in self._lookup(base_id, table)[1].records.values() if r.modified >= t}

    def ui_create(
        self, base_id: str, table: str, fields: Json, *, source: str = "client", created: datetime | None = None
    ) -> str:
        """A record typed in by a person; ``created`` back-dates it (seeding history before any feed exists)."""
        with self._lock:
            base, tbl = self._lookup(base_id, table)
            pending: list[tuple[_Field, str]] = []
            cells = self._prepare(tbl, fields, True, pending)
            rec = self._apply(base, tbl, [_Change(None, cells)], pending, source)[0][0]
            if created is not None:
                rec.created = created.timestamp()
            return rec.id

    def ui_update(
        self,
        base_id: str,
        table: str,
        record_id: str,
        fields: Json,
        *,
        source: str = "client",
    ) -> None:
        with self._lock:
            base, tbl = self._lookup(base_id, table)
            rec = tbl.records[record_id]
            pending: list[tuple[_Field, str]] = []
            cells = self._prepare(tbl, fields, True, pending)
            self._apply(base, tbl, [_Change(rec, cells)], pending, source)

    def ui_delete(self, base_id: str, table: str, record_id: str, *, source: str = "client") -> None:
        with self._lock:
            base, tbl = self._lookup(base_id, table)
            if record_id not in tbl.records:
                raise KeyError(record_id)
            self._delete(base, tbl, [record_id], source)

    def ui_rename_field(self, base_id: str, table: str, old: str, new: str) -> None:
        with self._lock:
            base, tbl = self._lookup(base_id, table)
            fld = self._field(tbl, old)
            if tbl.has_name(new) and new.lower() != old.lower():
                raise ValueError(f"field name {new!r} already used")
            fld.name = new
            entry = {"current": {"name": new}, "previous": {"name": old}}
            changes = {"changedFieldsById": {fld.id: entry}}
            self._emit(base, tbl, "client", "tableFields", changes)

    def ui_delete_field(self, base_id: str, table: str, name: str) -> None:
        with self._lock:
            base, tbl = self._lookup(base_id, table)
            fld = self._field(tbl, name)
            if fld is tbl.fields[0]:
                raise ValueError("the primary field cannot be deleted")
            tbl.fields.remove(fld)
            for rec in tbl.records.values():
                rec.cells.pop(fld.id, None)
            changes = {"destroyedFieldIds": [fld.id]}
            self._emit(base, tbl, "client", "tableFields", changes)

    def ui_set_choices(self, base_id: str, table: str, field: str, choices: list[str]) -> None:
        with self._lock:
            base, tbl = self._lookup(base_id, table)
            fld = self._field(tbl, field)
            old = {c["name"]: c for c in (fld.options or {}).get("choices") or []}
            new = [old.get(n) or self._new_choice(n) for n in choices]
            fld.options = {**(fld.options or {}), "choices": new}
            self._drop_stale_choices(tbl, fld, set(choices))
            entry = {"current": {"name": fld.name, "type": fld.type}}
            changes = {"changedFieldsById": {fld.id: entry}}
            self._emit(base, tbl, "client", "tableFields", changes)

    def ui_set_type(self, base_id: str, table: str, field: str, type_: str) -> None:
        """A person changes a field's type in the UI: text keeps each value as text, a number
        keeps what reads as a number; the feed reports the field as changed."""
        with self._lock:
            base, tbl = self._lookup(base_id, table)
            fld = self._field(tbl, field)
            fld.type, fld.options = type_, ({"precision": 0} if type_ in NUMBER_TYPES else None)
            for rec in tbl.records.values():
                value = rec.cells.pop(fld.id, None)
                if type_ in TEXT_TYPES and isinstance(value, int | float | str):
                    rec.cells[fld.id] = str(value)
                elif type_ in NUMBER_TYPES and isinstance(value, int | float):
                    rec.cells[fld.id] = value
            entry = {"current": {"name": fld.name, "type": fld.type}}
            self._emit(base, tbl, "client", "tableFields", {"changedFieldsById": {fld.id: entry}})

    def expire_webhooks(self, base_id: str) -> None:
        with self._lock:
            now = self.clock.time()
            for hook in self._base(base_id).webhooks.values():
                hook.expiration = min(hook.expiration, now)

    # ---------------------------------------------------- control: observation

    def calls(self, method: str | None = None, path_contains: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for m, p, _s in self.requests
                if (method is None or m == method.upper()) and (path_contains is None or path_contains in p)
            )

    def reset_counts(self) -> None:
        """Forget the request log (rate-limit and monthly state are kept)."""
        with self._lock:
            self.requests.clear()
            self.sent.clear()

    def sent_times(self, key: str) -> list[float]:
        """Clock times of the requests on one base (or "meta"), in order."""
        with self._lock:
            return sorted(t for t, k in self.sent if k == key)

    def busiest_second(self, key: str, window: float = 1.0) -> int:
        """The most requests on one base whose send times fall within one closed ``window``."""
        times = self.sent_times(key)
        most, first = 0, 0
        for last, t in enumerate(times):
            while t - times[first] > window:
                first += 1
            most = max(most, last - first + 1)
        return most

    def fail_next(
        self,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        status: int = 500,
        body: Json | None = None,
        after_apply: bool = False,
        drop: bool = False,
        times: int = 1,
    ) -> None:
        if body is None:
            body = {"error": {"type": "SERVER_ERROR", "message": "Injected failure"}}
        fault = _Fault(method, path_contains, status, body, after_apply, drop, times)
        with self._lock:
            self._faults.append(fault)

    # ------------------------------------------------------------ ids & lookup

    def _new_id(self, prefix: str) -> str:
        return prefix + "".join(self._rng.choice(_ALNUM) for _ in range(14))

    def _new_choice(self, name: str) -> Json:
        return {"id": self._new_id("sel"), "name": name, "color": "blueLight2"}

    def _base(self, base_id: str) -> _Base:
        base = self._bases.get(base_id)
        if base is None:
            raise KeyError(base_id)
        return base

    def _lookup(self, base_id: str, table: str) -> tuple[_Base, _Table]:
        base = self._base(base_id)
        tbl = base.table(table)
        if tbl is None:
            raise KeyError(table)
        return base, tbl

    @staticmethod
    def _field(tbl: _Table, name: str) -> _Field:
        fld = tbl.field(name)
        if fld is None:
            raise KeyError(name)
        return fld

    def _api_base(self, base_id: str) -> _Base:
        base = self._bases.get(base_id)
        if base is None:
            raise _model_not_found()
        return base

    def _api_table(self, base_id: str, table: str) -> tuple[_Base, _Table]:
        base = self._api_base(base_id)
        tbl = base.table(table)
        if tbl is None:
            raise _model_not_found()
        return base, tbl

    # ---------------------------------------------------------------- schema

    def _normalise_options(self, type_: str, options: Any) -> Json | None:
        if not isinstance(options, dict):
            return None
        out: Json = _copy(options)
        if type_ in ("singleSelect", "multipleSelects"):
            out["choices"] = [{**self._new_choice(str(c["name"])), **c} for c in out.get("choices") or []]
        return out

    def _build_field(self, spec: Any, taken: list[_Field], for_api: bool) -> _Field:
        if not isinstance(spec, dict):
            raise _invalid_request("field must be an object")
        name, type_ = spec.get("name"), spec.get("type")
        if not isinstance(name, str) or not name.strip():
            raise _error(422, "DUPLICATE_OR_EMPTY_FIELD_NAME", "Field name is empty")
        if any(f.name.lower() == name.lower() for f in taken):
            msg = f'Field name "{name}" already exists'
            raise _error(422, "DUPLICATE_OR_EMPTY_FIELD_NAME", msg)
        if not isinstance(type_, str):
            raise _invalid_request("field type is missing")
        if for_api and type_ in COMPUTED_TYPES:
            msg = f"Creating {type_} fields is not supported at this time"
            raise _error(422, "UNSUPPORTED_FIELD_TYPE_FOR_CREATE", msg)
        options = self._normalise_options(type_, spec.get("options"))
        return _Field(self._new_id("fld"), name, type_, options, spec.get("description"))

    def _build_table(self, spec: Any, for_api: bool) -> _Table:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise _invalid_request("table must have a name")
        fields: list[_Field] = []
        for fspec in spec.get("fields") or []:
            fields.append(self._build_field(fspec, fields, for_api))
        if not fields:
            raise _invalid_request("a table needs at least one field")
        return _Table(
            id=self._new_id("tbl"),
            name=spec["name"],
            view_id=self._new_id("viw"),
            fields=fields,
            description=spec.get("description"),
        )

    def _build_base(self, name: str, tables: Any, for_api: bool) -> _Base:
        if not isinstance(tables, list) or not tables:
            raise _invalid_request("a base needs at least one table")
        built = [self._build_table(spec, for_api) for spec in tables]
        base = _Base(self._new_id("app"), name, built)
        self._bases[base.id] = base
        return base

    # ---------------------------------------------------------------- values

    def _coerce(self, fld: _Field, value: Any, typecast: bool, pending: list[tuple[_Field, str]]) -> Any:
        if fld.type in COMPUTED_TYPES:
            raise _invalid_value(fld.name)
        if value is None:
            return None
        if fld.type in NUMBER_TYPES:
            return self._coerce_number(fld, value, typecast)
        if fld.type == "checkbox":
            if isinstance(value, bool):
                return value
            raise _invalid_value(fld.name)
        if fld.type in ("date", "dateTime"):
            return self._coerce_date(fld, value)
        if fld.type == "singleSelect":
            return self._coerce_choice(fld, value, typecast, pending)
        if fld.type == "multipleSelects":
            if not isinstance(value, list):
                raise _invalid_value(fld.name)
            return [self._coerce_choice(fld, v, typecast, pending) for v in value]
        if fld.type in TEXT_TYPES:
            return self._coerce_text(fld, value, typecast)
        if fld.type == "multipleRecordLinks":
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return list(value)
            raise _invalid_value(fld.name)
        return _copy(value)

    @staticmethod
    def _coerce_number(fld: _Field, value: Any, typecast: bool) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if typecast and isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise _invalid_value(fld.name) from None
            return int(number) if number.is_integer() else number
        raise _invalid_value(fld.name)

    @staticmethod
    def _coerce_date(fld: _Field, value: Any) -> str:
        if not isinstance(value, str):
            raise _invalid_value(fld.name)
        try:
            if fld.type == "date" and len(value) == 10:
                return date.fromisoformat(value).isoformat()
            parsed = _parse_dt(value)
        except ValueError:
            raise _invalid_value(fld.name) from None
        if fld.type == "date":
            return parsed.date().isoformat()
        return _iso(parsed.timestamp())

    @staticmethod
    def _coerce_text(fld: _Field, value: Any, typecast: bool) -> str:
        if isinstance(value, str):
            return value
        if typecast and isinstance(value, int | float | bool):
            return str(value)
        raise _invalid_value(fld.name)

    @staticmethod
    def _coerce_choice(fld: _Field, value: Any, typecast: bool, pending: list[tuple[_Field, str]]) -> str:
        if not isinstance(value, str):
            if not typecast:
                raise _invalid_value(fld.name)
            value = str(value)
        name = str(value)
        if name in fld.choice_names() or (fld, name) in pending:
            return name
        if not typecast:
            msg = f'Insufficient permissions to create new select option ""{name}""'
            raise _error(422, "INVALID_MULTIPLE_CHOICE_OPTIONS", msg)
        pending.append((fld, name))
        return name

    def _prepare(self, tbl: _Table, fields: Any, typecast: bool, pending: list[tuple[_Field, str]]) -> Json:
        """Validate a ``fields`` mapping; returns field id -> normalised value."""
        if not isinstance(fields, dict):
            raise _invalid_request("fields must be an object")
        cells: Json = {}
        for name, value in fields.items():
            fld = tbl.field(name)
            if fld is None:
                raise _unknown_field(name)
            cells[fld.id] = self._coerce(fld, value, typecast, pending)
        return cells

    def _commit_choices(self, pending: list[tuple[_Field, str]]) -> None:
        for fld, name in pending:
            if name not in fld.choice_names():
                options = fld.options or {}
                choices = [*(options.get("choices") or []), self._new_choice(name)]
                fld.options = {**options, "choices": choices}

    @staticmethod
    def _drop_stale_choices(tbl: _Table, fld: _Field, allowed: set[str]) -> None:
        for rec in tbl.records.values():
            value = rec.cells.get(fld.id)
            if isinstance(value, str) and value not in allowed:
                del rec.cells[fld.id]
            elif isinstance(value, list):
                kept = [v for v in value if v in allowed]
                if kept:
                    rec.cells[fld.id] = kept
                else:
                    del rec.cells[fld.id]

    # ---------------------------------------------------------------- records

    @staticmethod
    def _cell(fld: _Field, rec: _Record) -> Any:
        if fld.type == "createdTime":
            return _iso(rec.created)
        if fld.type == "lastModifiedTime":
            return _iso(rec.modified)
        if fld.type == "autoNumber":
            return rec.seq
        return rec.cells.get(fld.id)

    def _render(self, tbl: _Table, rec: _Record, only: set[str] | None = None) -> Json:
        fields: Json = {}
        for fld in tbl.fields:
            if only is not None and fld.id not in only:
                continue
            value = self._cell(fld, rec)
            if not _is_empty(value):
                fields[fld.name] = _copy(value)
        return {"id": rec.id, "createdTime": _iso(rec.created), "fields": fields}

    def _insert(self, tbl: _Table, cells: Json, now: float) -> _Record:
        rec = _Record(self._new_id("rec"), now, now, tbl.next_seq)
        tbl.next_seq += 1
        rec.cells = {k: v for k, v in cells.items() if not _is_empty(v)}
        tbl.records[rec.id] = rec
        return rec

    @staticmethod
    def _merge(tbl: _Table, rec: _Record, change: _Change, now: float) -> Json:
        """Apply an update; returns the webhook entry ({} when nothing changed)."""
        before = dict(rec.cells)
        if change.replace:
            for fld in tbl.fields:
                if fld.type not in COMPUTED_TYPES and fld.id not in change.cells:
                    rec.cells.pop(fld.id, None)
        for fid, value in change.cells.items():
            if _is_empty(value):
                rec.cells.pop(fid, None)
            else:
                rec.cells[fid] = value
        changed = [f.id for f in tbl.fields if before.get(f.id) != rec.cells.get(f.id)]
        if not changed:
            return {}
        rec.modified = now
        return {
            "current": {"cellValuesByFieldId": {f: rec.cells.get(f) for f in changed}},
            "previous": {"cellValuesByFieldId": {f: before.get(f) for f in changed}},
        }

    def base_records(self, base_id: str) -> int:
        """Records the base holds, all tables together (what the record cap counts)."""
        with self._lock:
            return sum(len(t.records) for t in self._base(base_id).tables)

    def _check_room(self, base: _Base, creates: int) -> None:
        cap = self.record_caps.get(base.id, self.record_cap)
        if cap is None or not creates:
            return
        if sum(len(t.records) for t in base.tables) + creates > cap:
            raise _error(422, RECORD_CAP_TYPE, RECORD_CAP_MESSAGE.format(cap=cap))

    def _apply(
        self,
        base: _Base,
        tbl: _Table,
        changes: list[_Change],
        pending: list[tuple[_Field, str]],
        source: str,
    ) -> tuple[list[_Record], list[str], list[str]]:
        """Apply validated changes as one transaction and emit one payload."""
        self._check_room(base, sum(1 for c in changes if c.record is None))
        self._commit_choices(pending)
        now = self.clock.time()
        records: list[_Record] = []
        created: Json = {}
        changed: Json = {}
        updated_ids: list[str] = []
        for change in changes:
            if change.record is None:
                rec = self._insert(tbl, change.cells, now)
                created[rec.id] = {
                    "createdTime": _iso(now),
                    "cellValuesByFieldId": self._v2_cells(base, tbl, rec.cells),
                }
            else:
                rec = change.record
                updated_ids.append(rec.id)
                entry = self._merge(tbl, rec, change, now)
                if entry:
                    for side in ("current", "previous"):
                        entry[side]["cellValuesByFieldId"] = self._v2_cells(
                            base, tbl, entry[side]["cellValuesByFieldId"]
                        )
                    rest = {f: v for f, v in rec.cells.items() if f not in entry["current"]["cellValuesByFieldId"]}
                    entry["unchanged"] = {"cellValuesByFieldId": self._v2_cells(base, tbl, rest)}
                    changed[rec.id] = entry
            records.append(rec)
        payload: Json = {}
        if created:
            payload["createdRecordsById"] = created
        if changed:
            payload["changedRecordsById"] = changed
        self._emit(base, tbl, source, "tableData", payload)
        return records, list(created), updated_ids

    def _v2_cells(self, base: _Base, tbl: _Table, cells: Json) -> Json:
        """Cells as webhook payloads carry them (Airtable's "V2" cell format), keyed by field id:
        a select is {id, name, color}, a link is [{id, name}]; other types as in the REST API."""
        by_id = {f.id: f for f in tbl.fields}
        out: Json = {}
        for fid, value in cells.items():
            fld = by_id.get(fid)
            out[fid] = _copy(value) if fld is None or value is None else self._v2(base, fld, value)
        return out

    def _v2(self, base: _Base, fld: _Field, value: Any) -> Any:
        choices = {str(c["name"]): c for c in (fld.options or {}).get("choices") or []}
        if fld.type == "singleSelect":
            return _copy(choices.get(str(value), {"name": value}))
        if fld.type == "multipleSelects":
            return [_copy(choices.get(str(v), {"name": v})) for v in value]
        if fld.type == "multipleRecordLinks":
            linked = base.table(str((fld.options or {}).get("linkedTableId", "")))
            out = []
            for rid in value:
                rec = linked.records.get(rid) if linked else None
                name = rec.cells.get(linked.fields[0].id) if rec and linked else None
                out.append({"id": rid, "name": name if isinstance(name, str) else ""})
            return out
        return _copy(value)

    def _delete(self, base: _Base, tbl: _Table, ids: list[str], source: str) -> None:
        for rid in ids:
            tbl.records.pop(rid, None)
        self._emit(base, tbl, source, "tableData", {"destroyedRecordIds": list(ids)})

    # ---------------------------------------------------------------- webhooks

    def _emit(self, base: _Base, tbl: _Table, source: str, data_type: str, changes: Json) -> None:
        if not changes:
            return
        base.txn += 1
        now = self.clock.time()
        for hook in base.webhooks.values():
            if not hook.enabled(now) or not hook.wants(data_type, source, tbl.id):
                continue
            hook.prune(now)
            body: Json = {
                "timestamp": _iso(now),
                "baseTransactionNumber": base.txn,
                "payloadFormat": "v0",
                "actionMetadata": {"source": source, "sourceMetadata": {}},
                "changedTablesById": {tbl.id: hook.shape(changes)},
            }
            hook.payloads.append(_Payload(hook.next_cursor, now, body))
            hook.next_cursor += 1

    # ------------------------------------------------------------ request flow

    def _serve(self, req: Request) -> Reply:
        parts = urlsplit(req.path)
        path = unquote(parts.path)
        with self._lock:
            self.sent.append((self.clock.time(), _limit_key(_split_path(parts.path))))
            fault = self._take_fault(req.method, path)
            if fault is not None and not fault.after_apply:
                return self._answer_fault(req.method, path, fault)
            status, body = self._process(req, parts.path, parts.query)
            if fault is not None:
                return self._answer_fault(req.method, path, fault)
            self.requests.append((req.method, path, status))
            return Reply(status, body)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _answer_fault(self, method: str, path: str, fault: _Fault) -> Reply:
        self.requests.append((method, path, 0 if fault.drop else fault.status))
        if fault.drop:
            return Reply(0, drop=True)
        return Reply(fault.status, _copy(fault.body))

    def _process(self, req: Request, raw_path: str, raw_query: str) -> Response:
        segs = _split_path(raw_path)
        try:
            if req.auth != f"Bearer {self.token}":
                raise _error(401, "AUTHENTICATION_REQUIRED", "Authentication required")
            if not segs or segs[0] != "v0":
                raise _not_found()
            self._check_limits(_limit_key(segs))
            query = parse_qs(raw_query, keep_blank_values=True)
            body = _parse_body(req)
            return 200, self._route(req.method, segs[1:], query, body)
        except ApiError as exc:
            return exc.status, exc.body

    def _check_limits(self, key: str) -> None:
        now = self.clock.now()
        month = (now.year, now.month)
        used = self._monthly.get(month, 0)
        if self.monthly_limit is not None and used >= self.monthly_limit:
            raise ApiError(429, _copy(BILLING_BODY))
        self._monthly[month] = used + 1
        if self.rate_limit:
            self._check_rate(key, now.timestamp())

    def _check_rate(self, key: str, now: float) -> None:
        if now < self._penalty_until.get(key, float("-inf")):
            raise self._rate_error()
        window = [t for t in self._windows.get(key, []) if now - t <= 1.0]
        if len(window) >= RATE_PER_SECOND:
            self._penalty_until[key] = now + PENALTY_SECONDS
            self._windows[key] = window
            raise self._rate_error()
        window.append(now)
        self._windows[key] = window

    @staticmethod
    def _rate_error() -> ApiError:
        msg = "Rate limit exceeded. Please try again later"
        return _error(429, "RATE_LIMIT_REACHED", msg)

    def _route(self, method: str, segs: list[str], query: dict[str, list[str]], body: Json) -> Json:
        if segs[:1] == ["meta"]:
            return self._route_meta(method, segs[1:], body)
        if len(segs) >= 3 and segs[0] == "bases" and segs[2] == "webhooks":
            return self._route_webhooks(method, segs[1], segs[3:], query, body)
        if len(segs) == 2:
            return self._route_table(method, segs[0], segs[1], query, body)
        if len(segs) == 3:
            return self._route_record(method, segs, body)
        raise _not_found()

    # ------------------------------------------------------------ record routes

    def _route_table(
        self,
        method: str,
        base_id: str,
        table: str,
        query: dict[str, list[str]],
        body: Json,
    ) -> Json:
        base, tbl = self._api_table(base_id, table)
        if method == "GET":
            return self._list(tbl, _query_options(query))
        if method == "POST":
            return self._api_create(base, tbl, body)
        if method in ("PATCH", "PUT"):
            return self._api_update(base, tbl, body, replace=method == "PUT")
        if method == "DELETE":
            return self._api_delete(base, tbl, query.get("records[]", []))
        raise _not_found()

    def _route_record(self, method: str, segs: list[str], body: Json) -> Json:
        base, tbl = self._api_table(segs[0], segs[1])
        if segs[2] == "listRecords" and method == "POST":
            return self._list(tbl, body)
        rid = segs[2]
        if method == "GET":
            rec = tbl.records.get(rid)
            if rec is None:
                raise _error(404, "MODEL_ID_NOT_FOUND", "Record not found")
            return self._render(tbl, rec)
        if method in ("PATCH", "PUT"):
            item = {"id": rid, "fields": body.get("fields") or {}}
            request = {"records": [item], "typecast": body.get("typecast")}
            out = self._api_update(base, tbl, request, replace=method == "PUT")
            return dict(out["records"][0])
        if method == "DELETE":
            return dict(self._api_delete(base, tbl, [rid])["records"][0])
        raise _not_found()

    def _list(self, tbl: _Table, opts: Json) -> Json:
        page_size = _int_option(opts, "pageSize", MAX_PAGE) or MAX_PAGE
        if not 1 <= page_size <= MAX_PAGE:
            raise _invalid_request(f"pageSize must be at most {MAX_PAGE}")
        max_records = _int_option(opts, "maxRecords", None)
        only = self._only_fields(tbl, opts.get("fields"))
        keep = _parse_formula(str(opts.get("filterByFormula") or ""))
        rows = [rec for rec in tbl.records.values() if keep(rec)]
        if max_records:
            rows = rows[:max_records]
        start = self._offset_start(opts.get("offset"))
        out: Json = {"records": [self._render(tbl, r, only) for r in rows[start : start + page_size]]}
        if start + page_size < len(rows):
            out["offset"] = self._new_offset(start + page_size, rows[start + page_size].id)
        return out

    @staticmethod
    def _only_fields(tbl: _Table, names: Any) -> set[str] | None:
        if names is None:
            return None
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list):
            raise _invalid_request("fields must be a list")
        only: set[str] = set()
        for name in names:
            fld = tbl.field(str(name))
            if fld is None:
                raise _unknown_field(str(name))
            only.add(fld.id)
        return only

    def _new_offset(self, index: int, next_id: str) -> str:
        token = f"{self._new_id('itr')}/{next_id}"
        self._offsets[token] = index
        return token

    def _offset_start(self, token: Any) -> int:
        if not token:
            return 0
        if str(token) not in self._offsets:
            msg = "The requested offset is not available any more"
            raise _error(422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE", msg)
        return self._offsets[str(token)]

    @staticmethod
    def _batch(body: Json, verb: str) -> list[Any]:
        records = body.get("records")
        if not isinstance(records, list) or not records:
            raise _invalid_request("records must be a non-empty list")
        if len(records) > MAX_BATCH:
            raise _too_many(len(records), verb)
        return records

    def _api_create(self, base: _Base, tbl: _Table, body: Json) -> Json:
        typecast = bool(body.get("typecast"))
        pending: list[tuple[_Field, str]] = []
        if "records" not in body and "fields" in body:
            cells = self._prepare(tbl, body["fields"], typecast, pending)
            recs = self._apply(base, tbl, [_Change(None, cells)], pending, "publicApi")[0]
            return self._render(tbl, recs[0])
        items = self._batch(body, "created")
        changes = [_Change(None, self._prepare(tbl, self._item_fields(i), typecast, pending)) for i in items]
        recs = self._apply(base, tbl, changes, pending, "publicApi")[0]
        return {"records": [self._render(tbl, r) for r in recs]}

    @staticmethod
    def _item_fields(item: Any) -> Any:
        if not isinstance(item, dict):
            raise _invalid_request("each record must be an object")
        return item.get("fields") or {}

    def _api_update(self, base: _Base, tbl: _Table, body: Json, *, replace: bool) -> Json:
        items = self._batch(body, "updated")
        typecast = bool(body.get("typecast"))
        upsert = body.get("performUpsert")
        merge_on = self._merge_fields(tbl, upsert) if upsert is not None else None
        pending: list[tuple[_Field, str]] = []
        changes: list[_Change] = []
        for item in items:
            cells = self._prepare(tbl, self._item_fields(item), typecast, pending)
            target = self._update_target(tbl, item, cells, merge_on)
            changes.append(_Change(target, cells, replace))
        recs, created, updated = self._apply(base, tbl, changes, pending, "publicApi")
        out: Json = {"records": [self._render(tbl, r) for r in recs]}
        if merge_on is not None:
            out["createdRecords"] = created
            out["updatedRecords"] = updated
        return out

    @staticmethod
    def _merge_fields(tbl: _Table, upsert: Any) -> list[str]:
        names = upsert.get("fieldsToMergeOn") if isinstance(upsert, dict) else None
        if not isinstance(names, list) or not names:
            raise _invalid_request("performUpsert.fieldsToMergeOn must be a non-empty list")
        fids: list[str] = []
        for name in names:
            fld = tbl.field(str(name))
            if fld is None:
                raise _unknown_field(str(name))
            fids.append(fld.id)
        return fids

    @staticmethod
    def _update_target(tbl: _Table, item: Json, cells: Json, merge_on: list[str] | None) -> _Record | None:
        rid = item.get("id")
        if rid:
            rec = tbl.records.get(str(rid))
            if rec is None:
                msg = f"Record ID {rid} does not exist in this table"
                raise _error(422, "ROW_DOES_NOT_EXIST", msg)
            return rec
        if merge_on is None:
            raise _invalid_request("records to update need an id")
        matches = [rec for rec in tbl.records.values() if all(rec.cells.get(fid) == cells.get(fid) for fid in merge_on)]
        if len(matches) > 1:
            msg = "Cannot update more than one record with the same fieldsToMergeOn values"
            raise _error(422, "INVALID_RECORDS", msg)
        return matches[0] if matches else None

    def _api_delete(self, base: _Base, tbl: _Table, ids: list[str]) -> Json:
        if not ids:
            raise _invalid_request("records[] is required")
        if len(ids) > MAX_BATCH:
            raise _too_many(len(ids), "deleted")
        for rid in ids:
            if rid not in tbl.records:
                raise _error(404, "MODEL_ID_NOT_FOUND", "Record not found")
        self._delete(base, tbl, ids, "publicApi")
        return {"records": [{"id": rid, "deleted": True} for rid in ids]}

    # -------------------------------------------------------------- meta routes

    def _route_meta(self, method: str, segs: list[str], body: Json) -> Json:
        if segs == ["bases"] and method == "GET":
            bases = [{"id": b.id, "name": b.name, "permissionLevel": "create"} for b in self._bases.values()]
            return {"bases": bases}
        if segs == ["bases"] and method == "POST":
            return self._api_create_base(body)
        if len(segs) >= 3 and segs[0] == "bases" and segs[2] == "tables":
            return self._route_tables(method, self._api_base(segs[1]), segs[3:], body)
        raise _not_found()

    def _api_create_base(self, body: Json) -> Json:
        if body.get("workspaceId") != self.workspace_id:
            raise _model_not_found()
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise _invalid_request("name is required")
        base = self._build_base(name, body.get("tables"), for_api=True)
        return {"id": base.id, "tables": [t.model() for t in base.tables]}

    def _route_tables(self, method: str, base: _Base, segs: list[str], body: Json) -> Json:
        if not segs and method == "GET":
            return {"tables": [t.model() for t in base.tables]}
        if not segs and method == "POST":
            if body.get("name") and base.table(str(body["name"])) is not None:
                raise _error(422, "DUPLICATE_TABLE_NAME", "Table name already exists")
            tbl = self._build_table(body, for_api=True)
            base.tables.append(tbl)
            return tbl.model()
        target = base.table(segs[0]) if segs else None
        if target is None:
            raise _model_not_found()
        if segs[1:] == ["fields"] and method == "POST":
            return self._api_create_field(base, target, body)
        if len(segs) == 3 and segs[1] == "fields" and method == "PATCH":
            return self._api_update_field(base, target, segs[2], body)
        raise _not_found()

    def _api_create_field(self, base: _Base, tbl: _Table, body: Json) -> Json:
        fld = self._build_field(body, tbl.fields, for_api=True)
        tbl.fields.append(fld)
        info = {"name": fld.name, "type": fld.type}
        self._emit(base, tbl, "publicApi", "tableFields", {"createdFieldsById": {fld.id: info}})
        return fld.model()

    def _api_update_field(self, base: _Base, tbl: _Table, key: str, body: Json) -> Json:
        fld = tbl.field(key)
        if fld is None:
            raise _model_not_found()
        name = body.get("name")
        if name is not None:
            others = [f for f in tbl.fields if f is not fld]
            self._build_field({"name": name, "type": fld.type}, others, for_api=False)
            old, fld.name = fld.name, str(name)
            entry = {"current": {"name": fld.name}, "previous": {"name": old}}
            self._emit(base, tbl, "publicApi", "tableFields", {"changedFieldsById": {fld.id: entry}})
        if "description" in body:
            fld.description = body["description"]
        return fld.model()

    # ----------------------------------------------------------- webhook routes

    def _route_webhooks(
        self,
        method: str,
        base_id: str,
        segs: list[str],
        query: dict[str, list[str]],
        body: Json,
    ) -> Json:
        base = self._api_base(base_id)
        now = self.clock.time()
        if not segs and method == "GET":
            return {"webhooks": [h.model(now) for h in base.webhooks.values()]}
        if not segs and method == "POST":
            return self._api_create_webhook(base, body, now)
        hook = base.webhooks.get(segs[0]) if segs else None
        if hook is None:
            raise _not_found()
        if len(segs) == 1 and method == "DELETE":
            del base.webhooks[hook.id]
            return {}
        if not hook.enabled(now):
            raise _not_found()
        if segs[1:] == ["payloads"] and method == "GET":
            return self._payloads(hook, query, now)
        if segs[1:] == ["refresh"] and method == "POST":
            hook.expiration = now + WEEK
            return {"expirationTime": _iso(hook.expiration)}
        raise _not_found()

    def _api_create_webhook(self, base: _Base, body: Json, now: float) -> Json:
        spec = body.get("specification")
        filters = spec.get("options", {}).get("filters") if isinstance(spec, dict) else None
        if not isinstance(filters, dict) or not filters.get("dataTypes"):
            raise _invalid_request("specification.options.filters.dataTypes is required")
        if len(base.webhooks) >= MAX_WEBHOOKS:
            msg = "Too many webhooks have been created by this integration in this base"
            raise _error(422, "TOO_MANY_WEBHOOKS_BY_OAUTH_INTEGRATION_IN_BASE", msg)
        secret = base64.b64encode(self._rng.randbytes(32)).decode()
        url = body.get("notificationUrl")
        hook = _Webhook(self._new_id("ach"), url, _copy(spec), secret, now + WEEK)
        base.webhooks[hook.id] = hook
        return {
            "id": hook.id,
            "macSecretBase64": secret,
            "expirationTime": _iso(hook.expiration),
        }

    @staticmethod
    def _payloads(hook: _Webhook, query: dict[str, list[str]], now: float) -> Json:
        opts = {k: v[-1] for k, v in query.items()}
        cursor = _int_option(opts, "cursor", 1) or 1
        limit = min(_int_option(opts, "limit", MAX_PAYLOADS) or MAX_PAYLOADS, MAX_PAYLOADS)
        hook.prune(now)
        hook.expiration = now + WEEK
        available = [p for p in hook.payloads if p.cursor >= cursor]
        page = available[:limit]
        next_cursor = page[-1].cursor + 1 if page else max(cursor, hook.next_cursor)
        return {
            "payloads": [_copy(p.body) for p in page],
            "cursor": next_cursor,
            "mightHaveMore": len(available) > len(page),
        }
