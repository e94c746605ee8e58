"""One partnerops at a time per PARTNEROPS_HOME: an advisory lock the OS drops if the process dies."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

LOCK_FILE = "partnerops.lock"


class HomeLocked(Exception):
    """Another process holds the lock; ``holder`` says which, as it wrote itself down."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"another partnerops is running on {path.parent} ({holder or 'unknown process'})")
        self.holder = holder


@contextmanager
def home_lock(home: Path, what: str, now: datetime) -> Iterator[None]:
    """Hold ``home``'s lock for the block, or raise :class:`HomeLocked` at once."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HomeLocked(path, os.pread(fd, 200, 0).decode(errors="replace").strip()) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{what}, pid {os.getpid()}, since {now:%Y-%m-%d %H:%M %Z}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
