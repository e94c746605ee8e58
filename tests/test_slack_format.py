"""integrations/slack_format.py: escapes that keep Airtable text from changing a message's shape,
and fitting any message into Slack's limits (checked again by the fake Slack, over real HTTP)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.slack import SlackClient
from integrations.slack_format import (
    ELLIPSIS,
    MAX_BLOCKS,
    MAX_BLOCKS_CHARS,
    MAX_FALLBACK_CHARS,
    MAX_MESSAGE_CHARS,
    SECTION_TEXT_MAX,
    Block,
    escape_block,
    escape_inline,
    fit_message,
    plain_section,
    text_chars,
    truncate,
)
from tests.fakes.slack import FakeSlack

TOKEN = "xoxb-fake-token-0123456789"
CIRCLE = "G0CIRCLE01"

LOOKALIKES = {"\u2217": "*", "\u02cd": "_", "\u223c": "~", "\u02cb": "`", "\ufe61": "\uff0a", "\u2e0f": "\uff3f"}
BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
BROADCAST = re.compile(r"@(channel|here|everyone)", re.IGNORECASE)
BAD_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
HEADER_START = re.compile(r"^[ \t]*[A-Za-z][A-Za-z0-9_-]*[ \t]*:")
QUOTE_START = re.compile(r"^[ \t]*(&gt;|\uff1e)")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("SKIP_SLACK_SDK_WARNING", "1")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(TOKEN) as server:
        yield server


def unconfuse(text: str) -> str:
    """Look-alikes read as the original; the invisible helpers (ZWSP, soft hyphen, indent) gone."""
    for lookalike, original in LOOKALIKES.items():
        text = text.replace(lookalike, original)
    for invisible in ("\u200b", "\u00ad", "\u00a0\u00a0"):
        text = text.replace(invisible, "")
    return text


def plain(escaped: str) -> str:
    """What a reader sees in Slack."""
    return unconfuse(escaped).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def assert_inert_line(line: str) -> None:
    """Nothing on this line can format, mention, broadcast, link, quote or pose as a header."""
    assert "<" not in line and ">" not in line and not BAD_ENTITY.search(line)
    assert not BROADCAST.search(line)
    assert "`" not in line and "\uff40" not in line
    for m in re.finditer(r"[*_~]", line):
        before, after = line[m.start() - 1 : m.start()], line[m.end() : m.end() + 1]
        assert before.isalnum() and after.isalnum(), (line, m.start())
    assert not QUOTE_START.match(line)
    assert not HEADER_START.match(line)


# --------------------------------------------------------------------------- inline values


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("*Acme* _Corp_ ~old~ `x`", "\u2217Acme\u2217 \u02cdCorp\u02cd \u223cold\u223c \u02cbx\u02cb"),
        ("Ann\nLee\r\n  Jr.", "Ann Lee Jr."),
        ("Bcc: evil@example.com", "\u00a0\u00a0Bcc: evil@example.com"),
        ("> quoted", "\u00ad&gt; quoted"),
        ("<!channel> & <@U1> <https://evil|click>", "&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;https://evil|click&gt;"),
        ("hi @here", "hi @\u200bhere"),
        (
            "ann_lee@example.com snake_case 2*3 :white_check_mark:",
            "ann_lee@example.com snake_case 2*3 :white_check_mark:",
        ),
        ("  Tab\tand spaces  ", "Tab and spaces"),
        ("\uff0abold\uff0a", "\ufe61bold\ufe61"),
    ],
)
def test_escape_inline(raw: str, expected: str) -> None:
    assert escape_inline(raw) == expected


@given(st.text())
def test_escape_inline_is_one_inert_line_that_reads_the_same(s: str) -> None:
    out = escape_inline(s)
    assert not any(ch in out for ch in BREAKS)
    assert_inert_line(out)
    collapsed = " ".join(re.sub(r"[\x00-\x08\x0e-\x1b\x7f]", "", s).split())
    assert " ".join(plain(out).split()) == " ".join(unconfuse(collapsed).split())


# --------------------------------------------------------------------------- block values


def test_escape_block_keeps_lines_and_defuses_each() -> None:
    notes = "Perks:\r\n*Top* seat\n> not a quote\nBcc: boss@example.com\n  Reply-To: x@example.com\nemail ann_lee@x.com"
    out = escape_block(notes)
    assert out.split("\n") == [
        "\u00a0\u00a0Perks:",
        "\u2217Top\u2217 seat",
        "\u00ad&gt; not a quote",
        "\u00a0\u00a0Bcc: boss@example.com",
        "\u00a0\u00a0  Reply-To: x@example.com",
        "email ann_lee@x.com",
    ]


@given(st.text())
def test_escape_block_keeps_every_line_inert_and_readable(s: str) -> None:
    out = escape_block(s)
    assert "\r" not in out
    for line in out.split("\n"):
        assert_inert_line(line)
    normalised = re.sub(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]", "\n", s)
    normalised = re.sub(r"[\x00-\x08\x0e-\x1b\x7f]", "", normalised).strip("\n")
    assert plain(out) == unconfuse(normalised)


# --------------------------------------------------------------------------- truncation


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("abcdefghij", 5, "abcd" + ELLIPSIS),
        ("Tom &amp; Jerry", 8, "Tom" + ELLIPSIS),
        ("see <#C0123|general> now", 10, "see" + ELLIPSIS),
        ("a &lt;b&gt;", 7, "a &lt;" + ELLIPSIS),
        ("a &lt;b&gt;", 6, "a" + ELLIPSIS),
    ],
)
def test_truncate_never_splits_an_escape(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected
    assert len(truncate(text, limit)) <= limit


@given(st.text(alphabet="ab &<>*\n", max_size=80), st.integers(min_value=1, max_value=60))
def test_truncate_keeps_escaped_text_whole(raw: str, limit: int) -> None:
    out = truncate(escape_block(raw), limit)
    assert len(out) <= limit
    assert not BAD_ENTITY.search(out)


# --------------------------------------------------------------------------- fit_message


def huge_message() -> tuple[str, list[Block]]:
    name = escape_inline(("Ann & <Lee> *Top* " * 4000)[:60_000])
    company = escape_inline(("Acme_Co @here " * 5000)[:60_000])
    notes = escape_block(("Bcc: x@example.com & co\n> quote *b*\n" * 200)[:3_500])
    text = f"Welcome {name} of {company}!\nWhy: {notes}"
    blocks = [plain_section(f"Welcome *{name}*"), plain_section(f"of {company}"), plain_section(notes)]
    return text, blocks


def assert_fits(text: str, blocks: list[Block] | None) -> None:
    assert len(text) <= MAX_FALLBACK_CHARS
    assert not BAD_ENTITY.search(text)
    if blocks is None:
        return
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        section = block["text"]["text"]
        assert 1 <= len(section) <= SECTION_TEXT_MAX
        assert not BAD_ENTITY.search(section)
    assert text_chars(blocks) <= MAX_BLOCKS_CHARS
    assert len(text) + text_chars(blocks) <= MAX_MESSAGE_CHARS


def test_fit_message_with_60000_character_names_and_3500_character_notes() -> None:
    text, blocks = huge_message()
    assert len(text) > 120_000 and len(blocks[2]["text"]["text"]) > 3_500
    fitted_text, fitted = fit_message(text, blocks)
    assert fitted is not None
    assert_fits(fitted_text, fitted)
    assert fitted_text.endswith(ELLIPSIS) and fitted_text.startswith("Welcome Ann &amp; &lt;Lee&gt;")
    assert [b["text"]["text"][-1] for b in fitted] == [ELLIPSIS] * 3
    assert (
        blocks[0]["text"]["text"] == f"Welcome *{escape_inline(('Ann & <Lee> *Top* ' * 4000)[:60_000])}*"
    )  # unchanged


def test_fit_message_leaves_a_small_message_alone() -> None:
    blocks = [plain_section("Hi *Ann*"), {"type": "divider"}]
    assert fit_message("Hi Ann", blocks) == ("Hi Ann", blocks)
    assert fit_message("Hi Ann", None) == ("Hi Ann", None)


def test_fit_message_keeps_50_blocks_the_last_saying_more_was_cut() -> None:
    blocks = [plain_section(f"line {i}") for i in range(60)]
    _text, fitted = fit_message("digest", blocks)
    assert fitted is not None and len(fitted) == MAX_BLOCKS
    assert fitted[:49] == blocks[:49]
    assert fitted[-1] == plain_section(ELLIPSIS)


def test_fit_message_drops_blocks_past_the_total_and_cuts_the_one_that_overflows() -> None:
    blocks = [plain_section("x" * 2_500) for _ in range(10)]
    _text, fitted = fit_message("digest", blocks)
    assert fitted is not None
    assert_fits("digest", fitted)
    assert len(fitted) == 5 and fitted[-1]["text"]["text"].endswith(ELLIPSIS)
    assert text_chars(fitted) == MAX_BLOCKS_CHARS


def test_fit_message_caps_fields_and_headers() -> None:
    def section(fields: int, size: int) -> Block:
        texts = [{"type": "mrkdwn", "text": "f" * size} for _ in range(fields)]
        return {"type": "section", "text": {"type": "mrkdwn", "text": "t"}, "fields": texts}

    header: Block = {"type": "header", "text": {"type": "plain_text", "text": "h" * 200}}
    _text, fitted = fit_message("x", [header, section(12, 10), section(5, 2_500)])
    assert fitted is not None
    assert len(fitted[0]["text"]["text"]) == 150
    assert len(fitted[1]["fields"]) == 10
    assert [len(f["text"]) for f in fitted[2]["fields"]] == [2_000] * 5


@given(
    st.text(max_size=6_000),
    st.lists(st.text(min_size=1, max_size=4_000), max_size=70),
)
def test_fit_message_always_fits(text: str, sections: list[str]) -> None:
    fitted_text, fitted = fit_message(escape_block(text), [plain_section(escape_block(s) or "-") for s in sections])
    assert_fits(fitted_text, fitted)


# --------------------------------------------------------------------------- through Slack (the fake)


def test_a_huge_message_posts_after_fitting_and_the_fake_checks_the_limits(fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE)
    slack = SlackClient(TOKEN, api_url=fake.url, timeout=5, sleep=lambda _s: None)
    text, blocks = huge_message()
    ts = slack.post(CIRCLE, text, blocks=blocks, metadata_key="welcome:huge")
    (message,) = fake.messages(CIRCLE)
    assert message["ts"] == ts
    assert_fits(message["text"], message["blocks"])
