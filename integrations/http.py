"""What every client shares: the injected clock, Retry-After, and keeping secrets out of text."""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import NewConnectionError


def _wall_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Clock:
    """Injected time. ``now`` is the clock of decisions, ledger entries and timestamps (the
    command line sets it from ``--now``); ``time``/``sleep`` measure and wait (rate limits)."""

    time: Callable[[], float] = _time.monotonic
    sleep: Callable[[float], None] = _time.sleep
    now: Callable[[], datetime] = field(default=_wall_now)


def fixed_clock(now: datetime) -> Clock:
    """A clock whose ``now`` stays at ``now`` (``run --once --now …``); waiting is real."""
    return Clock(now=lambda: now)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or _wall_now())).total_seconds())


MIN_SECRET = 4  # shorter values are not secrets worth hiding (and would mangle every message)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value (4 characters or more) replaced by ***, longest first."""
    for secret in sorted((s for s in secrets if len(s) >= MIN_SECRET), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def redact_url(url: str | None) -> str:
    """The path only: query strings may hold record ids, formulas or tokens."""
    return (url or "").split("?")[0]


#: ``requests`` failures that leave a request without its answer: no connection, a time-out,
#: or a body cut off mid-answer (an invalid URL is none of these: it is a setting to fix).
LOST = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


def never_sent(exc: BaseException) -> bool:
    """Whether a ``requests`` failure happened before the request could reach the server (no
    connection: refused, unresolvable host, connect time-out, TLS handshake), so repeating it
    cannot apply it twice. Any other lost answer (dropped after sending, read time-out) may
    have been applied."""
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    if not isinstance(exc, requests.ConnectionError) or not exc.args:
        return False
    reason = getattr(exc.args[0], "reason", exc.args[0])  # urllib3's MaxRetryError carries the cause
    return isinstance(reason, NewConnectionError)
