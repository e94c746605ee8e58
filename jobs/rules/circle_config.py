"""A Circles record as settings the rules can trust (SPEC §2.3 defaults for empty cells)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bases.records import Record, parse_fields
from bases.schema import CIRCLE_DEFAULTS, table_def

CIRCLES_TABLE = table_def("circles", "Circles")

DEFAULT_NAME: str = CIRCLE_DEFAULTS["Name"]
DEFAULT_ENTER: int = CIRCLE_DEFAULTS["Enter Score"]
DEFAULT_LEAVE: int = CIRCLE_DEFAULTS["Leave Score"]
DEFAULT_STALE_AFTER_DAYS: int = CIRCLE_DEFAULTS["Stale After Days"]

CHANNEL_ID_RE = re.compile(r"^[CG][A-Z0-9]{6,}$")


# --- configuration and views of records -------------------------------------------------------


def _channel_id(raw: str) -> str | None:
    """A Slack channel id from what a manager pasted: the id itself or a link ending in it."""
    text = raw.strip()
    if CHANNEL_ID_RE.match(text):
        return text
    for part in reversed([p for p in re.split(r"[/?#&=]", text) if p]):
        if CHANNEL_ID_RE.match(part):
            return part
    return None


@dataclass(frozen=True)
class CircleConfig:
    """One Circles record, with SPEC §2.3 defaults for empty cells."""

    id: str
    name: str
    channel_id: str | None
    enter: int = DEFAULT_ENTER
    leave: int = DEFAULT_LEAVE
    stale_after_days: int = DEFAULT_STALE_AFTER_DAYS
    max_members: int | None = None
    perks: str = ""
    active: bool = True
    trusted: bool = True  # its thresholds are readable and consistent (see from_record)

    @property
    def runs(self) -> bool:
        """Whether the rules act on this circle now: Active, trusted, with a channel."""
        return self.active and self.trusted and self.channel_id is not None

    @classmethod
    def from_record(cls, rec: Record) -> tuple[CircleConfig, list[str]]:
        """The circle's settings and, in plain words, what is wrong with the record.

        A circle whose thresholds cannot be trusted — a number that is not a number, a Leave
        Score above the Enter Score, a Stale After Days below 1, a negative Max Members — is not
        run at all (``trusted`` is False) until a manager fixes it: a default could remove members
        the manager meant to keep. A Slack Channel ID that is not a channel id is None.
        """
        parsed = parse_fields(CIRCLES_TABLE, rec.fields)
        values = parsed.values
        defaults: dict[str, Any] = {
            "Enter Score": DEFAULT_ENTER,
            "Leave Score": DEFAULT_LEAVE,
            "Stale After Days": DEFAULT_STALE_AFTER_DAYS,
            "Max Members": "no cap",
        }
        problems: list[str] = []
        trusted = True
        for p in parsed.problems:
            if p.field in defaults:
                problems.append(f"{p}; nobody joins or leaves this circle until it is fixed")
                trusted = False
            elif p.field != "Sync Notes":
                problems.append(str(p))

        name = str(values.get("Name") or "").strip() or DEFAULT_NAME
        active = bool(values.get("Active", False))
        enter: int = values.get("Enter Score", DEFAULT_ENTER)
        leave: int = values.get("Leave Score", DEFAULT_LEAVE)
        stale: int = values.get("Stale After Days", DEFAULT_STALE_AFTER_DAYS)
        max_members: int | None = values.get("Max Members")

        held = "; nobody joins or leaves this circle until it is fixed"
        if enter > 100:
            problems.append(f"Enter Score ({enter}) is above 100: no partner can reach it; use a score from 0 to 100")
        if enter < 0:
            problems.append(f"Enter Score ({enter}) is below 0; use a score from 0 to 100{held}")
            trusted = False
        if leave < 0:
            problems.append(
                f"Leave Score ({leave}) is below 0: nobody would ever leave for a low score; use a score from 0 to 100"
            )
        if leave > enter:
            problems.append(f"Leave Score ({leave}) is above Enter Score ({enter}): set Leave Score below it{held}")
            trusted = False
        if stale < 1:
            problems.append(f"Stale After Days ({stale}) must be at least 1{held}")
            trusted = False
        if max_members is not None and max_members < 0:
            problems.append(f"Max Members ({max_members}) cannot be negative; leave it empty for no cap{held}")
            trusted = False

        raw_channel = values.get("Slack Channel ID")
        channel_id: str | None = None
        if isinstance(raw_channel, str) and raw_channel.strip():
            channel_id = _channel_id(raw_channel)
            if channel_id is None:
                problems.append(
                    f"Slack Channel ID '{raw_channel.strip()}' does not look like a channel id (C… or G…);"
                    " in Slack open the private channel's details and copy the Channel ID at the bottom"
                )
        elif active:
            problems.append(
                "Slack Channel ID is empty: nobody can be invited; paste the private channel's id (C… or G…)"
            )

        perks = values.get("Perks")
        config = cls(
            id=rec.id,
            name=name,
            channel_id=channel_id,
            enter=enter,
            leave=leave,
            stale_after_days=stale,
            max_members=max_members,
            perks=perks.strip() if isinstance(perks, str) else "",
            active=active,
            trusted=trusted,
        )
        return config, problems
