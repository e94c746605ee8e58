"""Outgoing e-mail over SMTP (smtplib), plus plain-text templates for it.

* :func:`build_intro` builds a two-party intro message (``To`` one person, ``Cc`` another) with
  ``email.policy.SMTP``.  Every header value that may have come from outside (names, subjects)
  goes through :func:`safe_header`, and addresses are checked by :func:`check_address` and built
  with :class:`email.headerregistry.Address`, so a value such as ``"Eve\\r\\nBcc: x@evil.com"``
  can never add a header.  The ``Message-ID`` is derived from a caller-given key, so the same
  message always carries the same id.
* :class:`SmtpSender` delivers a message, one connection per send (STARTTLS and login as
  configured), and :meth:`SmtpSender.verify` checks the settings for ``partnerops check``
  (connect, EHLO, STARTTLS, login, QUIT; nothing sent).  Every failure surfaces as one
  :class:`SmtpError` (a :class:`~integrations.errors.ServiceError`) with a fix in plain words;
  the password never appears in it.
* :func:`split_subject` splits a rendered message's ``Subject: …`` first line from its body.

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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import format_datetime, getaddresses
from typing import ClassVar

from integrations.errors import ServiceError
from integrations.http import scrub

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


NO_ANSWER = "NO_ANSWER"  # no reply: refused, unreachable, timed out, connection closed
NO_STARTTLS = "NO_STARTTLS"  # STARTTLS required by the settings but not offered
TLS_UNTRUSTED = "TLS_UNTRUSTED"  # the server's certificate did not verify
NOT_SUPPORTED = "NOT_SUPPORTED"  # e.g. login configured but the server offers no AUTH we can use


class SmtpError(ServiceError):
    """Sending (or checking the settings) failed.

    ``code`` is the SMTP reply code as text (``"550"``; ``status`` the same number), or, without
    a reply, one of :data:`NO_ANSWER`, :data:`NO_STARTTLS`, :data:`TLS_UNTRUSTED`,
    :data:`NOT_SUPPORTED` (``status`` 0). ``stage`` is the step that failed (connect, ehlo,
    starttls, login, mail, rcpt, data); ``refused`` the recipients the server refused, with
    their replies. ``outcome_unknown`` is True when the answer to the message itself was lost
    (the server may have stored it). ``retryable``: a 4xx reply or no answer may pass later; a
    5xx reply, a missing STARTTLS, an untrusted certificate or an unsupported login will not.
    """

    service: ClassVar[str] = "SMTP"
    permanent_codes: ClassVar[frozenset[str]] = frozenset({NO_STARTTLS, TLS_UNTRUSTED, NOT_SUPPORTED})

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        stage: str,
        url: str = "",
        outcome_unknown: bool = False,
        hint: str = "",
        refused: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        self.stage = stage
        self.refused = dict(refused or {})
        super().__init__(status, code, message, url=url, outcome_unknown=outcome_unknown, hint=hint)

    def describe(self) -> str:
        text = f"{self.service} {self.url} {self.stage} failed: {self.message}"
        if self.hint:
            text += f" - {self.hint}"
        if self.outcome_unknown:
            text += " (the message may have been delivered)"
        return text

    @property
    def retryable(self) -> bool:
        if self.code in self.permanent_codes:
            return False
        if self.code.isdigit():
            return self.code.startswith("4")
        return True  # no answer


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
    now: datetime,
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
    msg["Date"] = format_datetime(now)  # the run's clock: the caller's ``now``, never the wall clock
    msg["Message-ID"] = message_id(message_id_key, domain)
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    plain = text.isascii() and all(len(line) <= 78 for line in text.splitlines())
    msg.set_content(text, cte="7bit" if plain else "quoted-printable")
    return msg


# --------------------------------------------------------------------------- templates


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
    """QUIT when the work is done (its answer no longer matters), then close the socket."""
    if polite:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
    smtp.close()


@dataclass
class _Progress:
    """How far one connection got: the step under way, and whether all its work is done."""

    stage: str = "connect"
    finished: bool = False


def _classify(exc: OSError) -> tuple[str, str]:
    """(code, detail) of a failure that smtplib or the socket raised."""
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return NOT_SUPPORTED, f"not supported by the server: {exc}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return NO_ANSWER, "the server closed the connection"
    if isinstance(exc, smtplib.SMTPResponseException):
        return str(exc.smtp_code), f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPException):  # e.g. no AUTH mechanism in common
        return NOT_SUPPORTED, f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TLS_UNTRUSTED, f"TLS certificate not trusted: {exc.verify_message}"
    return NO_ANSWER, f"no answer: {type(exc).__name__}"  # refused, reset, time-out, DNS, TLS


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

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def verify(self) -> str:
        """For ``partnerops check``: connect, EHLO, STARTTLS and login as configured, then QUIT.

        Sends nothing. Returns what was checked, in plain words; raises :class:`SmtpError`
        whose hint says which setting to fix.
        """
        progress = _Progress()
        with self._session(progress):
            progress.finished = True
        tls = "STARTTLS" if self.starttls else "no STARTTLS (SMTP_STARTTLS=false)"
        login = f"logged in as {self.user}" if self.user else "no login (SMTP_USER is empty)"
        return f"{self.where} answers: {tls}, {login}"

    def send(self, msg: Message) -> dict[str, tuple[int, str]]:
        """Deliver ``msg`` to its To/Cc/Bcc recipients (Bcc is not transmitted as a header).

        Returns the recipients the server refused while accepting the others (empty = all
        accepted; the message WAS sent).  Raises ValueError for a bad address before connecting,
        and :class:`SmtpError` when nothing was accepted or the outcome is unknown.
        """
        sender, recipients = _envelope(msg)
        data = _flatten(msg)
        progress = _Progress()
        with self._session(progress) as smtp:
            refused = self._transmit(smtp, progress, sender, recipients, data)
            progress.finished = True
        if refused:
            log.warning("SMTP %s accepted the message but refused %s", self.where, sorted(refused))
        return refused

    @contextlib.contextmanager
    def _session(self, progress: _Progress) -> Iterator[smtplib.SMTP]:
        """A connection that said EHLO, started TLS and logged in as configured; every failure
        inside becomes an :class:`SmtpError` of the stage under way."""
        smtp: smtplib.SMTP | None = None
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname)
            self._greet(smtp, progress)
            yield smtp
        except SmtpError:
            raise
        except OSError as exc:  # smtplib's errors, ssl's and the socket's
            code, detail = _classify(exc)
            raise self._error(code, detail, stage=progress.stage) from None
        finally:
            if smtp is not None:
                _close(smtp, polite=progress.finished)

    def _greet(self, smtp: smtplib.SMTP, progress: _Progress) -> None:
        progress.stage = "ehlo"
        smtp.ehlo_or_helo_if_needed()
        if self.starttls:
            progress.stage = "starttls"
            if not smtp.has_extn("starttls"):
                raise self._error(NO_STARTTLS, "the server does not offer STARTTLS", stage=progress.stage)
            smtp.starttls(context=self._ssl_context or ssl.create_default_context())
            smtp.ehlo()
        if self.user:
            progress.stage = "login"
            smtp.login(self.user, self._password)

    def _transmit(
        self, smtp: smtplib.SMTP, progress: _Progress, sender: str, recipients: list[str], data: bytes
    ) -> dict[str, tuple[int, str]]:
        progress.stage = "mail"
        code, reply = smtp.mail(sender)
        if code != 250:
            raise self._error(str(code), f"sender refused: {code} {_reply_text(reply)}", stage="mail")
        progress.stage = "rcpt"
        refused = self._recipients(smtp, recipients)
        progress.stage = "data"
        code, reply = smtp.data(data)  # no answer from here on: the server may have stored it
        if code != 250:  # a definite answer: the message was not accepted
            raise self._error(str(code), f"message refused: {code} {_reply_text(reply)}", stage="data")
        return refused

    def _recipients(self, smtp: smtplib.SMTP, recipients: list[str]) -> dict[str, tuple[int, str]]:
        """RCPT TO each; the refused ones with their replies. All refused: SmtpError with the
        mildest reply as its code (one 4xx among 5xx may still pass later)."""
        refused: dict[str, tuple[int, str]] = {}
        for rcpt in recipients:
            code, reply = smtp.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = (code, _reply_text(reply))
        if len(refused) < len(recipients):
            return refused
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.rset()
        detail = "; ".join(f"{a}: {c} {r}" for a, (c, r) in refused.items())
        mildest = min(c for c, _ in refused.values())
        raise self._error(str(mildest), f"all recipients refused: {detail}", stage="rcpt", refused=refused)

    def _error(
        self, code: str, detail: str, *, stage: str, refused: dict[str, tuple[int, str]] | None = None
    ) -> SmtpError:
        return SmtpError(
            int(code) if code.isdigit() else 0,
            code,
            self._scrub(detail),
            stage=stage,
            url=self.where,
            outcome_unknown=stage == "data" and code == NO_ANSWER,
            hint=self._hint(stage, code),
            refused=refused,
        )

    def _hint(self, stage: str, code: str) -> str:
        """Which setting to check, in plain words."""
        if code == NO_ANSWER and stage in ("connect", "ehlo"):
            return f"no SMTP server answers at {self.where}: check SMTP_HOST and SMTP_PORT"
        if code == NO_STARTTLS:
            return (
                f"{self.where} does not offer TLS: check SMTP_PORT (the submission port 587 offers STARTTLS), "
                "or set SMTP_STARTTLS=false only for a trusted local relay"
            )
        if code == TLS_UNTRUSTED:
            return "check that SMTP_HOST is the name on the server's certificate"
        if stage == "login" and code == NOT_SUPPORTED:
            return "the server offers no login here: leave SMTP_USER empty, or keep SMTP_STARTTLS=true"
        if stage == "login" and code.startswith("5"):
            return "the server refused the login: check SMTP_USER and SMTP_PASSWORD"
        if stage == "mail" and code.startswith("5"):
            return "check that EMAIL_FROM is an address this account may send from"
        return ""

    def _scrub(self, text: str) -> str:
        """Remove the password (and the AUTH encodings carrying it) from a message."""
        if not self._password:
            return text
        return scrub(
            text,
            [
                self._password,
                base64.b64encode(self._password.encode()).decode(),
                base64.b64encode(f"\0{self.user}\0{self._password}".encode()).decode(),
            ],
        )
