"""integrations/slack.py against the fake Slack Web API (tests/fakes/slack.py)."""

from __future__ import annotations

import json
import struct
import time
import urllib.request
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from integrations.errors import ServiceError
from integrations.slack import REQUIRED_SCOPES, SlackClient, SlackError, normalise_base_url
from integrations.slack_format import Block, escape_text, plain_section
from tests.fakes.slack import FakeSlack

TOKEN = "xoxb-fake-token-0123456789"
CIRCLE = "G0CIRCLE01"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib would send 127.0.0.1 through an HTTP(S)_PROXY from the environment.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("SKIP_SLACK_SDK_WARNING", "1")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(TOKEN) as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def slack(fake: FakeSlack, sleeps: list[float]) -> SlackClient:
    return SlackClient(TOKEN, api_url=fake.url.rstrip("/"), timeout=5, sleep=sleeps.append)


# --------------------------------------------------------------------------- auth / scopes


def test_base_url_is_normalised(fake: FakeSlack) -> None:
    assert fake.url.endswith("/api/")
    assert normalise_base_url("http://x/api") == "http://x/api/"
    assert normalise_base_url("http://x/api/") == "http://x/api/"
    assert normalise_base_url("") == "https://slack.com/api/"


def test_auth_test_reports_team_user_and_scopes(slack: SlackClient, fake: FakeSlack) -> None:
    info = slack.auth_test()
    assert info["team"] == "Fake Team"
    assert info["user_id"] == fake.bot_user_id
    assert info["scopes"] == fake.scopes
    assert slack.missing_scopes(REQUIRED_SCOPES) == []


def test_missing_scopes(slack: SlackClient, fake: FakeSlack) -> None:
    fake.scopes = ["chat:write", "users:read"]
    missing = slack.missing_scopes(["users:read", "users:read.email", "chat:write", "groups:write"])
    assert missing == ["users:read.email", "groups:write"]
    assert set(slack.missing_scopes()) == set(REQUIRED_SCOPES) - {"chat:write", "users:read"}


def test_invalid_auth_has_code_and_no_token(fake: FakeSlack) -> None:
    secret = "xoxb-wrong-secret-token-987"
    bad = SlackClient(secret, api_url=fake.url, sleep=lambda _s: None)
    with pytest.raises(SlackError) as info:
        bad.auth_test()
    err = info.value
    assert (err.code, err.method, err.status) == ("invalid_auth", "auth.test", 200)
    assert secret not in str(err) and secret not in repr(err)
    assert TOKEN not in str(err)
    assert err.hint


def test_missing_scope_error_carries_needed(slack: SlackClient, fake: FakeSlack) -> None:
    fake.scopes = ["users:read"]
    with pytest.raises(SlackError) as info:
        slack.lookup_user_by_email("a@example.com")
    assert info.value.code == "missing_scope"
    assert info.value.needed == "users:read.email"
    assert "users:read.email" in str(info.value)


# --------------------------------------------------------------------------- users / membership


def test_lookup_user_by_email(slack: SlackClient, fake: FakeSlack) -> None:
    uid = fake.add_user("Ann@Example.com")
    assert slack.lookup_user_by_email("ann@example.com") == uid
    assert slack.lookup_user_by_email("nobody@example.com") is None
    gone = fake.add_user("gone@example.com", deleted=True)
    assert gone
    assert slack.lookup_user_by_email("gone@example.com") is None


def test_invite_and_already_in(slack: SlackClient, fake: FakeSlack) -> None:
    uid = fake.add_user("ann@example.com")
    fake.add_channel(CIRCLE)
    assert slack.invite(CIRCLE, uid) == "invited"
    assert uid in fake.members(CIRCLE)
    assert slack.invite(CIRCLE, uid) == "already_in"
    assert fake.calls("conversations.invite") == 2
    sent = fake.requests[-1]["params"]
    assert sent["users"] == uid and sent["channel"] == CIRCLE


