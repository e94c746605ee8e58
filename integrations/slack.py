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

import http.client
import logging
import re
import time
import urllib.error
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.slack_response import SlackResponse

from integrations.errors import ServiceError
from integrations.http import retry_after_seconds, scrub
from integrations.slack_format import (
    MAX_FALLBACK_CHARS,
    METADATA_EVENT_TYPE,
    Block,
    fit_message,
    metadata_for,
    truncate,
)

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_TIMEOUT = 15
RATE_LIMIT_RETRIES = 2
MAX_RETRY_AFTER_SECONDS = 60.0  # a longer Retry-After is not waited out: SlackError("ratelimited")
NETWORK_RETRIES = 1
NETWORK_BACKOFF_SECONDS = 1.0
HISTORY_PAGE = 200

# Bot scopes the calls below need (Slack app "OAuth & Permissions").
REQUIRED_SCOPES = [
    "users:read",  # required together with users:read.email
    "users:read.email",  # users.lookupByEmail
    "groups:write",  # conversations.invite / conversations.kick on private channels
    "groups:read",  # conversations.info on private channels (`check`)
    "groups:history",  # conversations.history on private channels (find_posted, find_uploaded)
    "channels:read",  # conversations.info on a public managers' channel (`check`)
    "channels:history",  # conversations.history on a public managers' channel (find_posted, find_uploaded)
    "chat:write",  # chat.postMessage
    "im:write",  # conversations.open (1:1 DM)
    "im:history",  # conversations.history on a DM (find_posted after an unknown-outcome nudge)
    "files:write",  # files.getUploadURLExternal + files.completeUploadExternal (the digest's chart)
]

# Calls that publish something: never repeated after an answer that may have been lost.
PUBLISHING_METHODS = frozenset({"chat.postMessage", "files.completeUploadExternal"})
# Slack codes meaning "the server may have done part of the work" (besides HTTP 5xx).
AMBIGUOUS_CODES = frozenset({"fatal_error", "internal_error", "request_timeout", "service_unavailable"})
# Codes a look-up by e-mail uses for "no such member" (users_not_found today, user_not_found in older docs).
NOT_FOUND_CODES = frozenset({"users_not_found", "user_not_found"})
# Codes meaning "the bot cannot see or post in this channel".
CHANNEL_CODES = frozenset({"channel_not_found", "not_in_channel", "invalid_channel"})
UNKNOWN_OUTCOME = "unknown_outcome"
UPLOAD_STEP = "files.upload"  # the POST of the bytes to the upload URL (not a Web API method)

HINT_BOT_NOT_MEMBER = (
    "the bot cannot see or act in this channel: add the app to the private channel first "
    "(in Slack: open the channel, type /invite @<bot name>), and check the channel id"
)
HINT_MISSING_SCOPE = "add the missing scope to the Slack app (OAuth & Permissions) and reinstall it"
HINT_AUTH = "SLACK_BOT_TOKEN is wrong, revoked, or for another workspace: copy the Bot User OAuth Token again"
HINT_POSTED = "the message may have been posted - check with find_posted before re-sending"
HINT_UPLOADED = "the file may have been shared - check with find_uploaded before uploading again"

_AUTH_CODES = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})
_NETWORK_ERRORS = (OSError, http.client.HTTPException)
_CODE_RE = re.compile(r"[a-z][a-z0-9_.]*")
_MAX_WORDS = 300


