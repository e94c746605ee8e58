"""A 30-day month of the SPEC §7 reference workload, driving the real scheduler against the fakes.

    .venv/bin/python -m bench.month            # the full month, a table for the README
    .venv/bin/python -m bench.month --days 3   # a shorter stretch
    .venv/bin/python -m bench.month --wake-every 30   # woken by a timer every 30 minutes

Workload: 250 partners, 150 activities, 600 referrals and one circle (the sample generator at
that size), then over the month 50 new From-partner referrals (a form, at random moments of the
day), 10 To-partner referrals and 30 edits of partner records (managers, in working hours) and
15 CRM stage changes (salespeople, days after a deal arrived). Fake Airtable, Slack and HubSpot
run over real HTTP on loopback, on one simulated clock; the program is started on 31 October
(its first full sync falls in the month before) and then woken exactly when ``tick`` says the
next tier is due, rounded up to the minute as ``partnerops run`` wakes on the minute — or, with
``--wake-every N``, at the first multiple of N minutes after midnight from then on, as cron, a
systemd timer or a GitHub Actions schedule calling ``partnerops run --once`` every N minutes would.

Reported: Airtable calls by base and kind; change detection (polls) and safety resyncs apart
from the *change work* (reads of changed records and writes), which is compared with its lower
bound for the same changes: per tick and table ⌈records the program created or changed / 10⌉
writes, and no reads — the change feed carries every cell of a changed record, so reading one
is never necessary; and the time from a referral's submission to its CRM deal.
"""

from __future__ import annotations

import argparse
import io
import math
import random
import statistics
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bases.sample import ACTIVITIES_T, CIRCLE_CHANNEL, CIRCLES_T, LINKS, MEMBERS_T, PARTNERS_T, REFERRALS_T, sample_data
from bases.schema import BASES
from integrations.http import Clock
from jobs.app import App as Runtime
from jobs.commands.budget import cmd_budget
from jobs.schedule.tiers import tick
from jobs.settings import Settings
from jobs.sync.syncer import FULL_SYNC
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.fakes.airtable_setup import TOKEN, provision
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.slack import FakeSlack

MONTH_START = datetime(2026, 11, 1, tzinfo=timezone.utc)
SETUP = MONTH_START - timedelta(hours=2)
WORKLOAD = {"partners": 250, "activities": 150, "referrals": 600}
NEW_FROM_PARTNER, NEW_TO_PARTNER, STAGE_CHANGES, PARTNER_EDITS = 50, 10, 15, 30
DUPLICATES, UNKNOWN_PARTNER = 3, 1  # of the 50: re-registrations of a known company; a mistyped partner
MANAGER_CHANNEL = "C0MANAGERS"
TARGETS = {"calls": 900, "ratio": 1.2, "median_minutes": 45}


@dataclass(order=True)
class Event:
    at: datetime
    kind: str = field(compare=False)
    apply: Callable[[], None] = field(compare=False)


