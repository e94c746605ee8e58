"""Compare a live Airtable base schema with its template and explain every difference.

Used by ``bases check``, ``check`` and ``sync`` (which reads only the fields that exist and
refuses to trust a table whose key fields are gone). Pure: the live schema comes in as the JSON
of Airtable's "get base schema" call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bases.schema import BaseDef, FieldDef, TableDef

# Types that hold the same cells, so a template field of one kind may live as the other.
COMPATIBLE_TYPES = {
    ("singleLineText", "multilineText"),
    ("email", "singleLineText"),
    ("number", "currency"),
    ("currency", "number"),
    ("number", "percent"),
}


@dataclass(frozen=True)
class Difference:
    base: str
    table: str
    field: str | None
    problem: str
    fix: str
    blocking: bool  # True: the jobs cannot use this table (or field) until it is fixed
    #: the template field is simply missing (no sign of a rename): `bases check --fix` adds it
    addable: bool = False
    #: what happened: "table" (missing), "renamed" (certain, by its id), "renamed?" (a guess),
    #: "deleted" (it was there at the last check), "missing" (never seen: e.g. a field a newer
    #: template added), "type", "option".
    kind: str = ""

    def __str__(self) -> str:
        where = f"{self.base} › {self.table}" + (f" › {self.field}" if self.field else "")
        return f"{where}: {self.problem}. Fix: {self.fix}"


def _live_tables(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in schema.get("tables", [])}


def _type_ok(template: str, live: str) -> bool:
    return template == live or (template, live) in COMPATIBLE_TYPES


def _rename_candidates(table: TableDef, live_fields: dict[str, dict[str, Any]], missing: FieldDef) -> list[str]:
    template_names = {f.name.lower() for f in table.fields}
    return [
        name
        for name, lf in live_fields.items()
        if name.lower() not in template_names and _type_ok(missing.type, lf.get("type", ""))
    ]


def _field_differences(
    base: BaseDef, table: TableDef, live: dict[str, Any], known_ids: dict[str, str]
) -> list[Difference]:
    out: list[Difference] = []
    live_fields = {f["name"]: f for f in live.get("fields", [])}
    by_id = {f.get("id"): f for f in live.get("fields", [])}
    for fd in table.fields:
        lf = live_fields.get(fd.name)
        if lf is None:
            out.append(_missing_field(base, table, fd, live_fields, by_id, known_ids))
            continue
        if not _type_ok(fd.type, lf.get("type", "")):
            out.append(
                Difference(
                    base.name,
                    table.name,
                    fd.name,
                    f"is a {lf.get('type')} field but the template expects {fd.type}",
                    f"change the field type to {fd.type} in Airtable (field menu › Edit field)",
                    blocking=fd.required or fd.writer.job_may_write,
                    kind="type",
                )
            )
            continue
        live_choices = {c.get("name") for c in (lf.get("options") or {}).get("choices", [])}
        for choice in fd.choices:
            if choice not in live_choices:
                out.append(
                    Difference(
                        base.name,
                        table.name,
                        fd.name,
                        f"has no option {choice!r}",
                        f"add the option {choice!r} to {fd.name} (field menu › Edit field)",
                        blocking=fd.writer.job_may_write,
                        kind="option",
                    )
                )
    return out


def _missing_field(
    base: BaseDef,
    table: TableDef,
    fd: FieldDef,
    live_fields: dict[str, dict[str, Any]],
    by_id: dict[Any, dict[str, Any]],
    known_ids: dict[str, str],
) -> Difference:
    known_id = known_ids.get(f"{table.name}.{fd.name}")
    known = by_id.get(known_id)
    candidates = _rename_candidates(table, live_fields, fd)
    addable = False
    if known is not None:
        kind, problem = "renamed", f"was renamed to {known['name']!r}"
        fix = f"rename {known['name']!r} back to {fd.name!r}; the jobs find fields by name"
    elif len(candidates) == 1:
        kind, problem = "renamed?", f"is missing; {candidates[0]!r} looks like it was renamed from it"
        fix = f"rename {candidates[0]!r} back to {fd.name!r}, or add a {fd.type} field named {fd.name!r}"
    elif known_id is not None:
        kind, problem = "deleted", "was deleted in Airtable (it was there at the last check)"
        fix = f"add a {fd.type} field named {fd.name!r} again (`partnerops bases check --fix` does); the jobs fill what is theirs"
        addable = True
    else:
        kind, problem = "missing", "is missing"
        fix = f"add a {fd.type} field named {fd.name!r}, or run `partnerops bases check --fix` to add it"
        addable = True
    return Difference(base.name, table.name, fd.name, problem, fix, blocking=True, addable=addable, kind=kind)


def compare(base: BaseDef, schema: dict[str, Any], known_ids: dict[str, str] | None = None) -> list[Difference]:
    """Every difference between the template of ``base`` and the live ``schema``.

    ``known_ids`` maps "Table.Field" to the field id seen at the last sync, which turns a
    guess about a rename into a certainty.
    """
    out: list[Difference] = []
    live = _live_tables(schema)
    for table in base.tables:
        lt = live.get(table.name)
        if lt is None:
            out.append(
                Difference(
                    base.name,
                    table.name,
                    None,
                    "table is missing",
                    f"create a table named {table.name!r} (or rename it back); see bases/README.md",
                    blocking=True,
                    kind="table",
                )
            )
            continue
        out.extend(_field_differences(base, table, lt, known_ids or {}))
    return out


def field_ids(schema: dict[str, Any]) -> dict[str, str]:
    """ "Table.Field" → field id, to remember at sync time."""
    return {f"{t['name']}.{f['name']}": f["id"] for t in schema.get("tables", []) for f in t.get("fields", [])}


def field_body(fd: FieldDef, table_ids: dict[str, str] | None = None) -> dict[str, Any]:
    """The body of a create-field request for a template field (a link needs ``table_ids``)."""
    entry: dict[str, Any] = {"name": fd.name, "type": fd.type}
    if fd.description:
        entry["description"] = fd.description
    options = fd.create_options(table_ids)
    if options is not None:
        entry["options"] = options
    return entry


def create_base_body(base: BaseDef) -> list[dict[str, Any]]:
    """The `tables` of a create-base request. Link fields need the linked table's id, so they
    are created afterwards with :func:`link_fields`."""
    tables = []
    for table in base.tables:
        fields = []
        for fd in table.fields:
            if fd.type == "multipleRecordLinks":
                continue
            fields.append(field_body(fd))
        tables.append({"name": table.name, "description": table.description, "fields": fields})
    return tables


def link_fields(base: BaseDef, table_ids: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """(table id, field body) for each link field, once the tables exist."""
    out = []
    for table in base.tables:
        for fd in table.fields:
            if fd.type == "multipleRecordLinks":
                out.append(
                    (table_ids[table.name], {"name": fd.name, "type": fd.type, "options": fd.create_options(table_ids)})
                )
    return out
