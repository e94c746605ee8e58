"""The HubSpot calls the push and read-back jobs make (see the package docstring)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import requests

import integrations.hubspot.bodies as bodies
from integrations.hubspot.errors import HubSpotError, Json, existing_id, required_scopes
from integrations.hubspot.models import (
    DEAL_CURRENCY_PROPERTY,
    DealAmount,
    Stage,
    UpsertResult,
    chunks,
    first_open_stage,
    parse_amount,
    properties_of,
    stages_of,
)
from integrations.hubspot.search import Search
from integrations.hubspot.transport import DEFAULT_API_URL, DEFAULT_API_VERSION, DEFAULT_TIMEOUT, Transport
from integrations.hubspot.upsert import BatchUpsert

BATCH_LIMIT = 100  # object batch endpoints: 100 inputs per request
ASSOCIATION_READ_LIMIT = 1000
DEFAULT_PROPERTY_GROUP = "partnerops"

# HubSpot's names for the read scopes ``check_access`` probes.
_ACCESS_PROBES: tuple[tuple[str, str, str], ...] = (
    ("deals", "objects", "crm.objects.deals.read"),
    ("contacts", "objects", "crm.objects.contacts.read"),
    ("companies", "objects", "crm.objects.companies.read"),
    ("deals", "properties", "crm.schemas.deals.read"),
    ("deals", "pipelines", "crm.objects.deals.read"),
)
_WRITE_SCOPES = ("crm.objects.deals.write", "crm.objects.contacts.write", "crm.schemas.deals.write")


class HubSpotClient:
    """The HubSpot calls the push and read-back jobs make; knows nothing about partners."""

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
        self.http = Transport(
            token, api_url=api_url, api_version=api_version, timeout=timeout, session=session, sleep=sleep
        )
        self.searches = Search(self.http)
        self._pipelines: list[Json] | None = None
        self._company_currency: str | None = None

    def __repr__(self) -> str:
        return f"HubSpotClient(api_url={self.api_url!r}, api_version={self.api_version!r})"

    @property
    def api_url(self) -> str:
        return self.http.api_url

    @property
    def api_version(self) -> str:
        return self.http.api_version

    def path(self, family: str, rest: str) -> str:
        """The path of ``rest`` in ``family`` for the configured version (see :func:`transport.api_path`)."""
        return self.http.path(family, rest)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, object] | None = None,
        params: Mapping[str, str | int] | None = None,
        repeat_if_lost: bool = False,
    ) -> tuple[int, Json]:
        """One call (see :meth:`Transport.request`)."""
        return self.http.request(method, path, json=json, params=params, repeat_if_lost=repeat_if_lost)

    def _get(self, path: str, params: Mapping[str, str | int] | None = None) -> Json:
        return self.http.request("GET", path, params=params)[1]

    # properties ------------------------------------------------------------------------------

    def ensure_deal_properties(self, props: Sequence[Mapping[str, Any]]) -> list[str]:
        """Create the deal properties that are missing; returns the names created (1 call when none are).

        Each item is a property definition (``name, label, type, fieldType``, optionally ``groupName``
        — default "partnerops" —, ``description``, ``hasUniqueValue``, ``options`` [{label, value}]),
        sent as HubSpot's ``PropertyCreate``. Missing groups are created first. A 409 "already
        exists" (another run, or a lost answer) counts as done. An existing property that should be
        unique but is not raises (HubSpot can never change that).
        """
        existing = {str(p.get("name")): p for p in self._get(self.path("properties", "deals")).get("results", [])}
        wanted = [bodies.property_create(p, DEFAULT_PROPERTY_GROUP) for p in props]
        for prop in wanted:
            _refuse_non_unique(prop, existing.get(prop["name"]))
        missing = [p for p in wanted if p["name"] not in existing]
        if not missing:
            return []
        self._ensure_groups({p["groupName"] for p in missing})
        return [p["name"] for p in missing if self._create_if_absent(self.path("properties", "deals"), p)]

    def _ensure_groups(self, names: set[str]) -> None:
        path = self.path("properties", "deals/groups")
        have = {str(g.get("name")) for g in self._get(path).get("results", [])}
        for name in sorted(names - have):
            self._create_if_absent(path, bodies.property_group_create(name))

    def _create_if_absent(self, path: str, body: Mapping[str, object]) -> bool:
        """POST a definition; True if created, False on 409. Repeated when lost: a repeat answers 409."""
        try:
            self.http.request("POST", path, json=body, repeat_if_lost=True)
        except HubSpotError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    # pipelines -------------------------------------------------------------------------------

    def pipelines(self, *, refresh: bool = False) -> list[Json]:
        """The deal pipelines with their stages (cached; 1 call)."""
        if self._pipelines is None or refresh:
            results = self._get(self.path("pipelines", "deals")).get("results", [])
            self._pipelines = [dict(p) for p in results if isinstance(p, dict) and not p.get("archived")]
        return self._pipelines

    def first_stage(self, pipeline_id: str | None = None) -> tuple[str, str]:
        """(pipeline id, id of its first open stage by displayOrder); default: the first pipeline."""
        return first_open_stage(self.pipelines(), self.stages(), pipeline_id)

    def stages(self) -> dict[str, Stage]:
        """Every live deal stage by id, with won/lost from ``metadata.isClosed`` + ``probability``."""
        return stages_of(self.pipelines())

    def stage_labels(self) -> dict[str, str]:
        """Stage id → label, all pipelines."""
        return {s.id: s.label for s in self.stages().values()}

    def closed_stages(self) -> dict[str, str]:
        """Closed stage id → "won" | "lost" | "closed"."""
        return {s.id: s.outcome for s in self.stages().values() if s.is_closed}

    # contacts --------------------------------------------------------------------------------

    def upsert_contact(self, email: str, properties: Mapping[str, object]) -> str:
        """The contact id for ``email``, created or updated by batch upsert (``idProperty=email``; 1 call).

        HubSpot does not support partial upserts keyed on email, so send the full property set. A 409
        ``CONFLICT`` "Contact already exists. Existing ID: 123" yields that id. No answer or a 5xx
        raises with ``outcome_unknown``; repeating it is safe (the e-mail finds the same contact).
        """
        item = bodies.upsert_input(email, "email", {**properties, "email": email}, trace=False)
        try:
            _, answer = self.http.request(
                "POST", self.path("objects", "contacts/batch/upsert"), json=bodies.UpsertBatch(inputs=[item])
            )
        except HubSpotError as exc:
            found = existing_id(exc)
            if found is not None:
                return found
            raise
        return self._contact_id(answer)

    def _contact_id(self, answer: Json) -> str:
        results = answer.get("results") or []
        if results:
            return str(results[0]["id"])
        path = self.path("objects", "contacts/batch/upsert")
        errors = [self.http.refusal(207, e, path) for e in answer.get("errors") or []]
        for err in errors:
            found = existing_id(err)
            if found is not None:
                return found
        if errors:
            raise errors[0]
        raise HubSpotError(200, "UNKNOWN", "contact upsert returned no result", outcome_unknown=True)

    # deals -----------------------------------------------------------------------------------

    def upsert_deals(
        self,
        deals: Sequence[Mapping[str, object]],
        id_property: str,
        *,
        create_only: Mapping[str, object] | None = None,
    ) -> dict[str, UpsertResult]:
        """Create or update deals keyed on the unique ``id_property``; result per unique value.

        Each deal is a property dict that includes ``id_property``. Inputs are deduplicated (last wins)
        and sent ≤100 per batch with ``objectWriteTraceId`` = the unique value; a 207 fails only the bad
        items; a whole-batch 400 is bisected (see :class:`BatchUpsert`). ``create_only`` properties
        (e.g. ``pipeline``/``dealstage``) are sent only for deals that do not exist yet — found with one
        batch read — so a repeated push never moves a deal back to the first stage.

        No answer or a 5xx raises :class:`HubSpotError` with ``outcome_unknown=True``: the deals may
        exist. Repeating the same upsert is safe (the unique property finds them; no second deal).
        """
        by_key = _by_unique_value(deals, id_property)
        upsert = BatchUpsert(self.http, "deals", id_property)
        out: dict[str, UpsertResult] = {}
        for chunk in chunks(list(by_key), BATCH_LIMIT):
            existing = self._existing_keys(chunk, id_property) if create_only else set()
            inputs = []
            for key in chunk:
                props = {k: v for k, v in by_key[key].items() if k != id_property}
                if create_only and key not in existing:
                    props = {**create_only, **props}
                inputs.append(bodies.upsert_input(key, id_property, props, trace=True))
            out.update(upsert.send(inputs))
        return out

    def _existing_keys(self, keys: list[str], id_property: str) -> set[str]:
        body = bodies.batch_read(keys, [id_property], id_property)
        found: set[str] = set()
        for item in self._batch_read("deals", body):
            value = properties_of(item).get(id_property)
            if value is not None:
                found.add(str(value))
        return found

    def _batch_read(self, object_type: str, body: bodies.BatchRead) -> list[Json]:
        """The records found (none found is a 404 for HubSpot: an empty list here)."""
        try:
            _, answer = self.http.request("POST", self.path("objects", f"{object_type}/batch/read"), json=body)
        except HubSpotError as exc:
            if exc.status == 404:
                return []
            raise
        return [dict(r) for r in answer.get("results") or [] if isinstance(r, dict)]

    # associations ----------------------------------------------------------------------------

    def associate_deal_contact(self, deal_id: str, contact_id: str) -> None:
        """Default (unlabeled) deal→contact association, a PUT without body.

        No answer or a 5xx raises with ``outcome_unknown``; repeating it is safe (HubSpot keeps one
        association per pair).
        """
        rest = f"deals/{deal_id}/associations/default/contacts/{contact_id}"
        self.http.request("PUT", self.path("objects", rest))

    def _associated_ids(self, from_type: str, to_type: str, ids: list[str]) -> list[str]:
        path = self.path("associations", f"{from_type}/{to_type}/batch/read")
        out: list[str] = []
        for chunk in chunks(ids, ASSOCIATION_READ_LIMIT):
            try:
                _, answer = self.http.request("POST", path, json=bodies.association_read(chunk))
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
        filter_groups: Sequence[bodies.FilterGroup],
        properties: Sequence[str],
        *,
        sorts: Sequence[bodies.Sort] = (),
        limit: int | None = None,
        after: str | None = None,
    ) -> Json:
        """One search page: ``{total, results, paging?}`` (search is eventually consistent)."""
        return self.searches.page(object_type, filter_groups, properties, sorts=sorts, limit=limit, after=after)

    def open_deal_exists(self, domain: str | None, email: str | None) -> bool:
        """Whether the CRM has an open deal for this company (domain) or contact (email).

        At most 5 calls (plus the cached pipelines): search companies ``domain EQ`` and contacts
        ``email EQ`` (skipped when the value is empty), their associated deals (one associations batch
        read per object type), then one deals batch read for ``dealstage``. Search is eventually
        consistent: a company created seconds ago may be missed, which is fine for attribution.
        """
        deal_ids: list[str] = []
        for object_type, prop, value in (("companies", "domain", domain), ("contacts", "email", email)):
            found = self.searches.ids(object_type, prop, value.strip().lower()) if value else []
            if found:
                deal_ids += self._associated_ids(object_type, "deals", found)
        closed = set(self.closed_stages()) if deal_ids else set()
        for chunk in chunks(list(dict.fromkeys(deal_ids)), BATCH_LIMIT):
            for deal in self._batch_read("deals", bodies.batch_read(chunk, ["dealstage"])):
                if properties_of(deal).get("dealstage") not in closed:
                    return True
        return False

    def deals_modified_since(self, since: datetime, id_property: str, properties: Sequence[str]) -> list[Json]:
        """Deals carrying ``id_property`` (pushed by us) with ``hs_lastmodifieddate >= since``, oldest first.

        Reads ``properties`` plus ``id_property``, ``hs_lastmodifieddate`` and ``deal_currency_code``
        (for :meth:`deal_amount`). Never a full sync. Search lags behind writes: pass ``since`` minus
        an overlap window.
        """
        wanted = [*properties, DEAL_CURRENCY_PROPERTY]
        return self.searches.modified_since("deals", since, id_property, wanted)

    # currency --------------------------------------------------------------------------------

    def company_currency(self, *, refresh: bool = False) -> str:
        """The account's company currency (ISO 4217), from the account details (cached; 1 call)."""
        if self._company_currency is None or refresh:
            details = self._get(self.path("account-info", "details"))
            currency = str(details.get("companyCurrency") or "").strip().upper()
            if not currency:
                raise HubSpotError(200, "UNEXPECTED_ANSWER", "the account details name no companyCurrency")
            self._company_currency = currency
        return self._company_currency

    def deal_currency(self, deal: Mapping[str, Any]) -> str:
        """A deal's currency as read back: its ``deal_currency_code``, else the company currency."""
        code = str(properties_of(deal).get(DEAL_CURRENCY_PROPERTY) or "").strip().upper()
        return code or self.company_currency()

    def deal_amount(self, deal: Mapping[str, Any]) -> DealAmount | None:
        """A deal's ``amount`` with its currency; None when the deal has no amount."""
        amount = parse_amount(properties_of(deal).get("amount"))
        return None if amount is None else DealAmount(amount, self.deal_currency(deal))

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
                self.http.request("GET", self.path(family, object_type), params=params)
            except HubSpotError as exc:
                if exc.status in (0, 401):
                    return [_access_problem(exc, self.api_url)]
                problems.append(_scope_problem(exc, family, object_type, scope))
        return problems


