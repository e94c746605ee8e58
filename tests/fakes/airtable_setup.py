"""The fake Airtable as the program meets it: the test token, and the three template bases in it.

Shared by the tests (through tests/conftest.py) and the benchmarks in bench/, which use the fakes
but no test module.
"""

from __future__ import annotations

from typing import Any

import requests

from bases.drift import create_base_body, link_fields
from bases.schema import BASES
from integrations.http import Clock
from tests.fakes.airtable import FakeAirtable, FakeClock

TOKEN = "patFAKE.token-0123456789"


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
    r = requests.post(
        f"{fake.url}/v0/meta/bases/{base_id}/tables/{table_id}/fields",
        json=field,
        headers={"Authorization": f"Bearer {fake.token}"},
        timeout=5,
    )
    r.raise_for_status()


def client_clock(clock: FakeClock) -> Clock:
    """The program's clock on the fake's clock: penalties and waits cost no real seconds."""
    return Clock(time=clock.time, sleep=clock.sleep, now=clock.now)
