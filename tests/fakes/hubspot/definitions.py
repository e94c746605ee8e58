"""The fake's definitions: properties and groups, pipelines, associations batch calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.fakes.hubspot.common import (
    DEFAULT_ASSOC_TYPE,
    DEFAULT_START,
    TYPE_IDS,
    TYPES,
    ApiError,
    Json,
    iso,
)


class DefinitionsMixin:
    """…/properties, …/pipelines and …/associations."""

    now: Callable[[], datetime]
    pipelines: list[Json]
    _properties: dict[str, dict[str, Json]]
    _groups: dict[str, dict[str, Json]]

    def _property_model(self, body: Json, *, hubspot_defined: bool = False) -> Json:
        stamp = iso(DEFAULT_START)
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
        stamp = iso(DEFAULT_START)
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
        to_type = TYPES.get(segs[0])
        if to_type is None:
            raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {segs[0]}")
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise ApiError(400, "VALIDATION_ERROR", "Invalid input JSON: 'inputs' is required")
        started = iso(self.now())
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
                type_id = DEFAULT_ASSOC_TYPE.get((from_type, to_type), 0)
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
            "fromObjectTypeId": TYPE_IDS[from_type],
            "fromObjectId": int(from_id),
            "toObjectTypeId": TYPE_IDS[to_type],
            "toObjectId": int(to_id),
            "labels": [],
        }
