"""A fake Slack Web API served over real HTTP on loopback, for tests.

``FakeSlack().url`` ends with ``/api/`` and can be given to ``slack_sdk.WebClient(base_url=...)``.
Every call is ``POST {url}{method}`` with ``Authorization: Bearer <token>`` and a JSON or
form-encoded body (slack-sdk sends chat.* as JSON, the rest as forms); both are parsed.
Errors look like Slack's: HTTP 200 with ``{"ok": false, "error": ...}`` (plus Slack's
``errors``/``response_metadata.messages`` where Slack sends them); a rate limit is HTTP 429 with
``Retry-After``.  State (users, channels, messages, DMs, files) lives in dicts; drive and inspect it
with ``add_user``, ``add_channel``, ``messages``, ``files``, ``calls``, ``fail_next``,
``slow_next``, ``scopes``.

Message limits are enforced as Slack does (see integrations/slack_format.py for the sources): a
section text over 3,000 characters (a field over 2,000, more than 10 fields, a header over 150, an
empty text) or more than 50 blocks → ``invalid_blocks``; a message over 40,000 characters in all,
or a top-level ``text`` over 4,000 → ``msg_too_long``; block texts over about 13,200 →
``msg_blocks_too_long``.

File uploads follow files_upload_v2: files.getUploadURLExternal hands out a file id and an upload
URL on this same server (``/upload/v1/<ticket>``, no token needed, as on Slack), the bytes are
POSTed there, and files.completeUploadExternal shares the file in ``channel_id`` as a message
carrying it.  ``fake.files(channel)`` returns what arrived, bytes included.
Standard library only.
"""

from __future__ import annotations

import json
import mimetypes
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import LoopbackServer, Reply, Request, Served

Json = dict[str, Any]
Response = tuple[int, Json]

DEFAULT_SCOPES = [
    "users:read",
    "users:read.email",
    "groups:write",
    "groups:read",
    "groups:history",
    "channels:read",
    "channels:history",
    "chat:write",
    "im:write",
    "im:history",
    "files:write",
]
TEAM_ID = "T0FAKE0001"
BOT_USER_ID = "U0FAKEBOT1"
BOT_ID = "B0FAKEBOT1"

SECTION_TEXT_LIMIT = 3_000
FIELD_TEXT_LIMIT = 2_000
MAX_FIELDS = 10
HEADER_TEXT_LIMIT = 150
MAX_BLOCKS = 50
MESSAGE_LIMIT = 40_000
TEXT_LIMIT = 4_000
BLOCKS_CHARS_LIMIT = 13_200
UPLOAD = "upload"  # fail_next / slow_next key for the POST of a file's bytes to its upload URL
_CHANNEL_ID_RE = re.compile(r"^[CGDZ][A-Z0-9]{8,}$")


@dataclass
class Failure:
    error: str
    status: int
    retry_after: int | None
    after_apply: bool
    drop: bool
    extra: Json
    html: bool = False


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _invalid(error: str, problems: list[str]) -> _ApiError:
    """Slack's body for a schema failure: ``errors`` and the same lines as ``[ERROR]`` messages."""
    return _ApiError(error, errors=problems, response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})


def _text_chars(value: Any) -> int:
    if isinstance(value, list):
        return sum(_text_chars(v) for v in value)
    if not isinstance(value, dict):
        return 0
    return sum(len(v) if k == "text" and isinstance(v, str) else _text_chars(v) for k, v in value.items())


def _text_problem(obj: Any, pointer: str, limit: int) -> list[str]:
    text = obj.get("text") if isinstance(obj, dict) else None
    if not isinstance(text, str):
        return []
    if not text:
        return [f"must be more than 0 characters [json-pointer:{pointer}/text]"]
    if len(text) > limit:
        return [
            f"failed to match all allowed schemas [json-pointer:{pointer}]",
            f"must be less than {limit + 1} characters [json-pointer:{pointer}/text]",
        ]
    return []


