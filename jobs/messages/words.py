"""Small pieces of the words partners read: dates as people write them, money with its
currency, who signs, what a referral is called, the referral form as a link.

Pure helpers for the rules that build messages; the sentences themselves live in the templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from jobs.messages.render import Trusted

# A link the program builds into a Slack message: http(s), no space and nothing Slack reads as
# the end of the link or of its label.
_LINK_RE = re.compile(r"https?://[^\s<>|]+", re.IGNORECASE)


def day_words(day: date | None, today: date | None = None) -> str:
    """ "March 1, 2026" — or "March 1" when ``today`` is given and in the same year; "" for None."""
    if day is None:
        return ""
    if today is not None and day.year == today.year:
        return f"{day:%B} {day.day}"
    return f"{day:%B} {day.day}, {day.year}"


def month_words(day: date | None, today: date) -> str:
    """ "March", or "March 2025" when it is not this year's — how people say it; "" for None."""
    if day is None:
        return ""
    return f"{day:%B}" if day.year == today.year else f"{day:%B} {day.year}"


def money(amount: float, currency: str | None) -> str:
    """ "12,500 EUR" — the amount as people write it, with its currency code when known."""
    text = f"{amount:,.2f}".removesuffix(".00")
    return f"{text} {currency}" if currency else text


def first_name(full_name: str) -> str:
    """The first word of a name ("" when there is none: the template says "there")."""
    words = full_name.split()
    return words[0] if words else ""


def owner_key(email: str | None) -> str:
    """How an Owner's e-mail is compared (the read step looks names up under this key)."""
    return (email or "").strip().lower()


def signer(owner: str | None, names: Mapping[str, str]) -> str:
    """Who signs a partner's message: the Owner's Slack name, else the Owner's e-mail, else ""
    (the templates then sign with "the partner team")."""
    key = owner_key(owner)
    if not key:
        return ""
    return names.get(key) or (owner or "").strip()


def referral_words(company: str, contact: str, title: str) -> str:
    """What a partner calls the referral they sent: "Acme (Jo Buyer)", "Acme", "Jo Buyer", or its title."""
    company, contact = company.strip(), contact.strip()
    if company and contact:
        return f"{company} ({contact})"
    return company or contact or title.strip()


def slack_link(url: str, label: str) -> Trusted:
    """``<url|label>`` for a link from the program's own settings; "" when the URL is not a plain
    http(s) address (a link Slack would misread is left out rather than sent broken)."""
    url = url.strip()
    if not _LINK_RE.fullmatch(url) or any(c in label for c in "<>|&*_~`"):
        return Trusted("")
    return Trusted(f"<{url}|{label}>")
