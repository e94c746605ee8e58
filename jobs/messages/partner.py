"""The Slack messages, one dataclass per template: what a rule may say, and nothing else.

A rule fills one of these and calls :meth:`SlackMessage.text`; the words are in the template of
the same name (``templates/<TEMPLATE>.txt.j2``), which the team edits. What partners read speaks
as a person: plain words, signed by the partner's Owner (``signed_by``: their Slack name, else
their e-mail; empty → the template signs "the partner team"), a reason the partner can act on,
and no score, threshold, band or field name — those stay with the managers, in Airtable.

Field types say how a value is printed (see :mod:`jobs.messages.render`): ``str`` is an outside
value on one line, :class:`~jobs.messages.render.Multiline` keeps its lines,
:class:`~jobs.messages.render.Trusted` is built by the program. ``CODES`` lists the values of the
fields that choose words (never printed); the tests render every template with each of them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from jobs.messages.render import Multiline, Trusted, render


@dataclass(frozen=True)
class SlackMessage:
    TEMPLATE: ClassVar[str] = ""
    CODES: ClassVar[dict[str, tuple[str, ...]]] = {}

    def text(self) -> str:
        context = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return render(self.TEMPLATE, **context)


@dataclass(frozen=True)
class ToPartner(SlackMessage):
    first_name: str  # "" → "there"
    signed_by: str  # the Owner's Slack name or e-mail; "" → "the partner team"


@dataclass(frozen=True)
class Welcome(ToPartner):
    TEMPLATE: ClassVar[str] = "welcome"
    CODES: ClassVar[dict[str, tuple[str, ...]]] = {"why": ("always_in", "score")}
    circle: str
    why: str
    back: bool  # they were a member before
    perks: Multiline
    channel_id: Trusted


@dataclass(frozen=True)
class AtRisk(ToPartner):
    TEMPLATE: ClassVar[str] = "at_risk"
    circle: str
    last_referral: str
    quiet: bool
    recent: int
    recent_days: int
    leaves_on: str  # the day the rules would take them out if nothing changes; "" = not foreseen
    kept_by: int  # new referrals before ``leaves_on`` that keep the seat (0: not a small number)...
    kept_until: str  # ... at least until this day
    form_link: Trusted


@dataclass(frozen=True)
class Removal(ToPartner):
    TEMPLATE: ClassVar[str] = "removal"
    CODES: ClassVar[dict[str, tuple[str, ...]]] = {"why": ("never_in", "low_score", "stale")}
    circle: str
    why: str
    reply_to: str  # the Owner's e-mail ("" = unknown: no reply is invited)
    last_referral: str
    quiet: bool
    recent: int
    recent_days: int
    come_back: int  # new referrals that bring them back (0: not a small number)
    return_by: str  # ... when they arrive by this day
    capped: bool  # the circle has a member cap: nobody can be promised a seat
    form_link: Trusted


@dataclass(frozen=True)
class Receipt(ToPartner):
    TEMPLATE: ClassVar[str] = "receipt"
    CODES: ClassVar[dict[str, tuple[str, ...]]] = {"outcome": ("accepted", "duplicate", "own")}
    outcome: str  # own: the partner registered the same company earlier
    referral: str
    expires_on: str
    registered_on: str


@dataclass(frozen=True)
class StageNews(ToPartner):
    TEMPLATE: ClassVar[str] = "stage_change"
    CODES: ClassVar[dict[str, tuple[str, ...]]] = {"outcome": ("won", "lost", "open", "closed")}
    outcome: str
    referral: str
    stage: str
    amount: str  # "12,000 EUR"; "" = unknown


@dataclass(frozen=True)
class IntroNote(ToPartner):
    TEMPLATE: ClassVar[str] = "intro_dm"
    contact_name: str
    contact_email: str
    company: str
    notes: Multiline


@dataclass(frozen=True)
class JoinPost(SlackMessage):
    """The circle channel's post when members join (never a mention or a broadcast)."""

    TEMPLATE: ClassVar[str] = "join_post"
    SHOWN: ClassVar[int] = 10
    names: tuple[str, ...]
    others: int  # joined too, not named

    @classmethod
    def of(cls, names: list[str]) -> JoinPost:
        return cls(tuple(names[: cls.SHOWN]), max(0, len(names) - cls.SHOWN))


@dataclass(frozen=True)
class PendingNote(SlackMessage):
    """To the managers: a partner who qualifies is not in Slack."""

    TEMPLATE: ClassVar[str] = "pending_note"
    name: str
    email: str
    circle: str


@dataclass(frozen=True)
class BaseFull(SlackMessage):
    """To the managers: a create waits because its base is full (SPEC §9)."""

    TEMPLATE: ClassVar[str] = "base_full"
    base: str
    count: int
    cap: int
    what: str


#: Every Slack template's message (the intro e-mail is built in :mod:`jobs.messages.email`).
SLACK_MESSAGES: tuple[type[SlackMessage], ...] = (
    Welcome,
    AtRisk,
    Removal,
    Receipt,
    StageNews,
    IntroNote,
    JoinPost,
    PendingNote,
    BaseFull,
)