def _refuse_non_unique(wanted: bodies.PropertyCreate, have: Mapping[str, Any] | None) -> None:
    if have is not None and wanted.get("hasUniqueValue") and not have.get("hasUniqueValue"):
        raise HubSpotError(
            409,
            "CONFLICT",
            f"deal property {wanted['name']!r} exists but is not unique; HubSpot cannot change that — "
            "choose another name",
        )


def _by_unique_value(deals: Sequence[Mapping[str, object]], id_property: str) -> dict[str, dict[str, object]]:
    by_key: dict[str, dict[str, object]] = {}
    for deal in deals:
        key = deal.get(id_property)
        if key is None or str(key) == "":
            raise ValueError(f"every deal needs a value for {id_property!r}")
        by_key[str(key)] = dict(deal)
    return by_key


def _access_problem(exc: HubSpotError, api_url: str) -> str:
    if exc.status == 401:
        return (
            f"HubSpot token rejected (401 {exc.code}): check HUBSPOT_TOKEN — a service key or private app token (pat-…)"
        )
    return f"HubSpot unreachable at {api_url}: {exc.message}"


def _scope_problem(exc: HubSpotError, family: str, object_type: str, scope: str) -> str:
    if exc.status != 403:
        return f"HubSpot {family} {object_type}: {exc}"
    scopes = required_scopes(exc) or [scope]
    return (
        f"HubSpot token lacks scope {', '.join(scopes)} ({family} {object_type}); "
        f"the push also needs {', '.join(_WRITE_SCOPES)}"
    )
