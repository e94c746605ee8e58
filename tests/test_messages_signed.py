"""Who signs what partners read: the read step looks the partner's Owner up in Slack by e-mail —
their display name, else their real name; an Owner not in Slack (or a look-up that fails) signs
with their e-mail; no Owner, "the partner team". A dry run lists the messages signed the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from integrations.http import Clock
from integrations.slack import SlackClient
from jobs.app import App
from jobs.settings import Settings
from tests.apps import T0, dry, make_app, run
from tests.fakes.slack import FakeSlack

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
CHANNEL = "G0CIRCLE01"
OWNERS = {
    "ana@partner.example": "olga@ourco.example",  # in Slack with a display name
    "ben@partner.example": "raj@ourco.example",  # in Slack with a real name only
    "cai@partner.example": "Sam@OurCo.example",  # not in Slack
    "dee@partner.example": "",  # no Owner
}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel(CHANNEL)
        for partner in OWNERS:
            fake.add_user(partner)
        fake.add_user("olga@ourco.example", real_name="Olga Owens", display_name="Olga")
        fake.add_user("raj@ourco.example", real_name="Raj Rao")
        yield fake


def runtime(tmp_path: Path, fake: FakeSlack) -> App:
    settings = Settings(home=tmp_path, slack_bot_token=fake.token, slack_api_url=fake.url)
    client = SlackClient(fake.token, api_url=fake.url, sleep=lambda _s: None)
    return make_app(settings, clock=Clock(now=lambda: NOW, sleep=lambda _s: None), slack=client)


def seed(app: App) -> None:
    circle = {"Name": "Top Partners", "Slack Channel ID": CHANNEL, "Enter Score": 75, "Leave Score": 50, "Active": True}
    app.store.create("circles", "Circles", circle, created=T0)
    for email, owner in OWNERS.items():
        fields = {
            "Name": f"{email[:3].title()} Partner",
            "Email": email,
            "Health Score": 90,
            "Last Referral On": (NOW.date() - timedelta(days=5)).isoformat(),
        }
        if owner:
            fields["Owner"] = owner
        app.store.create("partners", "Partners", fields, created=T0)


def signatures(fake: FakeSlack) -> dict[str, str]:
    out = {}
    for partner in OWNERS:
        dm = fake.dms[fake.users[partner]]
        (message,) = fake.messages(dm)
        out[partner] = message["text"].splitlines()[-1]
    return out


EXPECTED = {
    "ana@partner.example": "— Olga",
    "ben@partner.example": "— Raj Rao",
    "cai@partner.example": "— sam@ourco.example",  # the Owner cell as Airtable reads it: an e-mail, lower case
    "dee@partner.example": "— the partner team",
}


def test_each_welcome_is_signed_by_the_partners_owner(tmp_path: Path, slack: FakeSlack) -> None:
    app = runtime(tmp_path, slack)
    seed(app)
    outcome = run(app, "circles", NOW)
    assert outcome.ok, outcome.failures
    assert signatures(slack) == EXPECTED
    # The three Owners are looked up once each, with the four partners: seven look-ups in all.
    assert slack.calls("users.lookupByEmail") == 7


def test_an_owner_whose_look_up_fails_signs_with_their_email(tmp_path: Path, slack: FakeSlack) -> None:
    app = runtime(tmp_path, slack)
    seed(app)
    for partner in app.store.all("partners", "Partners"):  # known Slack users: only the Owners are looked up
        uid = slack.users[str(partner.fields["Email"])]
        app.store.merge_fields("partners", "Partners", partner.id, {"Slack User ID": uid})
    for _ in range(2):  # Olga's look-up (the first, in order) fails, and so does its one retry
        slack.fail_next("users.lookupByEmail", "internal_error", status=500)
    outcome = run(app, "circles", NOW)
    assert outcome.ok, outcome.failures
    assert signatures(slack) == {**EXPECTED, "ana@partner.example": "— olga@ourco.example"}


def test_a_dry_run_lists_the_messages_signed_as_the_run_signs_them(tmp_path: Path, slack: FakeSlack) -> None:
    app = runtime(tmp_path, slack)
    seed(app)
    _outcome, lines = dry(app, "circles", NOW)
    text = "\n".join(lines)
    for signature in EXPECTED.values():
        assert signature in text
    assert slack.messages() == []
