"""When to poll the Referrals base: more often when partners send referrals, less at night.

Pure: no I/O, no clock. The planner (``jobs/schedule/tiers.py``, ``planner.py``) feeds it the
created times of recent From-partner referrals and the number of polls the month can afford, and
asks it when the next poll is due.

* :class:`ArrivalPattern` — the share of a week's referrals that arrives in each hour of the week
  (168 weights, Monday 00:00 local = index 0), learned from created times and smoothed.
* :class:`PollSchedule` — a poll density over ``[start, end]`` proportional to the square root
  of the arrival rate (that minimises the mean wait for a fixed number of polls; see
  ``docs/polling.md``), clipped so that no gap is longer than ``max_gap`` nor shorter than
  ``min_gap``. Polls fall where the density has accumulated one poll since the last one.

Time is handled as POSIX seconds on a 15-minute UTC grid: every zone in use today has an offset
that is a whole number of quarter-hours, so each grid step lies inside one local hour, also
across daylight-saving changes (the hour that is skipped has no step, the hour that repeats has
two hours of steps).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

HOURS_PER_WEEK = 168
WEEKEND_FROM = 5  # Saturday
STEP = 900.0  # seconds of the UTC grid; local hours begin on it in every zone in use today
MAX_GAP = timedelta(hours=6)  # SPEC §7: never a longer gap between polls
MIN_GAP = timedelta(minutes=1)  # cron and systemd timers wake on the minute; closer polls buy nothing
LEARN_WEEKS = 8
# Prior: as if one referral every two weeks arrived at a uniformly random hour. Against ~12 a
# week (the reference workload) it keeps quiet hours from reading as "never" after a few silent
# weeks; against a handful a month it dominates, and the schedule stays close to even — as it
# should with so little evidence. docs/polling.md has the measurements behind the choice.
PRIOR_PER_WEEK = 0.5
# A learned pattern is used only when the arrivals could hardly be chance: a χ² test of the pooled
# hour-of-day counts against "any hour alike", at 1 % (the one-sided normal quantile below). Noise
# read as a pattern costs ~5 % of mean wait; a real pattern (working hours) passes by far.
SIGNIFICANCE_Z = 2.326
KERNEL = (0.25, 0.5, 0.25)  # neighbouring-hour smoothing: a referral at 17:55 says as much about 18:00
DISTINCT = 1.25  # two parts of the week get their own rows in table() when their gaps differ this much

Slots = Callable[[int], int]


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no time zone; pass aware datetimes")
    return at


def _ts(at: datetime) -> float:
    return _aware(at).timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def hour_of_week(at: datetime, zone: tzinfo) -> int:
    """0 for Monday 00:00–01:00 local to ``zone``, 167 for Sunday 23:00–24:00."""
    local = _aware(at).astimezone(zone)
    return local.weekday() * 24 + local.hour


@functools.lru_cache(maxsize=1 << 16)  # ~2 years of grid steps; a schedule is rebuilt at every tick
def _slot(zone: tzinfo, step: int) -> int:
    return hour_of_week(_dt(step * STEP), zone)


def _grid_slots(zone: tzinfo) -> Slots:
    return functools.partial(_slot, zone)


def _pieces(a: float, b: float, slot: Slots) -> Iterator[tuple[float, float, int]]:
    """``[a, b)`` cut at the grid, each piece with its hour of the week."""
    step = math.floor(a / STEP)
    t = a
    while t < b:
        end = min((step + 1) * STEP, b)
        yield t, end, slot(step)
        t, step = end, step + 1


def _hours_per_slot(a: float, b: float, slot: Slots) -> list[float]:
    """Hours of ``[a, b)`` in each hour of the week (the pieces of :func:`_pieces`, summed fast:
    a schedule is rebuilt at every tick, over eight weeks of history and the rest of the month)."""
    hours = [0.0] * HOURS_PER_WEEK
    if b <= a:
        return hours
    first, last = math.floor(a / STEP), math.ceil(b / STEP) - 1
    if first == last:
        hours[slot(first)] += (b - a) / 3600
        return hours
    hours[slot(first)] += ((first + 1) * STEP - a) / 3600
    hours[slot(last)] += (b - last * STEP) / 3600
    quarter = STEP / 3600
    for step in range(first + 1, last):
        hours[slot(step)] += quarter
    return hours


def _smooth(values: Sequence[float]) -> list[float]:
    """Circular smoothing with :data:`KERNEL` (hour 23 neighbours hour 0)."""
    n = len(values)
    left, mid, right = KERNEL
    return [left * values[i - 1] + mid * values[i] + right * values[(i + 1) % n] for i in range(n)]


def _pooled(values: Sequence[float], days: range) -> list[float]:
    return [math.fsum(values[d * 24 + h] for d in days) for h in range(24)]


def _chi_square_99(df: int) -> float:
    """The 99th percentile of χ² with ``df`` degrees of freedom (Wilson–Hilferty)."""
    k = 2 / (9 * df)
    return df * (1 - k + SIGNIFICANCE_Z * math.sqrt(k)) ** 3


def _patterned(counts: Sequence[float], exposure: Sequence[float]) -> bool:
    """Whether the arrivals, pooled as the profiles are (weekday hours, weekend hours), differ from
    arrivals at any hour alike by more than chance would (χ² at 1 %)."""
    parts = (range(WEEKEND_FROM), range(WEEKEND_FROM, 7))
    arrived = [a for days in parts for a in _pooled(counts, days)]
    observed = [o for days in parts for o in _pooled(exposure, days)]
    total, hours = math.fsum(arrived), math.fsum(observed)
    cells = [(a, total * o / hours) for a, o in zip(arrived, observed, strict=True) if o > 0]
    if len(cells) < 2:
        return False
    return math.fsum((a - e) ** 2 / e for a, e in cells) > _chi_square_99(len(cells) - 1)


def _profile(counts: Sequence[float], exposure: Sequence[float], days: range) -> list[float]:
    """Arrivals per hour observed, per hour of the day, over these days of the week, smoothed."""
    arrived = _smooth([math.fsum(counts[d * 24 + h] for d in days) for h in range(24)])
    observed = _smooth([math.fsum(exposure[d * 24 + h] for d in days) for h in range(24)])
    return [a / o if o > 0 else 0.0 for a, o in zip(arrived, observed, strict=True)]


@dataclass(frozen=True)
class ArrivalPattern:
    """The share of a week's arrivals in each hour of the week, local to ``zone``.

    ``weights`` are normalised to sum to 1 on construction; ``arrivals`` is how many created
    times the pattern was learned from (0 for a pattern that was not learned).
    """

    weights: tuple[float, ...]
    zone: tzinfo = timezone.utc
    arrivals: int = 0

    def __post_init__(self) -> None:
        if len(self.weights) != HOURS_PER_WEEK:
            raise ValueError(f"an arrival pattern has {HOURS_PER_WEEK} hourly weights, not {len(self.weights)}")
        if any(not math.isfinite(w) or w < 0 for w in self.weights):
            raise ValueError("arrival weights must be finite and not negative")
        total = math.fsum(self.weights)
        if total <= 0:
            raise ValueError("arrival weights must not all be zero")
        object.__setattr__(self, "weights", tuple(w / total for w in self.weights))

    @classmethod
    def uniform(cls, zone: tzinfo = timezone.utc) -> ArrivalPattern:
        return cls((1.0,) * HOURS_PER_WEEK, zone)

    @classmethod
    def learn(
        cls, created: Sequence[datetime], now: datetime, zone: tzinfo, weeks: int = LEARN_WEEKS
    ) -> ArrivalPattern:
        """The pattern of the created times in the ``weeks`` before ``now``; uniform with none.

        Weekdays share one hour-of-day profile and the weekend another (eight weeks of a few
        referrals a day are too few to tell a Tuesday 10:00 from a Wednesday 10:00). Each hour's
        rate is arrivals ÷ hours observed (a DST week observes one local hour twice and another
        not at all), both smoothed over neighbouring hours, plus the prior rate
        :data:`PRIOR_PER_WEEK` spread evenly over the week. Arrivals that a χ² test cannot tell
        from chance (at 1 %, :data:`SIGNIFICANCE_Z`) learn an even pattern.
        """
        end = _ts(now)
        begin = end - max(0, weeks) * 7 * 86400
        counts = [0.0] * HOURS_PER_WEEK
        for at in created:
            if begin <= _ts(at) < end:
                counts[hour_of_week(at, zone)] += 1
        seen = round(math.fsum(counts))
        if seen == 0:
            return cls.uniform(zone)
        exposure = _hours_per_slot(begin, end, _grid_slots(zone))
        if not _patterned(counts, exposure):
            return cls((1.0,) * HOURS_PER_WEEK, zone, seen)  # no hour stands out (yet): even
        rates = [0.0] * HOURS_PER_WEEK
        for days in (range(WEEKEND_FROM), range(WEEKEND_FROM, 7)):
            for hour, rate in enumerate(_profile(counts, exposure, days)):
                for day in days:
                    rates[day * 24 + hour] = rate + PRIOR_PER_WEEK / HOURS_PER_WEEK
        return cls(tuple(rates), zone, seen)

    @property
    def flat(self) -> bool:
        """Every hour of the week alike (no history, or none that stands out from chance)."""
        return max(self.weights) == min(self.weights)

    def rate(self, at: datetime) -> float:
        """Share of a week's arrivals per hour at this moment (1/168 everywhere when uniform)."""
        return self.weights[hour_of_week(at, self.zone)]


