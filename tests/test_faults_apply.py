"""The apply layer under faults, effect by effect: what is looked up before it runs (started,
``check_first`` by key or prefix, leftovers of an earlier process), a file upload whose answer
was lost, a message to a partner whose Slack account changed, an e-mail whose group went on."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from integrations.slack import SlackClient
from jobs.apply.airtable import AirtableExecutor
from jobs.apply.drain import AFTER_KNOWN, RESTORE_WINDOW, EffectFailed, Executor, Result, drain
from jobs.apply.queue import DONE, PLANNED, STARTED, UNKNOWN, EffectQueue
from jobs.apply.slack import SlackExecutor
from jobs.apply.writer import RecordWriter
from jobs.plan import CellUpdate, ChannelPost, DirectMessage, Effect, EmailSend, FileUpload, StateSet
from jobs.store.local import LocalStore
from tests.fakes.slack import FakeSlack

NOW = datetime(2026, 11, 17, 7, 0, tzinfo=timezone.utc)
CHANNEL = "G0CIRCLE01"
TOKEN = "xoxb-apply-token"
PREFIX = "nudge:atrisk:recCIRCLE:ria@partner.example:"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # urllib would send 127.0.0.1 through a proxy
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(TOKEN) as server:
        server.add_channel(CHANNEL)
        yield server


@pytest.fixture
def slack(fake: FakeSlack) -> SlackClient:
    return SlackClient(TOKEN, api_url=fake.url, timeout=5, sleep=lambda _s: None)


class Recording:
    """An executor that records what it ran and from when it was asked to look effects up."""

    def __init__(self, found: set[str] | None = None) -> None:
        self.ran: list[str] = []
        self.asked: dict[str, datetime] = {}
        self.found = found or set()

    def run(self, effect: Effect) -> Result:
        self.ran.append(effect.key)
        return {}

    def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
        self.asked[effect.key] = started_at
        return {"found": True} if effect.key in self.found else None


def clock() -> datetime:
    return NOW


def post(key: str, *, check_prefix: str = "", check_first: bool = False) -> Effect:
    payload = DirectMessage("ria@partner.example", "U1", f"text of {key}")
    first = check_first or bool(check_prefix)
    return Effect(key, payload, "ria@partner.example", key, check_first=first, check_prefix=check_prefix)


# --- find_posted by prefix ---------------------------------------------------------------------


def test_find_posted_matches_a_key_prefix_only_when_asked(slack: SlackClient) -> None:
    slack.post(CHANNEL, "nudge", metadata_key=f"{PREFIX}2026-11-15")
    slack.post(CHANNEL, "other", metadata_key="nudge:atrisk:recCIRCLE:rianne@partner.example:2026-11-16")
    ts = slack.find_posted(CHANNEL, PREFIX, oldest=0, prefix=True)
    assert ts is not None and ts == slack.find_posted(CHANNEL, f"{PREFIX}2026-11-15", oldest=0)
    assert slack.find_posted(CHANNEL, PREFIX, oldest=0) is None  # an exact look-up is exact
    assert slack.find_posted(CHANNEL, f"{PREFIX}2026-11-17", oldest=0, prefix=True) is None


# --- what is looked up before it runs, and from when ------------------------------------------------


def test_check_prefix_is_stored_with_the_effect_and_looked_up_over_the_restore_window(tmp_path: Path) -> None:
    queue = EffectQueue(tmp_path / "q.sqlite")
    queue.enqueue([post(f"{PREFIX}2026-11-17", check_prefix=PREFIX)], NOW)
    (item,) = EffectQueue(tmp_path / "q.sqlite").queued()
    assert item.effect.check_prefix == PREFIX and item.effect.check_first
    ex = Recording(found={f"{PREFIX}2026-11-17"})
    report = drain(queue, {"slack": ex}, clock)
    assert ex.asked == {f"{PREFIX}2026-11-17": NOW - RESTORE_WINDOW} and ex.ran == []
    assert [e.key for e in report.done] == [f"{PREFIX}2026-11-17"] and queue.status(f"{PREFIX}2026-11-17") == DONE


def test_a_prefix_look_up_starts_after_the_newest_match_the_queue_knows(tmp_path: Path) -> None:
    """An earlier stay's nudge (known done here) is not this one: the look-up starts after it."""
    queue = EffectQueue(tmp_path / "q.sqlite")
    earlier = NOW - timedelta(days=7, hours=1)
    queue.enqueue([post(f"{PREFIX}2026-11-10", check_prefix=PREFIX)], earlier)
    queue.mark(f"{PREFIX}2026-11-10", DONE, earlier)
    queue.enqueue([post(f"{PREFIX}2026-11-17", check_prefix=PREFIX)], NOW)
    ex = Recording()
    drain(queue, {"slack": ex}, clock)
    assert ex.asked[f"{PREFIX}2026-11-17"] == earlier + AFTER_KNOWN > NOW - RESTORE_WINDOW
    assert ex.ran == [f"{PREFIX}2026-11-17"]


