"""The fake's CRM records: single and batch create, batch upsert and read, property checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.fakes.hubspot.common import (
    BATCH_LIMIT,
    READ_ONLY,
    TYPE_IDS,
    TYPES,
    ApiError,
    Json,
    StoredObject,
    iso,
)


class ObjectsMixin:
    """…/objects/{type}[/…]: the records and their associations."""

    now: Callable[[], datetime]
    pipelines: list[Json]
    company_currency: str
    additional_currencies: list[str]
    _next_id: int
    _objects: dict[str, dict[str, StoredObject]]
    _properties: dict[str, dict[str, Json]]
    _associations: set[tuple[str, str, str, str]]

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
            to_type = TYPES.get(segs[3])
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

    def _get_object(self, object_type: str, object_id: str) -> StoredObject:
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
        clean = {k: "" if v is None else str(v) for k, v in props.items() if k not in READ_ONLY}
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

    def _create_one(self, object_type: str, body: Any) -> StoredObject:
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
        started = iso(self.now())
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
        answer: Json = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso(self.now())}
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
                type_id = TYPE_IDS[object_type]
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
        started = iso(self.now())
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
        started = iso(self.now())
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

    def _create(self, object_type: str, props: dict[str, str]) -> StoredObject:
        self._next_id += 1
        now = self.now()
        obj = StoredObject(str(self._next_id), object_type, dict(props), now, now)
        obj.properties["hs_object_id"] = obj.id
        obj.properties["createdate"] = iso(now)
        obj.properties["hs_lastmodifieddate"] = iso(now)
        self._objects[object_type][obj.id] = obj
        return obj

    def _touch(self, obj: StoredObject) -> None:
        obj.updated = self.now()
        obj.properties["hs_lastmodifieddate"] = iso(obj.updated)

    def _link(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self._associations.add((from_type, from_id, to_type, to_id))
        self._associations.add((to_type, to_id, from_type, from_id))
