"""`partnerops bases create` and `partnerops bases check`."""

from __future__ import annotations

from typing import TextIO

from bases.drift import create_base_body, link_fields
from bases.schema import BASES, CIRCLE_DEFAULTS
from integrations.airtable import AirtableError
from jobs.app import App
from jobs.commands.airtable_words import _client, explain_airtable_error
from jobs.commands.check import _check_airtable
from jobs.settings import BASE_VARS, Settings


def cmd_bases_check(settings: Settings, out: TextIO) -> int:
    app = App.open(settings)
    try:
        failures = _check_airtable(_client(app), out)
    finally:
        app.close()
    print("the bases match the templates" if not failures else f"{failures} difference(s)", file=out)
    return 0 if not failures else 1


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
