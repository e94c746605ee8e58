"""WebhookClient against the fake receiver (real local HTTP) that can fail on cue."""

from __future__ import annotations

import hashlib
import hmac
import socket
from collections.abc import Iterator

import pytest

from integrations import webhook
from integrations.http import Clock
from integrations.webhook import WebhookClient, WebhookError
from tests.fakes.webhook import FakeReceiver

TOKEN = "s3cr3tTOKENabc123"
PATH = f"/hooks/catch/4242/{TOKEN}/"
QUERY = "key=qk-9f8e7d6c5b"
SECRET = "shared-signing-secret"

Document = dict[str, object]


@pytest.fixture
def hook() -> Iterator[FakeReceiver]:
    with FakeReceiver(path=PATH).start(QUERY) as receiver:
        yield receiver


@pytest.fixture
def sleeps() -> list[float]:
    return []


def clock_of(sleeps: list[float]) -> Clock:
    return Clock(sleep=sleeps.append)


@pytest.fixture
def client(hook: FakeReceiver, sleeps: list[float]) -> WebhookClient:
    return WebhookClient(hook.url, timeout=(1, 2), clock=clock_of(sleeps))


def doc(referral_id: str = "recA1b2C3d4E5f6G7") -> Document:
    """Any JSON document with a referral id (its shape is jobs.apply.crm_document's business)."""
    return {"schema": "partnerops.referral.v1", "referral_id": referral_id, "referral": {"company": "Acme – website"}}


def assert_hidden(text: str) -> None:
    assert TOKEN not in text
    assert "qk-9f8e7d6c5b" not in text
    assert "/hooks/catch/4242" not in text


# delivery ------------------------------------------------------------------------------------


def test_delivered_once_with_headers_and_json(hook: FakeReceiver, client: WebhookClient, sleeps: list[float]) -> None:
    document = doc()
    result = client.push(document)
    assert result == {"status": 200, "body": {"status": "success", "id": "abc-123"}}
    assert len(hook.requests) == 1 and sleeps == []
    seen = hook.requests[0]
    assert seen.path == f"{PATH}?{QUERY}"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Idempotency-Key"] == "recA1b2C3d4E5f6G7"
    assert seen.headers["User-Agent"] == "partnerops"
    assert "X-Partnerops-Signature" not in seen.headers
    assert seen.json() == document


def test_text_answer_is_returned_as_text(hook: FakeReceiver, client: WebhookClient) -> None:
    hook.script = ["text"]
    assert client.push(doc()) == {"status": 200, "body": "Accepted"}


def test_500_then_success_is_retried_with_the_same_key(
    hook: FakeReceiver, client: WebhookClient, sleeps: list[float]
) -> None:
    hook.script = ["500"]
    assert client.push(doc())["status"] == 200
    assert len(hook.requests) == 2
    assert {r.headers["Idempotency-Key"] for r in hook.requests} == {"recA1b2C3d4E5f6G7"}
    assert hook.requests[0].body == hook.requests[1].body
    assert sleeps == [webhook.BACKOFF_SECONDS[0]]


def test_429_honours_retry_after(hook: FakeReceiver, client: WebhookClient, sleeps: list[float]) -> None:
    hook.script = ["429"]
    assert client.push(doc())["status"] == 200
    assert len(hook.requests) == 2
    assert sleeps == [1.0]


def test_retry_after_is_bounded(hook: FakeReceiver, client: WebhookClient, sleeps: list[float]) -> None:
    hook.script = ["429long"]
    assert client.push(doc())["status"] == 200
    assert sleeps == [webhook.RETRY_AFTER_MAX_SECONDS]


def test_400_is_permanent_after_one_request(hook: FakeReceiver, client: WebhookClient, sleeps: list[float]) -> None:
    hook.script = ["400"]
    with pytest.raises(WebhookError) as info:
        client.push(doc())
    assert info.value.status == 400 and info.value.code == "400"
    assert info.value.retryable is False and info.value.outcome_unknown is False
    assert "bad data" in str(info.value) and "fix the receiving scenario" in str(info.value)
    assert len(hook.requests) == 1 and sleeps == []
    assert_hidden(str(info.value))


def test_redirect_is_not_followed(hook: FakeReceiver, client: WebhookClient) -> None:
    hook.script = ["302"]
    with pytest.raises(WebhookError) as info:
        client.push(doc())
    assert info.value.status == 302 and info.value.retryable is False
    assert "CRM_WEBHOOK_URL" in str(info.value)
    assert len(hook.requests) == 1
    assert_hidden(str(info.value))


