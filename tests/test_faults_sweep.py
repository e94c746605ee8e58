"""The fault sweep: the first write of every kind fails — applied and then the line drops, 429,
a 5xx, a time-out — in a real cycle against every fake; then the program runs normally. Nothing
is done twice and nothing is lost: one message per intent (per recipient), one e-mail per (To,
Subject), one deal per referral, one invite or removal per partner, one Members record per
partner. An e-mail whose outcome is unknown is never sent again and is reported instead."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobs.plan import JobOutcome
from tests.faults_world import (
    ALMA,
    CHANNEL,
    DORA,
    MANAGERS,
    PETE,
    RIA,
    SHORT_TIMEOUT,
    TIMEOUT,
    Trap,
    World,
    late_answer,
    world,
)

DM_CHANNEL = "D"
RATE_LIMITED = {"error": {"type": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}}
SERVER_ERROR = {"error": {"type": "SERVER_ERROR", "message": "Injected failure"}}
MODES = ("drop", "429", "5xx", "timeout")


@dataclass(frozen=True)
class Kind:
    """One kind of write: how to recognise its first request, and how to make each mode fail it."""

    service: str  # slack, airtable, hubspot, webhook, smtp
    method: str  # the Slack method, the HTTP method
    where: str = ""  # part of the path (HubSpot) or of the body (Airtable)
    dm: bool | None = None  # Slack posts: to a partner (True) or a channel (False)

    def slack_match(self, method: str, params: dict[str, Any]) -> bool:
        if method != self.method:
            return False
        return self.dm is None or str(params.get("channel", "")).startswith(DM_CHANNEL) == self.dm

    def http_match(self, method: str, target: str, body: bytes | None = None) -> bool:
        if method != self.method:
            return False
        if self.service == "airtable":
            upsert = b"performUpsert" in (body or b"")
            return upsert == (self.where == "upsert") and "/v0/app" in target
        return self.where in target


KINDS = {
    "slack-post": Kind("slack", "chat.postMessage", dm=False),
    "slack-dm": Kind("slack", "chat.postMessage", dm=True),
    "slack-invite": Kind("slack", "conversations.invite"),
    "slack-kick": Kind("slack", "conversations.kick"),
    "hubspot-deal": Kind("hubspot", "POST", "deals/batch/upsert"),
    "hubspot-contact": Kind("hubspot", "POST", "contacts/batch/upsert"),
    "hubspot-association": Kind("hubspot", "PUT", "/associations/"),
    "airtable-upsert": Kind("airtable", "PATCH", "upsert"),
    "airtable-update": Kind("airtable", "PATCH", "update"),
    "webhook-post": Kind("webhook", "POST", "/hooks/"),
    "smtp-data": Kind("smtp", "DATA"),
}


def arm(w: World, kind: Kind, mode: str) -> Callable[[], None]:
    """What makes ``mode`` happen to the next request of ``kind`` (a timeout of a requests-based
    client is made by :func:`late_answer` instead)."""
    if kind.service == "slack":
        return {
            "drop": lambda: w.slack.fail_next(kind.method, after_apply=True, drop=True),
            "429": lambda: w.slack.fail_next(kind.method, "ratelimited"),
            "5xx": lambda: w.slack.fail_next(kind.method, "internal_error", status=503),
            "timeout": lambda: w.slack.slow_next(kind.method, SHORT_TIMEOUT + 0.5),
        }[mode]
    if kind.service == "airtable":
        return {
            "drop": lambda: w.air.fail_next(method="PATCH", after_apply=True, drop=True),
            "429": lambda: w.air.fail_next(method="PATCH", status=429, body=RATE_LIMITED),
            "5xx": lambda: w.air.fail_next(method="PATCH", status=503, body=SERVER_ERROR),
        }[mode]
    return {
        "drop": lambda: w.hub.fail_next(kind.where, 0, after_apply=True, drop=True, method=kind.method),
        "429": lambda: w.hub.fail_next(kind.where, 429, method=kind.method),
        "5xx": lambda: w.hub.fail_next(kind.where, 503, method=kind.method),
    }[mode]


@contextlib.contextmanager
def fault(w: World, kind: Kind, mode: str) -> Iterator[None]:
    """``mode`` on the first request of ``kind`` while the block runs."""
    if kind.service == "smtp":
        recorder = w.recorder
        recorder.drop_on_data = mode == "drop"
        recorder.data_reply = {"429": "421 4.7.0 Try again later", "5xx": "554 5.3.0 Transaction failed"}.get(mode, "")
        recorder.data_delay = SHORT_TIMEOUT + 0.5 if mode == "timeout" else 0.0
        try:
            yield
        finally:
            recorder.drop_on_data, recorder.data_reply, recorder.data_delay = False, "", 0.0
        assert "DATA" in recorder.commands, "no e-mail was sent"
        return
    if mode == "timeout" and kind.service != "slack":
        with late_answer(kind.http_match) as traps:
            yield
        assert traps[0].sprung, f"no {kind} request was made"
        return
    if kind.service == "webhook":
        assert w.hook is not None
        w.hook.script = [{"drop": "drop", "429": "429", "5xx": "500"}[mode]]
        yield
        assert w.hook.script == [], "no POST was made"
        return
    trap = Trap(kind.slack_match if kind.service == "slack" else kind.http_match, arm(w, kind, mode))
    target = {"slack": w.slack, "airtable": w.air, "hubspot": w.hub}[kind.service]
    target.traps.append(trap)
    try:
        yield
    finally:
        target.traps.remove(trap)
    assert trap.sprung, f"no {kind} request was made"


def run_with_fault(w: World, kind: Kind, mode: str, crm: str) -> tuple[list[JobOutcome], list[JobOutcome]]:
    """The faulted cycle, then two normal runs (10 and 20 minutes later, each its own process,
    as ``partnerops run --once`` from a timer); their outcomes."""
    short = mode == "timeout" and kind.service in ("slack", "smtp")
    app = w.app(crm, SHORT_TIMEOUT if short else TIMEOUT)
    with fault(w, kind, mode):
        first = w.cycle(app)
    app.close()
    later: list[JobOutcome] = []
    for _ in range(2):
        w.later(10)
        app = w.app(crm)
        later += w.cycle(app)
        app.close()
    return first, later


def email_in_doubt(kind: Kind, mode: str) -> bool:
    """The intro e-mail's outcome is unknown (or the server refused it for good): reported, not resent."""
    return kind.service == "smtp" and mode in ("drop", "timeout", "5xx")


