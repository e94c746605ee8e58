"""Slack text: escaping outside values, the Block Kit pieces the jobs send, and fitting a message
into Slack's size limits.  Nothing here calls Slack or knows a partner-program rule.

Three escapes, from the least to the most shape-keeping:

- :func:`escape_text` — only what Slack itself asks for (``& < >``) plus bare broadcasts;
- :func:`escape_inline` — a value printed inside a line (a name, a company): one line, literal;
- :func:`escape_block` — a value printed as its own paragraph (notes, perks): its lines are kept,
  each one literal.

How formatting is neutralised (Slack mrkdwn has no backslash escape).  Bold, italic and strike
(``*`` ``_`` ``~``) only open or close at a word boundary: ``snake_case``, ``ann_lee@x.com`` or
``2*3`` render as typed, while ``*x*`` or ``_x_`` do not (the jsx-slack project documents the same
rule; it is why a zero-width space *around* a marker forces formatting, so a zero-width space is
no escape).  Such a marker is therefore replaced by a look-alike that Slack's parser does not know:
``*`` → ``∗`` (U+2217), ``_`` → ``ˍ`` (U+02CD), ``~`` → ``∼`` (U+223C); a marker with a letter or
digit on both sides is left alone, so addresses and emoji codes (``:white_check_mark:``) keep their
underscores.  Backticks open code anywhere and become ``ˋ`` (U+02CB); the full-width forms Slack
also honours (``＊ ＿ ～ ｀``) get look-alikes too.  A line that starts with ``>`` (sent as ``&gt;``,
which Slack still reads as a quote) or ``＞`` gets an invisible soft hyphen (U+00AD) in front.
The text reads the same; only a copy-and-paste of the odd marker differs.  The other known tricks
were rejected: wrapping in backticks changes the look and breaks on a backtick in the value, and
the ``<!date^0^{_}|*>`` fallback trick renders exactly but is a ``<!…>`` control sequence per
character, which a message built from outside text must never carry.

Mentions, broadcasts and links: ``& < >`` become ``&amp; &lt; &gt;`` (so no ``<!channel>``,
``<@U…>``, ``<#C…>`` or ``<https://…|disguised>`` can form), and a zero-width space after the ``@``
of a bare ``@channel``/``@here``/``@everyone`` keeps auto-parsing from turning it into a broadcast
(messages also go as ``verbatim`` sections, see :func:`plain_section`).

A line that looks like an e-mail header (``Bcc: x``, ``Reply-To:``) is indented by two no-break
spaces: it no longer starts at the margin, and a tool that folds the no-break spaces into plain
ones turns it into a header *continuation* line, never a header of its own.
"""

from __future__ import annotations

import copy
import html
import re
from typing import Any

#: A Block Kit block as sent to Slack (JSON).
Block = dict[str, Any]

METADATA_EVENT_TYPE = "partnerops_effect"

ZERO_WIDTH_SPACE = "\u200b"
SOFT_HYPHEN = "\u00ad"
HEADER_INDENT = "\u00a0\u00a0"
ELLIPSIS = "\u2026"

# Slack's limits.  A text object and a section's text: 3,000 characters; a section field: 2,000
# (at most 10); a header: 150; 50 blocks a message; 40,000 characters a message.  The top-level
# ``text`` (the notification fallback) is refused with msg_too_long above about 4,000 characters
# (python-slack-sdk's maintainer, 2024: "the 40K truncation is an old requirement"), and blocks
# totalling about 13,200 characters were refused with msg_blocks_too_long (bolt-js #2509,
# undocumented): both are kept under with a margin.
SECTION_TEXT_MAX = 3_000
FIELD_TEXT_MAX = 2_000
MAX_FIELDS = 10
HEADER_TEXT_MAX = 150
MAX_BLOCKS = 50
MAX_MESSAGE_CHARS = 40_000
MAX_FALLBACK_CHARS = 4_000
MAX_BLOCKS_CHARS = 12_000

_BROADCAST_RE = re.compile(r"@(?=(?:channel|here|everyone))", re.IGNORECASE)
# A bold/italic/strike marker that does not have a letter or digit on both sides.
_EDGE_MARKER_RE = re.compile(r"(?<![^\W_])[*_~]|[*_~](?![^\W_])")
_EDGE_LOOKALIKE = {"*": "\u2217", "_": "\u02cd", "~": "\u223c"}
_ALWAYS_LOOKALIKE = str.maketrans(
    {"`": "\u02cb", "\uff40": "\u02cb", "\uff0a": "\ufe61", "\uff3f": "\u2e0f", "\uff5e": "\u223c"}
)
_QUOTE_RE = re.compile(r"^(?=[ \t]*(?:&gt;|\uff1e))", re.MULTILINE)
_HEADER_RE = re.compile(r"^(?=[ \t]*[A-Za-z][A-Za-z0-9_-]*[ \t]*:)", re.MULTILINE)
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK_RE = re.compile(f"\r\n|[{_LINE_BREAKS}]")
_INLINE_BREAK_RE = re.compile(f"[ \t]*[{_LINE_BREAKS}][\\s]*")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")
_ENTITY_RE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")


# --------------------------------------------------------------------------- escaping


def escape_text(s: str) -> str:
    """Make outside text inert as Slack syntax: ``& < >`` as entities, bare broadcasts defused.

    Formatting characters and line breaks are kept: see :func:`escape_inline` and
    :func:`escape_block` for values that must not change a message's shape.
    """
    return _BROADCAST_RE.sub("@" + ZERO_WIDTH_SPACE, html.escape(s, quote=False))


