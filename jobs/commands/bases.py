"""`partnerops bases create` and `partnerops bases check [--fix]`."""

from __future__ import annotations

from typing import TextIO

from bases.drift import compare, create_base_body, field_body, link_fields
from bases.schema import BASES, CIRCLE_DEFAULTS, BaseDef
from integrations.airtable import AirtableClient, AirtableError
from jobs.app import App
from jobs.commands.airtable_words import _client, explain_airtable_error
from jobs.commands.check import _check_airtable
from jobs.settings import BASE_VARS, Settings
from jobs.store.local import LocalStore
from jobs.store.state import load_sync


def cmd_bases_check(settings: Settings, out: TextIO, *, fix: bool = False) -> int:
    """Compare the live bases with the templates; with ``fix``, first add the template fields a
    base simply lacks (a field added by a newer version, or deleted by hand)."""
    app = App.open(settings)
    try:
        client = _client(app)
        if fix:
            for base in BASES:
                add_missing_fields(client, app.store, base, out)
        failures = _check_airtable(client, out)
    finally:
        app.close()
    print("the bases match the templates" if not failures else f"{failures} difference(s)", file=out)
    return 0 if not failures else 1


def add_missing_fields(client: AirtableClient, store: LocalStore, base: BaseDef, out: TextIO) -> int:
    """Create, through Airtable's metadata API, each template field ``base`` lacks and that was not
    renamed (a rename is fixed by renaming back, never by a second field). Nothing else is
    touched: no record, no other field, no table. The fields added, counted."""
    try:
        schema = client.schema(base.key)
    except AirtableError as exc:
        print(explain_airtable_error(exc, f"reading base {base.name}"), file=out)
        return 0
    sync = load_sync(store, base.key)
    known = sync.get("field_ids", {}) if sync is not None else {}
    table_ids = {str(t["name"]): str(t["id"]) for t in schema.get("tables", [])}
    added = 0
    for d in compare(base, schema, known):
        if not d.addable or d.field is None:
            continue
        table = next(t for t in base.tables if t.name == d.table)
        try:
            client.create_field(
                client.base_id(base.key), table_ids[d.table], field_body(table.field(d.field), table_ids)
            )
        except AirtableError as exc:
            print(explain_airtable_error(exc, f"adding {d.table} › {d.field}"), file=out)
            continue
        print(f"added {base.name} › {d.table} › {d.field} ({table.field(d.field).type})", file=out)
        added += 1
    return added


def cmd_bases_create(settings: Settings, workspace: str, out: TextIO) -> int:
    app = App.open(settings)
    try:
        client = _client(app)
        created: dict[str, str] = {}
        for base in BASES:
            try:
                answer = client.create_base(workspace, base.name, create_base_body(base))
                table_ids = {t["name"]: t["id"] for t in answer.get("tables", [])}
                for table_id, body in link_fields(base, table_ids):
                    client.create_field(answer["id"], table_id, body)
            except AirtableError as exc:
                print(explain_airtable_error(exc, f"creating base {base.name}"), file=out)
                return 1
            created[base.key] = answer["id"]
            print(f"created base {base.name}: {answer['id']}", file=out)
        client.base_ids.update(created)
        client.create("circles", "Circles", [dict(CIRCLE_DEFAULTS)])
        print("\nadd these lines to .env:", file=out)
        for key, base_id in created.items():
            print(f"{BASE_VARS[key]}={base_id}", file=out)
        print("\nthen add the views listed in bases/README.md, and fill Slack Channel ID of the circle", file=out)
        return 0
    finally:
        app.close()
