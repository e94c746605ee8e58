from typing import Any

from bases.drift import compare, create_base_body, field_ids, link_fields
from bases.schema import PARTNERS


def live_schema(base: Any = PARTNERS) -> dict[str, Any]:
    """The schema Airtable would report for a base created from the template."""
    tables = []
    for ti, body in enumerate(create_base_body(base)):
        fields = [{"id": f"fld{ti}{i:02d}", **f} for i, f in enumerate(body["fields"])]
        tables.append({"id": f"tbl{ti}", "name": body["name"], "fields": fields})
    ids = {t["name"]: t["id"] for t in tables}
    for table_id, field in link_fields(base, ids):
        table = next(t for t in tables if t["id"] == table_id)
        table["fields"].append({"id": f"fldL{table_id}", **field})
    return {"tables": tables}


def test_a_base_made_from_the_template_has_no_differences() -> None:
    assert compare(PARTNERS, live_schema()) == []


def test_missing_field_wrong_type_missing_option_and_missing_table() -> None:
    schema = live_schema()
    partners = schema["tables"][0]
    partners["fields"] = [f for f in partners["fields"] if f["name"] != "Owner"]
    for f in partners["fields"]:
        if f["name"] == "Health Score":
            f["type"] = "singleLineText"
        if f["name"] == "Health Band":
            f["options"]["choices"] = [c for c in f["options"]["choices"] if c["name"] != "At risk"]
    schema["tables"] = [partners]
    texts = [str(d) for d in compare(PARTNERS, schema)]
    assert "Partners › Partners › Owner: is missing. Fix: add a email field named 'Owner'" in texts[0]
    assert any("Health Score: is a singleLineText field but the template expects number" in t for t in texts)
    assert any("Health Band: has no option 'At risk'" in t for t in texts)
    assert any("Partners › Activities: table is missing" in t for t in texts)


def test_renamed_field_is_recognised_by_its_id() -> None:
    schema = live_schema()
    known = field_ids(schema)
    for f in schema["tables"][0]["fields"]:
        if f["name"] == "Email":
            f["name"] = "E-mail address"
    diffs = compare(PARTNERS, schema, known)
    assert len(diffs) == 1
    assert "was renamed to 'E-mail address'" in str(diffs[0])
    assert "rename 'E-mail address' back to 'Email'" in diffs[0].fix
    assert diffs[0].blocking


def test_renamed_field_is_guessed_without_ids() -> None:
    schema = live_schema()
    for f in schema["tables"][0]["fields"]:
        if f["name"] == "Joined On":
            f["name"] = "Start date"
    (diff,) = compare(PARTNERS, schema)
    assert "'Start date' looks like it was renamed from it" in diff.problem