def test_invite_where_bot_is_not_member_has_hint(slack: SlackClient, fake: FakeSlack) -> None:
    uid = fake.add_user("ann@example.com")
    fake.add_channel(CIRCLE, bot_member=False)
    with pytest.raises(SlackError) as info:
        slack.invite(CIRCLE, uid)
    assert info.value.code == "channel_not_found"
    assert "/invite" in info.value.hint and "/invite" in str(info.value)
    fake.add_channel("C0PUBLIC01", private=False, bot_member=False)
    fake.scopes.append("channels:manage")
    with pytest.raises(SlackError) as info:
        slack.invite("C0PUBLIC01", uid)
    assert info.value.code == "not_in_channel" and info.value.hint


def test_kick_and_not_in(slack: SlackClient, fake: FakeSlack) -> None:
    uid = fake.add_user("ann@example.com")
    fake.add_channel(CIRCLE, members=[uid])
    assert slack.kick(CIRCLE, uid) == "removed"
    assert uid not in fake.members(CIRCLE)
    assert slack.kick(CIRCLE, uid) == "not_in"
    with pytest.raises(SlackError) as info:
        slack.kick(CIRCLE, fake.bot_user_id)
    assert info.value.code == "cant_kick_self"


def test_open_dm_is_stable(slack: SlackClient, fake: FakeSlack) -> None:
    uid = fake.add_user("ann@example.com")
    dm = slack.open_dm(uid)
    assert dm.startswith("D")
    assert slack.open_dm(uid) == dm
    with pytest.raises(SlackError) as info:
        slack.open_dm("U0NOBODY00")
    assert info.value.code == "user_not_found"


def test_channel_info(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE, name="top-partners")
    info = slack.channel_info(CIRCLE)
    assert info["id"] == CIRCLE and info["is_private"] and info["is_member"]
    assert info["name"] == "top-partners"
    with pytest.raises(SlackError) as err:
        slack.channel_info("G0MISSING0")
    assert err.value.code == "channel_not_found" and err.value.hint


# --------------------------------------------------------------------------- rate limits


def test_ratelimited_once_then_success(slack: SlackClient, fake: FakeSlack, sleeps: list[float]) -> None:
    uid = fake.add_user("ann@example.com")
    fake.fail_next("users.lookupByEmail", "ratelimited", retry_after=3)
    assert slack.lookup_user_by_email("ann@example.com") == uid
    assert fake.calls("users.lookupByEmail") == 2
    assert sleeps == [3.0]


def test_ratelimited_post_is_retried(slack: SlackClient, fake: FakeSlack, sleeps: list[float]) -> None:
    fake.add_channel(CIRCLE)
    fake.fail_next("chat.postMessage", "ratelimited", retry_after=1)
    ts = slack.post(CIRCLE, "hello", metadata_key="k-rl")
    assert ts and len(fake.messages(CIRCLE)) == 1
    assert sleeps == [1.0]


def test_ratelimit_retries_are_bounded(slack: SlackClient, fake: FakeSlack, sleeps: list[float]) -> None:
    for _ in range(3):
        fake.fail_next("users.lookupByEmail", "ratelimited", retry_after=1)
    with pytest.raises(SlackError) as info:
        slack.lookup_user_by_email("ann@example.com")
    assert (info.value.code, info.value.status, info.value.retry_after) == ("ratelimited", 429, 1.0)
    assert fake.calls("users.lookupByEmail") == 3
    assert len(sleeps) == 2


def test_long_retry_after_is_not_waited_out(fake: FakeSlack, sleeps: list[float]) -> None:
    client = SlackClient(TOKEN, api_url=fake.url, sleep=sleeps.append, max_retry_after=10)
    fake.fail_next("auth.test", "ratelimited", retry_after=120)
    with pytest.raises(SlackError) as info:
        client.auth_test()
    assert info.value.code == "ratelimited" and info.value.retry_after == 120.0
    assert sleeps == []


def test_real_sleep_default_with_retry_after_one(fake: FakeSlack) -> None:
    """The shipped default (time.sleep) really honours Retry-After: 1."""
    client = SlackClient(TOKEN, api_url=fake.url)
    fake.fail_next("auth.test", "ratelimited", retry_after=1)
    started = time.monotonic()
    assert client.auth_test()["user_id"] == fake.bot_user_id
    assert 0.9 <= time.monotonic() - started < 3


