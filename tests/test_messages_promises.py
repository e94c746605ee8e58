"""What the circle messages promise comes true: the health and circles jobs run day after day
(the outbox standing in for Slack), and the day an at-risk message names, the referral it says
keeps the seat, and the referral and day a removal says bring a partner back are checked
against what the jobs then do."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from jobs.app import App
from jobs.settings import Settings
from tests.apps import T0, make_app, run

TODAY = date(2026, 3, 2)
LAST = TODAY - timedelta(days=20)  # two referrals then: in the zone between Leave and Enter Score
PIA = "pia@agency.example"


def at(day: date) -> datetime:
    return datetime.combine(day, time(9, 0), tzinfo=timezone.utc)


class Circle:
    def __init__(self, home: Path, *, max_members: int | None = None) -> None:
        self.home = home
        app = self.app(TODAY)
        circle = {
            "Name": "Inner Circle",
            "Slack Channel ID": "G0CIRCLE01",
            "Enter Score": 75,
            "Leave Score": 50,
            "Stale After Days": 90,
            "Active": True,
        }
        if max_members is not None:
            circle["Max Members"] = max_members
        cid = app.store.create("circles", "Circles", circle, created=T0).id
        partner = {"Name": "Pia Partner", "Email": PIA, "Owner": "olga@ourco.example", "Joined On": "2025-01-06"}
        app.store.create("partners", "Partners", partner, created=T0)
        member = {"Member": "Inner Circle: pia", "Circle": [cid], "Partner Email": PIA, "Status": "Active"}
        app.store.create("circles", "Members", {**member, "Joined On": "2025-06-01"}, created=T0)
        for company in ("Acme", "Globex"):
            self.referral(app, company, LAST, status="In CRM")
        app.close()

    def app(self, day: date) -> App:
        settings = Settings(home=self.home, referral_form_url="https://forms.example/refer")
        app = make_app(settings)
        app.clock.now = lambda: at(day)
        return app

    def referral(self, app: App, company: str, day: date, status: str | None = None) -> None:
        fields = {
            "Referral": f"{company} — Jo",
            "Direction": "From partner",
            "Partner Email": PIA,
            "Company": company,
            "Contact Email": f"jo@{company.lower()}.example",
        }
        if status:
            fields["Status"] = status
        app.store.create("referrals", "Referrals", fields, created=at(day) - timedelta(hours=1))

    def day(self, day: date, *, new_referral: str = "") -> str:
        """One day of the program: a referral registered if one came, then health and circles.
        The partner's membership status after it."""
        app = self.app(day)
        if new_referral:
            self.referral(app, new_referral, day)
            assert run(app, "referrals", at(day)).ok
        for job in ("health", "circles"):
            outcome = run(app, job, at(day))
            assert outcome.ok, outcome.failures
        (member,) = app.store.all("circles", "Members")
        app.close()
        return str(member.fields["Status"])

    def messages(self) -> list[str]:
        paths = sorted((self.home / "outbox" / "slack").glob("slack-dm-*.txt"), key=lambda p: p.stat().st_mtime)
        return [p.read_text().split("\n\n", 1)[1] for p in paths]


def named_day(text: str, words: str) -> date:
    found = re.search(words + r" (\w+) (\d+)(?:, (\d{4}))?", text)
    assert found, text
    month = datetime.strptime(found.group(1), "%B").month
    return date(int(found.group(3) or TODAY.year), month, int(found.group(2)))


def test_the_day_an_at_risk_message_names_is_the_day_the_seat_ends(tmp_path: Path) -> None:
    circle = Circle(tmp_path)
    assert circle.day(TODAY) == "Active"
    (nudge,) = circle.messages()
    assert "we have not had a referral from you since February" not in nudge  # 20 days: not "quiet"
    assert "we have had two referrals from you in the last 90 days" in nudge
    ends = named_day(nudge, "your seat ends on")
    assert "One new referral from you before then keeps it until at least" in nudge
    assert nudge.rstrip().endswith("— olga@ourco.example")  # no Slack: the Owner's e-mail signs
    assert circle.day(ends - timedelta(days=1)) == "Active"
    assert circle.day(ends) == "Removed"


@pytest.mark.parametrize("arrives", ["the next day", "the day before the seat ends"])
def test_one_referral_before_that_day_keeps_the_seat_as_long_as_it_says(tmp_path: Path, arrives: str) -> None:
    circle = Circle(tmp_path)
    circle.day(TODAY)
    nudge = circle.messages()[0]
    ends, until = named_day(nudge, "your seat ends on"), named_day(nudge, "until at least")
    assert until >= ends + timedelta(days=14)
    when = TODAY + timedelta(days=1) if arrives == "the next day" else ends - timedelta(days=1)
    assert circle.day(when, new_referral="Initech") == "Active"
    day = ends
    while day <= until:
        assert circle.day(day) == "Active", day
        day += timedelta(days=4)
    assert circle.day(until) == "Active"


def test_a_removal_names_the_referrals_and_the_day_that_bring_a_partner_back(tmp_path: Path) -> None:
    circle = Circle(tmp_path)
    circle.day(TODAY)
    ends = named_day(circle.messages()[0], "your seat ends on")
    assert circle.day(ends) == "Removed"
    removal = circle.messages()[-1]
    assert "we have taken you out of *Inner Circle* for now" in removal
    assert "write to me at olga@ourco.example" in removal
    assert "One new referral from you by" in removal and "brings you back" in removal
    back_by = named_day(removal, "from you by")
    assert circle.day(back_by, new_referral="Initech") == "Active"
    assert "Hi Pia, welcome back to *Inner Circle*" in circle.messages()[-1]


def test_a_referral_after_the_named_day_is_not_enough_so_the_day_is_no_empty_promise(tmp_path: Path) -> None:
    circle = Circle(tmp_path)
    circle.day(TODAY)
    ends = named_day(circle.messages()[0], "your seat ends on")
    circle.day(ends)
    back_by = named_day(circle.messages()[-1], "from you by")
    late = back_by + timedelta(days=2)
    assert circle.day(late, new_referral="Initech") == "Removed"


def test_under_a_member_cap_a_removal_promises_no_seat(tmp_path: Path) -> None:
    circle = Circle(tmp_path, max_members=25)
    circle.day(TODAY)
    circle.day(named_day(circle.messages()[0], "your seat ends on"))
    removal = circle.messages()[-1]
    assert "brings you back" not in removal and "the seats there are limited" in removal.lower()
