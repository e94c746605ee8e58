"""PARTNEROPS_HOME restored from an older copy (a backup, a CI cache that failed to save) sends
nothing twice and loses nothing (SPEC §10).

A realistic day against every fake: copies of the home are taken before the sync, after the
circles job, after the referrals job and after the intros; then the day goes on — new referrals
arrive, a partner joins, a To-partner referral is introduced (while Slack and the mail server
push back: one more copy holds its message and e-mail still queued), receipts go out. Each copy is
restored (the folder replaced) and the program runs again, the same evening and the next
morning: every message, e-mail, invite and deal is still there exactly once, and nothing new
went out. The restored home catches up from its stored change-feed cursor; what Airtable does
not hold (a receipt, an at-risk nudge) is looked up in Slack before it is sent, and so is what
the copy held queued (the e-mail: its group's later step, Status Introduced, is in Airtable).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from jobs.plan import JobOutcome
from jobs.schedule.runner import Cycle, run_job
from jobs.schedule.tiers import cycle_jobs
from tests.faults_world import ALMA, CHANNEL, DORA, MANAGERS, NORA, PETE, RIA, START, Tally, World, world

DAY = START + timedelta(days=1)  # the day the copies are taken (the program ran the day before)
COPIES = ("before-sync", "after-circles", "after-referrals", "after-intros", "with-leftovers")
# Ria's newest referral is 14 days old the day before: a member then (score 79), in the at-risk
# zone on DAY (73) and after: she is nudged on DAY, once.
RIA_REFERRALS = (14, 50)


def at(w: World, when: timedelta) -> None:
    """Move the clock to DAY + ``when``."""
    target = DAY + when
    w.clock.advance((target - w.clock.now()).total_seconds())


def the_day(w: World) -> dict[str, Path]:
    """The day before, the night, and DAY with its copies; returns the copies."""
    app = w.app()
    first = w.cycle(app)
    assert all(o.ok for o in first), ("the day before", [(o.job, o.failures, o.reason) for o in first if not o.ok])
    at(w, timedelta(hours=-11))  # 20:00 the evening before: Pete is in Slack now
    w.users[PETE] = w.slack.add_user(PETE)
    at(w, timedelta(hours=-1))
    w.rec["acme"] = w.referral("Acme — Al", ALMA, "acme.example", "al@acme.example")
    w.rec["lead-ria"] = w.give("Lead for Ria — Lu", RIA, "luco.example", "lu@luco.example")
    at(w, timedelta(0))
    copies = {"before-sync": w.snapshot("before-sync")}
    cycle = Cycle()
    for job in cycle_jobs(None):
        outcome = run_job(app, job, w.clock.now(), cycle, lambda _m: None)
        assert outcome.ok, (outcome.job, outcome.failures)
        name = {"circles": "after-circles", "referrals": "after-referrals", "intros": "after-intros"}.get(job.name)
        if name:
            copies[name] = w.snapshot(name)
    at(w, timedelta(hours=3))  # new referrals: a new company, and a duplicate of Acme from Pete
    w.rec["globex"] = w.referral("Globex — Gil", ALMA, "globex.example", "gil@globex.example")
    w.rec["acme-dup"] = w.referral("Acme — Ann", PETE, "acme.example", "ann@acme.example")
    ok(w.cycle(app))
    at(w, timedelta(hours=5))  # a partner joins: a manager adds Nora with her referrals
    w.new_partner("Nora New", NORA, (2, 3, 4))
    ok(w.cycle(app))
    at(w, timedelta(hours=7))  # a To-partner referral for Pete, while Slack and the mail server push back
    w.rec["lead-pete"] = w.give("Lead for Pete — Pam", PETE, "pamco.example", "pam@pamco.example")
    w.slack.fail_next("chat.postMessage", "ratelimited", retry_after=3600)
    w.recorder.data_reply = "421 4.3.2 Service not available, try later"
    assert sum(o.pending for o in ok(w.cycle(app))) == 3  # the message, the e-mail, Introduced
    copies["with-leftovers"] = w.snapshot("with-leftovers")  # a copy that still holds them queued
    w.recorder.data_reply = ""
    at(w, timedelta(hours=9))
    ok(w.cycle(app))
    app.close()
    return copies


def ok(outcomes: list[JobOutcome]) -> list[JobOutcome]:
    assert all(o.ok for o in outcomes), [(o.job, o.failures) for o in outcomes if not o.ok]
    return outcomes


def assert_everything_once(t: Tally) -> None:
    """What the day must have sent: once each, nothing missing."""
    assert t.repeated() == {}, t.repeated()
    # Alma: welcome, 2 receipts, intro (the day before); 2 receipts. Pete: welcome, receipt of
    # his duplicate, intro. Ria: the at-risk nudge, intro. Dora: removal. Nora: welcome.
    assert t.dms == {ALMA: 6, PETE: 3, RIA: 2, DORA: 1, NORA: 1}, t.dms
    assert t.posts == {CHANNEL: 3, MANAGERS: 1}, t.posts  # Alma's, Pete's and Nora's joins; Pete pending
    assert len(t.emails) == 3 and set(t.emails.values()) == {1}, t.emails
    assert len(t.deals) == 3, t.deals  # Newco, Acme, Globex
    assert t.invites == {ALMA: 1, PETE: 1, NORA: 1} and t.kicks == {DORA: 1}
    assert t.members == {ALMA: 1, PETE: 1, DORA: 1, RIA: 1, NORA: 1}, t.members
    assert sum(k.startswith("nudge:atrisk:") for k in t.keys) == 1


@pytest.mark.parametrize("copy", COPIES)
def test_a_home_restored_from_an_older_copy_sends_nothing_twice_and_loses_nothing(tmp_path: Path, copy: str) -> None:
    with world(tmp_path, ria=RIA_REFERRALS) as w:
        copies = the_day(w)
        before = w.tally()
        assert_everything_once(before)
        for when in (timedelta(hours=11), timedelta(days=1)):  # that evening; the next morning
            w.restore(copies[copy])
            at(w, when)
            app = w.app()
            ok(w.cycle(app))
            app.close()
            after = w.tally()
            assert after == before, (when, after.repeated(), after)
        for rid in ("newco", "acme", "globex"):
            assert w.fields("referrals", "Referrals", w.rec[rid])["Status"] == "In CRM"
        assert w.fields("referrals", "Referrals", w.rec["acme-dup"])["Status"] == "Duplicate"
        for rid in ("inbound", "lead-ria", "lead-pete"):
            assert w.fields("referrals", "Referrals", w.rec[rid])["Status"] == "Introduced"
