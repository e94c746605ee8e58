"""Slack effects: invite, remove, direct messages, channel posts, file uploads.

A post carries its effect key as message metadata, so an effect whose answer was lost is looked
up (``find_posted``) before it is ever sent again — by its key, or by the effect's
``check_prefix`` (the at-risk nudge, whose key carries the day); a file upload by its title
(``find_uploaded``). An invite, a removal or a direct message to a
Slack user id that no longer exists is tried once more with the id found by the partner's e-mail;
when the e-mail finds nobody either, the invite and the message fail for good in plain words, and
the removal is done (someone who is not in the workspace is not in the channel).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from integrations.slack import SlackClient, SlackError
from integrations.slack_format import plain_section
from jobs.apply.drain import EffectFailed, Result
from jobs.plan import Block, ChannelPost, DirectMessage, Effect, FileUpload, Invite, Kick

# How far back a post whose outcome is unknown is looked for: generous, so clock skew between
# this machine and Slack cannot hide a message that did go out.
LOOKBACK = timedelta(days=1)
STALE_USER = frozenset({"user_not_found", "users_not_found", "account_inactive", "user_disabled"})
GONE = "gone"  # a removal whose partner is no longer in the workspace
T = TypeVar("T")


class UserGone(Exception):
    """Neither the stored Slack user id nor the partner's e-mail finds a workspace member."""

    def __init__(self, email: str, user_id: str) -> None:
        super().__init__(email)
        self.why = (
            f"Slack has no active member with the e-mail {email} (the Slack user {user_id} no longer "
            "exists): nothing was sent. Once they are in Slack again (with that e-mail) it works by "
            "itself; if they use another e-mail in Slack, correct Email on the partner"
        )


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
                return {"outcome": self._as_user(p.email, p.user_id, lambda u: self.client.invite(p.channel, u))}
            if isinstance(p, Kick):
                return {"outcome": self._kick(p)}
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
        except UserGone as exc:
            raise EffectFailed(exc.why) from None
        raise EffectFailed(f"Slack cannot carry out {effect.kind}")

    def _as_user(self, email: str, user_id: str, call: Callable[[str], T]) -> T:
        """``call`` with the stored user id; if Slack no longer knows it, with the id the e-mail finds."""
        try:
            return call(user_id)
        except SlackError as exc:
            if exc.code not in STALE_USER or not email:
                raise
            found = self.client.lookup_user_by_email(email)
            if found is None:
                raise UserGone(email, user_id) from None
            if found == user_id:
                raise
            return call(found)  # the partner's Slack account changed

    def _kick(self, p: Kick) -> str:
        try:
            return self._as_user(p.email, p.user_id, lambda u: self.client.kick(p.channel, u))
        except UserGone:
            return GONE

    def _dm(self, effect: Effect, p: DirectMessage) -> Result:
        channel = self._as_user(p.email, p.user_id, self.client.open_dm)
        ts = self.client.post(channel, p.text, blocks=_blocks(p.text, p.blocks), metadata_key=effect.key)
        return {"ts": ts, "channel": channel}

    def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
        p = effect.payload
        oldest = (started_at - LOOKBACK).timestamp()
        try:
            if isinstance(p, FileUpload):  # found by its title (unique: the digest's names its week)
                file_id = self.client.find_uploaded(p.channel, p.title, oldest=oldest)
                return {"file": file_id} if file_id else None
            if not isinstance(p, DirectMessage | ChannelPost):
                return None  # invite and kick are safe to repeat
            if isinstance(p, DirectMessage):
                channel = self._as_user(p.email, p.user_id, self.client.open_dm)
            else:
                channel = p.channel
            key, prefix = (effect.check_prefix, True) if effect.check_prefix else (effect.key, False)
            ts = self.client.find_posted(channel, key, oldest=oldest, prefix=prefix)
        except UserGone:
            return None  # nobody to have sent it to
        except SlackError as exc:
            raise EffectFailed(f"could not check whether it was sent: {exc}", permanent=False) from None
        return {"ts": ts} if ts else None
