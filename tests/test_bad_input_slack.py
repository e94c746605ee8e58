"""A message Slack will never accept blocks nothing; one failed look-up is not a failed job; text
from Airtable keeps its shape in Slack — all through whole cycles against the fake Airtable, the
fake Slack and a real local SMTP server."""

from __future__ import annotations

import email
import email.policy
import email.utils
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from jobs.plan import Count, Status
from tests.fakes.smtp import Recorder, serve
from tests.test_bad_input_world import CHANNEL, MANAGERS, World, world_fixture  # noqa: F401

GONE_ID = "U0GONE0001"


@pytest.fixture
def mail() -> Iterator[tuple[Controller, Recorder]]:
    recorder = Recorder()
    for controller in serve(recorder):
        yield controller, recorder


def with_mail(world: World, mail: tuple[Controller, Recorder]) -> Recorder:
    controller, recorder = mail
    world.settings.update(
        smtp_host=controller.hostname, smtp_port=controller.port, smtp_starttls=False, email_from="team@ourco.example"
    )
    return recorder


def give(world: World, short: str, **extra: Any) -> str:
    """A To-partner referral for the partner ``short``, as a manager types it."""
    fields = {
        "Referral": "Lead Co — Lee Buyer",
        "Direction": "To partner",
        "Partner Email": f"{short}@partner.example",
        "Company": "Lead Co",
        "Contact Name": "Lee Buyer",
        "Contact Email": "lee@leadco.example",
        **extra,
    }
    return world.create("referrals", "Referrals", fields)


def dm_to(world: World, user: str) -> list[dict[str, Any]]:
    channel = world.slack.dms.get(user)
    return world.slack.messages(channel) if channel else []


# --- 3. a message Slack will never accept blocks nothing ---------------------------------------


def test_long_notes_perks_and_names_are_fitted_and_arrive(world: World, mail: tuple[Controller, Recorder]) -> None:
    recorder = with_mail(world, mail)
    perks = "Perk. " * 534  # 3,204 characters
    world.update("circles", "Circles", world.circle, {"Perks": perks})
    world.top_partners()
    long_name = "B" * 60_000
    world.update("partners", "Partners", world.people["bob"], {"Name": long_name})
    notes = "A relaunch across twelve markets. " * 103  # 3,502 characters
    rid = give(world, "jane", Notes=notes)
    report = world.tick()
    assert report.ok, [o.failures for o in report.outcomes]
    assert world.members() == set(world.users.values())
    (welcome_jane,) = [m for m in dm_to(world, world.users["jane"]) if "welcome to" in m["text"]]
    assert "Perk. Perk." in welcome_jane["blocks"][0]["text"]["text"]
    assert len(welcome_jane["blocks"][0]["text"]["text"]) <= 3_000
    to_bob = dm_to(world, world.users["bob"])  # the welcome (all name: cut to what Slack takes) and receipts
    assert len(to_bob) == 4 and all(len(m["text"]) <= 4_000 for m in to_bob)
    assert sum(m["text"].startswith("Hi BBBB") for m in to_bob) >= 1
    (post,) = world.slack.messages(CHANNEL)
    assert post["text"].startswith("Please welcome") and len(post["text"]) <= 4_000
    (intro_dm,) = [m for m in dm_to(world, world.users["jane"]) if "a referral for you" in m["text"]]
    assert "A relaunch across twelve markets." in intro_dm["text"]
    (sent,) = recorder.received
    body = email.message_from_bytes(sent.content, policy=email.policy.default).get_body()
    assert body is not None and " ".join(notes.split()) in " ".join(body.get_content().split())  # the e-mail has it all
    assert world.record("referrals", "Referrals", rid)["Status"] == "Introduced"


def test_a_slack_user_id_that_no_longer_exists_is_looked_up_again_by_email(
    world: World, mail: tuple[Controller, Recorder]
) -> None:
    recorder = with_mail(world, mail)
    world.top_partners()
    for short in ("jane", "bob"):  # both moved to a new Slack account; Airtable still has the old id
        world.update("partners", "Partners", world.people[short], {"Slack User ID": f"U0OLD{short.upper()}01"})
    rid = give(world, "jane")
    report = world.tick()
    assert report.ok, [o.failures for o in report.outcomes]
    assert world.members() == set(world.users.values())  # invited under their new ids
    assert any("a referral for you" in m["text"] for m in dm_to(world, world.users["jane"]))
    assert any("welcome to" in m["text"] for m in dm_to(world, world.users["bob"]))
    assert len(recorder.received) == 1
    assert world.record("referrals", "Referrals", rid)["Status"] == "Introduced"


