"""The weekly managers' digest (SPEC §8) as a plan: one post, its chart, the week's snapshot.

Pure: :class:`DigestInputs` (records from the local store, the stored weekly snapshots, the
capacity numbers, ``now``) in, a :class:`~jobs.plan.Plan` out. The digest reports on the last
complete ISO week (:func:`~jobs.rules.weeks.report_week`); its three effects form one group and
run in this order:

1. the message (:func:`jobs.messages.digest.digest_message`) in the managers' channel, keyed
   ``digest:<ISO week>`` and ``check_first``: before its first send the drain looks the key up in
   the channel's history, so a home restored from an older copy never posts it twice;
2. the chart (PNG) as a file in the same channel, titled with the week, which is how it is looked
   up the same way; optional: a chart that cannot be uploaded holds back nothing else;
3. the week's :class:`~jobs.rules.snapshots.WeeklySnapshot` in the store's state table (key
   ``metrics:<ISO week>``, :func:`jobs.store.state.snapshot_key`), written once the message is
   out: next week's "since last week" and the chart's 12 weeks read it, and no history is ever
   asked of Airtable.

:func:`managers_view` is the computation the digest and ``partnerops report`` share.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bases.records import Record
from jobs.messages.chart import weekly_chart_png
from jobs.messages.digest import digest_message
from jobs.plan import ChannelPost, Count, Effect, FileUpload, JsonValue, Plan, StateSet
from jobs.rules.metrics import (
    Capacity,
    NeedsAttention,
    Owed,
    ProgramMetrics,
    WeekChanges,
    WeeklySnapshot,
    backfill,
    compute_metrics,
    merge_history,
    needs_attention,
    previous_snapshot,
    reciprocity,
    snapshot_of,
    week_changes,
)
from jobs.rules.scores import HealthSettings
from jobs.store.state import snapshot_key

CHART_WEEKS = 12
TARGET = "managers"  # the effects' target: the managers' channel, for limits and summaries


def digest_key(week: str) -> str:
    """The post's effect key (and Slack metadata key): one digest per ISO week, ever."""
    return f"digest:{week}"


def chart_title(week: str) -> str:
    """The chart file's title: unique per week, so an upload whose answer was lost is found by it."""
    return f"Partner program {week}: referrals per week and partners per band"


@dataclass(frozen=True)
class DigestInputs:
    """What the digest (and the report) read: all from the local store, no Airtable call."""

    partners: Sequence[Record]
    referrals: Sequence[Record]  # archived ones included: the metrics stay the same after archiving
    activities: Sequence[Record]  # archived ones included
    members: Sequence[Record]
    circles: Sequence[Record]
    archived: frozenset[str]  # ids of archived records: not in Airtable, so never "needs attention"
    stored: Sequence[WeeklySnapshot]  # the weekly snapshots kept so far
    capacity: Capacity
    now: datetime
    zone: ZoneInfo
    health: HealthSettings
    channel: str = ""  # where the digest goes (the managers' channel, or the outbox's name for it)


@dataclass(frozen=True)
class ManagersView:
    """The managers' numbers at ``now``: the report week's metrics, changes and lists."""

    metrics: ProgramMetrics
    snapshot: WeeklySnapshot  # the report week's, taken now
    previous: WeeklySnapshot | None  # the newest stored one before it ("since last week")
    changes: WeekChanges
    owed: list[Owed]
    attention: NeedsAttention
    history: list[WeeklySnapshot]  # the last 12 weeks, oldest first, this one last

    @property
    def week(self) -> str:
        return self.metrics.week.label


def _live(records: Sequence[Record], archived: frozenset[str]) -> list[Record]:
    return [r for r in records if r.id not in archived]


def managers_view(i: DigestInputs) -> ManagersView:
    """Metrics, the week's changes, who is owed a referral, what needs attention, 12 weeks."""
    metrics = compute_metrics(i.partners, i.referrals, i.activities, i.members, i.circles, i.now, i.zone, i.health)
    snapshot = snapshot_of(metrics, i.now, i.zone)
    previous = previous_snapshot(i.stored, snapshot.week)
    changes = week_changes(i.partners, i.referrals, i.members, i.circles, i.now, i.zone, previous)
    attention = needs_attention(
        _live(i.partners, i.archived),
        _live(i.referrals, i.archived),
        _live(i.activities, i.archived),
        _live(i.members, i.archived),
        _live(i.circles, i.archived),
        i.now,
        i.zone,
    )
    stored = [s for s in i.stored if s.week != snapshot.week]
    history = merge_history([*stored, snapshot], backfill(i.referrals, i.now, i.zone, CHART_WEEKS))
    return ManagersView(
        metrics=metrics,
        snapshot=snapshot,
        previous=previous,
        changes=changes,
        owed=reciprocity(i.partners, i.referrals, i.now, i.zone),
        attention=attention,
        history=history,
    )


def _story(view: ManagersView) -> list[str]:
    c, a = view.changes, view.attention
    return [
        f"digest of {view.week} ({c.week.span()}): {c.new_from_partner} new referral(s) from partners, "
        f"{c.pushed} pushed to the CRM, {c.given} given; {len(view.owed)} partner(s) owed a referral; "
        f"{a.total} item(s) need attention",
    ]


def _snapshot_value(snapshot: WeeklySnapshot) -> JsonValue:
    value: JsonValue = json.loads(snapshot.to_json())
    return value


def plan_digest(i: DigestInputs) -> Plan:
    """The week's digest: the post, its chart and the snapshot, in one group (see the module)."""
    view = managers_view(i)
    week = view.week
    text, blocks = digest_message(view.metrics, view.changes, view.owed, view.attention, i.capacity, view.previous)
    png = base64.b64encode(weekly_chart_png(view.history)).decode("ascii")
    group = digest_key(week)
    plan = Plan(story=_story(view))
    post = ChannelPost(i.channel, text, blocks)
    chart = FileUpload(i.channel, f"partner-program-{week}.png", chart_title(week), png)
    keep = StateSet(snapshot_key(week), _snapshot_value(view.snapshot))
    plan.add(
        Effect(
            digest_key(week),
            post,
            TARGET,
            f"weekly digest of {week} in the managers' channel",
            group=group,
            counts_as=Count.DIGESTS,
            check_first=True,
        )
    )
    plan.add(
        Effect(
            f"digest-chart:{week}",
            chart,
            TARGET,
            f"chart of {week}",
            group=group,
            optional=True,
            check_first=True,
        )
    )
    plan.add(Effect(f"digest-snapshot:{week}", keep, "digest", f"keep the numbers of {week}", group=group))
    return plan
