"""The digest, the chart and the report page: limits, hostile Airtable values, a self-contained
page with one row per partner, a real PNG."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import struct
from collections.abc import Iterator
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib.image
import pytest

from bases.records import Record
from jobs.messages.chart import _figure, weekly_chart_png, weekly_chart_svg
from jobs.messages.digest import digest_message
from jobs.messages.report import render_report
from jobs.rules.metrics import (
    Capacity,
    WeeklySnapshot,
    backfill,
    compute_metrics,
    merge_history,
    needs_attention,
    partner_rows,
    reciprocity,
    snapshot_of,
    week_changes,
)
from jobs.rules.scores import HealthSettings
from tests.managers_fixtures import Tables, reference_tables

NOW = datetime(2026, 6, 1, 6, 0, tzinfo=timezone.utc)
ZONE = ZoneInfo("Europe/Berlin")
HEALTH = HealthSettings()
LONG = "x" * 60_000
HOSTILE = [
    "<!channel> Ana",
    "@here Ben *bold*",
    "_it_ ~st~ `code` <@U0123|boss>",
    "line1\nline2 <https://evil.example|click>",
    LONG,
]
CAPACITY = Capacity(412, 780, 1000, {"Partners": 400, "Referrals": 850, "Circles": 8}, 1000)


@dataclasses.dataclass
class Built:
    tables: Tables
    text: str
    blocks: list[dict[str, Any]]
    html: str


def _renamed(records: list[Record], ids: list[str], field: str, extra: dict[str, Any] | None = None) -> list[Record]:
    names = dict(zip(ids, HOSTILE, strict=False))
    return [
        Record(r.id, r.created_time, {**r.fields, field: names[r.id], **(extra or {})}) if r.id in names else r
        for r in records
    ]


def hostile(t: Tables) -> Tables:
    """The reference data with hostile values wherever the digest and the report show one."""
    owed = {o.email for o in reciprocity(t.partners, t.referrals, NOW, ZONE)}
    owed_ids = [p.id for p in t.partners if p.fields["Email"].lower() in owed]
    partners = _renamed(t.partners, owed_ids, "Name", {"Company": "<!everyone> & Co *Ltd*"})
    expiring = [e.record_id for e in needs_attention(t.partners, t.referrals, [], [], [], NOW, ZONE).expiring]
    referrals = _renamed(t.referrals, expiring, "Referral", {"Sync Notes": "@channel fix <!here>\n" + LONG})
    circles = [Record(c.id, c.created_time, {**c.fields, "Name": "<!here> *Top*"}) for c in t.circles]
    victim = partners[0].fields["Email"]
    members = [
        *t.members,
        Record(
            "recJoin",
            "2026-05-27T08:00:00.000Z",
            {
                "Circle": [circles[0].id],
                "Partner Email": owed_ids and next(p.fields["Email"] for p in partners if p.id == owed_ids[0]),
                "Status": "Removed",
                "Joined On": "2026-05-26",
                "Removed On": "2026-05-29",
                "Reason": "<!channel> *gone*\n" + LONG,
            },
        ),
        Record(
            "recPend",
            "2026-05-27T08:00:00.000Z",
            {"Circle": [circles[0].id], "Partner Email": victim, "Status": "Pending invite", "Member": LONG},
        ),
    ]
    return Tables(partners, t.activities, referrals, members, circles)


def build(t: Tables) -> Built:
    m = compute_metrics(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE, HEALTH)
    snap = snapshot_of(m, NOW, ZONE)
    previous = dataclasses.replace(snap, week="2026-W21", won_ids=snap.won_ids[2:] if snap.won_ids else ())
    changes = week_changes(t.partners, t.referrals, t.members, t.circles, NOW, ZONE, previous)
    owed = reciprocity(t.partners, t.referrals, NOW, ZONE)
    attention = needs_attention(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE)
    text, blocks = digest_message(m, changes, owed, attention, CAPACITY, previous)
    rows = partner_rows(t.partners, t.referrals, t.activities, NOW, HEALTH)
    series = merge_history([previous, snap], backfill(t.referrals, NOW, ZONE))
    html = render_report(m, changes, rows, attention, owed, series, CAPACITY, previous)
    return Built(t, text, blocks, html)


@pytest.fixture(scope="module")
def plain() -> Built:
    return build(reference_tables(NOW))


@pytest.fixture(scope="module")
def nasty() -> Built:
    return build(hostile(reference_tables(NOW)))


def texts(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every text object in the blocks."""
    for block in blocks:
        if "text" in block:
            yield block["text"]
        yield from block.get("elements", [])