def test_only_leftovers_of_an_earlier_process_are_looked_up_before_they_run(tmp_path: Path) -> None:
    before = EffectQueue(tmp_path / "q.sqlite")
    before.enqueue([post("welcome:old")], NOW - timedelta(hours=2))  # a run that stopped before sending it
    queue = EffectQueue(tmp_path / "q.sqlite")  # the next process
    queue.enqueue([post("welcome:new")], NOW)
    assert [(q.effect.key, q.leftover) for q in queue.queued()] == [("welcome:old", True), ("welcome:new", False)]
    ex = Recording(found={"welcome:old"})  # a run whose memory was lost (a restored home) sent it
    drain(queue, {"slack": ex}, clock)
    assert ex.asked == {"welcome:old": NOW - timedelta(hours=2)}  # looked up since it was planned
    assert ex.ran == ["welcome:new"] and queue.status("welcome:old") == DONE


def test_a_lookup_that_fails_leaves_the_effect_and_its_group_queued(tmp_path: Path) -> None:
    class Down(Recording):
        def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
            raise EffectFailed("Slack is down", permanent=False)

    EffectQueue(tmp_path / "q.sqlite").enqueue(
        [
            Effect("a", DirectMessage("x@y.example", "U1", "a"), "x", "a", group="g"),
            Effect("b", StateSet("k", 1), "local", "b", group="g"),
        ],
        NOW,
    )
    queue = EffectQueue(tmp_path / "q.sqlite")
    state = Recording()
    report = drain(queue, {"slack": Down(), "state": state}, clock)
    assert report.pending == 2 and state.ran == [] and queue.status("a") == queue.status("b") == PLANNED


# --- an e-mail whose group went on ---------------------------------------------------------------------


def intro_group(store: LocalStore) -> tuple[str, list[Effect]]:
    rid = store.create("referrals", "Referrals", {"Referral": "Lead — Lu", "Status": "New"}, created=NOW).id
    group = f"intro:{rid}"
    done = CellUpdate("referrals", "Referrals", rid, {"Status": "Introduced"})
    return rid, [
        Effect(
            f"intro-email:{rid}", EmailSend("To: a@b.example\n\nhi\n"), "a", "e-mail", repeatable=False, group=group
        ),
        Effect(f"intro-done:{rid}", done, rid, "Introduced", group=group),
    ]


@pytest.mark.parametrize("status", [PLANNED, STARTED])
@pytest.mark.parametrize("introduced", [True, False], ids=["introduced", "still-new"])
def test_an_email_whose_later_step_is_in_airtable_went_out_and_is_not_sent_again(
    tmp_path: Path, status: str, introduced: bool
) -> None:
    """A copy of the home that still held the e-mail queued (or started), restored after a run
    that sent it and wrote Status Introduced: the e-mail went out. Without that later step, a
    planned e-mail is sent and a started one is reported, never guessed."""
    store = LocalStore(tmp_path / "store.sqlite")
    rid, effects = intro_group(store)
    EffectQueue(tmp_path / "q.sqlite").enqueue(effects, NOW - timedelta(hours=1))
    old = EffectQueue(tmp_path / "q.sqlite")
    if status == STARTED:
        old.mark(effects[0].key, STARTED, NOW - timedelta(hours=1))
    if introduced:
        store.merge_fields("referrals", "Referrals", rid, {"Status": "Introduced"})  # synced from the feed
    email = Recording()
    executors: dict[str, Executor] = {"email": email, "airtable": AirtableExecutor(RecordWriter(store, None, clock))}
    queue = EffectQueue(tmp_path / "q.sqlite")
    report = drain(queue, executors, clock)
    if introduced:
        assert email.ran == [] and queue.status(effects[0].key) == DONE and not report.unknown
    elif status == PLANNED:
        assert email.ran == [effects[0].key] and queue.status(effects[1].key) == DONE
    else:
        assert email.ran == [] and queue.status(effects[0].key) == UNKNOWN and report.unknown


