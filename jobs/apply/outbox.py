"""Without credentials, effects go to the outbox: readable files under PARTNEROPS_HOME/outbox,
one per effect, named from its key so a re-run finds it (``partnerops demo`` shows them)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from jobs.apply.drain import EffectFailed, Result
from jobs.plan import Block, ChannelPost, CrmPush, DirectMessage, Effect, EmailSend, FileUpload, Invite, Kick

SUFFIX = {"slack": ".txt", "email": ".eml", "crm": ".json"}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._-]+", "-", text)[:60].strip("-") or "x"


def outbox_name(effect: Effect, suffix: str) -> str:
    digest = hashlib.sha256(effect.key.encode()).hexdigest()[:10]
    return f"{effect.kind.replace('.', '-')}-{_slug(effect.target)}-{digest}{suffix}"


def blocks_text(blocks: list[Block]) -> str:
    """The words of Block Kit blocks (header, sections, context), one block a paragraph: what a
    person would read in Slack, for the outbox and a dry run."""
    paragraphs = []
    for block in blocks:
        elements = block.get("elements")
        parts = [block.get("text"), *(elements if isinstance(elements, list) else [])]
        words = [str(p["text"]) for p in parts if isinstance(p, dict) and p.get("text")]
        if words:
            paragraphs.append("\n".join(words))
    return "\n\n".join(paragraphs)


def _slack_text(effect: Effect, now: datetime) -> str:
    p = effect.payload
    if isinstance(p, Invite):
        head, body = f"INVITE {p.email} to channel {p.channel}", ""
    elif isinstance(p, Kick):
        head, body = f"REMOVE {p.email} from channel {p.channel}", ""
    elif isinstance(p, DirectMessage):
        head, body = f"DIRECT MESSAGE to {p.email}", p.text
    elif isinstance(p, ChannelPost):
        head, body = f"POST in channel {p.channel}", p.text
        if p.blocks:
            body = f"{p.text}\n\n{blocks_text(p.blocks)}"
    else:
        head, body = effect.kind, ""
    return f"{head}\nat: {now.isoformat()}\nkey: {effect.key}\n\n{body}\n"


class OutboxExecutor:
    """Writes what would have been sent, as files a person can read."""

    def __init__(self, home: Path, now: Callable[[], datetime]) -> None:
        self.root = home / "outbox"
        self.now = now

    def path(self, effect: Effect) -> Path:
        suffix = ".png" if isinstance(effect.payload, FileUpload) else SUFFIX.get(effect.family, ".txt")
        return self.root / effect.family / outbox_name(effect, suffix)

    def run(self, effect: Effect) -> Result:
        path = self.path(effect)
        path.parent.mkdir(parents=True, exist_ok=True)
        p = effect.payload
        if isinstance(p, FileUpload):
            path.write_bytes(base64.b64decode(p.content))
        elif isinstance(p, EmailSend):
            path.write_text(p.eml, encoding="utf-8")
        elif isinstance(p, CrmPush):
            path.write_text(json.dumps({"referral_id": p.referral_id}, indent=2) + "\n", encoding="utf-8")
        elif effect.family == "slack":
            path.write_text(_slack_text(effect, self.now()), encoding="utf-8")
        else:
            raise EffectFailed(f"the outbox cannot hold {effect.kind}")
        return {"outbox": str(path.relative_to(self.root))}

    def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
        path = self.path(effect)
        return {"outbox": str(path.relative_to(self.root))} if path.exists() else None
