"""Outgoing e-mail over SMTP (smtplib), plus plain-text templates for it.

* :func:`build_intro` builds a two-party intro message (``To`` one person, ``Cc`` another) with
  ``email.policy.SMTP``.  Every header value that may have come from outside (names, subjects)
  goes through :func:`safe_header`, and addresses are checked by :func:`check_address` and built
  with :class:`email.headerregistry.Address`, so a value such as ``"Eve\\r\\nBcc: x@evil.com"``
  can never add a header.  The ``Message-ID`` is derived from a caller-given key, so the same
  message always carries the same id.
* :class:`SmtpSender` delivers a message, one connection per send (STARTTLS and login as
  configured).  Every failure surfaces as one :class:`EmailError`; the password never appears
  in its message.
* :func:`render_text` renders a jinja2 template as plain text (no escaping: this is not Slack),
  and :func:`split_subject` splits its ``Subject: …`` first line from the body.

Nothing here knows about partners or referrals.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import io
import logging
import re
import smtplib
import ssl
import unicodedata
from datetime import datetime, timezone
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import format_datetime, getaddresses
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

log = logging.getLogger(__name__)

DEFAULT_PORT = 587
DEFAULT_TIMEOUT = 20.0
MESSAGE_ID_LENGTH = 24  # hex digits of sha256(key) in the Message-ID's left part

# A deliberately strict, ASCII-only address: local part of atext with single dots, one "@",
# a domain of at least two LDH labels.  No quoted local parts, no IP literals, no spaces.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_ADDRESS_RE = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@({_DOMAIN_RE.pattern})")
_MAX_ADDRESS = 254
_MAX_LOCAL = 64


class EmailError(Exception):
    """Sending failed.

    ``permanent``: sending the same message again with the same settings will fail again (a 5xx
    reply, every recipient refused, no STARTTLS, bad credentials); otherwise (no answer, time-out,
    a 4xx reply) a later attempt may work.  ``code`` is the SMTP reply code (0 = no reply),
    ``stage`` the step that failed (connect, ehlo, starttls, login, mail, rcpt, data), and
    ``unknown_outcome`` is True when the connection broke while the message itself was being
    handed over, so the server may have accepted it.
    """

    def __init__(
        self,
        text: str,
        *,
        permanent: bool,
        code: int = 0,
        stage: str = "",
        unknown_outcome: bool = False,
        refused: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        self.permanent = permanent
        self.code = code
        self.stage = stage
        self.unknown_outcome = unknown_outcome
        self.refused = dict(refused or {})
        super().__init__(text)


# --------------------------------------------------------------------------- headers and addresses


def safe_header(value: str) -> str:
    """One clean line for a header: control/format characters and line breaks gone, whitespace collapsed."""
    out: list[str] = []
    for ch in str(value):
        category = unicodedata.category(ch)
        if category in ("Cc", "Zs", "Zl", "Zp"):
            out.append(" ")  # CR, LF, TAB, NEL, U+2028 … become a plain space
        elif category[0] == "C":
            continue  # format (bidi overrides, zero-width), surrogates, private use, unassigned
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def check_address(value: str) -> str:
    """The address itself (``local@domain``), or ValueError: one ``@``, no spaces, ASCII only."""
    addr = str(value).strip()
    if (
        len(addr) > _MAX_ADDRESS
        or addr.count("@") != 1
        or not _ADDRESS_RE.fullmatch(addr)
        or len(addr.split("@")[0]) > _MAX_LOCAL
    ):
        raise ValueError(f"not a valid e-mail address: {addr!r}")
    return addr


def check_domain(value: str) -> str:
    domain = str(value).strip().lower()
    if len(domain) > 253 or not _DOMAIN_RE.fullmatch(domain):
        raise ValueError(f"not a valid domain name: {domain!r}")
    return domain


def make_address(name: str, addr: str) -> Address:
    """An ``Address`` with a sanitised display name and a checked address."""
    return Address(display_name=safe_header(name), addr_spec=check_address(addr))


def message_id(key: str, domain: str) -> str:
    """``<sha256(key)[:24]@domain>``: the same key always gives the same Message-ID."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:MESSAGE_ID_LENGTH]
    return f"<{digest}@{check_domain(domain)}>"


