"""`partnerops demo`: the program over sample data, offline, with no accounts."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from typing import TextIO

from bases.records import parse_fields
from bases.sample import load_into
from bases.schema import BASES
from jobs.cycle import run_cycle
from jobs.runtime import Runtime
from jobs.settings import Settings


def run_demo(settings: Settings, *, out: TextIO, now: datetime | None = None) -> int:
    now = now or datetime.now(timezone.utc).replace(microsecond=0)
    home = settings.home / "demo"
    shutil.rmtree(home, ignore_errors=True)
    demo_settings = replace(Settings(), home=home, tz=settings.tz)
    rt = Runtime.open(demo_settings)
    try:
        load_into(rt.store, now)
        print(f"partnerops demo — offline, sample data in {home}", file=out)
        for base in BASES:
            for table in base.tables:
                print(f"  {base.name} › {table.name}: {rt.store.count(base.key, table.name)} records", file=out)
        partners = rt.store.all("partners", "Partners")
        stages = Counter(p.get("Stage", "(none)") for p in partners)
        print("partners by stage: " + ", ".join(f"{k} {v}" for k, v in stages.most_common()), file=out)
        referrals = rt.store.all("referrals", "Referrals")
        statuses = Counter(r.get("Status", "New (no Status yet)") for r in referrals)
        print("referrals by status: " + ", ".join(f"{k} {v}" for k, v in statuses.most_common()), file=out)
        print("records a manager must fix (what their Sync Notes will say):", file=out)
        for base in BASES:
            for table in base.tables:
                for record in rt.store.all(base.key, table.name):
                    parsed = parse_fields(table, record.fields)
                    for problem in parsed.problems:
                        label = record.get(table.primary.name, record.id)
                        print(f"  {table.name} “{label}”: {problem}", file=out)
        outcomes = run_cycle(rt, now)
        for o in outcomes:
            print(f"job {o.job}: {o.status} — {o.summary}", file=out)
        outbox = home / "outbox"
        files = sorted(p for p in outbox.rglob("*") if p.is_file()) if outbox.exists() else []
        print(f"\n{len(files)} message(s) and action(s) a partner would have received are in {outbox}:", file=out)
        for path in files[:12]:
            print(f"  {path.relative_to(outbox)}", file=out)
        return 0
    finally:
        rt.close()
