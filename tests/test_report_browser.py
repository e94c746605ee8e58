"""The report page in a real headless Chromium: it renders, prints, and logs no error.

Uses Debian's chromium (``.ci/run`` installs it when missing) over the DevTools protocol
(tests/browser.py); skipped, saying so, only where no chromium can be found.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from tests.browser import find_chromium, open_page
from tests.test_managers_messages import build, hostile, reference_tables
from tests.test_managers_metrics import NOW

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (apt-get install chromium; .ci/run installs it)"
)
CHECKS = {
    "rows": "document.querySelectorAll('#partner-table tbody tr').length",
    "charts": "document.querySelectorAll('svg[role=img]').length",
    "fetched": "performance.getEntriesByType('resource').map(e => e.name)",
    "title": "document.title",
    "height": "document.documentElement.scrollHeight",
}


def _not_blank(png: bytes) -> None:
    assert png.startswith(b"\x89PNG")
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    inked = float(np.mean(pixels.min(axis=2) < 0.9))  # share of pixels that are not (near) white
    assert pixels.shape[0] > 500 and pixels.shape[1] > 800
    assert 0.02 < inked < 0.9, inked


def test_the_report_renders_offline_without_a_console_error(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "report.html"
    page.write_text(build(hostile(reference_tables(NOW))).html, encoding="utf-8")
    run = open_page(CHROMIUM, page, CHECKS)
    assert run.errors == []
    assert run.values["rows"] == 250 and run.values["charts"] == 1
    assert run.values["fetched"] == []  # nothing loaded besides the page itself
    assert run.values["title"] == "Partner program report · 2026-W22"
    _not_blank(run.screenshot)
    assert run.pdf.startswith(b"%PDF")
    assert run.pdf.count(b"/Type /Page") - run.pdf.count(b"/Type /Pages") >= 3  # the table runs over pages


def test_the_harness_sees_console_errors_and_failed_loads(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "broken.html"
    page.write_text(
        '<!doctype html><title>x</title><p>hello</p><img src="missing.png" alt="">'
        "<script>console.error('boom'); undefinedFunction();</script>",
        encoding="utf-8",
    )
    errors = " | ".join(open_page(CHROMIUM, page).errors)
    assert "boom" in errors and "undefinedFunction" in errors and "ERR_FILE_NOT_FOUND" in errors
