"""The world the bad-input tests run in (no tests here): the three template bases in the fake
Airtable, the fake Slack with a circle channel and the managers' channel, and the program on
them, driven a whole cycle at a time through :func:`jobs.schedule.tiers.tick`.

The standing cast: two top partners (Jane and Bob, three recent sourced referrals each, members
of the circle after the first cycle) — exactly the partners a stale mirror would wrongly score
Stale, kick and tell why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from integrations.airtable import AirtableClient
from integrations.ledger import CallLedger
from integrations.slack import SlackClient
from jobs.app import App
from jobs.schedule.tiers import TickReport, tick
from jobs.settings import Settings
from tests.apps import make_app
from tests.conftest import START, TOKEN, client_clock, provision
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.fakes.slack import FakeSlack

CHANNEL, MANAGERS = "G0CIRCLE01", "C0MANAGERS"
FORM = "https://forms.example/refer"
WRITES = ("POST", "PATCH", "PUT", "DELETE")
TOP = {"jane": "Jane Doe", "bob": "Bob Stone"}


@dataclass
class World:
    tmp_path: Path
    air: FakeAirtable
    slack: FakeSlack
    clock: FakeClock
    settings: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    people: dict[str, str] = field(default_factory=dict)  # short name → Partners record id
    users: dict[str, str] = field(default_factory=dict)  # short name → Slack user id
    circle: str = ""
    _app: App | None = None

    def __post_init__(self) -> None:
        self.ids = provision(self.air)
        self.clock.advance(2)
        self.air.reset_counts()
        self.circle = self.create(
            "circles",
            "Circles",
            {
                "Name": "Top Partners",
                "Slack Channel ID": CHANNEL,
                "Enter Score": 75,
                "Leave Score": 50,
                "Stale After Days": 90,
                "Active": True,
                "Perks": "First pick of our referrals",
            },
        )

    # --- data, as people type it ---------------------------------------------------------

    def create(self, base: str, table: str, fields: dict[str, Any], *, days_ago: float = 0) -> str:
        created = self.clock.now() - timedelta(days=days_ago) if days_ago else None
        rid: str = self.air.ui_create(self.ids[base], table, fields, created=created)
        return rid

    def update(self, base: str, table: str, rid: str, fields: dict[str, Any]) -> None:
        self.air.ui_update(self.ids[base], table, rid, fields)

    def partner(self, short: str, name: str, *, slack: bool = True, **extra: Any) -> str:
        email = f"{short}@partner.example"
        fields = {"Name": name, "Email": email, "Joined On": "2025-01-01", "Stage": "Active", **extra}
        self.people[short] = self.create("partners", "Partners", fields, days_ago=400)
        if slack:
            self.users[short] = self.slack.add_user(email)
        return self.people[short]

    def referrals_from(self, short: str, *days_ago: float, **extra: Any) -> list[str]:
        email = f"{short}@partner.example"
        return [
            self.create(
                "referrals",
                "Referrals",
                {
                    "Referral": f"Lead {short} {i}",
                    "Direction": "From partner",
                    "Partner Email": email,
                    "Company": f"Lead {short} {i}",
                    "Contact Email": f"buyer{i}@lead-{short}-{i}.example",
                    **extra,
                },
                days_ago=d,
            )
            for i, d in enumerate(days_ago)
        ]

    def top_partners(self) -> None:
        """Jane and Bob: three sourced referrals in the last three weeks each (score 78, Top)."""
        for short, name in TOP.items():
            self.partner(short, name)
            self.referrals_from(short, 5, 10, 20)

    # --- the program ----------------------------------------------------------------------

    def app(self) -> App:
        if self._app is None:
            ledger = CallLedger(self.tmp_path / "ledger.sqlite")
            clock = client_clock(self.clock)
            client = AirtableClient(TOKEN, self.ids, ledger=ledger, allowance=1000, api_url=self.air.url, clock=clock)
            slack = SlackClient(self.slack.token, api_url=self.slack.url, sleep=lambda _s: None)
            chosen: dict[str, Any] = {
                "home": self.tmp_path / "home",
                "airtable_token": TOKEN,
                "base_ids": self.ids,
                "airtable_api_url": self.air.url,
                "slack_bot_token": self.slack.token,
                "slack_api_url": self.slack.url,
                "slack_manager_channel": MANAGERS,
                "referral_form_url": FORM,
                "digest_at": None,
                **self.settings,
            }
            settings = Settings(**chosen)
            self._app = make_app(settings, None, ledger, client, clock, slack)
        return self._app

    def tick(self, days: float = 0) -> TickReport:
        """One cycle of what is due, ``days`` after the last (the daily tier runs once a day)."""
        if days:
            self.clock.advance(days * 86400)
        self.air.reset_counts()
        return tick(self.app(), self.clock.now())

    def close(self) -> None:
        if self._app is not None:
            self._app.close()

    # --- what happened ----------------------------------------------------------------------

    def writes(self) -> int:
        """Airtable calls that change records (webhook set-up and payload polls excluded)."""
        return sum(self.air.calls(m, "/v0/app") for m in WRITES) - self.air.calls("POST", "/webhooks")

    def record(self, base: str, table: str, rid: str) -> dict[str, Any]:
        found: dict[str, Any] = next(r["fields"] for r in self.air.records(self.ids[base], table) if r["id"] == rid)
        return found

    def managers(self) -> list[str]:
        return [str(m["text"]) for m in self.slack.messages(MANAGERS)]

    def dms(self) -> list[str]:
        return [str(m["text"]) for m in self.slack.messages() if str(m.get("channel", "")).startswith("D")]

    def members(self) -> set[str]:
        return self.slack.members(CHANNEL) - {self.slack.bot_user_id}

    def outcome(self, report: TickReport, job: str) -> Any:
        return next(o for o in report.outcomes if o.job == job)


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> Iterator[World]:
    """Import this into a test module (``from tests.test_bad_input_world import world_fixture``)."""
    clock = FakeClock(START)
    with FakeAirtable(TOKEN, clock=clock) as air, FakeSlack() as slack:
        slack.add_channel(CHANNEL)
        slack.add_channel(MANAGERS, private=False)
        w = World(tmp_path, air, slack, clock)
        try:
            yield w
        finally:
            w.close()
