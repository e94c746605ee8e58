"""What a job decided, as data: effects with typed payloads, the plan, and the job's outcome.

The leaf of ``jobs/``: it imports nothing of ours but ``bases``. Rules build a :class:`Plan`;
the apply layer carries out its :class:`Effect` values; the runner turns both into a
:class:`JobOutcome` whose :class:`Count` values the demo, the run summary and the digest read
(nobody parses a summary sentence).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from enum import Enum
from typing import ClassVar, TypeAlias

from bases.records import Cell

JsonValue: TypeAlias = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
Block: TypeAlias = dict[str, JsonValue]


def fingerprint(value: object) -> str:
    """A short, stable fingerprint of a value for effect keys (the same in every process)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


def record_version(fields: Mapping[str, object]) -> str:
    """A record's "last modified" marker for :attr:`RecordDelete.versions`: a fingerprint of its
    cells. Airtable gives no modified time without a formula field, and any edit changes a cell."""
    return fingerprint(dict(fields))


# --- payloads, one per kind of effect --------------------------------------------------------


@dataclass(frozen=True)
class CellUpdate:
    """Job-owned cells of one Airtable record (only those that differ are written)."""

    KIND: ClassVar[str] = "airtable.update"
    base: str
    table: str
    id: str
    cells: dict[str, Cell]


@dataclass(frozen=True)
class RecordCreate:
    """A new record, created with an upsert on ``merge_on`` so a repeat finds it instead."""

    KIND: ClassVar[str] = "airtable.upsert"
    base: str
    table: str
    merge_on: list[str]
    cells: dict[str, Cell]


@dataclass(frozen=True)
class RecordDelete:
    """Records to delete (the archive), after they were written to the archive file."""

    KIND: ClassVar[str] = "airtable.delete"
    base: str
    table: str
    ids: list[str]
    #: each record's last-modified marker when it was chosen: a record edited since is kept.
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Invite:
    KIND: ClassVar[str] = "slack.invite"
    channel: str
    user_id: str
    email: str


@dataclass(frozen=True)
class Kick:
    KIND: ClassVar[str] = "slack.kick"
    channel: str
    user_id: str
    email: str


@dataclass(frozen=True)
class DirectMessage:
    """A message to one partner (their Slack user), looked up again by e-mail if the id is stale."""

    KIND: ClassVar[str] = "slack.dm"
    email: str
    user_id: str
    text: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class ChannelPost:
    KIND: ClassVar[str] = "slack.post"
    channel: str
    text: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class FileUpload:
    """A file (the digest's chart) shared in a channel; ``content`` is base64."""

    KIND: ClassVar[str] = "slack.upload"
    channel: str
    filename: str
    title: str
    content: str


@dataclass(frozen=True)
class EmailSend:
    """One e-mail, fully rendered (RFC 5322 text); sent at most once."""

    KIND: ClassVar[str] = "email.send"
    eml: str


@dataclass(frozen=True)
class CrmPush:
    """An accepted referral to the CRM, with its registration cells written back in one call."""

    KIND: ClassVar[str] = "crm.push"
    referral_id: str
    cells: dict[str, Cell]
    domain: str | None = None  # the company's domain the registration is keyed on, if any


@dataclass(frozen=True)
class StateSet:
    """Local memory the rules read next time, written in queue order."""

    KIND: ClassVar[str] = "state.set"
    key: str
    value: JsonValue


#: The archive file's first column: the record id (see :class:`ArchiveExport`).
RECORD_ID_COLUMN = "Record ID"


@dataclass(frozen=True)
class ArchiveExport:
    """Records appended to the archive CSV of their table before they are deleted from Airtable."""

    KIND: ClassVar[str] = "archive.export"
    base: str
    table: str
    rows: list[dict[str, JsonValue]]


Payload: TypeAlias = (
    CellUpdate
    | RecordCreate
    | RecordDelete
    | Invite
    | Kick
    | DirectMessage
    | ChannelPost
    | FileUpload
    | EmailSend
    | CrmPush
    | StateSet
    | ArchiveExport
)
PAYLOADS: dict[str, type[Payload]] = {
    cls.KIND: cls
    for cls in (
        CellUpdate,
        RecordCreate,
        RecordDelete,
        Invite,
        Kick,
        DirectMessage,
        ChannelPost,
        FileUpload,
        EmailSend,
        CrmPush,
        StateSet,
        ArchiveExport,
    )
}


def payload_to_json(payload: Payload) -> dict[str, JsonValue]:
    data: dict[str, JsonValue] = asdict(payload)
    return data


def payload_from_json(kind: str, data: dict[str, JsonValue]) -> Payload:
    """A payload as stored in the effect queue; keys a payload does not know are ignored, so a
    queue written by an older version still loads."""
    cls = PAYLOADS[kind]
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})  # type: ignore[arg-type]


# --- effects and plans ------------------------------------------------------------------------


