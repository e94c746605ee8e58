"""HubSpot CRM client for the one-way referral push, within HubSpot's free CRM.

Plain ``requests``; base URL, token, timeout, session and ``sleep`` are injected. What it adds:

* one path helper, so the API version is a setting: ``"v3"`` (legacy paths, with ``/crm/v4/`` for
  associations) or a dated version such as ``"2026-09"`` (``/crm/objects/2026-09/deals/...``);
* 429 (and 423/477, which HubSpot also answers before applying anything) waits per ``Retry-After``
  or the ``X-HubSpot-RateLimit-*`` headers, a bounded number of times, for every call;
* 5xx and network failures are retried only for calls that are safe to repeat (GET, PUT, search,
  batch read, batch upsert by a unique property, creates whose repeat answers 409) — never for a
  plain create;
* every failure is one :class:`HubSpotError` with the HTTP status, HubSpot's ``category``, its
  message and ``correlationId``.

The token never appears in an error or a log line. The client knows nothing about partners: the
caller chooses the properties, the unique id property and the stages.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import requests

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.hubapi.com"
DEFAULT_API_VERSION = "2026-09"  # dated; "v3" (legacy paths) only on request
DEFAULT_TIMEOUT = (5, 30)
BATCH_LIMIT = 100  # object batch endpoints: 100 inputs per request
ASSOCIATION_READ_LIMIT = 1000
SEARCH_PAGE_LIMIT = 200
SEARCH_RESULT_CAP = 10_000  # paging past this in one query is a 400
SEARCH_MAX_FILTER_GROUPS = 5

RATE_LIMIT_TRIES = 3  # attempts in all, when HubSpot answers 429/423/477
RATE_LIMIT_DEFAULT_WAIT_SECONDS = 10.0  # TEN_SECONDLY_ROLLING window
RATE_LIMIT_SECONDLY_WAIT_SECONDS = 1.0  # search: 5 requests a second
RATE_LIMIT_MAX_WAIT_SECONDS = 30.0
LOCKED_WAIT_SECONDS = 2.0  # 423: "include a delay of at least 2 seconds"
NOT_APPLIED_STATUS = (423, 429, 477)
SERVER_ERROR_TRIES = 3  # attempts in all for idempotent calls
SERVER_ERROR_BACKOFF_SECONDS = (1.0, 4.0)
RETRIABLE_STATUS = (500, 502, 503, 504, 524)

DATED_VERSION_RE = re.compile(r"^\d{4}-\d{2}$")
EXISTING_ID_RE = re.compile(r"Existing ID:\s*(\d+)")
DEFAULT_PROPERTY_GROUP = "partnerops"

# HubSpot's names for the read scopes ``check_access`` probes.
_ACCESS_PROBES: tuple[tuple[str, str, str], ...] = (
    ("deals", "objects", "crm.objects.deals.read"),
    ("contacts", "objects", "crm.objects.contacts.read"),
    ("companies", "objects", "crm.objects.companies.read"),
    ("deals", "properties", "crm.schemas.deals.read"),
    ("deals", "pipelines", "crm.objects.deals.read"),
)
_WRITE_SCOPES = (
    "crm.objects.deals.write",
    "crm.objects.contacts.write",
    "crm.schemas.deals.write",
)


class HubSpotError(Exception):
    """A HubSpot call failed: HTTP status (0 = no answer), HubSpot's category, message, correlation id."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        correlation_id: str = "",
        path: str = "",
        details: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.category = category
        self.message = message
        self.correlation_id = correlation_id
        self.path = path
        self.details = list(details or [])  # HubSpot's ``errors`` list: [{message, code, context}]
        self.body = dict(body or {})
        where = f" ({path})" if path else ""
        ref = f" [correlationId {correlation_id}]" if correlation_id else ""
        super().__init__(f"HubSpot {status} {category}: {message}{where}{ref}")

    @property
    def codes(self) -> list[str]:
        """The per-error codes, e.g. ``["PROPERTY_DOESNT_EXIST"]``."""
        return [str(d.get("code")) for d in self.details if d.get("code")]


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def error_from_body(status: int, body: Any, *, path: str = "", token: str = "") -> HubSpotError:
    """One :class:`HubSpotError` from any HubSpot error body (every field treated as optional)."""
    if not isinstance(body, dict):
        return HubSpotError(status, "UNKNOWN", _scrub(str(body or "")[:200], token), path=path)
    category = str(body.get("category") or body.get("errorType") or ("RATE_LIMITS" if status == 429 else "UNKNOWN"))
    message = _scrub(str(body.get("message", "")), token)
    raw_details = body.get("errors")
    details = [d for d in raw_details if isinstance(d, dict)] if isinstance(raw_details, list) else []
    return HubSpotError(
        status,
        category,
        message,
        correlation_id=str(body.get("correlationId", "")),
        path=path,
        details=details,
        body=body,
    )


