"""The HTTP plumbing the fakes share (tests/fakes/server.py): loopback only, JSON in and out,
statuses and headers, a dropped connection after applying, a log of what arrived."""

from __future__ import annotations

import pytest
import requests

from tests.fakes.server import LoopbackServer, Reply, Request, Served


class Echo(Served):
    """A fake that answers with what it was sent; ``script`` replies first, one per request."""

    def __init__(self) -> None:
        self.url = ""
        self.applied: list[Request] = []
        self.script: list[Reply] = []
        self.http = LoopbackServer(self._respond, name="fake-echo", methods=("GET", "POST"))

    def _respond(self, request: Request) -> Reply:
        self.applied.append(request)
        if self.script:
            return self.script.pop(0)
        body = {"method": request.method, "route": request.route, "query": request.query, "json": request.json()}
        return Reply(201, body, {"X-Seen": request.header("x-token") or ""})


def test_it_listens_on_loopback_only_and_answers_json() -> None:
    with Echo() as fake:
        assert fake.url.startswith("http://127.0.0.1:")
        r = requests.post(f"{fake.url}/a%20b?x=1&y=", json={"k": [1, 2]}, headers={"X-Token": "t"}, timeout=5)
    assert r.status_code == 201 and r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["X-Seen"] == "t"
    assert r.json() == {"method": "POST", "route": "/a b", "query": {"x": ["1"], "y": [""]}, "json": {"k": [1, 2]}}


def test_text_bytes_and_an_empty_body() -> None:
    with Echo() as fake:
        fake.script = [
            Reply(200, "plain"),
            Reply(502, "<html>bad gateway</html>"),
            Reply(200, b"raw", content_type="text/csv"),
            Reply(204),
        ]
        answers = [requests.get(fake.url, timeout=5) for _ in range(4)]
    assert [(a.status_code, a.headers["Content-Type"], a.content) for a in answers] == [
        (200, "text/plain; charset=utf-8", b"plain"),
        (502, "text/html; charset=utf-8", b"<html>bad gateway</html>"),
        (200, "text/csv", b"raw"),
        (204, "application/json; charset=utf-8", b""),
    ]


def test_a_dropped_answer_comes_after_the_request_was_applied_and_logged() -> None:
    with Echo() as fake:
        fake.script = [Reply(0, drop=True)]
        with pytest.raises(requests.ConnectionError):
            requests.post(fake.url, json={"n": 1}, timeout=5)
        assert [r.json() for r in fake.applied] == [{"n": 1}]
        assert [r.json() for r in fake.http.log] == [{"n": 1}]


def test_a_method_it_does_not_serve_is_501_and_never_reaches_the_fake() -> None:
    with Echo() as fake:
        assert requests.delete(fake.url, timeout=5).status_code == 501
        assert fake.applied == []


def test_it_restarts_keeping_its_log_and_frees_the_port_on_stop() -> None:
    fake = Echo()
    with fake:
        requests.get(fake.url, timeout=5)
        first = fake.url
        assert fake.start() is fake and fake.url == first  # starting a running fake changes nothing
    with pytest.raises(requests.ConnectionError):
        requests.get(first, timeout=5)
    with fake:
        requests.get(fake.url, timeout=5)
    assert len(fake.http.log) == 2 and not fake.http.running
