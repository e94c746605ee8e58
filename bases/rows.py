"""Typed views of records, parsed once: what the rules read instead of ``Record.get``.

Each view is built by :func:`bases.records.parse_fields`, so a bad cell is a :class:`Problem`
(shown in Sync Notes) and the typed attribute is None — never an exception, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TypeVar, cast

from bases.fields import ActivityF, MemberF, PartnerF, ReferralF
from bases.records import Problem, Record, parse_datetime, parse_fields
from bases.schema import table_def

PARTNERS = table_def(PartnerF.BASE, PartnerF.TABLE)
ACTIVITIES = table_def(ActivityF.BASE, ActivityF.TABLE)
REFERRALS = table_def(ReferralF.BASE, ReferralF.TABLE)
MEMBERS = table_def(MemberF.BASE, MemberF.TABLE)


_CACHE_SIZE = 50_000
_cache: dict[tuple[type, int], tuple[Record, object]] = {}
RowT = TypeVar("RowT")


def _cached(cls: type[RowT], record: Record, build: Callable[[Record], RowT]) -> RowT:
    """Parsing a record is the rules' hottest path: the same Record object (the store hands out
    the same object while a row is unchanged; records are never mutated) gives the same view."""
    key = (cls, id(record))
    found = _cache.get(key)
    if found is not None and found[0] is record:
        return cast(RowT, found[1])
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    row = build(record)
    _cache[key] = (record, row)
    return row


def created_at(record: Record) -> datetime | None:
    """A record's createdTime as an aware UTC datetime (None when missing or unreadable)."""
    try:
        return parse_datetime(record.created_time).astimezone(timezone.utc)
    except (ValueError, TypeError, AttributeError):
        return None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _opt_int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _opt_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _opt_date(value: object) -> date | None:
    return value if isinstance(value, date) and not isinstance(value, datetime) else None