# --------------------------------------------------------------------------- posting


def test_post_sends_metadata_and_no_unfurl(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE)
    blocks = [plain_section(escape_text("Welcome, <!channel> & co"))]
    ts1 = slack.post(CIRCLE, "Welcome", blocks=blocks, metadata_key="welcome:rec1")
    ts2 = slack.post(CIRCLE, "Again", metadata_key="welcome:rec2")
    assert float(ts2) > float(ts1)
    first, second = fake.messages(CIRCLE)
    assert first["ts"] == ts1 and first["text"] == "Welcome"
    assert first["metadata"] == {"event_type": "partnerops_effect", "event_payload": {"key": "welcome:rec1"}}
    assert first["unfurl_links"] is False and first["unfurl_media"] is False
    assert first["blocks"][0]["text"] == {
        "type": "mrkdwn",
        "text": "Welcome, &lt;!channel&gt; &amp; co",
        "verbatim": True,
    }
    assert "blocks" not in second


def test_post_to_dm(slack: SlackClient, fake: FakeSlack) -> None:
    uid = fake.add_user("ann@example.com")
    dm = slack.open_dm(uid)
    ts = slack.post(dm, "psst", metadata_key="nudge:1")
    assert fake.messages(dm)[0]["ts"] == ts
    assert slack.find_posted(dm, "nudge:1", oldest=0) == ts


def test_post_definite_error_is_not_unknown(slack: SlackClient, fake: FakeSlack) -> None:
    with pytest.raises(SlackError) as info:
        slack.post("G0MISSING0", "x", metadata_key="k")
    assert info.value.code == "channel_not_found"


def test_lost_answer_raises_unknown_outcome_then_find_posted_finds_it(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE)
    slack.post(CIRCLE, "older", metadata_key="other-key")
    started = time.time() - 5
    fake.fail_next("chat.postMessage", after_apply=True, drop=True)
    with pytest.raises(SlackError) as info:
        slack.post(CIRCLE, "hello", metadata_key="join:rec1:2026-11")
    assert info.value.code == "unknown_outcome" and info.value.status == 0
    assert info.value.outcome_unknown and info.value.retryable
    assert fake.calls("chat.postMessage") == 2  # never re-sent by the client
    assert len(fake.messages(CIRCLE)) == 2  # ... but it did go out
    found = slack.find_posted(CIRCLE, "join:rec1:2026-11", oldest=started)
    assert found == fake.messages(CIRCLE)[-1]["ts"]
    assert slack.find_posted(CIRCLE, "never-sent", oldest=started) is None
    assert fake.requests[-1]["params"]["include_all_metadata"] in ("1", "true", True)


def test_dropped_post_that_never_applied_is_not_found(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE)
    started = time.time() - 5
    fake.fail_next("chat.postMessage", drop=True)
    with pytest.raises(SlackError) as info:
        slack.post(CIRCLE, "hello", metadata_key="k1")
    assert info.value.code == "unknown_outcome"
    assert fake.calls("chat.postMessage") == 1
    assert slack.find_posted(CIRCLE, "k1", oldest=started) is None


@pytest.mark.parametrize(
    ("status", "error"), [(500, "internal_error"), (503, "service_unavailable"), (200, "fatal_error")]
)
def test_server_errors_on_post_are_unknown_outcome(
    slack: SlackClient, fake: FakeSlack, status: int, error: str
) -> None:
    fake.add_channel(CIRCLE)
    fake.fail_next("chat.postMessage", error, status=status, after_apply=True)
    with pytest.raises(SlackError) as info:
        slack.post(CIRCLE, "hello", metadata_key="k")
    assert info.value.code == "unknown_outcome" and info.value.outcome_unknown
    assert error in info.value.message and info.value.status == status
    assert fake.calls("chat.postMessage") == 1