def _clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _solve_scale(
    roots: Sequence[float], hours: Sequence[float], polls: float, low: float, high: float
) -> tuple[float, bool, bool]:
    """The ``c`` with Σ hours·clip(c·root, low, high) = polls; and whether the floor or ceiling won.

    The sum is piecewise linear in ``c``, bending where one hour of the week reaches the floor
    or the ceiling: find the piece that holds ``polls`` and solve it exactly.
    """

    def total(c: float) -> float:
        return math.fsum(h * _clip(c * r, low, high) for r, h in zip(roots, hours, strict=True))

    floor = total(0.0)
    if polls <= floor:
        return 0.0, polls < floor * (1 - 1e-12), False
    knots = sorted({k for r, h in zip(roots, hours, strict=True) if r > 0 and h > 0 for k in (low / r, high / r)})
    # the first knot where the total reaches ``polls`` (it never decreases in c: bisect)
    lo, hi = 0, len(knots)
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if total(knots[mid]) < polls else (lo, mid)
    if lo == len(knots):
        return knots[-1] if knots else 0.0, False, True  # every hour with arrivals at the ceiling: polls left over
    before, reached = (knots[lo - 1], total(knots[lo - 1])) if lo else (0.0, floor)
    at_knot = total(knots[lo])
    return before + (knots[lo] - before) * (polls - reached) / (at_knot - reached), False, False


