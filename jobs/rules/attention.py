"""What needs a manager, and who is owed a referral.

**Needs attention**: every record with Sync Notes (the job wrote there what is wrong and how to
fix it), members whose circle invite is pending (not found in Slack yet), and accepted
registrations (Accepted or In CRM) whose protection (Expires On) ends within 14 days.

**Reciprocity** — referrals are repaid with referrals: the partners who sent the most sourced
referrals (SPEC §3) in the last 180 days and were given none (To-partner referrals Introduced or
later, :func:`~jobs.rules.partner_fields.given_at`) in that time; at most 5, most referrals first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bases.records import Record
from bases.rows import ReferralRow
from jobs.rules.cells import (
    cell_date,
    created_on,
    email,
    first_line,
    link_ids,
    local_date,
    name_of,
    partner_names,
    select,
    text,
    within,
)
from jobs.rules.partner_fields import FROM_PARTNER, given_at
from jobs.rules.scores import is_sourced
from jobs.rules.weeks import today_in

EXPIRING_DAYS = 14
RECIPROCITY_DAYS = 180
RECIPROCITY_LIMIT = 5
#: Tables whose Sync Notes are listed first: a referral waiting for a fix holds up a partner.
NOTES_ORDER = ("Referrals", "Partners", "Members", "Circles", "Activities")


@dataclass(frozen=True)
class Note:
    table: str
    name: str
    note: str  # the first line of its Sync Notes
    record_id: str


@dataclass(frozen=True)
class Pending:
    partner: str
    circle: str


@dataclass(frozen=True)
class Expiring:
    referral: str
    partner: str
    expires_on: date
    record_id: str


@dataclass(frozen=True)
class NeedsAttention:
    notes: tuple[Note, ...]  # every record with Sync Notes, referrals first, newest first
    pending_invites: tuple[Pending, ...]
    expiring: tuple[Expiring, ...]  # soonest first

    @property
    def total(self) -> int:
        return len(self.notes) + len(self.pending_invites) + len(self.expiring)


@dataclass(frozen=True)
class Owed:
    """A partner owed a referral: ``sent`` sourced referrals in 180 days, none given back."""

    name: str
    company: str
    email: str
    owner: str
    sent: int
    last_referral_on: date
    last_given_on: date | None  # ever (in TZ); None: never given one


def _notes(tables: Sequence[tuple[str, Sequence[Record]]]) -> tuple[Note, ...]:
    found = []
    for table, records in tables:
        rank = NOTES_ORDER.index(table) if table in NOTES_ORDER else len(NOTES_ORDER)
        for r in records:
            note = first_line(r.get("Sync Notes"))
            if note:
                found.append((rank, r.created_time, Note(table, name_of(r, table), note, r.id)))
    found.sort(key=lambda item: (item[1], item[2].name), reverse=True)  # newest first …
    found.sort(key=lambda item: item[0])  # … within each table, in NOTES_ORDER (the sort is stable)
    return tuple(item[2] for item in found)


def _pending(members: Sequence[Record], circles: Sequence[Record], names: dict[str, str]) -> tuple[Pending, ...]:
    circle_names = {c.id: name_of(c, "Circles") for c in circles}
    found = []
    for m in members:
        if select(m.get("Status")) != "Pending invite":
            continue
        who = names.get(email(m.get("Partner Email"))) or name_of(m, "Members")
        for cid in dict.fromkeys(link_ids(m.get("Circle"))) or [""]:
            found.append(Pending(who, circle_names.get(cid, "")))
    return tuple(sorted(found, key=lambda p: (p.circle, p.partner)))


def _expiring(referrals: Sequence[Record], names: dict[str, str], today: date) -> tuple[Expiring, ...]:
    found = []
    for r in referrals:
        expires = cell_date(r.get("Expires On"))
        accepted = select(r.get("Status")) in ("Accepted", "In CRM")
        if select(r.get("Direction")) != FROM_PARTNER or not accepted or expires is None:
            continue
        if 0 <= (expires - today).days <= EXPIRING_DAYS:
            partner = names.get(email(r.get("Partner Email"))) or text(r.get("Partner Email"))
            found.append(Expiring(name_of(r, "Referrals"), partner, expires, r.id))
    return tuple(sorted(found, key=lambda e: (e.expires_on, e.referral)))


def needs_attention(
    partners: Sequence[Record],
    referrals: Sequence[Record],
    activities: Sequence[Record],
    members: Sequence[Record],
    circles: Sequence[Record],
    now: datetime,
    zone: ZoneInfo,
) -> NeedsAttention:
    """Everything a manager should look at now (see the module)."""
    names = partner_names(partners)
    tables = (
        ("Partners", partners),
        ("Activities", activities),
        ("Referrals", referrals),
        ("Members", members),
        ("Circles", circles),
    )
    return NeedsAttention(
        notes=_notes(tables),
        pending_invites=_pending(members, circles, names),
        expiring=_expiring(referrals, names, today_in(now, zone)),
    )


def reciprocity(partners: Sequence[Record], referrals: Sequence[Record], now: datetime, zone: ZoneInfo) -> list[Owed]:
    """Up to 5 partners owed a referral (see the module), most referrals sent first."""
    today = today_in(now, zone)
    sent: Counter[str] = Counter()
    last_sent: dict[str, date] = {}
    given_recently: set[str] = set()
    last_given: dict[str, date] = {}
    for r in referrals:
        key, day = email(r.get("Partner Email")), created_on(r, zone)
        if not key:
            continue
        if (
            select(r.get("Direction")) == FROM_PARTNER
            and is_sourced(ReferralRow.of(r))
            and day
            and within(day, today, RECIPROCITY_DAYS)
        ):
            sent[key] += 1
            last_sent[key] = max(day, last_sent.get(key, day))
        given_day = local_date(given_at(r), zone)
        if given_day is not None and given_day <= today:
            last_given[key] = max(given_day, last_given.get(key, given_day))
            if within(given_day, today, RECIPROCITY_DAYS):
                given_recently.add(key)
    owed = []
    for p in partners:
        key = email(p.get("Email"))
        if key and sent[key] and key not in given_recently:
            owed.append(
                Owed(
                    name_of(p, "Partners"),
                    text(p.get("Company")),
                    key,
                    text(p.get("Owner")),
                    sent[key],
                    last_sent[key],
                    last_given.get(key),
                )
            )
    owed.sort(key=lambda o: (-o.sent, -o.last_referral_on.toordinal(), o.name))
    return owed[:RECIPROCITY_LIMIT]