def test_idempotent_calls_retry_once_after_lost_answer(
    slack: SlackClient, fake: FakeSlack, sleeps: list[float]
) -> None:
    uid = fake.add_user("ann@example.com")
    fake.add_channel(CIRCLE)
    fake.fail_next("conversations.invite", after_apply=True, drop=True)
    assert slack.invite(CIRCLE, uid) == "already_in"  # the retry sees the applied invite
    assert fake.calls("conversations.invite") == 2
    fake.fail_next("conversations.kick", "internal_error", status=500)
    assert slack.kick(CIRCLE, uid) == "removed"
    assert len(sleeps) == 2


def test_find_posted_pages_through_history(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE)
    target = slack.post(CIRCLE, "first", metadata_key="needle")
    for i in range(5):
        slack.post(CIRCLE, f"m{i}", metadata_key=f"hay{i}")
    import integrations.slack as mod

    old = mod.HISTORY_PAGE
    mod.HISTORY_PAGE = 2
    try:
        assert slack.find_posted(CIRCLE, "needle", oldest=0) == target
    finally:
        mod.HISTORY_PAGE = old
    assert fake.calls("conversations.history") == 3


def test_find_posted_respects_oldest(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE)
    ts = slack.post(CIRCLE, "x", metadata_key="k")
    assert slack.find_posted(CIRCLE, "k", oldest=float(ts) - 1) == ts
    assert slack.find_posted(CIRCLE, "k", oldest=float(ts) + 1) is None


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here>", "&lt;!here&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<https://evil|click>", "&lt;https://evil|click&gt;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("hey @here now", "hey @\u200bhere now"),
        ("@channel", "@\u200bchannel"),
        ("@Everyone!", "@\u200bEveryone!"),
        ("mail ann@example.com", "mail ann@example.com"),
        ("@hereford cattle", "@\u200bhereford cattle"),
    ],
)
def test_escape_text(raw: str, expected: str) -> None:
    assert escape_text(raw) == expected


@given(st.text())
def test_escape_text_leaves_no_control_sequences(s: str) -> None:
    out = escape_text(s)
    assert "<" not in out and ">" not in out
    lowered = out.lower()
    for word in ("@here", "@channel", "@everyone"):
        assert word not in lowered
    assert out.replace("\u200b", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == s.replace(
        "\u200b", ""
    )


def test_plain_section_is_verbatim() -> None:
    assert plain_section("hi") == {"type": "section", "text": {"type": "mrkdwn", "text": "hi", "verbatim": True}}


# --------------------------------------------------------------------------- one error root


def test_slack_error_is_a_service_error_with_slack_words_and_url(slack: SlackClient, fake: FakeSlack) -> None:
    fake.scopes = ["users:read"]
    with pytest.raises(ServiceError) as info:
        slack.lookup_user_by_email("a@example.com")
    err = info.value
    assert isinstance(err, SlackError)
    assert (err.code, err.status, err.message) == ("missing_scope", 200, "needed scope users:read.email")
    assert err.url == fake.url + "users.lookupByEmail"
    assert not err.retryable and not err.outcome_unknown and err.hint


@pytest.mark.parametrize("code", sorted(SlackError.transient_codes))
def test_transient_codes_are_retryable(code: str) -> None:
    assert SlackError("chat.postMessage", code, status=200).retryable


@pytest.mark.parametrize("code", sorted(SlackError.permanent_codes))
def test_permanent_codes_are_not_retryable_whatever_the_status(code: str) -> None:
    assert not SlackError("chat.postMessage", code, status=200).retryable
    assert not SlackError("chat.postMessage", code, status=500).retryable


def test_slack_validation_words_reach_the_error(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE)
    problem = "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    fake.fail_next(
        "chat.postMessage",
        "invalid_blocks",
        extra={"errors": [problem], "response_metadata": {"messages": [f"[ERROR] {problem}"]}},
    )
    with pytest.raises(SlackError) as info:
        slack.post(CIRCLE, "hello", metadata_key="k")
    assert info.value.code == "invalid_blocks" and info.value.message == f"[ERROR] {problem}"
    assert not info.value.retryable and not info.value.outcome_unknown


