"""`partnerops archive [--dry-run]` from the command line, against the fake Airtable over HTTP."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from jobs.cli import main
from tests.archive_world import World, seed
from tests.conftest import TOKEN, provision
from tests.fakes.airtable import FakeAirtable, FakeClock


def partnerops(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--env-file", "/nonexistent/.env", *argv], out=out)
    return code, out.getvalue()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[World]:
    for var in list(os.environ):
        if var.startswith(("AIRTABLE_", "SLACK_", "HUBSPOT_", "SMTP_", "CRM", "EMAIL_", "PARTNEROPS_", "ARCHIVE")):
            monkeypatch.delenv(var, raising=False)
    clock = FakeClock(datetime.now(timezone.utc))  # the command line runs on the real clock
    with FakeAirtable(TOKEN, clock=clock, rate_limit=False) as fake:
        ids = provision(fake)
        w = World(fake, ids, clock, tmp_path / "home", 100)
        seed(w)
        fake.record_cap = 100
        env = {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_API_URL": fake.url, "AIRTABLE_RECORD_CAP": "100"}
        env |= {f"AIRTABLE_{k.upper()}_BASE": v for k, v in ids.items()} | {"PARTNEROPS_HOME": str(w.home)}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield w


def test_archive_dry_run_lists_what_would_go_then_archive_moves_it(world: World) -> None:
    before = world.records("referrals", "Referrals")
    code, out = partnerops("archive", "--dry-run")
    assert code == 0, out
    assert "Old 0 — Buyer" in out and "nothing was changed" in out
    assert "write 10 Referrals record(s) to archive/referrals-Referrals.csv" in out
    assert world.records("referrals", "Referrals") == before
    assert not (world.home / "archive").exists()

    code, out = partnerops("archive")
    assert code == 0, out
    assert "16 records archived" in out and f"archive files: {world.home / 'archive'}" in out
    assert len(world.records("referrals", "Referrals")) == 69
    assert len(world.csv_rows("referrals", "Referrals")) == 16
    assert "archive done" in (world.home / "logs" / "partnerops.log").read_text()
