"""WebhookClient against a real local HTTP server that can fail on cue."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from integrations import webhook
from integrations.webhook import WebhookClient, WebhookError, build_document

TOKEN = "s3cr3tTOKENabc123"
PATH = f"/hooks/catch/4242/{TOKEN}/"
QUERY = "key=qk-9f8e7d6c5b"
SECRET = "shared-signing-secret"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Hook:
    """The receiving end: records every request; ``script`` says how to answer the next ones."""

    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    script: list[str] = field(default_factory=list)  # "500", "429", "400", "echo404", "drop", "slow", "302"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_action(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else "ok"


def _handler(hook: Hook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def _answer(self, status: int, body: bytes, ctype: str = "application/json", **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with hook.lock:
                hook.requests.append(Seen("POST", self.path, dict(self.headers.items()), body))
            action = hook.next_action()
            if action == "drop":
                self.close_connection = True
                return  # no status line: the client sees the connection closed
            if action == "slow":
                time.sleep(0.4)
                return
            if action == "500":
                self._answer(500, b"internal error", "text/plain")
            elif action == "429":
                self._answer(429, b'{"status":"throttled"}', Retry_After="1")
            elif action == "429long":
                self._answer(429, b'{"status":"throttled"}', Retry_After="3600")
            elif action == "400":
                self._answer(400, b'{"error":"bad data"}')
            elif action == "echo404":
                self._answer(404, f'The requested webhook "POST {self.path}" is not registered.'.encode(), "text/plain")
            elif action == "302":
                self._answer(302, b"", "text/plain", Location=f"http://127.0.0.1:1{self.path}")
            elif action == "text":
                self._answer(200, b"Accepted", "text/plain")
            else:
                self._answer(200, b'{"status":"success","id":"abc-123"}')

    return Handler


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{PATH}?{QUERY}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(hook: Hook, sleeps: list[float]) -> WebhookClient:
    return WebhookClient(hook.url, timeout=(1, 2), sleep=sleeps.append)


def doc(referral_id: str = "recA1b2C3d4E5f6G7") -> dict[str, Any]:
    return build_document(
        referral_id=referral_id,
        event="referral.accepted",
        occurred_at="2026-11-02T09:00:00Z",
        referral={
            "Referral": "Acme – website",
            "Company": "Acme",
            "Company Domain": "acme.com",
            "Contact Name": "Jane Doe",
            "Contact Email": "jane@acme.com",
            "Partner Email": "pat@agency.example",
            "Expires On": "2027-03-01",
        },
        partner={"Name": "Pat Lee", "Company": "Agency"},
        attribution="Sourced",
    )


def assert_hidden(text: str) -> None:
    assert TOKEN not in text
    assert "qk-9f8e7d6c5b" not in text
    assert "/hooks/catch/4242" not in text


# delivery ------------------------------------------------------------------------------------


def test_delivered_once_with_headers_and_json(hook: Hook, client: WebhookClient, sleeps: list[float]) -> None:
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


def test_text_answer_is_returned_as_text(hook: Hook, client: WebhookClient) -> None:
    hook.script = ["text"]
    assert client.push(doc()) == {"status": 200, "body": "Accepted"}


def test_500_then_success_is_retried_with_the_same_key(hook: Hook, client: WebhookClient, sleeps: list[float]) -> None:
    hook.script = ["500"]
    assert client.push(doc())["status"] == 200
    assert len(hook.requests) == 2
    assert {r.headers["Idempotency-Key"] for r in hook.requests} == {"recA1b2C3d4E5f6G7"}
    assert hook.requests[0].body == hook.requests[1].body
    assert sleeps == [webhook.BACKOFF_SECONDS[0]]


def test_429_honours_retry_after(hook: Hook, client: WebhookClient, sleeps: list[float]) -> None:
    hook.script = ["429"]
    assert client.push(doc())["status"] == 200
    assert len(hook.requests) == 2
    assert sleeps == [1.0]


def test_retry_after_is_bounded(hook: Hook, client: WebhookClient, sleeps: list[float]) -> None:
    hook.script = ["429long"]
    assert client.push(doc())["status"] == 200
    assert sleeps == [webhook.RETRY_AFTER_MAX_SECONDS]


def test_400_is_permanent_after_one_request(hook: Hook, client: WebhookClient, sleeps: list[float]) -> None:
    hook.script = ["400"]
    with pytest.raises(WebhookError) as info:
        client.push(doc())
    assert info.value.status == 400 and info.value.permanent is True
    assert "bad data" in str(info.value)
    assert len(hook.requests) == 1 and sleeps == []
    assert_hidden(str(info.value))


def test_redirect_is_not_followed(hook: Hook, client: WebhookClient) -> None:
    hook.script = ["302"]
    with pytest.raises(WebhookError) as info:
        client.push(doc())
    assert info.value.status == 302 and info.value.permanent is True
    assert len(hook.requests) == 1
    assert_hidden(str(info.value))


def test_dropped_connection_is_retried(hook: Hook, client: WebhookClient, sleeps: list[float]) -> None:
    hook.script = ["drop"]
    assert client.push(doc())["status"] == 200
    assert len(hook.requests) == 2
    assert hook.requests[0].body == hook.requests[1].body
    assert len(sleeps) == 1


def test_timeout_is_retried(hook: Hook, sleeps: list[float]) -> None:
    hook.script = ["slow"]
    client = WebhookClient(hook.url, timeout=(1, 0.1), sleep=sleeps.append)
    assert client.push(doc())["status"] == 200
    assert len(hook.requests) == 2


def test_gives_up_after_max_attempts(hook: Hook, client: WebhookClient, sleeps: list[float]) -> None:
    hook.script = ["500"] * 5
    with pytest.raises(WebhookError) as info:
        client.push(doc())
    assert info.value.status == 500 and info.value.permanent is False
    assert info.value.attempts == webhook.MAX_ATTEMPTS
    assert len(hook.requests) == webhook.MAX_ATTEMPTS
    assert sleeps == list(webhook.BACKOFF_SECONDS)


# secrets -------------------------------------------------------------------------------------


def test_url_never_in_errors(hook: Hook, client: WebhookClient) -> None:
    hook.script = ["echo404"]  # n8n's 404 body names the webhook path
    with pytest.raises(WebhookError) as info:
        client.push(doc())
    text = str(info.value)
    assert info.value.status == 404 and info.value.permanent is True
    assert_hidden(text)
    assert "http://127.0.0.1:" in text and "/…" in text
    assert_hidden(repr(client))


def test_no_answer_is_status_0_and_redacted(sleeps: list[float]) -> None:
    with socket_port() as port:
        pass  # closed again: nothing listens there
    client = WebhookClient(f"http://127.0.0.1:{port}{PATH}?{QUERY}", timeout=(0.5, 0.5), sleep=sleeps.append)
    with pytest.raises(WebhookError) as info:
        client.push(doc())
    assert info.value.status == 0 and info.value.permanent is False
    assert info.value.attempts == webhook.MAX_ATTEMPTS and len(sleeps) == webhook.MAX_ATTEMPTS - 1
    assert_hidden(str(info.value))
    assert info.value.__cause__ is None  # requests' exception text names the URL


def test_signature_verifies_with_hmac(hook: Hook, sleeps: list[float]) -> None:
    client = WebhookClient(hook.url, timeout=(1, 2), sleep=sleeps.append, secret=SECRET)
    client.push(doc())
    seen = hook.requests[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), seen.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(seen.headers["X-Partnerops-Signature"], expected)
    assert SECRET not in repr(client)


def test_referral_id_is_required(hook: Hook, client: WebhookClient) -> None:
    for bad in ({}, {"referral_id": ""}, {"referral_id": None}, {"referral_id": "a\nb"}):
        with pytest.raises(ValueError):
            client.push(bad)
    assert hook.requests == []


def test_url_must_be_http() -> None:
    for bad in ("ftp://example.com/x", "hooks.zapier.com/hooks/catch/1/2", "https:///x"):
        with pytest.raises(ValueError) as info:
            WebhookClient(bad)
        assert bad not in str(info.value)


# the document --------------------------------------------------------------------------------


def test_document_shape() -> None:
    assert doc() == {
        "schema": "partnerops.referral.v1",
        "event": "referral.accepted",
        "referral_id": "recA1b2C3d4E5f6G7",
        "occurred_at": "2026-11-02T09:00:00Z",
        "attribution": "Sourced",
        "referral": {
            "name": "Acme – website",
            "company": "Acme",
            "company_domain": "acme.com",
            "contact_name": "Jane Doe",
            "contact_email": "jane@acme.com",
            "notes": None,
            "registered_on": None,
            "expires_on": "2027-03-01",
        },
        "partner": {"email": "pat@agency.example", "name": "Pat Lee", "company": "Agency"},
    }


def test_document_keys_are_stable_and_snake_case_input_works() -> None:
    minimal = build_document(
        referral_id="rec1",
        event=webhook.EVENT_REFERRAL_ACCEPTED,
        occurred_at="2026-11-02T09:00:00+00:00",
        referral={"company": "Acme", "registered_on": "2026-11-01T08:00:00.000Z", "extra": "ignored"},
        partner={"email": "pat@agency.example"},
        attribution=None,
    )
    assert set(minimal["referral"]) == set(doc()["referral"])
    assert set(minimal["partner"]) == set(doc()["partner"])
    assert minimal["referral"]["company"] == "Acme"
    assert minimal["referral"]["registered_on"] == "2026-11-01"
    assert minimal["attribution"] is None
    json.dumps(minimal)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event": "referral.won"},
        {"occurred_at": "yesterday"},
        {"attribution": "Maybe"},
        {"referral_id": " "},
    ],
)
def test_document_rejects_bad_input(kwargs: dict[str, Any]) -> None:
    base: dict[str, Any] = {
        "referral_id": "rec1",
        "event": "referral.accepted",
        "occurred_at": "2026-11-02T09:00:00Z",
        "referral": {},
        "partner": {},
        "attribution": None,
    }
    with pytest.raises(ValueError):
        build_document(**{**base, **kwargs})


# helpers -------------------------------------------------------------------------------------


class socket_port:  # noqa: N801 - used as a context manager
    """A free local port (bound while inside the block, free afterwards)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
