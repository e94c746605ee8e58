"""`partnerops bases create` and `partnerops bases check [--fix]`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TextIO

from bases.drift import compare, create_base_body, field_body, link_fields
from bases.schema import BASES, CIRCLE_DEFAULTS, BaseDef
from integrations.airtable import AirtableClient, AirtableError
from jobs.app import App
from jobs.commands.airtable_words import _client, explain_airtable_error, said
from jobs.commands.check import _check_airtable
from jobs.commands.env_file import EnvFileError, write_env
from jobs.refused import AIRTABLE_SCOPES, AIRTABLE_TOKEN_FIX
from jobs.settings import BASE_VARS, Settings
from jobs.store.local import LocalStore
from jobs.store.state import load_sync

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
WORKSPACE_RE = re.compile(r"^wsp[A-Za-z0-9]{14}$")
WORKSPACE_HOW = (
    "the workspace id is in the address of the workspace's page on airtable.com (https://airtable.com/workspaces/wsp…), "
    "or in the URL of any of its bases' sharing settings"
)


class CreateRefused(Exception):
    """`bases create` would do the wrong thing (a second set of bases, a bad workspace): nothing made."""


def cmd_bases_check(settings: Settings, out: TextIO, *, fix: bool = False) -> int:
    """Compare the live bases with the templates; with ``fix``, first add the template fields a
    base simply lacks (a field added by a newer version, or deleted by hand)."""
    app = App.open(settings)
    try:
        client = _client(app)
        if fix:
            for base in BASES:
                add_missing_fields(client, app.store, base, out)
        failures = _check_airtable(client, out, settings.secrets())
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


def cmd_bases_create(
    settings: Settings, workspace: str, out: TextIO, *, force: bool = False, env_file: Path | None = None
) -> int:
    """The three bases from the templates; refused when the configured bases exist (unless ``force``);
    with ``env_file``, their ids are written into it."""
    app = App.open(settings)
    try:
        client = _client(app)
        try:
            _may_create(client, settings, workspace, force)
        except CreateRefused as exc:
            print(f"nothing created: {exc}", file=out)
            return EXIT_USAGE
        created = _create_all(client, workspace, out)
        if created is None:
            return EXIT_FAILED
    finally:
        app.close()
    return _tell_ids(created, env_file, out)


def _may_create(client: AirtableClient, settings: Settings, workspace: str, force: bool) -> None:
    """Raise :class:`CreateRefused` for a workspace id of the wrong shape, a rejected token, or a
    configured set of bases that exists (1 call: the bases the token may use)."""
    if not WORKSPACE_RE.match(workspace):
        raise CreateRefused(
            f"--workspace {workspace!r} is not a workspace id (wsp and 14 letters/digits): {WORKSPACE_HOW}"
        )
    try:
        visible = {str(b.get("id")): str(b.get("name", "")) for b in client.list_bases()}
    except AirtableError as exc:
        if exc.status == 401:
            raise CreateRefused(f"the token was rejected: {said(exc)}. Fix: {AIRTABLE_TOKEN_FIX}") from None
        raise CreateRefused(explain_airtable_error(exc, "listing the bases the token may use")) from None
    existing = [f"{BASE_VARS[k]}={v}" for k, v in settings.base_ids.items() if v and v in visible]
    if existing and not force:
        raise CreateRefused(
            f"the configured bases exist ({', '.join(existing)}); a new set would split the program's data in two. "
            "Fix: keep them (`partnerops bases check` compares them with the templates), or pass --force "
            "to create a second set anyway"
        )


def _create_all(client: AirtableClient, workspace: str, out: TextIO) -> dict[str, str] | None:
    """Create the three bases and the default circle; None (each failure told) when one failed."""
    created: dict[str, str] = {}
    for base in BASES:
        try:
            answer = client.create_base(workspace, base.name, create_base_body(base))
            created[base.key] = answer["id"]
            table_ids = {t["name"]: t["id"] for t in answer.get("tables", [])}
            for table_id, body in link_fields(base, table_ids):
                client.create_field(answer["id"], table_id, body)
        except AirtableError as exc:
            print(_create_failed(exc, base.name, workspace, created), file=out)
            return None
        print(f"created base {base.name}: {answer['id']}", file=out)
    client.base_ids.update(created)
    try:
        client.create("circles", "Circles", [dict(CIRCLE_DEFAULTS)])
    except AirtableError as exc:
        print(explain_airtable_error(exc, "creating the default circle (add it by hand in the Circles base)"), file=out)
    return created


def _create_failed(exc: AirtableError, name: str, workspace: str, created: dict[str, str]) -> str:
    if exc.status in (403, 404) and not created:
        why = (
            f"creating base {name}: Airtable refused workspace {workspace} ({said(exc)}). Fix: check --workspace: "
            f"{WORKSPACE_HOW}; and that the token lists that workspace as a resource with the scopes {AIRTABLE_SCOPES}"
        )
    else:
        why = explain_airtable_error(exc, f"creating base {name}")
    if created:
        done = ", ".join(f"{BASE_VARS[k]}={v}" for k, v in created.items())
        why += f"\nalready created: {done} (delete them in Airtable, or keep them and create the rest by hand)"
    return why


def _tell_ids(created: dict[str, str], env_file: Path | None, out: TextIO) -> int:
    lines = {BASE_VARS[key]: base_id for key, base_id in created.items()}
    status = EXIT_OK
    if env_file is None:
        print("\nadd these lines to .env (or run again with --write-env):", file=out)
    else:
        try:
            write_env(env_file, lines)
            print(f"\nwrote these lines into {env_file} (its other lines are as they were):", file=out)
        except EnvFileError as exc:
            print(f"\n{exc}; add these lines to it by hand:", file=out)
            status = EXIT_FAILED
    for var, base_id in lines.items():
        print(f"{var}={base_id}", file=out)
    print("\nthen add the views listed in bases/README.md, and fill Slack Channel ID of the circle", file=out)
    return status
