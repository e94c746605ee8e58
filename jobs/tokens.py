"""Tokens by their shape: a value that looks like one is never printed back, whatever variable
it was put in (a token pasted into AIRTABLE_API_URL or SLACK_MANAGER_CHANNEL stays hidden)."""

from __future__ import annotations

import re

from integrations.http import scrub

# The shapes of the tokens this program is given, and where each belongs: a value of one of these
# shapes is never printed back, whichever variable it was put in.
TOKEN_SHAPES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"(?<![A-Za-z0-9])xox[a-z]-[A-Za-z0-9-]{4,}"), "a Slack token", "SLACK_BOT_TOKEN"),
    (re.compile(r"(?<![A-Za-z0-9])pat-[a-z]{2,4}\d+-[A-Za-z0-9-]{4,}"), "a HubSpot token", "HUBSPOT_TOKEN"),
    # pat, then mixed-case letters and digits (an upper-case letter or a digit first), maybe a dot and more
    (
        re.compile(r"(?<![A-Za-z0-9])pat[A-Z0-9][A-Za-z0-9]{2,}(?:\.[A-Za-z0-9_-]+)?"),
        "an Airtable token",
        "AIRTABLE_TOKEN",
    ),
    (re.compile(r"(?<![A-Za-z0-9])key[A-Za-z0-9]{14}(?![A-Za-z0-9])"), "an Airtable API key", "AIRTABLE_TOKEN"),
)
HIDDEN = "***"


def token_shape(value: str) -> tuple[str, str] | None:
    """(what it looks like, the variable it belongs in) when ``value`` holds a token; else None."""
    for pattern, what, home in TOKEN_SHAPES:
        if pattern.search(value):
            return what, home
    return None


def hide_secrets(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value and every token-shaped word replaced by ***."""
    text = scrub(text, secrets)
    for pattern, _what, _home in TOKEN_SHAPES:
        text = pattern.sub(HIDDEN, text)
    return text