def test_dropped_after_apply_is_unknown_and_not_repeated(
    hook: FakeReceiver, client: WebhookClient, sleeps: list[float]
) -> None:
    """The receiver took the document, then the connection dropped: the outcome is unknown."""
    hook.script = ["drop"]
    with pytest.raises(WebhookError) as info:
        client.push(doc())
    assert len(hook.requests) == 1  # exactly one document received: not repeated within the call
    assert sleeps == []
    assert (info.value.status, info.value.code, info.value.outcome_unknown) == (0, webhook.ANSWER_LOST, True)
    assert info.value.attempts == 1
    assert "may have been applied" in str(info.value)
    assert_hidden(str(info.value))


def test_read_timeout_is_unknown_and_not_repeated(hook: FakeReceiver, sleeps: list[float]) -> None:
    hook.script = ["slow"]
    client = WebhookClient(hook.url, timeout=(1, 0.1), clock=clock_of(sleeps))
    with pytest.raises(WebhookError) as info:
        client.push(doc())
    assert info.value.outcome_unknown is True and info.value.code == webhook.ANSWER_LOST
    assert len(hook.requests) == 1 and sleeps == []


def test_gives_up_after_max_attempts(hook: FakeReceiver, client: WebhookClient, sleeps: list[float]) -> None:
    hook.script = ["500"] * 5
    with pytest.raises(WebhookError) as info:
        client.push(doc())
    assert info.value.status == 500 and info.value.retryable is True and info.value.outcome_unknown is False
    assert info.value.attempts == webhook.MAX_ATTEMPTS
    assert len(hook.requests) == webhook.MAX_ATTEMPTS
    assert sleeps == list(webhook.BACKOFF_SECONDS)


def test_connection_refused_is_retried_then_retryable_and_redacted(sleeps: list[float]) -> None:
    """No connection could be made: nothing reached the receiver, so repeating is safe."""
    port = free_port()  # nothing listens there
    client = WebhookClient(f"http://127.0.0.1:{port}{PATH}?{QUERY}", timeout=(0.5, 0.5), clock=clock_of(sleeps))
    with pytest.raises(WebhookError) as info:
        client.push(doc())
    assert (info.value.status, info.value.code) == (0, webhook.NO_CONNECTION)
    assert info.value.retryable is True and info.value.outcome_unknown is False
    assert info.value.attempts == webhook.MAX_ATTEMPTS and len(sleeps) == webhook.MAX_ATTEMPTS - 1
    assert "check CRM_WEBHOOK_URL" in str(info.value)
    assert_hidden(str(info.value))
    assert info.value.__cause__ is None  # requests' exception text names the URL


def test_refused_then_up_delivers_once(sleeps: list[float]) -> None:
    receiver = FakeReceiver(path=PATH)
    port = free_port()
    client = WebhookClient(f"http://127.0.0.1:{port}{PATH}", timeout=(0.5, 0.5), clock=Clock(sleep=lambda _s: None))
    with pytest.raises(WebhookError):
        client.push(doc())
    with receiver.start():
        client = WebhookClient(receiver.url, timeout=(1, 2), clock=clock_of(sleeps))
        assert client.push(doc())["status"] == 200
    assert len(receiver.requests) == 1


# secrets -------------------------------------------------------------------------------------


def test_url_never_in_errors(hook: FakeReceiver, client: WebhookClient) -> None:
    hook.script = ["echo404"]  # n8n's 404 body names the webhook path
    with pytest.raises(WebhookError) as info:
        client.push(doc())
    text = str(info.value)
    assert info.value.status == 404 and info.value.retryable is False
    assert_hidden(text)
    assert "http://127.0.0.1:" in text and "/…" in text
    assert_hidden(repr(client))


def test_signature_verifies_with_hmac(hook: FakeReceiver, sleeps: list[float]) -> None:
    client = WebhookClient(hook.url, timeout=(1, 2), clock=clock_of(sleeps), secret=SECRET)
    client.push(doc())
    seen = hook.requests[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), seen.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(seen.headers["X-Partnerops-Signature"], expected)
    assert SECRET not in repr(client)


def test_referral_id_is_required(hook: FakeReceiver, client: WebhookClient) -> None:
    bad_documents: list[Document] = [{}, {"referral_id": ""}, {"referral_id": None}, {"referral_id": "a\nb"}]
    for bad in bad_documents:
        with pytest.raises(ValueError):
            client.push(bad)
    assert hook.requests == []


def test_url_must_be_http() -> None:
    for bad in ("ftp://example.com/x", "hooks.zapier.com/hooks/catch/1/2", "https:///x"):
        with pytest.raises(ValueError) as info:
            WebhookClient(bad)
        assert bad not in str(info.value)


def test_integrations_know_no_airtable_field_names() -> None:
    from pathlib import Path

    text = Path(webhook.__file__).read_text(encoding="utf-8")
    for name in ("Company Domain", "Contact Email", "Partner Email", "Expires On"):
        assert name not in text


# helpers -------------------------------------------------------------------------------------


def free_port() -> int:
    """A local port nothing listens on (bound, then closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
