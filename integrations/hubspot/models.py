"""What the HubSpot client answers with (results, stages, amounts) and the small readers behind them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from integrations.hubspot.errors import HubSpotError, Json

T = TypeVar("T")

#: HubSpot's deal property holding the deal's ISO 4217 currency (empty: the company currency).
DEAL_CURRENCY_PROPERTY = "deal_currency_code"


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


@dataclass(frozen=True)
class DealAmount:
    """A deal's amount with its currency (ISO 4217 code, e.g. "EUR")."""

    amount: Decimal
    currency: str


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def properties_of(record: Mapping[str, Any]) -> Json:
    """A HubSpot record's ``properties`` object ({} when absent)."""
    props = record.get("properties")
    return dict(props) if isinstance(props, Mapping) else {}


def epoch_ms(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return str(int(when.timestamp() * 1000))


def parse_hs_datetime(value: object) -> datetime:
    """HubSpot datetimes: ISO-8601 ("2026-11-01T10:00:00.000Z") or epoch milliseconds."""
    if value is None or value == "":
        return datetime.min.replace(tzinfo=timezone.utc)
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_amount(value: object) -> Decimal | None:
    """A deal's ``amount`` ("1234.5"); None when empty or not a number."""
    if value is None or str(value).strip() == "":
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def stage_outcome(metadata: Mapping[str, Any]) -> tuple[bool, str]:
    """(is closed, outcome) from a stage's ``metadata.isClosed`` and ``probability`` (strings)."""
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


def stages_of(pipelines: Sequence[Mapping[str, Any]]) -> dict[str, Stage]:
    """Every live deal stage of these pipelines, by id."""
    out: dict[str, Stage] = {}
    for pipeline in pipelines:
        for raw in pipeline.get("stages") or []:
            if not isinstance(raw, Mapping) or raw.get("archived"):
                continue
            metadata = raw.get("metadata")
            is_closed, outcome = stage_outcome(metadata if isinstance(metadata, Mapping) else {})
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


def first_open_stage(
    pipelines: Sequence[Mapping[str, Any]], stages: Mapping[str, Stage], pipeline_id: str | None
) -> tuple[str, str]:
    """(pipeline id, id of its first open stage by displayOrder); default: the first pipeline."""
    ordered = sorted(pipelines, key=lambda p: (int(p.get("displayOrder", 0)), str(p.get("id"))))
    if pipeline_id is not None:
        ordered = [p for p in ordered if str(p.get("id")) == pipeline_id]
    if not ordered:
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"no deal pipeline {pipeline_id or ''}".strip())
    chosen = str(ordered[0].get("id"))
    open_stages = sorted(
        (s for s in stages.values() if s.pipeline_id == chosen and not s.is_closed), key=lambda s: s.display_order
    )
    if not open_stages:
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"deal pipeline {chosen} has no open stage")
    return chosen, open_stages[0].id