def escape_inline(s: str) -> str:
    """An outside value printed inside a line (a name, a company), rendered as literal text.

    Line breaks (with the spaces around them) collapse into one space, control characters go,
    and then everything :func:`escape_block` does: no formatting, mention, broadcast, link,
    quote or header-looking start.
    """
    one_line = _INLINE_BREAK_RE.sub(" ", _CONTROL_RE.sub("", s)).replace("\t", " ").strip()
    return _shape_safe(one_line)


def escape_block(s: str) -> str:
    """An outside value printed as a paragraph (notes, perks): its lines kept, each literal.

    Every kind of line break becomes ``\\n``; no line can format, mention, broadcast, link,
    start a quote, or look like an e-mail header (see the module notes for how).
    """
    lines = _LINE_BREAK_RE.sub("\n", _CONTROL_RE.sub("", s)).strip("\n")
    return _shape_safe(lines)


def _shape_safe(text: str) -> str:
    safe = escape_text(text)
    safe = _EDGE_MARKER_RE.sub(lambda m: _EDGE_LOOKALIKE[m.group()], safe).translate(_ALWAYS_LOOKALIKE)
    safe = _QUOTE_RE.sub(SOFT_HYPHEN, safe)
    return _HEADER_RE.sub(HEADER_INDENT, safe)


# --------------------------------------------------------------------------- blocks and metadata


def plain_section(text: str) -> Block:
    """A Block Kit section whose mrkdwn is ``verbatim``: nothing in it is auto-linked or auto-mentioned.

    ``text`` must already be escaped (see :func:`escape_inline`, :func:`escape_block`) where it
    came from outside.
    """
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def metadata_for(key: str) -> dict[str, object]:
    """The message metadata that marks a post so ``SlackClient.find_posted`` can find it."""
    return {"event_type": METADATA_EVENT_TYPE, "event_payload": {"key": key}}


# --------------------------------------------------------------------------- fitting


def truncate(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and "…" (``limit`` in all).

    The cut never falls inside an entity (``&amp;``) or a ``<…>`` sequence (a link or mention
    the program built): it moves back to the start of it.
    """
    if len(text) <= limit:
        return text
    cut = _safe_cut(text, max(0, limit - len(ELLIPSIS)))
    return text[:cut].rstrip() + ELLIPSIS


def _safe_cut(text: str, cut: int) -> int:
    amp = text.rfind("&", max(0, cut - 12), cut)
    if amp != -1:
        entity = _ENTITY_RE.match(text, amp)
        if entity is not None and entity.end() > cut:
            cut = amp
    opened = text.rfind("<", 0, cut)
    if opened > text.rfind(">", 0, cut) and text.find(">", cut) != -1:
        cut = opened
    return cut


def text_chars(value: object) -> int:
    """The characters of every ``text`` string in a block (or list of blocks), as Slack counts them."""
    if isinstance(value, list):
        return sum(text_chars(v) for v in value)
    if not isinstance(value, dict):
        return 0
    return sum(len(v) if k == "text" and isinstance(v, str) else text_chars(v) for k, v in value.items())


def fit_message(text: str, blocks: list[Block] | None) -> tuple[str, list[Block] | None]:
    """``(text, blocks)`` cut down to what Slack accepts; the input is not changed.

    The fallback ``text`` keeps at most :data:`MAX_FALLBACK_CHARS`; each section text 3,000,
    field 2,000 (10 fields), header 150; at most 50 blocks whose texts total at most
    :data:`MAX_BLOCKS_CHARS`, and everything together at most 40,000.  What is cut ends with "…";
    blocks that no longer fit are dropped and the last block kept says "…".
    """
    fallback = truncate(text, MAX_FALLBACK_CHARS)
    if blocks is None:
        return fallback, None
    # One character stays free for the "…" that says blocks were dropped.
    budget = min(MAX_BLOCKS_CHARS, MAX_MESSAGE_CHARS - len(fallback)) - len(ELLIPSIS)
    out: list[Block] = []
    used = 0
    for index, block in enumerate(blocks):
        fitted = _fit_block(block)
        size = text_chars(fitted)
        more_after = index < len(blocks) - 1
        if len(out) == MAX_BLOCKS - 1 and more_after:
            out.append(plain_section(ELLIPSIS))
            break
        if size > budget - used:
            out.append(_shortened(fitted, budget - used + len(ELLIPSIS)))
            break
        out.append(fitted)
        used += size
    return fallback, out


def _fit_block(block: Block) -> Block:
    fitted = copy.deepcopy(block)
    kind = fitted.get("type")
    if kind == "section":
        _cap_text(fitted.get("text"), SECTION_TEXT_MAX)
        fields = fitted.get("fields")
        if isinstance(fields, list):
            fitted["fields"] = fields[:MAX_FIELDS]
            for field in fitted["fields"]:
                _cap_text(field, FIELD_TEXT_MAX)
    elif kind == "header":
        _cap_text(fitted.get("text"), HEADER_TEXT_MAX)
    elif kind == "context" and isinstance(fitted.get("elements"), list):
        for element in fitted["elements"]:
            _cap_text(element, SECTION_TEXT_MAX)
    return fitted


def _cap_text(obj: object, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = truncate(obj["text"], limit)


def _shortened(block: Block, room: int) -> Block:
    """A section cut to ``room`` characters of text (without its fields), else a "…" section."""
    text = block.get("text")
    if block.get("type") == "section" and isinstance(text, dict) and isinstance(text.get("text"), str):
        cut = {k: v for k, v in block.items() if k in ("type", "block_id")}
        cut["text"] = {**text, "text": truncate(text["text"], room)}
        if text_chars(cut) <= room:
            return cut
    return plain_section(ELLIPSIS)
