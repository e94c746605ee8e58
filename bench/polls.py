"""How long a From-partner referral waits for the next Referrals poll: even spreading vs √ density.

    .venv/bin/python -m bench.polls           # the figures of docs/polling.md
    .venv/bin/python -m bench.polls --seeds 5 # fewer simulated histories (faster)

Pure computation with :mod:`jobs.schedule.polls`, no fakes and no clock: November 2026 (30 days,
UTC) in Europe/Berlin. Three parts:

1. the worked example: 300 and 580 polls a month, arrivals in working hours (Mon–Fri 08–18
   local), 85 % in working hours and 15 % at any hour, or uniform; polls spread evenly or with
   density ∝ √rate;
2. the same with the pattern *learned* from eight weeks of simulated history (~50 From-partner
   referrals a month, Poisson), over several seeds, for a few strengths of the prior;
3. a rich workspace (AIRTABLE_MONTHLY_CALLS=100000): the 1-minute ceiling.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import jobs.schedule.polls as polls_module
from jobs.schedule.planner import PLAN_SHARE
from jobs.schedule.polls import ArrivalPattern, PollSchedule, span

ZONE = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 1, tzinfo=timezone.utc)
END = datetime(2026, 12, 1, tzinfo=timezone.utc)
PER_MONTH = 50  # From-partner referrals a month (SPEC §7 reference workload)
COMMITTED = 320  # calls a fresh reference month sets aside before polls (tests/test_planner.py)


def pattern(weight: Callable[[int, int], float]) -> ArrivalPattern:
    return ArrivalPattern(tuple(weight(d, h) for d in range(7) for h in range(24)), ZONE)


WORKING = pattern(lambda d, h: 1.0 if d < 5 and 8 <= h < 18 else 0.0)
UNIFORM = ArrivalPattern.uniform(ZONE)
MOSTLY = ArrivalPattern(tuple(0.85 * w + 0.15 / 168 for w in WORKING.weights), ZONE)  # 15 % at any hour
TRUTHS = {"working hours": WORKING, "85 % working hours": MOSTLY, "uniform": UNIFORM}


def waits(schedule: PollSchedule, truth: ArrivalPattern) -> tuple[float, float, float]:
    """Median, 90th percentile and mean wait in minutes."""
    median, p90 = schedule.expected_wait(truth)
    mean = schedule.mean_wait(truth)
    return median / timedelta(minutes=1), p90 / timedelta(minutes=1), mean / timedelta(minutes=1)


def row(label: str, figures: tuple[float, float, float]) -> str:
    return f"  {label:<34} median {figures[0]:6.1f}  p90 {figures[1]:6.1f}  mean {figures[2]:6.1f} min"


def worked_example() -> None:
    print("1. Worked example, November 2026, Europe/Berlin")
    for polls in (300, 580):
        for name, truth in TRUTHS.items():
            even = PollSchedule(UNIFORM, ZONE, START, END, polls)
            sqrt = PollSchedule(truth, ZONE, START, END, polls)
            print(f" {polls} polls, arrivals {name}")
            print(row("even spreading", waits(even, truth)))
            print(row("√ density", waits(sqrt, truth)))
            print(f"  cadence: {sqrt.summary()}")


def history(truth: ArrivalPattern, rng: random.Random, weeks: int = 8) -> list[datetime]:
    """Poisson arrivals at ``PER_MONTH`` a month over the ``weeks`` before START."""
    per_hour = PER_MONTH * 12 / 365.25 / 24  # arrivals an hour on average
    out = []
    hour = START - timedelta(weeks=weeks)
    while hour < START:
        expected = truth.rate(hour) * 168 * per_hour
        count, mass = 0, rng.expovariate(1.0)
        while mass < expected:
            count, mass = count + 1, mass + rng.expovariate(1.0)
        out += [hour + timedelta(hours=rng.random()) for _ in range(count)]
        hour += timedelta(hours=1)
    return out


def learned(seeds: int) -> None:
    print(f"\n2. Pattern learned from 8 weeks of history (~{PER_MONTH}/month), averaged over {seeds} seeds")
    default = polls_module.PRIOR_PER_WEEK
    for polls in (300, 580):
        for name, truth in TRUTHS.items():
            even = waits(PollSchedule(UNIFORM, ZONE, START, END, polls), truth)
            print(f" {polls} polls, arrivals {name}; even spreading: median {even[0]:.1f}, mean {even[2]:.1f} min")
            histories = [history(truth, random.Random(seed)) for seed in range(seeds)]
            for prior in (0.0, 0.25, 0.5, 1.0, 2.0):
                polls_module.PRIOR_PER_WEEK = prior
                figures = [
                    waits(PollSchedule(ArrivalPattern.learn(h, START, ZONE), ZONE, START, END, polls), truth)
                    for h in histories
                ]
                mark = " (default)" if prior == default else ""
                means = tuple(statistics.mean(f[i] for f in figures) for i in range(3))
                print(row(f"prior {prior}/week{mark}", (means[0], means[1], means[2])))
            polls_module.PRIOR_PER_WEEK = default


def rich() -> None:
    allowance = 100_000
    polls = PLAN_SHARE * allowance - COMMITTED
    print(f"\n3. AIRTABLE_MONTHLY_CALLS={allowance}: {polls:.0f} polls fit under {PLAN_SHARE:.0%}")
    rng = random.Random(1)
    for name, truth in (("working hours", WORKING), ("uniform", UNIFORM)):
        schedule = PollSchedule(ArrivalPattern.learn(history(truth, rng), START, ZONE), ZONE, START, END, polls)
        median, p90 = schedule.expected_wait(truth)
        calls = schedule.planned + COMMITTED
        print(
            f"  arrivals {name}: capped={schedule.capped}, {schedule.summary()}; median {median.total_seconds():.0f} s,"
            f" p90 {p90.total_seconds():.0f} s; about {calls:.0f} calls ({calls / allowance:.0%})"
        )
    ten = PollSchedule(UNIFORM, ZONE, START, END, polls, min_gap=timedelta(minutes=10))
    median, p90 = ten.expected_wait()
    print(
        f"  with today's 10-minute floor instead: every {span(ten.table()[0][1])}, median {span(median)}, p90 {span(p90)}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.polls", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="simulated histories per case (default 20)")
    args = parser.parse_args(argv)
    worked_example()
    learned(args.seeds)
    rich()


if __name__ == "__main__":
    main()
