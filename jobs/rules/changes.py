"""What happened in the report week (:mod:`jobs.rules.weeks`): referrals and circle moves.

Each count is read from the field that shows the event:

- new From-partner referrals: created in the week (``createdTime``), split by what they are now:
  *accepted* (Accepted, In CRM, Won, Lost, Expired), *duplicate*, *rejected*, *need a fix* (still
  New with Sync Notes: the partner's registration waits for a manager) and *waiting* (New, no
  notes: the next ``referrals`` run settles it). The five add up to ``new_from_partner``;
- pushed to the CRM: ``CRM Pushed At`` in the week;
- given to partners: To-partner referrals given in the week (:func:`~jobs.rules.partner_fields.given_at`);
- circle joins and leaves: Members ``Joined On`` / ``Removed On`` in the week;
- won and lost: the bases hold no close date, so these are the referrals Won (Lost) now that
  were not in the previous snapshot's Won (Lost) list, i.e. since the last digest; with no
  previous snapshot (a new install) they are ``None``: unknown, not zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bases.records import Record
from jobs.rules.cells import (
    cell_date,
    cell_datetime,
    created_on,
    email,
    link_ids,
    local_date,
    name_of,
    number,
    partner_names,
    select,
    text,
)
from jobs.rules.partner_fields import FROM_PARTNER, given_at
from jobs.rules.snapshots import WeeklySnapshot
from jobs.rules.weeks import Week, report_week

ACCEPTED_STATUSES = frozenset({"Accepted", "In CRM", "Won", "Lost", "Expired"})


@dataclass(frozen=True)
class CircleChange:
    circle: str
    joined: tuple[str, ...]  # partner names
    left: tuple[tuple[str, str], ...]  # (partner name, Reason)


@dataclass(frozen=True)
class WeekChanges:
    week: Week
    new_from_partner: int
    accepted: int
    duplicate: int
    rejected: int
    needs_fix: int
    waiting: int
    pushed: int
    given: int
    won: int | None  # None: no previous snapshot to compare with
    lost: int | None
    won_amount: float | None
    since: str | None  # the week of the snapshot won / lost are counted from
    circles: tuple[CircleChange, ...]  # circles with a join or a leave in the week


def _outcome(referral: Record) -> str:
    status = select(referral.get("Status"))
    if status in ACCEPTED_STATUSES:
        return "accepted"
    if status == "Duplicate":
        return "duplicate"
    if status == "Rejected":
        return "rejected"
    return "needs_fix" if text(referral.get("Sync Notes")) else "waiting"


def _new_from_partner(referrals: Sequence[Record], week: Week, zone: ZoneInfo) -> dict[str, int]:
    counts = dict.fromkeys(("accepted", "duplicate", "rejected", "needs_fix", "waiting"), 0)
    for r in referrals:
        if select(r.get("Direction")) == FROM_PARTNER and created_on(r, zone) in week:
            counts[_outcome(r)] += 1
    return counts


def _in_week(moment: datetime | None, week: Week, zone: ZoneInfo) -> bool:
    return local_date(moment, zone) in week


def _closed_since(
    referrals: Sequence[Record], previous: WeeklySnapshot | None
) -> tuple[int | None, int | None, float | None]:
    if previous is None or previous.won_ids is None or previous.lost_ids is None:
        return None, None, None
    was_won, was_lost = set(previous.won_ids), set(previous.lost_ids)
    won = [r for r in referrals if select(r.get("Status")) == "Won" and r.id not in was_won]
    lost = [r for r in referrals if select(r.get("Status")) == "Lost" and r.id not in was_lost]
    return len(won), len(lost), sum(number(r.get("Amount")) or 0.0 for r in won)


def _circle_changes(
    members: Sequence[Record], circles: Sequence[Record], names: dict[str, str], week: Week
) -> tuple[CircleChange, ...]:
    circle_names = {c.id: name_of(c, "Circles") for c in circles}
    joined: dict[str, list[str]] = defaultdict(list)
    left: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for m in members:
        who = names.get(email(m.get("Partner Email"))) or name_of(m, "Members")
        status = select(m.get("Status"))
        for cid in dict.fromkeys(link_ids(m.get("Circle"))):
            if status in ("Active", "Removed") and cell_date(m.get("Joined On")) in week:
                joined[cid].append(who)
            if status == "Removed" and cell_date(m.get("Removed On")) in week:
                left[cid].append((who, text(m.get("Reason"))))
    ids = [c.id for c in circles if c.id in joined or c.id in left]
    return tuple(CircleChange(circle_names[cid], tuple(sorted(joined[cid])), tuple(sorted(left[cid]))) for cid in ids)


def week_changes(
    partners: Sequence[Record],
    referrals: Sequence[Record],
    members: Sequence[Record],
    circles: Sequence[Record],
    now: datetime,
    zone: ZoneInfo,
    previous: WeeklySnapshot | None,
) -> WeekChanges:
    """The report week's referrals and circle moves (see the module for how each is read)."""
    week = report_week(now, zone)
    counts = _new_from_partner(referrals, week, zone)
    pushed = sum(
        1
        for r in referrals
        if select(r.get("Direction")) == FROM_PARTNER and _in_week(cell_datetime(r.get("CRM Pushed At")), week, zone)
    )
    won, lost, won_amount = _closed_since(referrals, previous)
    return WeekChanges(
        week=week,
        new_from_partner=sum(counts.values()),
        pushed=pushed,
        given=sum(1 for r in referrals if _in_week(given_at(r), week, zone)),
        won=won,
        lost=lost,
        won_amount=won_amount,
        since=previous.week if won is not None and previous is not None else None,
        circles=_circle_changes(members, circles, partner_names(partners), week),
        accepted=counts["accepted"],
        duplicate=counts["duplicate"],
        rejected=counts["rejected"],
        needs_fix=counts["needs_fix"],
        waiting=counts["waiting"],
    )