# --- Slack: file uploads and changed accounts ------------------------------------------------------------


def upload(check_first: bool = False) -> Effect:
    content = base64.b64encode(b"\x89PNG chart").decode()
    payload = FileUpload(CHANNEL, "chart.png", "Partner program 2026-W47", content)
    return Effect("digest-chart:2026-W47", payload, CHANNEL, "the week's chart", check_first=check_first)


def test_an_upload_whose_answer_was_lost_is_found_not_shared_twice(
    tmp_path: Path, fake: FakeSlack, slack: SlackClient
) -> None:
    queue = EffectQueue(tmp_path / "q.sqlite")
    queue.enqueue([upload()], NOW)
    fake.fail_next("files.completeUploadExternal", after_apply=True, drop=True)
    executors: dict[str, Executor] = {"slack": SlackExecutor(slack)}
    assert drain(queue, executors, clock).pending == 1 and queue.status(upload().key) == STARTED
    report = drain(queue, executors, clock)
    assert [e.key for e in report.done] == [upload().key] and len(fake.files(CHANNEL)) == 1


@pytest.mark.parametrize("shared", [True, False])
def test_an_upload_marked_check_first_is_looked_up_by_its_title(
    tmp_path: Path, fake: FakeSlack, slack: SlackClient, shared: bool
) -> None:
    if shared:  # a run whose home was lost shared it already
        slack.upload_file(CHANNEL, "chart.png", b"\x89PNG chart", "Partner program 2026-W47")
    queue = EffectQueue(tmp_path / "q.sqlite")
    queue.enqueue([upload(check_first=True)], NOW)
    drain(queue, {"slack": SlackExecutor(slack)}, clock)
    assert len(fake.files(CHANNEL)) == 1 and queue.status(upload().key) == DONE


def test_a_lost_message_to_a_partner_whose_slack_account_changed_is_found(
    tmp_path: Path, fake: FakeSlack, slack: SlackClient
) -> None:
    """The stored user id is gone (a new account, same e-mail): the message went to the new one,
    and that is where it is looked up — instead of a look-up that fails on every run."""
    old = fake.add_user("gone@partner.example", deleted=True)
    fake.users.pop("gone@partner.example")
    new = fake.add_user("gone@partner.example")
    effect = Effect("receipt:rec1", DirectMessage("gone@partner.example", old, "thanks"), "gone@partner.example", "r")
    queue = EffectQueue(tmp_path / "q.sqlite")
    queue.enqueue([effect], NOW)
    fake.fail_next("chat.postMessage", after_apply=True, drop=True)
    executors: dict[str, Executor] = {"slack": SlackExecutor(slack)}
    assert drain(queue, executors, clock).pending == 1
    report = drain(queue, executors, clock)
    assert [e.key for e in report.done] == ["receipt:rec1"]
    assert [m["channel"] for m in fake.messages()] == [fake.dms[new]]


def test_a_channel_post_planned_by_an_earlier_process_is_found_before_it_is_posted_again(
    tmp_path: Path, fake: FakeSlack, slack: SlackClient
) -> None:
    effect = Effect("joinpost:c:2026-11-17", ChannelPost(CHANNEL, "Please welcome Alma"), CHANNEL, "post")
    EffectQueue(tmp_path / "q.sqlite").enqueue([effect], NOW)
    slack.post(CHANNEL, "Please welcome Alma", metadata_key=effect.key)  # sent by a run whose home was lost
    drain(EffectQueue(tmp_path / "q.sqlite"), {"slack": SlackExecutor(slack)}, clock)
    assert len(fake.messages(CHANNEL)) == 1
