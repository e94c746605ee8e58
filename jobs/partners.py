"""Finding a partner and their Slack user: shared by the jobs that message partners."""

from __future__ import annotations

from typing import Any

from bases.records import Record, normalize_email

OUTBOX_USER = "(outbox)"  # without a Slack token every partner "is" in Slack: messages go to the outbox


def partner_by_email(store: Any, email: str) -> Record | None:
    wanted = normalize_email(email)
    return next(
        (p for p in store.all("partners", "Partners") if normalize_email(str(p.get("Email", ""))) == wanted), None
    )


def slack_user(slack: Any, partner: Record) -> str | None:
    """The cached Slack User ID, else a lookup by e-mail; None when the partner is not in Slack."""
    cached = partner.get("Slack User ID")
    if cached:
        return str(cached)
    if slack is None:
        return OUTBOX_USER
    found: str | None = slack.lookup_user_by_email(str(partner.get("Email", "")))
    return found
