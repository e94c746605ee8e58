"""Reading the cells the managers' view needs, forgiving of hand-typed values.

Every helper returns ``None`` (or an empty string) for a cell it cannot read: a bad cell is shown
in the record's Sync Notes by the job that owns it, never an error in a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bases.records import Record, normalize_email, parse_datetime

#: The primary field of each table: what a record is called in a list.
PRIMARY = {
    "Partners": "Name",
    "Activities": "Activity",
    "Referrals": "Referral",
    "Circles": "Name",
    "Members": "Member",
}


def select(value: Any) -> str | None:
    """A singleSelect cell's option name (the API may give a string or ``{"name": …}``)."""
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) and value else None


def text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def email(value: Any) -> str:
    """A normalized e-mail address, or '' when the cell is empty or not text."""
    return normalize_email(value) if isinstance(value, str) and value.strip() else ""


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).replace(",", "").strip()) if isinstance(value, str) else None
    except ValueError:
        return None


def cell_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value).strip()[:10]) if value else None
    except ValueError:
        return None


def cell_datetime(value: Any) -> datetime | None:
    try:
        return parse_datetime(value) if isinstance(value, str) and value.strip() else None
    except ValueError:
        return None


def created_at(record: Record) -> datetime | None:
    return cell_datetime(record.created_time)


def local_date(moment: datetime | None, zone: ZoneInfo) -> date | None:
    return moment.astimezone(zone).date() if moment is not None else None


def created_on(record: Record, zone: ZoneInfo) -> date | None:
    """The calendar day, in ``zone``, the record was created."""
    return local_date(created_at(record), zone)


def within(day: date, today: date, days: int) -> bool:
    """``day`` is in the last ``days`` days up to ``today`` (the health score's convention)."""
    return 0 <= (today - day).days <= days


def name_of(record: Record, table: str) -> str:
    """What a record is called: its primary field, else its e-mail, else its id."""
    for key in (PRIMARY.get(table, "Name"), "Email", "Partner Email"):
        value = text(record.get(key))
        if value:
            return value
    return record.id


def first_line(value: Any) -> str:
    lines = [line.strip() for line in text(value).splitlines() if line.strip()]
    return lines[0] if lines else ""


def link_ids(value: Any) -> list[str]:
    """The record ids of a link cell (ids or ``{"id": …}`` objects)."""
    if not isinstance(value, list):
        return []
    ids = [item.get("id") if isinstance(item, dict) else item for item in value]
    return [i for i in ids if isinstance(i, str)]


def partner_names(partners: Sequence[Record]) -> dict[str, str]:
    """Normalized e-mail → partner name."""
    return {email(p.get("Email")): name_of(p, "Partners") for p in partners if email(p.get("Email"))}
