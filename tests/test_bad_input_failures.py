"""A failure is never reported as success: an e-mail the mail server did not confirm is not "sent"
and its referral is not Introduced; a refused partner address is a failure; a CRM that keeps
failing becomes a failure with its reason after a day (still tried every run); a referral that
needs a fix makes the run exit 1, whichever its direction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from jobs.plan import Count
from tests.fakes.smtp import Recorder, serve
from tests.fakes.webhook import FakeReceiver
from tests.test_bad_input_world import MANAGERS, World, world_fixture  # noqa: F401

ANA = "ana@partner.example"


@pytest.fixture
def mail() -> Iterator[tuple[Controller, Recorder]]:
    recorder = Recorder()
    for controller in serve(recorder):
        yield controller, recorder


def intro_for_ana(world: World, mail: tuple[Controller, Recorder]) -> str:
    controller, _recorder = mail
    world.settings.update(
        smtp_host=controller.hostname, smtp_port=controller.port, smtp_starttls=False, email_from="team@ourco.example"
    )
    world.partner("ana", "Ana Agency")
    fields = {
        "Referral": "Lead Co — Lee Buyer",
        "Direction": "To partner",
        "Partner Email": ANA,
        "Company": "Lead Co",
        "Contact Name": "Lee Buyer",
        "Contact Email": "lee@leadco.example",
    }
    return world.create("referrals", "Referrals", fields)


@pytest.mark.parametrize("how", ["dropped, not stored", "answered too late, stored"])
def test_an_email_the_server_did_not_confirm_is_not_sent_and_stays_in_doubt(
    world: World, mail: tuple[Controller, Recorder], how: str
) -> None:
    rid = intro_for_ana(world, mail)
    _controller, recorder = mail
    if how.startswith("dropped"):
        recorder.drop_on_data = True
    else:
        recorder.data_delay = 1.5
        world.app().smtp.timeout = 0.5  # type: ignore[union-attr]
    report = world.tick()
    intros = world.outcome(report, "intros")
    assert not report.ok and not intros.ok
    assert intros.counts[Count.INTRO_EMAILS] == 0 and intros.counts[Count.REFERRALS_GIVEN] == 0
    referral = world.record("referrals", "Referrals", rid)
    assert referral.get("Status") != "Introduced" and referral["Intro Sent At"]  # claimed, not done
    assert "the mail server did not confirm it" in referral["Sync Notes"]
    assert "it is not sent again" in referral["Sync Notes"]
    assert len(world.managers()) == 1
    recorder.drop_on_data, recorder.data_delay = False, 0.0
    tried = recorder.commands.count("DATA")
    again = world.tick(days=1)
    assert not again.ok  # still in doubt until a person says what happened
    assert recorder.commands.count("DATA") == tried  # never sent again by itself
    notes = world.record("referrals", "Referrals", rid)["Sync Notes"]
    assert "was started at" in notes and "Check with the partner whether it arrived" in notes
    assert world.record("referrals", "Referrals", rid).get("Status") != "Introduced"


def test_a_refused_partner_address_is_a_failure(world: World, mail: tuple[Controller, Recorder]) -> None:
    rid = intro_for_ana(world, mail)
    _controller, recorder = mail
    recorder.refuse[ANA] = "550 5.1.1 no such user"
    report = world.tick()
    intros = world.outcome(report, "intros")
    assert not report.ok and intros.counts[Count.INTRO_EMAILS] == 0
    (envelope,) = recorder.received
    assert envelope.rcpt_tos == ["lee@leadco.example"]  # only the contact got it
    referral = world.record("referrals", "Referrals", rid)
    assert referral.get("Status") != "Introduced"
    assert "refused the partner's address" in referral["Sync Notes"] and "550" in referral["Sync Notes"]
    (post,) = world.managers()
    assert "550" in post


def test_a_crm_that_keeps_failing_becomes_a_failure_with_its_reason_after_a_day(world: World) -> None:
    """Chosen: a push (any effect) that is still failing a day after it was queued is reported as a
    failure (exit 1, the reason on the referral and once to the managers) — and still tried every
    run, so nothing is lost when the CRM comes back. Before that it is "left for the next run"."""
    hook = FakeReceiver().start()
    try:
        hook.script = ["500"] * 100
        world.settings.update(crm="webhook", crm_webhook_url=hook.url)
        world.partner("pia", "Pia Partner")
        (rid,) = world.referrals_from("pia", 0)
        first = world.tick()
        referrals = world.outcome(first, "referrals")
        assert referrals.ok and referrals.pending == 1 and first.ok  # a CRM down for an hour is not news
        assert world.record("referrals", "Referrals", rid)["Status"] == "Accepted"
        later = world.tick(days=1)
        referrals = world.outcome(later, "referrals")
        assert not later.ok and referrals.counts[Count.PUSHED] == 0
        (why,) = referrals.failures
        assert why.startswith("failing since 2026-11-02") and "tried again every run" in why and "500" in why
        assert "push Lead pia 0 — " not in why
        notes = world.record("referrals", "Referrals", rid)["Sync Notes"]
        assert "to the CRM (webhook) failed: failing since" in notes
        (post,) = world.managers()
        assert "keeps failing to do this: push Lead pia 0 to the CRM (webhook)" in post and "500" in post
        tries = len(hook.requests)
        assert not world.tick(days=1).ok and len(hook.requests) > tries  # still tried, still said
        assert len(world.managers()) == 1
        hook.script = []
        back = world.tick(days=1)
        assert back.ok, [o.failures for o in back.outcomes]
        fields = world.record("referrals", "Referrals", rid)
        assert fields["Status"] == "In CRM" and not fields.get("Sync Notes")
    finally:
        hook.stop()


def test_referrals_that_need_a_fix_exit_1_in_both_directions(world: World) -> None:
    world.partner("pia", "Pia Partner")
    stranger = {"Partner Email": "nobody@else.example", "Company": "Umbrella", "Contact Email": "jo@umbrella.example"}
    from_rid = world.create("referrals", "Referrals", {"Referral": "Umbrella", "Direction": "From partner", **stranger})
    report = world.tick()
    referrals = world.outcome(report, "referrals")
    assert not report.ok and referrals.failures == ["1 record(s) need a fix: see their Sync Notes"]
    assert "is not a partner" in world.record("referrals", "Referrals", from_rid)["Sync Notes"]
    to_rid = world.create("referrals", "Referrals", {"Referral": "Umbrella 2", "Direction": "To partner", **stranger})
    again = world.tick(days=1)
    assert not again.ok
    assert world.outcome(again, "intros").failures == ["1 record(s) need a fix: see their Sync Notes"]
    assert world.outcome(again, "referrals").failures == ["1 record(s) need a fix: see their Sync Notes"]
    assert "is not a partner" in world.record("referrals", "Referrals", to_rid)["Sync Notes"]
    assert MANAGERS
