"""The `digest` job end to end against the fake Slack over HTTP (the real slack-sdk client): one
post and one chart per ISO week across runs, crashes and a home restored from an older copy; the
numbers in the message against a plain computation over the sample data."""

from __future__ import annotations

import io
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib.image
import pytest

from bases.records import Record
from integrations.http import Clock
from integrations.ledger import CallLedger
from integrations.slack import SlackClient
from jobs.app import App
from jobs.apply.outbox import blocks_text
from jobs.apply.queue import DONE
from jobs.plan import Count, Status
from jobs.settings import Settings
from jobs.store.local import LocalStore
from jobs.store.sample import load_into
from tests.apps import dry, make_app, run
from tests.fakes.slack import FakeSlack

# Monday 1 June 2026, 08:05 in Berlin: the digest reports on 25–31 May (ISO 2026-W22).
NOW = datetime(2026, 6, 1, 6, 5, tzinfo=timezone.utc)
ZONE = ZoneInfo("Europe/Berlin")
MONDAY, SUNDAY = date(2026, 5, 25), date(2026, 5, 31)
MANAGERS = "C0MANAGERS"
WEEK = "2026-W22"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel(MANAGERS, private=False)
        yield fake


def settings(home: Path, fake: FakeSlack, **kw: Any) -> Settings:
    base = Settings(
        home=home,
        tz="Europe/Berlin",
        slack_bot_token=fake.token,
        slack_api_url=fake.url,
        slack_manager_channel=MANAGERS,
    )
    return replace(base, **kw)


def open_app(s: Settings, fake: FakeSlack, now: datetime = NOW) -> App:
    clock = Clock(now=lambda: now, sleep=lambda _s: None)
    client = SlackClient(fake.token, api_url=fake.url, sleep=lambda _s: None)
    store = LocalStore(s.home / "store.sqlite")
    return make_app(s, store, CallLedger(s.home / "ledger.sqlite"), None, clock, client)


def posts(fake: FakeSlack) -> list[dict[str, Any]]:
    """The digest posts in the managers' channel (a shared file is a message too: left out)."""
    return [m for m in fake.messages(MANAGERS) if not m.get("upload")]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    store = LocalStore(path / "store.sqlite")
    load_into(store, NOW - timedelta(hours=1))
    store.close()
    return path


def test_the_digest_posts_once_with_its_chart_and_keeps_the_weeks_snapshot(home: Path, slack: FakeSlack) -> None:
    app = open_app(settings(home, slack), slack)
    outcome = run(app, "digest", NOW)
    assert outcome.status == Status.DONE and outcome.counts[Count.DIGESTS] == 1, outcome
    assert outcome.calls == 0
    (post,) = posts(slack)
    assert post["metadata"]["event_payload"]["key"] == f"digest:{WEEK}"
    assert "<!" not in post["text"] + str(post["blocks"])  # no ping
    (chart,) = slack.files(MANAGERS)
    assert chart["name"] == f"partner-program-{WEEK}.png" and WEEK in chart["title"]
    assert float(chart["ts"]) > float(post["ts"])  # the chart after the message
    png = chart["content"]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert matplotlib.image.imread(io.BytesIO(png), format="png").shape[:2] == (560, 800)
    assert app.queue.status(f"digest:{WEEK}") == DONE
    snapshot = app.store.get_state(f"metrics:{WEEK}")
    assert isinstance(snapshot, dict) and snapshot["week"] == WEEK and snapshot["bands"]

    later = run(app, "digest", NOW + timedelta(days=2))  # the same ISO week: nothing more
    assert later.status == Status.SKIPPED and "went out already" in later.reason
    assert len(posts(slack)) == 1 and len(slack.files(MANAGERS)) == 1
    app.close()


def test_a_home_restored_from_before_the_digest_posts_nothing_twice(
    home: Path, slack: FakeSlack, tmp_path: Path
) -> None:
    backup = tmp_path / "backup"
    shutil.copytree(home, backup)  # the home as it was before the digest (e.g. a CI cache)
    app = open_app(settings(home, slack), slack)
    assert run(app, "digest", NOW).status == Status.DONE
    app.close()
    shutil.rmtree(home)
    shutil.copytree(backup, home)

    restored = open_app(settings(home, slack), slack, NOW + timedelta(hours=1))
    assert restored.queue.status(f"digest:{WEEK}") is None  # the restored home does not know
    again = run(restored, "digest", NOW + timedelta(hours=1))
    assert again.status == Status.DONE and not again.failures, again
    assert len(posts(slack)) == 1 and len(slack.files(MANAGERS)) == 1  # found in Slack, not sent again
    assert restored.queue.status(f"digest:{WEEK}") == DONE and restored.queue.status(f"digest-chart:{WEEK}") == DONE
    assert isinstance(restored.store.get_state(f"metrics:{WEEK}"), dict)  # the snapshot is kept again
    restored.close()