def build_intro(
    *,
    sender: str,
    to_name: str,
    to_email: str,
    cc_name: str,
    cc_email: str,
    subject: str,
    body: str,
    message_id_key: str,
    domain: str,
    sender_name: str = "",
    now: datetime | None = None,
) -> EmailMessage:
    """A plain-text message From/Reply-To ``sender``, To one person, Cc another.

    Raises ValueError for a bad address or domain, or an empty subject.
    """
    if not message_id_key:
        raise ValueError("message_id_key is empty")
    clean_subject = safe_header(subject)
    if not clean_subject:
        raise ValueError("the subject is empty")
    from_addr = make_address(sender_name, sender)
    to_addr = make_address(to_name, to_email)
    cc_addr = make_address(cc_name, cc_email)

    msg = EmailMessage(policy=SMTP)
    msg["From"] = from_addr
    msg["Reply-To"] = from_addr
    msg["To"] = to_addr
    msg["Cc"] = cc_addr
    msg["Subject"] = clean_subject
    msg["Date"] = format_datetime(now or datetime.now(timezone.utc))
    msg["Message-ID"] = message_id(message_id_key, domain)
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    plain = text.isascii() and all(len(line) <= 78 for line in text.splitlines())
    msg.set_content(text, cte="7bit" if plain else "quoted-printable")
    return msg


# --------------------------------------------------------------------------- templates


