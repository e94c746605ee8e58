"""Every message template, rendered as the rules render it, with hostile, enormous and empty
values: what a partner reads has no score, threshold, band or field name, no mention or
broadcast, one line per inline value, fits Slack's limits whole (signature included), and the
intro e-mail gains no header from what it prints."""

from __future__ import annotations

import dataclasses
import email
import email.utils
import itertools
import re
import typing
from collections.abc import Iterator
from datetime import datetime, timezone
from email import policy
from typing import Any

import pytest

from bases.schema import BASES
from integrations.slack import SlackClient
from integrations.slack_format import SECTION_TEXT_MAX, escape_inline, fit_message, plain_section
from jobs.messages.email import Intro, intro_eml
from jobs.messages.partner import SLACK_MESSAGES, JoinPost, SlackMessage, ToPartner
from jobs.messages.render import Multiline, Trusted, template_names
from jobs.messages.words import slack_link
from tests.fakes.slack import FakeSlack

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
HOSTILE = "<!channel> @here *bold* _x_ ~s~ `c` <@U0123ABC> <https://evil.example|click> &amp;\nBcc: x@evil.com\n> quote"
HUGE = "N" * 60_000
HOSTILE_NOTES = "\n".join(["<!channel> and @here", "*bold* _x_", "Bcc: x@evil.com", "> quoted", "n" * 3_500])
FORM = slack_link("https://forms.example/refer?prefill=1", "the referral form")
CHANNEL = Trusted("G0CIRCLE01")

#: Words only managers see, in Airtable (SPEC §4, "How messages speak").
FORBIDDEN_ANY_CASE = ("score", "threshold", "band", "override", "health", "≥", "≤", "=>", "<=")
BAND_AND_OPTION_NAMES = ("Healthy", "At risk", "Stale", "Top", "New", "Always in", "Never in", "Auto")
FIELD_NAMES = sorted({f.name for b in BASES for t in b.tables for f in t.fields if " " in f.name})
# Program-built Slack syntax: the circle's channel and the referral form link.
PROGRAM_LINKS = re.compile(r"<#G0CIRCLE01>|<https://forms\.example/refer\?prefill=1\|the referral form>")


def test_every_slack_template_has_a_message_and_the_email_is_the_rest() -> None:
    assert sorted([*(m.TEMPLATE for m in SLACK_MESSAGES), "intro_email"]) == template_names()


# --- building every message with every kind of value ------------------------------------------


def _value(kind: Any, variant: str) -> Any:
    inline = {"hostile": HOSTILE, "huge": HUGE, "empty": "", "plain": "Jane Doe"}[variant]
    if kind is Multiline:
        block = {"hostile": HOSTILE_NOTES, "huge": "n" * 3_500, "empty": "", "plain": "Line one\nLine two"}[variant]
        return Multiline(block)
    if kind is Trusted:
        return Trusted("") if variant == "empty" else None  # filled by field name below
    if kind is int:
        return {"hostile": 1, "huge": 3, "empty": 0, "plain": 2}[variant]
    if kind is bool:
        return variant in ("hostile", "plain")
    if kind == tuple[str, ...]:
        return () if variant == "empty" else tuple(f"{inline}{i}" for i in range(12))
    return inline


def build(cls: type[SlackMessage], variant: str, codes: dict[str, str], plain_inline: bool = False) -> SlackMessage:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if f.name in codes:
            values[f.name] = codes[f.name]
        elif kind is str and plain_inline:
            values[f.name] = "Jane Doe"
        else:
            values[f.name] = _value(kind, variant)
        if values[f.name] is None:
            values[f.name] = CHANNEL if f.name == "channel_id" else FORM
    return cls(**values)


def cases() -> Iterator[tuple[type[SlackMessage], dict[str, str]]]:
    for cls in SLACK_MESSAGES:
        names = list(cls.CODES)
        for combo in itertools.product(*(cls.CODES[n] for n in names)):
            yield cls, dict(zip(names, combo, strict=True))


CASES = list(cases())
IDS = [f"{cls.TEMPLATE}-{'-'.join(codes.values()) or 'only'}" for cls, codes in CASES]