def test_a_digest_whose_answer_was_lost_is_found_not_posted_again(home: Path, slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", after_apply=True, drop=True)
    app = open_app(settings(home, slack), slack)
    first = run(app, "digest", NOW)
    assert first.pending >= 1 and len(posts(slack)) == 1  # applied, answer lost: left to reconcile
    second = run(app, "digest", NOW + timedelta(minutes=30))
    assert len(posts(slack)) == 1 and len(slack.files(MANAGERS)) == 1
    assert app.queue.status(f"digest:{WEEK}") == DONE, second
    app.close()


def test_without_a_managers_channel_the_digest_is_skipped_with_the_fix(home: Path, slack: FakeSlack) -> None:
    app = open_app(settings(home, slack, slack_manager_channel=""), slack)
    outcome = run(app, "digest", NOW)
    assert outcome.status == Status.SKIPPED and "SLACK_MANAGER_CHANNEL" in outcome.reason
    assert slack.messages() == []
    app.close()


def test_digest_at_off_never_posts(home: Path, slack: FakeSlack) -> None:
    app = open_app(settings(home, slack, digest_at=None), slack)
    outcome = run(app, "digest", NOW)
    assert outcome.status == Status.SKIPPED and "DIGEST_AT=off" in outcome.reason
    assert slack.messages() == [] and slack.files(MANAGERS) == []
    app.close()


def test_a_dry_run_lists_the_digest_and_sends_nothing(home: Path, slack: FakeSlack) -> None:
    app = open_app(settings(home, slack), slack)
    outcome, lines = dry(app, "digest", NOW)
    assert outcome.status == Status.PLANNED
    assert any(line.startswith(f"Slack post in {MANAGERS}:") and "What happened" in line for line in lines)
    assert any(f"partner-program-{WEEK}.png" in line for line in lines)
    assert slack.messages() == [] and app.queue.status(f"digest:{WEEK}") is None
    app.close()


# --- the numbers, against a plain computation ------------------------------------------------


def _f(r: Record, name: str) -> Any:
    return r.fields.get(name)


def _local_day(r: Record) -> date:
    return datetime.fromisoformat(r.created_time.replace("Z", "+00:00")).astimezone(ZONE).date()


def _sourced(r: Record) -> bool:
    return _f(r, "Direction") == "From partner" and _f(r, "Status") not in ("Duplicate", "Rejected")


def expected(store: LocalStore) -> dict[str, Any]:
    """The digest's numbers from SPEC §8, loop by loop over the records."""
    refs = store.all("referrals", "Referrals", archived=True)
    partners = store.all("partners", "Partners")
    week = [r for r in refs if _f(r, "Direction") == "From partner" and MONDAY <= _local_day(r) <= SUNDAY]
    accepted = [r for r in week if _f(r, "Status") in ("Accepted", "In CRM", "Won", "Lost", "Expired")]
    pipeline = sum(
        _f(r, "Amount") or 0
        for r in refs
        if _f(r, "Direction") == "From partner"
        and _f(r, "Attribution") == "Sourced"
        and _f(r, "Status") in ("Accepted", "In CRM", "Won")
    )
    recent = [
        r for r in refs if _f(r, "Direction") == "From partner" and 0 <= (date(2026, 6, 1) - _local_day(r)).days <= 365
    ]
    won = sum(1 for r in recent if _f(r, "Status") == "Won")
    closed = sum(1 for r in recent if _f(r, "Status") in ("Won", "Lost"))
    senders = {str(_f(r, "Partner Email")).strip().lower() for r in refs if _sourced(r)}
    onboarded = [p for p in partners if _f(p, "Stage") in ("Onboarded", "Active", "Stale")]
    activated = [p for p in onboarded if str(_f(p, "Email")).strip().lower() in senders]
    return {
        "new": len(week),
        "accepted": len(accepted),
        "pipeline": pipeline,
        "won": won,
        "closed": closed,
        "activated": len(activated),
        "onboarded": len(onboarded),
        "bands": Counter(str(_f(p, "Health Band")) for p in partners if _f(p, "Health Band")),
        "records": {name: store.count(key) for key, name in (("partners", "Partners"), ("referrals", "Referrals"))},
    }


def test_the_numbers_in_the_message_match_a_plain_computation(home: Path, slack: FakeSlack) -> None:
    app = open_app(settings(home, slack), slack)
    assert run(app, "health", NOW).status == Status.DONE  # writes Health Band: what a manager sees
    want = expected(app.store)
    assert want["new"] > 0 and want["closed"] > 0 and want["onboarded"] > 0  # the sample exercises them
    run(app, "digest", NOW)
    (post,) = posts(slack)
    words = blocks_text(post["blocks"])
    assert (
        f"*{want['new']} new referral{'s' if want['new'] != 1 else ''}* from partners: {want['accepted']} accepted"
        in words
    )
    assert f"Sourced pipeline ${want['pipeline']:,.0f}" in words
    rate = round(100 * want["won"] / want["closed"])
    assert f"Win rate {rate}% ({want['won']} won of {want['closed']} closed, 365 days)" in words
    assert f"({want['activated']} of {want['onboarded']} onboarded partners have referred)" in words
    for band in ("Top", "Healthy", "At risk", "Stale", "New"):
        assert re.search(rf"\b{band} {want['bands'][band]}\b", words), (band, words)
    for name, n in want["records"].items():
        assert f"{name} {n:,} / 1,000" in words
    assert "Airtable calls this month: 0 used" in words
    app.close()