@dataclass
class Result:
    days: int
    calls: int
    by_base_kind: list[tuple[str, str, int]]
    polls: int
    full_sync: int
    change_work: int
    lower_bound: int
    latencies: list[float]  # minutes, submission → deal in the CRM
    not_pushed: int
    ticks: int
    naive_calls: int
    naive_median_minutes: float
    events: Counter[str]
    budget_midway: str = ""  # what `partnerops budget` printed halfway through

    @property
    def ratio(self) -> float:
        return self.change_work / self.lower_bound if self.lower_bound else 1.0

    @property
    def median(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p90(self) -> float:
        if len(self.latencies) < 2:
            return self.median
        return statistics.quantiles(self.latencies, n=10, method="inclusive")[-1]


class World:
    """The fakes, the seeded bases, and the people who change things during the month."""

    def __init__(self, fake: FakeAirtable, slack: FakeSlack, hub: FakeHubSpot, rng: random.Random) -> None:
        self.fake, self.slack, self.hub, self.rng = fake, slack, hub, rng
        self.ids = provision(fake)
        self.records: dict[str, str] = {}
        self.partner_emails: list[str] = []
        self.top_partners: list[str] = []
        self.submitted: dict[str, datetime] = {}  # referral record id → when it was submitted
        self.events: Counter[str] = Counter()

    def seed(self, now: datetime) -> None:
        data = sample_data(
            now,
            partners=WORKLOAD["partners"],
            activities=WORKLOAD["activities"],
            referrals=WORKLOAD["referrals"],
        )
        for key in (PARTNERS_T, CIRCLES_T, ACTIVITIES_T, REFERRALS_T, MEMBERS_T):
            base, table = key
            for row in data[key]:
                fields = dict(row.fields)
                for (link_table, name), _target in LINKS.items():
                    if link_table == key and name in fields:
                        fields[name] = [self.records[ref] for ref in fields[name]]
                self.records[row.ref] = self.fake.ui_create(self.ids[base], table, fields, created=row.created)
        partners = data[PARTNERS_T]
        self.partner_emails = [str(p.fields["Email"]).lower() for p in partners if p.fields.get("Email")]
        self.top_partners = [
            str(m.fields["Partner Email"]).lower() for m in data[MEMBERS_T] if m.fields.get("Status") == "Active"
        ] or self.partner_emails[:20]
        for email in self.partner_emails:
            self.slack.add_user(email)
        members = [
            self.slack.users[str(m.fields["Partner Email"]).lower()]
            for m in data[MEMBERS_T]
            if m.fields.get("Status") == "Active" and str(m.fields.get("Partner Email", "")).lower() in self.slack.users
        ]
        self.slack.add_channel(CIRCLE_CHANNEL, members)
        self.slack.add_channel(MANAGER_CHANNEL, private=False)

    # ------------------------------------------------------------------ what people do

    def submit_referral(self, i: int, *, duplicate_of: str | None = None, unknown: bool = False) -> Callable[[], None]:
        def act() -> None:
            domain = duplicate_of or f"lead{i}-{self.rng.randrange(10_000)}.example"
            partner = "nobody@unknown-partner.example" if unknown else self.rng.choice(self.partner_emails[:120])
            rid = self.fake.ui_create(
                self.ids["referrals"],
                "Referrals",
                {
                    "Referral": f"Lead {i} — Robin Buyer",
                    "Direction": "From partner",
                    "Partner Email": partner,
                    "Company": f"Lead {i} Ltd",
                    "Company Domain": domain,
                    "Contact Name": "Robin Buyer",
                    "Contact Email": f"robin@{domain}",
                },
                source="formSubmission",
            )
            self.submitted[rid] = self.fake.clock.now()
            self.events["From-partner referral"] += 1

        return act

    def give_referral(self, i: int) -> Callable[[], None]:
        def act() -> None:
            self.fake.ui_create(
                self.ids["referrals"],
                "Referrals",
                {
                    "Referral": f"Inbound {i} — Sam Lead",
                    "Direction": "To partner",
                    "Partner Email": self.rng.choice(self.top_partners),
                    "Company": f"Inbound {i} GmbH",
                    "Company Domain": f"inbound{i}.example",
                    "Contact Name": "Sam Lead",
                    "Contact Email": f"sam@inbound{i}.example",
                },
            )
            self.events["To-partner referral"] += 1

        return act

    def edit_partner(self, i: int) -> Callable[[], None]:
        def act() -> None:
            partners = self.fake.records(self.ids["partners"], "Partners")
            record = self.rng.choice(partners)
            change = self.rng.choice([{"Notes": f"call notes {i}"}, {"Owner": "ben@ourco.example"}, {"Notes": ""}])
            self.fake.ui_update(self.ids["partners"], "Partners", record["id"], change)
            self.events["partner edit"] += 1

        return act

    def move_deal(self) -> Callable[[], None]:
        def act() -> None:
            ours = [d for d in self.hub.deals() if d["properties"].get("partnerops_referral_id")]
            if not ours:
                self.events["stage change (no deal yet)"] += 1
                return
            deal = self.rng.choice(ours)
            stage = self.rng.choice(
                ["qualifiedtobuy", "presentationscheduled", "contractsent", "closedwon", "closedlost"]
            )
            self.hub.set_stage(deal["id"], stage, amount=self.rng.choice([4_000, 12_000, 30_000]))
            self.events["CRM stage change"] += 1

        return act

    def month_events(self, days: int) -> list[Event]:
        span = days * 86400.0
        rng = self.rng

        def anytime() -> datetime:
            return MONTH_START + timedelta(seconds=rng.uniform(0, span))

        def working_hours() -> datetime:
            day = rng.randrange(days)
            return MONTH_START + timedelta(days=day, hours=rng.uniform(8, 18))

        scale = days / 30
        n_from = max(1, round(NEW_FROM_PARTNER * scale))
        events = []
        domains: list[str] = []
        for i in range(n_from):
            dup = i >= n_from - DUPLICATES and bool(domains) and days >= 10
            events.append(
                Event(
                    anytime(), "from", self.submit_referral(i, duplicate_of=domains[0] if dup else None, unknown=i == 7)
                )
            )
            domains.append(f"lead{i}")
        events += [
            Event(working_hours(), "to", self.give_referral(i)) for i in range(max(1, round(NEW_TO_PARTNER * scale)))
        ]
        events += [
            Event(working_hours(), "edit", self.edit_partner(i)) for i in range(max(1, round(PARTNER_EDITS * scale)))
        ]
        events += [
            Event(MONTH_START + timedelta(days=rng.uniform(min(3, days / 2), days)), "stage", self.move_deal())
            for _ in range(max(1, round(STAGE_CHANGES * scale)))
        ]
        return sorted(events)


def _write_bound(fake: FakeAirtable, ids: dict[str, str], since: datetime) -> int:
    """⌈records the tick created or changed / 10⌉ per table."""
    return sum(math.ceil(len(fake.changed_since(ids[b.key], t.name, since)) / 10) for b in BASES for t in b.tables)


def on_grid(when: datetime, every: int) -> datetime:
    """The first firing at or after ``when`` of a timer firing every ``every`` minutes from midnight (cron's */N)."""
    midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + math.ceil((when - midnight) / timedelta(minutes=every)) * timedelta(minutes=every)


def run_month(days: int = 30, seed: int = 7, wake_every: int = 0) -> Result:
    rng = random.Random(seed)
    clock = FakeClock(SETUP)
    end = MONTH_START + timedelta(days=days)
    with (
        FakeAirtable(TOKEN, clock=clock) as fake,
        FakeSlack("xoxb-bench-token") as slack,
        FakeHubSpot("pat-na1-bench", now=clock.now) as hub,
        tempfile.TemporaryDirectory() as tmp,
    ):
        world = World(fake, slack, hub, rng)
        world.seed(SETUP)
        clock.advance(2)
        settings = Settings(
            airtable_token=TOKEN,
            base_ids=world.ids,
            airtable_api_url=fake.url,
            slack_bot_token="xoxb-bench-token",
            slack_api_url=slack.url,
            slack_manager_channel=MANAGER_CHANNEL,
            crm="hubspot",
            hubspot_token="pat-na1-bench",
            hubspot_api_url=hub.url,
            referral_form_url="https://forms.example/refer",
            home=Path(tmp) / "home",
        )
        rt = Runtime.open(settings, Clock(time=clock.time, sleep=clock.sleep, now=clock.now))
        try:
            report = tick(rt, clock.now())  # installed the day before the month begins
            events = world.month_events(days)
            lower = ticks = 0
            pushed_at: dict[str, datetime] = {}
            midway, budget_text = MONTH_START + timedelta(days=days / 2), ""
            while True:
                due = report.next_due or end
                due = max(due, clock.now())
                if due.second or due.microsecond:
                    due = due.replace(second=0, microsecond=0) + timedelta(minutes=1)
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
                    shown = io.StringIO()
                    cmd_budget(settings, shown, now=clock.now())
                    budget_text = shown.getvalue()
                clock.advance(0.001)  # what people did so far is older than anything this tick writes
                report = tick(rt, clock.now())
                if report.now >= MONTH_START:
                    ticks += 1
                    lower += _write_bound(fake, world.ids, report.now)
                for r in rt.store.all("referrals", "Referrals"):
                    if r.id in world.submitted and r.get("CRM ID") and r.id not in pushed_at:
                        pushed_at[r.id] = report.now
            kinds = rt.ledger.breakdown(MONTH_START)
            names = {world.ids[b.key]: b.name for b in BASES}
            by_kind = Counter[str]()
            for _base, kind, count in kinds:
                by_kind[kind] += count
            total = rt.ledger.used(MONTH_START)
            polls, full = by_kind["webhook-poll"], by_kind[FULL_SYNC]
            latencies = sorted((pushed_at[r] - world.submitted[r]).total_seconds() / 60 for r in pushed_at)
            sizes = {(b.key, t.name): len(fake.records(world.ids[b.key], t.name)) for b in BASES for t in b.tables}
            return Result(
                days=days,
                calls=total,
                by_base_kind=[(names.get(b, b), k, c) for b, k, c in kinds],
                polls=polls,
                full_sync=full,
                change_work=total - polls - full,
                lower_bound=lower,
                latencies=latencies,
                not_pushed=len(world.submitted) - len(pushed_at),
                ticks=ticks,
                naive_calls=naive_daily_calls(sizes) * days,
                naive_median_minutes=12 * 60,
                events=world.events,
                budget_midway=budget_text,
            )
        finally:
            rt.close()


def naive_daily_calls(sizes: dict[tuple[str, str], int]) -> int:
    """A daily full read of every table and a rewrite of every partner's and referral's job-owned cells, 10 a call."""
    reads = sum(max(1, math.ceil(n / 100)) for n in sizes.values())
    writes = math.ceil(sizes[("partners", "Partners")] / 10) + math.ceil(sizes[("referrals", "Referrals")] / 10)
    return reads + writes


def table(r: Result) -> str:
    def mark(ok: bool) -> str:
        return "✓" if ok else "✗ over target"

    lines = [
        f"Reference workload, {r.days} simulated days ({r.ticks} scheduler wake-ups): "
        + ", ".join(f"{n} {k}" for k, n in sorted(r.events.items())),
        "",
        "| measure | measured | target |",
        "|---|---|---|",
        f"| Airtable calls in the month | {r.calls} | ≤ {TARGETS['calls']} {mark(r.calls <= TARGETS['calls'])} |",
        f"| change detection: polls of the change feeds | {r.polls} | (bought with what is left) |",
        f"| safety: full resyncs (first run / every 7 days) | {r.full_sync} | |",
        f"| change work: reads of changed records + writes | {r.change_work} | |",
        f"| lower bound for the same changes | {r.lower_bound} | |",
        f"| change work ÷ lower bound | {r.ratio:.2f}× | ≤ {TARGETS['ratio']}× {mark(r.ratio <= TARGETS['ratio'])} |",
        f"| referral → CRM deal, median | {r.median:.0f} min | ≤ {TARGETS['median_minutes']} min {mark(r.median <= TARGETS['median_minutes'])} |",
        f"| referral → CRM deal, 90th percentile | {r.p90:.0f} min | |",
        f"| referrals never pushed (duplicates, unknown partner) | {r.not_pushed} | |",
        "",
        "| base | kind | calls |",
        "|---|---|---|",
        *(f"| {b} | {k} | {c} |" for b, k, c in r.by_base_kind),
        "",
        f"Naive comparison: a daily full read of every table plus a rewrite of every partner's and "
        f"referral's cells in batches of 10 would cost {r.naive_calls} calls for the same {r.days} days "
        f"({r.naive_calls / max(1, r.calls):.1f}× as many), and a new referral would wait "
        f"{r.naive_median_minutes / 60:.0f} h for the CRM at the median.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.month", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", action="store_true", help="also print `partnerops budget` as it read halfway")
    parser.add_argument(
        "--wake-every",
        type=int,
        default=0,
        metavar="MINUTES",
        help="wake only every MINUTES from midnight, as a timer running `run --once` would (default: when due)",
    )
    args = parser.parse_args(argv)
    result = run_month(args.days, args.seed, args.wake_every)
    print(table(result))
    if args.budget:
        print("\n`partnerops budget` halfway through the month:\n")
        print(result.budget_midway)


if __name__ == "__main__":
    main()
