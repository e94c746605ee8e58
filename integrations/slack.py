"""Slack Web API calls the jobs make, over slack-sdk's ``WebClient``.

Base URL, token, timeout and the retry ``sleep`` are injected so tests can point the client at
``tests/fakes/slack.py``.  Every failure surfaces as one :class:`SlackError` (an
:class:`~integrations.errors.ServiceError`): the HTTP status (0 = no answer), Slack's ``error``
code, Slack's own words, the URL and the API method; the token never appears in it.  Callers ask
``err.retryable`` and ``err.outcome_unknown``, never a list of codes of their own.

Retries: a 429 is retried (bounded, after ``Retry-After``) for every call, since Slack rejected
the request.  Idempotent calls (look-ups, invite, kick, open, history, info, the upload ticket)
are also retried once after a lost connection, a timeout or a 5xx.  The two calls that publish
something are NOT: ``chat.postMessage`` and ``files.completeUploadExternal``.  A lost answer,
timeout or 5xx there raises ``SlackError(code="unknown_outcome", outcome_unknown=True)`` and the
caller reconciles with :meth:`SlackClient.find_posted` (the message carries a metadata key) or
:meth:`SlackClient.find_uploaded` before publishing again.

Text helpers (escaping, blocks, fitting a message into Slack's limits) live in
:mod:`integrations.slack_format`.  Nothing here knows about partners or rules.
"""

from __future__ import annotations

import logging
import time
import urllib.error
from collections.abc import Callable, Iterator
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.slack_response import SlackResponse