def _opt_datetime(value: object) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _links(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclass(frozen=True)
class PartnerRow:
    record: Record
    problems: tuple[Problem, ...]
    name: str
    email: str | None  # normalized (lower case, trimmed); None when missing or not an e-mail
    company: str
    stage: str | None
    owner: str | None
    joined_on: date | None
    override: str  # "Auto" when empty or unreadable
    do_not_message: bool
    slack_user_id: str | None
    health_score: int | None
    health_band: str | None
    band_changed_on: date | None
    last_referral_on: date | None

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.record.id

    @classmethod
    def of(cls, record: Record) -> PartnerRow:
        return _cached(cls, record, cls._parse)

    @classmethod
    def _parse(cls, record: Record) -> PartnerRow:
        parsed = parse_fields(PARTNERS, record.fields)
        v = parsed.values
        return cls(
            record=record,
            problems=tuple(parsed.problems),
            name=_text(v.get(PartnerF.NAME)),
            email=_opt_str(v.get(PartnerF.EMAIL)),
            company=_text(v.get(PartnerF.COMPANY)),
            stage=_opt_str(v.get(PartnerF.STAGE)),
            owner=_opt_str(v.get(PartnerF.OWNER)),
            joined_on=_opt_date(v.get(PartnerF.JOINED_ON)),
            override=_opt_str(v.get(PartnerF.CIRCLE_OVERRIDE)) or "Auto",
            do_not_message=bool(v.get(PartnerF.DO_NOT_MESSAGE, False)),
            slack_user_id=_opt_str(_text(v.get(PartnerF.SLACK_USER_ID))),
            health_score=_opt_int(v.get(PartnerF.HEALTH_SCORE)),
            health_band=_opt_str(v.get(PartnerF.HEALTH_BAND)),
            band_changed_on=_opt_date(v.get(PartnerF.BAND_CHANGED_ON)),
            last_referral_on=_opt_date(v.get(PartnerF.LAST_REFERRAL_ON)),
        )


@dataclass(frozen=True)
class ActivityRow:
    record: Record
    problems: tuple[Problem, ...]
    partner_ids: tuple[str, ...]
    date: date | None

    @classmethod
    def of(cls, record: Record) -> ActivityRow:
        return _cached(cls, record, cls._parse)

    @classmethod
    def _parse(cls, record: Record) -> ActivityRow:
        parsed = parse_fields(ACTIVITIES, record.fields)
        v = parsed.values
        return cls(record, tuple(parsed.problems), _links(v.get(ActivityF.PARTNER)), _opt_date(v.get(ActivityF.DATE)))


@dataclass(frozen=True)
class ReferralRow:
    record: Record
    problems: tuple[Problem, ...]
    created: datetime | None
    title: str
    direction: str | None
    partner_email: str | None
    company: str
    company_domain: str
    contact_name: str
    contact_email: str | None
    notes: str
    status: str | None  # None when the cell holds an option the rules do not know
    attribution: str | None
    expires_on: date | None
    crm_id: str | None
    crm_stage: str | None
    crm_pushed_at: datetime | None
    amount: float | None
    intro_sent_at: datetime | None

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        """How managers recognise it: its title, else its company, else its record id."""
        return self.title or self.company or self.record.id

    @classmethod
    def of(cls, record: Record) -> ReferralRow:
        return _cached(cls, record, cls._parse)

    @classmethod
    def _parse(cls, record: Record) -> ReferralRow:
        parsed = parse_fields(REFERRALS, record.fields)
        v = parsed.values
        raw_status = record.get(ReferralF.STATUS)
        status = _opt_str(v.get(ReferralF.STATUS)) or (None if raw_status not in (None, "") else "New")
        return cls(
            record=record,
            problems=tuple(parsed.problems),
            created=created_at(record),
            title=_text(v.get(ReferralF.REFERRAL)),
            direction=_opt_str(v.get(ReferralF.DIRECTION)),
            partner_email=_opt_str(v.get(ReferralF.PARTNER_EMAIL)),
            company=_text(v.get(ReferralF.COMPANY)),
            company_domain=_text(v.get(ReferralF.COMPANY_DOMAIN)),
            contact_name=_text(v.get(ReferralF.CONTACT_NAME)),
            contact_email=_opt_str(v.get(ReferralF.CONTACT_EMAIL)),
            notes=_text(v.get(ReferralF.NOTES)),
            status=status,
            attribution=_opt_str(v.get(ReferralF.ATTRIBUTION)),
            expires_on=_opt_date(v.get(ReferralF.EXPIRES_ON)),
            crm_id=_opt_str(_text(v.get(ReferralF.CRM_ID))),
            crm_stage=_opt_str(_text(v.get(ReferralF.CRM_STAGE))),
            crm_pushed_at=_opt_datetime(v.get(ReferralF.CRM_PUSHED_AT)),
            amount=_opt_float(v.get(ReferralF.AMOUNT)),
            intro_sent_at=_opt_datetime(v.get(ReferralF.INTRO_SENT_AT)),
        )


@dataclass(frozen=True)
class MemberRow:
    record: Record
    circle_id: str | None  # the first linked circle
    email: str | None
    status: str | None
    joined_on: date | None
    removed_on: date | None

    @property
    def id(self) -> str:
        return self.record.id

    @classmethod
    def of(cls, record: Record) -> MemberRow:
        return _cached(cls, record, cls._parse)

    @classmethod
    def _parse(cls, record: Record) -> MemberRow:
        v = parse_fields(MEMBERS, record.fields).values
        circles = _links(v.get(MemberF.CIRCLE))
        return cls(
            record=record,
            circle_id=circles[0] if circles else None,
            email=_opt_str(v.get(MemberF.PARTNER_EMAIL)),
            status=_opt_str(v.get(MemberF.STATUS)),
            joined_on=_opt_date(v.get(MemberF.JOINED_ON)),
            removed_on=_opt_date(v.get(MemberF.REMOVED_ON)),
        )
