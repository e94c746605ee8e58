"""Every request body the client sends, built to HubSpot's published request schema.

Each type below is named after HubSpot's schema (HubSpot-public-api-spec-collection, CRM specs
for 2026-09 and v3/v4: for these bodies the two versions require the same, except that 2026-09's
``OptionInput`` also requires ``displayOrder`` — always sent). The shapes are written in our own
words; HubSpot's spec files are not copied here.

One deliberate difference from the published text: ``PublicObjectSearchRequest.sorts`` is typed
there as a list of strings, but HubSpot's search guide, and its SDKs after users' reports, send
``{"propertyName", "direction"}`` objects (strings are ignored by the server). We send objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict


class OptionInput(TypedDict):
    """``OptionInput``: one choice of an enumeration property; all four fields are required."""

    label: str
    value: str
    displayOrder: int
    hidden: bool


class _PropertyCreateRequired(TypedDict):
    name: str
    label: str
    type: str
    fieldType: str
    groupName: str


class PropertyCreate(_PropertyCreateRequired, total=False):
    """``PropertyCreate`` (POST …/properties/{objectType})."""

    description: str
    hasUniqueValue: bool
    options: list[OptionInput]
    displayOrder: int
    formField: bool
    hidden: bool


class PropertyGroupCreate(TypedDict):
    """``PropertyGroupCreate`` (POST …/properties/{objectType}/groups): name and label required."""

    name: str
    label: str
    displayOrder: int


class _UpsertInputRequired(TypedDict):
    id: str
    properties: dict[str, str]


class UpsertInput(_UpsertInputRequired, total=False):
    """``SimplePublicObjectBatchInputUpsert``: id and properties (string values) required."""

    idProperty: str
    objectWriteTraceId: str


class UpsertBatch(TypedDict):
    """``BatchInputSimplePublicObjectBatchInputUpsert`` (POST …/objects/{objectType}/batch/upsert)."""

    inputs: list[UpsertInput]


class ObjectId(TypedDict):
    """``SimplePublicObjectId`` / ``PublicFetchAssociationsBatchRequest`` without ``after``."""

    id: str


class _BatchReadRequired(TypedDict):
    inputs: list[ObjectId]
    properties: list[str]
    propertiesWithHistory: list[str]


class BatchRead(_BatchReadRequired, total=False):
    """``BatchReadInputSimplePublicObjectId`` (POST …/batch/read): propertiesWithHistory is required."""

    idProperty: str


class _FilterRequired(TypedDict):
    propertyName: str
    operator: str


class Filter(_FilterRequired, total=False):
    """``Filter``: propertyName and operator required; values are strings."""

    value: str
    highValue: str
    values: list[str]


class FilterGroup(TypedDict):
    """``FilterGroup``: filters required."""

    filters: list[Filter]


class Sort(TypedDict):
    propertyName: str
    direction: str


class SearchRequest(TypedDict):
    """``PublicObjectSearchRequest``: after, filterGroups, limit, properties and sorts all required."""

    filterGroups: list[FilterGroup]
    sorts: list[Sort]
    properties: list[str]
    limit: int
    after: str


class AssociationRead(TypedDict):
    """``BatchInputPublicFetchAssociationsBatchRequest`` (POST …/associations/{from}/{to}/batch/read)."""

    inputs: list[ObjectId]


PROPERTY_CREATE_REQUIRED = ("name", "label", "type", "fieldType", "groupName")
FIRST_PAGE = "0"


def property_values(properties: Mapping[str, object]) -> dict[str, str]:
    """Property values as HubSpot's write schemas require: strings ("" clears; booleans "true"/"false")."""
    return {name: _as_text(value) for name, value in properties.items()}


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def option_inputs(options: Sequence[Mapping[str, Any]]) -> list[OptionInput]:
    """``OptionInput``s: label and value as given, displayOrder by position and hidden False unless set."""
    return [
        OptionInput(
            label=str(option["label"]),
            value=str(option["value"]),
            displayOrder=int(option.get("displayOrder", index)),
            hidden=bool(option.get("hidden", False)),
        )
        for index, option in enumerate(options)
    ]


def property_create(spec: Mapping[str, Any], default_group: str) -> PropertyCreate:
    """A ``PropertyCreate`` from a caller's definition (``groupName`` defaults to ``default_group``)."""
    merged = {"groupName": default_group, **spec}
    missing = [k for k in PROPERTY_CREATE_REQUIRED if not merged.get(k)]
    if missing:
        raise ValueError(f"property definition {spec.get('name')!r} lacks {', '.join(missing)}")
    body = PropertyCreate(
        name=str(merged["name"]),
        label=str(merged["label"]),
        type=str(merged["type"]),
        fieldType=str(merged["fieldType"]),
        groupName=str(merged["groupName"]),
    )
    if "description" in merged:
        body["description"] = str(merged["description"])
    if "hasUniqueValue" in merged:
        body["hasUniqueValue"] = bool(merged["hasUniqueValue"])
    if "formField" in merged:
        body["formField"] = bool(merged["formField"])
    if "hidden" in merged:
        body["hidden"] = bool(merged["hidden"])
    if "displayOrder" in merged:
        body["displayOrder"] = int(merged["displayOrder"])
    if merged.get("options"):
        body["options"] = option_inputs(merged["options"])
    return body


def property_group_create(name: str) -> PropertyGroupCreate:
    return PropertyGroupCreate(name=name, label=name.replace("_", " ").title(), displayOrder=-1)


def upsert_input(key: str, id_property: str, properties: Mapping[str, object], *, trace: bool) -> UpsertInput:
    """One upsert input keyed on ``id_property`` = ``key``; ``trace`` adds objectWriteTraceId = key."""
    item = UpsertInput(id=key, idProperty=id_property, properties=property_values(properties))
    if trace:
        item["objectWriteTraceId"] = key
    return item


def batch_read(ids: Sequence[str], properties: Sequence[str], id_property: str | None = None) -> BatchRead:
    body = BatchRead(inputs=[ObjectId(id=i) for i in ids], properties=list(properties), propertiesWithHistory=[])
    if id_property is not None:
        body["idProperty"] = id_property
    return body


def search_request(
    filter_groups: Sequence[FilterGroup],
    properties: Sequence[str],
    *,
    sorts: Sequence[Sort] = (),
    limit: int,
    after: str | None = None,
) -> SearchRequest:
    return SearchRequest(
        filterGroups=list(filter_groups),
        sorts=list(sorts),
        properties=list(properties),
        limit=limit,
        after=FIRST_PAGE if after is None else after,
    )


def eq(name: str, value: str) -> Filter:
    return Filter(propertyName=name, operator="EQ", value=value)


def association_read(ids: Sequence[str]) -> AssociationRead:
    return AssociationRead(inputs=[ObjectId(id=i) for i in ids])
