"""Messages partners and managers receive, rendered from the jinja2 templates in
``jobs/messages/templates/`` (the team edits them freely; :mod:`jobs.messages.partner` lists
what each one is given).

Slack templates escape every value printed into them, because it may come from Airtable, Slack
or the CRM: a plain ``str`` is an inline value (a name: one line, no formatting, no mentions, at
most :data:`INLINE_MAX` characters); a :class:`Multiline` keeps its line breaks (notes, perks; at
most :data:`BLOCK_MAX`); only :class:`Trusted` values (ids and links the program builds from its
own settings) are printed as they are. So a message built from the longest values still fits in
one Slack section with room for its signature, and :func:`render` cuts whatever a template edit
makes longer. E-mail templates print plain text; their headers are cleaned where the message is
built.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from integrations.slack_format import SECTION_TEXT_MAX, escape_block, escape_inline, truncate

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: Characters an inline value may take in a Slack message once escaped (a name, a company).
INLINE_MAX = 100
#: Characters a multi-line value may take (notes, perks).
BLOCK_MAX = 1_200
#: Characters a Slack message may take: one Block Kit section (the fallback text allows more).
MESSAGE_MAX = SECTION_TEXT_MAX

_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


class Trusted(str):
    """Text from the program's own settings, printed as is."""


class Multiline(str):
    """Text from outside that keeps its line breaks (notes, perks)."""


def _finalize(value: object) -> object:
    if isinstance(value, Trusted) or not isinstance(value, str):
        return value
    if isinstance(value, Multiline):
        return truncate(escape_block(value), BLOCK_MAX)
    return truncate(escape_inline(value), INLINE_MAX)


def counted(n: int, noun: str) -> str:
    """ "no referrals", "one referral", "two referrals", "12 referrals"."""
    word = _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)
    return f"{word} {noun}" if n == 1 else f"{word} {noun}s"


def _environment(finalize: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["counted"] = counted
    if finalize:
        env.finalize = _finalize
    return env


_SLACK = _environment(finalize=True)
_PLAIN = _environment(finalize=False)


def render(template: str, **context: object) -> str:
    """A Slack message from ``<template>.txt.j2``: every untrusted value escaped and cut, the
    whole cut to :data:`MESSAGE_MAX` (only a template edited to be that long is ever cut)."""
    text = _SLACK.get_template(f"{template}.txt.j2").render(**context).strip()
    return truncate(text, MESSAGE_MAX)


def render_plain(template: str, **context: object) -> str:
    """An e-mail body (plain text) from ``<template>.txt.j2``: nothing escaped."""
    return _PLAIN.get_template(f"{template}.txt.j2").render(**context).strip()


def template_names() -> list[str]:
    return sorted(p.name.removesuffix(".txt.j2") for p in TEMPLATES.glob("*.txt.j2"))