class Count(str, Enum):
    """What a job did, counted. The value is how the summary says it."""

    SCORED = "partners scored"
    SCORE_CHANGES = "scores changed"
    BAND_CHANGES = "band changes"
    STAGE_MOVES = "stage moves"
    NOT_SCORED = "not scored"
    RECORDS_WRITTEN = "records written"
    JOINS = "joined"
    LEAVES = "left"
    AT_RISK_NUDGES = "at-risk nudges"
    PENDING_INVITES = "pending invites"
    ACCEPTED = "accepted"
    DUPLICATES = "duplicate"
    NEED_FIX = "need a fix"
    EXPIRED = "expired"
    PUSHED = "pushed to the CRM"
    RECEIPTS = "receipts sent"
    DEALS_READ = "deals read back"
    STAGE_CHANGES = "stage changes"
    WON = "won"
    LOST = "lost"
    STAGE_ALERTS = "partners told"
    REFERRALS_GIVEN = "referrals given"
    INTRO_EMAILS = "intro e-mails sent"
    INTRO_MESSAGES = "Slack messages sent"
    DIGESTS = "digests posted"
    ARCHIVED = "records archived"
    RECORDS_READ = "records read"
    CHANGES_FROM_FEED = "changed records from the feed"
    RECORDS_REMOVED = "records removed"


@dataclass(frozen=True)
class RecordRef:
    """A record, for Sync Notes: the record whose data caused a failure is told why."""

    base: str
    table: str
    id: str


@dataclass(frozen=True)
class Effect:
    """One thing to do outside, with a stable key: the same intent always has the same key."""

    key: str
    payload: Payload
    target: str  # who or what it touches (a partner's e-mail, a channel), for limits and summaries
    describe: str  # one line in plain words, for --dry-run and the run summary
    repeatable: bool = True  # safe to run again when its outcome is unknown
    group: str = ""  # effects of one group stop at the first failure of a non-optional member
    optional: bool = False  # its failure does not stop the rest of its group
    counts_as: Count | None = None  # what it adds to the job's counts once done
    source: RecordRef | None = None  # the record to explain a failure on (Sync Notes)
    #: looked up at the service before its first run (a message planned from a fact Airtable
    #: does not hold: a home restored from an older copy must not send it twice).
    check_first: bool = False
    #: looked up by this key prefix instead of its own key: a message whose key carries the day
    #: (the at-risk nudge) is found under another day's key after a restore.
    check_prefix: str = ""

    @property
    def kind(self) -> str:
        return self.payload.KIND

    @property
    def family(self) -> str:
        """Which executor carries it out: the part of the kind before the dot."""
        return self.kind.split(".")[0]


@dataclass
class Plan:
    """What one job decided: effects to apply, counts of the decisions, plain-words lines."""

    effects: list[Effect] = field(default_factory=list)
    counts: Counter[Count] = field(default_factory=Counter)
    story: list[str] = field(default_factory=list)
    #: this job's Sync Notes for the records it looked at (empty text: nothing wrong any more).
    #: Records it does not mention keep what it said before.
    notes: dict[RecordRef, str] = field(default_factory=dict)
    #: problems for the managers that are not about one record (a circle without a channel, …).
    problems: list[str] = field(default_factory=list)

    def add(self, effect: Effect) -> None:
        self.effects.append(effect)

    def note(self, ref: RecordRef, text: str) -> None:
        """This job's Sync Notes for a record it looked at ("" = nothing wrong)."""
        self.notes[ref] = text


@dataclass(frozen=True)
class DealState:
    """Where a deal this program pushed stands now (read back from the CRM)."""

    referral_id: str
    deal_id: str
    stage_id: str
    stage: str  # the stage's label
    outcome: str  # "open", "won", "lost" or "closed"
    amount: float | None
    currency: str | None
    modified: datetime | None


class Status(str, Enum):
    DONE = "done"
    PLANNED = "planned"  # a dry run: nothing was changed
    SKIPPED = "skipped"  # nothing to do here (no CRM to read back, no budget left, …)
    BLOCKED = "blocked"  # the data it needs cannot be trusted (a renamed field, …)
    FAILED = "failed"  # it could not run at all


@dataclass
class JobOutcome:
    job: str
    status: Status
    counts: Counter[Count] = field(default_factory=Counter)
    story: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    reason: str = ""  # why it was skipped, blocked or failed
    planned: list[str] = field(default_factory=list)  # a dry run: every effect, in words
    calls: int = 0  # Airtable calls it spent
    pending: int = 0  # effects left to finish on the next run

    @property
    def ok(self) -> bool:
        return self.status in (Status.DONE, Status.SKIPPED, Status.PLANNED) and not self.failures

    def summary(self) -> str:
        """One line for people: the counts that are not zero, or why nothing ran."""
        if self.reason:
            return self.reason
        parts = [f"{n} {c.value}" for c, n in self.counts.items() if n]
        if self.pending:
            parts.append(f"{self.pending} left for the next run")
        return ", ".join(parts) or "nothing to do"