def _without_program_links(text: str) -> str:
    return PROGRAM_LINKS.sub("", text)


def assert_speaks_to_people(text: str) -> None:
    words = _without_program_links(text)
    lowered = words.lower()
    for word in FORBIDDEN_ANY_CASE:
        assert word not in lowered, f"{word!r} in {text!r}"
    for name in (*BAND_AND_OPTION_NAMES, *FIELD_NAMES):
        assert not re.search(rf"\b{re.escape(name)}\b", words), f"{name!r} in {text!r}"
    assert "<" not in words and ">" not in words, text  # no comparison, and no Slack syntax of its own


def assert_no_mention(text: str) -> None:
    words = _without_program_links(text)
    assert not re.search(r"<[!@#]|<https?:", words), text
    assert not re.search(r"@(?:here|channel|everyone)", words, re.IGNORECASE), text
    assert not re.search(r"(?:^|\s)[*_~`][^\s*_~`]", _strip_program_bold(words)), text


def _strip_program_bold(text: str) -> str:
    """The templates' own bold (``*circle*``, ``*contact*``): the value inside is escaped, so its
    markers are look-alikes; what is left must have no formatting marker at a word's edge."""
    return re.sub(r"\*([^*\n]+)\*", r"\1", text)


def assert_fits_whole(message: SlackMessage, text: str) -> None:
    assert len(text) < SECTION_TEXT_MAX, len(text)
    blocks = [plain_section(text)]
    assert fit_message(text, blocks) == (text, blocks)  # nothing for Slack's limits to cut
    if isinstance(message, ToPartner):
        signature = escape_inline(message.signed_by)[:20] or "partner team"
        assert signature in text.splitlines()[-1], text[-300:]


# --- the checks --------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "codes"), CASES, ids=IDS)
@pytest.mark.parametrize("variant", ["plain", "hostile", "huge"])
def test_a_message_speaks_plainly_escapes_every_value_and_fits(
    cls: type[SlackMessage], codes: dict[str, str], variant: str
) -> None:
    message = build(cls, variant, codes)
    text = message.text()
    assert_speaks_to_people(text)
    assert_no_mention(text)
    assert_fits_whole(message, text)
    assert not re.search(r"[.!?][A-Z]", _without_program_links(text)), text  # no sentence glued to the last
    # One line per inline value: the same message with short one-line values has as many lines.
    assert len(text.splitlines()) == len(build(cls, variant, codes, plain_inline=True).text().splitlines())
    assert not re.search(r"^[ \t]*Bcc:", text, re.MULTILINE)  # a header-looking line is indented
    assert not re.search(r"^[ \t]*(?:>|&gt;)", text, re.MULTILINE)  # and no line is a quote


@pytest.mark.parametrize(("cls", "codes"), CASES, ids=IDS)
def test_a_message_with_empty_values_still_reads_well(cls: type[SlackMessage], codes: dict[str, str]) -> None:
    message = build(cls, "empty", codes)
    text = message.text()
    assert_speaks_to_people(text)
    assert not re.search(r"[.!?][A-Z]", _without_program_links(text)), text
    for broken in ("**", "()", " ,", " .", " :", "  ", "\n\n\n", "“”", "<#>", "<|", ", ,"):
        assert broken not in text, f"{broken!r} in {text!r}"
    for line in text.splitlines():
        assert line.strip() not in ("—", "-", ":"), text
    if isinstance(message, ToPartner):
        assert text.splitlines()[-1].lower().endswith("the partner team"), text


def test_the_join_post_names_people_as_people_list_them() -> None:
    names = ["Ana Li", "Ben Ode", "Cai Wu"]
    assert JoinPost.of(names[:1]).text() == "Please welcome Ana Li to the circle!"
    assert JoinPost.of(names[:2]).text() == "Please welcome Ana Li and Ben Ode to the circle!"
    assert JoinPost.of(names).text() == "Please welcome Ana Li, Ben Ode and Cai Wu to the circle!"
    many = JoinPost.of([f"P{i}" for i in range(13)]).text()
    assert many == "Please welcome P0, P1, P2, P3, P4, P5, P6, P7, P8, P9 and three more partners to the circle!"


