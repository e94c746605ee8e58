"""Batch upsert by a unique property, with the answer read per input.

A 207 answer fails only the bad inputs; a whole-batch 400 is split in halves to isolate the bad
input (stopping when both halves are refused alike). A batch whose outcome is unknown (5xx or no
answer) raises :class:`HubSpotError` with ``outcome_unknown=True`` and is never repeated here:
repeating an upsert by a unique property is safe (it finds the same records), so the caller may
repeat it after reconciling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from integrations.hubspot.bodies import UpsertBatch, UpsertInput
from integrations.hubspot.errors import HubSpotError, Json, error_keys
from integrations.hubspot.models import UpsertResult, properties_of
from integrations.hubspot.transport import Transport


class BatchUpsert:
    """Upserts of one object type keyed on ``id_property``, through ``transport``."""

    def __init__(self, transport: Transport, object_type: str, id_property: str) -> None:
        self.transport = transport
        self.id_property = id_property
        self.path = transport.path("objects", f"{object_type}/batch/upsert")

    def send(self, inputs: Sequence[UpsertInput]) -> dict[str, UpsertResult]:
        """The result per input id (the unique value)."""
        outcome = self._try(inputs)
        if isinstance(outcome, HubSpotError):
            if outcome.status == 400 and len(inputs) > 1:
                return self._bisect(inputs)
            return _all_failed(inputs, outcome)
        return self._results(inputs, outcome)

    def _try(self, inputs: Sequence[UpsertInput]) -> Json | HubSpotError:
        """The answer, or the refusal; raises when the outcome is unknown (the caller reconciles)."""
        try:
            return self.transport.request("POST", self.path, json=UpsertBatch(inputs=list(inputs)))[1]
        except HubSpotError as exc:
            if exc.outcome_unknown:
                raise
            return exc

    def _bisect(self, inputs: Sequence[UpsertInput]) -> dict[str, UpsertResult]:
        """Send each half; recurse into a refused half. Both halves refused alike: the batch itself is bad
        (e.g. a non-unique idProperty), every input gets that error and no more calls are made."""
        half = len(inputs) // 2
        parts = [inputs[:half], inputs[half:]]
        first, second = (self._try(part) for part in parts)
        if _same_refusal(first, second) and isinstance(first, HubSpotError):
            return _all_failed(inputs, first)
        out: dict[str, UpsertResult] = {}
        for part, outcome in zip(parts, (first, second), strict=True):
            if not isinstance(outcome, HubSpotError):
                out.update(self._results(part, outcome))
            elif outcome.status == 400 and len(part) > 1:
                out.update(self._bisect(part))
            else:
                out.update(_all_failed(part, outcome))
        return out

    def _results(self, inputs: Sequence[UpsertInput], answer: Json) -> dict[str, UpsertResult]:
        keys = [item["id"] for item in inputs]
        out: dict[str, UpsertResult] = {}
        for item in answer.get("results") or []:
            key = item.get("objectWriteTraceId") or properties_of(item).get(self.id_property)
            if key is not None:
                out[str(key)] = UpsertResult(id=str(item.get("id")), new=bool(item.get("new", False)))
        for raw in answer.get("errors") or []:
            if not isinstance(raw, Mapping):
                continue
            err = self.transport.refusal(207, raw, self.path)
            for key in error_keys(raw):
                if key in keys and key not in out:
                    out[key] = UpsertResult(error=err)
        for key in keys:
            if key not in out:
                missing = HubSpotError(207, "MISSING_RESULT", "no result for this input", outcome_unknown=True)
                out[key] = UpsertResult(error=missing)
        return out


def _same_refusal(first: Json | HubSpotError, second: Json | HubSpotError) -> bool:
    return (
        isinstance(first, HubSpotError)
        and isinstance(second, HubSpotError)
        and first.status == second.status
        and first.message == second.message
    )


def _all_failed(inputs: Sequence[UpsertInput], error: HubSpotError) -> dict[str, UpsertResult]:
    return {item["id"]: UpsertResult(error=error) for item in inputs}
