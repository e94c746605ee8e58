"""The intro e-mail: rendered from ``intro_email.txt.j2`` (its first line is the Subject) and
built as a message with the referred contact in Cc, signed by the partner's Owner.

Headers are cleaned (no line breaks, no control characters) and addresses checked where the
message is built (:func:`integrations.email.build_intro`), so Airtable text cannot add a header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy

from integrations.smtp import build_intro, make_address, safe_header, split_subject
from jobs.messages.render import first_name, render_plain

OUTBOX_SENDER = "partners@outbox.invalid"


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
    owner_name: str  # who signs it (the partner's Owner); "" → the partner team
    owner_email: str  # replies go there when known


def intro_eml(intro: Intro, sender: str, now: datetime) -> str:
    """The whole message as text (RFC 5322); ValueError when an address or the subject is unusable."""
    sender = sender or OUTBOX_SENDER
    signer = intro.owner_name or "The partner team"
    text = render_plain(
        "intro_email",
        partner_name=safe_header(intro.partner_name),
        partner_first_name=first_name(safe_header(intro.partner_name)),
        partner_company=safe_header(intro.partner_company),
        contact_name=safe_header(intro.contact_name) or intro.contact_email,
        contact_first_name=first_name(safe_header(intro.contact_name)),
        company=safe_header(intro.company),
        notes=intro.notes,
        owner_name=safe_header(signer),
    )
    subject, body = split_subject(text)
    msg = build_intro(
        sender=sender,
        sender_name=signer,
        to_name=intro.partner_name,
        to_email=intro.partner_email,
        cc_name=intro.contact_name,
        cc_email=intro.contact_email,
        subject=subject,
        body=body,
        message_id_key=f"intro:{intro.key}",
        domain=sender.split("@", 1)[1],
        now=now,
    )
    if intro.owner_email:
        try:
            reply_to = make_address(signer, intro.owner_email)
        except ValueError:
            pass  # an Owner address the mail server would refuse: replies go to the sender
        else:
            del msg["Reply-To"]
            msg["Reply-To"] = reply_to
    return msg.as_string(policy=policy.SMTP)
