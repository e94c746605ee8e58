"""slack-sdk retry handlers with an injected sleep: 429 for every call, a lost connection, a time-out or a 5xx only for calls that are safe to repeat."""

from __future__ import annotations

import http.client
import logging
import urllib.error
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
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

from integrations.slack_errors import (
    DEFAULT_API_URL,
    NETWORK_BACKOFF_SECONDS,
    NETWORK_RETRIES,
    PUBLISHING_METHODS,
    _retry_after,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- retries


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
