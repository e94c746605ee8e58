"""The weekly managers' digest (SPEC §8) as Slack Block Kit: readable in 30 seconds.

Order: what happened in the week, what needs a manager, who is owed a referral, then the
numbers (bands, program metrics, capacity). The fallback text (notifications) carries counts
only, no value from Airtable.

Safety: every value from Airtable goes through :func:`value`: whitespace and newlines folded,
cut to a short length, Slack's control characters escaped (:func:`integrations.slack.escape_text`,
which also defuses a bare @channel/@here), and the mrkdwn styling characters ``* _ ~ `` replaced
by look-alikes so a name cannot restyle the message. Every mrkdwn text object is ``verbatim``
(no auto-mentions, no auto-links). Each section stays under Slack's 3,000 characters and the
message under 50 blocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from integrations.slack_format import escape_inline as escape_text
from integrations.slack_format import plain_section
from jobs.rules.metrics import Capacity, NeedsAttention, Owed, ProgramMetrics, WeekChanges, WeeklySnapshot
from jobs.rules.program import BANDS_BEST_FIRST as BAND_ORDER

Block = dict[str, Any]

SECTION_LIMIT = 3000
VALUE_LIMIT = 60
LIST_LIMIT = 5
_STYLING = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})
_SPACES = re.compile(r"\s+")


# --- text ------------------------------------------------------------------------------------


def value(raw: str, limit: int = VALUE_LIMIT) -> str:
    """An Airtable value made inert for mrkdwn (see the module), at most ``limit`` characters
    before escaping."""
    folded = _SPACES.sub(" ", raw).strip()
    if len(folded) > limit:
        folded = folded[: limit - 1].rstrip() + "…"
    return escape_text(folded.translate(_STYLING))


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def money(amount: float) -> str:
    return f"${amount:,.0f}"


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f}%"


def day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _delta(now: int, before: int | None) -> str:
    if before is None:
        return ""
    diff = now - before
    return " (±0)" if diff == 0 else f" ({'+' if diff > 0 else '−'}{abs(diff)})"


def _listed(items: Sequence[str]) -> str:
    """At most 5 items (each already made safe with :func:`value`), then "and N more"."""
    more = len(items) - LIST_LIMIT
    return ", ".join(items[:LIST_LIMIT]) + (f" and {more} more" if more > 0 else "")


def _with(name: str, detail: str) -> str:
    """A name and its detail in parentheses, each cut on its own so the parenthesis always closes."""
    return f"{value(name, 40)} ({value(detail, 50)})" if detail else value(name, 40)


def _section(title: str, lines: Sequence[str]) -> Block:
    """A verbatim mrkdwn section, cut (whole lines) to Slack's 3,000 characters."""
    kept: list[str] = [f"*{title}*"]
    for i, line in enumerate(lines):
        rest = len(lines) - i
        if len("\n".join([*kept, line])) + len(f"\n…and {rest} more") > SECTION_LIMIT:
            kept.append(f"…and {rest} more")
            break
        kept.append(line)
    return plain_section("\n".join(kept))


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


# --- sections --------------------------------------------------------------------------------


def _new_referrals(c: WeekChanges) -> str:
    parts = [f"{c.accepted:,} accepted"]
    parts += [f"{c.duplicate:,} duplicate"] if c.duplicate else []
    parts += [f"*{c.needs_fix:,} need{'s' if c.needs_fix == 1 else ''} a fix*"] if c.needs_fix else []
    parts += [f"{c.rejected:,} rejected"] if c.rejected else []
    parts += [f"{c.waiting:,} not checked yet"] if c.waiting else []
    return f"• *{_plural(c.new_from_partner, 'new referral')}* from partners: {', '.join(parts)}"


def _outcomes(c: WeekChanges) -> str:
    if c.won is None or c.lost is None:
        closed = "won and lost: counted from the next digest on (this is the first)"
    else:
        amount = f" ({money(c.won_amount or 0.0)})" if c.won else ""
        closed = f"{c.won:,} won{amount} · {c.lost:,} lost"
        if c.since and c.since != c.week.previous().label:  # a digest was missed: say since when
            closed += f" (since {c.since})"
    return f"• {c.pushed:,} pushed to the CRM · {closed}"


def _circle_lines(c: WeekChanges) -> list[str]:
    lines = []
    for circle in c.circles:
        moves = []
        if circle.joined:
            moves.append(f"{_listed([value(who, 40) for who in circle.joined])} joined")
        if circle.left:
            moves.append(f"{_listed([_with(who, why) for who, why in circle.left])} left")
        lines.append(f"• {value(circle.circle)}: {'; '.join(moves)}")
    return lines or ["• No one joined or left a circle."]


def _happened(c: WeekChanges) -> Block:
    given = f"• {_plural(c.given, 'referral')} given to partners"
    return _section("What happened", [_new_referrals(c), _outcomes(c), given, *_circle_lines(c)])


