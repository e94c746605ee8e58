"""Registration receipts (SPEC §5a) against the fake Slack: accepted with its protection date,
duplicate without naming the other partner, once per referral ever — across re-runs and a home
restored from an older copy — none for a referral that needs a fix or a Do Not Message partner,
and not held back by the 7-day gap between nudges."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from integrations.http import Clock
from integrations.slack import SlackClient
from jobs.app import App
from jobs.plan import Count
from jobs.settings import Settings
from tests.apps import T0, make_app, run
from tests.fakes.slack import FakeSlack

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
PIA, QUINN, DORA = "pia@agency.example", "quinn@studio.example", "dora@quiet.example"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        for email in (PIA, QUINN, DORA):
            fake.add_user(email)
        fake.add_user("olga@ourco.example", real_name="Olga Owens", display_name="Olga")
        yield fake


def runtime(home: Path, fake: FakeSlack, when: datetime) -> App:
    settings = Settings(home=home, slack_bot_token=fake.token, slack_api_url=fake.url)
    client = SlackClient(fake.token, api_url=fake.url, sleep=lambda _s: None)
    return make_app(settings, clock=Clock(now=lambda: when, sleep=lambda _s: None), slack=client)


def seed(app: App) -> None:
    store = app.store
    store.create(
        "partners", "Partners", {"Name": "Pia Partner", "Email": PIA, "Owner": "olga@ourco.example"}, created=T0
    )
    store.create("partners", "Partners", {"Name": "Quinn Quill", "Email": QUINN}, created=T0)
    store.create("partners", "Partners", {"Name": "Dora Quiet", "Email": DORA, "Do Not Message": True}, created=T0)


def referral(app: App, partner: str, company: str, minutes: int = 0, **extra: Any) -> str:
    fields = {
        "Referral": f"{company} — Jo Buyer",
        "Direction": "From partner",
        "Partner Email": partner,
        "Company": company,
        "Contact Name": "Jo Buyer",
        "Contact Email": f"jo@{company.lower()}.example",
        **extra,
    }
    created = NOW - timedelta(hours=1) + timedelta(minutes=minutes)
    return app.store.create("referrals", "Referrals", fields, created=created).id


def receipts(fake: FakeSlack, email: str) -> list[str]:
    dm = fake.dms.get(fake.users[email])
    return [m["text"] for m in fake.messages(dm)] if dm else []


def test_accepted_and_duplicate_receipts_say_what_happened_and_name_no_other_partner(
    tmp_path: Path, slack: FakeSlack
) -> None:
    app = runtime(tmp_path, slack, NOW)
    seed(app)
    referral(app, PIA, "Acme")
    referral(app, QUINN, "Acme", minutes=5)
    outcome = run(app, "referrals", NOW)
    assert outcome.ok, outcome.failures
    assert outcome.counts[Count.RECEIPTS] == 2
    (accepted,) = receipts(slack, PIA)
    assert "Acme (Jo Buyer)" in accepted and "registered to you until March 21, 2027" in accepted
    assert accepted.endswith("— Olga")  # the Owner's Slack display name signs
    (duplicate,) = receipts(slack, QUINN)
    assert "registered with us earlier, on November 21" in duplicate
    assert "cannot register it for you this time" in duplicate
    for other in ("Pia", "pia@", "agency"):
        assert other not in duplicate
    assert duplicate.endswith("— the partner team")  # Quinn has no Owner


def test_a_second_registration_of_ones_own_company_is_told_so(tmp_path: Path, slack: FakeSlack) -> None:
    app = runtime(tmp_path, slack, NOW)
    seed(app)
    referral(app, PIA, "Acme")
    referral(app, PIA, "Acme", minutes=5)
    assert run(app, "referrals", NOW).ok
    first, again = receipts(slack, PIA)
    assert "registered to you until" in first
    assert "You registered it with us already, on November 21" in again and "cannot register" not in again


def test_one_receipt_per_referral_across_reruns_and_a_restored_home(tmp_path: Path, slack: FakeSlack) -> None:
    home, backup = tmp_path / "home", tmp_path / "backup"
    app = runtime(home, slack, NOW)
    seed(app)
    referral(app, PIA, "Acme")
    referral(app, QUINN, "Acme", minutes=5)
    app.close()
    shutil.copytree(home, backup)  # PARTNEROPS_HOME as a backup (or a CI cache) holds it
    for when in (NOW, NOW + timedelta(hours=1)):  # the run, then a re-run with nothing new
        app = runtime(home, slack, when)
        assert run(app, "referrals", when).ok
        app.close()
    assert len(receipts(slack, PIA)) == 1 and len(receipts(slack, QUINN)) == 1
    shutil.rmtree(home)
    shutil.copytree(backup, home)  # the older copy comes back: both referrals are New again
    when = NOW + timedelta(hours=2)
    outcome = run(runtime(home, slack, when), "referrals", when)
    assert outcome.ok, outcome.failures
    assert outcome.counts[Count.ACCEPTED] == 1 and outcome.counts[Count.DUPLICATES] == 1  # registered again
    assert len(receipts(slack, PIA)) == 1 and len(receipts(slack, QUINN)) == 1  # found in Slack, not resent
    assert slack.calls("conversations.history") >= 2


def test_no_receipt_for_a_referral_that_needs_a_fix_nor_for_do_not_message(tmp_path: Path, slack: FakeSlack) -> None:
    app = runtime(tmp_path, slack, NOW)
    seed(app)
    broken = referral(app, PIA, "Globex", **{"Contact Email": "", "Company": ""})
    referral(app, DORA, "Initech")
    outcome = run(app, "referrals", NOW)
    assert outcome.counts[Count.NEED_FIX] == 1 and outcome.counts[Count.ACCEPTED] == 1
    assert outcome.counts[Count.RECEIPTS] == 0
    assert receipts(slack, PIA) == [] and receipts(slack, DORA) == []
    assert app.store.get("referrals", "Referrals", broken).fields.get("Sync Notes")  # type: ignore[union-attr]
    # Fixed, it is registered on a later run, and only then gets its receipt.
    app.store.merge_fields("referrals", "Referrals", broken, {"Contact Email": "jo@globex.example"})
    later = NOW + timedelta(hours=1)
    assert run(runtime(tmp_path, slack, later), "referrals", later).ok
    (receipt,) = receipts(slack, PIA)
    assert "registered to you until" in receipt


def test_receipts_are_not_held_back_by_the_gap_between_nudges(tmp_path: Path, slack: FakeSlack) -> None:
    app = runtime(tmp_path, slack, NOW)
    seed(app)
    referral(app, PIA, "Acme")
    assert run(app, "referrals", NOW).ok
    later = NOW + timedelta(hours=2)
    app = runtime(tmp_path, slack, later)
    referral(app, PIA, "Hooli", minutes=90)
    assert run(app, "referrals", later).ok
    assert len(receipts(slack, PIA)) == 2  # an hour apart: a receipt is never a nudge
