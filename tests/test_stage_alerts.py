"""Stage alerts (SPEC §5.5) against the fake HubSpot and the fake Slack: with STAGE_ALERTS=closed
(the default) a partner hears when their referral's deal is won or lost, with `all` at every
stage; a won message names the amount with its currency — the deal's own, else the account's
company currency — and never a bare amount; once per change, signed by the Owner."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from integrations.http import Clock
from integrations.slack import SlackClient
from jobs.app import App
from jobs.plan import Count
from jobs.settings import Settings
from tests.apps import T0, make_app, run
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.slack import FakeSlack

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
PIA = "pia@agency.example"
COMPANIES = ("Acme", "Globex", "Initech", "Hooli", "Umbrella")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user(PIA)
        fake.add_user("olga@ourco.example", real_name="Olga Owens")  # no display name: the real name signs
        yield fake


class World:
    """A partner, five pushed referrals, and the program on one home, at any time."""

    def __init__(self, home: Path, hub: FakeHubSpot, slack: FakeSlack, alerts: str) -> None:
        self.home, self.hub, self.slack = home, hub, slack
        self.settings = Settings(
            home=home,
            crm="hubspot",
            hubspot_token=hub.token,
            hubspot_api_url=hub.url,
            slack_bot_token=slack.token,
            slack_api_url=slack.url,
            stage_alerts=alerts,
        )
        app = self.app(NOW)
        app.store.create(
            "partners", "Partners", {"Name": "Pia Partner", "Email": PIA, "Owner": "olga@ourco.example"}, created=T0
        )
        self.ids = {}
        for i, company in enumerate(COMPANIES):
            fields = {
                "Referral": f"{company} — Jo Buyer",
                "Direction": "From partner",
                "Partner Email": PIA,
                "Company": company,
                "Contact Name": "Jo Buyer",
                "Contact Email": f"jo@{company.lower()}.example",
            }
            created = NOW - timedelta(hours=2) + timedelta(minutes=i)
            self.ids[company] = app.store.create("referrals", "Referrals", fields, created=created).id
        assert run(app, "referrals", NOW).ok
        self.seen = len(self.told())

    def app(self, when: datetime) -> App:
        client = SlackClient(self.slack.token, api_url=self.slack.url, sleep=lambda _s: None)
        return make_app(self.settings, clock=Clock(now=lambda: when, sleep=lambda _s: None), slack=client)

    def deal(self, company: str) -> str:
        app = self.app(NOW)
        return str(app.store.get("referrals", "Referrals", self.ids[company]).fields["CRM ID"])  # type: ignore[union-attr]

    def stages(self, when: datetime) -> int:
        outcome = run(self.app(when), "stages", when)
        assert outcome.ok, outcome.failures
        return outcome.counts[Count.STAGE_ALERTS]

    def told(self) -> list[str]:
        dm = self.slack.dms.get(self.slack.users[PIA])
        return [m["text"] for m in self.slack.messages(dm)] if dm else []

    def news(self) -> list[str]:
        """The messages since the receipts (or since the last call)."""
        texts = self.told()[self.seen :]
        self.seen += len(texts)
        return texts


@pytest.fixture
def hub() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(now=lambda: NOW, company_currency="GBP") as fake:
        yield fake


def move_deals(world: World) -> None:
    hub = world.hub
    hub.set_stage(world.deal("Acme"), "contractsent")
    hub.set_stage(world.deal("Globex"), "closedwon", amount=12000, currency="EUR")
    hub.set_stage(world.deal("Initech"), "closedwon", amount="5250.5")  # no currency of its own
    hub.set_stage(world.deal("Hooli"), "closedlost")
    hub.set_stage(world.deal("Umbrella"), "closedwon")  # won, no amount


def by_company(texts: list[str]) -> dict[str, str]:
    return {c: t for t in texts for c in COMPANIES if f"{c} (Jo Buyer)" in t}


@pytest.mark.parametrize("alerts", ["closed", "all"])
def test_partners_hear_of_won_and_lost_deals_and_with_all_of_every_stage(
    tmp_path: Path, hub: FakeHubSpot, slack: FakeSlack, alerts: str
) -> None:
    world = World(tmp_path, hub, slack, alerts)
    move_deals(world)
    later = NOW + timedelta(hours=1)
    assert world.stages(later) == (5 if alerts == "all" else 4)
    told = by_company(world.news())
    assert set(told) == ({*COMPANIES} if alerts == "all" else {"Globex", "Initech", "Hooli", "Umbrella"})
    assert "Globex (Jo Buyer) has signed with us, a deal of 12,000 EUR" in told["Globex"]  # the deal's currency
    assert "a deal of 5,250.50 GBP" in told["Initech"]  # the account's company currency
    assert "has signed with us. Thank you" in told["Umbrella"]  # no amount: none is named
    assert "did not go ahead this time" in told["Hooli"]
    if alerts == "all":
        assert "it has moved on to “Contract Sent” in our sales process" in told["Acme"]
    for text in told.values():
        assert text.endswith("— Olga Owens")
        assert "Closed Won" not in text and "Closed Lost" not in text
    assert world.stages(later + timedelta(hours=1)) == 0 and world.news() == []  # told once


def test_the_account_currency_is_asked_only_when_a_won_deal_has_none(
    tmp_path: Path, hub: FakeHubSpot, slack: FakeSlack
) -> None:
    world = World(tmp_path, hub, slack, "closed")
    hub.set_stage(world.deal("Globex"), "closedwon", amount=900, currency="EUR")
    hub.set_stage(world.deal("Hooli"), "closedlost", amount=300)
    hub.reset_calls()
    assert world.stages(NOW + timedelta(hours=1)) == 2
    assert hub.calls("account-info") == 0
    hub.set_stage(world.deal("Initech"), "closedwon", amount=700)
    assert world.stages(NOW + timedelta(hours=2)) == 1
    assert hub.calls("account-info") == 1
    (text,) = world.news()[-1:]
    assert "a deal of 700 GBP" in text


def test_when_the_currency_cannot_be_read_no_bare_amount_is_named(
    tmp_path: Path, hub: FakeHubSpot, slack: FakeSlack
) -> None:
    world = World(tmp_path, hub, slack, "closed")
    hub.set_stage(world.deal("Initech"), "closedwon", amount=700)
    hub.fail_next("account-info", 403, body={"status": "error", "category": "MISSING_SCOPES", "message": "no"})
    assert world.stages(NOW + timedelta(hours=1)) == 1
    (text,) = world.news()
    assert "has signed with us. Thank you" in text and "700" not in text


def test_do_not_message_partners_hear_nothing(tmp_path: Path, hub: FakeHubSpot, slack: FakeSlack) -> None:
    world = World(tmp_path, hub, slack, "all")
    app = world.app(NOW)
    (pia,) = app.store.all("partners", "Partners")
    app.store.merge_fields("partners", "Partners", pia.id, {"Do Not Message": True})
    move_deals(world)
    assert world.stages(NOW + timedelta(hours=1)) == 0 and world.news() == []
