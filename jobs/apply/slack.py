"""Slack effects: invite, remove, direct messages, channel posts, file uploads.

A post carries its effect key as message metadata, so an effect whose answer was lost is looked
up (``find_posted``) before it is ever sent again — by its key, or by the effect's
``check_prefix`` (the at-risk nudge, whose key carries the day). A file upload is looked up by
its title (``find_uploaded``). A direct message to a Slack user id that no longer exists is
sent (and looked up) with the id found by the partner's e-mail.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from integrations.slack import SlackClient, SlackError
from integrations.slack_format import plain_section
from jobs.apply.drain import EffectFailed, Result
from jobs.plan import Block, ChannelPost, DirectMessage, Effect, FileUpload, Invite, Kick

# How far back a post whose outcome is unknown is looked for: generous, so clock skew between
# this machine and Slack cannot hide a message that did go out.
LOOKBACK = timedelta(days=1)
STALE_USER = frozenset({"user_not_found", "users_not_found", "account_inactive", "user_disabled"})


def _failed(exc: SlackError) -> EffectFailed:
    return EffectFailed.of(exc)


def _blocks(text: str, blocks: list[Block]) -> list[Block]:
    # The text also goes as a verbatim Block Kit section, so Slack auto-parses nothing in it.
    return blocks or [plain_section(text)]


class SlackExecutor:
    def __init__(self, client: SlackClient) -> None:
        self.client = client

    def run(self, effect: Effect) -> Result:
        p = effect.payload
        try:
            if isinstance(p, Invite):
                return {"outcome": self.client.invite(p.channel, p.user_id)}
            if isinstance(p, Kick):
                return {"outcome": self.client.kick(p.channel, p.user_id)}
            if isinstance(p, DirectMessage):
                return self._dm(effect, p)
            if isinstance(p, ChannelPost):
                ts = self.client.post(p.channel, p.text, blocks=_blocks(p.text, p.blocks), metadata_key=effect.key)
                return {"ts": ts}
            if isinstance(p, FileUpload):
                file_id = self.client.upload_file(p.channel, p.filename, base64.b64decode(p.content), title=p.title)
                return {"file": file_id}
        except SlackError as exc:
            raise _failed(exc) from None
        raise EffectFailed(f"Slack cannot carry out {effect.kind}")

    def _dm(self, effect: Effect, p: DirectMessage) -> Result:
        channel = self._open(p)
        ts = self.client.post(channel, p.text, blocks=_blocks(p.text, p.blocks), metadata_key=effect.key)
        return {"ts": ts, "channel": channel}

    def _open(self, p: DirectMessage) -> str:
        """The direct-message channel with the partner (found again by e-mail if the id is stale)."""
        try:
            return self.client.open_dm(p.user_id)
        except SlackError as exc:
            if exc.code not in STALE_USER:
                raise
            found = self.client.lookup_user_by_email(p.email)
            if found is None or found == p.user_id:
                raise
            return self.client.open_dm(found)  # the partner's Slack account changed

    def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
        p = effect.payload
        oldest = (started_at - LOOKBACK).timestamp()
        try:
            if isinstance(p, FileUpload):
                file_id = self.client.find_uploaded(p.channel, p.title, oldest=oldest)
                return {"file": file_id} if file_id else None
            if not isinstance(p, DirectMessage | ChannelPost):
                return None  # invite and kick are safe to repeat
            channel = self._open(p) if isinstance(p, DirectMessage) else p.channel
            key, prefix = (effect.check_prefix, True) if effect.check_prefix else (effect.key, False)
            ts = self.client.find_posted(channel, key, oldest=oldest, prefix=prefix)
        except SlackError as exc:
            raise EffectFailed(f"could not check whether it was sent: {exc}", permanent=False) from None
        return {"ts": ts} if ts else None
