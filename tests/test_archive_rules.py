"""The archive's pure rules (what qualifies, how many, the effects) and its CSV file."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bases.records import Record, format_datetime
from bases.schema import table_def
from jobs.apply.archive import ArchiveFile
from jobs.plan import ArchiveExport, Count, RecordDelete, record_version
from jobs.rules.archive import ArchiveInputs, calls_needed, plan_archive, to_free, touched
from jobs.rules.archive_rows import archive_row, history, superseded

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


def rec(rid: str, days_ago: int, **fields: object) -> Record:
    return Record(rid, format_datetime(NOW - timedelta(days=days_ago)), dict(fields))


def day(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).date().isoformat()


def test_untouched_is_the_newest_date_known_of_the_record() -> None:
    won = rec("r1", 700, Status="Won", **{"CRM Pushed At": format_datetime(NOW - timedelta(days=300))})
    assert touched(won, "Referrals") == NOW - timedelta(days=300)
    expired = rec("r2", 700, Status="Expired", **{"Expires On": day(400)})
    assert touched(expired, "Referrals") == datetime.combine(
        (NOW - timedelta(days=399)).date(), datetime.min.time(), tzinfo=timezone.utc
    )  # a date counts as its whole day
    assert touched(rec("r3", 700, Status="In CRM"), "Referrals") is None  # open: never archived
    assert touched(rec("a1", 10, Date=day(500)), "Activities") == NOW - timedelta(days=10)  # back-filled
    assert touched(rec("a2", 500), "Activities") is None  # undated
    assert touched(rec("m1", 600, Status="Active", **{"Removed On": day(500)}), "Members") is None
    assert touched(rec("m2", 600, Status="Removed", **{"Removed On": day(500)}), "Members") is not None


def test_how_many_go_under_70_percent() -> None:
    assert to_free(850, 1000, auto=False) == 151  # 699 left: under 70%
    assert to_free(650, 1000, auto=False) == 0
    assert to_free(790, 1000, auto=True) == 0  # auto waits for 80%
    assert to_free(800, 1000, auto=True) == 101
    assert to_free(15, 15, auto=False) == 5  # 10 of 15 is under 70% (10.5)
    assert to_free(5, 0, auto=False) is None  # no cap: everything that qualifies


def inputs(n: int, **kw: object) -> ArchiveInputs:
    referrals = [rec(f"rec{i:03}", 800 - i, Status="Lost", Referral=f"R{i}") for i in range(n)]
    args: dict[str, object] = {
        "records": {("referrals", "Referrals"): referrals},
        "counts": {"partners": 0, "referrals": n, "circles": 0},
        "names": {},
        "now": NOW,
        "cap": 0,
        **kw,
    }
    return ArchiveInputs(**args)  # type: ignore[arg-type]


def test_the_plan_exports_each_ten_before_deleting_them_oldest_first() -> None:
    plan = plan_archive(inputs(23))
    kinds = [e.kind for e in plan.effects]
    assert kinds == ["archive.export", "airtable.delete"] * 3
    assert plan.counts[Count.ARCHIVED] == 23 and calls_needed(plan) == 3
    for export, delete in zip(plan.effects[::2], plan.effects[1::2], strict=True):
        assert export.group == delete.group  # the delete runs only after its export succeeded
        assert isinstance(export.payload, ArchiveExport) and isinstance(delete.payload, RecordDelete)
        assert [r["Record ID"] for r in export.payload.rows] == delete.payload.ids
        assert len(delete.payload.ids) <= 10 and set(delete.payload.versions) == set(delete.payload.ids)
    first = plan.effects[1].payload
    assert isinstance(first, RecordDelete) and first.ids[0] == "rec000"  # the oldest


def test_the_budget_limits_the_plan_and_says_the_rest_waits() -> None:
    plan = plan_archive(inputs(23, max_calls=2))
    assert plan.counts[Count.ARCHIVED] == 20 and calls_needed(plan) == 2
    assert any("3 more record(s) qualify" in line for line in plan.story)
    assert plan_archive(inputs(23, max_calls=0)).effects == []


def test_a_record_seen_edited_counts_as_touched_then() -> None:
    plan = plan_archive(inputs(3, edited={"rec000": NOW - timedelta(days=3)}))
    ids = [i for e in plan.effects if isinstance(e.payload, RecordDelete) for i in e.payload.ids]
    assert ids == ["rec001", "rec002"]


def test_a_row_holds_every_field_as_text_a_spreadsheet_reads_back() -> None:
    r = rec(
        "recA",
        400,
        Activity="Call",
        Partner=["recP1", "recP2"],
        Date="2025-01-02",
        Notes="two\nlines",
        Extra=True,
        Score=12.0,
    )
    row = archive_row(r, table_def("partners", "Activities"), {"recP1": "Jane Doe"})
    assert row["Record ID"] == "recA" and row["Created Time"] == r.created_time
    assert row["Partner"] == "Jane Doe, recP2" and row["Partner (record ids)"] == "recP1,recP2"
    assert row["Notes"] == "two\nlines" and row["Kind"] == "" and row["Extra"] == "checked" and row["Score"] == "12"
    assert list(row)[:4] == ["Record ID", "Created Time", "Activity", "Partner"]


def test_the_file_gets_each_record_once_and_a_changed_one_replaced(tmp_path: Path) -> None:
    f = ArchiveFile(tmp_path / "archive" / "referrals-Referrals.csv")
    rows = [
        {"Record ID": "rec1", "Referral": 'Ünïcode, "quoted"', "Notes": "a\nb"},
        {"Record ID": "rec2", "Referral": "B"},
    ]
    assert f.merge(rows) == 2
    assert f.merge(rows) == 0 and f.has(rows)  # a repeat writes nothing
    assert f.merge([{"Record ID": "rec2", "Referral": "B2", "Amount": "3"}]) == 1
    raw = f.path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the byte-order mark spreadsheets need for UTF-8
    with f.path.open(encoding="utf-8-sig", newline="") as fh:
        read = list(csv.DictReader(fh))
    assert [r["Record ID"] for r in read] == ["rec1", "rec2"]
    assert read[0]["Referral"] == 'Ünïcode, "quoted"' and read[0]["Notes"] == "a\nb" and read[0]["Amount"] == ""
    assert read[1]["Referral"] == "B2" and read[1]["Amount"] == "3"
    assert not list(f.path.parent.glob(".*.tmp"))


def test_an_archived_record_brought_back_stands_for_it_in_history() -> None:
    archived = rec("old", 500, Status="Won", **{"CRM ID": "d1", "Sync Notes": "x"})
    back = rec("new", 1, Status="Won", **{"CRM ID": "d1"})
    same = rec("act-old", 500, Activity="Call", Date="2025-01-01")
    same_back = rec("act-new", 1, Activity="Call", Date="2025-01-01")
    other = rec("other", 500, Status="Lost")
    everything = [archived, back, same, same_back, other]
    live = {"new", "act-new"}
    assert superseded(everything, live) == {"old", "act-old"}
    assert [r.id for r in history(everything, live)] == ["new", "act-new", "other"]
    assert record_version(archived.fields) != record_version(back.fields)


def test_a_record_brought_back_keeps_its_first_created_time_in_history() -> None:
    archived = rec("old", 500, Status="Won", **{"CRM ID": "d1"})
    back = rec("new", 0, Status="Won", **{"CRM ID": "d1"})
    (seen,) = history([archived, back], {"new"})
    assert seen.id == "new" and seen.created_time == archived.created_time and seen.fields == back.fields
