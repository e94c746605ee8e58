"""Records in Airtable's shape, and parsing that turns a bad cell into a plain-words problem.

A manager types into Airtable by hand, so a bad e-mail, text in a number, an unknown select
option or a missing key is normal input: :func:`parse_fields` never raises; it returns the
values it could read and a list of :class:`Problem` for the rest, which the jobs write into
the record's Sync Notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from bases.schema import FieldDef, TableDef

EMAIL_RE = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[A-Za-z]{2,}$")
AIRTABLE_DATETIME = "%Y-%m-%dT%H:%M:%S.000Z"


@dataclass(frozen=True)
class Record:
    """One Airtable record: what the API returns and what the local store holds."""

    id: str
    created_time: str
    fields: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "createdTime": self.created_time, "fields": dict(self.fields)}

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Record:
        return cls(raw["id"], raw.get("createdTime", ""), dict(raw.get("fields") or {}))

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class Parsed:
    values: dict[str, Any]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def normalize_email(value: str) -> str:
    return value.strip().lower()


def is_email(value: str) -> bool:
    return bool(EMAIL_RE.match(value.strip()))


def format_date(value: date) -> str:
    return value.isoformat()


def format_datetime(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime(AIRTABLE_DATETIME)


def parse_datetime(value: str) -> datetime:
    text = value.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


Cell = str | int | float | bool | list[str] | None
"""A cell value in Airtable's REST shape, as the jobs write it."""


def is_empty(value: object) -> bool:
    """The one definition of an empty cell: absent, None, blank text, an empty list, or an
    unchecked checkbox (Airtable omits all of these). Zero is a value, not an empty cell."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | dict) and not value


def to_cell(value: object) -> Cell:
    """A Python value in Airtable's cell format (dates ISO, date-times UTC ``…000Z``; empty → None)."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_date(value)
    if is_empty(value):
        return None
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def _comparable(value: object) -> object:
    if isinstance(value, dict) and "name" in value:  # a select option in the V2 shape
        return value["name"]
    if isinstance(value, str):
        return value.rstrip()
    if isinstance(value, list):
        return [_comparable(v.get("id") if isinstance(v, dict) else v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def same_cell(old: object, new: object) -> bool:
    """The one definition of "unchanged": both empty, or equal once written as a cell
    (5 == 5.0, a trailing newline of a long text and a select's V2 shape do not count)."""
    if is_empty(old) and is_empty(new):
        return True
    return _comparable(to_cell(old) if not isinstance(old, dict) else old) == _comparable(to_cell(new))


def cell_diff(current: dict[str, Any], wanted: dict[str, object]) -> dict[str, Cell]:
    """The cells of ``wanted`` that differ from ``current``, in cell format (None clears a cell).

    Used by every planner and by the writer, so they agree on what a write would change."""
    return {name: to_cell(value) for name, value in wanted.items() if not same_cell(current.get(name), value)}


def _parse_cell(f: FieldDef, raw: Any) -> Any:
    """Return the typed value of one cell, or raise ValueError with a plain-words reason."""
    t = f.type
    if t == "email":
        text = str(raw).strip()
        if not is_email(text):
            raise ValueError(f"'{text}' is not a valid e-mail address (expected name@company.com)")
        return normalize_email(text)
    if t in ("number", "currency"):
        if isinstance(raw, bool):
            raise ValueError(f"'{raw}' is not a number")
        try:
            number = float(str(raw).replace(",", "").strip()) if isinstance(raw, str) else float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"'{raw}' is not a number") from None
        return int(round(number)) if f.integer else number
    if t == "date":
        try:
            return date.fromisoformat(str(raw).strip()[:10])
        except ValueError:
            raise ValueError(f"'{raw}' is not a date (expected YYYY-MM-DD)") from None
    if t == "dateTime":
        try:
            return parse_datetime(str(raw))
        except ValueError:
            raise ValueError(f"'{raw}' is not a date and time") from None
    if t == "singleSelect":
        text = str(raw.get("name", "")) if isinstance(raw, dict) else str(raw)
        if text not in f.choices:
            raise ValueError(f"'{text}' is not one of: {', '.join(f.choices)}")
        return text
    if t == "checkbox":
        return bool(raw)
    if t == "multipleRecordLinks":
        if not isinstance(raw, list):
            raise ValueError("expected a link to a record")
        return [item["id"] if isinstance(item, dict) else str(item) for item in raw]
    return str(raw)


def parse_fields(table: TableDef, raw: dict[str, Any]) -> Parsed:
    """Typed values of the fields the template defines, and a problem for each bad cell.

    Required fields that are empty are problems; unknown extra fields are ignored (managers may
    add their own columns).
    """
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for f in table.fields:
        cell = raw.get(f.name)
        if is_empty(cell) and f.type != "checkbox":
            if f.required:
                problems.append(Problem(f.name, "is empty; it is needed to use this record"))
            continue
        try:
            values[f.name] = _parse_cell(f, cell)
        except ValueError as exc:
            problems.append(Problem(f.name, str(exc)))
    return Parsed(values, problems)


def sync_notes(problems: list[Problem], extra: list[str] | None = None) -> str:
    """The text of a Sync Notes cell: one line per problem, empty when all is well."""
    lines = [str(p) for p in problems] + list(extra or [])
    return "\n".join(lines)
