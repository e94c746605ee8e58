"""Zero is a value: a Leave Score of 0, a Max Members of 0 and a Health Score of 0 are read,
stored, carried by the change feed and written as numbers — never taken for an empty cell (which
would mean the defaults: Leave Score 50, no cap, "not scored yet")."""

from __future__ import annotations

from datetime import timedelta

from bases.records import Record, cell_diff, is_empty, same_cell
from bases.rows import PartnerRow
from jobs.plan import Count
from jobs.rules.circle_config import CircleConfig
from jobs.rules.scores import HealthSettings
from tests.test_bad_input_world import CHANNEL, World, world_fixture  # noqa: F401

SECOND = "G0CIRCLE02"
# Recency and volume only: a partner with no referral in 180 days scores exactly 0.
NO_QUALITY = HealthSettings(weight_recency=0.65, weight_quality=0.0)


def test_zero_cells_parse_as_numbers_and_are_written_when_they_change() -> None:
    rec = Record("recC", "2026-01-01T00:00:00.000Z", {"Leave Score": 0, "Max Members": 0, "Enter Score": 0})
    config, problems = CircleConfig.from_record(rec)
    assert (config.leave, config.max_members, config.enter, problems) == (0, 0, 0, [])
    partner = PartnerRow.of(Record("recP", "2026-01-01T00:00:00.000Z", {"Email": "z@x.example", "Health Score": 0}))
    assert partner.health_score == 0 and not is_empty(0)
    assert cell_diff({}, {"Health Score": 0}) == {"Health Score": 0}  # empty → 0 is a change
    assert cell_diff({"Health Score": 5}, {"Health Score": 0}) == {"Health Score": 0}
    assert cell_diff({"Health Score": 0}, {"Health Score": 0}) == {} and same_cell(0, 0.0)
    assert not same_cell(None, 0) and not same_cell(0, None)


def test_zero_scores_leave_scores_and_caps_are_values_end_to_end(world: World) -> None:
    world.settings["health"] = NO_QUALITY
    world.update("circles", "Circles", world.circle, {"Leave Score": 0, "Stale After Days": 365})
    jane = world.partner("jane", "Jane Doe")
    world.referrals_from("jane", 5, 10, 20)  # 0.65·100 + 0.25·100 = 90
    zed = world.partner("zed", "Zed Zero")
    world.referrals_from("zed", 200, Status="Lost")  # nothing in 180 days: 0
    world.slack.add_channel(CHANNEL, [world.users["zed"]])
    world.create(
        "circles",
        "Members",
        {"Member": "by hand", "Circle": [world.circle], "Partner Email": "zed@partner.example", "Status": "Active"},
    )
    first = world.tick()
    assert first.ok, [o.failures for o in first.outcomes]
    live = world.record("partners", "Partners", zed)
    assert live["Health Score"] == 0 and live["Health Band"] == "Stale"  # written as 0, not left empty
    assert world.members() == {world.users["jane"], world.users["zed"]}  # 0 ≥ Leave Score 0: Zed stays
    assert world.outcome(first, "circles").counts[Count.AT_RISK_NUDGES] == 1  # 0 ≤ 0 < 75: the at-risk zone
    stored = world.app().store.get("partners", "Partners", zed)
    assert stored is not None and stored.fields["Health Score"] == 0

    # A second circle arrives through the change feed with Max Members 0: a full circle, not "no cap".
    world.slack.add_channel(SECOND)
    world.create(
        "circles",
        "Circles",
        {"Name": "Inner Circle", "Slack Channel ID": SECOND, "Enter Score": 75, "Max Members": 0, "Active": True},
    )
    since = world.clock.now() + timedelta(days=1)
    second = world.tick(days=1)
    assert second.ok, [o.failures for o in second.outcomes]
    assert world.slack.members(SECOND) == {world.slack.bot_user_id}  # nobody invited
    assert world.outcome(second, "circles").counts[Count.JOINS] == 0
    assert world.members() == {world.users["jane"], world.users["zed"]}
    circle_state = world.app().store.all("circles", "Circles")
    assert {r.fields.get("Name"): r.fields.get("Max Members") for r in circle_state}["Inner Circle"] == 0
    assert zed not in world.air.changed_since(world.ids["partners"], "Partners", since)  # 0 stays 0: no rewrite
    assert jane not in world.air.changed_since(world.ids["partners"], "Partners", since)
