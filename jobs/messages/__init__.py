"""Messages partners and managers receive, rendered from the jinja2 templates in jobs/templates/.

A team can edit the templates freely. Every value printed into a template is escaped for Slack
(``&``, ``<``, ``>`` and bare @channel/@here/@everyone), because it may have come from Airtable;
only values wrapped in :class:`Trusted` (ids and links from the program's own settings) are not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from integrations.slack import escape_text

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # jobs/templates: the partner messages


class Trusted(str):
    """Text from the program's own settings, printed as is."""


def _finalize(value: Any) -> Any:
    if isinstance(value, Trusted) or not isinstance(value, str):
        return value
    return escape_text(value)


_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    undefined=StrictUndefined,
    finalize=_finalize,
    keep_trailing_newline=False,
    autoescape=False,
)


def render(template: str, **context: Any) -> str:
    return _env.get_template(f"{template}.txt.j2").render(**context).strip()


def first_name(full_name: str) -> str:
    return full_name.split()[0] if full_name.strip() else "there"
