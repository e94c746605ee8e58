from pathlib import Path

from bases.schema import BASES

DOC = (Path(__file__).resolve().parent.parent / "bases" / "README.md").read_text()


def test_every_field_and_view_of_the_templates_is_documented() -> None:
    for base in BASES:
        for table in base.tables:
            for field in table.fields:
                assert f"| {field.name} | {field.type} | {field.writer.value} |" in DOC
        for table, view, _how in base.views:
            assert f"| {base.name} | {table} | {view} |" in DOC
