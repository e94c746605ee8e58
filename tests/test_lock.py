"""The PARTNEROPS_HOME lock: POSIX for real, the Windows branch through a stand-in for msvcrt."""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from jobs.cli import main
from jobs.schedule.lock import (
    LOCK_FILE,
    NOTE_BYTES,
    WINDOWS_LOCK_BYTE,
    HomeLocked,
    Locking,
    LockUnsupported,
    home_lock,
    system_locking,
    windows_locking,
)

ROOT = Path(__file__).resolve().parent.parent
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="flock is the POSIX branch")

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


class FakeMsvcrt:
    """``msvcrt.locking`` as the C runtime documents it: ``nbytes`` from the descriptor's position;
    a byte already locked through another handle is a locking violation (EACCES); unlocking a
    byte this handle does not hold is one too."""

    LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4

    def __init__(self) -> None:
        self.held: dict[tuple[int, int], int] = {}  # (file, offset) -> descriptor holding it
        self.offsets: list[int] = []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        assert nbytes == 1
        offset = os.lseek(fd, 0, os.SEEK_CUR)
        self.offsets.append(offset)
        key = (os.fstat(fd).st_ino, offset)
        if mode == self.LK_NBLCK:
            if key in self.held:
                raise PermissionError(errno.EACCES, "Permission denied")
            self.held[key] = fd
        elif mode == self.LK_UNLCK:
            if self.held.get(key) != fd:
                raise PermissionError(errno.EACCES, "Permission denied")
            del self.held[key]
        else:
            raise AssertionError(f"mode {mode} blocks or shares; the home lock must do neither")


def note(home: Path) -> str:
    return (home / LOCK_FILE).read_bytes().decode().strip()


def locks_out_a_second_holder(home: Path, locking: Locking | None) -> None:
    with home_lock(home, "partnerops run", NOW, locking=locking):
        assert note(home).startswith(f"partnerops run, pid {os.getpid()}, since ")
        with pytest.raises(HomeLocked) as info, home_lock(home, "partnerops run --once", NOW, locking=locking):
            pytest.fail("a second holder got the lock")
        assert info.value.holder.startswith(f"partnerops run, pid {os.getpid()}")
        assert f"another partnerops is running on {home}" in str(info.value)
    assert note(home) == ""
    with home_lock(home, "partnerops run --once", NOW, locking=locking):  # free again
        assert note(home).startswith("partnerops run --once")


@posix_only
def test_posix_a_second_holder_is_refused_and_told_who_holds_it(tmp_path: Path) -> None:
    assert system_locking().name == "flock"
    locks_out_a_second_holder(tmp_path / "home", None)


@posix_only
def test_posix_another_process_holds_it_until_it_is_killed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from jobs.schedule.lock import home_lock; from datetime import datetime, timezone\n"
            f"with home_lock(Path({str(home)!r}), 'partnerops run', datetime.now(timezone.utc)):\n"
            "    print('ready', flush=True); time.sleep(60)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(HomeLocked) as info, home_lock(home, "partnerops run --once", NOW):
            pass
        assert info.value.holder.startswith(f"partnerops run, pid {holder.pid}, since ")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    with home_lock(home, "partnerops run --once", NOW):  # the OS dropped the dead process's lock
        assert note(home).startswith("partnerops run --once")


def test_windows_branch_locks_one_byte_past_the_note(tmp_path: Path) -> None:
    msvcrt = FakeMsvcrt()
    locks_out_a_second_holder(tmp_path / "home", windows_locking(msvcrt))
    assert not msvcrt.held  # every lock taken was given back
    # Windows locks are mandatory: the locked byte must lie outside the note others read.
    assert set(msvcrt.offsets) == {WINDOWS_LOCK_BYTE} and WINDOWS_LOCK_BYTE >= NOTE_BYTES


def test_windows_branch_passes_on_errors_that_are_not_a_held_lock(tmp_path: Path) -> None:
    def broken(fd: int, mode: int, nbytes: int) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")

    msvcrt = SimpleNamespace(LK_NBLCK=2, LK_UNLCK=0, locking=broken)
    with (
        pytest.raises(OSError) as info,
        home_lock(tmp_path / "home", "partnerops run", NOW, locking=windows_locking(msvcrt)),
    ):
        pass
    assert not isinstance(info.value, HomeLocked) and info.value.errno == errno.EBADF


def test_the_system_lock_is_flock_else_msvcrt_else_a_clear_refusal() -> None:
    fcntl = ModuleType("fcntl")
    msvcrt = ModuleType("msvcrt")

    def importer(available: dict[str, ModuleType]) -> Callable[[str], ModuleType]:
        def import_module(name: str) -> ModuleType:
            if name not in available:
                raise ModuleNotFoundError(f"No module named {name!r}")
            return available[name]

        return import_module

    assert system_locking(importer({"fcntl": fcntl, "msvcrt": msvcrt})).name == "flock"
    assert system_locking(importer({"msvcrt": msvcrt})).name == "msvcrt"
    with pytest.raises(LockUnsupported) as info:
        system_locking(importer({}))
    assert "fcntl (Linux, macOS) or msvcrt (Windows), and this Python has neither" in str(info.value)


def test_run_once_finding_the_home_locked_does_nothing_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    for var in list(os.environ):
        if var.startswith(("AIRTABLE_", "SLACK_", "HUBSPOT_", "SMTP_", "CRM", "EMAIL_", "REFERRAL_")):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PARTNEROPS_HOME", str(home))
    with home_lock(home, "partnerops run", NOW):
        assert main(["--env-file", "/nonexistent/.env", "run", "--once"], out=io.StringIO()) == 0
        assert "another partnerops is running" in capsys.readouterr().err
        assert main(["--env-file", "/nonexistent/.env", "run"], out=io.StringIO()) == 2
    assert not (home / "store.sqlite").exists()  # nothing was opened, let alone done