def assert_nothing_twice_nothing_lost(w: World, kind: Kind, mode: str, outcomes: list[JobOutcome]) -> None:
    t = w.tally()
    assert t.repeated() == {}, t.repeated()
    webhook = w.hook is not None
    assert t.deals == Counter({w.rec["newco"]: 1}), t.deals
    # welcome, 2 receipts, the intro note (it follows the e-mail it announces: none when the
    # e-mail is in doubt); removal; nudge
    intro_note = 0 if email_in_doubt(kind, mode) else 1
    assert t.dms == Counter({ALMA: 3 + intro_note, DORA: 1, RIA: 1}), t.dms
    # the managers hear of an intro e-mail in doubt, once
    assert t.posts == Counter({CHANNEL: 1, MANAGERS: 1 + (1 - intro_note)}), t.posts
    assert t.invites == Counter({ALMA: 1}) and t.kicks == Counter({DORA: 1})
    assert t.members == Counter({ALMA: 1, PETE: 1, DORA: 1, RIA: 1}), t.members
    members = {r["fields"]["Partner Email"]: r["fields"]["Status"] for r in w.records("circles", "Members")}
    assert members == {ALMA: "Active", PETE: "Pending invite", DORA: "Removed", RIA: "Active"}
    assert w.users[ALMA] in w.slack.members(CHANNEL) and w.users[DORA] not in w.slack.members(CHANNEL)
    newco = w.fields("referrals", "Referrals", w.rec["newco"])
    assert newco["Status"] == "In CRM" and newco["CRM ID"] and not newco.get("Sync Notes"), newco
    if not webhook:
        assert w.hub.associations("deals", str(newco["CRM ID"]), "contacts")
        assert Counter(c["properties"]["email"] for c in w.hub.contacts()) == Counter({"nina@newco.example": 1})
    assert w.fields("referrals", "Referrals", w.rec["dup"])["Status"] == "Duplicate"
    intro = w.fields("referrals", "Referrals", w.rec["inbound"])
    subject = ("Alma Top <alma@partner.example>", "Introduction: Sam (Inbound) and Alma Top")
    if email_in_doubt(kind, mode):
        assert t.emails[subject] == (1 if mode == "timeout" else 0)
        assert intro.get("Status", "New") == "New" and intro["Intro Sent At"]
        assert "not confirmed" in intro["Sync Notes"], intro  # a person is told what to check
        reported = [f for o in outcomes for f in o.failures if "not sent again" in f or "intro e-mail" in f]
        assert reported, [o.failures for o in outcomes]
    else:
        assert t.emails == Counter({subject: 1}), t.emails
        assert intro["Status"] == "Introduced" and not intro.get("Sync Notes"), intro


CASES = [pytest.param(name, mode, id=f"{name}-{mode}") for name in KINDS for mode in MODES]


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_a_fault_on_the_first_write_of_a_kind_then_a_normal_run_does_nothing_twice_and_loses_nothing(
    tmp_path: Path, name: str, mode: str
) -> None:
    kind = KINDS[name]
    webhook = kind.service == "webhook"
    with world(tmp_path, webhook=webhook) as w:
        first, later = run_with_fault(w, kind, mode, "webhook" if webhook else "hubspot")
        assert_nothing_twice_nothing_lost(w, kind, mode, first + later)
        if not email_in_doubt(kind, mode):
            assert all(o.ok for o in later[-6:]), [(o.job, o.failures) for o in later[-6:] if not o.ok]
