"""A 30-day month of the SPEC §7 reference workload, driving the real scheduler against the fakes.

    .venv/bin/python -m bench.month                       # both arrival patterns, a table for the README
    .venv/bin/python -m bench.month --arrivals working    # one pattern, in detail
    .venv/bin/python -m bench.month --days 3              # a shorter stretch
    .venv/bin/python -m bench.month --wake-every 30       # woken by a timer every 30 minutes
    .venv/bin/python -m bench.month --cli --days 7        # `python -m jobs run --once --now …` per wake-up
    .venv/bin/python -m bench.month --calls 100000 --days 1   # a rich workspace: a poll a minute

Workload: 250 partners, 150 activities, 600 referrals and one circle (the sample generator at
that size), then over the month 50 new From-partner referrals (a form), 10 To-partner referrals
and 30 edits of partner records (managers, in working hours) and 15 CRM stage changes
(salespeople, days after a deal arrived). The From-partner referrals arrive by one of two
patterns (``bench/world.py``): ``uniform`` (any moment of the day and night) or ``working``
(Mon–Fri 08:00–18:00 in Europe/Berlin, the program's TZ); the seeded history of the eight weeks
before agrees with the pattern, so the planner learns it as it would in a running program.

Fake Airtable, Slack and HubSpot run over real HTTP on loopback, on one simulated clock; the
program is started on 31 October (its first full sync falls in the month before) and then woken
exactly when it says the next tier is due, as ``partnerops run`` does — or, with
``--wake-every N``, at the first multiple of N minutes after midnight from then on, as cron, a
systemd timer or a GitHub Actions schedule calling ``partnerops run --once`` every N minutes
would. With ``--cli`` every wake-up is a real ``python -m jobs run --once --now <t>`` subprocess
whose state lives in PARTNEROPS_HOME between runs, woken at the minute it names (cron's
resolution): slower (about a second per wake-up), so a shorter ``--days`` is fine.

Reported: Airtable calls by base and kind; change detection (polls) and safety resyncs apart
from the *change work* (reads of changed records and writes), which is compared with its lower
bound for the same changes: per tick and table ⌈records the program created or changed / 10⌉
writes, and no reads — the change feed carries every cell of a changed record, so reading one
is never necessary; and the time from a referral's submission to its CRM deal.
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from bases.schema import BASES
from bench.drivers import CommandLine, Driver, InProcess
from bench.month_table import Result, comparison, table
from bench.world import MANAGER_CHANNEL, MONTH_START, PATTERNS, WORKLOAD, ZONE, World, arrival_pattern
from jobs.schedule.polls import waits_between
from jobs.settings import Settings
from jobs.sync.syncer import FULL_SYNC
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.fakes.airtable_setup import TOKEN
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.slack import FakeSlack

# Installed two minutes before the month (what is left of October pays for polls every minute until then).
SETUP = MONTH_START - timedelta(minutes=2)

__all__ = ["WORKLOAD", "Result", "comparison", "main", "on_grid", "run_month", "table"]


def _write_bound(fake: FakeAirtable, ids: dict[str, str], since: datetime) -> int:
    """⌈records the tick created or changed / 10⌉ per table."""
    return sum(math.ceil(len(fake.changed_since(ids[b.key], t.name, since)) / 10) for b in BASES for t in b.tables)


def on_grid(when: datetime, every: int) -> datetime:
    """The first firing at or after ``when`` of a timer firing every ``every`` minutes from midnight (cron's */N)."""
    midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + math.ceil((when - midnight) / timedelta(minutes=every)) * timedelta(minutes=every)


def settings_for(
    world: World, fake: FakeAirtable, slack: FakeSlack, hub: FakeHubSpot, home: Path, calls: int
) -> Settings:
    return Settings(
        airtable_token=TOKEN,
        base_ids=world.ids,
        airtable_api_url=fake.url,
        slack_bot_token=slack.token,
        slack_api_url=slack.url,
        slack_manager_channel=MANAGER_CHANNEL,
        crm="hubspot",
        hubspot_token=hub.token,
        hubspot_api_url=hub.url,
        referral_form_url="https://forms.example/refer",
        home=home,
        tz=ZONE.key,
        airtable_monthly_calls=calls,
    )


def run_month(
    days: float = 30,
    seed: int = 7,
    wake_every: int = 0,
    arrivals: str = "uniform",
    cli: bool = False,
    calls: int = 1000,
) -> Result:
    """The month, one arrival pattern; ``cli``: every wake-up a `python -m jobs run --once` subprocess."""
    clock = FakeClock(SETUP)
    with (
        FakeAirtable(TOKEN, clock=clock, rate_limit=not cli) as fake,  # a subprocess waits on the real clock
        FakeSlack("xoxb-bench-token") as slack,
        FakeHubSpot("pat-na1-bench", now=clock.now) as hub,
        tempfile.TemporaryDirectory() as tmp,
    ):
        world = World(fake, slack, hub, random.Random(seed), arrivals)
        world.seed(SETUP, random.Random(seed + 1))
        clock.advance(2)
        settings = settings_for(world, fake, slack, hub, Path(tmp) / "home", calls)
        # Installed just before the month, in process even with --cli: the first run's ~140 calls
        # (full syncs, every partner scored) wait ~20 s of real time for Airtable's 5 a second otherwise.
        installed = InProcess(settings, clock)
        next_due = installed.tick(clock.now())
        if cli:
            installed.close()
        driver: Driver = CommandLine(settings) if cli else installed
        try:
            result = _month(world, driver, clock, next_due, days, wake_every, arrivals, cli)
            result.allowance = calls
            return result
        finally:
            driver.close()


def _month(
    world: World,
    driver: Driver,
    clock: FakeClock,
    next_due: datetime | None,
    days: float,
    wake_every: int,
    arrivals: str,
    cli: bool,
) -> Result:
    fake = world.fake
    end = MONTH_START + timedelta(days=days)
    events = world.month_events(days)
    lower = ticks = 0
    pushed_at: dict[str, datetime] = {}
    polled: list[datetime] = []  # when the Referrals base was polled (every fresh and daily run)
    midway, budget_text = MONTH_START + timedelta(days=days / 2), ""
    while True:
        due = max(next_due or end, clock.now())
        if wake_every:
            due = on_grid(due, wake_every)
        while events and events[0].at <= due:
            event = events.pop(0)
            if event.at > clock.now():
                clock.advance((event.at - clock.now()).total_seconds())
            event.apply()
        if due >= end:
            break
        if due > clock.now():
            clock.advance((due - clock.now()).total_seconds())
        if not budget_text and clock.now() >= midway:
            budget_text = driver.budget(clock.now())
        clock.advance(0.001)  # what people did so far is older than anything this tick writes
        ran, before = clock.now(), fake.calls(path_contains=world.ids["referrals"])
        next_due = driver.tick(ran)
        if fake.calls(path_contains=world.ids["referrals"]) > before:
            polled.append(ran)
        if ran >= MONTH_START:  # October's last minutes are paid from October
            ticks += 1
            lower += _write_bound(fake, world.ids, ran)
        for rid in world.pushed() - set(pushed_at):
            pushed_at[rid] = ran
    result = _result(world, driver, days, arrivals, cli, lower, ticks, pushed_at, budget_text)
    result.expected = _expected(polled, arrivals, end)
    result.at_first_poll = sum(pushed_at[r] == min(t for t in polled if t > world.submitted[r]) for r in pushed_at)
    return result


def _expected(polled: list[datetime], arrivals: str, end: datetime) -> tuple[float, float] | None:
    """Median and p90 wait (minutes) of a referral arriving at any moment of the pattern in the
    month, for the polls that actually happened (from the last poll before the month to the end):
    the figure the month's few referrals sample."""
    earlier = [t for t in polled if t < MONTH_START][-1:]
    times = earlier + [t for t in polled if MONTH_START <= t < end] + [end]
    try:
        median, p90 = waits_between(times, arrival_pattern(arrivals))
    except ValueError:
        return None
    return median.total_seconds() / 60, p90.total_seconds() / 60


def _result(
    world: World,
    driver: Driver,
    days: float,
    arrivals: str,
    cli: bool,
    lower: int,
    ticks: int,
    pushed_at: dict[str, datetime],
    budget_text: str,
) -> Result:
    fake, ledger = world.fake, driver.ledger()
    kinds = ledger.breakdown(MONTH_START)
    names = {world.ids[b.key]: b.name for b in BASES}
    by_kind = Counter[str]()
    for _base, kind, count in kinds:
        by_kind[kind] += count
    total = ledger.used(MONTH_START)
    polls, full = by_kind["webhook-poll"], by_kind[FULL_SYNC]
    latencies = sorted((pushed_at[r] - world.submitted[r]).total_seconds() / 60 for r in pushed_at)
    sizes = {(b.key, t.name): len(fake.records(world.ids[b.key], t.name)) for b in BASES for t in b.tables}
    return Result(
        days=days,
        arrivals=arrivals,
        cli=cli,
        calls=total,
        by_base_kind=[(names.get(b, b), k, c) for b, k, c in kinds],
        polls=polls,
        full_sync=full,
        change_work=total - polls - full,
        lower_bound=lower,
        latencies=latencies,
        not_pushed=len(world.submitted) - len(pushed_at),
        ticks=ticks,
        naive_calls=round(naive_daily_calls(sizes) * days),
        naive_median_minutes=12 * 60,
        events=world.events,
        budget_midway=budget_text,
        failed_runs=driver.failed_runs,
    )


def naive_daily_calls(sizes: dict[tuple[str, str], int]) -> int:
    """A daily full read of every table and a rewrite of every partner's and referral's job-owned cells, 10 a call."""
    reads = sum(max(1, math.ceil(n / 100)) for n in sizes.values())
    writes = math.ceil(sizes[("partners", "Partners")] / 10) + math.ceil(sizes[("referrals", "Referrals")] / 10)
    return reads + writes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.month", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=30, help="simulated days from 1 November (e.g. 7, or 0.5)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--arrivals", choices=[*PATTERNS, "both"], default="both", help="when partners send referrals")
    parser.add_argument("--budget", action="store_true", help="also print `partnerops budget` as it read halfway")
    parser.add_argument("--cli", action="store_true", help="every wake-up a `python -m jobs run --once` subprocess")
    parser.add_argument(
        "--calls", type=int, default=1000, help="AIRTABLE_MONTHLY_CALLS (default: Airtable Free's 1000)"
    )
    parser.add_argument(
        "--wake-every",
        type=int,
        default=0,
        metavar="MINUTES",
        help="wake only every MINUTES from midnight, as a timer running `run --once` would (default: when due)",
    )
    args = parser.parse_args(argv)
    patterns = PATTERNS if args.arrivals == "both" else (args.arrivals,)
    results = [run_month(args.days, args.seed, args.wake_every, p, args.cli, args.calls) for p in patterns]
    if len(results) > 1:
        print(comparison(results), end="\n\n")
    for result in results:
        print(table(result), end="\n\n")
        if args.budget:
            print(f"`partnerops budget` halfway through the month ({result.arrivals} arrivals):\n")
            print(result.budget_midway)


if __name__ == "__main__":
    main()