def _block_problems(index: int, block: Any) -> list[str]:
    where = f"/blocks/{index}"
    if not isinstance(block, dict) or not block.get("type"):
        return [f"missing required field: type [json-pointer:{where}]"]
    if block["type"] == "header":
        return _text_problem(block.get("text"), f"{where}/text", HEADER_TEXT_LIMIT)
    if block["type"] != "section":
        return []
    problems = _text_problem(block.get("text"), f"{where}/text", SECTION_TEXT_LIMIT)
    fields = block.get("fields")
    if isinstance(fields, list):
        if len(fields) > MAX_FIELDS:
            problems.append(f"no more than {MAX_FIELDS} items allowed [json-pointer:{where}/fields]")
        for i, field in enumerate(fields):
            problems += _text_problem(field, f"{where}/fields/{i}", FIELD_TEXT_LIMIT)
    return problems


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes")


def _ts_key(ts: str) -> float:
    return float(ts)


class FakeSlack(Served):
    """A stateful fake of the Slack Web API methods partnerops uses."""

    def __init__(self, token: str = "xoxb-fake-token", *, bot_user_id: str = BOT_USER_ID) -> None:
        self.token = token
        self.bot_user_id = bot_user_id
        self.scopes: list[str] = list(DEFAULT_SCOPES)
        self.users: dict[str, str] = {}  # email -> user id
        self.deleted: set[str] = set()
        self.names: dict[str, tuple[str, str]] = {}  # user id -> (real name, display name)
        self.channels: dict[str, Json] = {}  # id -> {"members": set, "private": bool, "im": bool, "name": str}
        self.dms: dict[str, str] = {}  # user id -> DM channel id
        self._messages: dict[str, list[Json]] = defaultdict(list)
        self._calls: dict[str, int] = defaultdict(int)
        self.requests: list[Json] = []  # {"method", "params", "json"} for every call received
        self._failures: dict[str, deque[Failure]] = defaultdict(deque)
        self._delays: dict[str, deque[float]] = defaultdict(deque)
        self._tickets: dict[str, Json] = {}  # upload ticket -> {"id", "filename", "length", "content"}
        self._files: dict[str, list[Json]] = defaultdict(list)  # channel -> shared files (with bytes)
        self._next_file = 1
        self._lock = threading.RLock()
        self._last_ts = 0.0
        self._next_user = 1
        self.http = LoopbackServer(self._respond, name="fake-slack", methods=("GET", "POST"), protocol="HTTP/1.1")
        self.base = ""
        self.url = ""

    def _started(self, base: str) -> None:
        self.base = base
        self.url = f"{base}/api/"

    # ------------------------------------------------------------------ controls

    def add_user(self, email: str, *, deleted: bool = False, real_name: str = "", display_name: str = "") -> str:
        with self._lock:
            key = email.strip().lower()
            if key in self.users:
                return self.users[key]
            uid = f"U{self._next_user:09d}"
            self._next_user += 1
            self.users[key] = uid
            self.names[uid] = (real_name, display_name)
            if deleted:
                self.deleted.add(uid)
            return uid

    def add_channel(
        self,
        channel_id: str,
        members: list[str] | None = None,
        *,
        private: bool = True,
        bot_member: bool = True,
        name: str | None = None,
    ) -> str:
        with self._lock:
            people = set(members or [])
            if bot_member:
                people.add(self.bot_user_id)
            self.channels[channel_id] = {
                "members": people,
                "private": private,
                "im": False,
                "archived": False,
                "name": name or channel_id.lower(),
            }
            return channel_id

    def members(self, channel: str) -> set[str]:
        with self._lock:
            return set(self.channels[channel]["members"])

    def messages(self, channel: str | None = None) -> list[Json]:
        """Posted messages, oldest first (all channels when ``channel`` is None)."""
        with self._lock:
            if channel is not None:
                return [dict(m) for m in self._messages.get(channel, [])]
            out = [dict(m) for msgs in self._messages.values() for m in msgs]
            return sorted(out, key=lambda m: _ts_key(m["ts"]))

    def files(self, channel: str) -> list[Json]:
        """Files shared in ``channel``, oldest first: {"id", "name", "title", "mimetype", "content" (bytes),
        "initial_comment", "ts"}."""
        with self._lock:
            return [dict(f) for f in self._files.get(channel, [])]

    def calls(self, method: str) -> int:
        with self._lock:
            return self._calls[method]

    def fail_next(
        self,
        method: str,
        error: str = "internal_error",
        *,
        status: int | None = None,
        retry_after: int | None = None,
        after_apply: bool = False,
        drop: bool = False,
        extra: Json | None = None,
        html: bool = False,
    ) -> None:
        """Make the next call of ``method`` fail (``method`` "upload": the POST of a file's bytes).

        ``status`` defaults to 429 for "ratelimited" (with ``Retry-After: 1`` unless given) and 200
        otherwise.  ``after_apply`` performs the call's effect first, then fails; ``drop`` closes
        the connection without any answer (the client sees a lost response); ``html`` answers an
        HTML error page instead of JSON (as Slack's edge does on some 5xx).
        """
        if status is None:
            status = 429 if error == "ratelimited" else 200
        if status == 429 and retry_after is None:
            retry_after = 1
        failure = Failure(error, status, retry_after, after_apply, drop, dict(extra or {}), html)
        with self._lock:
            self._failures[method].append(failure)

    def slow_next(self, method: str, seconds: float) -> None:
        """Answer the next call of ``method`` only after ``seconds`` (it is applied at once)."""
        with self._lock:
            self._delays[method].append(seconds)

    # ------------------------------------------------------------------ dispatch

    def _respond(self, request: Request) -> Reply:
        """The answer to one HTTP request: a Web API call, or the upload of a file's bytes."""
        parts = urlsplit(request.path)
        if parts.path.startswith("/upload/v1/"):
            return self.handle_upload(parts.path[len("/upload/v1/") :], request.body)
        if not parts.path.startswith("/api/"):
            return Reply(404, {"ok": False, "error": "unknown_method"}, {})
        try:
            params = _parse_body(request)
        except ValueError:
            return Reply(200, {"ok": False, "error": "invalid_json"}, {})
        for k, v in parse_qs(parts.query).items():
            params.setdefault(k, v[-1])
        return self.handle(parts.path[len("/api/") :], params, request.auth)

    def handle(self, method: str, params: Json, auth: str | None) -> Reply:
        """The answer to one Web API call."""
        with self._lock:
            self._calls[method] += 1
            self.requests.append({"method": method, "params": dict(params)})
            failure = self._failures[method].popleft() if self._failures[method] else None
            delay = self._delays[method].popleft() if self._delays[method] else 0.0
            headers = {"x-oauth-scopes": ",".join(self.scopes)}
            token = auth[len("Bearer ") :] if auth and auth.startswith("Bearer ") else params.get("token")
            if not token:
                return Reply(200, {"ok": False, "error": "not_authed"}, headers)
            if token != self.token:
                return Reply(200, {"ok": False, "error": "invalid_auth"}, headers)
            if failure is not None and not failure.after_apply:
                return self._fail(failure, headers)
            handler = self._routes().get(method)
            if handler is None:
                return Reply(200, {"ok": False, "error": "unknown_method"}, headers)
            try:
                body: Json = {"ok": True, **handler(params)}
            except _ApiError as exc:
                body = {"ok": False, "error": exc.error, **exc.extra}
            if failure is not None:
                return self._fail(failure, headers)
            return Reply(200, body, headers, delay=delay)

    def handle_upload(self, ticket: str, content: bytes) -> Reply:
        """The answer of an upload URL to the POST of a file's bytes (plain text, as on Slack)."""
        with self._lock:
            self._calls[UPLOAD] += 1
            failure = self._failures[UPLOAD].popleft() if self._failures[UPLOAD] else None
            delay = self._delays[UPLOAD].popleft() if self._delays[UPLOAD] else 0.0
            if failure is not None and not failure.after_apply:
                return self._fail(failure, {})
            pending = self._tickets.get(ticket)
            if pending is None:
                return Reply(404, "Not Found", {})
            pending["content"] = content
            if failure is not None:
                return self._fail(failure, {})
            return Reply(200, f"OK - {len(content)}", {}, delay=delay)

    def _fail(self, failure: Failure, headers: dict[str, str]) -> Reply:
        if failure.drop:
            return Reply(0, {}, headers, drop=True)
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        if failure.html:
            page = f"<html><body><h1>{failure.status} {failure.error}</h1></body></html>"
            return Reply(failure.status, page, headers)
        return Reply(failure.status, {"ok": False, "error": failure.error, **failure.extra}, headers)

    def _routes(self) -> dict[str, Callable[[Json], Json]]:
        return {
            "auth.test": self._auth_test,
            "users.lookupByEmail": self._lookup_by_email,
            "conversations.invite": self._invite,
            "conversations.kick": self._kick,
            "conversations.open": self._open,
            "conversations.info": self._info,
            "conversations.history": self._history,
            "chat.postMessage": self._post,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    # ------------------------------------------------------------------ helpers

    def _need(self, scope: str) -> None:
        if scope not in self.scopes:
            raise _ApiError("missing_scope", needed=scope, provided=",".join(self.scopes))

    def _user_ids(self) -> set[str]:
        return set(self.users.values()) | {self.bot_user_id}

    def _channel(self, params: Json, *, scope_private: str, scope_public: str, scope_im: str = "") -> Json:
        cid = str(params.get("channel") or "")
        if not cid:
            raise _ApiError("channel_not_found")
        channel = self.channels.get(cid)
        if channel is None:
            raise _ApiError("channel_not_found")
        if channel["im"]:
            self._need(scope_im or scope_private)
        else:
            self._need(scope_private if channel["private"] else scope_public)
        if channel["private"] and self.bot_user_id not in channel["members"]:
            raise _ApiError("channel_not_found")  # a private channel the bot is not in is invisible to it
        return channel

    def _new_ts(self) -> str:
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = round(now, 6)
        return f"{self._last_ts:.6f}"

    # ------------------------------------------------------------------ methods

    def _auth_test(self, params: Json) -> Json:
        return {
            "url": "https://fake-team.slack.com/",
            "team": "Fake Team",
            "user": "partnerops",
            "team_id": TEAM_ID,
            "user_id": self.bot_user_id,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _lookup_by_email(self, params: Json) -> Json:
        self._need("users:read.email")
        email = str(params.get("email") or "").strip().lower()
        uid = self.users.get(email)
        if uid is None:
            raise _ApiError("users_not_found")
        real, display = self.names.get(uid, ("", ""))
        return {
            "user": {
                "id": uid,
                "team_id": TEAM_ID,
                "name": email.split("@")[0],
                "real_name": real,
                "deleted": uid in self.deleted,
                "is_bot": False,
                "profile": {"email": email, "real_name": real, "display_name": display},
            }
        }

    def _invite(self, params: Json) -> Json:
        channel = self._channel(params, scope_private="groups:write", scope_public="channels:manage")
        if channel["im"]:
            raise _ApiError("method_not_supported_for_channel_type")
        if self.bot_user_id not in channel["members"]:
            raise _ApiError("not_in_channel")
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise _ApiError("no_user")
        for uid in users:
            if uid == self.bot_user_id:
                raise _ApiError("cant_invite_self")
            if uid not in self._user_ids() or uid in self.deleted:
                raise _ApiError("user_not_found")
            if uid in channel["members"]:
                raise _ApiError("already_in_channel")
        channel["members"].update(users)
        return {"channel": self._channel_obj(str(params["channel"]), channel)}

    def _kick(self, params: Json) -> Json:
        channel = self._channel(params, scope_private="groups:write", scope_public="channels:manage")
        if channel["im"]:
            raise _ApiError("method_not_supported_for_channel_type")
        uid = str(params.get("user") or "")
        if uid == self.bot_user_id:
            raise _ApiError("cant_kick_self")
        if uid not in self._user_ids():
            raise _ApiError("user_not_found")
        if uid not in channel["members"]:
            raise _ApiError("not_in_channel")
        channel["members"].discard(uid)
        return {}

    def _open(self, params: Json) -> Json:
        self._need("im:write")
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise _ApiError("users_list_not_supplied")
        if len(users) > 1:
            raise _ApiError("not_supported")  # group DMs are not faked
        uid = users[0]
        if uid not in self._user_ids() or uid in self.deleted:
            raise _ApiError("user_not_found")
        already = uid in self.dms
        if not already:
            dm = f"D{len(self.dms) + 1:09d}"
            self.dms[uid] = dm
            self.channels[dm] = {
                "members": {uid, self.bot_user_id},
                "private": True,
                "im": True,
                "archived": False,
                "name": dm,
                "user": uid,
            }
        body: Json = {"channel": {"id": self.dms[uid]}}
        if already:
            body["already_open"] = True
            body["no_op"] = True
        return body

    def _channel_obj(self, cid: str, channel: Json) -> Json:
        obj: Json = {
            "id": cid,
            "name": channel["name"],
            "is_channel": not channel["private"] and not channel["im"],
            "is_group": channel["private"] and not channel["im"],
            "is_im": channel["im"],
            "is_private": channel["private"],
            "is_archived": channel["archived"],
            "is_member": self.bot_user_id in channel["members"],
        }
        if channel["im"]:
            obj["user"] = channel.get("user")
        return obj

    def _info(self, params: Json) -> Json:
        channel = self._channel(params, scope_private="groups:read", scope_public="channels:read", scope_im="im:read")
        return {"channel": self._channel_obj(str(params["channel"]), channel)}

    def _history(self, params: Json) -> Json:
        channel = self._channel(
            params, scope_private="groups:history", scope_public="channels:history", scope_im="im:history"
        )
        if self.bot_user_id not in channel["members"]:
            raise _ApiError("not_in_channel")
        try:
            oldest = float(params.get("oldest") or 0)
            latest = float(params["latest"]) if params.get("latest") else None
        except ValueError:
            raise _ApiError("invalid_ts_oldest") from None
        inclusive = _truthy(params.get("inclusive", False))
        with_meta = _truthy(params.get("include_all_metadata", False))
        limit = max(1, min(int(params.get("limit") or 100), 999))
        start = int(params.get("cursor") or 0)

        def in_range(ts: float) -> bool:
            after = ts >= oldest if inclusive else ts > oldest
            before = latest is None or (ts <= latest if inclusive else ts < latest)
            return after and before

        found = [m for m in reversed(self._messages.get(str(params["channel"]), [])) if in_range(_ts_key(m["ts"]))]
        page = found[start : start + limit]
        out = []
        for m in page:
            item = {k: v for k, v in m.items() if k not in ("channel", "unfurl_links", "unfurl_media", "metadata")}
            if with_meta and m.get("metadata"):
                item["metadata"] = m["metadata"]
            out.append(item)
        more = start + limit < len(found)
        return {
            "messages": out,
            "has_more": more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _post(self, params: Json) -> Json:
        cid = str(params.get("channel") or "")
        if cid in self._user_ids():  # posting to a user id goes to the bot's DM with them
            cid = self._open({"users": cid})["channel"]["id"]
            params = {**params, "channel": cid}
        self._need("chat:write")
        channel = self.channels.get(cid)
        if channel is None:
            raise _ApiError("channel_not_found")
        if self.bot_user_id not in channel["members"]:
            raise _ApiError("channel_not_found" if channel["private"] else "not_in_channel")
        if channel["archived"]:
            raise _ApiError("is_archived")
        text = params.get("text")
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                raise _ApiError("invalid_blocks_format") from None
        if not text and not blocks:
            raise _ApiError("no_text")
        self._check_size(str(text or ""), blocks)
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                raise _ApiError("invalid_metadata_format") from None
        if metadata is not None and (not isinstance(metadata, dict) or "event_type" not in metadata):
            raise _ApiError("invalid_metadata_schema")
        ts = self._new_ts()
        message: Json = {
            "type": "message",
            "ts": ts,
            "user": self.bot_user_id,
            "bot_id": BOT_ID,
            "text": text or "",
            "channel": cid,
        }
        if blocks is not None:
            message["blocks"] = blocks
        if metadata is not None:
            message["metadata"] = metadata
        message["unfurl_links"] = params.get("unfurl_links")
        message["unfurl_media"] = params.get("unfurl_media")
        self._messages[cid].append(message)
        public = {k: v for k, v in message.items() if k not in ("channel", "unfurl_links", "unfurl_media")}
        return {"channel": cid, "ts": ts, "message": public}

    def _check_size(self, text: str, blocks: Any) -> None:
        if blocks is not None:
            if not isinstance(blocks, list):
                raise _ApiError("invalid_blocks_format")
            if len(blocks) > MAX_BLOCKS:
                raise _invalid("invalid_blocks", [f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"])
            problems = [p for i, b in enumerate(blocks) for p in _block_problems(i, b)]
            if problems:
                raise _invalid("invalid_blocks", problems)
        blocks_chars = _text_chars(blocks)
        if len(text) + blocks_chars > MESSAGE_LIMIT or len(text) > TEXT_LIMIT:
            raise _ApiError("msg_too_long")
        if blocks_chars > BLOCKS_CHARS_LIMIT:
            raise _ApiError("msg_blocks_too_long")

    def _share_target(self, params: Json) -> str | None:
        """The channel a completed upload is shared in (None: the file stays private)."""
        cid = str(params.get("channel_id") or "")
        if not cid:
            return None
        if not _CHANNEL_ID_RE.match(cid):
            raise _invalid(
                "invalid_arguments",
                [f"input must match regex pattern: {_CHANNEL_ID_RE.pattern} [json-pointer:/channel_id]"],
            )
        channel = self.channels.get(cid)
        if channel is None or (channel["private"] and self.bot_user_id not in channel["members"]):
            raise _ApiError("channel_not_found")
        if self.bot_user_id not in channel["members"]:
            raise _ApiError("not_in_channel")
        if channel["archived"]:
            raise _ApiError("is_archived")
        return cid

    def _get_upload_url(self, params: Json) -> Json:
        self._need("files:write")
        filename = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or 0)
        except ValueError:
            raise _ApiError("invalid_arguments") from None
        if not filename or length <= 0:
            raise _ApiError("missing_argument")
        if len(str(params.get("alt_txt") or "")) > 1000:
            raise _ApiError("alt_txt_too_large")
        file_id = f"F{self._next_file:09d}"
        self._next_file += 1
        ticket = secrets.token_urlsafe(12)
        self._tickets[ticket] = {"id": file_id, "filename": filename, "length": length, "content": None}
        return {"upload_url": f"{self.base}/upload/v1/{ticket}", "file_id": file_id}

    def _uploaded(self, file_id: str) -> tuple[str, Json]:
        for ticket, pending in self._tickets.items():
            if pending["id"] == file_id and pending["content"] is not None:
                return ticket, pending
        raise _ApiError("file_not_found")

    def _complete_upload(self, params: Json) -> Json:
        self._need("files:write")
        try:
            wanted = json.loads(str(params.get("files") or ""))
        except ValueError:
            raise _ApiError("invalid_arguments") from None
        if not isinstance(wanted, list) or not wanted or not all(isinstance(f, dict) and f.get("id") for f in wanted):
            raise _ApiError("invalid_arguments")
        found = [(self._uploaded(str(f["id"])), f) for f in wanted]
        channel = self._share_target(params)
        files = []
        for (ticket, pending), asked in found:
            del self._tickets[ticket]  # a ticket completes once
            name = pending["filename"]
            files.append(
                {
                    "id": pending["id"],
                    "name": name,
                    "title": str(asked.get("title") or name),
                    "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
                    "size": len(pending["content"]),
                    "user": self.bot_user_id,
                    "content": pending["content"],
                }
            )
        if channel is not None:
            self._share(channel, files, str(params.get("initial_comment") or ""))
        return {"files": [{k: v for k, v in f.items() if k != "content"} for f in files]}

    def _share(self, channel: str, files: list[Json], comment: str) -> None:
        ts = self._new_ts()
        public = [{k: v for k, v in f.items() if k != "content"} for f in files]
        message: Json = {"type": "message", "ts": ts, "user": self.bot_user_id, "text": comment, "files": public}
        message["upload"] = True
        message["channel"] = channel
        self._messages[channel].append(message)
        for f in files:
            self._files[channel].append({**f, "initial_comment": comment, "ts": ts})


def _parse_body(request: Request) -> Json:
    """A Web API call's arguments: a JSON body, or a form (slack-sdk sends both)."""
    text = request.body.decode("utf-8")
    if "json" in (request.header("Content-Type") or "") or text.lstrip().startswith("{"):
        data = request.json()
        return dict(data) if isinstance(data, dict) else {}
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