def test_a_message_slack_refuses_for_good_blocks_nothing_and_is_said_once(
    world: World, mail: tuple[Controller, Recorder]
) -> None:
    recorder = with_mail(world, mail)
    ana = world.partner("ana", "Ana Agency", slack=False, **{"Slack User ID": GONE_ID})  # left the workspace
    rid = give(world, "ana")
    report = world.tick()
    intros = world.outcome(report, "intros")
    assert intros.status == Status.DONE and not intros.ok  # reported: exit 1, not "all done"
    assert intros.counts[Count.INTRO_EMAILS] == 1 and intros.counts[Count.REFERRALS_GIVEN] == 1
    assert len(recorder.received) == 1  # the e-mail of the same intro went out
    referral = world.record("referrals", "Referrals", rid)
    assert referral["Status"] == "Introduced" and referral["Intro Sent At"]
    notes = world.record("partners", "Partners", ana)["Sync Notes"]
    assert "Slack has no active member with the e-mail ana@partner.example" in notes
    assert f"the Slack user {GONE_ID} no longer exists" in notes
    (post,) = world.managers()
    assert "Slack has no active member with the e-mail ana@partner.example" in post
    opened = world.slack.calls("conversations.open")
    for _day in range(2):
        again = world.tick(days=1)
        assert world.outcome(again, "intros").ok
        assert world.slack.calls("conversations.open") == opened  # never tried again by itself
        assert len(world.managers()) == 1 and len(recorder.received) == 1
    assert world.record("partners", "Partners", ana)["Sync Notes"] == notes  # still said, in plain words


def test_a_removal_of_someone_no_longer_in_slack_is_done_and_the_undeliverable_message_said(world: World) -> None:
    world.partner("cy", "Cy Gone", slack=False, **{"Slack User ID": GONE_ID})
    world.create(
        "circles",
        "Members",
        {"Member": "by hand", "Circle": [world.circle], "Partner Email": "cy@partner.example", "Status": "Active"},
    )
    report = world.tick()  # no referral at all: stale, leaves
    circles = world.outcome(report, "circles")
    assert circles.counts[Count.LEAVES] == 1
    (member,) = [r["fields"] for r in world.air.records(world.ids["circles"], "Members")]
    assert member["Status"] == "Removed"  # not in the workspace: not in the channel either
    assert world.dms() == []
    (why,) = circles.failures  # the removal message could not go: said, once
    assert why.startswith("Slack has no active member with the e-mail cy@partner.example")
    assert len(world.managers()) == 1


# --- 5. one failed look-up is not a failed job -------------------------------------------------


@pytest.mark.parametrize("how", ["500", "no answer"])
def test_one_failed_lookup_makes_that_partner_wait_and_the_others_go_ahead(world: World, how: str) -> None:
    world.top_partners()  # Jane and Bob qualify
    carl = world.partner("carl", "Carl Quiet")  # a member with no referral: leaves
    world.slack.add_channel(CHANNEL, [world.users["carl"]])
    world.create(
        "circles",
        "Members",
        {"Member": "by hand", "Circle": [world.circle], "Partner Email": "carl@partner.example", "Status": "Active"},
    )
    for _try in range(2):  # the client tries once more; both fail (bob's is the first look-up)
        if how == "500":
            world.slack.fail_next("users.lookupByEmail", "internal_error", status=500)
        else:
            world.slack.fail_next("users.lookupByEmail", drop=True)
    report = world.tick()
    circles = world.outcome(report, "circles")
    assert circles.ok, circles.failures
    assert circles.counts[Count.JOINS] == 1 and circles.counts[Count.LEAVES] == 1
    assert world.members() == {world.users["jane"]}  # Jane in, Carl out, Bob waits
    assert any("Bob Stone qualifies; Slack could not be asked" in line for line in circles.story)
    assert "Slack User ID" not in world.record("partners", "Partners", world.people["bob"])
    assert any("taken you out" in m["text"] for m in dm_to(world, world.users["carl"]))
    assert carl
    later = world.tick(days=1)
    assert world.outcome(later, "circles").counts[Count.JOINS] == 1
    assert world.members() == {world.users["jane"], world.users["bob"]}


# --- 6. text from Airtable keeps its shape in Slack -------------------------------------------------


def test_names_and_notes_from_airtable_do_not_reformat_a_message(
    world: World, mail: tuple[Controller, Recorder]
) -> None:
    recorder = with_mail(world, mail)
    world.top_partners()
    sneaky = "Jane *Boss* _x_ ~y~ `z`\n\nBcc: spy@evil.example\n> quoted <!channel> @here"
    world.update("partners", "Partners", world.people["jane"], {"Name": sneaky})
    give(world, "jane", **{"Contact Name": "Lee\nBcc: spy@evil.example", "Notes": "Fine lead.\nBcc: spy@evil.example"})
    report = world.tick()
    assert report.ok, [o.failures for o in report.outcomes]
    texts = [m["text"] for m in world.slack.messages()] + [
        b["text"]["text"] for m in world.slack.messages() for b in m.get("blocks") or [] if b.get("text")
    ]
    shown = [t for t in texts if "Jane" in t or "Lee" in t]
    assert shown
    for text in shown:
        for line in text.splitlines():
            assert not line.lstrip(" ").startswith(("Bcc:", "&gt;", ">"))
        assert "*Boss*" not in text and "<!channel>" not in text and "`" not in text
        assert "@here" not in text  # defused with a zero-width space
    (post,) = world.slack.messages(CHANNEL)
    assert "\n" not in post["text"]  # a name stays on its line
    (sent,) = recorder.received
    assert sent.rcpt_tos == ["jane@partner.example", "lee@leadco.example"]
    msg = email.message_from_bytes(sent.content)
    assert msg["Bcc"] is None
    assert [a for _n, a in email.utils.getaddresses([str(msg["To"]), str(msg["Cc"])])] == [
        "jane@partner.example",
        "lee@leadco.example",
    ]
    assert MANAGERS not in {m.get("channel") for m in world.slack.messages()}
