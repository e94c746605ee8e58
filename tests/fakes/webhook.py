"""A fake webhook receiver (a Make / n8n / Zapier catch hook) over real HTTP on loopback.

Every POST is recorded (and so "applied") before it is answered; ``script`` says how the next
ones are answered, one action each, then 200 with a JSON body:

``"500"``, ``"429"`` (Retry-After: 1), ``"429long"`` (Retry-After: 3600), ``"400"``,
``"echo404"`` (n8n's 404 naming the webhook path), ``"302"``, ``"text"`` (200 text/plain),
``"drop"`` (closes the connection without an answer), ``"slow"`` (answers nothing for 0.4 s).
Standard library only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tests.fakes.server import LoopbackServer, Reply, Request, Served

Seen = Request  # what the receiver was sent: method, path (with the query), headers, body; .json()


@dataclass
class FakeReceiver(Served):
    """The receiving end: records every request; ``script`` says how to answer the next ones."""

    path: str = "/hooks/catch/1/secret/"
    url: str = ""
    requests: list[Seen] = field(default_factory=list)  # the server's log: recorded before answered
    script: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _query: str = ""

    def __post_init__(self) -> None:
        self.http = LoopbackServer(self._respond, name="fake-receiver", methods=("POST",), log=self.requests)

    def next_action(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else "ok"

    def record(self, seen: Seen) -> None:
        self.http.received(seen)

    def start(self, query: str = "") -> FakeReceiver:
        self._query = query
        super().start()
        return self

    def _started(self, base: str) -> None:
        self.url = f"{base}{self.path}" + (f"?{self._query}" if self._query else "")

    def _respond(self, request: Request) -> Reply:
        action = self.next_action()
        if action == "drop":
            return Reply(0, drop=True)
        if action == "slow":
            return Reply(0, drop=True, delay=0.4)  # answers nothing, for longer than the client waits
        if action == "echo404":
            return Reply(
                404,
                f'The requested webhook "POST {request.path}" is not registered.'.encode(),
                content_type="text/plain",
            )
        if action == "302":
            return Reply(302, b"", {"Location": f"http://127.0.0.1:1{request.path}"}, content_type="text/plain")
        status, body, ctype, headers = _ANSWERS.get(action, _ANSWERS["ok"])
        return Reply(status, body, dict(headers), content_type=ctype)


_ANSWERS: dict[str, tuple[int, bytes, str, dict[str, str]]] = {
    "500": (500, b"internal error", "text/plain", {}),
    "429": (429, b'{"status":"throttled"}', "application/json", {"Retry-After": "1"}),
    "429long": (429, b'{"status":"throttled"}', "application/json", {"Retry-After": "3600"}),
    "400": (400, b'{"error":"bad data"}', "application/json", {}),
    "text": (200, b"Accepted", "text/plain", {}),
    "ok": (200, b'{"status":"success","id":"abc-123"}', "application/json", {}),
}
