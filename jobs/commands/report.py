"""`partnerops report [--out FILE]`: the program report as one self-contained HTML file (SPEC §8).

The same numbers as the weekly digest (:func:`jobs.rules.digest.managers_view`), the 12-week
chart, the per-partner table and the needs-attention list, read from the local store and the
stored weekly snapshots: no Airtable call. Written to ``FILE`` (default
``PARTNEROPS_HOME/report.html``) through a temporary file, so a reader never sees half a page.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TextIO

from jobs.app import App
from jobs.messages.report import render_report
from jobs.rules.digest import managers_view
from jobs.rules.table import partner_rows
from jobs.schedule.inputs import managers_inputs
from jobs.schedule.tiers import make_plan
from jobs.settings import Settings

REPORT_FILE = "report.html"


def report_html(app: App, now: datetime) -> str:
    """The report page at ``now``, from the store (see the module)."""
    inputs = managers_inputs(app, now, make_plan(app, now).projected)
    view = managers_view(inputs)
    rows = partner_rows(inputs.partners, inputs.referrals, inputs.activities, now, inputs.health)
    return render_report(
        view.metrics, view.changes, rows, view.attention, view.owed, view.history, inputs.capacity, view.previous
    )


def write_report(app: App, now: datetime, target: Path | None = None) -> Path:
    """Write the report page to ``target`` (default ``PARTNEROPS_HOME/report.html``); its path."""
    path = target if target is not None else app.home / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(report_html(app, now), encoding="utf-8")
    os.replace(partial, path)
    return path


def cmd_report(settings: Settings, out: TextIO, now: datetime, target: Path | None = None) -> int:
    app = App.open(settings)
    try:
        path = write_report(app, now, target)
    finally:
        app.close()
    print(f"report written to {path.resolve()}", file=out)
    return 0
