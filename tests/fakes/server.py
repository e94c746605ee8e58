"""The HTTP plumbing the fakes share: a server on loopback that hands each request to a fake.

:class:`LoopbackServer` listens on ``127.0.0.1`` on a free port (never on another interface),
serves from a daemon thread, reads each request into a :class:`Request` (kept in ``log``, in the
order they arrive) and sends back the :class:`Reply` the fake's ``respond`` returns: a JSON
document, text or bytes with a status and headers, after a delay, or no answer at all (``drop``:
the connection is closed, so the client sees a lost response to a request the fake applied).

:class:`Served` gives a fake ``start``, ``stop`` and ``with`` on top of its server.
Standard library only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

HOST = "127.0.0.1"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Request:
    """One request as received: ``path`` is the target as sent (path and query, still quoted)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case of its name as sent."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def auth(self) -> str | None:
        return self.header("Authorization")

    @property
    def route(self) -> str:
        """The path without the query, unquoted."""
        return unquote(urlsplit(self.path).path)

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)

    def json(self) -> Any:  # a JSON document of any shape
        """The body as JSON ({} when there is none); ValueError when it is not JSON."""
        return json.loads(self.body) if self.body else {}


@dataclass
class Reply:
    """What the server sends: ``body`` (a JSON document; text or bytes as they are; None: empty)
    with ``status`` and ``headers`` after ``delay`` seconds, or nothing at all (``drop``)."""

    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0
    content_type: str = ""  # "" = by the body: JSON, HTML (text starting with "<") or plain text

    def encoded(self) -> tuple[bytes, str]:
        """The bytes to send and their Content-Type."""
        body = self.body
        if isinstance(body, bytes):
            data, kind = body, "application/octet-stream"
        elif isinstance(body, str):
            data = body.encode("utf-8")
            kind = "text/html; charset=utf-8" if body.startswith("<") else "text/plain; charset=utf-8"
        else:
            data, kind = (b"" if body is None else json.dumps(body).encode("utf-8")), JSON_TYPE
        return data, self.content_type or kind


Respond = Callable[[Request], Reply]


class LoopbackServer:
    """Serves ``respond`` over HTTP on 127.0.0.1 while started; ``url`` is ``http://127.0.0.1:<port>``.

    ``log`` keeps every request received (across restarts), recorded before it is answered; pass a
    list to have it kept there.
    ``methods`` are the ones served (any other is answered 501, as the standard library does);
    ``protocol`` is the HTTP version answered (HTTP/1.1 keeps connections open between requests).
    """

    def __init__(
        self,
        respond: Respond,
        *,
        name: str = "fake",
        methods: tuple[str, ...] = METHODS,
        protocol: str = "HTTP/1.0",
        log: list[Request] | None = None,
    ) -> None:
        self.respond = respond
        self.name = name
        self.methods = methods
        self.protocol = protocol
        self.log: list[Request] = [] if log is None else log
        self.url = ""
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> LoopbackServer:
        """Listen on a free port and serve from a daemon thread (once: a running server stays as it is)."""
        if self._httpd is None:
            httpd = ThreadingHTTPServer((HOST, 0), _handler(self))
            httpd.daemon_threads = True
            self.url = f"http://{HOST}:{httpd.server_address[1]}"
            self._thread = threading.Thread(
                target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, name=self.name, daemon=True
            )
            self._httpd = httpd
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port (``url`` keeps naming it: nothing listens there any more)."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def received(self, request: Request) -> None:
        with self._lock:
            self.log.append(request)


def _handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = server.protocol

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep the test output quiet
            return

        def do_GET(self) -> None:  # noqa: N802 - the standard library's names
            self._serve()

        def do_POST(self) -> None:  # noqa: N802
            self._serve()

        def do_PUT(self) -> None:  # noqa: N802
            self._serve()

        def do_PATCH(self) -> None:  # noqa: N802
            self._serve()

        def do_DELETE(self) -> None:  # noqa: N802
            self._serve()

        def _serve(self) -> None:
            if self.command not in server.methods:
                self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
                return
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
            server.received(request)
            self._send(server.respond(request))

        def _send(self, reply: Reply) -> None:
            if reply.delay:
                time.sleep(reply.delay)
            if reply.drop:
                self.close_connection = True  # no status line: the client sees the connection closed
                return
            data, kind = reply.encoded()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting (a timeout test)

    return Handler


F = TypeVar("F", bound="Served")


class Served:
    """``start``, ``stop`` and ``with`` for a fake answering through ``self.http``; ``url`` is set
    on start (by :meth:`_started`, which a fake whose url has more to it overrides)."""

    http: LoopbackServer
    url: str

    def start(self: F) -> F:
        self.http.start()
        self._started(self.http.url)
        return self

    def _started(self, base: str) -> None:
        self.url = base

    def stop(self) -> None:
        self.http.stop()

    def __enter__(self: F) -> F:
        return self if self.http.running else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
