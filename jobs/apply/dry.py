"""A dry run's executors: every effect is written down in words instead of carried out.

Airtable cell writes and local state go to the dry run's *copy* of the store, so a later job of
the same dry run sees what an earlier one would have changed — the listing is what a real run
would do, in order. Nothing reaches Airtable, Slack, the CRM or a mail server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.parser import Parser

from bases.schema import table_def
from jobs.apply.drain import Executor, Result
from jobs.apply.outbox import blocks_text
from jobs.apply.writer import RecordWriter
from jobs.plan import (
    RECORD_ID_COLUMN,
    ArchiveExport,
    CellUpdate,
    ChannelPost,
    CrmPush,
    DirectMessage,
    Effect,
    EmailSend,
    FileUpload,
    Invite,
    Kick,
    RecordCreate,
    RecordDelete,
)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def describe(effect: Effect) -> str:
    """An effect in words, with the recipient and the full text of a message."""
    p = effect.payload
    if isinstance(p, DirectMessage):
        return f"Slack message to {p.email}:\n{_indent(p.text)}"
    if isinstance(p, ChannelPost):
        return f"Slack post in {p.channel}:\n{_indent(blocks_text(p.blocks) if p.blocks else p.text)}"
    if isinstance(p, FileUpload):
        return f"Slack file {p.filename!r} ({p.title}) in {p.channel}"
    if isinstance(p, Invite):
        return f"invite {p.email} to Slack channel {p.channel}"
    if isinstance(p, Kick):
        return f"remove {p.email} from Slack channel {p.channel}"
    if isinstance(p, EmailSend):
        msg = Parser(policy=policy.default).parsestr(p.eml)
        head = f"e-mail to {msg['To']}, Cc {msg['Cc']}: {msg['Subject']}"
        body = msg.get_body(("plain",))
        return f"{head}\n{_indent(body.get_content() if body is not None else '')}"
    if isinstance(p, CrmPush):
        return f"CRM: {effect.describe}"
    if isinstance(p, CellUpdate):
        cells = ", ".join(f"{k} = {v!r}" for k, v in p.cells.items())
        return f"Airtable {p.table} {p.id}: {cells}"
    if isinstance(p, RecordCreate):
        return f"Airtable {p.table}: new record {p.cells}"
    if isinstance(p, ArchiveExport):
        primary = table_def(p.base, p.table).primary.name
        rows = "\n".join(f"{row.get(RECORD_ID_COLUMN)}  {row.get(primary) or ''}" for row in p.rows)
        return f"archive: {effect.describe}:\n{_indent(rows)}"
    if isinstance(p, RecordDelete):
        return f"archive: {effect.describe}"
    return effect.describe


@dataclass
class DryRun:
    lines: list[str] = field(default_factory=list)

    def executors(self, scratch: RecordWriter, state: Executor) -> dict[str, Executor]:
        recorder = _Recorder(self, scratch)
        return {
            "airtable": recorder,
            "slack": recorder,
            "email": recorder,
            "crm": recorder,
            "state": state,
            "archive": recorder,
        }


class _Recorder:
    def __init__(self, dry: DryRun, scratch: RecordWriter) -> None:
        self.dry = dry
        self.scratch = scratch

    def run(self, effect: Effect) -> Result:
        p = effect.payload
        if isinstance(p, CellUpdate):
            self.scratch.update(p.base, p.table, {p.id: dict(p.cells)})
        elif isinstance(p, RecordCreate):
            self.scratch.create(p.base, p.table, p.merge_on, dict(p.cells))
        if not isinstance(p, CellUpdate) or effect.source is None or "Sync Notes" not in p.cells:
            self.dry.lines.append(describe(effect))
        return {"dry": True}

    def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
        return None
