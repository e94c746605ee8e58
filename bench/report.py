"""The managers' view on the SPEC §7 reference workload: report size and render time, digest cost.

    .venv/bin/python -m bench.report               # the table below
    .venv/bin/python -m bench.report --out r.html  # also write the report page to look at

Workload: sample_data(now, partners=250, activities=150, referrals=600) as the records the local
store holds, ``now`` a Monday 08:00 in Europe/Berlin, one stored snapshot from the week before.
Times are medians of ``--runs`` runs after one warm-up run (the first run also compiles the
template and loads matplotlib's fonts; it is shown apart), as CPU seconds of this process (steady
on a busy machine) and wall seconds; the load average is printed beside them. Airtable cost: every socket connection
opened while the digest and the report are computed is counted; it must be 0, because both read
only the records they are given.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from jobs.messages.chart import weekly_chart_png, weekly_chart_svg
from jobs.messages.digest import digest_message
from jobs.messages.report import render_report
from jobs.rules.metrics import (
    Capacity,
    backfill,
    compute_metrics,
    merge_history,
    needs_attention,
    partner_rows,
    previous_snapshot,
    reciprocity,
    snapshot_of,
    week_changes,
)
from jobs.rules.scores import HealthSettings
from tests.managers_fixtures import REFERENCE, Tables, reference_tables

NOW = datetime(2026, 6, 1, 6, 0, tzinfo=timezone.utc)  # Monday 08:00 in Berlin
ZONE = ZoneInfo("Europe/Berlin")
HEALTH = HealthSettings()
CAPACITY = Capacity(412, 780, 1000, {"Partners": 400, "Referrals": 600, "Circles": 8}, 1000)
COMMAND = ".venv/bin/python -m bench.report"
T = TypeVar("T")


@contextmanager
def counted_connections() -> Iterator[list[Any]]:
    """Every socket connect() made inside the block (none is let through)."""
    made: list[Any] = []
    original = socket.socket.connect

    def refuse(self: socket.socket, address: Any) -> None:
        made.append(address)
        raise OSError("bench.report: no network while computing the managers' view")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    try:
        yield made
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]


def digest(t: Tables) -> tuple[str, list[dict[str, Any]], bytes]:
    m = compute_metrics(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE, HEALTH)
    snap = snapshot_of(m, NOW, ZONE)
    stored = [dataclasses.replace(snap, week="2026-W21", taken_at="2026-05-25T06:00:00.000Z")]
    previous = previous_snapshot(stored, snap.week)
    changes = week_changes(t.partners, t.referrals, t.members, t.circles, NOW, ZONE, previous)
    owed = reciprocity(t.partners, t.referrals, NOW, ZONE)
    attention = needs_attention(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE)
    text, blocks = digest_message(m, changes, owed, attention, CAPACITY, previous)
    png = weekly_chart_png(merge_history([*stored, snap], backfill(t.referrals, NOW, ZONE)))
    return text, blocks, png


def report(t: Tables) -> str:
    m = compute_metrics(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE, HEALTH)
    snap = snapshot_of(m, NOW, ZONE)
    stored = [dataclasses.replace(snap, week="2026-W21", taken_at="2026-05-25T06:00:00.000Z")]
    previous = previous_snapshot(stored, snap.week)
    changes = week_changes(t.partners, t.referrals, t.members, t.circles, NOW, ZONE, previous)
    rows = partner_rows(t.partners, t.referrals, t.activities, NOW, HEALTH)
    attention = needs_attention(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE)
    owed = reciprocity(t.partners, t.referrals, NOW, ZONE)
    series = merge_history([*stored, snap], backfill(t.referrals, NOW, ZONE))
    return render_report(m, changes, rows, attention, owed, series, CAPACITY, previous)


@dataclasses.dataclass(frozen=True)
class Timing:
    first_wall: float
    cpu: float  # median CPU seconds of the further runs
    wall: float  # median wall seconds of the further runs

    def __str__(self) -> str:
        return f"{self.cpu:.2f} s CPU, {self.wall:.2f} s wall (first run {self.first_wall:.2f} s wall)"


def timed(fn: Callable[[], T], runs: int) -> tuple[T, Timing]:
    """``fn()``'s result and its timing: a first run, then the medians of ``runs`` more."""
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    cpu, wall = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return result, Timing(first, statistics.median(cpu), statistics.median(wall))


def measure(runs: int = 5) -> dict[str, Any]:
    t = reference_tables(NOW)
    series = backfill(t.referrals, NOW, ZONE)
    with counted_connections() as connections:
        (text, blocks, png), digest_time = timed(lambda: digest(t), runs)
        html, report_time = timed(lambda: report(t), runs)
        _, svg_time = timed(lambda: weekly_chart_svg(series), runs)
        _, png_time = timed(lambda: weekly_chart_png(series), runs)
    return {
        "html": html,
        "html_bytes": len(html.encode("utf-8")),
        "report": report_time,
        "svg": svg_time,
        "digest": digest_time,
        "png": png_time,
        "png_bytes": len(png),
        "blocks": len(blocks),
        "blocks_chars": len(json.dumps(blocks, ensure_ascii=False)),
        "text_chars": len(text),
        "connections": len(connections),
        "load": os.getloadavg()[0],
    }


def table(r: dict[str, Any], runs: int) -> str:
    workload = ", ".join(f"{n} {name}" for name, n in REFERENCE.items())
    rows = [
        ("workload", workload),
        ("report page", f"{r['html_bytes'] / 1024:.0f} KiB ({r['html_bytes']:,} bytes), one self-contained file"),
        (f"report render (median of {runs})", str(r["report"])),
        ("  of which the chart as SVG", str(r["svg"])),
        (f"digest: metrics, blocks and PNG (median of {runs})", str(r["digest"])),
        ("  of which the chart as PNG", f"{r['png']}; {r['png_bytes'] / 1024:.0f} KiB"),
        ("digest message", f"{r['blocks']} blocks, {r['blocks_chars']:,} characters of JSON"),
        ("Airtable calls (network connections opened)", str(r["connections"])),
        ("load average while measuring (2 cores)", f"{r['load']:.1f}"),
    ]
    lines = ["| measure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    return "\n".join(lines) + f"\n\nReproduce: `{COMMAND}`"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the report page here")
    args = parser.parse_args(argv)
    result = measure(args.runs)
    print(table(result, args.runs))
    if args.out:
        args.out.write_text(result["html"], encoding="utf-8")
        print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
