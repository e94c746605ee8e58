"""The managers' view (SPEC §8), pure: records from the local store + ``now`` in, numbers out.

One import point for the ``digest`` job and ``partnerops report``; each part lives in its own
module: program metrics (:mod:`~jobs.rules.program`), weekly snapshots
(:mod:`~jobs.rules.snapshots`), the report week's changes (:mod:`~jobs.rules.changes`), needs
attention and reciprocity (:mod:`~jobs.rules.attention`), the partner table
(:mod:`~jobs.rules.table`), Health Detail and referrals given (:mod:`~jobs.rules.partner_fields`).
Weeks are ISO weeks local to ``TZ``; "this week" is the last complete one (:mod:`~jobs.rules.weeks`).
"""

from __future__ import annotations

from jobs.rules.attention import Expiring, NeedsAttention, Note, Owed, Pending, needs_attention, reciprocity
from jobs.rules.capacity import Capacity
from jobs.rules.changes import CircleChange, WeekChanges, week_changes
from jobs.rules.partner_fields import Given, given_counts, health_detail
from jobs.rules.program import ProgramMetrics, compute_metrics, score_partners
from jobs.rules.snapshots import WeeklySnapshot, backfill, merge_history, previous_snapshot, snapshot_of
from jobs.rules.table import PartnerRow, partner_rows
from jobs.rules.weeks import Week, recent_weeks, report_week

__all__ = [
    "Capacity",
    "CircleChange",
    "Expiring",
    "Given",
    "NeedsAttention",
    "Note",
    "Owed",
    "PartnerRow",
    "Pending",
    "ProgramMetrics",
    "Week",
    "WeekChanges",
    "WeeklySnapshot",
    "backfill",
    "compute_metrics",
    "given_counts",
    "health_detail",
    "merge_history",
    "needs_attention",
    "partner_rows",
    "previous_snapshot",
    "reciprocity",
    "recent_weeks",
    "report_week",
    "score_partners",
    "snapshot_of",
    "week_changes",
]
