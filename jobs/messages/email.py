"""The intro e-mail: rendered from ``intro_email.txt.j2`` (its first line is the Subject) and
built as a message to the partner with the referred contact in Cc, from the partner's Owner:
their name as the From display name (the address stays EMAIL_FROM, which the mail server lets
the program send as; "The partner team" when only their e-mail is known) and their e-mail as
Reply-To when known, so answers reach a person.

Headers are cleaned (no line breaks, no control characters) and addresses checked where the
message is built (:func:`integrations.smtp.build_intro`), so outside text cannot add a header;
names are cut to :data:`NAME_MAX` characters and the notes to :data:`NOTES_MAX`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy

from integrations.slack_format import truncate
from integrations.smtp import build_intro, make_address, safe_header, split_subject
from jobs.messages.render import render_plain
from jobs.messages.words import first_name

OUTBOX_SENDER = "partners@outbox.invalid"
NAME_MAX = 100
NOTES_MAX = 4_000


@dataclass(frozen=True)
class Intro:
    key: str  # the referral's id: the Message-ID is derived from it, the same on every try
    partner_name: str
    partner_email: str
    partner_company: str
    contact_name: str
    contact_email: str
    company: str
    notes: str
    owner_name: str  # who signs it (the Owner's Slack name, else their e-mail); "" → the partner team
    owner_email: str  # replies go there when known


def _name(value: str) -> str:
    """One header-safe line of at most NAME_MAX characters."""
    return truncate(safe_header(value), NAME_MAX)


def _display_name(signer: str) -> str:
    """The From display name: the Owner's name; never an address (a display name that looks like
    another address than the sender's is what spoofed mail does, and filters say so)."""
    return signer if signer and "@" not in signer else "The partner team"


def intro_eml(intro: Intro, sender: str, now: datetime) -> str:
    """The whole message as text (RFC 5322); ValueError when an address or the subject is unusable."""
    sender = sender or OUTBOX_SENDER
    signer = _name(intro.owner_name)
    partner, contact = _name(intro.partner_name), _name(intro.contact_name)
    text = render_plain(
        "intro_email",
        partner_name=partner or intro.partner_email,
        partner_first_name=first_name(partner),
        partner_company=_name(intro.partner_company),
        contact_name=contact or intro.contact_email,
        contact_first_name=first_name(contact),
        company=_name(intro.company),
        notes=truncate(intro.notes.strip(), NOTES_MAX),
        owner_name=signer,
    )
    subject, body = split_subject(text)
    msg = build_intro(
        sender=sender,
        sender_name=_display_name(signer),
        to_name=partner,
        to_email=intro.partner_email,
        cc_name=contact,
        cc_email=intro.contact_email,
        subject=subject,
        body=body,
        message_id_key=f"intro:{intro.key}",
        domain=sender.split("@", 1)[1],
        now=now,
    )
    if intro.owner_email:
        try:
            reply_to = make_address(signer if "@" not in signer else "", intro.owner_email)
        except ValueError:
            pass  # an Owner address the mail server would refuse: replies go to the sender
        else:
            del msg["Reply-To"]
            msg["Reply-To"] = reply_to
    return msg.as_string(policy=policy.SMTP)
