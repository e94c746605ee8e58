"""The effect queue writes a contiguous run of Airtable cell updates of one table in one call
(10 records a call), against the fake Airtable over HTTP: counted calls, a bad record failing
alone, a transient failure leaving the whole batch queued, and leftovers of a killed run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from integrations.airtable import AirtableClient
from jobs.apply.airtable import AirtableExecutor
from jobs.apply.drain import DrainReport as ApplyReport
from jobs.apply.drain import EffectFailed, Executor, drain
from jobs.apply.queue import DONE, FAILED, PLANNED, STARTED, EffectQueue
from jobs.apply.state import StateExecutor
from jobs.apply.writer import RecordWriter
from jobs.plan import CellUpdate, ChannelPost, Effect, StateSet
from jobs.store.local import LocalStore
from tests.apps import T0
from tests.fakes.airtable import FakeAirtable, FakeClock


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[EffectQueue]:
    q = EffectQueue(tmp_path / "effects.sqlite")
    yield q
    q.close()


def cell_update(
    key: str, base: str, table: str, rid: str, cells: dict[str, Any], describe: str, *, group: str = ""
) -> Effect:
    return Effect(key, CellUpdate(base, table, rid, cells), rid, describe, group=group)


def seed(
    fake: FakeAirtable, base_ids: dict[str, str], client: AirtableClient, store: LocalStore, table: str, n: int
) -> list[str]:
    """n records in the fake and, as `sync` would leave them, in the store; no call counted."""
    base = base_ids["partners"]
    if table == "Partners":
        ids = [fake.ui_create(base, table, {"Name": f"P{i}", "Email": f"p{i}@x.example"}) for i in range(n)]
    else:
        ids = [fake.ui_create(base, table, {"Activity": f"A{i}"}) for i in range(n)]
    store.put("partners", table, [r for r in client.list_records("partners", table) if r.id in ids])
    fake.reset_counts()
    return ids


def score(rid: str, value: Any, *, table: str = "Partners", tag: str = "", group: str = "") -> Effect:
    field = "Health Score" if table == "Partners" else "Sync Notes"
    return cell_update(f"t:{table}:{rid}:{tag}", "partners", table, rid, {field: value}, f"{table} {rid}", group=group)


def run(
    queue: EffectQueue, store: LocalStore, client: AirtableClient, clock: FakeClock, effects: list[Effect]
) -> ApplyReport:
    queue.enqueue(effects, clock.now())
    return drain_all(queue, store, client, clock)


def drain_all(
    queue: EffectQueue, store: LocalStore, client: AirtableClient, clock: FakeClock, progress: Any = None
) -> ApplyReport:
    executors: dict[str, Executor] = {
        "airtable": AirtableExecutor(RecordWriter(store, client, clock.now)),
        "state": StateExecutor(store),
    }
    return drain(queue, executors, clock.now, progress)


def live(fake: FakeAirtable, base_ids: dict[str, str], table: str = "Partners") -> dict[str, dict[str, Any]]:
    return {r["id"]: r["fields"] for r in fake.records(base_ids["partners"], table)}


@pytest.mark.parametrize(("n", "calls"), [(1, 1), (7, 1), (10, 1), (11, 2), (23, 3)])
def test_a_run_of_cell_updates_on_one_table_costs_one_call_per_ten_records(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    queue: EffectQueue,
    clock: FakeClock,
    n: int,
    calls: int,
) -> None:
    ids = seed(fake, base_ids, client, store, "Partners", n)
    report = run(queue, store, client, clock, [score(rid, 40 + i) for i, rid in enumerate(ids)])
    assert fake.calls("PATCH") == calls
    assert fake.calls() == calls  # nothing else was sent
    assert len(report.done) == n and not report.failed and report.pending == 0
    fields = live(fake, base_ids)
    assert [fields[rid]["Health Score"] for rid in ids] == [40 + i for i in range(n)]
    assert queue.counts() == {DONE: n}


def test_cells_for_one_record_are_merged_in_queue_order_and_cost_one_record(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    queue: EffectQueue,
    clock: FakeClock,
) -> None:
    ids = seed(fake, base_ids, client, store, "Partners", 10)
    first = cell_update("a", "partners", "Partners", ids[0], {"Sync Notes": "old", "Health Score": 1}, "first")
    later = cell_update("b", "partners", "Partners", ids[0], {"Sync Notes": "new"}, "later")
    others = [score(rid, 7) for rid in ids[1:]]
    report = run(queue, store, client, clock, [first, *others, later])
    assert fake.calls("PATCH") == 1  # 10 distinct records, 11 effects
    merged = live(fake, base_ids)[ids[0]]
    assert (merged["Sync Notes"], merged["Health Score"]) == ("new", 1)
    assert len(report.done) == 11


def test_updates_of_two_tables_are_never_merged_and_a_run_breaks_where_the_table_changes(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    queue: EffectQueue,
    clock: FakeClock,
) -> None:
    partners = seed(fake, base_ids, client, store, "Partners", 3)
    activities = seed(fake, base_ids, client, store, "Activities", 3)
    interleaved = [
        e for p, a in zip(partners, activities, strict=True) for e in (score(p, 5), score(a, "x", table="Activities"))
    ]
    run(queue, store, client, clock, interleaved)
    assert fake.calls("PATCH") == 6
    assert fake.calls("PATCH", "/Partners") == 3 and fake.calls("PATCH", "/Activities") == 3
    # Grouped by table, the same six updates are two calls.
    fake.reset_counts()
    together = [score(p, 6, tag="2") for p in partners] + [
        score(a, "y", table="Activities", tag="2") for a in activities
    ]
    run(queue, store, client, clock, together)
    assert fake.calls("PATCH", "/Partners") == 1 and fake.calls("PATCH", "/Activities") == 1
    assert all(f["Sync Notes"] == "y" for f in live(fake, base_ids, "Activities").values())


def test_another_kind_of_effect_between_two_updates_splits_the_run(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    queue: EffectQueue,
    clock: FakeClock,
) -> None:
    ids = seed(fake, base_ids, client, store, "Partners", 4)
    note = Effect("state:x", StateSet("x", 1), "local", "remember x")
    run(queue, store, client, clock, [score(ids[0], 1), score(ids[1], 1), note, score(ids[2], 1), score(ids[3], 1)])
    assert fake.calls("PATCH") == 2 and store.get_state("x") == 1


def test_a_record_airtable_refuses_fails_alone(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    queue: EffectQueue,
    clock: FakeClock,
) -> None:
    ids = seed(fake, base_ids, client, store, "Partners", 5)
    effects = [score(rid, "not a number" if i == 2 else 60 + i) for i, rid in enumerate(ids)]
    report = run(queue, store, client, clock, effects)
    assert list(report.failed) == [effects[2].key]
    assert 'Field "Health Score" cannot accept the provided value' in report.failed[effects[2].key]
    assert len(report.done) == 4 and report.pending == 0
    assert queue.status(effects[2].key) == FAILED
    fields = live(fake, base_ids)
    assert [fields[rid].get("Health Score") for rid in ids] == [60, 61, None, 63, 64]
    assert fake.calls("PATCH") == 1 + 5  # the batch, then one record at a time to find the bad one


def test_a_refused_record_written_by_two_effects_fails_only_the_bad_effect(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    queue: EffectQueue,
    clock: FakeClock,
) -> None:
    (rid,) = seed(fake, base_ids, client, store, "Partners", 1)
    good = cell_update("good", "partners", "Partners", rid, {"Sync Notes": "fine"}, "good")
    bad = cell_update("bad", "partners", "Partners", rid, {"Health Score": "NaN?"}, "bad")
    report = run(queue, store, client, clock, [good, bad])
    assert [e.key for e in report.done] == ["good"] and list(report.failed) == ["bad"]
    assert live(fake, base_ids)[rid]["Sync Notes"] == "fine"


def test_a_failed_effect_stops_the_rest_of_its_group_even_inside_a_run(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    queue: EffectQueue,
    clock: FakeClock,
) -> None:
    ids = seed(fake, base_ids, client, store, "Partners", 3)
    bad = score(ids[0], "oops", group="g")
    other = score(ids[1], 10)
    after = score(ids[2], 11, group="g")  # same group: runs only after `bad` succeeded
    report = run(queue, store, client, clock, [bad, other, after])
    assert set(report.failed) == {bad.key, after.key}
    assert report.failed[after.key].startswith("not done:")
    assert [e.key for e in report.done] == [other.key]
    assert "Health Score" not in live(fake, base_ids)[ids[2]]


@pytest.mark.parametrize("how", ["server-error", "no-answer"])
def test_a_transient_failure_leaves_the_whole_batch_queued_and_the_next_run_writes_it(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    queue: EffectQueue,
    clock: FakeClock,
    how: str,
) -> None:
    ids = seed(fake, base_ids, client, store, "Partners", 7)
    # The client retries a PATCH twice (safe to repeat): fail all three attempts.
    fake.fail_next(method="PATCH", status=503, drop=how == "no-answer", times=3)
    effects = [score(rid, 30 + i) for i, rid in enumerate(ids)]
    report = run(queue, store, client, clock, effects)
    assert report.pending == 7 and not report.done and not report.failed
    assert all(queue.status(e.key) == PLANNED for e in effects)
    assert all("Health Score" not in f for f in live(fake, base_ids).values())
    fake.reset_counts()
    again = drain_all(queue, store, client, clock)
    assert len(again.done) == 7 and fake.calls("PATCH") == 1
    fields = live(fake, base_ids)
    assert [fields[rid]["Health Score"] for rid in ids] == [30 + i for i in range(7)]


def test_updates_a_killed_run_left_started_are_written_again_together(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    queue: EffectQueue,
    clock: FakeClock,
) -> None:
    ids = seed(fake, base_ids, client, store, "Partners", 12)
    effects = [score(rid, 70) for rid in ids]
    queue.enqueue(effects, clock.now())
    for e in effects[:10]:
        queue.mark(e.key, STARTED, clock.now())  # died during the first batch's call
    messages: list[str] = []
    report = drain_all(queue, store, client, clock, messages.append)
    assert len(report.done) == 12 and fake.calls("PATCH") == 2
    assert all(f["Health Score"] == 70 for f in live(fake, base_ids).values())
    assert messages == ["10 of 12 effects applied"]


def test_progress_is_told_every_ten_effects(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    queue: EffectQueue,
    clock: FakeClock,
) -> None:
    ids = seed(fake, base_ids, client, store, "Partners", 23)
    queue.enqueue([score(rid, 1) for rid in ids], clock.now())
    messages: list[str] = []
    drain_all(queue, store, client, clock, messages.append)
    assert messages == ["10 of 23 effects applied", "20 of 23 effects applied"]


def test_a_failed_effect_planned_again_runs_its_new_payload(
    fake: FakeAirtable,
    base_ids: dict[str, str],
    client: AirtableClient,
    store: LocalStore,
    queue: EffectQueue,
    clock: FakeClock,
) -> None:
    (rid,) = seed(fake, base_ids, client, store, "Partners", 1)
    report = run(
        queue, store, client, clock, [cell_update("k", "partners", "Partners", rid, {"Health Score": "x"}, "v1")]
    )
    assert list(report.failed) == ["k"]
    fixed = cell_update("k", "partners", "Partners", rid, {"Health Score": 88}, "v2")
    report = run(queue, store, client, clock, [fixed])
    assert [e.describe for e in report.done] == ["v2"]
    assert live(fake, base_ids)[rid]["Health Score"] == 88


def test_without_airtable_a_batch_is_written_to_the_store(tmp_path: Path, queue: EffectQueue) -> None:
    store = LocalStore(tmp_path / "s.sqlite")
    ids = [store.create("partners", "Partners", {"Email": f"p{i}@x.example"}, created=T0).id for i in range(12)]
    queue.enqueue([score(rid, 9) for rid in ids], datetime(2026, 11, 2))
    when = datetime(2026, 11, 2)
    report = drain(queue, {"airtable": AirtableExecutor(RecordWriter(store, None, lambda: when))}, lambda: when)
    assert len(report.done) == 12
    assert all(store.get("partners", "Partners", rid).fields["Health Score"] == 9 for rid in ids)  # type: ignore[union-attr]


def test_an_effect_whose_outcome_cannot_be_checked_stays_started_and_the_run_goes_on(
    tmp_path: Path, queue: EffectQueue
) -> None:
    class Unreachable:
        """Like Slack during an outage: cannot say whether a started post went out."""

        def __init__(self) -> None:
            self.ran: list[str] = []

        def run(self, effect: Effect) -> dict[str, Any]:
            self.ran.append(effect.key)
            return {}

        def reconcile(self, effect: Effect, started_at: datetime) -> dict[str, Any] | None:
            raise EffectFailed("could not check whether it was sent", permanent=False)

    when = datetime(2026, 11, 2)
    post = Effect("post", ChannelPost("c", "post"), "c", "post", repeatable=False, group="g")
    then = Effect("then", ChannelPost("c", "then"), "c", "then", group="g")
    other = Effect("other", ChannelPost("c", "other"), "c", "other")
    queue.enqueue([post, then, other], when)
    queue.mark("post", STARTED, when)
    slack = Unreachable()
    report = drain(queue, {"slack": slack}, lambda: when)
    assert queue.status("post") == STARTED  # checked again next run, never guessed
    # The rest of its group waits, queued, for the post to be settled; the others go on.
    assert slack.ran == ["other"] and queue.status("then") == PLANNED and report.pending == 2
    assert report.failed == {}