def test_the_messages_are_accepted_by_slack_as_the_executor_sends_them() -> None:
    """Through the client to the fake Slack, which enforces Slack's limits (text and blocks)."""
    with FakeSlack() as fake:
        fake.add_channel("G0CIRCLE01")
        client = SlackClient(fake.token, api_url=fake.url, sleep=lambda _s: None)
        for i, (cls, codes) in enumerate(CASES):
            for variant in ("hostile", "huge"):
                text = build(cls, variant, codes).text()
                client.post("G0CIRCLE01", text, blocks=[plain_section(text)], metadata_key=f"k{i}{variant}")
                assert fake.messages("G0CIRCLE01")[-1]["text"] == text  # nothing was cut on the way


# --- the intro e-mail --------------------------------------------------------------------------


def intro(**overrides: str) -> Intro:
    fields = {
        "key": "recINTRO",
        "partner_name": "Ana Agency",
        "partner_email": "ana@agency.example",
        "partner_company": "Agency Co",
        "contact_name": "Bob Buyer",
        "contact_email": "bob@leadco.example",
        "company": "Lead Co",
        "notes": "Needs an agency for a relaunch",
        "owner_name": "Olga Owner",
        "owner_email": "olga@ourco.example",
        **overrides,
    }
    return Intro(**fields)


EXPECTED_HEADERS = {
    "From",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
}


def parse(i: Intro) -> email.message.Message:
    return email.message_from_string(intro_eml(i, "partners@ourco.example", NOW), policy=policy.default)


def body_of(msg: email.message.Message) -> str:
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8").replace("\r\n", "\n")


def test_the_intro_introduces_both_sides_and_is_signed_by_the_owner() -> None:
    msg = parse(intro())
    assert msg["Subject"] == "Introduction: Bob Buyer (Lead Co) and Ana Agency (Agency Co)"
    assert email.utils.parseaddr(msg["From"]) == ("Olga Owner", "partners@ourco.example")
    assert email.utils.parseaddr(msg["Reply-To"]) == ("Olga Owner", "olga@ourco.example")
    body = body_of(msg)
    assert "Bob, meet Ana Agency of Agency Co" in body and "Ana, meet Bob Buyer of Lead Co (in Cc)" in body
    assert body.rstrip().endswith("Best regards,\nOlga Owner")
    assert_speaks_to_people(body)


def test_an_owner_known_only_by_email_gets_the_replies_but_is_not_a_from_name() -> None:
    msg = parse(intro(owner_name="olga@ourco.example"))
    assert email.utils.parseaddr(msg["From"]) == ("The partner team", "partners@ourco.example")
    assert email.utils.parseaddr(msg["Reply-To"]) == ("", "olga@ourco.example")
    assert body_of(msg).rstrip().endswith("olga@ourco.example")


def test_without_an_owner_the_partner_team_signs_and_replies_go_to_the_sender() -> None:
    msg = parse(intro(owner_name="", owner_email=""))
    assert email.utils.parseaddr(msg["Reply-To"]) == ("The partner team", "partners@ourco.example")
    assert body_of(msg).rstrip().endswith("The partner team")


@pytest.mark.parametrize("value", [HOSTILE, HUGE, "Eve\r\nBcc: spy@evil.example", ""])
def test_the_intro_email_gains_no_header_from_its_values(value: str) -> None:
    names = ("partner_name", "partner_company", "contact_name", "company", "owner_name")
    msg = parse(intro(**dict.fromkeys(names, value), notes=HOSTILE_NOTES))
    assert set(msg.keys()) == EXPECTED_HEADERS
    addresses = [a for _n, a in email.utils.getaddresses([str(msg["To"]), str(msg["Cc"])])]
    assert addresses == ["ana@agency.example", "bob@leadco.example"]
    subject = str(msg["Subject"])
    assert "\n" not in subject and "\r" not in subject and len(subject) < 500  # four names of at most 100
    body = body_of(msg)
    if not value:
        assert body.startswith("Hi,\n") or body.startswith("Hi ")
        for broken in ("()", " ,", "  ", "\n\n\n"):
            assert broken not in body, f"{broken!r} in {body!r}"
