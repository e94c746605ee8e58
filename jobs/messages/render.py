"""Messages partners and managers receive, rendered from the jinja2 templates in
``jobs/messages/templates/`` (the team edits them freely).

Slack templates escape every value printed into them, because it may come from Airtable: a
plain ``str`` is an inline value (a name: one line, no formatting, no mentions); a
:class:`Multiline` keeps its line breaks (notes, perks); only :class:`Trusted` values (ids and
links from the program's own settings) are printed as they are. E-mail templates print plain
text; their headers are cleaned where the message is built.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from integrations.slack_format import escape_block, escape_inline

TEMPLATES = Path(__file__).resolve().parent / "templates"


class Trusted(str):
    """Text from the program's own settings, printed as is."""


class Multiline(str):
    """Text from Airtable that keeps its line breaks (notes, perks)."""


def _finalize(value: object) -> object:
    if isinstance(value, Trusted) or not isinstance(value, str):
        return value
    if isinstance(value, Multiline):
        return escape_block(value)
    return escape_inline(value)


def _environment(finalize: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    if finalize:
        env.finalize = _finalize
    return env


_SLACK = _environment(finalize=True)
_PLAIN = _environment(finalize=False)


def render(template: str, **context: object) -> str:
    """A Slack message from ``<template>.txt.j2``: every untrusted value escaped."""
    return _SLACK.get_template(f"{template}.txt.j2").render(**context).strip()


def render_plain(template: str, **context: object) -> str:
    """An e-mail body (plain text) from ``<template>.txt.j2``: nothing escaped."""
    return _PLAIN.get_template(f"{template}.txt.j2").render(**context).strip()


def first_name(full_name: str) -> str:
    words = full_name.split()
    return words[0] if words else "there"


def template_names() -> list[str]:
    return sorted(p.name.removesuffix(".txt.j2") for p in TEMPLATES.glob("*.txt.j2"))
