"""Executors: how each kind of effect is carried out — for real, or into the outbox.

Chosen by the part of an effect's kind before the dot: ``slack``, ``airtable``, ``email``,
``crm``. Without credentials a kind goes to the outbox: readable files under
``PARTNEROPS_HOME/outbox``, one per effect, named from its key so a re-run finds it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Hashable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from integrations.airtable import AirtableError
from integrations.slack import SlackClient, SlackError
from integrations.slack_format import plain_section
from jobs.effects import Effect, EffectFailed
from jobs.writeback import RecordWriter

# How far back a post whose outcome is unknown is looked for: generous, so clock skew between
# this machine and Slack cannot hide a message that did go out.
LOOKBACK = timedelta(days=1)

# Slack errors that mean "someone must fix data or settings", not "try again later".
PERMANENT_SLACK = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "user_not_found",
    "users_not_found",
    "cant_invite_self",
    "cant_kick_self",
    "missing_scope",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "user_is_restricted",
    "user_is_ultra_restricted",
    "restricted_action",
    "cant_invite",
}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._-]+", "-", text)[:60].strip("-") or "x"


def outbox_name(effect: Effect, suffix: str) -> str:
    digest = hashlib.sha256(effect.key.encode()).hexdigest()[:10]
    return f"{effect.kind.replace('.', '-')}-{_slug(effect.target)}-{digest}{suffix}"


class OutboxExecutor:
    """Writes what would have been sent, as files a person can read."""

    SUFFIX = {"slack": ".txt", "email": ".eml", "crm": ".json"}

    def __init__(self, home: Path, now: Any) -> None:
        self.root = home / "outbox"
        self.now = now

    def _path(self, effect: Effect) -> Path:
        family = effect.kind.split(".")[0]
        return self.root / family / outbox_name(effect, self.SUFFIX.get(family, ".txt"))

    def run(self, effect: Effect) -> dict[str, Any]:
        path = self._path(effect)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(effect), encoding="utf-8")
        return {"outbox": str(path.relative_to(self.root))}

    def render(self, effect: Effect) -> str:
        p = effect.payload
        family = effect.kind.split(".")[0]
        if family == "email":
            return str(p["eml"])
        if family == "crm":
            return json.dumps(p, indent=2, sort_keys=True) + "\n"
        head = {
            "slack.invite": f"INVITE {p.get('email')} to channel {p.get('channel')}",
            "slack.kick": f"REMOVE {p.get('email')} from channel {p.get('channel')}",
            "slack.dm": f"DIRECT MESSAGE to {p.get('email')}",
            "slack.post": f"POST in channel {p.get('channel')}",
        }.get(effect.kind, effect.kind)
        body = p.get("text", "")
        return f"{head}\nat: {self.now().isoformat()}\nkey: {effect.key}\n\n{body}\n"

    def reconcile(self, effect: Effect, started_at: datetime) -> dict[str, Any] | None:
        path = self._path(effect)
        return {"outbox": str(path.relative_to(self.root))} if path.exists() else None


class SlackExecutor:
    def __init__(self, client: SlackClient) -> None:
        self.client = client

    def run(self, effect: Effect) -> dict[str, Any]:
        p = effect.payload
        try:
            if effect.kind == "slack.invite":
                return {"outcome": self.client.invite(p["channel"], p["user_id"])}
            if effect.kind == "slack.kick":
                return {"outcome": self.client.kick(p["channel"], p["user_id"])}
            channel = self.client.open_dm(p["user_id"]) if effect.kind == "slack.dm" else p["channel"]
            # The text also goes as a verbatim Block Kit section, so Slack auto-parses nothing in it.
            blocks = p.get("blocks") or [plain_section(p["text"])]
            return {"ts": self.client.post(channel, p["text"], blocks=blocks, metadata_key=effect.key)}
        except SlackError as exc:
            raise EffectFailed(
                _slack_why(exc), permanent=exc.code in PERMANENT_SLACK, unknown=exc.code == "unknown_outcome"
            ) from None

    def reconcile(self, effect: Effect, started_at: datetime) -> dict[str, Any] | None:
        if effect.kind not in ("slack.dm", "slack.post"):
            return None  # invite and kick are safe to repeat
        p = effect.payload
        try:
            channel = self.client.open_dm(p["user_id"]) if effect.kind == "slack.dm" else p["channel"]
            oldest = (started_at - LOOKBACK).timestamp()
            ts = self.client.find_posted(channel, effect.key, oldest=oldest)
        except SlackError as exc:
            raise EffectFailed(f"could not check whether it was sent: {_slack_why(exc)}", permanent=False) from None
        return {"ts": ts} if ts else None


def _slack_why(exc: SlackError) -> str:
    hint = getattr(exc, "hint", "") or ""
    return f"Slack said {exc.code}" + (f" ({hint})" if hint else "")


class AirtableExecutor:
    """Job-owned cells, through the write-back helper (only changed values, never an M field).

    Cell updates of one table that are next to each other in the queue are written together
    (:meth:`run_batch`): up to 10 records a call, the cells of one record merged in queue order.
    """

    BATCH_RECORDS = 10  # Airtable takes at most 10 records a write call

    def __init__(self, writer: RecordWriter) -> None:
        self.writer = writer

    def run(self, effect: Effect) -> dict[str, Any]:
        p = effect.payload
        if effect.kind == "airtable.update":
            outcome = self.run_batch([effect])[effect.key]
            if isinstance(outcome, EffectFailed):
                raise outcome
            return outcome
        try:
            if effect.kind == "airtable.upsert":
                record_id = self.writer.upsert(p["base"], p["table"], p["merge_on"], p["cells"])
                return {"id": record_id}
        except AirtableError as exc:
            raise _airtable_failed(exc) from None
        raise EffectFailed(f"unknown effect kind {effect.kind}")

    def batch_key(self, effect: Effect) -> Hashable | None:
        if effect.kind != "airtable.update":
            return None
        return (effect.payload["base"], effect.payload["table"])

    def batch_room(self, batch: list[Effect], effect: Effect) -> bool:
        records = {e.payload["id"] for e in batch}
        return effect.payload["id"] in records or len(records) < self.BATCH_RECORDS

    def run_batch(self, effects: list[Effect]) -> dict[str, dict[str, Any] | EffectFailed]:
        """One write for all of them (they share base and table, at most 10 records).

        A record Airtable refuses (422) fails the effects that wrote it and nothing else; any
        other Airtable error leaves every one of them to be tried again (transient).
        """
        base, table = effects[0].payload["base"], effects[0].payload["table"]
        changes: dict[str, dict[str, Any]] = {}
        for e in effects:
            changes.setdefault(e.payload["id"], {}).update(e.payload["cells"])
        try:
            result = self.writer.update(base, table, changes)
        except AirtableError as exc:
            failed = _airtable_failed(exc)
            return {e.key: failed for e in effects}
        outcomes: dict[str, dict[str, Any] | EffectFailed] = {}
        for e in effects:
            why = result.failed.get(e.payload["id"])
            outcomes[e.key] = {"written": result.written} if why is None else EffectFailed(why)
        shared = [rid for rid in result.failed if sum(e.payload["id"] == rid for e in effects) > 1]
        for rid in shared:
            # Several effects wrote this record and Airtable refused the merged cells: find the bad one(s).
            for e in (e for e in effects if e.payload["id"] == rid):
                outcomes[e.key] = self._alone(e)
        return outcomes

    def _alone(self, effect: Effect) -> dict[str, Any] | EffectFailed:
        p = effect.payload
        try:
            result = self.writer.update(p["base"], p["table"], {p["id"]: p["cells"]})
        except AirtableError as exc:
            return _airtable_failed(exc)
        return EffectFailed(result.failed[p["id"]]) if p["id"] in result.failed else {"written": result.written}

    def reconcile(self, effect: Effect, started_at: datetime) -> dict[str, Any] | None:
        return None  # updates and upserts are safe to repeat


def _airtable_failed(exc: AirtableError) -> EffectFailed:
    """422 = the data must be fixed (permanent); anything else may pass (transient)."""
    return EffectFailed(f"Airtable said {exc.code}: {exc.message}", permanent=exc.status == 422)


class StateExecutor:
    """Local memory the rules read next time (e.g. who was nudged), written in queue order."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def run(self, effect: Effect) -> dict[str, Any]:
        self.store.set_state(effect.payload["key"], effect.payload["value"])
        return {}

    def reconcile(self, effect: Effect, started_at: datetime) -> dict[str, Any] | None:
        return None
