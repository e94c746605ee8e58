"""The rules' own text: every direct message and post the pure plans make from hostile Airtable,
Slack and CRM values is one Slack accepts whole — nothing for ``fit_message`` to cut, no mention
or broadcast — and speaks to the partner, not to a manager."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest

from bases.records import Record
from integrations.slack_format import SECTION_TEXT_MAX, fit_message, plain_section
from jobs.plan import ChannelPost, DealState, DirectMessage, Plan
from jobs.rules.circles import OUTBOX_USER, CircleInputs, plan_circles_effects
from jobs.rules.intros import IntroInputs, plan_intros
from jobs.rules.referrals import ReferralInputs, plan_referrals
from jobs.rules.stages import StageInputs, plan_stages
from tests.test_messages import HOSTILE, HOSTILE_NOTES, HUGE, assert_no_mention, assert_speaks_to_people

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
CREATED = "2025-01-06T09:00:00.000Z"
VALUES = {"hostile": HOSTILE, "huge": HUGE}


def rec(rid: str, fields: dict[str, object], created: str = CREATED) -> Record:
    return Record(rid, created, dict(fields))


def partner(rid: str, email: str, name: str, **extra: object) -> Record:
    return rec(rid, {"Name": name, "Email": email, "Company": name, "Owner": "olga@ourco.example", **extra})


def day(d: date) -> str:
    return d.isoformat()


def messages(plan: Plan) -> list[str]:
    out = [e.payload.text for e in plan.effects if isinstance(e.payload, DirectMessage | ChannelPost)]
    assert out, "the plan sends nothing: the test does not test"
    return out


def assert_slack_takes_it_whole(text: str) -> None:
    assert len(text) < SECTION_TEXT_MAX
    blocks = [plain_section(text)]
    assert fit_message(text, blocks) == (text, blocks)
    assert_no_mention(text)
    assert not re.search(r"<!|<@", text)


@pytest.mark.parametrize("variant", VALUES)
def test_circle_messages_from_hostile_values(variant: str) -> None:
    value, today = VALUES[variant], NOW.date()
    circle = rec(
        "recCIRCLE",
        {
            "Name": value,
            "Slack Channel ID": "G0CIRCLE01",
            "Enter Score": 75,
            "Leave Score": 50,
            "Active": True,
            "Perks": HOSTILE_NOTES,
        },
    )
    recent = day(today - timedelta(days=5))
    partners = [
        partner("recP1", "joins@p.example", value, **{"Health Score": 90, "Last Referral On": recent}),
        partner("recP2", "leaves@p.example", value, **{"Health Score": 20, "Last Referral On": recent}),
        partner("recP3", "zone@p.example", value, **{"Health Score": 60, "Last Referral On": recent}),
        partner("recP4", "pending@p.example", value, **{"Health Score": 95, "Last Referral On": recent}),
    ]
    members = [
        rec(f"recM{i}", {"Circle": ["recCIRCLE"], "Partner Email": email, "Status": "Active"})
        for i, email in enumerate(("leaves@p.example", "zone@p.example"))
    ]
    users: dict[str, str | None] = {p.fields["Email"]: OUTBOX_USER for p in partners}
    users["pending@p.example"] = None
    plan = plan_circles_effects(
        CircleInputs(
            circles=[circle],
            partners=partners,
            members=members,
            zone={},
            now=NOW,
            slack_users=users,
            last_message={},
            signatures={"olga@ourco.example": value},
            manager_channel="C0MANAGERS",
            form_url="https://forms.example/refer?prefill=1",
        )
    )
    texts = messages(plan)
    assert len(texts) == 5  # welcome, removal, at-risk, the managers' note, the join post
    for text in texts:
        assert_slack_takes_it_whole(text)
        if "Slack account" not in text:  # the managers' note may name what managers fix
            assert_speaks_to_people(text)


@pytest.mark.parametrize("variant", VALUES)
def test_receipts_from_hostile_values(variant: str) -> None:
    value = VALUES[variant]
    created = "2026-11-21T08:00:00.000Z"
    referral = {"Direction": "From partner", "Partner Email": "pia@p.example", "Contact Name": value}
    referrals = [
        rec("recR1", {**referral, "Referral": value, "Company": value, "Contact Email": "jo@acme.example"}, created),
        rec("recR2", {**referral, "Referral": value, "Company": value, "Contact Email": "al@acme.example"}, created),
    ]
    plan = plan_referrals(
        ReferralInputs(
            referrals=referrals,
            partners=[partner("recP1", "pia@p.example", value)],
            now=NOW,
            crm=None,
            slack_users={"pia@p.example": OUTBOX_USER},
            signatures={"olga@ourco.example": value},
        )
    )
    texts = messages(plan)
    assert len(texts) == 2
    for text in texts:
        assert_slack_takes_it_whole(text)
        assert_speaks_to_people(text)


@pytest.mark.parametrize("variant", VALUES)
def test_stage_news_from_hostile_values(variant: str) -> None:
    value = VALUES[variant]
    referral = {"Direction": "From partner", "Partner Email": "pia@p.example", "Company": value, "Referral": value}
    deals = [
        DealState("recR1", "1", "won", value, "won", 12_000.0, value, NOW),
        DealState("recR2", "2", "s2", value, "open", None, None, NOW),
    ]
    plan = plan_stages(
        StageInputs(
            deals=deals,
            referrals=[rec("recR1", referral), rec("recR2", referral)],
            partners=[partner("recP1", "pia@p.example", value)],
            now=NOW,
            since=NOW - timedelta(days=1),
            alerts="all",
            slack_users={"pia@p.example": OUTBOX_USER},
            signatures={"olga@ourco.example": value},
        )
    )
    for text in messages(plan):
        assert_slack_takes_it_whole(text)


@pytest.mark.parametrize("variant", VALUES)
def test_the_intro_message_from_hostile_values(variant: str) -> None:
    value = VALUES[variant]
    fields = {
        "Referral": value,
        "Direction": "To partner",
        "Partner Email": "ana@p.example",
        "Company": value,
        "Contact Name": value,
        "Contact Email": "bob@leadco.example",
        "Notes": HOSTILE_NOTES,
    }
    plan = plan_intros(
        IntroInputs(
            referrals=[rec("recR1", fields)],
            partners=[partner("recP1", "ana@p.example", value)],
            now=NOW,
            email_from="partners@ourco.example",
            slack_users={"ana@p.example": OUTBOX_USER},
            signatures={"olga@ourco.example": value},
        )
    )
    (text,) = messages(plan)
    assert_slack_takes_it_whole(text)
    assert_speaks_to_people(text)