def test_dm_to_a_deleted_or_unknown_user_is_user_not_found(slack: SlackClient, fake: FakeSlack) -> None:
    gone = fake.add_user("gone@example.com", deleted=True)
    for uid in (gone, "U0NOBODY00"):
        with pytest.raises(SlackError) as info:
            slack.open_dm(uid)
        assert (info.value.code, info.value.method, info.value.status) == ("user_not_found", "conversations.open", 200)
        assert not info.value.retryable


# --------------------------------------------------------------------------- the fake's limits


@pytest.fixture
def web(fake: FakeSlack) -> WebClient:
    """slack-sdk straight at the fake, no retries and no fitting: what Slack itself would answer."""
    fake.add_channel(CIRCLE)
    return WebClient(token=TOKEN, base_url=fake.url, timeout=5, retry_handlers=[])


def slack_answer(web: WebClient, text: str, blocks: list[Block] | None = None) -> dict[str, Any]:
    try:
        response = web.chat_postMessage(channel=CIRCLE, text=text, blocks=blocks)
    except SlackApiError as exc:
        data = exc.response.data
        assert isinstance(data, dict) and exc.response.status_code == 200
        return data
    assert isinstance(response.data, dict)
    return response.data


def test_fake_refuses_a_section_over_3000_characters_like_slack(web: WebClient) -> None:
    assert slack_answer(web, "x", [plain_section("y" * 3_000)])["ok"] is True
    answer = slack_answer(web, "x", [plain_section("ok"), plain_section("y" * 3_001)])
    assert answer["error"] == "invalid_blocks"
    assert answer["errors"] == [
        "failed to match all allowed schemas [json-pointer:/blocks/1/text]",
        "must be less than 3001 characters [json-pointer:/blocks/1/text/text]",
    ]
    assert answer["response_metadata"]["messages"] == [f"[ERROR] {e}" for e in answer["errors"]]


def test_fake_refuses_more_than_50_blocks(web: WebClient) -> None:
    answer = slack_answer(web, "x", [plain_section("b")] * 51)
    assert answer["error"] == "invalid_blocks"
    assert answer["errors"] == ["no more than 50 items allowed [json-pointer:/blocks]"]
    assert slack_answer(web, "x", [plain_section("b")] * 50)["ok"] is True


def test_fake_refuses_messages_that_are_too_long(web: WebClient) -> None:
    assert slack_answer(web, "t" * 4_000)["ok"] is True
    assert slack_answer(web, "t" * 4_001) == {"ok": False, "error": "msg_too_long"}
    over_all = slack_answer(web, "t" * 3_000, [plain_section("s" * 3_000)] * 13)  # 42,000 in all
    assert over_all == {"ok": False, "error": "msg_too_long"}
    blocks_heavy = slack_answer(web, "t", [plain_section("s" * 2_700)] * 5)  # 13,500 of blocks
    assert blocks_heavy == {"ok": False, "error": "msg_blocks_too_long"}


def test_client_fits_what_the_fake_would_refuse(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE)
    slack.post(CIRCLE, "t" * 50_000, blocks=[plain_section("s" * 3_500)] * 60, metadata_key="big")
    (message,) = fake.messages(CIRCLE)
    assert len(message["text"]) <= 4_000 and len(message["blocks"]) <= 50


# --------------------------------------------------------------------------- look-ups that fail twice


@pytest.mark.parametrize("html", [False, True])
def test_lookup_that_fails_500_twice_is_retryable_not_not_found(
    slack: SlackClient, fake: FakeSlack, sleeps: list[float], html: bool
) -> None:
    fake.add_user("ann@example.com")
    for _ in range(2):
        fake.fail_next("users.lookupByEmail", "internal_error", status=500, html=html)
    with pytest.raises(SlackError) as info:
        slack.lookup_user_by_email("ann@example.com")
    err = info.value
    assert (err.status, err.code) == (500, "http_error" if html else "internal_error")
    assert err.retryable and not err.outcome_unknown
    assert fake.calls("users.lookupByEmail") == 2 and sleeps == [1.0]


def test_lookup_that_fails_500_once_is_found(slack: SlackClient, fake: FakeSlack) -> None:
    uid = fake.add_user("ann@example.com")
    fake.fail_next("users.lookupByEmail", "internal_error", status=502, html=True)
    assert slack.lookup_user_by_email("ann@example.com") == uid


