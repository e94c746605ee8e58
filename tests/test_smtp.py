"""integrations/smtp.py against a real local SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from jinja2 import UndefinedError

from integrations import smtp
from integrations.smtp import (
    SmtpError,
    SmtpSender,
    build_intro,
    check_address,
    safe_header,
    split_subject,
)
from jobs.messages.render import render_plain
from tests.fakes.smtp import PASSWORD, USER, Recorder, authenticator, free_port, serve

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(recorder: Recorder) -> Iterator[Controller]:
    yield from serve(recorder)


@pytest.fixture
def auth_server(recorder: Recorder) -> Iterator[Controller]:
    yield from serve(recorder, auth_require_tls=False, authenticator=authenticator)


def sender_for(controller: Controller, **kwargs: Any) -> SmtpSender:
    options: dict[str, Any] = {"starttls": False, "timeout": 2, "local_hostname": "localhost"}
    options.update(kwargs)
    return SmtpSender(controller.hostname, controller.port, **options)


def intro(**overrides: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "sender": "partners@example.com",
        "sender_name": "Partner Team",
        "to_name": "Ana Partner",
        "to_email": "ana@partner.example",
        "cc_name": "Bob Lead",
        "cc_email": "bob@lead.example",
        "subject": "Introduction: Bob Lead (Acme)",
        "body": "Hi Ana,\n\nMeet Bob.\n",
        "message_id_key": "intro:recA1",
        "domain": "example.com",
        "now": NOW,
    }
    values.update(overrides)
    return build_intro(**values)


# --------------------------------------------------------------------------- delivery


def test_intro_is_delivered_to_partner_and_contact_with_headers(server: Controller, recorder: Recorder) -> None:
    refused = sender_for(server).send(intro())

    assert refused == {}
    [env] = recorder.received
    assert env.mail_from == "partners@example.com"
    assert env.rcpt_tos == ["ana@partner.example", "bob@lead.example"]
    got = email.message_from_bytes(env.content)
    assert got["From"] == "Partner Team <partners@example.com>"
    assert got["Reply-To"] == "Partner Team <partners@example.com>"
    assert got["To"] == "Ana Partner <ana@partner.example>"
    assert got["Cc"] == "Bob Lead <bob@lead.example>"
    assert got["Subject"] == "Introduction: Bob Lead (Acme)"
    assert got["Date"] == "Mon, 02 Nov 2026 09:00:00 +0000"
    assert got.get_content_type() == "text/plain"
    assert got.get_payload(decode=True) == b"Hi Ana,\r\n\r\nMeet Bob.\r\n"


def test_message_id_is_deterministic() -> None:
    first = intro()["Message-ID"]
    again = intro(subject="other", now=datetime(2030, 1, 1, tzinfo=timezone.utc))["Message-ID"]
    other = intro(message_id_key="intro:recB2")["Message-ID"]
    assert first == again != other
    assert first.startswith("<") and first.endswith("@example.com>")
    assert len(first.split("@")[0]) == 1 + 24


def test_non_ascii_names_and_body_survive(server: Controller, recorder: Recorder) -> None:
    sender_for(server).send(intro(to_name="Zoë Müller", subject="Intro: Ünicode GmbH", body="Grüße, Zoë\n" + "x" * 200))
    got = email.message_from_bytes(recorder.received[0].content, policy=email.policy.default)
    assert str(got["To"]) == "Zoë Müller <ana@partner.example>"
    assert str(got["Subject"]) == "Intro: Ünicode GmbH"
    assert got.get_content().replace("\r\n", "\n") == "Grüße, Zoë\n" + "x" * 200 + "\n"
    assert recorder.received[0].content.isascii()


def test_some_recipients_refused_returns_them_but_delivers(server: Controller, recorder: Recorder) -> None:
    recorder.refuse["bob@lead.example"] = "550 5.1.1 no such user"
    refused = sender_for(server).send(intro())
    assert refused == {"bob@lead.example": (550, "5.1.1 no such user")}
    assert recorder.received[0].rcpt_tos == ["ana@partner.example"]


# --------------------------------------------------------------------------- header injection


INJECTIONS = [
    "Eve\r\nBcc: x@evil.com",
    "Eve\nBcc: x@evil.com",
    "Eve\rBcc: x@evil.com",
    "Eve\u2028Bcc: x@evil.com",
    "Eve\x85Bcc: x@evil.com",
    "Eve\r\n\r\nfake body",
]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_header_injection_in_names_and_subject_adds_no_header(
    evil: str, server: Controller, recorder: Recorder
) -> None:
    sender_for(server).send(intro(to_name=evil, cc_name=evil, sender_name=evil, subject=evil))

    [env] = recorder.received
    assert env.rcpt_tos == ["ana@partner.example", "bob@lead.example"]
    got = email.message_from_bytes(env.content)
    assert got["Bcc"] is None
    assert sorted(got.keys()) == sorted(
        [
            "From",
            "Reply-To",
            "To",
            "Cc",
            "Subject",
            "Date",
            "Message-ID",
            "Content-Type",
            "Content-Transfer-Encoding",
            "MIME-Version",
        ]
    )
    assert got.get_payload(decode=True) == b"Hi Ana,\r\n\r\nMeet Bob.\r\n"
    assert "\n" not in got["Subject"] and "\r" not in got["Subject"]


def test_safe_header() -> None:
    assert safe_header("  Eve\r\nBcc:\tx@evil.com  ") == "Eve Bcc: x@evil.com"
    assert safe_header("A\x00B\x1bC") == "A B C"  # control characters become spaces
    assert safe_header("C\u202eD\u200bE") == "CDE"  # format characters (bidi override, zero width) go
    assert safe_header("Zoë  Müller") == "Zoë Müller"
    assert safe_header("\r\n") == ""


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "plain",
        "a@@b.com",
        "a@b@c.com",
        "a b@c.com",
        "a@c.com\r\nBcc: x@evil.com",
        "<a@c.com>",
        "Eve <a@c.com>",
        "a@localhost",
        ".a@c.com",
        "a..b@c.com",
        "a@-c.com",
        "zoë@c.com",
        "a@c.com, b@d.com",
    ],
)
def test_invalid_address_raises_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        check_address(bad)
    with pytest.raises(ValueError):
        intro(cc_email=bad)


def test_valid_addresses() -> None:
    for good in ["a@b.co", "first.last+tag@sub.example.org", "o'neil@x-y.com", " a@b.co ", "a@b.co\r\n"]:
        assert check_address(good) == good.strip()


def test_invalid_address_raises_before_any_connection() -> None:
    msg = EmailMessage()
    msg["From"] = "partners@example.com"
    msg["To"] = "not an address"
    msg.set_content("hi")
    sender = SmtpSender("127.0.0.1", free_port(), starttls=False, timeout=1)  # nothing listens there
    with pytest.raises(ValueError):
        sender.send(msg)


def test_bad_domain_for_message_id() -> None:
    with pytest.raises(ValueError):
        intro(domain="example.com>\r\nBcc: x@evil.com")


# --------------------------------------------------------------------------- failures


def test_recipients_all_refused_550_is_permanent(server: Controller, recorder: Recorder) -> None:
    recorder.refuse["ana@partner.example"] = "550 5.1.1 no such user"
    recorder.refuse["bob@lead.example"] = "550 5.1.1 no such user"
    with pytest.raises(SmtpError) as info:
        sender_for(server).send(intro())
    assert info.value.retryable is False
    assert info.value.code == "550"
    assert info.value.stage == "rcpt"
    assert set(info.value.refused) == {"ana@partner.example", "bob@lead.example"}
    assert recorder.received == []


def test_recipients_refused_with_4xx_is_temporary(server: Controller, recorder: Recorder) -> None:
    recorder.refuse["ana@partner.example"] = "450 4.2.1 mailbox busy"
    recorder.refuse["bob@lead.example"] = "550 5.1.1 no such user"
    with pytest.raises(SmtpError) as info:
        sender_for(server).send(intro())
    assert info.value.retryable is True


@pytest.mark.parametrize(("reply", "permanent"), [("554 5.7.1 rejected as spam", True), ("451 4.3.0 try later", False)])
def test_data_rejected(reply: str, permanent: bool, server: Controller, recorder: Recorder) -> None:
    recorder.data_reply = reply
    with pytest.raises(SmtpError) as info:
        sender_for(server).send(intro())
    assert info.value.retryable is not permanent
    assert info.value.code == reply[:3] and info.value.status == int(reply[:3])
    assert info.value.outcome_unknown is False


def test_connection_lost_during_data_is_unknown_outcome(server: Controller, recorder: Recorder) -> None:
    recorder.drop_on_data = True
    with pytest.raises(SmtpError) as info:
        sender_for(server).send(intro())
    assert info.value.retryable is True
    assert info.value.outcome_unknown is True
    assert info.value.stage == "data"


def test_timeout_at_the_end_of_data_is_unknown_outcome(server: Controller, recorder: Recorder) -> None:
    """The server stored the message but answered too late: it may or may not be delivered."""
    recorder.data_delay = 1.5
    with pytest.raises(SmtpError) as info:
        sender_for(server, timeout=0.5).send(intro())
    assert info.value.outcome_unknown is True
    assert (info.value.stage, info.value.code) == ("data", smtp.NO_ANSWER)
    assert "may have been delivered" in str(info.value)
    assert len(recorder.received) == 1  # it was stored after all


def test_one_refused_recipient_while_another_was_accepted_is_visible(server: Controller, recorder: Recorder) -> None:
    recorder.refuse["bob@lead.example"] = "550 5.1.1 no such user"
    refused = sender_for(server).send(intro())
    assert refused == {"bob@lead.example": (550, "5.1.1 no such user")}  # sent, and the caller sees who missed it
    assert len(recorder.received) == 1


def test_connection_refused_is_temporary_and_hides_password() -> None:
    sender = SmtpSender("127.0.0.1", free_port(), user=USER, password=PASSWORD, starttls=False, timeout=2)
    with pytest.raises(SmtpError) as info:
        sender.send(intro())
    assert info.value.retryable is True
    assert (info.value.code, info.value.status) == (smtp.NO_ANSWER, 0)
    assert info.value.stage == "connect"
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in repr(sender)


def test_silent_server_times_out_as_temporary() -> None:
    with socket.socket() as listener:  # accepts TCP (backlog) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        sender = SmtpSender("127.0.0.1", listener.getsockname()[1], starttls=False, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(SmtpError) as info:
            sender.send(intro())
    assert info.value.retryable is True
    assert time.monotonic() - started < 2


def test_starttls_required_but_not_offered(server: Controller, recorder: Recorder) -> None:
    with pytest.raises(SmtpError) as info:
        sender_for(server, starttls=True).send(intro())
    assert info.value.stage == "starttls"
    assert info.value.retryable is False
    assert "STARTTLS" in str(info.value)
    assert recorder.received == []


# --------------------------------------------------------------------------- login


def test_login_then_send(auth_server: Controller, recorder: Recorder) -> None:
    sender_for(auth_server, user=USER, password=PASSWORD).send(intro())
    assert len(recorder.received) == 1


def test_wrong_password_is_permanent_and_not_in_message(auth_server: Controller, recorder: Recorder) -> None:
    with pytest.raises(SmtpError) as info:
        sender_for(auth_server, user=USER, password=PASSWORD + "x").send(intro())
    assert info.value.stage == "login"
    assert info.value.code == "535"
    assert info.value.retryable is False
    assert PASSWORD not in str(info.value)
    assert recorder.received == []


def test_login_against_server_without_auth_is_an_email_error(server: Controller) -> None:
    with pytest.raises(SmtpError) as info:
        sender_for(server, user=USER, password=PASSWORD).send(intro())
    assert info.value.stage == "login"
    assert PASSWORD not in str(info.value)


# --------------------------------------------------------------------------- verify (partnerops check)


def test_verify_connects_and_quits_sending_nothing(server: Controller, recorder: Recorder) -> None:
    said = sender_for(server).verify()
    assert said.startswith(f"{server.hostname}:{server.port} answers")
    assert "no login" in said
    assert recorder.commands == ["QUIT"]  # no MAIL, no RCPT, no DATA
    assert recorder.received == []


def test_verify_logs_in(auth_server: Controller, recorder: Recorder) -> None:
    said = sender_for(auth_server, user=USER, password=PASSWORD).verify()
    assert f"logged in as {USER}" in said and PASSWORD not in said
    assert recorder.commands == ["QUIT"]


def test_verify_login_refused_says_which_settings(auth_server: Controller, recorder: Recorder) -> None:
    sender = sender_for(auth_server, user=USER, password=PASSWORD + "x")
    with pytest.raises(SmtpError) as info:
        sender.verify()
    assert (info.value.stage, info.value.code, info.value.retryable) == ("login", "535", False)
    assert "check SMTP_USER and SMTP_PASSWORD" in str(info.value)
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(sender) and PASSWORD not in repr(info.value)


def test_verify_unreachable_host_names_host_and_port() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(SmtpError) as info:
        SmtpSender("127.0.0.1", port, starttls=False, timeout=1).verify()
    text = str(info.value)
    assert (info.value.stage, info.value.code, info.value.retryable) == ("connect", smtp.NO_ANSWER, True)
    assert f"127.0.0.1:{port}" in text and "check SMTP_HOST and SMTP_PORT" in text


def test_verify_tls_not_offered(server: Controller, recorder: Recorder) -> None:
    with pytest.raises(SmtpError) as info:
        sender_for(server, starttls=True).verify()
    assert (info.value.stage, info.value.code, info.value.retryable) == ("starttls", smtp.NO_STARTTLS, False)
    assert "does not offer TLS" in str(info.value) and "SMTP_PORT" in str(info.value)


def test_verify_login_not_offered(server: Controller) -> None:
    with pytest.raises(SmtpError) as info:
        sender_for(server, user=USER, password=PASSWORD).verify()
    assert (info.value.stage, info.value.code) == ("login", smtp.NOT_SUPPORTED)
    assert "SMTP_USER" in str(info.value) and PASSWORD not in str(info.value)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(recorder: Recorder, certificate: tuple[Path, Path]) -> Iterator[Controller]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    yield from serve(recorder, tls_context=context, require_starttls=True, authenticator=authenticator)


def test_verify_starttls_then_login_then_send(
    tls_server: Controller, recorder: Recorder, certificate: tuple[Path, Path]
) -> None:
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    sender = sender_for(tls_server, starttls=True, user=USER, password=PASSWORD, ssl_context=trusting)
    assert "STARTTLS, logged in as mailer" in sender.verify()
    assert recorder.commands == ["QUIT"]
    assert sender.send(intro()) == {}
    assert len(recorder.received) == 1


def test_verify_untrusted_certificate(tls_server: Controller, recorder: Recorder) -> None:
    with pytest.raises(SmtpError) as info:
        sender_for(tls_server, starttls=True, user=USER, password=PASSWORD).verify()
    assert (info.value.stage, info.value.code, info.value.retryable) == ("starttls", smtp.TLS_UNTRUSTED, False)
    assert "SMTP_HOST" in str(info.value)


# --------------------------------------------------------------------------- templates


def render_intro(**overrides: str) -> tuple[str, str]:
    context = {
        "partner_name": "Ana Agency",
        "partner_first_name": "Ana",
        "partner_company": "Agency Co",
        "contact_name": "Bob Lead",
        "contact_first_name": "Bob",
        "company": "Acme <b>&</b> Co",
        "notes": "Wants a HubSpot migration in Q3.",
        "owner_name": "Olga Owner",
    }
    context.update(overrides)
    return split_subject(render_plain("intro_email", **context))


def test_intro_template_renders_plain_text() -> None:
    subject, body = render_intro()
    assert subject == "Introduction: Bob Lead (Acme <b>&</b> Co) and Ana Agency (Agency Co)"  # plain text
    assert body.startswith("Hi Bob and Ana,\n")
    assert "Bob, meet Ana Agency of Agency Co" in body and "Ana, meet Bob Lead of Acme <b>&</b> Co (in Cc)" in body
    assert "Wants a HubSpot migration in Q3." in body
    assert "reply-all" in body
    assert body.rstrip().endswith("Olga Owner")
    assert "&amp;" not in body and "&lt;" not in body


def test_intro_template_without_company_or_notes() -> None:
    subject, body = render_intro(company="", notes="", partner_company="")
    assert subject == "Introduction: Bob Lead and Ana Agency"
    assert "Why" not in body
    assert "\n\n\n" not in body


def test_template_missing_variable_fails() -> None:
    with pytest.raises(UndefinedError):
        render_plain("intro_email", partner_first_name="Ana")


def test_template_newline_in_subject_value_cannot_forge_headers(server: Controller, recorder: Recorder) -> None:
    subject, body = render_intro(contact_name="Bob\r\nBcc: x@evil.com")
    sender_for(server).send(intro(subject=subject, body=body))
    got = email.message_from_bytes(recorder.received[0].content)
    assert got["Bcc"] is None
    assert recorder.received[0].rcpt_tos == ["ana@partner.example", "bob@lead.example"]


def test_split_subject() -> None:
    assert split_subject("Subject: Hi\r\n\nBody\n") == ("Hi", "Body\n")
    assert split_subject("subject:  A \t B\nx") == ("A B", "x\n")
    for bad in ["Hi\n\nBody", "Subject:\nBody", "Subj: x\n"]:
        with pytest.raises(ValueError):
            split_subject(bad)
