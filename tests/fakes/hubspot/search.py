"""The fake's CRM search: filters, one sort, paging and the 10,000-result cap."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from tests.fakes.hubspot.common import (
    DATE_PROPS,
    SEARCH_MAX_FILTERS,
    SEARCH_MAX_FILTERS_PER_GROUP,
    SEARCH_MAX_GROUPS,
    SEARCH_PAGE_LIMIT,
    TYPES,
    ApiError,
    Json,
    StoredObject,
)


class SearchMixin:
    """POST …/objects/{type}/search."""

    search_cap: int
    _objects: dict[str, dict[str, StoredObject]]
    _properties: dict[str, dict[str, Json]]
    _associations: set[tuple[str, str, str, str]]

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
            matched.sort(key=lambda o: (sort_key(name, o.properties.get(name)), int(o.id)), reverse=descending)
        else:
            matched.sort(key=lambda o: int(o.id))
        page = matched[after : after + limit]
        names = list(body.get("properties") or [])
        answer: Json = {"total": len(matched), "results": [o.model(names) for o in page]}
        if after + limit < len(matched):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return answer

    def _matches(self, obj: StoredObject, group: Json) -> bool:
        return all(self._filter(obj, f) for f in group.get("filters") or [])

    def _filter(self, obj: StoredObject, flt: Json) -> bool:
        name, op = str(flt.get("propertyName")), str(flt.get("operator", "EQ"))
        if name.startswith("associations."):
            other = TYPES.get(name.split(".", 1)[1], "")
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
            equal = compare(name, actual, value) == 0
            return equal if op == "EQ" else not equal
        if actual == "":
            return False
        cmp = compare(name, actual, value)
        if op == "BETWEEN":
            return cmp >= 0 and compare(name, actual, flt.get("highValue")) <= 0
        return {"GT": cmp > 0, "GTE": cmp >= 0, "LT": cmp < 0, "LTE": cmp <= 0}.get(op, False)


def to_ms(value: Any) -> float | None:
    if value is None or value == "":
        return None
    text = str(value)
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return None


def compare(name: str, actual: Any, value: Any) -> int:
    if name in DATE_PROPS:
        a, b = to_ms(actual), to_ms(value)
        if a is not None and b is not None:
            return (a > b) - (a < b)
    try:
        fa, fb = float(actual), float(value)
        return (fa > fb) - (fa < fb)
    except (TypeError, ValueError):
        sa, sb = str(actual).lower(), str(value).lower()
        return (sa > sb) - (sa < sb)


def sort_key(name: str, value: Any) -> tuple[int, float, str]:
    if name in DATE_PROPS:
        ms = to_ms(value)
        return (0, ms if ms is not None else float("-inf"), "")
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value or ""))
