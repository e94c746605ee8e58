"""Shared fixtures: a fake Airtable over real HTTP with the template bases, and a client on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from integrations.airtable import AirtableClient
from integrations.ledger import CallLedger
from jobs.store.local import LocalStore
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.fakes.airtable_setup import (  # there for bench/ too; the tests may import them from here
    TOKEN,
    client_clock,
    provision,
)

START = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeAirtable]:
    with FakeAirtable(TOKEN, clock=clock) as server:
        yield server


@pytest.fixture
def base_ids(fake: FakeAirtable) -> dict[str, str]:
    ids = provision(fake)
    fake.clock.advance(2)  # provisioning requests are out of the rate window
    fake.reset_counts()
    return ids


@pytest.fixture
def ledger(tmp_path: Path) -> CallLedger:
    return CallLedger(tmp_path / "ledger.sqlite")


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store.sqlite")


@pytest.fixture
def client(fake: FakeAirtable, base_ids: dict[str, str], ledger: CallLedger, clock: FakeClock) -> AirtableClient:
    return AirtableClient(TOKEN, base_ids, ledger=ledger, allowance=1000, api_url=fake.url, clock=client_clock(clock))