def _wait_pieces(
    times: Sequence[float], end: float, weights: Sequence[float], slot: Slots
) -> list[tuple[float, float, float]]:
    """Arrivals before ``end`` as pieces (mass, shortest wait, longest wait) for polls at ``times``."""
    pieces = []
    for poll, following in zip(times, times[1:], strict=False):
        for t0, t1, s in _pieces(poll, min(following, end), slot):
            mass = weights[s] * (t1 - t0)
            if mass > 0:
                pieces.append((mass, following - t1, following - t0))
    return pieces


def _mean_wait(times: Sequence[float], end: float, weights: Sequence[float], slot: Slots) -> float | None:
    """The mean of :func:`_wait_pieces` without building them (the even-spreading check runs at
    every tick); None when no arrival is expected."""
    total = weighted = 0.0
    for poll, following in zip(times, times[1:], strict=False):
        for t0, t1, s in _pieces(poll, min(following, end), slot):
            mass = weights[s] * (t1 - t0)
            total += mass
            weighted += mass * (following - (t0 + t1) / 2)
    return weighted / total if total > 0 else None


def _mean(pieces: Sequence[tuple[float, float, float]]) -> float:
    total = math.fsum(m for m, _, _ in pieces)
    return math.fsum(m * (shortest + longest) / 2 for m, shortest, longest in pieces) / total


def _quantile(pieces: Sequence[tuple[float, float, float]], q: float) -> float:
    """The ``q`` quantile of a mixture of uniform distributions (mass, shortest, longest)."""
    target = q * math.fsum(m for m, _, _ in pieces)
    events: list[tuple[float, float]] = []
    for mass, shortest, longest in pieces:
        density = mass / (longest - shortest)
        events += [(shortest, density), (longest, -density)]
    events.sort()
    reached, slope, x = 0.0, 0.0, events[0][0]
    for position, change in events:
        gain = slope * (position - x)
        if slope > 0 and reached + gain >= target:
            return x + (target - reached) / slope
        reached, x, slope = reached + gain, position, slope + change
    return x


def waits_between(polls: Sequence[datetime], arrivals: ArrivalPattern) -> tuple[timedelta, timedelta]:
    """Median and 90th percentile of the wait for the next of these polls, for referrals arriving
    by ``arrivals`` between the first poll and the last (what a month of actual polls gave)."""
    times = sorted(_ts(p) for p in polls)
    pieces = _wait_pieces(times, times[-1] if times else 0.0, arrivals.weights, _grid_slots(arrivals.zone))
    if not pieces:
        raise ValueError("no arrivals expected between the polls")
    return timedelta(seconds=_quantile(pieces, 0.5)), timedelta(seconds=_quantile(pieces, 0.9))


