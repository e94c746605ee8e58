"""A fake webhook receiver (a Make / n8n / Zapier catch hook) over real HTTP on loopback.

Every POST is recorded (and so "applied") before it is answered; ``script`` says how the next
ones are answered, one action each, then 200 with a JSON body:

``"500"``, ``"429"`` (Retry-After: 1), ``"429long"`` (Retry-After: 3600), ``"400"``,
``"echo404"`` (n8n's 404 naming the webhook path), ``"302"``, ``"text"`` (200 text/plain),
``"drop"`` (closes the connection without an answer), ``"slow"`` (answers nothing for 0.4 s).
Standard library only.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:  # a JSON document of any shape
        return json.loads(self.body)


@dataclass
class FakeReceiver:
    """The receiving end: records every request; ``script`` says how to answer the next ones."""

    path: str = "/hooks/catch/1/secret/"
    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    script: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def next_action(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else "ok"

    def record(self, seen: Seen) -> None:
        with self.lock:
            self.requests.append(seen)

    def start(self, query: str = "") -> FakeReceiver:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}{self.path}" + (f"?{query}" if query else "")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeReceiver:
        return self.start() if self._server is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


_ANSWERS: dict[str, tuple[int, bytes, str, dict[str, str]]] = {
    "500": (500, b"internal error", "text/plain", {}),
    "429": (429, b'{"status":"throttled"}', "application/json", {"Retry-After": "1"}),
    "429long": (429, b'{"status":"throttled"}', "application/json", {"Retry-After": "3600"}),
    "400": (400, b'{"error":"bad data"}', "application/json", {}),
    "text": (200, b"Accepted", "text/plain", {}),
    "ok": (200, b'{"status":"success","id":"abc-123"}', "application/json", {}),
}


def _handler(receiver: FakeReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            pass

        def _answer(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.record(Seen("POST", self.path, dict(self.headers.items()), body))
            action = receiver.next_action()
            if action == "drop":
                self.close_connection = True
                return  # no status line: the client sees the connection closed
            if action == "slow":
                time.sleep(0.4)
                return
            if action == "echo404":
                text = f'The requested webhook "POST {self.path}" is not registered.'.encode()
                self._answer(404, text, "text/plain", {})
            elif action == "302":
                self._answer(302, b"", "text/plain", {"Location": f"http://127.0.0.1:1{self.path}"})
            else:
                self._answer(*_ANSWERS.get(action, _ANSWERS["ok"]))

    return Handler
