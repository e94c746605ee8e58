"""A real SMTP server on loopback (aiosmtpd) that records what it receives and fails on cue.

``Recorder`` is the aiosmtpd handler: it stores each accepted message as an :class:`Envelope`,
logs the commands that reach it (MAIL, RCPT, DATA, QUIT), refuses the recipients in ``refuse``
with the given reply, and can answer DATA with a reply, drop the connection instead, or store the
message and answer only after ``data_delay`` seconds. :func:`serve` runs it on a free port.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

USER = "mailer"
PASSWORD = "s3cret-Pa55word!"


@dataclass
class Envelope:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class Recorder:
    """aiosmtpd handler: records envelopes and commands; refuses some recipients; can fail DATA."""

    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    data_reply: str = ""  # non-empty: answer DATA with this instead of accepting
    drop_on_data: bool = False  # close the connection instead of answering DATA
    data_delay: float = 0.0  # store the message, but answer DATA only after this long
    received: list[Envelope] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # MAIL, RCPT, DATA, QUIT as they came

    def _store(self, envelope: SmtpEnvelope) -> None:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.received.append(Envelope(str(envelope.mail_from), list(envelope.rcpt_tos), content))

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, mail_options: list[str]
    ) -> str:
        self.commands.append("MAIL")
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, rcpt_options: list[str]
    ) -> str:
        self.commands.append("RCPT")
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:  # noqa: N802
        self.commands.append("QUIT")
        return "221 Bye"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:  # noqa: N802
        self.commands.append("DATA")
        if self.data_delay:
            self._store(envelope)
            await asyncio.sleep(self.data_delay)
            return "250 Message accepted"
        if self.drop_on_data:
            if server.transport is not None:
                server.transport.close()
            return "250 OK"
        if self.data_reply:
            return self.data_reply
        self._store(envelope)
        return "250 Message accepted"


def free_port() -> int:
    """A local port nothing listens on (bound, then closed again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def authenticator(
    server: SMTP, session: Session, envelope: SmtpEnvelope, mechanism: str, auth_data: object
) -> AuthResult:
    """Accepts :data:`USER` / :data:`PASSWORD` only; aiosmtpd answers 535 to anything else."""
    ok = isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


def serve(handler: Recorder, **smtp_options: Any) -> Iterator[Controller]:
    """Run ``handler`` on 127.0.0.1 (a free port) while the generator is open; aiosmtpd's SMTP
    options (``authenticator``, ``tls_context``, ``require_starttls`` …) are passed on."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), ready_timeout=5, **smtp_options)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