@dataclass(frozen=True)
class UpsertResult:
    """The outcome for one input of a batch upsert: the record id (and whether it is new) or the error."""

    id: str | None = None
    new: bool | None = None
    error: HubSpotError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.id is not None


Result = UpsertResult


@dataclass(frozen=True)
class Stage:
    """A deal stage; ``outcome`` is "open", "won" (closed, probability 1.0), "lost" (0.0) or "closed"."""

    id: str
    label: str
    pipeline_id: str
    display_order: int
    is_closed: bool
    outcome: str


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _epoch_ms(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return str(int(when.timestamp() * 1000))


def _stage_outcome(metadata: dict[str, Any]) -> tuple[bool, str]:
    is_closed = str(metadata.get("isClosed", "false")).lower() == "true"
    if not is_closed:
        return False, "open"
    try:
        probability = float(metadata.get("probability", ""))
    except (TypeError, ValueError):
        return True, "closed"
    if probability >= 1.0:
        return True, "won"
    if probability <= 0.0:
        return True, "lost"
    return True, "closed"


class HubSpotClient:
    """The HubSpot calls the push and read-back jobs make."""

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
        if api_version != "v3" and not DATED_VERSION_RE.match(api_version):
            raise ValueError(f"api_version must be 'v3' or a dated version like '2026-09', not {api_version!r}")
        self._token = token
        self.api_url = api_url.rstrip("/")
        self.api_version = api_version
        self.timeout = timeout
        self.session = session or requests.Session()
        self.sleep = sleep
        self._pipelines: list[dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"HubSpotClient(api_url={self.api_url!r}, api_version={self.api_version!r})"

    # paths -----------------------------------------------------------------------------------

    def path(self, family: str, rest: str) -> str:
        """The API path for ``family`` ∈ objects | properties | pipelines | associations.

        ``v3``: ``/crm/v3/{family}/{rest}``, except associations → ``/crm/v4/associations/{rest}``
        and ``objects`` association sub-paths (``…/associations/default/…``) → ``/crm/v4/objects/…``.
        Dated: ``/crm/{family}/{version}/{rest}`` for every family.
        """
        if family not in ("objects", "properties", "pipelines", "associations"):
            raise ValueError(f"unknown API family {family!r}")
        rest = rest.lstrip("/")
        if self.api_version != "v3":
            return f"/crm/{family}/{self.api_version}/{rest}"
        if family == "associations" or (family == "objects" and "/associations/" in rest):
            return f"/crm/v4/{family}/{rest}"
        return f"/crm/v3/{family}/{rest}"

    # transport -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = False,
    ) -> tuple[int, Any]:
        """Send one call; returns (status, parsed body) for 2xx, raises :class:`HubSpotError` otherwise.

        429/423/477 are retried for every call (nothing was applied); 5xx and network failures only
        when ``idempotent``.
        """
        method = method.upper()
        url = self.api_url + path
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        rate_tries = server_tries = 0
        while True:
            try:
                response = self.session.request(
                    method, url, json=json, params=params, headers=headers, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                server_tries += 1
                if idempotent and server_tries < SERVER_ERROR_TRIES:
                    self._backoff(server_tries)
                    continue
                raise HubSpotError(0, "NETWORK", f"no answer: {type(exc).__name__}", path=path) from None
            status = response.status_code
            if status < 300:
                return status, _json_or_empty(response)
            body = _json_or_empty(response)
            if status in NOT_APPLIED_STATUS:
                rate_tries += 1
                wait = _rate_limit_wait(status, response.headers, body)
                if wait is not None and rate_tries < RATE_LIMIT_TRIES:
                    log.warning("HubSpot %s on %s %s; waiting %.1f s", status, method, path, wait)
                    self.sleep(wait)
                    continue
            elif status in RETRIABLE_STATUS and idempotent:
                server_tries += 1
                if server_tries < SERVER_ERROR_TRIES:
                    self._backoff(server_tries)
                    continue
            raise error_from_body(status, body or response.text[:200], path=path, token=self._token)

    def _backoff(self, attempt: int) -> None:
        index = min(attempt - 1, len(SERVER_ERROR_BACKOFF_SECONDS) - 1)
        self.sleep(SERVER_ERROR_BACKOFF_SECONDS[index])

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params, idempotent=True)[1]

    # properties ------------------------------------------------------------------------------

    def ensure_deal_properties(self, props: list[dict[str, Any]]) -> list[str]:
        """Create the deal properties that are missing; returns the names created (2 calls when none are).

        Each item is a HubSpot ``PropertyCreate`` body (``name, label, type, fieldType`` and optionally
        ``groupName`` — default "partnerops" — and ``hasUniqueValue: true`` for the push key). Missing
        groups are created first. A 409 "already exists" (another run, or a lost answer) counts as done.
        An existing property that should be unique but is not raises (it can never be changed).
        """
        existing = {str(p.get("name")): p for p in self._get(self.path("properties", "deals")).get("results", [])}
        wanted = [{"groupName": DEFAULT_PROPERTY_GROUP, **p} for p in props]
        for prop in wanted:
            have = existing.get(str(prop["name"]))
            if have is not None and prop.get("hasUniqueValue") and not have.get("hasUniqueValue"):
                raise HubSpotError(
                    409,
                    "CONFLICT",
                    f"deal property {prop['name']!r} exists but is not unique; HubSpot cannot change that — "
                    "choose another name",
                )
        missing = [p for p in wanted if str(p["name"]) not in existing]
        if not missing:
            return []
        groups = {str(g.get("name")) for g in self._get(self.path("properties", "deals/groups")).get("results", [])}
        for group in sorted({str(p["groupName"]) for p in missing} - groups):
            body = {"name": group, "label": group.replace("_", " ").title(), "displayOrder": -1}
            self._create_if_absent(self.path("properties", "deals/groups"), body)
        created: list[str] = []
        for prop in missing:
            if self._create_if_absent(self.path("properties", "deals"), prop):
                created.append(str(prop["name"]))
        return created

    def _create_if_absent(self, path: str, body: dict[str, Any]) -> bool:
        """POST a definition; True if created, False on 409. Safe to retry: a repeat answers 409."""
        try:
            self.request("POST", path, json=body, idempotent=True)
        except HubSpotError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    # pipelines -------------------------------------------------------------------------------

    def pipelines(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        """The deal pipelines with their stages (cached; 1 call)."""
        if self._pipelines is None or refresh:
            results = self._get(self.path("pipelines", "deals")).get("results", [])
            self._pipelines = [p for p in results if isinstance(p, dict) and not p.get("archived")]
        return self._pipelines

    def first_stage(self, pipeline_id: str | None = None) -> tuple[str, str]:
        """(pipeline id, id of its first open stage by displayOrder); default: the first pipeline."""
        pipelines = sorted(self.pipelines(), key=lambda p: (int(p.get("displayOrder", 0)), str(p.get("id"))))
        if pipeline_id is not None:
            pipelines = [p for p in pipelines if str(p.get("id")) == pipeline_id]
        if not pipelines:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", f"no deal pipeline {pipeline_id or ''}".strip())
        pipeline = pipelines[0]
        stages = [s for s in self.stages().values() if s.pipeline_id == str(pipeline.get("id"))]
        open_stages = sorted((s for s in stages if not s.is_closed), key=lambda s: s.display_order)
        if not open_stages:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", f"deal pipeline {pipeline.get('id')} has no open stage")
        return str(pipeline.get("id")), open_stages[0].id

    def stages(self) -> dict[str, Stage]:
        """Every live deal stage by id, with won/lost from ``metadata.isClosed`` + ``probability``."""
        out: dict[str, Stage] = {}
        for pipeline in self.pipelines():
            for raw in pipeline.get("stages", []):
                if raw.get("archived"):
                    continue
                is_closed, outcome = _stage_outcome(raw.get("metadata") or {})
                stage = Stage(
                    id=str(raw.get("id")),
                    label=str(raw.get("label", "")),
                    pipeline_id=str(pipeline.get("id")),
                    display_order=int(raw.get("displayOrder", 0)),
                    is_closed=is_closed,
                    outcome=outcome,
                )
                out[stage.id] = stage
        return out

    def stage_labels(self) -> dict[str, str]:
        """Stage id → label, all pipelines."""
        return {s.id: s.label for s in self.stages().values()}

    def closed_stages(self) -> dict[str, str]:
        """Closed stage id → "won" | "lost" | "closed"."""
        return {s.id: s.outcome for s in self.stages().values() if s.is_closed}

    # contacts --------------------------------------------------------------------------------

    def upsert_contact(self, email: str, properties: dict[str, Any]) -> str:
        """The contact id for ``email``, created or updated by batch upsert (``idProperty=email``; 1 call).

        HubSpot does not support partial upserts keyed on email, so send the full property set. A 409
        ``CONFLICT`` "Contact already exists. Existing ID: 123" (create-style answer) yields that id.
        """
        props = {**properties, "email": email}
        body = {"inputs": [{"id": email, "idProperty": "email", "properties": props}]}
        try:
            _, answer = self.request("POST", self.path("objects", "contacts/batch/upsert"), json=body, idempotent=True)
        except HubSpotError as exc:
            existing = _existing_id(exc)
            if existing is not None:
                return existing
            raise
        results = answer.get("results") or []
        if results:
            return str(results[0]["id"])
        errors = [error_from_body(207, e, token=self._token) for e in answer.get("errors") or []]
        for err in errors:
            existing = _existing_id(err)
            if existing is not None:
                return existing
        if errors:
            raise errors[0]
        raise HubSpotError(200, "UNKNOWN", "contact upsert returned no result")

    # deals -----------------------------------------------------------------------------------

    def upsert_deals(
        self,
        deals: list[dict[str, Any]],
        id_property: str,
        *,
        create_only: dict[str, Any] | None = None,
    ) -> dict[str, UpsertResult]:
        """Create or update deals keyed on the unique ``id_property``; result per unique value.

        Each deal is a property dict that includes ``id_property``. Inputs are deduplicated (last wins)
        and sent ≤100 per batch with ``objectWriteTraceId`` = the unique value; a 207 answer fails only
        the bad items; a whole-batch 400 is split in halves to isolate the bad item (stopping when both
        halves fail alike). ``create_only`` properties (e.g. ``pipeline``/``dealstage``) are sent only for
        deals that do not exist yet — found with one batch read — so a repeated push never moves a deal
        back to the first stage.
        """
        by_key: dict[str, dict[str, Any]] = {}
        for deal in deals:
            key = deal.get(id_property)
            if key is None or str(key) == "":
                raise ValueError(f"every deal needs a value for {id_property!r}")
            by_key[str(key)] = dict(deal)
        out: dict[str, UpsertResult] = {}
        for chunk in _chunks(list(by_key), BATCH_LIMIT):
            existing = self._existing_keys(chunk, id_property) if create_only else set()
            inputs = []
            for key in chunk:
                props = {k: v for k, v in by_key[key].items() if k != id_property}
                if create_only and key not in existing:
                    props = {**create_only, **props}
                inputs.append({"id": key, "idProperty": id_property, "properties": props, "objectWriteTraceId": key})
            out.update(self._upsert_batch("deals", inputs, id_property))
        return out

    def _existing_keys(self, keys: list[str], id_property: str) -> set[str]:
        body = {"idProperty": id_property, "properties": [id_property], "inputs": [{"id": k} for k in keys]}
        try:
            _, answer = self.request("POST", self.path("objects", "deals/batch/read"), json=body, idempotent=True)
        except HubSpotError as exc:
            if exc.status == 404:
                return set()
            raise
        found: set[str] = set()
        for item in answer.get("results") or []:
            value = (item.get("properties") or {}).get(id_property)
            if value is not None:
                found.add(str(value))
        return found

    def _upsert_batch(
        self, object_type: str, inputs: list[dict[str, Any]], id_property: str
    ) -> dict[str, UpsertResult]:
        outcome = self._try_upsert(object_type, inputs)
        if isinstance(outcome, HubSpotError):
            if outcome.status == 400 and len(inputs) > 1:
                return self._bisect(object_type, inputs, id_property)
            return {str(i["id"]): UpsertResult(error=outcome) for i in inputs}
        return self._upsert_results(object_type, inputs, outcome, id_property)

    def _try_upsert(self, object_type: str, inputs: list[dict[str, Any]]) -> dict[str, Any] | HubSpotError:
        path = self.path("objects", f"{object_type}/batch/upsert")
        try:
            return dict(self.request("POST", path, json={"inputs": inputs}, idempotent=True)[1])
        except HubSpotError as exc:
            return exc

    def _bisect(self, object_type: str, inputs: list[dict[str, Any]], id_property: str) -> dict[str, UpsertResult]:
        """A whole batch was refused (400): send each half; recurse into a refused half to isolate its item.

        When both halves are refused with the same message the cause is the batch itself (e.g. a
        non-unique idProperty): every input gets that error and no more calls are made.
        """
        half = len(inputs) // 2
        parts = [inputs[:half], inputs[half:]]
        outcomes = [self._try_upsert(object_type, part) for part in parts]
        first, second = outcomes
        if (
            isinstance(first, HubSpotError)
            and isinstance(second, HubSpotError)
            and first.status == second.status
            and first.message == second.message
        ):
            return {str(i["id"]): UpsertResult(error=first) for i in inputs}
        out: dict[str, UpsertResult] = {}
        for part, outcome in zip(parts, outcomes, strict=True):
            if not isinstance(outcome, HubSpotError):
                out.update(self._upsert_results(object_type, part, outcome, id_property))
            elif outcome.status == 400 and len(part) > 1:
                out.update(self._bisect(object_type, part, id_property))
            else:
                out.update({str(i["id"]): UpsertResult(error=outcome) for i in part})
        return out

    def _upsert_results(
        self, object_type: str, inputs: list[dict[str, Any]], answer: dict[str, Any], id_property: str
    ) -> dict[str, UpsertResult]:
        path = self.path("objects", f"{object_type}/batch/upsert")
        keys = [str(i["id"]) for i in inputs]
        out: dict[str, UpsertResult] = {}
        for item in answer.get("results") or []:
            key = item.get("objectWriteTraceId") or (item.get("properties") or {}).get(id_property)
            if key is not None:
                out[str(key)] = UpsertResult(id=str(item.get("id")), new=bool(item.get("new", False)))
        for raw in answer.get("errors") or []:
            err = error_from_body(207, raw, path=path, token=self._token)
            for key in _error_keys(raw):
                if key in keys and key not in out:
                    out[key] = UpsertResult(error=err)
        for key in keys:
            if key not in out:
                out[key] = UpsertResult(
                    error=HubSpotError(207, "MISSING_RESULT", "no result for this input", path=path)
                )
        return out

    # associations ----------------------------------------------------------------------------

    def associate_deal_contact(self, deal_id: str, contact_id: str) -> None:
        """Default (unlabeled) deal→contact association; idempotent PUT, safe to repeat."""
        rest = f"deals/{deal_id}/associations/default/contacts/{contact_id}"
        self.request("PUT", self.path("objects", rest), idempotent=True)

    def _associated_ids(self, from_type: str, to_type: str, ids: list[str]) -> list[str]:
        out: list[str] = []
        for chunk in _chunks(ids, ASSOCIATION_READ_LIMIT):
            body = {"inputs": [{"id": i} for i in chunk]}
            try:
                _, answer = self.request(
                    "POST", self.path("associations", f"{from_type}/{to_type}/batch/read"), json=body, idempotent=True
                )
            except HubSpotError as exc:
                if exc.status == 404:
                    continue
                raise
            for item in answer.get("results") or []:
                out.extend(str(t.get("toObjectId")) for t in item.get("to") or [])
        return list(dict.fromkeys(out))

    # searches --------------------------------------------------------------------------------

    def search(
        self,
        object_type: str,
        filter_groups: list[dict[str, Any]],
        properties: list[str],
        *,
        sorts: list[dict[str, str]] | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        """One search page: ``{total, results, paging?}`` (search is eventually consistent)."""
        body: dict[str, Any] = {
            "filterGroups": filter_groups,
            "properties": properties,
            "limit": SEARCH_PAGE_LIMIT if limit is None else limit,
        }
        if sorts:
            body["sorts"] = sorts
        if after is not None:
            body["after"] = after
        _, answer = self.request("POST", self.path("objects", f"{object_type}/search"), json=body, idempotent=True)
        return dict(answer)

    def _search_ids(self, object_type: str, prop: str, value: str, limit: int = 10) -> list[str]:
        groups = [{"filters": [{"propertyName": prop, "operator": "EQ", "value": value}]}]
        page = self.search(object_type, groups, [prop], limit=limit)
        return [str(r["id"]) for r in page.get("results") or []]

    def open_deal_exists(self, domain: str | None, email: str | None) -> bool:
        """Whether the CRM has an open deal for this company (domain) or contact (email).

        Approach, at most 5 calls (plus the cached pipelines): search companies ``domain EQ`` and
        contacts ``email EQ`` (1 call each, skipped when the value is empty or nothing matched), read
        their associated deals in one v4 associations batch read per object type, then one deals batch
        read for ``dealstage``; a deal is open when its stage is not closed (``metadata.isClosed``).
        Search is eventually consistent: a company or contact created seconds ago may be missed,
        which is fine for attribution (the open deal has to exist before the referral).
        """
        deal_ids: list[str] = []
        if domain:
            companies = self._search_ids("companies", "domain", domain.strip().lower())
            if companies:
                deal_ids += self._associated_ids("companies", "deals", companies)
        if email:
            contacts = self._search_ids("contacts", "email", email.strip().lower())
            if contacts:
                deal_ids += self._associated_ids("contacts", "deals", contacts)
        deal_ids = list(dict.fromkeys(deal_ids))
        if not deal_ids:
            return False
        closed = set(self.closed_stages())
        for chunk in _chunks(deal_ids, BATCH_LIMIT):
            body = {"properties": ["dealstage"], "inputs": [{"id": i} for i in chunk]}
            try:
                _, answer = self.request("POST", self.path("objects", "deals/batch/read"), json=body, idempotent=True)
            except HubSpotError as exc:
                if exc.status == 404:
                    continue
                raise
            for deal in answer.get("results") or []:
                if (deal.get("properties") or {}).get("dealstage") not in closed:
                    return True
        return False

    def deals_modified_since(self, since: datetime, id_property: str, properties: list[str]) -> list[dict[str, Any]]:
        """Deals carrying ``id_property`` (i.e. pushed by us) with ``hs_lastmodifieddate >= since``, oldest first.

        Pages of 200 with ``after``; when a query reaches HubSpot's 10,000-result cap it restarts from
        the last modification date seen (results deduplicated by id). Never a full sync. Search is
        eventually consistent: callers should pass ``since`` minus an overlap window.
        """
        wanted = list(dict.fromkeys([*properties, id_property, "hs_lastmodifieddate"]))
        sorts = [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
        seen: dict[str, dict[str, Any]] = {}
        cursor = _epoch_ms(since)
        while True:
            groups = [
                {
                    "filters": [
                        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": cursor},
                        {"propertyName": id_property, "operator": "HAS_PROPERTY"},
                    ]
                }
            ]
            after: str | None = None
            last_modified: str | None = None
            capped = False
            while True:
                page = self.search("deals", groups, wanted, sorts=sorts, after=after)
                for deal in page.get("results") or []:
                    seen.setdefault(str(deal["id"]), deal)
                    last_modified = (deal.get("properties") or {}).get("hs_lastmodifieddate") or last_modified
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
                if int(after) >= SEARCH_RESULT_CAP:
                    capped = True
                    break
            if not capped or last_modified is None:
                break
            next_cursor = _epoch_ms(_parse_hs_datetime(last_modified))
            if next_cursor == cursor:
                log.warning("more than %d pushed deals share one modification time; stopping", SEARCH_RESULT_CAP)
                break
            cursor = next_cursor
        return sorted(
            seen.values(), key=lambda d: _parse_hs_datetime((d.get("properties") or {}).get("hs_lastmodifieddate"))
        )

    # check -----------------------------------------------------------------------------------

    def check_access(self) -> list[str]:
        """Problems for ``partnerops check``: token rejected, missing read scopes, unreachable API.

        Read-only probes (5 calls). Write scopes cannot be probed without writing; they are named in
        the missing-scope hint.
        """
        problems: list[str] = []
        for object_type, family, scope in _ACCESS_PROBES:
            params = {"limit": 1} if family == "objects" else None
            try:
                self.request("GET", self.path(family, object_type), params=params, idempotent=True)
            except HubSpotError as exc:
                if exc.status == 401:
                    return [
                        "HubSpot token rejected (401 "
                        f"{exc.category}): check HUBSPOT_TOKEN — a service key or private app token (pat-…)"
                    ]
                if exc.status == 403:
                    scopes = _required_scopes(exc) or [scope]
                    problems.append(
                        f"HubSpot token lacks scope {', '.join(scopes)} ({family} {object_type}); "
                        f"the push also needs {', '.join(_WRITE_SCOPES)}"
                    )
                elif exc.status == 0:
                    return [f"HubSpot unreachable at {self.api_url}: {exc.message}"]
                else:
                    problems.append(f"HubSpot {family} {object_type}: {exc}")
        return problems


# helpers ---------------------------------------------------------------------------------------


def _json_or_empty(response: requests.Response) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return {}


def _rate_limit_wait(status: int, headers: Any, body: Any) -> float | None:
    """Seconds to wait before repeating a call HubSpot did not apply; None = do not repeat (daily limit)."""
    policy = str(body.get("policyName", "")).upper() if isinstance(body, dict) else ""
    if policy == "DAILY":
        return None
    wait: float | None = None
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            wait = float(retry_after)
        except ValueError:
            wait = None
    if wait is None and headers.get("X-HubSpot-RateLimit-Remaining") == "0":
        interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        try:
            wait = float(interval) / 1000.0 if interval else None
        except ValueError:
            wait = None
    if wait is None:
        if status == 423:
            wait = LOCKED_WAIT_SECONDS
        elif policy == "SECONDLY":
            wait = RATE_LIMIT_SECONDLY_WAIT_SECONDS
        else:
            wait = RATE_LIMIT_DEFAULT_WAIT_SECONDS
    return max(0.0, min(wait, RATE_LIMIT_MAX_WAIT_SECONDS))


def _existing_id(err: HubSpotError) -> str | None:
    if err.status not in (409, 400) and err.category != "CONFLICT":
        return None
    match = EXISTING_ID_RE.search(err.message)
    return match.group(1) if match else None


def _error_keys(raw: dict[str, Any]) -> list[str]:
    """Which inputs a batch error is about: objectWriteTraceId, else ids in its context, else ``id``."""
    keys: list[str] = []
    if raw.get("objectWriteTraceId"):
        keys.append(str(raw["objectWriteTraceId"]))
    context = raw.get("context") or {}
    for name in ("objectWriteTraceId", "ids", "id"):
        values = context.get(name)
        if isinstance(values, list):
            keys.extend(str(v) for v in values)
        elif values:
            keys.append(str(values))
    if raw.get("id"):
        keys.append(str(raw["id"]))
    return list(dict.fromkeys(keys))


def _required_scopes(err: HubSpotError) -> list[str]:
    found: list[str] = []
    for detail in err.details:
        context = detail.get("context") or {}
        for name in ("requiredGranularScopes", "requiredScopes"):
            values = context.get(name)
            if isinstance(values, list):
                found.extend(str(v) for v in values)
    return list(dict.fromkeys(found))


def _parse_hs_datetime(value: Any) -> datetime:
    """HubSpot datetimes: ISO-8601 ("2026-11-01T10:00:00.000Z") or epoch milliseconds."""
    if value is None or value == "":
        return datetime.min.replace(tzinfo=timezone.utc)
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
