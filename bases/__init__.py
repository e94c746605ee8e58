"""The data model: the three Airtable base templates, records and parsing. No I/O here."""

from bases.records import Parsed, Problem, Record, parse_fields
from bases.schema import BASES, BaseDef, FieldDef, TableDef, Writer, base, table_def

__all__ = [
    "BASES",
    "BaseDef",
    "FieldDef",
    "Parsed",
    "Problem",
    "Record",
    "TableDef",
    "Writer",
    "base",
    "parse_fields",
    "table_def",
]