@lru_cache(maxsize=16)
def _environment(folder: str) -> Environment:
    return Environment(
        loader=FileSystemLoader(folder),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render_text(template_path: Path, **context: Any) -> str:
    """Render a jinja2 template file as plain text: undefined names fail, nothing is escaped."""
    path = Path(template_path)
    return _environment(str(path.resolve().parent)).get_template(path.name).render(**context).strip()


def split_subject(text: str) -> tuple[str, str]:
    """``("the subject", "the body")`` from rendered text whose first line is ``Subject: …``.

    The subject is passed through :func:`safe_header`; blank lines after it are dropped.
    ValueError when the first line is not a non-empty ``Subject:`` line.
    """
    first, _, rest = text.lstrip("\r\n").partition("\n")
    label, colon, subject = first.partition(":")
    if not colon or label.strip().lower() != "subject":
        raise ValueError("the template must start with a 'Subject: …' line")
    clean = safe_header(subject)
    if not clean:
        raise ValueError("the template's Subject line is empty")
    return clean, rest.lstrip("\r\n").rstrip() + "\n"


# --------------------------------------------------------------------------- sending


def _envelope(msg: Message) -> tuple[str, list[str]]:
    """Envelope sender and recipients (To, Cc, Bcc, de-duplicated), all checked; ValueError otherwise."""
    senders = getaddresses([str(v) for v in (msg.get_all("Sender") or msg.get_all("From") or [])])
    if len(senders) != 1:
        raise ValueError("the message needs exactly one From (or Sender) address")
    sender = check_address(senders[0][1])
    recipients: list[str] = []
    seen: set[str] = set()
    for header in ("To", "Cc", "Bcc"):
        for _name, addr in getaddresses([str(v) for v in msg.get_all(header) or []]):
            checked = check_address(addr)
            if checked.lower() not in seen:
                seen.add(checked.lower())
                recipients.append(checked)
    if not recipients:
        raise ValueError("the message has no recipients")
    return sender, recipients


def _flatten(msg: Message) -> bytes:
    if msg.get_all("Bcc") or msg.get_all("Resent-Bcc"):
        msg = copy.deepcopy(msg)
        del msg["Bcc"]
        del msg["Resent-Bcc"]
    buf = io.BytesIO()
    BytesGenerator(buf, policy=msg.policy).flatten(msg, linesep="\r\n")
    return buf.getvalue()


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _close(smtp: smtplib.SMTP, *, polite: bool) -> None:
    """QUIT after a delivery (its answer no longer matters), then close the socket."""
    if polite:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
    smtp.close()


class SmtpSender:
    """Sends messages through one SMTP server (submission port 587 with STARTTLS by default)."""

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        user: str = "",
        password: str = "",
        starttls: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = int(port)
        self.user = user
        self._password = password
        self.starttls = starttls
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"SmtpSender({self.host!r}, {self.port}, user={self.user!r}, starttls={self.starttls})"

    def send(self, msg: Message) -> dict[str, tuple[int, str]]:
        """Deliver ``msg`` to its To/Cc/Bcc recipients (Bcc is not transmitted as a header).

        Returns the recipients the server refused while accepting the others (empty = all
        accepted; the message WAS sent).  Raises ValueError for a bad address before connecting,
        and :class:`EmailError` when nothing was accepted or the outcome is unknown.
        """
        sender, recipients = _envelope(msg)
        data = _flatten(msg)
        stage = "connect"
        smtp: smtplib.SMTP | None = None
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname)
            stage = "ehlo"
            smtp.ehlo_or_helo_if_needed()
            if self.starttls:
                stage = "starttls"
                if not smtp.has_extn("starttls"):
                    raise self._error(
                        "the server does not offer STARTTLS (set SMTP_STARTTLS=false only for a trusted local relay)",
                        stage=stage,
                        permanent=True,
                    )
                smtp.starttls(context=self._ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if self.user:
                stage = "login"
                smtp.login(self.user, self._password)
            stage = "mail"
            code, reply = smtp.mail(sender)
            if code != 250:
                raise self._error(f"sender refused: {code} {_reply_text(reply)}", stage=stage, code=code)
            stage = "rcpt"
            refused: dict[str, tuple[int, str]] = {}
            for rcpt in recipients:
                code, reply = smtp.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, _reply_text(reply))
            if len(refused) == len(recipients):
                smtp.rset()
                detail = "; ".join(f"{a}: {c} {r}" for a, (c, r) in refused.items())
                raise self._error(
                    f"all recipients refused: {detail}",
                    stage=stage,
                    code=max(c for c, _ in refused.values()),
                    permanent=all(c >= 500 for c, _ in refused.values()),
                    refused=refused,
                )
            stage = "data"
            code, reply = smtp.data(data)
            if code != 250:  # a definite answer: the message was not accepted
                raise self._error(f"message refused: {code} {_reply_text(reply)}", stage="data", code=code)
            stage = "done"
        except EmailError:
            raise
        except smtplib.SMTPNotSupportedError as exc:
            raise self._error(f"not supported by the server: {exc}", stage=stage, permanent=True) from None
        except smtplib.SMTPServerDisconnected:
            raise self._error("the server closed the connection", stage=stage) from None
        except smtplib.SMTPResponseException as exc:
            code = int(exc.smtp_code)
            raise self._error(f"{code} {_reply_text(exc.smtp_error)}", stage=stage, code=code) from None
        except smtplib.SMTPException as exc:  # e.g. no AUTH mechanism in common
            raise self._error(f"{type(exc).__name__}: {exc}", stage=stage, permanent=True) from None
        except ssl.SSLCertVerificationError as exc:
            raise self._error(
                f"TLS certificate not trusted: {exc.verify_message}", stage=stage, permanent=True
            ) from None
        except OSError as exc:  # refused, reset, time-out, DNS, TLS
            raise self._error(f"no answer: {type(exc).__name__}", stage=stage) from None
        finally:
            if smtp is not None:
                _close(smtp, polite=stage == "done")
        if refused:
            log.warning("SMTP %s:%s accepted the message but refused %s", self.host, self.port, sorted(refused))
        return refused

    def _error(
        self,
        detail: str,
        *,
        stage: str,
        code: int = 0,
        permanent: bool | None = None,
        unknown_outcome: bool = False,
        refused: dict[str, tuple[int, str]] | None = None,
    ) -> EmailError:
        if permanent is None:
            permanent = 500 <= code < 600
        if stage == "data" and code == 0:  # the connection broke while the message was handed over
            unknown_outcome = True
        text = self._scrub(f"SMTP {self.host}:{self.port} {stage} failed: {detail}")
        if unknown_outcome:
            text += " (the message may have been delivered)"
        return EmailError(
            text, permanent=permanent, code=code, stage=stage, unknown_outcome=unknown_outcome, refused=refused
        )

    def _scrub(self, text: str) -> str:
        """Remove the password (and the AUTH encodings carrying it) from a message."""
        if not self._password:
            return text
        secrets = [
            self._password,
            base64.b64encode(self._password.encode()).decode(),
            base64.b64encode(f"\0{self.user}\0{self._password}".encode()).decode(),
        ]
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text