def test_lookup_that_times_out_twice_is_retryable(fake: FakeSlack, sleeps: list[float]) -> None:
    client = SlackClient(TOKEN, api_url=fake.url, timeout=1, sleep=sleeps.append)
    fake.add_user("ann@example.com")
    fake.slow_next("users.lookupByEmail", 1.6)
    fake.slow_next("users.lookupByEmail", 1.6)
    with pytest.raises(SlackError) as info:
        client.lookup_user_by_email("ann@example.com")
    assert (info.value.code, info.value.status) == ("network_error", 0)
    assert info.value.retryable
    assert fake.calls("users.lookupByEmail") == 2


def test_lookup_that_times_out_once_is_found(fake: FakeSlack, sleeps: list[float]) -> None:
    client = SlackClient(TOKEN, api_url=fake.url, timeout=1, sleep=sleeps.append)
    uid = fake.add_user("ann@example.com")
    fake.slow_next("users.lookupByEmail", 1.6)
    assert client.lookup_user_by_email("ann@example.com") == uid
    assert sleeps == [1.0]


def test_post_that_times_out_is_unknown_outcome_and_reconciled(fake: FakeSlack) -> None:
    client = SlackClient(TOKEN, api_url=fake.url, timeout=1, sleep=lambda _s: None)
    fake.add_channel(CIRCLE)
    started = time.time() - 5
    fake.slow_next("chat.postMessage", 1.6)
    with pytest.raises(SlackError) as info:
        client.post(CIRCLE, "hello", metadata_key="slow:1")
    err = info.value
    assert (err.code, err.outcome_unknown, err.retryable) == ("unknown_outcome", True, True)
    assert fake.calls("chat.postMessage") == 1
    assert client.find_posted(CIRCLE, "slow:1", oldest=started) == fake.messages(CIRCLE)[0]["ts"]


# --------------------------------------------------------------------------- file uploads


