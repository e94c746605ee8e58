"""``partnerops report``: the program report as ONE self-contained HTML page (SPEC §8).

Everything is inline: the style sheet, the chart (an ``<svg>`` element), no script, font or
image from anywhere; the page opens offline and prints on A4 (print CSS: table header repeated
on each page, rows not split). Every value is HTML-escaped by jinja2's autoescape, and values
from Airtable are cut to a readable length (a 60,000-character name stays one table cell).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from jobs.messages.chart import weekly_chart_svg
from jobs.rules.metrics import (
    Capacity,
    NeedsAttention,
    Owed,
    PartnerRow,
    ProgramMetrics,
    WeekChanges,
    WeeklySnapshot,
)
from jobs.rules.program import BANDS_BEST_FIRST as BAND_ORDER

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
CLIP = 120


def clip(text: object, limit: int = CLIP) -> str:
    """At most ``limit`` characters, whitespace folded."""
    folded = " ".join(str(text).split())
    return folded if len(folded) <= limit else folded[: limit - 1].rstrip() + "…"


def _num(n: float | None) -> str:
    return "–" if n is None else f"{n:,.0f}"


def _part(x: float | None) -> str:
    return "–" if x is None else f"{int(x + 0.5)}"


def _money(amount: float | None) -> str:
    return "–" if amount is None else f"${amount:,.0f}"


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f}%"


def _days(n: float | None) -> str:
    return "–" if n is None else f"{n:.0f} days"


def _day(d: date | None) -> str:
    return "–" if d is None else d.isoformat()


def _moment(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _delta(now: int, before: int | None) -> str:
    if before is None:
        return "no count"
    diff = now - before
    return "±0" if diff == 0 else f"{'+' if diff > 0 else '−'}{abs(diff)}"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        clip=clip,
        num=_num,
        part=_part,
        money=_money,
        percent=_percent,
        days=_days,
        day=_day,
        moment=_moment,
        slug=_slug,
    )
    env.globals["delta"] = _delta
    return env


_env = _environment()


def render_report(
    metrics: ProgramMetrics,
    changes: WeekChanges,
    rows: Sequence[PartnerRow],
    attention: NeedsAttention,
    owed: Sequence[Owed],
    snapshots: Sequence[WeeklySnapshot],
    capacity: Capacity | None = None,
    previous: WeeklySnapshot | None = None,
) -> str:
    """The report page. ``snapshots`` are the weeks to chart (oldest first, see
    :func:`jobs.rules.snapshots.merge_history`); ``previous`` is last week's snapshot, for the
    change in bands."""
    before: Mapping[str, int] | None = previous.bands if previous is not None else None
    return _env.get_template(TEMPLATE).render(
        m=metrics,
        c=changes,
        rows=rows,
        a=attention,
        owed=owed,
        snapshots=snapshots,
        capacity=capacity,
        previous=previous,
        before=before,
        bands=BAND_ORDER,
        chart=Markup(weekly_chart_svg(snapshots)),  # our own SVG, built from numbers and week labels
    )
