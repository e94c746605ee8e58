"""When the digest runs: once an ISO week at DIGEST_AT local to TZ (a non-Monday, across a DST
change), never with DIGEST_AT=off, after the other tiers, at no Airtable call even in a spent
month; in outbox mode once a week across runs and a restored home."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from integrations.http import Clock
from jobs.app import App
from jobs.plan import Status
from jobs.schedule.tiers import DAILY, DIGEST, FRESH, digest_mark, next_digest, tick
from jobs.settings import Settings
from jobs.store.local import LocalStore
from jobs.store.sample import load_into
from jobs.store.state import load_cadence
from tests.conftest import TOKEN, client_clock
from tests.fakes.airtable import FakeAirtable, FakeClock

SATURDAY = datetime(2026, 5, 30, 9, 0, tzinfo=timezone.utc)
MONDAY_0805 = datetime(2026, 6, 1, 6, 5, tzinfo=timezone.utc)  # 08:05 in Berlin


def offline(home: Path, **kw: Any) -> App:
    settings = replace(Settings(home=home, tz="Europe/Berlin", crm="outbox"), **kw)
    return App.open(settings, Clock(now=lambda: SATURDAY, sleep=lambda _s: None))


def at(app: App, now: datetime) -> datetime:
    app.clock.now = lambda: now
    return now


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    store = LocalStore(path / "store.sqlite")
    load_into(store, SATURDAY - timedelta(days=1))
    store.close()
    return path


def digests_in_outbox(home: Path) -> tuple[list[Path], list[Path]]:
    slack = home / "outbox" / "slack"
    files = sorted(slack.glob("slack-*")) if slack.exists() else []
    posts = [p for p in files if p.suffix == ".txt" and "\nkey: digest:" in p.read_text(encoding="utf-8")]
    return posts, [p for p in files if p.suffix == ".png"]


def test_outbox_mode_once_a_week_across_runs_and_a_restored_home(home: Path, tmp_path: Path) -> None:
    app = offline(home)
    first = tick(app, at(app, SATURDAY))
    assert first.tiers == [DAILY, FRESH]  # a new install: its first digest waits for DIGEST_AT
    assert first.next_due is not None
    assert digests_in_outbox(home) == ([], [])
    app.close()
    backup = tmp_path / "backup"
    shutil.copytree(home, backup)

    app = offline(home)
    report = tick(app, at(app, MONDAY_0805))
    assert report.tiers == [DAILY, FRESH, DIGEST]
    assert [o.job for o in report.outcomes][-1] == "digest"  # after the other jobs of the tick
    assert report.outcomes[-1].status == Status.DONE and report.outcomes[-1].calls == 0
    posts, charts = digests_in_outbox(home)
    assert len(posts) == 1 and len(charts) == 1
    assert "key: digest:2026-W22" in posts[0].read_text(encoding="utf-8")
    assert "Partners by band" in posts[0].read_text(encoding="utf-8")  # the blocks, not only the fallback
    assert charts[0].read_bytes().startswith(b"\x89PNG")
    for later in (MONDAY_0805 + timedelta(minutes=20), MONDAY_0805 + timedelta(days=3)):
        assert DIGEST not in tick(app, at(app, later)).tiers
    assert len(digests_in_outbox(home)[0]) == 1
    app.close()

    shutil.rmtree(home)
    shutil.copytree(backup, home)  # the home from before the digest
    app = offline(home)
    again = tick(app, at(app, MONDAY_0805 + timedelta(hours=1)))
    assert DIGEST in again.tiers
    posts, charts = digests_in_outbox(home)
    assert len(posts) == 1 and len(charts) == 1
    app.close()


def test_digest_at_off_never_posts(home: Path) -> None:
    app = offline(home, digest_at=None)
    tick(app, at(app, SATURDAY))
    for hours in range(0, 24 * 9, 7):
        report = tick(app, at(app, SATURDAY + timedelta(days=1, hours=hours)))
        assert DIGEST not in report.tiers
    assert digests_in_outbox(home) == ([], [])
    assert next_digest(app, SATURDAY, load_cadence(app.store)) is None
    app.close()


def test_a_thursday_evening_digest_in_los_angeles_across_the_end_of_dst(home: Path) -> None:
    app = offline(home, tz="America/Los_Angeles", digest_at=(3, time(17, 30)))
    tick(app, at(app, datetime(2026, 10, 27, 16, 0, tzinfo=timezone.utc)))  # Tuesday: the first run
    pdt_mark = datetime(2026, 10, 30, 0, 30, tzinfo=timezone.utc)  # Thu 29 Oct 17:30 PDT (UTC-7)
    assert digest_mark(app, pdt_mark) == pdt_mark
    assert DIGEST not in tick(app, at(app, pdt_mark - timedelta(minutes=1))).tiers
    assert next_digest(app, pdt_mark - timedelta(minutes=1), load_cadence(app.store)) == pdt_mark
    report = tick(app, at(app, pdt_mark + timedelta(minutes=1)))  # already Friday in UTC
    assert report.tiers[-1] == DIGEST and report.outcomes[-1].status == Status.DONE
    assert load_cadence(app.store)["digest"] == "2026-W43"  # 19–25 Oct, the last complete week in LA
    assert DIGEST not in tick(app, at(app, pdt_mark + timedelta(days=1))).tiers

    pst_mark = datetime(2026, 11, 6, 1, 30, tzinfo=timezone.utc)  # Thu 5 Nov 17:30 PST (UTC-8)
    assert next_digest(app, pdt_mark + timedelta(days=1), load_cadence(app.store)) == pst_mark
    assert DIGEST not in tick(app, at(app, pst_mark - timedelta(minutes=1))).tiers
    assert tick(app, at(app, pst_mark)).tiers[-1] == DIGEST
    assert load_cadence(app.store)["digest"] == "2026-W44"
    posts, charts = digests_in_outbox(home)
    assert len(posts) == 2 and len(charts) == 2
    app.close()


# --- with Airtable: no call, and a spent month ----------------------------------------------

NOV_SATURDAY = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
NOV_MONDAY_0800 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def rt(fake: FakeAirtable, base_ids: dict[str, str], tmp_path: Path, clock: FakeClock) -> Iterator[App]:
    clock.advance((NOV_SATURDAY - clock.now()).total_seconds())
    settings = Settings(
        airtable_token=TOKEN, base_ids=base_ids, airtable_api_url=fake.url, home=tmp_path / "home", crm="none"
    )
    runtime = App.open(settings, client_clock(clock))
    yield runtime
    runtime.close()


def _to(clock: FakeClock, moment: datetime) -> datetime:
    clock.advance((moment - clock.now()).total_seconds())
    return moment


def test_the_digest_tier_costs_no_airtable_call(rt: App, fake: FakeAirtable, clock: FakeClock) -> None:
    tick(rt, _to(clock, NOV_SATURDAY))
    tick(rt, _to(clock, NOV_MONDAY_0800 - timedelta(seconds=30)))  # the daily and fresh tiers
    fake.reset_counts()
    report = tick(rt, _to(clock, NOV_MONDAY_0800))
    assert report.tiers == [DIGEST] and [o.job for o in report.outcomes] == ["digest"]
    assert report.outcomes[0].status == Status.DONE and report.outcomes[0].calls == 0
    assert fake.requests == []


def test_the_digest_goes_out_in_a_month_whose_calls_are_spent(rt: App, fake: FakeAirtable, clock: FakeClock) -> None:
    tick(rt, _to(clock, NOV_SATURDAY))
    rt.ledger.record(NOV_SATURDAY, "appX", "read", 1000)
    fake.reset_counts()
    report = tick(rt, _to(clock, NOV_MONDAY_0800))
    assert report.tiers == [DIGEST]  # no Airtable tier: the month is spent
    assert report.outcomes[0].status == Status.DONE, report.outcomes[0]
    assert fake.requests == []
    posts, _charts = digests_in_outbox(rt.home)
    assert "over the allowance" in posts[0].read_text(encoding="utf-8")