from integrations.slack_errors import (
    _NETWORK_ERRORS,
    AMBIGUOUS_CODES,
    CHANNEL_CODES,
    DEFAULT_API_URL,
    DEFAULT_TIMEOUT,
    HINT_AUTH,
    HINT_BOT_NOT_MEMBER,
    HINT_MISSING_SCOPE,
    HINT_POSTED,
    HINT_UPLOADED,
    HISTORY_PAGE,
    MAX_RETRY_AFTER_SECONDS,
    NOT_FOUND_CODES,
    PUBLISHING_METHODS,
    RATE_LIMIT_RETRIES,
    REQUIRED_SCOPES,
    UNKNOWN_OUTCOME,
    UPLOAD_STEP,
    SlackError,
    _error_from_api,
    _header,
)
from integrations.slack_format import (
    MAX_FALLBACK_CHARS,
    METADATA_EVENT_TYPE,
    Block,
    fit_message,
    metadata_for,
    truncate,
)
from integrations.slack_retry import (
    _ConnectionRetry,
    _RateLimitRetry,
    _ServerErrorRetry,
    _TracingWebClient,
    normalise_base_url,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- client


class SlackClient:
    """The Slack calls the jobs make (bot token, ``xoxb-``)."""

    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: int = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        rate_limit_retries: int = RATE_LIMIT_RETRIES,
        max_retry_after: float = MAX_RETRY_AFTER_SECONDS,
    ) -> None:
        self.api_url = normalise_base_url(api_url)
        self._token = token
        self._web = _TracingWebClient(
            token=token,
            base_url=self.api_url,
            timeout=timeout,
            retry_handlers=[
                _RateLimitRetry(rate_limit_retries, sleep, max_retry_after),
                _ConnectionRetry(sleep),
                _ServerErrorRetry(sleep),
            ],
        )

    # plumbing ---------------------------------------------------------------------------------

    def _url(self, method: str) -> str:
        return self.api_url + method

    def _call(self, method: str, fn: Callable[..., SlackResponse], **kwargs: Any) -> dict[str, Any]:
        try:
            response = fn(**kwargs)
        except SlackApiError as exc:
            raise self._api_error(method, exc) from None
        except SlackClientError as exc:
            raise self._client_error(method, exc) from None
        except _NETWORK_ERRORS as exc:
            raise SlackError(
                method, "network_error", message=f"no answer: {type(exc).__name__}", url=self._url(method)
            ) from None
        data = response.data if isinstance(response.data, dict) else {}
        out = dict(data)
        out["_headers"] = dict(response.headers or {})
        return out

    def _api_error(self, method: str, exc: SlackApiError) -> SlackError:
        return _error_from_api(method, self._url(method), exc, self._token)

    def _client_error(self, method: str, exc: SlackClientError) -> SlackError:
        return SlackError(method, "client_error", message=type(exc).__name__, url=self._url(method))

    def _unknown(self, method: str, status: int, why: str, hint: str, file_id: str = "") -> SlackError:
        return SlackError(
            method,
            UNKNOWN_OUTCOME,
            status=status,
            message=f"the answer was lost ({why})",
            url=self._url(method),
            outcome_unknown=True,
            hint=hint,
            file_id=file_id,
        )

    def _history(self, channel: str, oldest: float) -> Iterator[dict[str, Any]]:
        """Messages in ``channel`` after ``oldest`` (epoch seconds), newest first, page by page."""
        cursor: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "channel": channel,
                "oldest": f"{oldest:.6f}",
                "include_all_metadata": True,
                "limit": HISTORY_PAGE,
            }
            if cursor:
                kwargs["cursor"] = cursor
            data = self._call("conversations.history", self._web.conversations_history, **kwargs)
            yield from data.get("messages") or []
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    # auth / scopes ----------------------------------------------------------------------------

    def auth_test(self) -> dict[str, Any]:
        """{"team", "team_id", "user_id", "bot_id", "url", "scopes"}; scopes is None if Slack did not say."""
        data = self._call("auth.test", self._web.auth_test)
        header = _header(data.get("_headers"), "x-oauth-scopes")
        scopes = None if header is None else [s.strip() for s in header.split(",") if s.strip()]
        return {
            "team": data.get("team"),
            "team_id": data.get("team_id"),
            "user_id": data.get("user_id"),
            "bot_id": data.get("bot_id"),
            "url": data.get("url"),
            "scopes": scopes,
        }

    def missing_scopes(self, required: list[str] | None = None) -> list[str]:
        """The required scopes the token lacks (in the given order)."""
        scopes = self.auth_test()["scopes"]
        if scopes is None:
            raise SlackError(
                "auth.test",
                "scopes_unknown",
                status=200,
                url=self._url("auth.test"),
                hint="Slack sent no x-oauth-scopes header; check by hand",
            )
        granted = set(scopes)
        return [s for s in (REQUIRED_SCOPES if required is None else required) if s not in granted]

    # users / membership -----------------------------------------------------------------------

    def lookup_user_by_email(self, email: str) -> str | None:
        """The member's user id, or None when no (active) workspace member has this e-mail.

        Only Slack's definite "not found" answer means None; a 5xx or a timeout (after the one
        retry) raises a retryable :class:`SlackError`.
        """
        try:
            data = self._call("users.lookupByEmail", self._web.users_lookupByEmail, email=email)
        except SlackError as exc:
            if exc.code in NOT_FOUND_CODES and exc.status == 200:
                return None
            raise
        user = data.get("user") or {}
        if user.get("deleted"):
            return None
        uid = user.get("id")
        return str(uid) if uid else None

    def user_name_by_email(self, email: str) -> str | None:
        """The name people see for the member with this e-mail: their display name, else their
        real name; None when no (active) member has this e-mail or Slack holds no name for them.

        One ``users.lookupByEmail`` call (``users:read.email``), retried and raised like
        :meth:`lookup_user_by_email`.
        """
        try:
            data = self._call("users.lookupByEmail", self._web.users_lookupByEmail, email=email)
        except SlackError as exc:
            if exc.code in NOT_FOUND_CODES and exc.status == 200:
                return None
            raise
        user = data.get("user") or {}
        if user.get("deleted"):
            return None
        profile = user.get("profile") or {}
        for name in (profile.get("display_name"), profile.get("real_name"), user.get("real_name")):
            if isinstance(name, str) and name.strip():
                return name.strip()
        return None

    def invite(self, channel: str, user_id: str) -> str:
        """Add one user to a channel: "invited", or "already_in" when they were a member already."""
        try:
            self._call("conversations.invite", self._web.conversations_invite, channel=channel, users=[user_id])
        except SlackError as exc:
            if exc.code == "already_in_channel":
                return "already_in"
            if exc.code in ("not_in_channel", "channel_not_found"):
                raise exc.with_hint(HINT_BOT_NOT_MEMBER) from None
            raise
        return "invited"

    def kick(self, channel: str, user_id: str) -> str:
        """Remove one user from a channel: "removed", or "not_in" when they were not a member."""
        try:
            self._call("conversations.kick", self._web.conversations_kick, channel=channel, user=user_id)
        except SlackError as exc:
            if exc.code == "not_in_channel":  # here: the *target* is not in the channel
                return "not_in"
            if exc.code == "channel_not_found":
                raise exc.with_hint(HINT_BOT_NOT_MEMBER) from None
            raise
        return "removed"

    def open_dm(self, user_id: str) -> str:
        """The id of the bot's direct-message channel with this user (opened if needed)."""
        data = self._call("conversations.open", self._web.conversations_open, users=[user_id])
        return str((data.get("channel") or {})["id"])

    # messages ---------------------------------------------------------------------------------

    def post(self, channel: str, text: str, *, blocks: list[Block] | None = None, metadata_key: str) -> str:
        """Post a message marked with ``metadata_key``; returns its ts.

        ``text`` is sent as given (the notification fallback when ``blocks`` are used): escape
        outside values first (:mod:`integrations.slack_format`).  Text and blocks are cut to
        Slack's limits (:func:`~integrations.slack_format.fit_message`).  No link unfurling, no
        ``link_names``.  Raises ``SlackError(code="unknown_outcome", outcome_unknown=True)`` when
        the answer was lost: the message may or may not be in the channel; call
        :meth:`find_posted` before posting again.
        """
        method = "chat.postMessage"
        text, blocks = fit_message(text, blocks)
        try:
            response = self._web.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                metadata=metadata_for(metadata_key),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            err = self._api_error(method, exc)
            if err.status >= 500 or err.code in AMBIGUOUS_CODES:
                raise self._unknown(method, err.status, err.code, HINT_POSTED) from None
            raise err from None
        except SlackClientError as exc:
            raise self._client_error(method, exc) from None
        except _NETWORK_ERRORS as exc:
            raise self._unknown(method, 0, type(exc).__name__, HINT_POSTED) from None
        ts = response.get("ts")
        if not ts:
            raise self._unknown(method, response.status_code, "no ts in answer", HINT_POSTED)
        return str(ts)

    def find_posted(self, channel: str, metadata_key: str, *, oldest: float, prefix: bool = False) -> str | None:
        """The ts of the newest message posted after ``oldest`` (epoch seconds) with this metadata
        key — or, with ``prefix``, with a key that starts with ``metadata_key`` — or None."""
        for message in self._history(channel, oldest):
            meta = message.get("metadata") or {}
            key = (meta.get("event_payload") or {}).get("key")
            if meta.get("event_type") != METADATA_EVENT_TYPE or not isinstance(key, str):
                continue
            if key == metadata_key or (prefix and key.startswith(metadata_key)):
                return str(message["ts"])
        return None

    # files ------------------------------------------------------------------------------------

    def upload_file(
        self, channel: str, filename: str, content: bytes, title: str, initial_comment: str | None = None
    ) -> str:
        """Share ``content`` as a file in ``channel`` (with an optional message); returns the file id.

        slack-sdk's ``files_upload_v2``: files.getUploadURLExternal (a ticket: file id and upload
        URL), a POST of the bytes to that URL, then files.completeUploadExternal with
        ``channel_id``, which shares it.  A failure before the last step shared nothing (retryable
        ``upload_failed``/``network_error``); a lost answer on the last step raises
        ``unknown_outcome`` (``outcome_unknown=True``, ``file_id`` set): call
        :meth:`find_uploaded` with the title (make it unique, e.g. with the week) or the file id
        before uploading again.  ``initial_comment`` is sent as given: escape outside values.
        One upload at a time per client (the step under way is remembered on the client).
        """
        self._web.last_method = self._web.last_file_id = ""
        comment = truncate(initial_comment, MAX_FALLBACK_CHARS) if initial_comment else None
        try:
            response = self._web.files_upload_v2(
                channel=channel, filename=filename, content=content, title=title, initial_comment=comment
            )
        except SlackApiError as exc:
            raise self._upload_api_error(exc) from None
        except SlackClientError as exc:
            raise self._upload_client_error(exc) from None
        except _NETWORK_ERRORS as exc:
            raise self._upload_lost(exc) from None
        file = response.get("file") or {}
        file_id = str(file.get("id") or self._web.last_file_id)
        if not file_id:
            raise self._unknown("files.completeUploadExternal", response.status_code, "no file id", HINT_UPLOADED)
        return file_id

    def _upload_api_error(self, exc: SlackApiError) -> SlackError:
        method = self._web.last_method or "files.getUploadURLExternal"
        err = self._api_error(method, exc)
        if method in PUBLISHING_METHODS and (err.status >= 500 or err.code in AMBIGUOUS_CODES):
            return self._unknown(method, err.status, err.code, HINT_UPLOADED, self._web.last_file_id)
        return err.with_hint(HINT_BOT_NOT_MEMBER) if err.code in CHANNEL_CODES else err

    def _upload_client_error(self, exc: SlackClientError) -> SlackError:
        if self._web.last_file_id and self._web.last_method == "files.getUploadURLExternal":
            # slack-sdk raises SlackRequestError when the upload URL answers anything but 200.
            return SlackError(UPLOAD_STEP, "upload_failed", message="the upload URL refused the file's bytes")
        return self._client_error(self._web.last_method or "files.getUploadURLExternal", exc)

    def _upload_lost(self, exc: BaseException) -> SlackError:
        method = self._web.last_method or "files.getUploadURLExternal"
        if method in PUBLISHING_METHODS:
            return self._unknown(method, 0, type(exc).__name__, HINT_UPLOADED, self._web.last_file_id)
        if not self._web.last_file_id:  # no ticket: files.getUploadURLExternal had no answer
            return SlackError(
                method, "network_error", message=f"no answer: {type(exc).__name__}", url=self._url(method)
            )
        status = exc.code if isinstance(exc, urllib.error.HTTPError) else 0
        why = f"HTTP {status}" if status else type(exc).__name__
        # The upload URL is a one-time capability: it stays out of the error.
        return SlackError(
            UPLOAD_STEP, "upload_failed", status=status, message=f"the file's bytes did not arrive ({why})"
        )

    def find_uploaded(self, channel: str, marker: str, *, oldest: float) -> str | None:
        """The id of a file shared in ``channel`` after ``oldest`` whose title or id is ``marker``, or None.

        Reads the channel's history (the share is a message carrying the file), so it needs no
        scope beyond the history ones; Slack may take a moment to show a fresh share.
        """
        for message in self._history(channel, oldest):
            for file in message.get("files") or []:
                if marker in (file.get("id"), file.get("title")):
                    return str(file["id"])
        return None

    # check ------------------------------------------------------------------------------------

    def channel_info(self, channel: str) -> dict[str, Any]:
        """conversations.info's channel object (id, name, is_private, is_member, is_archived, ...)."""
        try:
            data = self._call("conversations.info", self._web.conversations_info, channel=channel)
        except SlackError as exc:
            if exc.code in ("channel_not_found", "not_in_channel"):
                raise exc.with_hint(HINT_BOT_NOT_MEMBER) from None
            raise
        return dict(data.get("channel") or {})


__all__ = [
    "HINT_AUTH",
    "HINT_BOT_NOT_MEMBER",
    "HINT_MISSING_SCOPE",
    "REQUIRED_SCOPES",
    "SlackClient",
    "SlackError",
    "normalise_base_url",
]
