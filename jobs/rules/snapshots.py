"""Weekly snapshots of the metrics: "since last week" and "the last 12 weeks" without history.

The ``digest`` job keeps one :class:`WeeklySnapshot` per report week under ``PARTNEROPS_HOME``
(:meth:`WeeklySnapshot.to_json` / :meth:`~WeeklySnapshot.from_json`). A new install has none:
:func:`backfill` rebuilds the past weeks' referral counts from the referrals' created times, and
leaves what the store cannot tell (partners per band, the metrics) as ``None`` — shown as
missing, never as zero. :func:`merge_history` lays the stored snapshots over the backfill.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from bases.records import Record, format_datetime
from bases.schema import BANDS
from jobs.rules.program import ProgramMetrics, week_counts
from jobs.rules.weeks import recent_weeks, report_week

FORMAT_VERSION = 1


@dataclass(frozen=True)
class WeeklySnapshot:
    """The program as it stood after one ISO week (``week``, e.g. ``2026-W22``).

    ``taken_at`` is None for a week rebuilt by :func:`backfill`; so are the band counts and the
    metrics, which the store cannot tell for a past week.
    """

    week: str
    sourced: int  # sourced referrals registered that week (not Influenced)
    influenced: int
    bands: Mapping[str, int] | None = None
    taken_at: str | None = None
    pipeline: float | None = None
    win_rate: float | None = None
    activation: float | None = None
    median_days_to_first: float | None = None
    won_ids: tuple[str, ...] | None = None  # referrals Won when it was taken
    lost_ids: tuple[str, ...] | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {"version": FORMAT_VERSION, **self.__dict__}
        data["bands"] = dict(self.bands) if self.bands is not None else None
        data["won_ids"] = list(self.won_ids) if self.won_ids is not None else None
        data["lost_ids"] = list(self.lost_ids) if self.lost_ids is not None else None
        return json.dumps(data, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> WeeklySnapshot:
        """Read :meth:`to_json`'s text; raises ValueError on anything else."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
                raise ValueError(f"not a version {FORMAT_VERSION} weekly snapshot")
            bands = data.get("bands")
            return cls(
                week=str(data["week"]),
                sourced=int(data["sourced"]),
                influenced=int(data["influenced"]),
                bands={str(k): int(v) for k, v in bands.items()} if isinstance(bands, dict) else None,
                taken_at=_optional_str(data.get("taken_at")),
                pipeline=_optional_float(data.get("pipeline")),
                win_rate=_optional_float(data.get("win_rate")),
                activation=_optional_float(data.get("activation")),
                median_days_to_first=_optional_float(data.get("median_days_to_first")),
                won_ids=_optional_ids(data.get("won_ids")),
                lost_ids=_optional_ids(data.get("lost_ids")),
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a weekly snapshot: {exc}") from exc


def _optional_str(value: Any) -> str | None:
    return str(value) if value is not None else None


def _optional_float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _optional_ids(value: Any) -> tuple[str, ...] | None:
    return tuple(str(v) for v in value) if isinstance(value, list) else None


def snapshot_of(metrics: ProgramMetrics, now: datetime, zone: ZoneInfo) -> WeeklySnapshot:
    """The snapshot of the report week of ``now`` (the week ``metrics`` covers), taken at ``now``."""
    week = report_week(now, zone)
    if week != metrics.week:
        raise ValueError(f"metrics cover {metrics.week.label}, not {week.label}: compute them at the same now")
    return WeeklySnapshot(
        week=week.label,
        sourced=metrics.week_sourced,
        influenced=metrics.week_influenced,
        bands={band: metrics.bands.get(band, 0) for band in BANDS},
        taken_at=format_datetime(now.astimezone(timezone.utc)),
        pipeline=metrics.pipeline,
        win_rate=metrics.win_rate,
        activation=metrics.activation,
        median_days_to_first=metrics.median_days_to_first,
        won_ids=tuple(sorted(metrics.won_ids)),
        lost_ids=tuple(sorted(metrics.lost_ids)),
    )


def backfill(referrals: Sequence[Record], now: datetime, zone: ZoneInfo, weeks: int = 12) -> list[WeeklySnapshot]:
    """The last ``weeks`` report weeks, oldest first, as far as the referrals tell them."""
    result = []
    for week in recent_weeks(now, zone, weeks):
        sourced, influenced = week_counts(referrals, week, zone)
        result.append(WeeklySnapshot(week=week.label, sourced=sourced, influenced=influenced))
    return result


def merge_history(stored: Sequence[WeeklySnapshot], filled: Sequence[WeeklySnapshot]) -> list[WeeklySnapshot]:
    """The weeks of ``filled`` (e.g. :func:`backfill`), each replaced by a stored snapshot of the
    same week where there is one (it holds what was known then, band counts included)."""
    by_week = {s.week: s for s in stored}
    return [by_week.get(s.week, s) for s in filled]


def previous_snapshot(stored: Sequence[WeeklySnapshot], week: str) -> WeeklySnapshot | None:
    """The newest stored snapshot of a week before ``week`` (whose changes the digest reports)."""
    earlier = [s for s in stored if s.week < week and s.taken_at is not None]
    return max(earlier, key=lambda s: s.week, default=None)