def _todo(a: NeedsAttention) -> Block:
    lines = []
    if a.notes:
        items = [_with(n.name, n.note) for n in a.notes]
        lines.append(
            f"• *{_plural(len(a.notes), 'record')} with Sync Notes* (view “Needs attention”): {_listed(items)}"
        )
    if a.pending_invites:
        who = [value(p.partner, 40) for p in a.pending_invites]
        lines.append(f"• *{_plural(len(who), 'partner')} not in Slack yet* (Pending invite): {_listed(who)}")
    if a.expiring:
        items = [f"{_with(e.referral, e.partner)} on {e.expires_on.day} {e.expires_on:%b}" for e in a.expiring]
        lines.append(f"• *{_plural(len(items), 'registration')} lose protection within 14 days*: {_listed(items)}")
    return _section("To do", lines or ["Nothing needs you this week."])


def _owed(owed: Sequence[Owed]) -> Block:
    if not owed:
        return _section("Owed a referral", ["Everyone who sent referrals in the last 180 days got one back."])
    lines = ["They sent the most referrals in 180 days and got none back. Give one: a To-partner referral."]
    for o in owed:
        given = f"last given {day(o.last_given_on)}" if o.last_given_on else "never given one"
        company = f" ({value(o.company)})" if o.company else ""
        lines.append(f"• {value(o.name)}{company}: {_plural(o.sent, 'referral')} sent, {given}")
    return _section("Owed a referral", lines)


def _bands(m: ProgramMetrics, previous: WeeklySnapshot | None) -> Block:
    before: Mapping[str, int] = previous.bands if previous and previous.bands is not None else {}
    counts = [f"{b} {m.bands.get(b, 0):,}{_delta(m.bands.get(b, 0), before.get(b))}" for b in BAND_ORDER]
    since = f"change since {previous.week}" if previous and before else "no count from last week to compare with"
    return _section("Partners by band", [" · ".join(counts) + f"  ({since})"])


def _program(m: ProgramMetrics) -> Block:
    median = (
        f"{m.median_days_to_first:.0f} days median from joining to first referral "
        f"({m.referred_180:,} of {m.joined_180:,} who joined in 180 days have referred)"
        if m.median_days_to_first is not None
        else f"no first referral yet from the {m.joined_180:,} partners who joined in 180 days"
    )
    lines = [
        f"• Sourced pipeline {money(m.pipeline)} ({money(m.pipeline_open)} open, {money(m.pipeline_won)} won)",
        f"• Win rate {percent(m.win_rate)} ({m.won_365:,} won of {m.closed_365:,} closed, 365 days)",
        f"• Activation {percent(m.activation)} ({m.activated:,} of {m.onboarded:,} onboarded partners have referred)",
        f"• {median}",
    ]
    return _section("Program", lines)


def _capacity(cap: Capacity) -> Block:
    calls = f"Airtable calls this month: {cap.calls_used:,} used, ~{cap.calls_projected:,} projected of {cap.calls_allowance:,}"
    if cap.over_allowance:
        calls += " ⚠ over the allowance: the jobs will slow down"
    bases = []
    for base, n in cap.records.items():
        share = cap.share(base)
        bases.append(
            f"{value(base)} {n:,}" + (f" / {cap.record_cap:,} ({share * 100:.0f}%)" if share is not None else "")
        )
    text = calls + " · records: " + ", ".join(bases)
    if cap.full_bases:
        text += f" · ⚠ {', '.join(value(b) for b in cap.full_bases)} past 80%: run `partnerops archive`"
    return _context(text)


def fallback_text(m: ProgramMetrics, c: WeekChanges, owed: Sequence[Owed], a: NeedsAttention) -> str:
    """The notification line: counts only, nothing from Airtable."""
    fix = f" ({c.needs_fix:,} need a fix)" if c.needs_fix else ""
    won = f", {c.won:,} won" if c.won is not None else ""
    return (
        f"Partner program, week {m.week.label}: {_plural(c.new_from_partner, 'new referral')}{fix}{won}, "
        f"{_plural(len(owed), 'partner')} owed a referral, {_plural(a.total, 'item')} need attention."
    )


def digest_message(
    metrics: ProgramMetrics,
    changes: WeekChanges,
    owed: Sequence[Owed],
    attention: NeedsAttention,
    capacity: Capacity,
    previous: WeeklySnapshot | None = None,
) -> tuple[str, list[Block]]:
    """(fallback text, Block Kit blocks) of the weekly digest. ``previous`` is last week's
    snapshot (:func:`jobs.rules.snapshots.previous_snapshot`), for the change in bands."""
    week = changes.week
    header = f"Partner program · week {week.label[-2:].lstrip('0')} ({week.span()})"
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": False}},
        _happened(changes),
        _todo(attention),
        _owed(owed),
        {"type": "divider"},
        _bands(metrics, previous),
        _program(metrics),
        _capacity(capacity),
        _context("Chart: referrals per week and partners per band, last 12 weeks. Full report: `partnerops report`."),
    ]
    return fallback_text(metrics, changes, owed, attention), blocks
