"""Checks of the settings that look past one variable's own format: a token pasted into the wrong
variable, base ids without a token, the managers' channel given by name, a PARTNEROPS_HOME that
cannot hold the state. :func:`jobs.settings.load_settings` calls them; each adds plain-words
problems with the fix and never prints a token back.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from jobs.rules.circle_config import CHANNEL_ID_RE
from jobs.tokens import hide_secrets, token_shape

CHANNEL_HOW = "in Slack, open the channel, click its name at the top, and copy the Channel ID shown at the bottom of the About tab"


def misplaced_tokens(
    env: dict[str, str], secrets: Mapping[str, str], defaults: Mapping[str, str], problems: list[str]
) -> None:
    """A token (or a configured secret) in a variable that is not a secret: say where it belongs,
    never the value; the variable is then treated as unset, so no other check echoes it."""
    plain = [n for n in defaults if n not in secrets] + [f"{n}_FILE" for n in secrets]
    for name in plain:
        value = env.get(name, "").strip()
        if not value:
            continue
        same = [s for s, v in secrets.items() if len(v) >= 8 and v in value]
        shape = (f"the value of {same[0]}", same[0]) if same else token_shape(value)
        if shape is None:
            continue
        what, home = shape
        problems.append(
            f"{name} holds what looks like {what} (not shown here): a token belongs in {home}; "
            f"set {name} to {_expected(name, defaults.get(name, ''))}"
        )
        env[name] = ""


def _expected(name: str, default: str) -> str:
    """What a variable should hold, in a few words, for the misplaced-token message."""
    if name.endswith("_FILE"):
        return "the path of a file that holds the secret, or leave it empty"
    if name == "SLACK_MANAGER_CHANNEL":
        return "the managers' channel id (C… or G…)"
    return f"its value (default {default})" if default else "its value, or leave it empty"


def base_ids_without_token(
    base_ids: Mapping[str, str], variables: Mapping[str, str], token: str, problems: list[str]
) -> None:
    """Base ids with no token to use them: a mistake, not a quiet switch to the local store."""
    given = [variables[key] for key, base_id in base_ids.items() if base_id]
    if given and not token:
        problems.append(
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} set but AIRTABLE_TOKEN is empty: "
            "set AIRTABLE_TOKEN (a personal access token, pat…, from https://airtable.com/create/tokens) "
            "to use the bases, or empty the base ids to work on the local store"
        )


def checked_channel(raw: str, problems: list[str]) -> str:
    """SLACK_MANAGER_CHANNEL: a channel id, or a problem saying how to find it ("" then)."""
    raw = raw.strip()
    if not raw or CHANNEL_ID_RE.match(raw):
        return raw
    name = raw.startswith("#") or re.fullmatch(r"[a-z0-9][a-z0-9._-]*", raw)
    problems.append(
        f"SLACK_MANAGER_CHANNEL={raw!r} is {'a channel name' if name else 'not a channel id'}; "
        f"it needs the channel's id (C… or G…): {CHANNEL_HOW}"
    )
    return ""


def checked_home(raw: str, problems: list[str]) -> Path:
    """PARTNEROPS_HOME as a path, with a problem when it cannot hold the state."""
    path = Path(raw).expanduser()
    why = home_problem(path)
    if why:
        problems.append(f"PARTNEROPS_HOME={raw!r} {why}")
    return path


def home_problem(path: Path) -> str | None:
    """Why ``path`` cannot hold partnerops' state (created when missing), in plain words; None when it can.

    Nothing is created here (see :func:`prepare_home`)."""
    try:
        if path.exists() and not path.is_dir():
            return "is a file, not a folder: point PARTNEROPS_HOME at a folder (it is created when missing)"
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
    except OSError as exc:
        return f"cannot be reached ({exc.strerror}): choose a folder this user can write"
    if not existing.is_dir():
        return f"cannot be created: {existing} is a file; point PARTNEROPS_HOME at a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot be written by this user ({existing} is read-only for it): choose a folder this user can write"
    return None


def prepare_home(path: Path) -> str | None:
    """Create ``path`` and write a file in it: None when that works, else why not (with the fix)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path) as probe:  # a file of its own: runs may overlap
            probe.write(b"ok")
    except OSError as exc:
        return (
            f"PARTNEROPS_HOME={str(path)!r} cannot be used: {exc.strerror or exc}; "
            "set PARTNEROPS_HOME to a folder this user can write (default ./.partnerops)"
        )
    return None


def without_secrets(problems: Iterable[str], secrets: Mapping[str, str]) -> list[str]:
    """The problems with every secret value and every token-shaped word hidden."""
    shown = [v for v in secrets.values() if v]
    return [hide_secrets(p, shown) for p in problems]
