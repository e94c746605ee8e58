"""The circles job end to end against the fake Slack over HTTP: joins, leaves, nudges, pending
invites, escaping, and a cycle killed after every external call then run again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from integrations.http import Clock
from integrations.ledger import CallLedger
from integrations.slack import SlackClient
from jobs.app import App
from jobs.plan import Count
from jobs.settings import Settings
from jobs.store.local import LocalStore
from tests.apps import T0, make_app, run
from tests.fakes.slack import FakeSlack
from tests.killing import Killed
from tests.killing import kill_at as kill

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
CHANNEL, MANAGERS = "G0CIRCLE01", "C0MANAGERS"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel(CHANNEL)
        fake.add_channel(MANAGERS, private=False)
        yield fake


def partner(store: LocalStore, name: str, score: int, *, last_referral: date | None = None, **extra: Any) -> str:
    fields = {
        "Name": name,
        "Email": f"{name.split()[0].lower()}@partner.example",
        "Health Score": score,
        "Last Referral On": (last_referral or NOW.date() - timedelta(days=10)).isoformat(),
        **extra,
    }
    return store.create("partners", "Partners", fields, created=NOW - timedelta(days=400)).id


def setup_store(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "store.sqlite")
    store.create(
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
        created=T0,
    )
    return store


def runtime(tmp_path: Path, store: LocalStore, fake: FakeSlack, now: datetime = NOW) -> App:
    settings = Settings(
        home=tmp_path,
        slack_bot_token=fake.token,
        slack_api_url=fake.url,
        slack_manager_channel=MANAGERS,
        referral_form_url="https://forms.example/refer",
    )
    clock = Clock(now=lambda: now, sleep=lambda _s: None)
    slack_client = SlackClient(fake.token, api_url=fake.url, sleep=lambda _s: None)
    return make_app(settings, store, CallLedger(tmp_path / "ledger.sqlite"), None, clock, slack_client)


def _key(message: dict[str, Any]) -> str:
    return str(message.get("metadata", {}).get("event_payload", {}).get("key", ""))


def members(store: LocalStore) -> dict[str, str]:
    return {r.fields["Partner Email"]: r.fields["Status"] for r in store.all("circles", "Members")}


def dm_texts(fake: FakeSlack) -> list[str]:
    return [m["text"] for m in fake.messages() if m.get("channel", "").startswith("D") or m.get("channel_type") == "im"]


def test_a_top_partner_joins_once(tmp_path: Path, slack: FakeSlack) -> None:
    store = setup_store(tmp_path)
    jane = slack.add_user("jane@partner.example")
    partner(store, "Jane Doe", 82)
    partner(store, "Mid Level", 60)
    outcome = run(runtime(tmp_path, store, slack), "circles", NOW)
    assert outcome.ok, outcome.failures
    assert jane in slack.members(CHANNEL)
    assert members(store) == {"jane@partner.example": "Active"}
    texts = [m["text"] for m in slack.messages()]
    assert any("welcome to *Top Partners*" in t and "First pick of our referrals" in t for t in texts)
    assert slack.messages(CHANNEL)[-1]["text"] == "Please welcome Jane Doe to the circle!"
    before = len(slack.messages())
    again = run(runtime(tmp_path, store, slack), "circles", NOW + timedelta(hours=1))
    assert again.ok and len(slack.messages()) == before
    assert again.counts[Count.JOINS] == 0 and again.counts[Count.LEAVES] == 0


def test_a_partner_below_leave_score_is_removed_and_told_why(tmp_path: Path, slack: FakeSlack) -> None:
    store = setup_store(tmp_path)
    uid = slack.add_user("bob@partner.example")
    slack.add_channel(CHANNEL, [uid])
    pid = partner(store, "Bob Smith", 85)
    run(runtime(tmp_path, store, slack), "circles", NOW)
    store.merge_fields("partners", "Partners", pid, {"Health Score": 40})
    later = NOW + timedelta(days=1)
    outcome = run(runtime(tmp_path, store, slack, later), "circles", later)
    assert outcome.ok, outcome.failures
    assert uid not in slack.members(CHANNEL)
    member = store.all("circles", "Members")[0].fields
    assert member["Status"] == "Removed" and member["Removed On"] == "2026-11-22"
    assert "40" in member["Reason"]
    removal = [m["text"] for m in slack.messages() if "taken you out" in m["text"]]
    assert len(removal) == 1 and "https://forms.example/refer" in removal[0]


def test_at_risk_nudge_once_per_stay_in_the_zone(tmp_path: Path, slack: FakeSlack) -> None:
    store = setup_store(tmp_path)
    slack.add_user("ann@partner.example")
    pid = partner(store, "Ann Lee", 80)
    day = NOW

    def cycle(score: int) -> None:
        nonlocal day
        day += timedelta(days=8)
        store.merge_fields("partners", "Partners", pid, {"Health Score": score})
        assert run(runtime(tmp_path, store, slack, day), "circles", day).ok

    def nudges() -> int:
        return sum(_key(m).startswith("nudge:atrisk") for m in slack.messages())

    cycle(80)
    cycle(60)
    assert nudges() == 1
    cycle(60)
    assert nudges() == 1
    cycle(80)
    cycle(60)
    assert nudges() == 2


def test_do_not_message_partners_get_no_message_but_membership_is_managed(tmp_path: Path, slack: FakeSlack) -> None:
    store = setup_store(tmp_path)
    uid = slack.add_user("quiet@partner.example")
    partner(store, "Quiet One", 90, **{"Do Not Message": True})
    run(runtime(tmp_path, store, slack), "circles", NOW)
    assert uid in slack.members(CHANNEL)
    assert not [m for m in slack.messages() if "welcome to" in m["text"]]


def test_partner_not_in_slack_is_pending_and_managers_are_told_once(tmp_path: Path, slack: FakeSlack) -> None:
    store = setup_store(tmp_path)
    partner(store, "Nina Novak", 88)
    for hours in (0, 1, 2):
        run(runtime(tmp_path, store, slack, NOW + timedelta(hours=hours)), "circles", NOW + timedelta(hours=hours))
    assert members(store) == {"nina@partner.example": "Pending invite"}
    notes = [m for m in slack.messages(MANAGERS) if "no Slack account" in m["text"]]
    assert len(notes) == 1
    uid = slack.add_user("nina@partner.example")
    later = NOW + timedelta(days=1)
    run(runtime(tmp_path, store, slack, later), "circles", later)
    assert members(store) == {"nina@partner.example": "Active"}
    assert uid in slack.members(CHANNEL)


def test_text_from_airtable_cannot_mention_the_channel(tmp_path: Path, slack: FakeSlack) -> None:
    store = setup_store(tmp_path)
    slack.add_user("eve@partner.example")
    partner(store, "Eve <!channel> @here", 90)
    run(runtime(tmp_path, store, slack), "circles", NOW)
    post = slack.messages(CHANNEL)[-1]["text"]
    assert "<!channel>" not in post and "&lt;!channel&gt;" in post
    assert "@here" not in post


def scenario(tmp_path: Path, fake: FakeSlack) -> tuple[LocalStore, dict[str, str]]:
    store = setup_store(tmp_path)
    fake.add_user("dora@partner.example")
    pid = partner(store, "Dora Gone", 90)
    run(runtime(tmp_path, store, fake, NOW - timedelta(days=1)), "circles", NOW - timedelta(days=1))
    store.merge_fields("partners", "Partners", pid, {"Health Score": 10})
    users = {}
    for name in ("Alma Top", "Bert Top", "Cleo Top"):
        users[name] = fake.add_user(f"{name.split()[0].lower()}@partner.example")
        partner(store, name, 90)
    return store, users


@pytest.mark.parametrize("after", [False, True], ids=["before-effect", "after-effect"])
@pytest.mark.parametrize("kill_at", range(1, 17))
def test_killed_after_any_slack_call_then_rerun_sends_nothing_twice_and_misses_nothing(
    tmp_path: Path, kill_at: int, after: bool
) -> None:
    with FakeSlack() as fake:
        fake.add_channel(MANAGERS, private=False)
        fake.add_channel(CHANNEL)
        store, users = scenario(tmp_path, fake)
        baseline = len(fake.messages())
        rt = runtime(tmp_path, store, fake)
        kill(rt, kill_at, after=after)
        killed = False
        try:
            run(rt, "circles", NOW)
        except Killed:
            killed = True
        outcome = run(runtime(tmp_path, store, fake, NOW + timedelta(minutes=5)), "circles", NOW + timedelta(minutes=5))
        assert outcome.ok, outcome.failures
        new = fake.messages()[baseline:]
        keys = Counter(m.get("metadata", {}).get("event_payload", {}).get("key") for m in new)
        assert all(n == 1 for n in keys.values()), keys
        assert sum("welcome to" in m["text"] for m in new) == 3
        assert sum("taken you out" in m["text"] for m in new) == 1
        assert sum("Please welcome" in m["text"] for m in new) == 1
        assert set(users.values()) <= fake.members(CHANNEL)
        assert fake.users["dora@partner.example"] not in fake.members(CHANNEL)
        assert members(store) == {
            "alma@partner.example": "Active",
            "bert@partner.example": "Active",
            "cleo@partner.example": "Active",
            "dora@partner.example": "Removed",
        }
        assert killed or kill_at > 15


def test_check_verifies_slack_token_scopes_and_channels(tmp_path: Path, slack: FakeSlack) -> None:
    import io

    from jobs.commands.check import cmd_check

    store = setup_store(tmp_path)
    store.create(
        "circles", "Circles", {"Name": "Agencies", "Slack Channel ID": "G0NOTMEMBR", "Active": True}, created=T0
    )
    slack.add_channel("G0NOTMEMBR", bot_member=False)
    store.close()
    settings = Settings(
        home=tmp_path, slack_bot_token=slack.token, slack_api_url=slack.url, slack_manager_channel=MANAGERS
    )
    out = io.StringIO()
    assert cmd_check(settings, out) == 1
    text = out.getvalue()
    assert "ok   Slack token" in text
    assert f"ok   Slack circle 'Top Partners' {CHANNEL}: the bot can see it" in text
    assert "FAIL Slack circle 'Agencies' G0NOTMEMBR: channel_not_found. Fix: the bot cannot see" in text
    assert slack.token not in text

    slack.scopes = [s for s in slack.scopes if s != "im:write"]
    out = io.StringIO()
    cmd_check(settings, out)
    assert "FAIL Slack scopes missing: im:write" in out.getvalue()

    bad = Settings(home=tmp_path, slack_bot_token="xoxb-wrong-token", slack_api_url=slack.url)
    out = io.StringIO()
    assert cmd_check(bad, out) == 1
    assert "FAIL Slack token: invalid_auth" in out.getvalue() and "xoxb-wrong-token" not in out.getvalue()


def test_no_at_risk_nudge_within_7_days_of_a_welcome(tmp_path: Path, slack: FakeSlack) -> None:
    store = setup_store(tmp_path)
    slack.add_user("vera@partner.example")
    pid = partner(store, "Vera Dimitrov", 76)
    run(runtime(tmp_path, store, slack), "circles", NOW)
    store.merge_fields("partners", "Partners", pid, {"Health Score": 67})
    for days in (1, 6):
        later = NOW + timedelta(days=days)
        outcome = run(runtime(tmp_path, store, slack, later), "circles", later)
        assert any("nudge held back" in line for line in outcome.story)
    later = NOW + timedelta(days=7)
    run(runtime(tmp_path, store, slack, later), "circles", later)
    assert sum(_key(m).startswith("nudge:atrisk") for m in slack.messages()) == 1


def test_circles_against_airtable_writes_members_and_caches_the_slack_user(tmp_path: Path, slack: FakeSlack) -> None:
    from integrations.airtable import AirtableClient
    from jobs.sync.syncer import Syncer
    from tests.conftest import TOKEN, provision
    from tests.fakes.airtable import FakeAirtable, FakeClock

    clock = FakeClock(NOW)
    with FakeAirtable(TOKEN, clock=clock) as air:
        ids = provision(air)
        clock.advance(2)
        air.ui_create(
            ids["circles"],
            "Circles",
            {
                "Name": "Top Partners",
                "Slack Channel ID": CHANNEL,
                "Enter Score": 75,
                "Leave Score": 50,
                "Stale After Days": 90,
                "Active": True,
            },
        )
        pid = air.ui_create(
            ids["partners"],
            "Partners",
            {"Name": "Jane Doe", "Email": "jane@partner.example", "Health Score": 90, "Last Referral On": "2026-11-15"},
        )
        uid = slack.add_user("jane@partner.example")
        ledger = CallLedger(tmp_path / "ledger.sqlite")
        store = LocalStore(tmp_path / "store.sqlite")
        air_clock = Clock(time=clock.time, sleep=clock.sleep, now=clock.now)
        client = AirtableClient(TOKEN, ids, ledger=ledger, allowance=1000, api_url=air.url, clock=air_clock)
        Syncer(client, store).run(clock.now())
        rt = runtime(tmp_path, store, slack)
        rt.airtable, rt.ledger = client, ledger
        for _ in range(2):
            outcome = run(rt, "circles", NOW)
            assert outcome.ok, outcome.failures
        live_members = air.records(ids["circles"], "Members")
        assert [(m["fields"]["Member"], m["fields"]["Status"]) for m in live_members] == [
            ("Top Partners: jane@partner.example", "Active")
        ]
        live_partner = next(r for r in air.records(ids["partners"], "Partners") if r["id"] == pid)
        assert live_partner["fields"]["Slack User ID"] == uid
        assert uid in slack.members(CHANNEL)
        sent = [m for m in slack.messages() if "welcome to" in m["text"]]
        assert len(sent) == 1 and sent[0]["blocks"][0]["text"]["verbatim"] is True


def test_a_hand_made_circle_acts_on_each_partner_once_over_three_days(tmp_path: Path, slack: FakeSlack) -> None:
    """SPEC §2.3: membership is the Members record with that Circle and Partner Email, whatever
    its label; odd labels, mixed-case e-mails, two live records and a renamed circle make no
    second record and no second message."""
    store = setup_store(tmp_path)
    circle_id = store.all("circles", "Circles")[0].id
    sam = slack.add_user("sam@partner.example")
    dana = slack.add_user("dana@partner.example")
    nia = slack.add_user("nia@partner.example")
    slack.add_channel(CHANNEL, [sam, dana])
    partner(store, "Sam Stale", 30, last_referral=NOW.date() - timedelta(days=200))
    partner(store, "Dana Dup", 85)
    partner(store, "Nia New", 90)
    hand = [
        ("Sam Stale — Top Partners", " SAM@Partner.example ", "Active"),
        ("Dana", "dana@partner.example", "Active"),
        ("Top Partners: DANA@partner.example", "Dana@Partner.Example", "Active"),
        ("old Nia row", "nia@partner.example", "Removed"),
    ]
    for label, email, status in hand:
        store.create(
            "circles",
            "Members",
            {"Member": label, "Circle": [circle_id], "Partner Email": email, "Status": status},
            created=T0,
        )
    for day in range(3):
        if day == 1:
            store.merge_fields("circles", "Circles", circle_id, {"Name": "Inner Circle"})
        when = NOW + timedelta(days=day)
        run(runtime(tmp_path, store, slack, when), "circles", when)

    records = store.all("circles", "Members")
    assert len(records) == len(hand), [r.fields for r in records]  # no record made, whatever the label
    by_label = {r.fields["Member"]: r.fields for r in records}
    assert by_label["Sam Stale — Top Partners"]["Status"] == "Removed"
    assert by_label["old Nia row"]["Status"] == "Active"
    assert sum("another live record" in (r.fields.get("Sync Notes") or "") for r in records) == 1
    per_user = Counter(m["channel"] for m in slack.messages() if m["channel"].startswith("D"))
    assert sorted(per_user.values()) == [1, 1], per_user  # Sam's removal, Nia's welcome; Dana nothing
    assert slack.calls("conversations.kick") == 1
    assert slack.members(CHANNEL) >= {dana, nia} and sam not in slack.members(CHANNEL)


def test_a_hand_made_row_without_status_is_the_partners_record_and_nobody_is_removed_on_a_guess(
    tmp_path: Path, slack: FakeSlack
) -> None:
    """A row made by hand with an empty Status: a partner who qualifies joins on that row (no
    second record); one who does not is left alone — no removal, no message — and the row says
    what to set."""
    store = setup_store(tmp_path)
    circle_id = store.all("circles", "Circles")[0].id
    top = slack.add_user("tina@partner.example")
    old = slack.add_user("otto@partner.example")
    slack.add_channel(CHANNEL, [old])
    partner(store, "Tina Top", 88)
    partner(store, "Otto Old", 30, last_referral=NOW.date() - timedelta(days=200))
    for label, email in (("Tina", "tina@partner.example"), ("Otto", "otto@partner.example")):
        store.create("circles", "Members", {"Member": label, "Circle": [circle_id], "Partner Email": email}, created=T0)
    for day in range(2):
        when = NOW + timedelta(days=day)
        outcome = run(runtime(tmp_path, store, slack, when), "circles", when)
        assert outcome.failures == ["1 record(s) need a fix: see their Sync Notes"]  # Otto's row

    records = {r.fields["Member"]: r.fields for r in store.all("circles", "Members")}
    assert set(records) == {"Tina", "Otto"}  # no record made
    assert records["Tina"]["Status"] == "Active" and top in slack.members(CHANNEL)
    assert not records["Otto"].get("Status") and old in slack.members(CHANNEL)
    assert "Status is empty" in records["Otto"]["Sync Notes"] and "Removed" in records["Otto"]["Sync Notes"]
    assert slack.calls("conversations.kick") == 0
    per_user = Counter(m["channel"] for m in slack.messages() if m["channel"].startswith("D"))
    assert list(per_user.values()) == [1]  # Tina's welcome, once; Otto hears nothing


def test_a_post_whose_answer_was_lost_is_reconciled_not_sent_again_in_the_same_run(
    tmp_path: Path, slack: FakeSlack
) -> None:
    store = setup_store(tmp_path)
    slack.add_user("jane@partner.example")
    partner(store, "Jane Doe", 82)
    rt = runtime(tmp_path, store, slack)
    slack.fail_next("chat.postMessage", after_apply=True, drop=True)  # Slack posts the welcome, the answer is lost
    first = run(rt, "circles", NOW)
    assert first.pending == 1
    # The next drain of the same run (the next job's start) must look the post up, not post again.
    again = run(rt, "circles", NOW)
    assert again.ok, again.failures
    welcomes = [m for m in slack.messages() if m["channel"].startswith("D")]
    assert len(welcomes) == 1
    assert rt.queue.counts().get("started", 0) == 0
