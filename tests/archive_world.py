"""A partner program over a year old in the fake Airtable, for the archive's tests and bench.

Old closed referrals and old activities (back-dated created times) fill the Referrals and
Partners bases past 80% of a small record cap; the fake refuses creates past the cap.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from integrations.airtable import AirtableClient
from integrations.ledger import CallLedger
from jobs.app import App
from jobs.plan import JobOutcome
from jobs.schedule.archive_job import ARCHIVE
from jobs.schedule.runner import run_jobs
from jobs.schedule.sync_job import SyncJob
from jobs.settings import Settings
from tests.apps import make_app
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.fakes.airtable_setup import TOKEN, client_clock

PARTNERS = 6
CLOSED = ("Won", "Lost", "Expired", "Duplicate", "Rejected")
PARTNER_FIELDS = ("Health Score", "Health Band", "Won Referrals", "First Referral On", "Last Referral On")


@dataclass
class World:
    fake: FakeAirtable
    ids: dict[str, str]
    clock: FakeClock
    home: Path
    cap: int
    manager_channel: str = ""
    archive: str = "manual"

    def settings(self) -> Settings:
        return Settings(
            home=self.home,
            airtable_token=TOKEN,
            base_ids=dict(self.ids),
            airtable_api_url=self.fake.url,
            airtable_record_cap=self.cap,
            slack_manager_channel=self.manager_channel,
            archive=self.archive,
        )

    def app(self) -> App:
        """The program as a new process would open it (a moment later: its rate window is new)."""
        self.clock.advance(2)
        clock = client_clock(self.clock)
        ledger = CallLedger(self.home / "ledger.sqlite")
        client = AirtableClient(TOKEN, self.ids, ledger=ledger, allowance=100_000, api_url=self.fake.url, clock=clock)
        return make_app(self.settings(), ledger=ledger, client=client, clock=clock)

    def now(self) -> datetime:
        return self.clock.now()

    def records(self, base: str, table: str) -> dict[str, dict[str, object]]:
        return {r["id"]: r["fields"] for r in self.fake.records(self.ids[base], table)}

    def partner_cells(self) -> dict[str, tuple[object, ...]]:
        return {
            str(f.get("Email")): tuple(f.get(name) for name in PARTNER_FIELDS)
            for f in self.records("partners", "Partners").values()
        }

    def csv_rows(self, base: str, table: str) -> list[dict[str, str]]:
        path = self.home / "archive" / f"{base}-{table}.csv"
        if not path.exists():
            return []
        with path.open(encoding="utf-8-sig", newline="") as f:
            return list(csv.DictReader(f))


def archive(app: App) -> list[JobOutcome]:
    """What `partnerops archive` runs: a sync, then the archive job."""
    return run_jobs(app, [SyncJob(), ARCHIVE], app.now())


def email(i: int) -> str:
    return f"p{i}@partner{i}.example"


def seed(world: World, *, old_referrals: int = 60, recent_referrals: int = 25, old_activities: int = 12) -> None:
    """Partners, old closed referrals (400–700 days), recent ones, old and recent activities."""
    fake, ids, now = world.fake, world.ids, world.now()
    partners = [
        fake.ui_create(
            ids["partners"],
            "Partners",
            {"Name": f"Partner {i}", "Email": email(i), "Stage": "Active", "Joined On": "2024-01-15"},
            created=now - timedelta(days=800),
        )
        for i in range(PARTNERS)
    ]
    for i in range(old_referrals):
        created = now - timedelta(days=700 - i * 5)
        status = CLOSED[i % len(CLOSED)]
        cells: dict[str, object] = {
            "Referral": f"Old {i} — Buyer",
            "Direction": "From partner",
            "Partner Email": email(i % PARTNERS),
            "Company": f"Old Co {i}",
            "Company Domain": f"oldco{i}.example",
            "Contact Email": f"buyer@oldco{i}.example",
            "Notes": f"met at the fair\nline two of {i}",
            "Status": status,
            "Attribution": "Sourced",
            "Expires On": (created + timedelta(days=120)).date().isoformat(),
        }
        if status in ("Won", "Lost"):
            cells |= {
                "CRM ID": f"deal-{i}",
                "CRM Pushed At": (created + timedelta(hours=2)).isoformat(),
                "Amount": 1000 + i,
            }
        fake.ui_create(ids["referrals"], "Referrals", cells, created=created)
    for i in range(recent_referrals):
        created = now - timedelta(days=10 + i * 7)
        fake.ui_create(
            ids["referrals"],
            "Referrals",
            {
                "Referral": f"New {i} — Buyer",
                "Direction": "From partner",
                "Partner Email": email(i % PARTNERS),
                "Company": f"New Co {i}",
                "Company Domain": f"newco{i}.example",
                "Status": "Won" if i % 3 == 0 else "Lost",
                "Attribution": "Sourced",
                "CRM ID": f"deal-new-{i}",
                "Expires On": (created + timedelta(days=120)).date().isoformat(),
            },
            created=created,
        )
    for i in range(old_activities):
        day = now - timedelta(days=500 + i)
        fake.ui_create(
            ids["partners"],
            "Activities",
            {
                "Activity": f"Call {i}",
                "Partner": [partners[i % PARTNERS]],
                "Kind": "Meeting",
                "Date": day.date().isoformat(),
            },
            created=day,
        )
    for i in range(3):
        day = now - timedelta(days=5 + i)
        fake.ui_create(
            ids["partners"],
            "Activities",
            {"Activity": f"Lunch {i}", "Partner": [partners[i]], "Kind": "Event", "Date": day.date().isoformat()},
            created=day,
        )
