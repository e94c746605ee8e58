"""The archive files: each archived record appended to ``PARTNEROPS_HOME/archive/<base>-<table>.csv``.

Idempotent, so a run killed at any point writes no record twice: a row whose record id is in the
file already with the same cells is skipped; with other cells (the record was edited after an
earlier export, and kept in Airtable) its row is replaced. The file is rewritten whole and moved
into place (write a temporary file, fsync, rename), so a kill never leaves half a row. A started
export is reconciled by reading the file: every row there, the export happened.

UTF-8 with a byte-order mark (spreadsheets then read accents right; the mark sits before the
"Record ID" header, a column Airtable's CSV import does not need), RFC 4180 quoting.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime
from pathlib import Path

from jobs.apply.drain import EffectFailed, Result
from jobs.plan import RECORD_ID_COLUMN, ArchiveExport, Effect, JsonValue

RECORD_ID = RECORD_ID_COLUMN
ENCODING = "utf-8-sig"

Row = dict[str, str]


def _text(value: JsonValue) -> str:
    return "" if value is None else str(value)


class ArchiveFile:
    """One table's archive file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> tuple[list[str], list[Row]]:
        """The header and the rows (none when there is no file yet)."""
        if not self.path.exists():
            return [], []
        with self.path.open(encoding=ENCODING, newline="") as f:
            reader = csv.DictReader(f)
            rows = [{k: v or "" for k, v in row.items() if k is not None} for row in reader]
            return list(reader.fieldnames or []), rows

    def ids(self) -> set[str]:
        return {row.get(RECORD_ID, "") for row in self.read()[1]}

    def merge(self, new_rows: list[Row]) -> int:
        """Add the rows not there yet (replace a record's row whose cells changed); how many were written."""
        header, rows = self.read()
        index = {row.get(RECORD_ID, ""): i for i, row in enumerate(rows)}
        written = 0
        for row in new_rows:
            at = index.get(row[RECORD_ID])
            if at is not None and _same(rows[at], row):
                continue
            if at is None:
                index[row[RECORD_ID]] = len(rows)
                rows.append(row)
            else:
                rows[at] = row
            written += 1
            header += [k for k in row if k not in header]
        if written:
            self._replace(header, rows)
        return written

    def has(self, new_rows: list[Row]) -> bool:
        rows = {row.get(RECORD_ID, ""): row for row in self.read()[1]}
        return all(r[RECORD_ID] in rows and _same(rows[r[RECORD_ID]], r) for r in new_rows)

    def _replace(self, header: list[str], rows: list[Row]) -> None:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.tmp")
        with temp.open("w", encoding=ENCODING, newline="") as f:
            f.write(out.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, self.path)
        _sync_folder(self.path.parent)


def _same(old: Row, new: Row) -> bool:
    return all(old.get(k, "") == v for k, v in new.items())


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (where the platform lets a folder be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _payload(effect: Effect) -> ArchiveExport:
    if not isinstance(effect.payload, ArchiveExport):
        raise EffectFailed(f"the archive cannot carry out {effect.kind}")
    return effect.payload


def _rows(payload: ArchiveExport) -> list[Row]:
    return [{k: _text(v) for k, v in row.items()} for row in payload.rows]


class ArchiveExecutor:
    """Writes archived records to the archive files under ``folder`` (PARTNEROPS_HOME/archive)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def file(self, base: str, table: str) -> ArchiveFile:
        return ArchiveFile(self.folder / f"{base}-{table}.csv")

    def run(self, effect: Effect) -> Result:
        p = _payload(effect)
        try:
            written = self.file(p.base, p.table).merge(_rows(p))
        except OSError as exc:
            raise EffectFailed(f"could not write the archive file: {exc}", permanent=False) from None
        return {"written": written, "rows": len(p.rows)}

    def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
        p = _payload(effect)
        try:
            there = self.file(p.base, p.table).has(_rows(p))
        except OSError:
            return None
        return {"written": 0, "rows": len(p.rows)} if there else None