def png(width: int = 64, height: int = 32) -> bytes:
    """A real PNG (signature with CR LF, compressed rows holding every byte value)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(
        b"\x00" + b"".join(bytes(((x * 37) % 256, (y * 91) % 256, (x * y) % 256)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


TITLE = "Partner program 2026-W45"


def test_png_uploaded_through_slack_sdk_arrives_byte_identical(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE)
    chart = png()
    file_id = slack.upload_file(CIRCLE, "digest-2026-W45.png", chart, TITLE, "Referrals per week")
    (stored,) = fake.files(CIRCLE)
    assert stored["content"] == chart
    assert (stored["id"], stored["title"], stored["mimetype"]) == (file_id, TITLE, "image/png")
    assert stored["initial_comment"] == "Referrals per week"
    ticket, complete = fake.requests
    assert (ticket["method"], complete["method"]) == ("files.getUploadURLExternal", "files.completeUploadExternal")
    assert ticket["params"]["filename"] == "digest-2026-W45.png" and int(ticket["params"]["length"]) == len(chart)
    assert json.loads(complete["params"]["files"]) == [{"id": file_id, "title": TITLE}]
    assert complete["params"]["channel_id"] == CIRCLE
    assert fake.calls("upload") == 1
    shared = fake.messages(CIRCLE)[-1]
    assert shared["files"][0]["id"] == file_id and shared["text"] == "Referrals per week"


def test_upload_url_points_back_at_the_fake_and_needs_no_token(fake: FakeSlack) -> None:
    web = WebClient(token=TOKEN, base_url=fake.url, timeout=5)
    ticket = web.files_getUploadURLExternal(filename="a.png", length=3)
    url = str(ticket["upload_url"])
    assert url.startswith(fake.base + "/upload/v1/") and url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(urllib.request.Request(url, data=b"abc", method="POST"), timeout=5) as answer:
        assert (answer.status, answer.read()) == (200, b"OK - 3")


def test_find_uploaded_by_title_or_id(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE)
    slack.post(CIRCLE, "before", metadata_key="m")
    file_id = slack.upload_file(CIRCLE, "chart.png", png(), TITLE)
    slack.post(CIRCLE, "after", metadata_key="n")
    assert slack.find_uploaded(CIRCLE, TITLE, oldest=0) == file_id
    assert slack.find_uploaded(CIRCLE, file_id, oldest=0) == file_id
    assert slack.find_uploaded(CIRCLE, "Partner program 2026-W46", oldest=0) is None


def test_upload_needs_files_write(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE)
    fake.scopes.remove("files:write")
    with pytest.raises(SlackError) as info:
        slack.upload_file(CIRCLE, "chart.png", png(), TITLE)
    err = info.value
    assert (err.code, err.needed, err.method) == ("missing_scope", "files:write", "files.getUploadURLExternal")
    assert not err.retryable
    assert fake.calls("upload") == 0 and fake.files(CIRCLE) == []


def test_lost_answer_on_complete_is_unknown_outcome_and_find_uploaded_finds_it(
    slack: SlackClient, fake: FakeSlack
) -> None:
    fake.add_channel(CIRCLE)
    started = time.time() - 5
    fake.fail_next("files.completeUploadExternal", drop=True, after_apply=True)
    with pytest.raises(SlackError) as info:
        slack.upload_file(CIRCLE, "chart.png", png(), TITLE)
    err = info.value
    assert (err.code, err.method, err.outcome_unknown) == ("unknown_outcome", "files.completeUploadExternal", True)
    assert err.file_id and "find_uploaded" in err.hint
    assert fake.calls("files.completeUploadExternal") == 1  # never repeated by the client
    assert [f["id"] for f in fake.files(CIRCLE)] == [err.file_id]  # ... but it was shared
    assert slack.find_uploaded(CIRCLE, TITLE, oldest=started) == err.file_id


@pytest.mark.parametrize(("status", "after_apply"), [(0, False), (500, True), (200, True)])
def test_complete_without_a_clear_answer_is_unknown_outcome(
    slack: SlackClient, fake: FakeSlack, status: int, after_apply: bool
) -> None:
    fake.add_channel(CIRCLE)
    if status == 0:
        fake.fail_next("files.completeUploadExternal", drop=True)
    else:
        fake.fail_next("files.completeUploadExternal", "fatal_error", status=status, after_apply=after_apply)
    with pytest.raises(SlackError) as info:
        slack.upload_file(CIRCLE, "chart.png", png(), TITLE)
    assert info.value.outcome_unknown and info.value.code == "unknown_outcome"
    assert fake.calls("files.completeUploadExternal") == 1
    assert (slack.find_uploaded(CIRCLE, TITLE, oldest=0) is not None) == after_apply


def test_bytes_refused_by_the_upload_url_share_nothing_and_are_retryable(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE)
    fake.fail_next("upload", status=500)
    with pytest.raises(SlackError) as info:
        slack.upload_file(CIRCLE, "chart.png", png(), TITLE)
    err = info.value
    assert (err.code, err.status, err.outcome_unknown, err.retryable) == ("upload_failed", 500, False, True)
    assert "/upload/v1/" not in str(err)  # the upload URL is a one-time capability
    assert fake.calls("files.completeUploadExternal") == 0 and fake.files(CIRCLE) == []
    assert slack.upload_file(CIRCLE, "chart.png", png(), TITLE)
    assert len(fake.files(CIRCLE)) == 1


def test_lost_ticket_is_asked_again(slack: SlackClient, fake: FakeSlack, sleeps: list[float]) -> None:
    fake.add_channel(CIRCLE)
    fake.fail_next("files.getUploadURLExternal", drop=True)
    assert slack.upload_file(CIRCLE, "chart.png", png(), TITLE)
    assert fake.calls("files.getUploadURLExternal") == 2 and sleeps == [1.0]


def test_upload_to_a_channel_the_bot_cannot_see(slack: SlackClient, fake: FakeSlack) -> None:
    fake.add_channel(CIRCLE, bot_member=False)
    with pytest.raises(SlackError) as info:
        slack.upload_file(CIRCLE, "chart.png", png(), TITLE)
    err = info.value
    assert (err.code, err.method, err.retryable) == ("channel_not_found", "files.completeUploadExternal", False)
    assert "/invite" in err.hint
