"""A broken field stops what depends on it: a renamed, retyped or trimmed field in Airtable stops
the jobs that read or write it and the jobs that read their output, with one clear message in the
run summary and one post in the managers' channel per distinct problem; nothing is written or
sent on its basis — not on the mirror as it was before the change either."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.cli import main
from jobs.plan import Status
from jobs.schedule.registry import CIRCLES, HEALTH
from jobs.schedule.runner import run_jobs
from jobs.schedule.tiers import cycle_jobs, tick
from tests.conftest import TOKEN, provision
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.test_bad_input_world import MANAGERS, TOP, World, world_fixture  # noqa: F401

AT_RISK_GONE = ["New", "Top", "Healthy", "Stale"]


def members_in(world: World) -> None:
    """The first cycle: Jane and Bob scored Top and invited; then the change feed is all caught up."""
    world.top_partners()
    report = world.tick()
    assert report.ok, [o.failures for o in report.outcomes]
    assert world.members() == set(world.users.values())


def assert_nothing_done_on_its_basis(world: World, dms: int) -> None:
    assert world.writes() == 0
    assert world.members() == set(world.users.values())  # nobody kicked
    assert len(world.dms()) == dms  # no removal message
    for rid in world.people.values():
        fields = world.record("partners", "Partners", rid)
        assert fields["Health Band"] == "Top" and str(fields["Health Score"]) == "78"  # no Stale score


BREAKS = {
    "referral partner email renamed": (
        lambda w: w.air.ui_rename_field(w.ids["referrals"], "Referrals", "Partner Email", "Partner email"),
        "Referrals › Referrals › Partner Email: was renamed to 'Partner email'. "
        "Fix: rename 'Partner email' back to 'Partner Email'",
        {"health", "circles", "referrals", "stages", "intros"},
    ),
    "health score made text": (
        lambda w: w.air.ui_set_type(w.ids["partners"], "Partners", "Health Score", "singleLineText"),
        "Partners › Partners › Health Score: is a singleLineText field but the template expects number",
        {"health", "circles"},
    ),
    "circle override deleted": (
        lambda w: w.air.ui_delete_field(w.ids["partners"], "Partners", "Circle Override"),
        "Partners › Partners › Circle Override: was deleted in Airtable (it was there at the last check)",
        {"circles"},
    ),
    "health band lost its at-risk option": (
        lambda w: w.air.ui_set_choices(w.ids["partners"], "Partners", "Health Band", AT_RISK_GONE),
        "Partners › Partners › Health Band: has no option 'At risk'",
        {"health", "circles"},
    ),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_a_broken_field_stops_its_jobs_and_their_readers_with_one_message(world: World, case: str) -> None:
    members_in(world)
    dms = len(world.dms())
    breaks, problem, stopped = BREAKS[case]
    breaks(world)
    report = world.tick(days=1)  # the change feed reports the change: a full resync, then the jobs
    assert not report.ok
    blocked = {o.job for o in report.outcomes if o.status == Status.BLOCKED}
    assert blocked == stopped
    first = world.outcome(report, "health" if "health" in stopped else "circles")
    assert len(first.failures) == 1 and problem in first.failures[0]
    assert "Nothing was written or sent on its basis" in first.failures[0]
    circles = world.outcome(report, "circles")
    if "health" in stopped:
        assert circles.failures[0].startswith("not run: it reads what health writes, and health could not run (")
    assert len(circles.failures) == 1 and problem in circles.failures[0]
    assert_nothing_done_on_its_basis(world, dms)
    (post,) = world.managers()
    assert problem in post and f"stopped *{first.job}*" in post
    for _day in range(2):  # the next runs: still stopped, still no action, not told again
        again = world.tick(days=1)
        assert {o.job for o in again.outcomes if o.status == Status.BLOCKED} == stopped
        assert_nothing_done_on_its_basis(world, dms)
        assert len(world.managers()) == 1


def test_a_field_the_base_never_had_is_written_around_by_a_job_that_only_writes_it(world: World) -> None:
    """A newer template's field, not added yet (no id ever seen): the run says the bases differ, but
    the health job is not stopped for a field it only writes."""
    world.air.ui_delete_field(world.ids["partners"], "Partners", "Health Detail")
    world.top_partners()
    report = world.tick()
    (difference,) = world.outcome(report, "sync").failures
    assert difference.startswith("Partners › Partners › Health Detail: is missing")
    assert world.outcome(report, "health").ok and world.outcome(report, "circles").ok
    assert world.record("partners", "Partners", world.people["jane"])["Health Score"] == 78
    assert world.members() == set(world.users.values())


def test_a_job_run_alone_after_its_source_was_stopped_is_stopped_too(world: World) -> None:
    members_in(world)
    dms = len(world.dms())
    world.air.ui_set_choices(world.ids["partners"], "Partners", "Health Band", AT_RISK_GONE)
    assert not world.tick(days=1).ok
    world.air.reset_counts()
    (circles,) = run_jobs(world.app(), [CIRCLES], world.clock.now())  # `run --once --only circles`
    assert circles.status == Status.BLOCKED and "health could not run" in circles.failures[0]
    assert_nothing_done_on_its_basis(world, dms)


def test_a_managers_channel_that_refuses_posts_breaks_nothing(world: World) -> None:
    world.settings["slack_manager_channel"] = "C0NOWHERE1"
    members_in(world)
    world.air.ui_set_type(world.ids["partners"], "Partners", "Health Score", "singleLineText")
    report = world.tick(days=1)
    assert world.outcome(report, "health").status == Status.BLOCKED
    assert world.outcome(report, "circles").status == Status.BLOCKED
    assert world.slack.messages("C0NOWHERE1") == [] and world.managers() == []


def test_once_the_field_is_back_the_jobs_resume_without_acting_on_the_gap(world: World) -> None:
    members_in(world)
    dms = len(world.dms())
    rename = world.air.ui_rename_field
    rename(world.ids["referrals"], "Referrals", "Partner Email", "Partner email")
    assert not world.tick(days=1).ok
    rename(world.ids["referrals"], "Referrals", "Partner email", "Partner Email")
    report = world.tick(days=1)
    assert report.ok, [o.failures for o in report.outcomes]
    assert world.members() == set(world.users.values()) and len(world.dms()) == dms
    assert world.writes() == 0  # the scores were right all along: nothing to write


def test_a_full_resync_that_fails_after_the_change_was_seen_leaves_the_jobs_stopped(world: World) -> None:
    """The poll sees the rename, the resync that would explain it fails: the cycle does not act on
    the mirror as it was before the change (where every referral still has its partner)."""
    members_in(world)
    dms = len(world.dms())
    world.air.ui_rename_field(world.ids["referrals"], "Referrals", "Partner Email", "Partner email")
    world.air.fail_next(method="GET", path_contains=f"/meta/bases/{world.ids['referrals']}", status=503, times=3)
    report = world.tick(days=1)
    assert world.outcome(report, "sync").status == Status.FAILED
    for job in ("health", "referrals", "intros"):
        (why,) = world.outcome(report, job).failures
        assert "Referrals: fields changed in Airtable, and the full resync that checks the fields has not" in why
    assert world.outcome(report, "circles").status == Status.BLOCKED
    assert_nothing_done_on_its_basis(world, dms)
    report = world.tick(days=1)  # Airtable answers again: the resync explains the rename
    assert "was renamed to 'Partner email'" in world.outcome(report, "health").failures[0]
    assert_nothing_done_on_its_basis(world, dms)


def test_a_dry_run_that_sees_the_change_plans_nothing_on_the_old_mirror(world: World) -> None:
    members_in(world)
    world.air.ui_rename_field(world.ids["referrals"], "Referrals", "Partner Email", "Partner email")
    world.clock.advance(86400)
    world.air.reset_counts()
    copy = world.app().dry_copy()
    report = tick(copy, world.clock.now())
    assert world.outcome(report, "health").status == Status.BLOCKED
    assert world.outcome(report, "circles").status == Status.BLOCKED
    assert copy.dry is not None
    planned = [line for line in copy.dry.lines if MANAGERS not in line]
    assert planned == []  # only the managers would hear of it
    assert world.writes() == 0


AFTER_THE_SYNC = {
    # how the field changed: (the change, Airtable calls refused, the words, what the resync finds)
    "renamed": (
        lambda w: w.air.ui_rename_field(w.ids["partners"], "Partners", "Health Detail", "Health details"),
        1,  # the first call: Airtable names the unknown field
        "Airtable no longer has the field Partners.Health Detail (renamed or deleted?)",
        "Health Detail: was renamed to 'Health details'",
    ),
    "retyped": (
        lambda w: w.air.ui_set_type(w.ids["partners"], "Partners", "Health Score", "singleLineText"),
        3,  # the call, then two records alone refused in the same words: the field, not the records
        "Airtable refuses the values of Partners.Health Score for every record (was its type changed?)",
        "Health Score: is a singleLineText field but the template expects number",
    ),
}


@pytest.mark.parametrize("case", list(AFTER_THE_SYNC))
def test_a_write_field_changed_after_the_last_sync_is_not_written_one_call_per_record(world: World, case: str) -> None:
    """Health runs on a mirror that does not know yet (`run --only health` between syncs): the
    write is refused for the field; the other records are not tried one by one, and the jobs after
    it are stopped until a resync explains the change."""
    change, calls, words, found = AFTER_THE_SYNC[case]
    for i in range(12):
        world.partner(f"p{i:02d}", f"Partner {i:02d}", slack=False)
    (sync,) = run_jobs(world.app(), cycle_jobs(["sync"]), world.clock.now())
    assert sync.ok
    change(world)
    world.air.reset_counts()
    health, circles = run_jobs(world.app(), [HEALTH, CIRCLES], world.clock.now())
    notes = 2  # the failure explained in the Sync Notes of the 12 partners, 10 a call
    assert world.air.calls("PATCH", "/Partners") == calls + notes, world.air.requests
    assert not health.ok and health.failures[0] == f"not written: {words}; run `partnerops bases check`"
    assert all(f.startswith("not written: ") for f in health.failures)
    assert circles.status == Status.BLOCKED and words in circles.failures[0]
    report = world.tick(days=1)
    assert found in world.outcome(report, "health").failures[0]


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The command sets up the root logger (console and file); the tests after this one get theirs back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        if h not in handlers:
            h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_the_command_exits_1_and_logs_the_problem_once_per_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    for var in list(__import__("os").environ):
        if var.startswith(("AIRTABLE_", "SLACK_", "HUBSPOT_", "SMTP_", "CRM", "EMAIL_", "PARTNEROPS_", "REFERRAL_")):
            monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("PARTNEROPS_HOME", str(home))
    with FakeAirtable(TOKEN, clock=clock, rate_limit=False) as live:
        monkeypatch.setenv("AIRTABLE_TOKEN", TOKEN)
        monkeypatch.setenv("AIRTABLE_API_URL", live.url)
        ids = provision(live)
        for key, base_id in ids.items():
            monkeypatch.setenv(f"AIRTABLE_{key.upper()}_BASE", base_id)
        live.ui_create(ids["partners"], "Partners", {"Name": TOP["jane"], "Email": "jane@partner.example"})

        def run(*argv: str) -> tuple[int, str]:
            out = io.StringIO()
            return main(["--env-file", "/nonexistent/.env", *argv], out=out), out.getvalue()

        assert run("run", "--once", "--now", "2026-11-02T09:00:00Z")[0] == 0
        live.ui_set_type(ids["partners"], "Partners", "Health Score", "singleLineText")
        code, out = run("run", "--once", "--now", "2026-11-03T09:00:00Z")
    assert code == 1
    assert re.search(r"^  health +blocked +not run: a field it needs cannot be trusted$", out, flags=re.M), out
    assert re.search(r"^ +! not run: Partners › Partners › Health Score: is a singleLineText field", out, flags=re.M)
    log = (home / "logs" / "partnerops.log").read_text()
    assert log.count("health: not run: Partners › Partners › Health Score: is a singleLineText") == 1
    assert "circles: not run: it reads what health writes" in log
    assert MANAGERS not in out  # no managers' channel configured: nothing posted, nothing breaks
