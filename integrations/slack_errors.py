"""Slack's failures as one :class:`SlackError` (a ServiceError): Slack's own code and words, which codes mean "try later" and which "fix something", and the hints that say what."""

from __future__ import annotations

import http.client
import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from slack_sdk.errors import SlackApiError

from integrations.errors import ServiceError
from integrations.http import retry_after_seconds, scrub
from integrations.slack_format import (
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
