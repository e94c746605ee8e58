"""A consistent copy of PARTNEROPS_HOME's databases as a tar archive on stdout, safe while partnerops runs.

    python deploy/backup_home.py > partnerops-home-$(date +%F).tar        # PARTNEROPS_HOME, else ./.partnerops
    python deploy/backup_home.py /srv/partnerops/.partnerops > home.tar   # a home named outright
    docker compose -f deploy/compose.yaml exec -T partnerops python - < deploy/backup_home.py > home.tar

The databases are in SQLite's WAL mode: the newest pages may sit in a -wal file beside each one,
so copying the .sqlite files while a run writes can give a torn or stale copy. SQLite's backup API
copies a consistent snapshot instead. outbox/ and logs/ are left out: they are safe to lose.
Restore (docs/deploy.md): stop partnerops, delete the home's *.sqlite-wal and *.sqlite-shm files,
unpack the archive into the home, start partnerops. Standard library only.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import BinaryIO

DATABASES = ("store.sqlite", "effects.sqlite", "ledger.sqlite")


def backup(home: Path, out: BinaryIO) -> list[str]:
    """Write a tar of ``home``'s databases to ``out``; return the names written."""
    written = []
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(fileobj=out, mode="w|") as tar:
        for name in DATABASES:
            if not (home / name).is_file():
                continue
            copy = Path(tmp) / name
            source, target = sqlite3.connect(home / name), sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            tar.add(copy, arcname=name)
            written.append(name)
    return written


def main(argv: list[str]) -> int:
    home = Path(argv[0] if argv else os.environ.get("PARTNEROPS_HOME") or ".partnerops")
    if not (home / "store.sqlite").is_file():
        print(f"backup_home: {home} holds no store.sqlite; name the PARTNEROPS_HOME to back up", file=sys.stderr)
        return 2
    if sys.stdout.isatty():
        print("backup_home: the archive goes to stdout; send it to a file: … > home.tar", file=sys.stderr)
        return 2
    written = backup(home, sys.stdout.buffer)
    print(f"backup_home: {', '.join(written)} from {home}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
