"""The three Airtable bases of SPEC §2, as data.

Everything else is derived from :data:`BASES`: typed records and cell parsing
(:mod:`bases.records`), the local store's tables, provisioning and drift checks
(:mod:`bases.drift`) and the sample data (:mod:`bases.sample`). Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Writer(str, Enum):
    """Who writes a field (SPEC §2): a job never overwrites a manager's field."""

    MANAGER = "M"
    JOB = "J"
    FORM = "F"
    MANAGER_OR_JOB = "M/J"
    FORM_OR_MANAGER = "F/M"

    @property
    def job_may_write(self) -> bool:
        return self in (Writer.JOB, Writer.MANAGER_OR_JOB)


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    writer: Writer
    choices: tuple[str, ...] = ()
    link_to: str | None = None  # table name in the same base, for multipleRecordLinks
    required: bool = False  # a record without it cannot be used (shown in Sync Notes)
    integer: bool = False
    description: str = ""

    def create_options(self, table_ids: dict[str, str] | None = None) -> dict[str, Any] | None:
        """The `options` Airtable's metadata API needs to create this field."""
        if self.type in ("singleSelect", "multipleSelects"):
            return {"choices": [{"name": c} for c in self.choices]}
        if self.type == "number":
            return {"precision": 0 if self.integer else 2}
        if self.type == "currency":
            return {"precision": 2, "symbol": "$"}
        if self.type == "date":
            return {"dateFormat": {"name": "iso"}}
        if self.type == "dateTime":
            return {
                "dateFormat": {"name": "iso"},
                "timeFormat": {"name": "24hour"},
                "timeZone": "utc",
            }
        if self.type == "checkbox":
            return {"icon": "check", "color": "greenBright"}
        if self.type == "multipleRecordLinks":
            if table_ids is None or self.link_to not in table_ids:
                return None
            return {"linkedTableId": table_ids[self.link_to]}
        return None


@dataclass(frozen=True)
class TableDef:
    name: str
    fields: tuple[FieldDef, ...]
    description: str = ""

    @property
    def primary(self) -> FieldDef:
        return self.fields[0]

    def field(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"table {self.name!r} has no field {name!r}")

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def job_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.writer.job_may_write]


@dataclass(frozen=True)
class BaseDef:
    key: str  # "partners", "referrals", "circles": names the AIRTABLE_<KEY>_BASE variable
    name: str
    tables: tuple[TableDef, ...]
    views: tuple[tuple[str, str, str], ...] = field(default=())  # (table, view, how to build it)

    def table(self, name: str) -> TableDef:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"base {self.name!r} has no table {name!r}")


M, J, F, MJ, FM = (
    Writer.MANAGER,
    Writer.JOB,
    Writer.FORM,
    Writer.MANAGER_OR_JOB,
    Writer.FORM_OR_MANAGER,
)

PARTNER_TYPES = ("Agency", "Technology", "Consultant", "Affiliate", "Customer", "Other")
STAGES = ("Prospect", "Recruited", "Onboarded", "Active", "Stale")
BANDS = ("New", "Top", "Healthy", "At risk", "Stale")
OVERRIDES = ("Auto", "Always in", "Never in")
ACTIVITY_KINDS = ("Meeting", "Co-marketing", "Event", "Training", "Other")
DIRECTIONS = ("From partner", "To partner")
REFERRAL_STATUSES = (
    "New",
    "Accepted",
    "Duplicate",
    "Rejected",
    "In CRM",
    "Introduced",
    "Won",
    "Lost",
    "Expired",
)
ATTRIBUTIONS = ("Sourced", "Influenced")
MEMBER_STATUSES = ("Active", "Removed", "Pending invite")

SYNC_NOTES = FieldDef("Sync Notes", "multilineText", J, description="What is wrong with this record and how to fix it")


def _f(name: str, type_: str, writer: Writer, **kw: Any) -> FieldDef:
    return FieldDef(name, type_, writer, **kw)


