"""Effect keys that remember a generation, and the pruned effect queue.

A cell set to X, cleared, then set to X again is written all three times: cell-update keys carry
the run's time, so the third X is not mistaken for the first one already done. An intro e-mail in
doubt is sent again — once — when a manager clears Intro Sent At, as its Sync Notes say. Done
effects are forgotten after 90 days (once a day, with the daily tier); open, failed and unknown
ones stay.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from jobs.app import App
from jobs.apply.queue import DONE, FAILED, KEEP_DONE, PLANNED, STARTED, UNKNOWN, EffectQueue
from jobs.plan import Effect, StateSet
from jobs.schedule.tiers import DAILY, FRESH, tick
from jobs.settings import Settings
from tests.apps import T0, run
from tests.fakes.smtp import Recorder, serve
from tests.test_intros_stages import runtime, store_with_intro

NOW = datetime(2026, 11, 17, 7, 0, tzinfo=timezone.utc)
BAD, GOOD = "nina at partner.example", "nina@partner.example"


def notes(app: App, pid: str) -> str:
    record = app.store.get("partners", "Partners", pid)
    assert record is not None
    return str(record.fields.get("Sync Notes") or "")


def test_sync_notes_set_cleared_and_set_again_are_written_every_time(tmp_path: Path) -> None:
    app = App.open(Settings(home=tmp_path))
    pid = app.store.create("partners", "Partners", {"Name": "Nina", "Email": BAD}, created=T0).id
    seen = []
    for hour, (email, by_hand) in enumerate([(BAD, False), (GOOD, False), (BAD, False), (BAD, True)]):
        app.store.merge_fields("partners", "Partners", pid, {"Email": email})
        if by_hand:
            app.store.merge_fields("partners", "Partners", pid, {"Sync Notes": None})  # a manager clears it
        run(app, "health", NOW + timedelta(hours=hour))
        seen.append(notes(app, pid))
    x = seen[0]
    assert "Email" in x and seen == [x, "", x, x]  # set, cleared, set again, and again after a hand clear
    written = [k for k in done_keys(app) if k.startswith("notes:health:partners:Partners:")]
    assert len(written) == 4 and len({k.rsplit(":", 1)[1] for k in written}) == 2  # two texts, four writes
    app.close()


def test_an_intro_in_doubt_is_sent_again_once_when_a_manager_clears_intro_sent_at(tmp_path: Path) -> None:
    recorder = Recorder(drop_on_data=True)  # the mail server hangs up at the end of DATA: outcome unknown
    server = serve(recorder)
    controller = next(server)
    store, rid = store_with_intro(tmp_path)

    def intros(hours: float) -> None:
        when = NOW + timedelta(hours=hours)
        run(runtime(tmp_path, store, controller, when), "intros", when)

    def fields() -> dict[str, object]:
        record = store.get("referrals", "Referrals", rid)
        assert record is not None
        return dict(record.fields)

    try:
        intros(0)
        recorder.drop_on_data = False
        intros(1)
        assert recorder.received == [] and "clear Intro Sent At" in str(fields()["Sync Notes"])
        store.merge_fields("referrals", "Referrals", rid, {"Intro Sent At": None})  # the manager: send it again
        for hours in (2, 3, 30):
            intros(hours)
    finally:
        server.close()
    assert len(recorder.received) == 1  # sent again, once
    assert fields()["Status"] == "Introduced" and fields()["Intro Sent At"] == "2026-11-17T09:00:00.000Z"
    assert not fields().get("Sync Notes")
    assert len(list((tmp_path / "outbox" / "slack").glob("*.txt"))) == 1  # the Slack message: once per referral


def done_keys(app: App) -> list[str]:
    rows = app.queue._db.execute("SELECT key FROM effects WHERE status=? ORDER BY seq", (DONE,))
    return [str(r[0]) for r in rows]


# --- pruning -------------------------------------------------------------------------------------


def effect(key: str) -> Effect:
    return Effect(key, StateSet(f"test:{key}", 1), "local", key)


def fill(queue: EffectQueue, now: datetime) -> None:
    """One effect per status, 200 days old; done ones also 91 and 89 days old."""
    ages = {f"{s}-old": (s, timedelta(days=200)) for s in (DONE, FAILED, UNKNOWN, PLANNED, STARTED)}
    ages["done-91"] = (DONE, KEEP_DONE + timedelta(days=1))
    ages["done-89"] = (DONE, KEEP_DONE - timedelta(days=1))
    for key, (status, age) in ages.items():
        queue.enqueue([effect(key)], now - age)
        if status != PLANNED:
            queue.mark(key, status, now - age)


def test_prune_forgets_done_effects_older_than_90_days_and_keeps_everything_else(tmp_path: Path) -> None:
    queue = EffectQueue(tmp_path / "q.sqlite")
    fill(queue, NOW)
    assert queue.prune(NOW) == 2
    left = {k: queue.status(k) for k in ("done-old", "done-91", "done-89", "failed-old", "unknown-old")}
    assert left == {"done-old": None, "done-91": None, "done-89": DONE, "failed-old": FAILED, "unknown-old": UNKNOWN}
    assert queue.status("planned-old") == PLANNED and queue.status("started-old") == STARTED


@pytest.mark.parametrize("tier", [DAILY, FRESH])
def test_the_daily_tier_prunes_the_queue_and_the_fresh_tier_does_not(tmp_path: Path, tier: str) -> None:
    app = App.open(Settings(home=tmp_path))
    assert tick(app, NOW).tiers == [DAILY, FRESH]
    when = NOW + (timedelta(days=1) if tier == DAILY else timedelta(hours=1))
    queue = app.queue
    for key, (status, age) in {"done-91": (DONE, 91), "done-89": (DONE, 89), "failed-old": (FAILED, 200)}.items():
        queue.enqueue([effect(key)], when - timedelta(days=age))
        queue.mark(key, status, when - timedelta(days=age))
    assert tick(app, when).tiers == ([DAILY, FRESH] if tier == DAILY else [FRESH])
    assert queue.status("done-91") == (None if tier == DAILY else DONE)
    assert queue.status("done-89") == DONE and queue.status("failed-old") == FAILED
    app.close()