class SlackError(ServiceError):
    """A Slack call failed.  ``code`` is Slack's ``error``; ``method`` the Web API method.

    Also ``needed``/``provided`` (scopes, on ``missing_scope``), ``retry_after`` (seconds, on a
    429) and ``file_id`` (the upload ticket, when an upload's outcome is unknown).
    """

    service: ClassVar[str] = "Slack"
    transient_codes: ClassVar[frozenset[str]] = frozenset(
        {
            "ratelimited",
            "rate_limited",
            "internal_error",
            "fatal_error",
            "service_unavailable",
            "request_timeout",
            "message_limit_exceeded",  # a free workspace's volume cap: later works
            "fetch_members_failed",
            "team_added_to_org",
            "org_login_required",
            "network_error",
            "http_error",
            "upload_failed",  # the bytes did not arrive: nothing was shared, a new upload works
            UNKNOWN_OUTCOME,
        }
    )
    permanent_codes: ClassVar[frozenset[str]] = frozenset(
        {
            # the channel, the bot's place in it, or the user
            "channel_not_found",
            "not_in_channel",
            "invalid_channel",
            "is_archived",
            "posting_to_channel_denied",
            "user_not_found",
            "users_not_found",
            "user_disabled",
            "user_not_visible",
            "user_is_restricted",
            "user_is_ultra_restricted",
            "ura_max_channels",
            "cant_invite",
            "cant_invite_self",
            "cant_kick_self",
            "cant_kick_from_general",
            "no_external_invite_permission",
            "restricted_action",
            "restricted_action_read_only_channel",
            "restricted_action_thread_only_channel",
            "restricted_action_non_threadable_channel",
            "method_not_supported_for_channel_type",
            "not_supported",
            "no_user",
            "invalid_user_combination",
            # the token and the app
            "missing_scope",
            "invalid_auth",
            "not_authed",
            "account_inactive",
            "token_revoked",
            "token_expired",
            "no_permission",
            "access_denied",
            "accesslimited",
            "ekm_access_denied",
            "not_allowed_token_type",
            "two_factor_setup_required",
            "enterprise_is_restricted",
            "team_access_not_granted",
            # the request itself
            "invalid_blocks",
            "invalid_blocks_format",
            "msg_too_long",
            "msg_blocks_too_long",
            "no_text",
            "too_many_attachments",
            "invalid_metadata_format",
            "invalid_metadata_schema",
            "metadata_too_large",
            "invalid_arguments",
            "invalid_arg_name",
            "invalid_array_arg",
            "invalid_charset",
            "invalid_form_data",
            "invalid_post_type",
            "missing_post_type",
            "invalid_cursor",
            "invalid_ts_oldest",
            "unknown_method",
            "method_deprecated",
            "deprecated_endpoint",
            # files
            "storage_limit_reached",
            "file_uploads_disabled",
            "file_upload_size_restricted",
            "client_error",
        }
    )

    def __init__(
        self,
        method: str,
        code: str,
        *,
        status: int = 0,
        message: str = "",
        url: str = "",
        outcome_unknown: bool = False,
        hint: str = "",
        needed: str = "",
        provided: str = "",
        retry_after: float | None = None,
        file_id: str = "",
    ) -> None:
        self.method = method
        self.needed = needed
        self.provided = provided
        self.retry_after = retry_after
        self.file_id = file_id
        super().__init__(status, code, message, url=url, outcome_unknown=outcome_unknown, hint=hint)

    def with_hint(self, hint: str) -> SlackError:
        """The same failure with a plain-words hint on what to do."""
        return SlackError(
            self.method,
            self.code,
            status=self.status,
            message=self.message,
            url=self.url,
            outcome_unknown=self.outcome_unknown,
            hint=hint,
            needed=self.needed,
            provided=self.provided,
            retry_after=self.retry_after,
            file_id=self.file_id,
        )


# --------------------------------------------------------------------------- retries


def _header(headers: Mapping[str, object] | None, name: str) -> str | None:
    for k, v in (headers or {}).items():
        if str(k).lower() == name:
            if isinstance(v, (list, tuple)):
                return str(v[0]) if v else None
            return str(v)
    return None


def _retry_after(headers: Mapping[str, object] | None) -> float:
    seconds = retry_after_seconds(_header(headers, "retry-after"))
    return 1.0 if seconds is None else seconds


def _method_of(request: HttpRequest) -> str:
    return request.url.split("?", 1)[0].rsplit("/", 1)[-1]


def _repeatable(request: HttpRequest) -> bool:
    """May this request be sent again after its answer was lost?"""
    return _method_of(request) not in PUBLISHING_METHODS


