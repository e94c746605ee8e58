"""Shared fixtures: a fake Airtable over real HTTP with the template bases, and a client on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from bases.drift import create_base_body, link_fields
from bases.schema import BASES
from integrations.airtable import AirtableClient
from integrations.http import Clock
from integrations.ledger import CallLedger
from integrations.local import LocalStore
from tests.fakes.airtable import FakeAirtable, FakeClock

TOKEN = "patFAKE.token-0123456789"
START = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def provision(fake: FakeAirtable) -> dict[str, str]:
    """The three template bases in the fake (as `bases create` would), without counting calls."""
    ids: dict[str, str] = {}
    for base in BASES:
        base_id = fake.add_base(base.name, create_base_body(base))
        table_ids = {t.name: fake.table_id(base_id, t.name) for t in base.tables}
        for table_id, field in link_fields(base, table_ids):
            _add_field_over_http(fake, base_id, table_id, field)
        ids[base.key] = base_id
    return ids


def _add_field_over_http(fake: FakeAirtable, base_id: str, table_id: str, field: dict[str, Any]) -> None:
    import requests

    r = requests.post(
        f"{fake.url}/v0/meta/bases/{base_id}/tables/{table_id}/fields",
        json=field,
        headers={"Authorization": f"Bearer {fake.token}"},
        timeout=5,
    )
    r.raise_for_status()


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


def client_clock(clock: FakeClock) -> Clock:
    return Clock(time=clock.time, sleep=clock.sleep, now=clock.now)


@pytest.fixture
def ledger(tmp_path: Path) -> CallLedger:
    return CallLedger(tmp_path / "ledger.sqlite")


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store.sqlite")


@pytest.fixture
def client(fake: FakeAirtable, base_ids: dict[str, str], ledger: CallLedger, clock: FakeClock) -> AirtableClient:
    return AirtableClient(TOKEN, base_ids, ledger=ledger, allowance=1000, api_url=fake.url, clock=client_clock(clock))
