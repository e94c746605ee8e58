"""The digest's chart: referrals per week (sourced / influenced) and partners per band.

One figure, two panels, over the snapshots given (the digest passes the last 12 weeks, see
:func:`jobs.rules.snapshots.merge_history`). A week whose band counts were not recorded (before
the first digest) is a gap in the lines, never a zero, and the chart says so.

Drawn with matplotlib's Agg canvas directly (no pyplot: no global state, no GUI backend).
Output is deterministic: the PNG carries no Software/time metadata, the SVG no date, creator or
random ids, so the same snapshots give the same bytes.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from jobs.rules.program import BANDS_BEST_FIRST as BAND_ORDER
from jobs.rules.snapshots import WeeklySnapshot

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

SIZE_INCHES = (8.0, 5.6)
PNG_DPI = 100
# Okabe–Ito colours: told apart with the common colour-vision deficiencies, and in grey print.
SOURCED, INFLUENCED = "#0072B2", "#A6D3F0"
BAND_COLOURS = {"Top": "#009E73", "Healthy": "#56B4E9", "At risk": "#E69F00", "Stale": "#D55E00", "New": "#CC79A7"}
BAND_MARKERS = {"Top": "o", "Healthy": "s", "At risk": "^", "Stale": "v", "New": "D"}
STYLE: dict[RcKeyType, object] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # text stays text: small, searchable, read by screen readers
    "svg.hashsalt": "partnerops-weekly-chart",  # stable ids
}
TITLE = "Referrals per week and partners per band"


def _week_ticks(snapshots: Sequence[WeeklySnapshot]) -> list[str]:
    ticks = []
    for s in snapshots:
        year, _, week = s.week.partition("-W")
        try:
            monday = date.fromisocalendar(int(year), int(week), 1)
            ticks.append(f"W{int(week)}\n{monday.day} {monday:%b}")
        except ValueError:
            ticks.append(s.week)
    return ticks


def _referrals_panel(ax: Axes, snapshots: Sequence[WeeklySnapshot]) -> None:
    x = range(len(snapshots))
    sourced = [s.sourced for s in snapshots]
    influenced = [s.influenced for s in snapshots]
    ax.bar(x, sourced, color=SOURCED, label="sourced", width=0.7)
    ax.bar(x, influenced, bottom=sourced, color=INFLUENCED, label="influenced", width=0.7)
    for i, total in enumerate(a + b for a, b in zip(sourced, influenced, strict=True)):
        ax.annotate(str(total), (i, total), ha="center", va="bottom", xytext=(0, 2), textcoords="offset points")
    ax.set_title("Referrals from partners per week", loc="left", fontweight="bold")
    ax.set_ylabel("referrals")
    ax.set_ylim(0, max([a + b for a, b in zip(sourced, influenced, strict=True)] + [1]) * 1.15)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, ncols=2, borderaxespad=0.2)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _bands_panel(ax: Axes, snapshots: Sequence[WeeklySnapshot]) -> None:
    x = list(range(len(snapshots)))
    known = [s.bands is not None for s in snapshots]
    for band in BAND_ORDER:
        values = [float(s.bands.get(band, 0)) if s.bands is not None else math.nan for s in snapshots]
        ax.plot(x, values, color=BAND_COLOURS[band], marker=BAND_MARKERS[band], label=band, linewidth=1.8)
    ax.set_title("Partners per band", loc="left", fontweight="bold")
    ax.set_ylabel("partners")
    ax.set_ylim(bottom=0)
    if not any(known):
        ax.set_yticks([])
        ax.text(
            0.5,
            0.5,
            "Not recorded yet: the first digest starts this line.",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="#555555",
        )
    elif not all(known):
        first = known.index(True)
        ax.axvspan(-0.5, first - 0.5, color="#eeeeee", zorder=0)
        ax.text(
            (first - 1) / 2,
            0.5,
            "not recorded",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="center",
            color="#555555",
        )
    if any(known):
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, ncols=len(BAND_ORDER), borderaxespad=0.2)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(0, max(max(s.bands.values(), default=0) for s in snapshots if s.bands is not None) * 1.15 + 1)


def _figure(snapshots: Sequence[WeeklySnapshot]) -> Figure:
    fig = Figure(figsize=SIZE_INCHES)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.93, bottom=0.1, hspace=0.32)  # fixed: cheaper than a layout engine
    top, bottom = fig.subplots(2, 1, sharex=True)
    _referrals_panel(top, snapshots)
    _bands_panel(bottom, snapshots)
    bottom.set_xticks(range(len(snapshots)), _week_ticks(snapshots))
    bottom.set_xlim(-0.5, len(snapshots) - 0.5)
    return fig


def weekly_chart_png(snapshots: Sequence[WeeklySnapshot]) -> bytes:
    """The chart as PNG bytes (800×560 pixels), for the digest's attachment."""
    with mpl.rc_context(STYLE):
        fig = _figure(snapshots)
        FigureCanvasAgg(fig)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=PNG_DPI, metadata={"Software": None})
    return out.getvalue()


_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


def weekly_chart_svg(snapshots: Sequence[WeeklySnapshot], title: str = TITLE) -> str:
    """The chart as an ``<svg>`` element to put inline in an HTML page: no XML prolog, no
    metadata, no external reference, a ``<title>`` and ``role="img"`` for screen readers."""
    with mpl.rc_context(STYLE):
        fig = _figure(snapshots)
        FigureCanvasSVG(fig)
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    svg = out.getvalue()
    svg = _METADATA.sub("", svg[svg.index("<svg") :])
    head_end = svg.index(">") + 1
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    head = svg[:head_end].replace("<svg ", '<svg role="img" aria-labelledby="weekly-chart-title" ', 1)
    return f'{head}\n<title id="weekly-chart-title">{safe_title}</title>{svg[head_end:]}'
