"""The request bodies the fake HubSpot accepts, checked the way HubSpot's published schemas say.

Each check below is written by hand, in our own words, after reading HubSpot's request schemas
(HubSpot-public-api-spec-collection, CRM Objects/Properties/Associations specs, versions 2026-09
and v3/v4); HubSpot's spec files are not copied here (their licence forbids it). What is checked:
required fields, JSON types (a property value is a string, displayOrder an integer, hidden a
boolean, …) and the documented enumerations (filter operators, property types and field types,
association categories). A field a schema does not name is refused too: stricter than HubSpot, so
a misspelt key in the client fails a test instead of being ignored in production.

Version differences that matter: 2026-09's ``OptionInput`` requires ``displayOrder`` (v3 does
not). One documented departure from the published text: ``PublicObjectSearchRequest.sorts`` is
typed there as a list of strings, while HubSpot's search guide and SDKs send (and the server only
honours) ``{"propertyName", "direction"}`` objects — the fake requires objects.

A bad body gets HubSpot's 400 answer: category VALIDATION_ERROR, a message, and ``errors`` items
``{message, code, in, context}`` naming each field at fault.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

Check = Callable[[object, str], list["Problem"]]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a body: where (e.g. ``inputs[0].properties.amount``), a code, in words."""

    where: str
    code: str
    message: str

    def detail(self) -> dict[str, object]:
        """An ``ErrorDetail`` of HubSpot's error answer."""
        return {"message": self.message, "code": self.code, "in": self.where, "context": {"field": [self.where]}}


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def text(value: object, where: str) -> list[Problem]:
    return [] if isinstance(value, str) else [Problem(where, "INVALID_TYPE", f"{where} must be a string")]


def integer(value: object, where: str) -> list[Problem]:
    ok = isinstance(value, int) and not isinstance(value, bool)
    return [] if ok else [Problem(where, "INVALID_TYPE", f"{where} must be an integer")]


def boolean(value: object, where: str) -> list[Problem]:
    return [] if isinstance(value, bool) else [Problem(where, "INVALID_TYPE", f"{where} must be true or false")]


def one_of(*allowed: str) -> Check:
    def check(value: object, where: str) -> list[Problem]:
        if isinstance(value, str) and value in allowed:
            return []
        return [Problem(where, "INVALID_OPTION", f"{where} must be one of {', '.join(allowed)}, not {value!r}")]

    return check


def list_of(item: Check) -> Check:
    def check(value: object, where: str) -> list[Problem]:
        if not isinstance(value, list):
            return [Problem(where, "INVALID_TYPE", f"{where} must be a list")]
        return [p for i, element in enumerate(value) for p in item(element, f"{where}[{i}]")]

    return check


def map_of(item: Check) -> Check:
    def check(value: object, where: str) -> list[Problem]:
        if not isinstance(value, Mapping):
            return [Problem(where, "INVALID_TYPE", f"{where} must be an object")]
        return [p for key, element in value.items() for p in item(element, _at(where, str(key)))]

    return check


def obj(name: str, required: Mapping[str, Check], optional: Mapping[str, Check] | None = None) -> Check:
    """An object of schema ``name``: every ``required`` field present, no field outside the two lists."""
    allowed = {**required, **(optional or {})}

    def check(value: object, where: str) -> list[Problem]:
        label = where or "the body"
        if not isinstance(value, Mapping):
            return [Problem(where, "INVALID_TYPE", f"{label} must be a {name} object")]
        found = [
            Problem(_at(where, key), "REQUIRED_FIELD", f"{name} at {label} lacks required field {key}")
            for key in required
            if key not in value
        ]
        for key, element in value.items():
            if key not in allowed:
                found.append(Problem(_at(where, key), "UNKNOWN_FIELD", f"{name} has no field {key}"))
            else:
                found += allowed[key](element, _at(where, key))
        return found

    return check


# --- the schemas, in our words ------------------------------------------------------------------

OPERATORS = (
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
)  # fmt: skip
PROPERTY_TYPES = ("bool", "date", "datetime", "enumeration", "number", "phone_number", "string")
FIELD_TYPES = (
    "booleancheckbox", "calculation_equation", "checkbox", "date", "file", "html",
    "number", "phonenumber", "radio", "select", "text", "textarea",
)  # fmt: skip
ASSOCIATION_CATEGORIES = ("HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK")

PROPERTY_VALUES = map_of(text)  # every property value is a string ("" clears it)
OBJECT_ID = obj("PublicObjectId", {"id": text})
ASSOCIATION_SPEC = obj(
    "AssociationSpec", {"associationCategory": one_of(*ASSOCIATION_CATEGORIES), "associationTypeId": integer}
)
ASSOCIATIONS_FOR_OBJECT = obj("PublicAssociationsForObject", {"to": OBJECT_ID, "types": list_of(ASSOCIATION_SPEC)})
INPUT_FOR_CREATE = {"properties": PROPERTY_VALUES, "associations": list_of(ASSOCIATIONS_FOR_OBJECT)}