PARTNERS = BaseDef(
    key="partners",
    name="Partners",
    tables=(
        TableDef(
            "Partners",
            (
                _f("Name", "singleLineText", M),
                _f("Email", "email", M, required=True),
                _f("Company", "singleLineText", M),
                _f("Type", "singleSelect", M, choices=PARTNER_TYPES),
                _f("Stage", "singleSelect", MJ, choices=STAGES),
                _f("Owner", "email", M),
                _f("Joined On", "date", M),
                _f("Circle Override", "singleSelect", M, choices=OVERRIDES),
                _f("Do Not Message", "checkbox", M),
                _f("Notes", "multilineText", M),
                _f("Slack User ID", "singleLineText", J),
                _f("Health Score", "number", J, integer=True),
                _f("Health Band", "singleSelect", J, choices=BANDS),
                _f("Previous Band", "singleSelect", J, choices=BANDS),
                _f("Band Changed On", "date", J),
                _f("Last Referral On", "date", J),
                _f("First Referral On", "date", J),
                _f("Referrals 90d", "number", J, integer=True),
                _f("Won Referrals", "number", J, integer=True),
                _f(
                    "Health Detail",
                    "multilineText",
                    J,
                    description="The score's four parts in plain words; changes only when a part changes",
                ),
                _f(
                    "Referrals Given", "number", J, integer=True, description="Referrals we gave this partner, all time"
                ),
                _f("Last Given On", "date", J, description="When we last gave this partner a referral"),
                SYNC_NOTES,
            ),
            "One partner contact: a person at a partner company.",
        ),
        TableDef(
            "Activities",
            (
                _f("Activity", "singleLineText", M),
                _f("Partner", "multipleRecordLinks", M, link_to="Partners", required=True),
                _f("Kind", "singleSelect", M, choices=ACTIVITY_KINDS),
                _f("Date", "date", M, required=True),
                _f("Notes", "multilineText", M),
                SYNC_NOTES,
            ),
            "Touchpoints that count as engagement.",
        ),
    ),
    views=(
        (
            "Partners",
            "At risk",
            "Grid view filtered on Health Band is 'At risk' or 'Stale', sorted by Health Score ascending",
        ),
        ("Partners", "Top partners", "Grid view filtered on Health Band is 'Top', sorted by Health Score descending"),
        ("Partners", "Needs attention", "Grid view filtered on Sync Notes is not empty"),
        ("Activities", "Needs attention", "Grid view filtered on Sync Notes is not empty"),
    ),
)

REFERRALS = BaseDef(
    key="referrals",
    name="Referrals",
    tables=(
        TableDef(
            "Referrals",
            (
                _f("Referral", "singleLineText", FM),
                _f("Direction", "singleSelect", FM, choices=DIRECTIONS, required=True),
                _f("Partner Email", "email", FM, required=True),
                _f("Company", "singleLineText", FM),
                _f("Company Domain", "singleLineText", FM),
                _f("Contact Name", "singleLineText", FM),
                _f("Contact Email", "email", FM),
                _f("Notes", "multilineText", FM),
                _f("Status", "singleSelect", MJ, choices=REFERRAL_STATUSES),
                _f("Attribution", "singleSelect", J, choices=ATTRIBUTIONS),
                _f("Conflict With", "singleLineText", J),
                _f("Expires On", "date", J),
                _f("CRM ID", "singleLineText", J),
                _f("CRM Stage", "singleLineText", J),
                _f("CRM Pushed At", "dateTime", J),
                _f("Amount", "currency", J),
                _f("Intro Sent At", "dateTime", J),
                SYNC_NOTES,
            ),
            "Both directions: leads partners send us, and leads we give to partners.",
        ),
    ),
    views=(
        ("Referrals", "New referrals", "Grid view filtered on Status is 'New', sorted by created time descending"),
        (
            "Referrals",
            "Partner form",
            "Form view with Referral, Partner Email, Company, Company Domain, Contact Name, Contact Email, Notes (Direction preset to 'From partner')",
        ),
        ("Referrals", "In CRM", "Grid view filtered on Status is 'In CRM', grouped by CRM Stage"),
        ("Referrals", "Needs attention", "Grid view filtered on Sync Notes is not empty"),
    ),
)

CIRCLES = BaseDef(
    key="circles",
    name="Circles",
    tables=(
        TableDef(
            "Circles",
            (
                _f("Name", "singleLineText", M),
                _f("Slack Channel ID", "singleLineText", M),
                _f("Enter Score", "number", M, integer=True),
                _f("Leave Score", "number", M, integer=True),
                _f("Stale After Days", "number", M, integer=True),
                _f("Max Members", "number", M, integer=True),
                _f("Perks", "multilineText", M),
                _f("Active", "checkbox", M),
                SYNC_NOTES,
            ),
            "Private Slack channels of top partners.",
        ),
        TableDef(
            "Members",
            (
                _f("Member", "singleLineText", J),
                _f("Circle", "multipleRecordLinks", J, link_to="Circles"),
                _f("Partner Email", "email", J),
                _f("Status", "singleSelect", J, choices=MEMBER_STATUSES),
                _f("Joined On", "date", J),
                _f("Removed On", "date", J),
                _f("Reason", "singleLineText", J),
                SYNC_NOTES,
            ),
            "Who is (or was) in which circle, and why they left.",
        ),
    ),
    views=(
        ("Members", "Active members", "Grid view filtered on Status is 'Active', grouped by Circle"),
        ("Members", "Pending invite", "Grid view filtered on Status is 'Pending invite'"),
        ("Circles", "Needs attention", "Grid view filtered on Sync Notes is not empty"),
    ),
)

BASES: tuple[BaseDef, ...] = (PARTNERS, REFERRALS, CIRCLES)

CIRCLE_DEFAULTS: dict[str, Any] = {
    "Name": "Top Partners",
    "Enter Score": 75,
    "Leave Score": 50,
    "Stale After Days": 90,
    "Active": True,
}


def base(key: str) -> BaseDef:
    for b in BASES:
        if b.key == key:
            return b
    raise KeyError(f"unknown base {key!r}; valid: {', '.join(b.key for b in BASES)}")


def table_def(base_key: str, table: str) -> TableDef:
    return base(base_key).table(table)


def all_tables() -> list[tuple[BaseDef, TableDef]]:
    return [(b, t) for b in BASES for t in b.tables]
