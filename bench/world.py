"""The people of the simulated month: the fakes, the seeded bases, and what partners, managers and
salespeople do during the month — with the From-partner referrals arriving by one of two patterns.

* ``uniform`` — at random moments of the day and night, any day of the week;
* ``working`` — Mon–Fri 08:00–18:00 local to :data:`ZONE` (the hours most partners work).

The seeded history agrees with the month: the From-partner referrals of the eight weeks before it
(what the planner learns from) are moved, each within its own week, to a moment drawn from the
same pattern, so the program starts the month knowing the partners' habits, as it would after
running for a while.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bases.sample import ACTIVITIES_T, CIRCLE_CHANNEL, CIRCLES_T, LINKS, MEMBERS_T, PARTNERS_T, REFERRALS_T, sample_data
from bases.sample_parts import SampleData, SampleRow
from jobs.schedule.polls import LEARN_WEEKS, ArrivalPattern
from tests.fakes.airtable import FakeAirtable
from tests.fakes.airtable_setup import provision
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.slack import FakeSlack

MONTH_START = datetime(2026, 11, 1, tzinfo=timezone.utc)
ZONE = ZoneInfo("Europe/Berlin")
PATTERNS = ("uniform", "working")
WORKLOAD = {"partners": 250, "activities": 150, "referrals": 600}
NEW_FROM_PARTNER, NEW_TO_PARTNER, STAGE_CHANGES, PARTNER_EDITS = 50, 10, 15, 30
DUPLICATES = 3  # of the 50: re-registrations of a known company (and one mistyped partner)
MANAGER_CHANNEL = "C0MANAGERS"
WORK_FROM, WORK_HOURS = time(8), 10  # Mon–Fri 08:00–18:00 local


@dataclass(order=True)
class Event:
    at: datetime
    kind: str = field(compare=False)
    apply: Callable[[], None] = field(compare=False)


def arrival_pattern(pattern: str) -> ArrivalPattern:
    """The pattern as the planner's hourly weights (what the month's polls are judged against)."""
    if pattern == "uniform":
        return ArrivalPattern.uniform(ZONE)
    opening = WORK_FROM.hour
    hours = [float(d < 5 and opening <= h < opening + WORK_HOURS) for d in range(7) for h in range(24)]
    return ArrivalPattern(tuple(hours), ZONE)


def arrival(pattern: str, start: datetime, days: float, rng: random.Random) -> datetime:
    """A moment in the ``days`` days from ``start`` (midnight UTC) at which a partner sends a referral."""
    if pattern == "uniform":
        return start + timedelta(seconds=rng.uniform(0, days * 86400))
    first = start.astimezone(ZONE).date()
    span = range(math.ceil(days) + 1)
    weekdays = [first + timedelta(days=d) for d in span if (first + timedelta(days=d)).weekday() < 5]
    for _ in range(1000):
        moment = _working_moment(rng.choice(weekdays or [first]), rng)
        if start <= moment < start + timedelta(days=days):
            return moment
    raise ValueError(f"no working hours in the {days} day(s) from {start:%a %d %b}")


def _working_moment(day: date, rng: random.Random) -> datetime:
    opening = datetime.combine(day, WORK_FROM, ZONE)
    return (opening + timedelta(hours=rng.uniform(0, WORK_HOURS))).astimezone(timezone.utc)


def retimed(created: datetime, pattern: str, before: datetime, rng: random.Random) -> datetime:
    """``created`` moved to a moment of its own week (local Monday to Sunday) drawn from ``pattern``,
    before ``before``; unchanged when twenty draws all fall after ``before``."""
    local = created.astimezone(ZONE)
    monday = local.date() - timedelta(days=local.weekday())
    for _ in range(20):
        if pattern == "uniform":
            week = datetime.combine(monday, time(0), ZONE)
            moment = (week + timedelta(seconds=rng.uniform(0, 7 * 86400))).astimezone(timezone.utc)
        else:
            moment = _working_moment(monday + timedelta(days=rng.randrange(5)), rng)
        if moment < before:
            return moment
    return created


def with_history(data: SampleData, pattern: str, now: datetime, rng: random.Random) -> SampleData:
    """The sample with its From-partner referrals of the last eight weeks re-timed by ``pattern``."""
    since = now - timedelta(weeks=LEARN_WEEKS)
    rows = []
    for row in data[REFERRALS_T]:
        if row.fields.get("Direction") == "From partner" and row.created >= since:
            row = replace(row, created=retimed(row.created, pattern, now, rng))
        rows.append(row)
    return {**data, REFERRALS_T: sorted(rows, key=lambda r: (r.created, r.ref))}


class World:
    """The fakes, the seeded bases, and the people who change things during the month."""

    def __init__(
        self, fake: FakeAirtable, slack: FakeSlack, hub: FakeHubSpot, rng: random.Random, pattern: str
    ) -> None:
        self.fake, self.slack, self.hub, self.rng, self.pattern = fake, slack, hub, rng, pattern
        self.ids = provision(fake)
        self.records: dict[str, str] = {}
        self.partner_emails: list[str] = []
        self.top_partners: list[str] = []
        self.submitted: dict[str, datetime] = {}  # referral record id → when it was submitted
        self.events: Counter[str] = Counter()

    def seed(self, now: datetime, history: random.Random) -> None:
        data = sample_data(now, **WORKLOAD)
        data = with_history(data, self.pattern, now, history)
        for key in (PARTNERS_T, CIRCLES_T, ACTIVITIES_T, REFERRALS_T, MEMBERS_T):
            for row in data[key]:
                self._create(key, row)
        self.partner_emails = [str(p.fields["Email"]).lower() for p in data[PARTNERS_T] if p.fields.get("Email")]
        active = [str(m.fields["Partner Email"]).lower() for m in data[MEMBERS_T] if m.fields.get("Status") == "Active"]
        self.top_partners = active or self.partner_emails[:20]
        for email in self.partner_emails:
            self.slack.add_user(email)
        members = [self.slack.users[e] for e in active if e in self.slack.users]
        self.slack.add_channel(CIRCLE_CHANNEL, members)
        self.slack.add_channel(MANAGER_CHANNEL, private=False)

    def _create(self, key: tuple[str, str], row: SampleRow) -> None:
        base, table = key
        fields = dict(row.fields)
        for (link_table, name), _target in LINKS.items():
            if link_table == key and name in fields:
                fields[name] = [self.records[ref] for ref in fields[name]]
        self.records[row.ref] = self.fake.ui_create(self.ids[base], table, fields, created=row.created)

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

    def month_events(self, days: float) -> list[Event]:
        rng = self.rng

        def working_hours() -> datetime:  # managers: 08–18 UTC, any day
            if days < 1:
                return MONTH_START + timedelta(days=rng.uniform(0, days))
            day = rng.randrange(math.floor(days))
            return MONTH_START + timedelta(days=day, hours=rng.uniform(8, 18))

        scale = days / 30
        n_from = max(1, round(NEW_FROM_PARTNER * scale))
        events = []
        domains: list[str] = []
        for i in range(n_from):
            dup = i >= n_from - DUPLICATES and bool(domains) and days >= 10
            act = self.submit_referral(i, duplicate_of=domains[0] if dup else None, unknown=i == 7)
            events.append(Event(arrival(self.pattern, MONTH_START, days, rng), "from", act))
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

    def pushed(self) -> set[str]:
        """Submitted referrals whose deal is in the CRM (their CRM ID is back in Airtable)."""
        live = self.fake.records(self.ids["referrals"], "Referrals")
        return {r["id"] for r in live if r["id"] in self.submitted and r["fields"].get("CRM ID")}