def span(delta: timedelta) -> str:
    """An interval as people read it in a table: "22 min", "3 h", "2.5 h"."""
    minutes = delta.total_seconds() / 60
    if round(minutes) < 120:
        return f"{max(1, round(minutes))} min"
    hours = round(minutes / 60, 1)
    return f"{hours:g} h"


class PollSchedule:
    """Poll density λ(t) = clip(c·√rate(t), 1/max_gap, 1/min_gap), with ∫λ over [start, end] = polls.

    Attributes the caller reports:

    * ``slowed`` — even the floor (one poll per ``max_gap``) costs more than ``polls``; the density
      is the floor everywhere and ``planned`` > ``polls``: the month cannot keep the 6-hour promise;
    * ``capped`` — polls are left over: every hour with arrivals is already at one poll per
      ``min_gap``;
    * ``even`` — so few polls above the floor that they cannot follow the busy hours, and spreading
      them evenly waits less (see ``docs/polling.md`` §2); the density is then constant;
    * ``planned`` — polls the density spends over ``[start, end]``; ``floor_polls`` — what the floor
      alone costs; ``per_hour`` — polls per hour in each hour of the week.
    """

    def __init__(
        self,
        pattern: ArrivalPattern,
        zone: tzinfo,
        start: datetime,
        end: datetime,
        polls: float,
        max_gap: timedelta = MAX_GAP,
        min_gap: timedelta = MIN_GAP,
    ) -> None:
        if _ts(end) <= _ts(start):
            raise ValueError("a schedule needs start before end")
        if not timedelta(0) < min_gap <= max_gap:
            raise ValueError("need 0 < min_gap <= max_gap")
        self.pattern, self.zone, self.start, self.end = pattern, zone, start, end
        self.polls, self.max_gap, self.min_gap = polls, max_gap, min_gap
        self._slot = _grid_slots(zone)
        self._a, self._b = _ts(start), _ts(end)
        hours = _hours_per_slot(self._a, self._b, self._slot)
        low, high = 3600 / max_gap.total_seconds(), 3600 / min_gap.total_seconds()
        roots = [math.sqrt(w) for w in pattern.weights]
        self.scale, self.slowed, self.capped = _solve_scale(roots, hours, max(0.0, polls), low, high)
        self.per_hour = tuple(_clip(self.scale * r, low, high) for r in roots)
        self.planned = math.fsum(h * lam for h, lam in zip(hours, self.per_hour, strict=True))
        self.floor_polls = low * math.fsum(hours)
        self.even = False
        varies = max(self.per_hour) > min(self.per_hour) * (1 + 1e-12)  # a constant density is even already
        if varies and not (self.slowed or self.capped) and self._even_waits_less(polls):
            self.even = True
            self.per_hour = (polls * 3600 / (self._b - self._a),) * HOURS_PER_WEEK
            self.planned = polls

    def _even_waits_less(self, polls: float) -> bool:
        """Whether spreading ``polls`` evenly gives a shorter mean wait than the √ density.

        The √ rule is exact in the limit of many polls per change of the rate. Within ~25 % of
        the floor a few polls cannot follow single busy hours (one lands early in the hour and the
        rest of it waits for the floor), and even spreading can wait a few percent less.
        """
        every = (self._b - self._a) / polls
        even = [self._a + k * every for k in range(math.ceil(polls) + 1)]
        weights = self.pattern.weights
        ours = _mean_wait(self._times(), self._b, weights, self._slot)
        spread = _mean_wait(even, self._b, weights, self._slot)
        return ours is not None and spread is not None and spread < ours * (1 - 1e-9)

    # -- when --------------------------------------------------------------------------------

    def _next(self, t: float) -> float:
        need = 1.0
        longest, shortest = self.max_gap.total_seconds(), self.min_gap.total_seconds()
        found = t + longest
        for t0, t1, slot in _pieces(t, t + longest, self._slot):
            per_second = self.per_hour[slot] / 3600
            have = per_second * (t1 - t0)
            if have >= need:
                found = t0 + need / per_second
                break
            need -= have
        return _clip(found, t + shortest, t + longest)

    def next_after(self, last: datetime) -> datetime:
        """The next poll after one at ``last`` (UTC): where the density has accumulated one poll."""
        return _dt(self._next(_ts(last)))

    def polls_between(self, a: datetime, b: datetime) -> float:
        """Expected polls in ``[a, b)`` (0 when b <= a); ``a`` and ``b`` may lie outside [start, end]."""
        return math.fsum(self.per_hour[s] * (t1 - t0) / 3600 for t0, t1, s in _pieces(_ts(a), _ts(b), self._slot))

    def _times(self) -> list[float]:
        times = [self._a]
        while times[-1] < self._b:
            times.append(self._next(times[-1]))
        return times

    def times(self) -> list[datetime]:
        """The polls (UTC) from ``start`` (included) to the first at or after ``end``."""
        return [_dt(t) for t in self._times()]

    # -- how long a referral waits -------------------------------------------------------------

    def _waits(self, arrivals: ArrivalPattern | None) -> list[tuple[float, float, float]]:
        pieces = _wait_pieces(self._times(), self._b, (arrivals or self.pattern).weights, self._slot)
        if not pieces:
            raise ValueError("no arrivals expected between start and end")
        return pieces

    def expected_wait(self, arrivals: ArrivalPattern | None = None) -> tuple[timedelta, timedelta]:
        """Median and 90th percentile of a referral's wait for the next poll.

        Referrals arrive by ``arrivals`` (default: the schedule's own pattern) between start and
        end; the polls are this schedule's, the first at ``start``.
        """
        pieces = self._waits(arrivals)
        return timedelta(seconds=_quantile(pieces, 0.5)), timedelta(seconds=_quantile(pieces, 0.9))

    def mean_wait(self, arrivals: ArrivalPattern | None = None) -> timedelta:
        """Mean wait for the next poll, as :meth:`expected_wait` (what the √ density minimises)."""
        return timedelta(seconds=_mean(self._waits(arrivals)))

    # -- what `partnerops budget` shows ---------------------------------------------------------

    def table(self) -> list[tuple[str, timedelta]]:
        """The cadence per part of the week, at most 4 rows: weekdays and weekend, each split
        into its busy hours and the rest when their gaps differ visibly, one row when all match."""
        weekdays = _rows(self.per_hour, "weekdays", range(WEEKEND_FROM))
        weekend = _rows(self.per_hour, "weekend", range(WEEKEND_FROM, 7))
        if len(weekdays) == 1 and len(weekend) == 1 and _alike(weekdays[0][1], weekend[0][1]):
            return [("all week", _every(self.per_hour, range(HOURS_PER_WEEK)))]
        return weekdays + weekend

    def summary(self) -> str:
        """``table()`` in one line: "weekdays 08–18: every 22 min; weekdays 18–08: every 3 h; ..."."""
        return "; ".join(f"{part}: every {span(gap)}" for part, gap in self.table())


