"""`partnerops demo`: the program over sample data, offline, with no accounts.

The sample data is generated as it stood ``days`` ago; then every simulated day some partners
send referrals (the active ones more often) and one cycle of the jobs runs with the clock set
to that day. Every message, e-mail, invite and CRM push lands in the outbox; the story is told
in a few lines and a closing table.
"""

from __future__ import annotations

import random
import shutil
import sys
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from bases.fields import Direction, MemberF, PartnerF, ReferralF
from bases.records import parse_fields
from bases.schema import BASES
from integrations.http import Clock
from jobs.app import App
from jobs.commands.report import write_report
from jobs.plan import Count, JobOutcome
from jobs.schedule.runner import run_jobs
from jobs.schedule.tiers import cycle_jobs
from jobs.settings import Settings
from jobs.store.local import LocalStore
from jobs.store.sample import load_into

DEMO_DAYS = 90
STORY_LIMIT = 12


def _new_referrals(store: LocalStore, day: datetime, rng: random.Random) -> int:
    """Partners who referred before keep referring, in proportion to how much they did."""
    since = (day - timedelta(days=120)).isoformat()
    senders = Counter(
        str(r.get(ReferralF.PARTNER_EMAIL, "")).lower()
        for r in store.all(ReferralF.BASE, ReferralF.TABLE)
        if r.get(ReferralF.DIRECTION) == Direction.FROM_PARTNER and r.created_time >= since
    )
    known = {str(p.get(PartnerF.EMAIL, "")).lower() for p in store.all(PartnerF.BASE, PartnerF.TABLE)}
    made = 0
    for email, count in senders.items():
        if email in known and rng.random() < min(0.12, 0.012 * count):
            company = f"Lead {rng.randrange(1000, 9999)} Ltd"
            domain = company.split()[1].lower() + "-ltd.example"
            fields = {
                ReferralF.REFERRAL: f"{company} — Alex Buyer",
                ReferralF.DIRECTION: Direction.FROM_PARTNER,
                ReferralF.PARTNER_EMAIL: email,
                ReferralF.COMPANY: company,
                ReferralF.COMPANY_DOMAIN: domain,
                ReferralF.CONTACT_NAME: "Alex Buyer",
                ReferralF.CONTACT_EMAIL: f"alex@{domain}",
            }
            store.create(ReferralF.BASE, ReferralF.TABLE, fields, created=day)
            made += 1
    return made


def _problems(app: App, out: TextIO) -> None:
    print("records a manager must fix (what their Sync Notes will say):", file=out)
    for base in BASES:
        for table in base.tables:
            for record in app.store.all(base.key, table.name):
                for problem in parse_fields(table, record.fields).problems:
                    label = record.get(table.primary.name, record.id)
                    print(f"  {table.name} “{label}”: {problem}", file=out)


def _story(day: datetime, outcomes: list[JobOutcome]) -> list[str]:
    """The lines worth telling: who joined or left a circle, and whose Stage moved."""
    lines = []
    for o in outcomes:
        if o.job == "circles":
            lines += [f"  {day:%b %d}  {s}" for s in o.story if " joins " in s or " leaves " in s]
        if o.job == "health":
            lines += [f"  {day:%b %d}  {s}" for s in o.story if ": Stage " in s]
    return lines


def _outbox(home: Path, out: TextIO) -> None:
    outbox = home / "outbox"
    files = [p for p in outbox.rglob("*") if p.is_file()] if outbox.exists() else []
    messages = sorted((p for p in files if p.parent.name in ("slack", "email")), key=lambda p: p.stat().st_mtime_ns)
    others = sorted(p for p in files if p not in messages)
    print(f"\n{len(files)} files in {outbox}: {len(messages)} messages and e-mails, {len(others)} CRM pushes", file=out)
    for path in messages[:8]:
        print(f"  {path.relative_to(outbox)}", file=out)
    if len(files) > 8:
        print(f"  … and {len(files) - 8} more", file=out)


def _closing(app: App, totals: Counter[Count], referrals: int, days: int, out: TextIO) -> None:
    bands = Counter(str(p.get(PartnerF.HEALTH_BAND, "?")) for p in app.store.all(PartnerF.BASE, PartnerF.TABLE))
    members = Counter(str(m.get(MemberF.STATUS, "?")) for m in app.store.all(MemberF.BASE, MemberF.TABLE))
    rows = [
        ("new referrals from partners", referrals),
        ("pushed to the CRM (with the sample's own that were waiting)", totals[Count.PUSHED]),
        ("duplicates caught", totals[Count.DUPLICATES]),
        ("joined the circle", totals[Count.JOINS]),
        ("left the circle", totals[Count.LEAVES]),
        ("at-risk nudges", totals[Count.AT_RISK_NUDGES]),
        ("registration receipts", totals[Count.RECEIPTS]),
        ("referrals given to partners", totals[Count.REFERRALS_GIVEN]),
        ("weekly digests for the managers", totals[Count.DIGESTS]),
    ]
    print(f"\nin {days} days:", file=out)
    for label, n in rows:
        print(f"  {n:>5}  {label}", file=out)
    print("partners by band now: " + ", ".join(f"{k} {v}" for k, v in bands.most_common()), file=out)
    print("circle members: " + ", ".join(f"{k} {v}" for k, v in members.most_common()), file=out)


PROGRESS_EVERY = 15  # days between progress lines (on stderr: the story on stdout stays clean)


def run_demo(settings: Settings, *, out: TextIO, now: datetime, days: int = DEMO_DAYS) -> int:
    end = now.replace(hour=9, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    home = settings.home / "demo"
    shutil.rmtree(home, ignore_errors=True)
    day = start
    clock = Clock(now=lambda: day, sleep=lambda _s: None)
    demo = replace(Settings(), home=home, tz=settings.tz, crm="outbox", referral_form_url="https://forms.example/refer")
    app = App.open(demo, clock)
    rng = random.Random(11)
    try:
        load_into(app.store, start)
        print(
            f"partnerops demo — offline, sample data in {home}, {days} simulated days from {start:%Y-%m-%d}", file=out
        )
        for base in BASES:
            for table in base.tables:
                print(f"  {base.name} › {table.name}: {app.store.count(base.key, table.name)} records", file=out)
        _problems(app, out)
        print("\nwhat happened:", file=out)
        referrals, totals, story = 0, Counter[Count](), []
        for i in range(days + 1):
            day = start + timedelta(days=i)
            if i:
                referrals += _new_referrals(app.store, day, rng)
            outcomes = run_jobs(app, cycle_jobs(None), day)
            for o in outcomes:
                totals.update(o.counts)
            story += _story(day, outcomes)
            if i and i % PROGRESS_EVERY == 0:
                print(f"  … simulated {i} of {days} days", file=sys.stderr, flush=True)
        for line in story[:STORY_LIMIT]:
            print(line, file=out)
        if len(story) > STORY_LIMIT:
            print(f"  … and {len(story) - STORY_LIMIT} more moves", file=out)
        _closing(app, totals, referrals, days, out)
        _outbox(home, out)
        print(f"\nthe program report (open it in a browser): {write_report(app, day).resolve()}", file=out)
        return 0
    finally:
        app.close()
