"""Airtable calls spent by `sync` on the SPEC §7 reference workload, against the fake Airtable.

    .venv/bin/python -m bench.sync_calls

Reference workload: 250 partners, 150 activities, 600 referrals, 1 circle of 25 members.
Measures three runs — first full sync, nothing changed, 10 records changed — next to the
lower bound: 1 change check per base (the change feed carries every cell of a changed record,
so no read is needed); for the first sync, the record pages.
"""

from __future__ import annotations

import math
import random
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from bases.schema import BASES
from integrations.airtable import AirtableClient
from integrations.http import Clock
from integrations.ledger import CallLedger
from jobs.store.local import LocalStore
from jobs.sync.syncer import Syncer
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.fakes.airtable_setup import TOKEN, provision

WORKLOAD = {("partners", "Partners"): 250, ("partners", "Activities"): 150, ("referrals", "Referrals"): 600}
MEMBERS = 25


def seed(fake: FakeAirtable, ids: dict[str, str], rng: random.Random) -> dict[str, list[str]]:
    made: dict[str, list[str]] = {}
    partners = [
        fake.ui_create(ids["partners"], "Partners", {"Name": f"Partner {i}", "Email": f"p{i}@co{i}.example"})
        for i in range(WORKLOAD[("partners", "Partners")])
    ]
    made["Partners"] = partners
    made["Activities"] = [
        fake.ui_create(
            ids["partners"],
            "Activities",
            {"Activity": f"Call {i}", "Partner": [rng.choice(partners)], "Kind": "Meeting", "Date": "2026-10-01"},
        )
        for i in range(WORKLOAD[("partners", "Activities")])
    ]
    made["Referrals"] = [
        fake.ui_create(
            ids["referrals"],
            "Referrals",
            {
                "Referral": f"Lead {i}",
                "Direction": "From partner",
                "Partner Email": f"p{rng.randrange(250)}@co.example",
                "Status": "In CRM",
            },
        )
        for i in range(WORKLOAD[("referrals", "Referrals")])
    ]
    circle = fake.ui_create(
        ids["circles"], "Circles", {"Name": "Top Partners", "Enter Score": 75, "Leave Score": 50, "Active": True}
    )
    for i in range(MEMBERS):
        fake.ui_create(
            ids["circles"],
            "Members",
            {"Member": f"Partner {i}", "Circle": [circle], "Partner Email": f"p{i}@co{i}.example", "Status": "Active"},
        )
    return made


def full_lower_bound() -> int:
    pages = sum(math.ceil(n / 100) for n in WORKLOAD.values()) + 1 + 1  # circles table, members table
    return pages


def measure() -> list[tuple[str, int, int]]:
    rng = random.Random(7)
    clock = FakeClock(datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc))
    rows: list[tuple[str, int, int]] = []
    with FakeAirtable(TOKEN, clock=clock) as fake, tempfile.TemporaryDirectory() as tmp:
        ids = provision(fake)
        made = seed(fake, ids, rng)
        clock.advance(2)  # provisioning requests leave the rate window
        ledger = CallLedger(Path(tmp) / "ledger.sqlite")
        client = AirtableClient(
            TOKEN,
            ids,
            ledger=ledger,
            allowance=10_000,
            api_url=fake.url,
            clock=Clock(time=clock.time, sleep=clock.sleep, now=clock.now),
        )
        syncer = Syncer(client, LocalStore(Path(tmp) / "store.sqlite"))

        def run(label: str, lower: int) -> None:
            before = ledger.used(clock.now())
            syncer.run(clock.now())
            rows.append((label, ledger.used(clock.now()) - before, lower))
            clock.advance(3600)

        run("first full sync", full_lower_bound())
        run("nothing changed", len(BASES))
        for rid in rng.sample(made["Partners"], 6):
            fake.ui_update(ids["partners"], "Partners", rid, {"Company": "Renamed Co"})
        for rid in rng.sample(made["Referrals"], 4):
            fake.ui_update(ids["referrals"], "Referrals", rid, {"Notes": "called back"})
        run("10 records changed (6 partners, 4 referrals)", len(BASES))
    return rows


def main() -> None:
    rows = measure()
    print("| sync run | Airtable calls | lower bound |")
    print("|---|---|---|")
    for label, calls, lower in rows:
        print(f"| {label} | {calls} | {lower} |")
    print()
    print("The first full sync also reads each base's schema and sets up its change feed (list + create")
    print("webhook): 3 calls per base on top of the record pages, paid once and after a resync.")


if __name__ == "__main__":
    main()
