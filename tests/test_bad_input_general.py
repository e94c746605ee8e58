"""Bad input in general: duplicate partner rows, a corrected e-mail, two circles on one channel,
dates that make no sense — each gets a Sync Note in plain words, and never a wrong invite,
removal, score or message."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from jobs.plan import Count, Status
from tests.fakes.smtp import Recorder, serve
from tests.test_bad_input_world import CHANNEL, World, world_fixture  # noqa: F401

SHARED = "G0SHARED01"
FIX = ["1 record(s) need a fix: see their Sync Notes"]


@pytest.fixture
def mail() -> Iterator[tuple[Controller, Recorder]]:
    recorder = Recorder()
    for controller in serve(recorder):
        yield controller, recorder


def members_table(world: World) -> list[dict[str, Any]]:
    return [r["fields"] for r in world.air.records(world.ids["circles"], "Members")]


def test_duplicate_partner_rows_are_noted_and_acted_on_once(world: World, mail: tuple[Controller, Recorder]) -> None:
    controller, recorder = mail
    world.settings.update(
        smtp_host=controller.hostname, smtp_port=controller.port, smtp_starttls=False, email_from="team@ourco.example"
    )
    world.top_partners()
    twin = world.create("partners", "Partners", {"Name": "Jane D.", "Email": " Jane@Partner.example"}, days_ago=10)
    to_jane = {"Direction": "To partner", "Partner Email": "jane@partner.example", "Contact Email": "lee@lead.example"}
    world.create("referrals", "Referrals", {"Referral": "Lead for Jane", "Contact Name": "Lee", **to_jane})
    report = world.tick()
    assert world.outcome(report, "health").failures == FIX
    assert (
        "Email: Jane Doe has the same e-mail; the jobs use that (older) record"
        in (world.record("partners", "Partners", twin)["Sync Notes"])
    )
    assert world.slack.calls("conversations.invite") == 2  # Jane and Bob, once each
    assert sorted(m["Partner Email"] for m in members_table(world)) == ["bob@partner.example", "jane@partner.example"]
    jane_dms = world.slack.messages(world.slack.dms[world.users["jane"]])
    assert sum("welcome to" in m["text"] for m in jane_dms) == 1
    assert sum("a referral for you" in m["text"] for m in jane_dms) == 1
    assert sum("registered" in m["text"].lower() for m in jane_dms) == 3  # one receipt per referral
    assert len(recorder.received) == 1
    assert [m["text"] for m in world.slack.messages(CHANNEL)] == [
        "Please welcome Bob Stone and Jane Doe to the circle!"
    ]


def test_a_corrected_email_keeps_the_partner_and_the_members_record_follows(world: World) -> None:
    world.top_partners()
    assert world.tick().ok
    messages, invites = len(world.slack.messages()), world.slack.calls("conversations.invite")
    jane = world.people["jane"]
    world.update("partners", "Partners", jane, {"Email": "jane.doe@partner.example"})
    world.slack.users["jane.doe@partner.example"] = world.users["jane"]  # the same person in Slack
    report = world.tick(days=1)
    assert report.ok, [o.failures for o in report.outcomes]
    fields = world.record("partners", "Partners", jane)
    assert (fields["Health Score"], fields["Health Band"], fields["Stage"]) == (
        78,
        "Top",
        "Active",
    )  # her referrals count
    assert world.slack.calls("conversations.invite") == invites and len(world.slack.messages()) == messages
    assert world.members() == set(world.users.values())
    assert sorted(m["Partner Email"] for m in members_table(world)) == [
        "bob@partner.example",
        "jane.doe@partner.example",
    ]
    assert world.tick(days=1).ok and len(world.slack.messages()) == messages


def test_a_referral_typed_with_a_partners_old_email_reaches_them(
    world: World, mail: tuple[Controller, Recorder]
) -> None:
    """After a corrected e-mail, a referral typed with the old one (a form filled by habit, a
    manager's copy-paste) is the partner's: the receipt, the intro and its e-mail go to them."""
    controller, recorder = mail
    world.settings.update(
        smtp_host=controller.hostname, smtp_port=controller.port, smtp_starttls=False, email_from="team@ourco.example"
    )
    world.top_partners()
    assert world.tick().ok
    jane = world.people["jane"]
    world.update("partners", "Partners", jane, {"Email": "jane.doe@partner.example"})
    world.slack.users["jane.doe@partner.example"] = world.users["jane"]
    assert world.tick(days=1).ok
    received, dms = len(recorder.received), len(world.dms())
    old = "jane@partner.example"
    given = world.create(
        "referrals",
        "Referrals",
        {
            "Referral": "Lead for Jane",
            "Direction": "To partner",
            "Partner Email": old,
            "Contact Email": "lee@lead.example",
        },
    )
    sent = world.create(
        "referrals",
        "Referrals",
        {
            "Referral": "From Jane",
            "Direction": "From partner",
            "Partner Email": old,
            "Company": "Far Co",
            "Contact Email": "kim@far.example",
        },
    )
    report = world.tick(days=0.05)
    assert report.ok, [o.failures for o in report.outcomes]
    for rid in (given, sent):
        assert not world.record("referrals", "Referrals", rid).get("Sync Notes")
    assert world.record("referrals", "Referrals", given)["Status"] == "Introduced"
    assert world.record("referrals", "Referrals", sent)["Status"] == "Accepted"
    new_dms = world.dms()[dms:]
    assert sum("a referral for you" in t for t in new_dms) == 1 and sum("registered" in t.lower() for t in new_dms) == 1
    assert [sorted(e.rcpt_tos) for e in recorder.received[received:]] == [
        sorted(["jane.doe@partner.example", "lee@lead.example"])
    ]


def test_two_circles_on_one_channel_are_both_held_and_noted(world: World) -> None:
    world.top_partners()
    world.slack.add_channel(SHARED)
    circles = [
        world.create("circles", "Circles", {"Name": name, "Slack Channel ID": SHARED, "Active": True})
        for name in ("Second", "Third")
    ]
    report = world.tick()
    outcome = world.outcome(report, "circles")
    assert not report.ok and outcome.status == Status.DONE
    assert world.slack.members(SHARED) == {world.slack.bot_user_id}  # nobody invited there
    assert world.members() == set(world.users.values())  # the other circle runs as usual
    for rid in circles:
        note = world.record("circles", "Circles", rid)["Sync Notes"]
        assert re.search(
            r"(Second, Third|Third, Second) all point at channel G0SHARED01; give each circle its own", note
        )
    posts = world.managers()
    assert len(posts) == 2 and all("all point at channel G0SHARED01" in p for p in posts)
    assert all(
        p.startswith("partnerops (circles): Second") or p.startswith("partnerops (circles): Third") for p in posts
    )
    world.tick(days=1)
    assert len(world.managers()) == 2  # said once


def test_dates_that_make_no_sense_are_noted_and_not_acted_on(world: World) -> None:
    world.top_partners()
    early = world.partner("nina", "Nina Newcomer", **{"Joined On": "2027-05-01"})
    first = world.tick()
    assert world.outcome(first, "health").failures == FIX
    note = world.record("partners", "Partners", early)["Sync Notes"]
    assert note.startswith("Joined On: 2027-05-01 is in the future")
    assert world.users["nina"] not in world.members()
    jane_refs = [
        r
        for r in world.air.records(world.ids["referrals"], "Referrals")
        if r["fields"]["Partner Email"] == "jane@partner.example"
    ]
    target = jane_refs[0]
    assert target["fields"]["Status"] == "Accepted"
    expires = target["fields"]["Expires On"]
    world.update("referrals", "Referrals", target["id"], {"Expires On": "2026-01-01"})  # before it was registered
    report = world.tick(days=1)
    fields = world.record("referrals", "Referrals", target["id"])
    assert fields["Status"] == "Accepted" and fields["Expires On"] == expires  # not expired on a typo
    assert fields["Sync Notes"].startswith("Expires On 2026-01-01 was before the referral was registered")
    assert world.outcome(report, "referrals").failures == FIX
    assert world.outcome(report, "referrals").counts[Count.EXPIRED] == 0
    assert world.members() == {world.users["jane"], world.users["bob"]}
