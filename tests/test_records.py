from datetime import date

import pytest

from bases.records import parse_fields, sync_notes
from bases.schema import BASES, table_def

PARTNERS = table_def("partners", "Partners")
REFERRALS = table_def("referrals", "Referrals")


def test_good_partner_parses_to_typed_values() -> None:
    parsed = parse_fields(
        PARTNERS,
        {
            "Name": "Jane Doe",
            "Email": " Jane@Acme.Example ",
            "Type": "Agency",
            "Joined On": "2026-01-05",
            "Health Score": 80,
            "Do Not Message": True,
        },
    )
    assert parsed.ok
    assert parsed.values["Email"] == "jane@acme.example"
    assert parsed.values["Joined On"] == date(2026, 1, 5)
    assert parsed.values["Health Score"] == 80
    assert parsed.values["Do Not Message"] is True


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"Email": "jane@"}, "Email", "not a valid e-mail address"),
        ({}, "Email", "is empty"),
        ({"Email": "a@b.example", "Health Score": "high"}, "Health Score", "not a number"),
        ({"Email": "a@b.example", "Type": "Reseller"}, "Type", "not one of: Agency"),
        ({"Email": "a@b.example", "Joined On": "last tuesday"}, "Joined On", "not a date"),
    ],
)
def test_bad_cells_become_plain_words_problems(fields: dict[str, object], field: str, words: str) -> None:
    parsed = parse_fields(PARTNERS, fields)
    assert [p.field for p in parsed.problems] == [field]
    assert words in parsed.problems[0].message
    assert field not in parsed.values


def test_unknown_extra_columns_are_ignored() -> None:
    assert parse_fields(PARTNERS, {"Email": "a@b.example", "My own column": "x"}).ok


def test_sync_notes_text_is_one_line_per_problem() -> None:
    parsed = parse_fields(REFERRALS, {"Direction": "Sideways", "Partner Email": "nope"})
    notes = sync_notes(parsed.problems)
    assert notes.splitlines() == [
        "Direction: 'Sideways' is not one of: From partner, To partner",
        "Partner Email: 'nope' is not a valid e-mail address (expected name@company.com)",
    ]


def test_every_table_has_sync_notes_and_a_text_primary_field() -> None:
    for base in BASES:
        for table in base.tables:
            assert "Sync Notes" in table.field_names
            assert table.primary.type == "singleLineText"
            assert table.field("Sync Notes").writer.job_may_write