class _RateLimitRetry(RateLimitErrorRetryHandler):
    """slack-sdk's 429 handler with an injected sleep, retrying only a Retry-After we will wait out."""

    def __init__(self, max_retry_count: int, sleep: Callable[[float], None], max_wait: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self._max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code == 429 and _retry_after(response.headers) <= self._max_wait

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = _retry_after(response.headers if response is not None else None)
        log.warning("Slack rate limit on %s; waiting %.0f s", _method_of(request), wait)
        self._sleep(wait)
        state.increment_current_attempt()


class _SleepMixin(RetryHandler):
    _sleep: Callable[[float], None]

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self._sleep(NETWORK_BACKOFF_SECONDS)
        state.increment_current_attempt()


class _ConnectionRetry(_SleepMixin, ConnectionErrorRetryHandler):
    """A lost connection or a timeout, for calls that may be repeated (slack-sdk's own list lacks timeouts)."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        ConnectionErrorRetryHandler.__init__(
            self,
            max_retry_count=NETWORK_RETRIES,
            error_types=[urllib.error.URLError, ConnectionResetError, http.client.RemoteDisconnected, TimeoutError],
        )
        self._sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return _repeatable(request) and super()._can_retry(state=state, request=request, response=response, error=error)


class _ServerErrorRetry(_SleepMixin, ServerErrorRetryHandler):
    """Any 5xx, for calls that may be repeated."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        ServerErrorRetryHandler.__init__(self, max_retry_count=NETWORK_RETRIES)
        self._sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return _repeatable(request) and response is not None and response.status_code >= 500


class _TracingWebClient(WebClient):
    """slack-sdk's WebClient, remembering the last Web API method it called and the last upload ticket.

    ``files_upload_v2`` makes three requests and only the last (files.completeUploadExternal)
    shares the file, so a failure means "maybe shared" only when that request was under way.
    """

    last_method: str = ""
    last_file_id: str = ""

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        self.last_method = api_method
        response = super().api_call(api_method, **kwargs)
        if api_method == "files.getUploadURLExternal":
            self.last_file_id = str(response.get("file_id") or "")
        return response


def normalise_base_url(url: str) -> str:
    url = (url or DEFAULT_API_URL).strip()
    return url if url.endswith("/") else url + "/"


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

    def find_posted(self, channel: str, metadata_key: str, *, oldest: float) -> str | None:
        """The ts of a message posted after ``oldest`` (epoch seconds) with this metadata key, or None."""
        for message in self._history(channel, oldest):
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == METADATA_EVENT_TYPE and payload.get("key") == metadata_key:
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


# --------------------------------------------------------------------------- errors


def _error_from_api(method: str, url: str, exc: SlackApiError, token: str) -> SlackError:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    body: dict[str, Any] = data if isinstance(data, dict) else {}
    raw = str(body.get("error") or "")
    code = raw if _CODE_RE.fullmatch(raw) else ("http_error" if status != 200 else "unknown_error")
    retry_after = _retry_after(getattr(response, "headers", None)) if status == 429 else None
    hint = HINT_MISSING_SCOPE if code == "missing_scope" else HINT_AUTH if code in _AUTH_CODES else ""
    if status == 429:
        code = "ratelimited"
        hint = f"Slack asks to wait {retry_after:.0f} s before calling {method} again"
    return SlackError(
        method,
        code,
        status=status,
        message=scrub(_slack_words(body, raw if code != raw else ""), [token]),
        url=url,
        hint=hint,
        needed=str(body.get("needed") or ""),
        provided=str(body.get("provided") or ""),
        retry_after=retry_after,
    )


def _slack_words(body: Mapping[str, Any], unparsed: str) -> str:
    """Slack's own explanation: the scope needed, its validation messages, or a non-JSON answer."""
    if body.get("needed"):
        return f"needed scope {body['needed']}"
    meta = body.get("response_metadata") or {}
    messages = meta.get("messages") if isinstance(meta, dict) else None
    if not messages:
        messages = body.get("errors")
    if isinstance(messages, list) and messages:
        return truncate("; ".join(str(m) for m in messages), _MAX_WORDS)
    return truncate(" ".join(unparsed.split()), _MAX_WORDS)