# --- the digest ------------------------------------------------------------------------------


def test_digest_fits_slack_and_reads_in_order(plain: Built) -> None:
    blocks = plain.blocks
    assert len(blocks) <= 50 and len(json.dumps(blocks)) < 12_000
    assert all(len(t["text"]) <= 3000 for t in texts(blocks))
    assert all(t.get("verbatim") is True for t in texts(blocks) if t["type"] == "mrkdwn")
    assert len(blocks[0]["text"]["text"]) <= 150
    titles = [t["text"].split("\n")[0] for t in texts(blocks) if t["type"] == "mrkdwn" and t["text"].startswith("*")]
    assert titles[:3] == ["*What happened*", "*To do*", "*Owed a referral*"]
    body = "\n".join(t["text"] for t in texts(blocks))
    assert "lose protection within 14 days" in body and "Sourced pipeline $" in body
    assert "Top 41" in body or re.search(r"Top \d+ \([+−±]\d*", body)


def test_digest_escapes_hostile_airtable_values_and_never_pings(nasty: Built) -> None:
    body = "\n".join(t["text"] for t in texts(nasty.blocks))
    for needle in ("<!", "<@", "<http", "*bold*", "_it_", "~st~", "`code`", "line1\nline2", "x" * 100):
        assert needle not in body, needle
        assert needle not in nasty.text, needle
    assert not re.search(r"@(channel|here|everyone)", body)  # a zero-width space follows every such @
    assert "&lt;!channel&gt; Ana" in body and "line1 line2" in body
    assert "∗bold∗" in body
    assert all(len(t["text"]) <= 3000 for t in texts(nasty.blocks)) and len(nasty.blocks) <= 50
    assert len(json.dumps(nasty.blocks)) < 12_000


def test_digest_fallback_text_carries_counts_only(plain: Built, nasty: Built) -> None:
    pattern = r"Partner program, week 2026-W22: \d+ new referrals( \(\d+ need a fix\))?, \d+ won, \d+ partners? owed a referral, \d+ items? need attention\."
    assert re.fullmatch(pattern, plain.text), plain.text
    assert re.fullmatch(pattern, nasty.text), nasty.text


def test_digest_says_since_when_won_and_lost_are_counted_after_a_missed_week(plain: Built) -> None:
    t = plain.tables
    m = compute_metrics(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE, HEALTH)
    old = dataclasses.replace(snapshot_of(m, NOW, ZONE), week="2026-W20", won_ids=(), lost_ids=())
    changes = week_changes(t.partners, t.referrals, t.members, t.circles, NOW, ZONE, old)
    attention = needs_attention([], [], [], [], [], NOW, ZONE)
    _, blocks = digest_message(m, changes, [], attention, CAPACITY, old)
    body = "\n".join(t["text"] for t in texts(blocks))
    assert changes.won is not None and f"{changes.won:,} won" in body and "(since 2026-W20)" in body
    assert "(since 2026-W21)" not in "\n".join(x["text"] for x in texts(plain.blocks))


