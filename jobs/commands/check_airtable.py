"""`check` and `bases check` against live Airtable: the token, each base, the Circles table.

Calls: 1 to list the bases the token may use (a rejected token is told apart from an unknown
base here), 1 schema per base it can see, and 1 read of the Circles table (only `check`).
"""

from __future__ import annotations

from bases.drift import compare
from bases.fields import CircleF
from bases.records import Record
from bases.schema import BASES, BaseDef
from integrations.airtable import AirtableClient, AirtableError
from jobs.commands.airtable_words import DEFAULT_API_URL, explain_airtable_error, said
from jobs.commands.checklist import Checklist, network_fix, no_answer
from jobs.refused import AIRTABLE_TOKEN_FIX, base_refused
from jobs.settings import BASE_VARS

LIST_PAGE = 1000  # Airtable lists up to this many bases a page: a full page may not hold them all


def check_token(client: AirtableClient, report: Checklist) -> set[str] | None:
    """The ids of the bases the token may use (1 call); None when the token cannot be used."""
    try:
        bases = client.list_bases()
    except AirtableError as exc:
        _token_failed(exc, report)
        return None
    report.ok(f"Airtable token: accepted; it may use {len(bases)} base(s)")
    return {str(b.get("id")) for b in bases}


def _token_failed(exc: AirtableError, report: Checklist) -> None:
    if exc.status == 401:
        report.fail("Airtable token (AIRTABLE_TOKEN)", f"the token was rejected: {said(exc)}", AIRTABLE_TOKEN_FIX)
    elif exc.status == 0:
        report.fail(
            "Airtable (AIRTABLE_API_URL)",
            f"no answer: {no_answer(exc)}",
            network_fix("AIRTABLE_API_URL", DEFAULT_API_URL),
        )
    elif exc.status == 403:
        report.fail(
            "Airtable token (AIRTABLE_TOKEN)",
            f"it may not list bases: {said(exc)}",
            "give the token the scope schema.bases:read at https://airtable.com/create/tokens",
        )
    else:
        report.fail_line(explain_airtable_error(exc, "Airtable token (AIRTABLE_TOKEN)"))


def check_schemas(client: AirtableClient, visible: set[str], report: Checklist) -> set[str]:
    """Each base against its template (1 call per base the token may use); the keys of those read."""
    readable: set[str] = set()
    for base in BASES:
        if _check_base(client, base, visible, report):
            readable.add(base.key)
    return readable


def _check_base(client: AirtableClient, base: BaseDef, visible: set[str], report: Checklist) -> bool:
    var, base_id = BASE_VARS[base.key], client.base_id(base.key)
    if base_id not in visible and len(visible) < LIST_PAGE:
        report.fail_line(
            f"{base.name} base: {base_refused(var, base_id, 'not in the list of bases the token may use')}"
        )
        return False
    try:
        schema = client.schema(base.key)
    except AirtableError as exc:
        report.fail_line(explain_airtable_error(exc, f"{base.name} base ({var}={base_id}): cannot read the schema"))
        return False
    differences = compare(base, schema)
    if not differences:
        report.ok(f"{base.name} base: reachable, schema matches the template")
    for difference in differences:
        report.fail_line(str(difference))
    return True


def read_circles(client: AirtableClient, report: Checklist) -> list[Record] | None:
    """The Circles table as it is in Airtable now (1 call), or None when it cannot be read."""
    try:
        records = client.list_records(CircleF.BASE, CircleF.TABLE)
    except AirtableError as exc:
        report.fail_line(explain_airtable_error(exc, "Circles base › Circles: cannot read the circles"))
        return None
    report.ok(f"Circles base › Circles: {len(records)} circle(s) read live from Airtable")
    return records