def _every(per_hour: Sequence[float], slots: Sequence[int] | range) -> timedelta:
    return timedelta(hours=len(slots) / math.fsum(per_hour[s] for s in slots))


def _alike(a: timedelta, b: timedelta) -> bool:
    return max(a, b) / min(a, b) < DISTINCT


def _spread(values: Sequence[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.fsum((v - mean) ** 2 for v in values)


def _window(per_hour: Sequence[float], days: range) -> tuple[int, int]:
    """The hours [a, b) of these days whose gaps best separate from the other hours (least squares on log gap)."""
    logs = {d * 24 + h: -math.log(per_hour[d * 24 + h]) for d in days for h in range(24)}
    best: tuple[float, int, int] | None = None
    for a in range(24):
        for b in range(a + 1, 25):
            if b - a == 24:
                continue
            inside = [v for s, v in logs.items() if a <= s % 24 < b]
            outside = [v for s, v in logs.items() if not a <= s % 24 < b]
            cost = _spread(inside) + _spread(outside)
            if best is None or cost < best[0] - 1e-12:
                best = (cost, a, b)
    assert best is not None
    return best[1], best[2]


def _rows(per_hour: Sequence[float], name: str, days: range) -> list[tuple[str, timedelta]]:
    a, b = _window(per_hour, days)
    inside = [d * 24 + h for d in days for h in range(24) if a <= h < b]
    outside = [d * 24 + h for d in days for h in range(24) if not a <= h < b]
    gap_in, gap_out = _every(per_hour, inside), _every(per_hour, outside)
    if _alike(gap_in, gap_out):
        return [(name, _every(per_hour, inside + outside))]
    return [(f"{name} {a:02d}–{b:02d}", gap_in), (f"{name} {b % 24:02d}–{a or 24:02d}", gap_out)]
