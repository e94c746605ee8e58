"""`partnerops demo`: the program over sample data, offline, with no accounts.

The sample data is generated as it stood ``days`` ago; then every simulated day some partners
send referrals (the active ones more often), and one cycle of the jobs runs with the clock set
to that day. Every message, invite and removal lands in the outbox; the story is printed.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TextIO

from bases.records import parse_fields
from bases.sample import load_into
from bases.schema import BASES
from integrations.http import Clock
from integrations.local import LocalStore
from jobs.cycle import JobOutcome, run_cycle
from jobs.runtime import Runtime
from jobs.settings import Settings

DEMO_DAYS = 90
STORY_JOBS = ("circles",)
NOTHING_PUSHED = "; 0 pushed to the CRM"


def _new_referrals(store: LocalStore, day: datetime, rng: random.Random) -> list[str]:
    """Partners who referred before keep referring, in proportion to how much they did."""
    senders = Counter(
        str(r.get("Partner Email", "")).lower()
        for r in store.all("referrals", "Referrals")
        if r.get("Direction") == "From partner" and r.created_time >= (day - timedelta(days=120)).isoformat()
    )
    partners = {str(p.get("Email", "")).lower(): p for p in store.all("partners", "Partners")}
    made = []
    for email, count in senders.items():
        if email in partners and rng.random() < min(0.12, 0.012 * count):
            company = f"Lead {rng.randrange(1000, 9999)} Ltd"
            domain = company.split()[1].lower() + "-ltd.example"
            store.create(
                "referrals",
                "Referrals",
                {
                    "Referral": f"{company} — Alex Buyer",
                    "Direction": "From partner",
                    "Partner Email": email,
                    "Company": company,
                    "Company Domain": domain,
                    "Contact Name": "Alex Buyer",
                    "Contact Email": f"alex@{domain}",
                },
                created=day,
            )
            made.append(str(partners[email].get("Name", email)))
    return made


def _problems(rt: Runtime, out: TextIO) -> None:
    print("records a manager must fix (what their Sync Notes will say):", file=out)
    for base in BASES:
        for table in base.tables:
            for record in rt.store.all(base.key, table.name):
                for problem in parse_fields(table, record.fields).problems:
                    label = record.get(table.primary.name, record.id)
                    print(f"  {table.name} “{label}”: {problem}", file=out)


def _story_lines(day_index: int, day: datetime, outcomes: list[JobOutcome]) -> list[str]:
    lines = []
    for o in outcomes:
        if o.job in STORY_JOBS and o.status == "done" and "no membership change" not in o.summary:
            story = o.summary.rsplit(" (", 1)[0]
            parts = [p for p in story.split("; ") if "held back" not in p and "Do Not Message" not in p]
            lines += [f"  day {day_index:>2} ({day:%b %d}): {part.split(': ', 1)[-1]}" for part in parts]
        if o.job == "referrals" and o.status == "done" and NOTHING_PUSHED not in o.summary:
            lines.append(f"  day {day_index:>2} ({day:%b %d}): referrals: {o.summary}")
        if o.job == "health" and "stage move" in o.summary:
            moves = o.summary.split("stage move", 1)[1].split(": ", 1)[1].split(";")[0]
            lines.append(f"  day {day_index:>2} ({day:%b %d}): stage {moves}")
    return lines


def run_demo(settings: Settings, *, out: TextIO, now: datetime | None = None, days: int = DEMO_DAYS) -> int:
    end = (now or datetime.now(timezone.utc)).replace(hour=9, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    home = settings.home / "demo"
    shutil.rmtree(home, ignore_errors=True)
    day = start
    clock = Clock(now=lambda: day, sleep=lambda _s: None)
    rt = Runtime.open(
        replace(Settings(), home=home, tz=settings.tz, crm="outbox", referral_form_url="https://forms.example/refer"),
        clock,
    )
    rng = random.Random(11)
    try:
        load_into(rt.store, start)
        print(
            f"partnerops demo — offline, sample data in {home}, {days} simulated days from {start:%Y-%m-%d}", file=out
        )
        for base in BASES:
            for table in base.tables:
                print(f"  {base.name} › {table.name}: {rt.store.count(base.key, table.name)} records", file=out)
        _problems(rt, out)
        print("\nwhat happened:", file=out)
        referrals = 0
        for i in range(days + 1):
            day = start + timedelta(days=i)
            if i:
                referrals += len(_new_referrals(rt.store, day, rng))
            outcomes = run_cycle(rt, day)
            for line in _story_lines(i, day, outcomes):
                print(line, file=out)
        bands = Counter(p.get("Health Band", "?") for p in rt.store.all("partners", "Partners"))
        members = Counter(m.get("Status", "?") for m in rt.store.all("circles", "Members"))
        print(
            f"\n{referrals} new referrals over {days} days; partners by band now: "
            + ", ".join(f"{k} {v}" for k, v in bands.most_common()),
            file=out,
        )
        print("circle members: " + ", ".join(f"{k} {v}" for k, v in members.most_common()), file=out)
        outbox = home / "outbox"
        files = sorted(p for p in outbox.rglob("*") if p.is_file()) if outbox.exists() else []
        print(f"\n{len(files)} messages and actions partners would have received are in {outbox}", file=out)
        for path in files[:5]:
            print(f"  {path.relative_to(outbox)}", file=out)
        if len(files) > 5:
            print(f"  … and {len(files) - 5} more", file=out)
        return 0
    finally:
        rt.close()