def test_digest_says_when_there_is_nothing_to_compare_with() -> None:
    t = reference_tables(NOW, partners=40, activities=20, referrals=120)
    m = compute_metrics(t.partners, t.referrals, t.activities, t.members, t.circles, NOW, ZONE, HEALTH)
    changes = week_changes(t.partners, t.referrals, t.members, t.circles, NOW, ZONE, None)
    attention = needs_attention([], [], [], [], [], NOW, ZONE)
    _, blocks = digest_message(m, changes, [], attention, CAPACITY, None)
    body = "\n".join(t["text"] for t in texts(blocks))
    assert "no count from last week to compare with" in body
    assert "counted from the next digest on" in body
    assert "Nothing needs you this week." in body


# --- the chart -------------------------------------------------------------------------------


def test_chart_is_a_real_deterministic_png(plain: Built) -> None:
    series = backfill(plain.tables.referrals, NOW, ZONE)
    png = weekly_chart_png(series)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert image.shape[:2] == (560, 800) and image.std() > 0.05  # drawn, not blank
    assert weekly_chart_png(series) == png
    chunks, i = [], 8
    while i < len(png):
        (size,) = struct.unpack(">I", png[i : i + 4])
        chunks.append(png[i + 4 : i + 8])
        i += size + 12
    assert b"tIME" not in chunks and b"tEXt" not in chunks and chunks[-1] == b"IEND"


def test_unrecorded_band_weeks_are_gaps_not_zeros() -> None:
    weeks = [WeeklySnapshot(f"2026-W{n:02d}", n, 1) for n in range(11, 22)]
    weeks.append(WeeklySnapshot("2026-W22", 5, 1, {"Top": 4, "Healthy": 0, "At risk": 2, "Stale": 1, "New": 0}, "t"))
    bands_axis = _figure(weeks).axes[1]
    for line in bands_axis.get_lines():
        ydata = [float(y) for y in line.get_ydata()]
        assert all(y != y for y in ydata[:-1])  # NaN: missing
        assert ydata[-1] == ydata[-1]
    svg = weekly_chart_svg(weeks)
    assert svg.startswith("<svg") and "not recorded" in svg and svg == weekly_chart_svg(weeks)
    assert "<script" not in svg and "<metadata" not in svg and "Date" not in svg


# --- the report page -------------------------------------------------------------------------


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.partner_rows = 0
        self.in_partner_table = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if tag == "table":
            self.in_partner_table = found.get("id") == "partner-table"
        if tag == "tr" and self.in_partner_table and "tbody" in self.stack:
            self.partner_rows += 1
        if tag not in ("meta", "col", "br", "path", "use", "rect", "circle", "stop"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass
        if tag == "table":
            self.in_partner_table = False


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def test_report_is_one_self_contained_page_with_a_row_per_partner(plain: Built) -> None:
    page = parse(plain.html)
    assert plain.html.startswith("<!doctype html>")
    assert page.partner_rows == 250
    names = {tag for tag, _ in page.tags}
    assert not names & {"script", "link", "img", "iframe", "object", "embed", "base"}
    for tag, attrs in page.tags:
        for key in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
            value = attrs.get(key)
            assert value is None or value.startswith("#"), (tag, key, value)
    assert "@import" not in plain.html and not re.search(r"url\((?!#)", plain.html)
    assert not re.search(r"https?://(?!www\.w3\.org/)", plain.html)  # only XML namespace names
    assert "<svg" in plain.html and "@media print" in plain.html and "@page" in plain.html
    assert [t for t, a in page.tags if t == "th" and a.get("scope") == "col"]  # headers for screen readers
    assert '<html lang="en">' in plain.html and "<caption>" in plain.html


def test_report_escapes_hostile_values_and_keeps_long_ones_short(nasty: Built) -> None:
    html = nasty.html
    page = parse(html)
    assert page.partner_rows == 250
    assert "<!channel>" not in html and "&lt;!channel&gt; Ana" in html
    assert "<@U0123" not in html and "<https://evil" not in html and "evil.example|click" in html
    assert "x" * 200 not in html  # a 60,000-character name is cut to one readable cell
    assert not {tag for tag, _ in page.tags} & {"script", "a", "img"}
    assert len(html) < 2 * len(build(reference_tables(NOW)).html)
