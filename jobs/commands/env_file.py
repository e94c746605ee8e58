"""Set a few variables in a `.env` file, keeping every other line and comment as it was.

A variable already assigned (``NAME=…`` or ``export NAME=…``) gets its value replaced where it
stands; one not yet there is appended. Comments (``# NAME=…``), blank lines, other variables and
line endings are untouched. The file is replaced in one step (a temporary file, then a rename),
with its permissions kept: a run killed half-way leaves the old file.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path


class EnvFileError(Exception):
    """The file cannot be read or written; the message says which and why."""


def _assignment(name: str) -> re.Pattern[str]:
    return re.compile(rf"^(\s*(?:export\s+)?){re.escape(name)}\s*=.*?(\r?\n)?$", flags=re.S)


def updated_text(text: str, values: dict[str, str]) -> str:
    """``text`` with each of ``values`` assigned (see the module docstring)."""
    lines = text.splitlines(keepends=True)
    missing = dict(values)
    for i, line in enumerate(lines):
        for name, value in values.items():
            match = _assignment(name).match(line)
            if match:
                lines[i] = f"{match.group(1)}{name}={value}{match.group(2) or ''}"
                missing.pop(name, None)
    newline = "\r\n" if any(line.endswith("\r\n") for line in lines) else "\n"
    if missing and lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    lines.extend(f"{name}={value}{newline}" for name, value in missing.items())
    return "".join(lines)


def write_env(path: Path, values: dict[str, str]) -> None:
    """Assign ``values`` in the file at ``path`` (created when missing)."""
    target = path.resolve()
    try:
        text = target.read_text(encoding="utf-8") if target.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"cannot read {path} ({_why(exc)})") from None
    try:
        fd, temp = tempfile.mkstemp(prefix=".env.", dir=target.parent)
    except OSError as exc:
        raise EnvFileError(f"cannot write next to {path} ({_why(exc)})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(updated_text(text, values))
        if target.exists():
            shutil.copymode(target, temp)
        os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise EnvFileError(f"cannot write {path} ({_why(exc)})") from None


def _why(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
