"""One partnerops at a time per PARTNEROPS_HOME: an advisory lock the OS drops if the process dies.

Linux and macOS lock the whole lock file with ``flock``. Windows locks one byte of it with
``msvcrt.locking``; Windows locks are mandatory (nobody else may read a locked byte), so the byte
lies past the holder's note, which stays readable. A Python with neither (WASI, Emscripten)
cannot run partnerops: :class:`LockUnsupported` says so.
"""

from __future__ import annotations

import errno
import importlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

LOCK_FILE = "partnerops.lock"
NOTE_BYTES = 200  # who holds the lock, at the start of the file, padded with spaces
WINDOWS_LOCK_BYTE = 1 << 20  # the byte Windows locks: far past the note


class HomeLocked(Exception):
    """Another process holds the lock; ``holder`` says which, as it wrote itself down."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"another partnerops is running on {path.parent} ({holder or 'unknown process'})")
        self.holder = holder


class LockUnsupported(RuntimeError):
    """This Python has no file locking partnerops knows (neither fcntl nor msvcrt)."""


@dataclass(frozen=True)
class Locking:
    """How this system locks an open file: ``take`` returns False when another process holds it."""

    name: str
    take: Callable[[int], bool]
    drop: Callable[[int], None]


def posix_locking(fcntl: Any) -> Locking:
    """``flock`` on the whole file (Linux, macOS, the BSDs); ``fcntl`` is the module or a stand-in."""

    def take(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def drop(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    return Locking("flock", take, drop)


def windows_locking(msvcrt: Any) -> Locking:
    """``msvcrt.locking`` on byte :data:`WINDOWS_LOCK_BYTE` (it locks from the file's position);
    ``msvcrt`` is the module or a stand-in."""

    def take(fd: int) -> bool:
        os.lseek(fd, WINDOWS_LOCK_BYTE, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK):  # the C runtime's "locking violation"
                return False
            raise
        return True

    def drop(fd: int) -> None:
        os.lseek(fd, WINDOWS_LOCK_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    return Locking("msvcrt", take, drop)


def system_locking(import_module: Callable[[str], ModuleType] = importlib.import_module) -> Locking:
    """The lock of this system, or :class:`LockUnsupported` with a sentence saying why."""
    try:
        return posix_locking(import_module("fcntl"))
    except ImportError:
        pass
    try:
        return windows_locking(import_module("msvcrt"))
    except ImportError:
        raise LockUnsupported(
            "partnerops needs file locking to keep two runs off one PARTNEROPS_HOME: fcntl (Linux, macOS) "
            "or msvcrt (Windows), and this Python has neither; run it on Linux, macOS, Windows or in Docker"
        ) from None


def _write_note(fd: int, text: str) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode()[:NOTE_BYTES].ljust(NOTE_BYTES))


def _read_note(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, NOTE_BYTES).decode(errors="replace").strip()


@contextmanager
def home_lock(home: Path, what: str, now: datetime, *, locking: Locking | None = None) -> Iterator[None]:
    """Hold ``home``'s lock for the block, or raise :class:`HomeLocked` at once.

    ``locking`` is for tests; by default the system's own (:func:`system_locking`).
    """
    locking = locking or system_locking()
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    try:
        if not locking.take(fd):
            raise HomeLocked(path, _read_note(fd))
        _write_note(fd, f"{what}, pid {os.getpid()}, since {now:%Y-%m-%d %H:%M %Z}")
        try:
            yield
        finally:
            _write_note(fd, "")
            locking.drop(fd)
    finally:
        os.close(fd)