CREATE = obj("SimplePublicObjectInputForCreate", INPUT_FOR_CREATE)
BATCH_CREATE = obj(
    "BatchInputSimplePublicObjectBatchInputForCreate",
    {"inputs": list_of(obj("SimplePublicObjectBatchInputForCreate", INPUT_FOR_CREATE, {"objectWriteTraceId": text}))},
)
BATCH_UPSERT = obj(
    "BatchInputSimplePublicObjectBatchInputUpsert",
    {
        "inputs": list_of(
            obj(
                "SimplePublicObjectBatchInputUpsert",
                {"id": text, "properties": PROPERTY_VALUES},
                {"idProperty": text, "objectWriteTraceId": text},
            )
        )
    },
)
BATCH_READ = obj(
    "BatchReadInputSimplePublicObjectId",
    {
        "inputs": list_of(obj("SimplePublicObjectId", {"id": text})),
        "properties": list_of(text),
        "propertiesWithHistory": list_of(text),
    },
    {"idProperty": text},
)
FILTER = obj(
    "Filter",
    {"propertyName": text, "operator": one_of(*OPERATORS)},
    {"value": text, "highValue": text, "values": list_of(text)},
)
SORT = obj("Sort", {"propertyName": text}, {"direction": one_of("ASCENDING", "DESCENDING")})
SEARCH = obj(
    "PublicObjectSearchRequest",
    {
        "filterGroups": list_of(obj("FilterGroup", {"filters": list_of(FILTER)})),
        "sorts": list_of(SORT),
        "properties": list_of(text),
        "limit": integer,
        "after": text,
    },
    {"query": text},
)
PROPERTY_GROUP_CREATE = obj("PropertyGroupCreate", {"name": text, "label": text}, {"displayOrder": integer})
ASSOCIATION_READ = obj(
    "BatchInputPublicFetchAssociationsBatchRequest",
    {"inputs": list_of(obj("PublicFetchAssociationsBatchRequest", {"id": text}, {"after": text}))},
)
ASSOCIATE_DEFAULT = obj(
    "BatchInputPublicDefaultAssociationMultiPost",
    {"inputs": list_of(obj("PublicDefaultAssociationMultiPost", {"from": OBJECT_ID, "to": OBJECT_ID}))},
)
ASSOCIATION_CREATE = obj(
    "BatchInputPublicAssociationMultiPost",
    {
        "inputs": list_of(
            obj("PublicAssociationMultiPost", {"from": OBJECT_ID, "to": OBJECT_ID, "types": list_of(ASSOCIATION_SPEC)})
        )
    },
)


def property_create(dated: bool) -> Check:
    """``PropertyCreate``; its ``OptionInput`` requires displayOrder from the dated versions on."""
    option_required: dict[str, Check] = {"label": text, "value": text, "hidden": boolean}
    option_optional: dict[str, Check] = {"description": text, "displayOrder": integer}
    if dated:
        option_required["displayOrder"] = option_optional.pop("displayOrder")
    optional: dict[str, Check] = {
        "description": text,
        "displayOrder": integer,
        "hasUniqueValue": boolean,
        "hidden": boolean,
        "formField": boolean,
        "options": list_of(obj("OptionInput", option_required, option_optional)),
        "calculationFormula": text,
        "externalOptions": boolean,
        "referencedObjectType": text,
        "dataSensitivity": one_of("highly_sensitive", "non_sensitive", "sensitive"),
    }
    if not dated:  # v3 names a few display fields 2026-09 dropped
        optional |= {"currencyPropertyName": text, "showCurrencySymbol": boolean}
        optional |= {"numberDisplayHint": text, "textDisplayHint": text}
    required = {"name": text, "label": text, "type": one_of(*PROPERTY_TYPES), "fieldType": one_of(*FIELD_TYPES)}
    return obj("PropertyCreate", {**required, "groupName": text}, optional)


_OBJECT_BODIES: dict[tuple[str, str], tuple[str, Check]] = {
    ("POST", ""): ("SimplePublicObjectInputForCreate", CREATE),
    ("POST", "batch/create"): ("BatchInputSimplePublicObjectBatchInputForCreate", BATCH_CREATE),
    ("POST", "batch/upsert"): ("BatchInputSimplePublicObjectBatchInputUpsert", BATCH_UPSERT),
    ("POST", "batch/read"): ("BatchReadInputSimplePublicObjectId", BATCH_READ),
    ("POST", "search"): ("PublicObjectSearchRequest", SEARCH),
}
_ASSOCIATION_BODIES: dict[str, tuple[str, Check]] = {
    "batch/read": ("BatchInputPublicFetchAssociationsBatchRequest", ASSOCIATION_READ),
    "batch/associate/default": ("BatchInputPublicDefaultAssociationMultiPost", ASSOCIATE_DEFAULT),
    "batch/create": ("BatchInputPublicAssociationMultiPost", ASSOCIATION_CREATE),
}


def request_schema(family: str, method: str, segs: list[str], *, dated: bool) -> tuple[str, Check] | None:
    """(schema name, check) of the body this call takes; None when it takes no body.

    ``segs`` is the path after the object type (``["batch", "upsert"]``; for associations
    ``[toType, "batch", "read"]``).
    """
    rest = "/".join(segs)
    if family == "objects":
        return _OBJECT_BODIES.get((method, rest))
    if family == "properties" and method == "POST":
        if rest == "":
            return ("PropertyCreate", property_create(dated))
        if rest == "groups":
            return ("PropertyGroupCreate", PROPERTY_GROUP_CREATE)
    if family == "associations" and method == "POST":
        return _ASSOCIATION_BODIES.get("/".join(segs[1:]))
    return None


def check_body(family: str, method: str, segs: list[str], raw: bytes, body: object, *, dated: bool) -> list[Problem]:
    """What is wrong with this call's body (empty: nothing)."""
    schema = request_schema(family, method, segs, dated=dated)
    if schema is None:
        return [Problem("", "UNEXPECTED_BODY", "this call takes no request body")] if raw.strip() else []
    name, check = schema
    if not raw.strip():
        return [Problem("", "REQUIRED_FIELD", f"this call needs a {name} body")]
    return check(body, "")
