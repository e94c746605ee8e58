"""Referral registration rules (SPEC §5, "From partner", rules 1, 2, 4's expiry date and 6).

Pure: Referrals records + the known partner e-mails + ``now`` + :class:`ReferralSettings` in,
a :class:`RegistrationPlan` (the job-owned cells that differ from what the records hold) out.
No I/O and no CRM calls: attribution and the CRM push happen later, in the job, for the
record ids in :attr:`RegistrationPlan.accepted`.

Choices where SPEC §5 leaves room (each is a named setting or documented here):

- A record is a registration only when Direction is "From partner"; everything else (To partner,
  an empty or unknown Direction) is ignored here. An empty Status means New (a form submission
  has no Status yet).
- A registration's date is its record's ``createdTime`` as a UTC calendar day. New records are
  processed in registration order: ``createdTime`` (compared as instants, not strings), then
  record id for exact ties. A record whose ``createdTime`` cannot be read sorts last and is dated
  ``now``.
- A New record is checked all at once, so one run tells the partner manager everything to fix:
  cell problems (e.g. a malformed Contact Email), an unknown Partner Email, no usable
  registration key. Any of these → Sync Notes in plain words, Status stays as it is (New), no
  other cell changes. Once fixed, the next run checks it again.
- Registration key: normalized Company Domain, else the Contact Email's domain unless free-mail,
  else the normalized Contact Email. A Company Domain that is filled in but is not a domain
  name (e.g. "Acme Inc") is a problem to fix, not silently replaced by the contact's domain
  (the two could name different companies). A free-mail Company Domain (someone typed
  "gmail.com") is not a company: the key falls back to the Contact Email. Subdomains are kept
  (eu.acme.com ≠ acme.com): without a public-suffix list, cutting labels would merge
  unrelated companies under e.g. co.uk; only a leading "www." is removed.
- A registration "holds" its key when its Status is Accepted, In CRM, Won or Lost (New records
  hold only once accepted in this run, in order) and its protection has not ended:
  Expires On (or registration date + ``protection_days`` when Expires On is empty or
  unreadable) is not before ``now``. So a registration still holds on its Expires On day.
- **Won holds forever** (``won_holds_forever=True``, the default): the company is now our
  customer, so a later registration by any partner is a Duplicate naming the won deal, even after
  the won registration's Expires On. "Already a customer" is a standard rejection ground for
  deal registration. A manager who wants to accept an expansion deal sets the later record's
  Status by hand. With ``won_holds_forever=False`` a Won registration holds until its Expires On,
  like every other. Lost holds until its Expires On (SPEC §5.2 read literally): the lost deal's
  partner keeps protection for the rest of the window.
- An existing holder blocks a New record whatever the two createdTimes: a registration that was
  not valid when it came in (e.g. unknown partner, fixed later) does not outrank a rival claim
  that was accepted in the gap. Among several holders of one key, the earliest registered is
  named.
- A Duplicate gets Conflict With = "<winner's Referral> (<winner's partner e-mail>, registered
  YYYY-MM-DD)" (the same text when the same partner registered the key twice) and its Sync
  Notes cleared (being a duplicate is an outcome, not something to fix). When Referral is empty
  the winner is named by its Company, else its record id.
- An Accepted registration gets Expires On = registration date + ``protection_days``, its Sync
  Notes and any stale Conflict With (e.g. a former Duplicate a manager set back to New) cleared.
- A valid, non-conflicting New record whose protection had already ended before it could be
  accepted (registered more than ``protection_days`` ago, e.g. left with a wrong Partner Email)
  becomes Expired straight away, with Expires On set and a Sync Note saying why: accepting it
  would push a registration that is already over (and would not be idempotent: the next run
  would expire it). It is listed in ``expired``, not ``accepted``; re-submitting registers anew.
- Expiry (SPEC §5.6, "still not Won"): Accepted and In CRM registrations whose Expires On is
  before ``now`` become Expired (the deal stays in the CRM). Won and Lost never expire: they are
  closed. An Accepted or In CRM record with no (or an unreadable) Expires On gets it filled in
  as registration date + ``protection_days``.
- Only cells whose value differs from the record are planned, so applying a plan and planning
  again with the same ``now`` gives no cells. Cleared cells are planned as ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from bases.records import (
    Cell,
    Record,
    cell_diff,
    format_date,
    is_email,
    normalize_email,
    parse_datetime,
    parse_fields,
    sync_notes,
)
from bases.schema import REFERRAL_STATUSES, table_def

REFERRALS_TABLE = table_def("referrals", "Referrals")

FROM_PARTNER = "From partner"
NEW, ACCEPTED, DUPLICATE, REJECTED, IN_CRM, INTRODUCED, WON, LOST, EXPIRED = REFERRAL_STATUSES
#: Statuses of a processed registration that can hold its key (see the module notes).
HOLDING_STATUSES = frozenset({ACCEPTED, IN_CRM, WON, LOST})
#: Statuses that expire when Expires On passes (SPEC §5.6: "still not Won"; Lost is closed too).
EXPIRING_STATUSES = frozenset({ACCEPTED, IN_CRM})

#: Free-mail domains: a contact e-mail there says nothing about the company. One per line, sorted.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    [
        "126.com",
        "163.com",
        "aim.com",
        "aol.com",
        "fastmail.com",
        "fastmail.fm",
        "gmail.com",
        "gmx.at",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hey.com",
        "hotmail.co.uk",
        "hotmail.com",
        "hotmail.de",
        "hotmail.fr",
        "icloud.com",
        "inbox.com",
        "live.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "outlook.com",
        "outlook.de",
        "pm.me",
        "proton.me",
        "protonmail.ch",
        "protonmail.com",
        "qq.com",
        "rocketmail.com",
        "tuta.io",
        "tutanota.com",
        "web.de",
        "yahoo.ca",
        "yahoo.co.in",
        "yahoo.co.jp",
        "yahoo.co.uk",
        "yahoo.com",
        "yahoo.com.au",
        "yahoo.de",
        "yahoo.es",
        "yahoo.fr",
        "yahoo.it",
        "yandex.com",
        "yandex.ru",
        "ymail.com",
        "zoho.com",
        "zohomail.com",
    ]
)

_SCHEME_RE = re.compile(r"^https?://")
_PORT_RE = re.compile(r":\d*$")
_DOMAIN_RE = re.compile(r"^[a-z0-9.-]+$")


def normalize_domain(raw: str) -> str | None:
    """A company domain from what a person typed: ``https://www.Acme.com/path?x`` → ``acme.com``.

    Lower case; scheme (http/https), a leading ``www.``, path, query, fragment, port, trailing
    dots and whitespace removed; international names in their ASCII (punycode) form. ``None`` when
    nothing domain-like remains: it must contain a dot, only ``[a-z0-9.-]``, no empty label, and
    a top-level label with a letter (so no bare IP addresses).
    """
    text = raw.strip().lower()
    text = _SCHEME_RE.sub("", text)
    for sep in ("/", "?", "#"):
        text = text.split(sep, 1)[0]
    text = _PORT_RE.sub("", text).strip().rstrip(".")
    if text.startswith("www.") and "." in text[4:]:
        text = text[4:]
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not _DOMAIN_RE.match(text) or "." not in text:
        return None
    labels = text.split(".")
    if any(not label or label.startswith("-") or label.endswith("-") for label in labels):
        return None
    if not any(c.isalpha() for c in labels[-1]):
        return None
    return text


def registration_key(company_domain: str | None, contact_email: str | None) -> tuple[str | None, str]:
    """The duplicate key of a registration and how it was found, or ``(None, what to fix)``.

    ``domain:acme.com`` from Company Domain; else ``domain:x`` from the Contact Email's domain
    unless it is free-mail; else ``email:jane@gmail.com``.
    """
    company = (company_domain or "").strip()
    email = normalize_email(contact_email or "")
    email_ok = bool(email) and is_email(email)
    free_company: str | None = None
    if company:
        domain = normalize_domain(company)
        if domain is None:
            return None, (
                f"Company Domain '{company}' is not a domain name (expected e.g. acme.com); "
                "fix it, or clear it to use the Contact Email's domain"
            )
        if domain not in FREE_MAIL_DOMAINS:
            return f"domain:{domain}", "from Company Domain"
        free_company = domain
    if email_ok:
        email_domain = normalize_domain(email.rsplit("@", 1)[1])
        if email_domain is not None and email_domain not in FREE_MAIL_DOMAINS and free_company is None:
            return f"domain:{email_domain}", "from the Contact Email's domain"
        why = free_company or email_domain or "its domain"
        return f"email:{email}", f"from the Contact Email ({why} is a free-mail domain)"
    if free_company is not None:
        return None, (
            f"Company Domain {free_company} is a free-mail domain, not a company; "
            "enter the company's own domain (e.g. acme.com) or add the Contact Email"
        )
    if email:
        return None, f"Contact Email '{email}' is not a valid e-mail address; fix it or add the Company Domain"
    return None, (
        "Neither Company Domain nor Contact Email is filled in; add the company's domain "
        "(e.g. acme.com) or the contact's e-mail so the registration can be checked for duplicates"
    )


@dataclass(frozen=True)
class ReferralSettings:
    #: Days of registration protection from the registration date (SPEC §5.4).
    protection_days: int = 120
    #: A Won registration keeps its key forever (the company is a customer); see the module notes.
    won_holds_forever: bool = True


@dataclass
class RegistrationPlan:
    #: record id → cells to write (Airtable cell format, dates "YYYY-MM-DD"), only changed values.
    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)
    #: record ids newly Accepted, in registration order (to push to the CRM next).
    accepted: list[str] = field(default_factory=list)
    #: record ids newly Duplicate.
    duplicates: list[str] = field(default_factory=list)
    #: record id → Sync Notes text, for New records that cannot be registered yet.
    rejected_notes: dict[str, str] = field(default_factory=dict)
    #: record id of each new Duplicate → the day the earlier registration that holds its key was made.
    earlier: dict[str, date] = field(default_factory=dict)
    #: the new Duplicates whose earlier registration is the same partner's (their receipt says so).
    own: set[str] = field(default_factory=set)
    #: record id → this job's Sync Notes of every registration it decided on ("" = nothing wrong).
    notes: dict[str, str] = field(default_factory=dict)
    #: record ids newly Expired.
    expired: list[str] = field(default_factory=list)
    #: plain words for the run summary / dry-run.
    summary_lines: list[str] = field(default_factory=list)
    #: record id → registration key ("domain:acme.com" / "email:jane@gmail.com") of each
    #: registration the plan decided on (accepted, duplicate, expired), for attribution and logs.
    keys: dict[str, str] = field(default_factory=dict)


@dataclass
class _Reg:
    record: Record
    created: datetime | None
    registered: date
    status: str  # "New" when empty
    values: dict[str, Any]
    problems: list[str]

    @property
    def order(self) -> tuple[int, datetime, str]:
        when = self.created or datetime.max.replace(tzinfo=timezone.utc)
        return (0 if self.created else 1, when, self.record.id)

    def name(self) -> str:
        for fname in ("Referral", "Company"):
            text = str(self.record.get(fname) or "").strip()
            if text:
                return text
        return self.record.id

    def partner(self) -> str:
        value = self.values.get("Partner Email")
        return str(value) if value else str(self.record.get("Partner Email") or "").strip() or "no partner e-mail"

    def key(self) -> str | None:
        return registration_key(self.values.get("Company Domain"), self.values.get("Contact Email"))[0]

    def expires_on(self, settings: ReferralSettings) -> date:
        value = self.values.get("Expires On")
        if isinstance(value, date) and value >= self.registered:
            return value  # one before the registration itself is a typo: the default stands
        return self.registered + timedelta(days=settings.protection_days)

    def expiry_note(self, settings: ReferralSettings) -> str:
        value = self.values.get("Expires On")
        if not isinstance(value, date) or value >= self.registered:
            return ""
        return (
            f"Expires On {format_date(value)} was before the referral was registered ({format_date(self.registered)}); "
            f"it is set to {format_date(self.expires_on(settings))}, {settings.protection_days} days after registration"
        )

    def holds(self, now: date, settings: ReferralSettings) -> bool:
        if self.status not in HOLDING_STATUSES:
            return False
        if self.status == WON and settings.won_holds_forever:
            return True
        return self.expires_on(settings) >= now

    def conflict_text(self) -> str:
        return f"{self.name()} ({self.partner()}, registered {format_date(self.registered)})"


def _status(record: Record) -> str | None:
    """The Status select option; "New" when empty; None when it is not a known option."""
    raw = record.get("Status")
    if isinstance(raw, dict):
        raw = raw.get("name")
    text = str(raw or "").strip()
    if not text:
        return NEW
    return text if text in REFERRALS_TABLE.field("Status").choices else None


def _direction(record: Record) -> str:
    raw = record.get("Direction")
    if isinstance(raw, dict):
        raw = raw.get("name")
    return str(raw or "").strip()


def _created(record: Record) -> datetime | None:
    try:
        return parse_datetime(record.created_time).astimezone(timezone.utc)
    except (ValueError, TypeError, AttributeError):
        return None


def _registrations(referrals: Iterable[Record], now: date) -> list[_Reg]:
    regs: list[_Reg] = []
    for rec in referrals:
        if _direction(rec) != FROM_PARTNER:
            continue
        status = _status(rec)
        if status is None:
            continue  # an option the rules do not know: leave it to the managers
        parsed = parse_fields(REFERRALS_TABLE, rec.fields)
        created = _created(rec)
        regs.append(
            _Reg(
                record=rec,
                created=created,
                registered=created.date() if created else now,
                status=status,
                values=parsed.values,
                problems=[str(p) for p in parsed.problems],
            )
        )
    regs.sort(key=lambda r: r.order)
    return regs


FIX_HINT = "Fix the cell(s) above in Airtable; the registration is checked again on the next run (its Status stays New until then)."


def plan_registrations(
    referrals: list[Record],
    partner_emails: set[str],
    now: date,
    settings: ReferralSettings = ReferralSettings(),  # noqa: B008 - frozen, immutable default
) -> RegistrationPlan:
    """Decide New registrations (accept / duplicate / note what to fix) and expire old ones."""
    plan = RegistrationPlan()
    partners = {normalize_email(e) for e in partner_emails if e}
    regs = _registrations(referrals, now)

    def want(reg: _Reg, cells: dict[str, object]) -> None:
        if "Sync Notes" in cells:  # Sync Notes are composed from every job's notes, not diffed here
            plan.notes[reg.record.id] = str(cells.pop("Sync Notes") or "")
        diff = cell_diff(reg.record.fields, cells)
        if diff:
            plan.cells.setdefault(reg.record.id, {}).update(diff)

    # 1. Expiry of processed registrations, and filling in a missing Expires On.
    for reg in regs:
        if reg.status not in EXPIRING_STATUSES:
            continue
        expires = reg.expires_on(settings)
        cells: dict[str, object] = {"Expires On": format_date(expires), "Sync Notes": reg.expiry_note(settings)}
        if expires < now:
            cells["Status"] = EXPIRED
            reg.status = EXPIRED
            plan.expired.append(reg.record.id)
            plan.summary_lines.append(
                f"Expired: {reg.name()} ({reg.partner()}); protection ended {format_date(expires)}; the deal stays in the CRM"
            )
        want(reg, cells)

    # 2. Keys held by processed registrations (earliest registered first).
    holders: dict[str, _Reg] = {}
    for reg in regs:
        if reg.status != NEW and reg.holds(now, settings):
            held = reg.key()
            if held is not None and held not in holders:
                holders[held] = reg

    # 3. New registrations, in registration order: first valid registration wins.
    for reg in regs:
        if reg.status != NEW:
            continue
        notes = list(reg.problems)
        if reg.problems:
            notes.append(FIX_HINT)
        partner = reg.values.get("Partner Email")
        if partner and normalize_email(str(partner)) not in partners:
            notes.append(
                f"Partner Email {partner} is not a partner in the Partners base; fix the e-mail or add the partner"
            )
        key: str | None = None
        if not any(p.startswith(("Contact Email:", "Company Domain:")) for p in reg.problems):
            key, how = registration_key(reg.values.get("Company Domain"), reg.values.get("Contact Email"))
            if key is None:
                notes.append(how)
        if notes or key is None:
            text = sync_notes([], notes)
            plan.rejected_notes[reg.record.id] = text
            want(reg, {"Sync Notes": text})
            plan.summary_lines.append(f"Needs fixing: {reg.name()}: {'; '.join(n for n in notes if n != FIX_HINT)}")
            continue

        winner = holders.get(key)
        if winner is not None:
            conflict = winner.conflict_text()
            want(reg, {"Status": DUPLICATE, "Conflict With": conflict, "Sync Notes": None})
            plan.duplicates.append(reg.record.id)
            plan.earlier[reg.record.id] = winner.registered
            plan.keys[reg.record.id] = key
            same = " (same partner)" if winner.partner() == reg.partner() else ""
            if same:
                plan.own.add(reg.record.id)
            plan.summary_lines.append(f"Duplicate: {reg.name()} ({reg.partner()}) — {key} is held by {conflict}{same}")
            continue

        expires = reg.registered + timedelta(days=settings.protection_days)
        plan.keys[reg.record.id] = key
        if expires < now:
            note = (
                f"Registered {format_date(reg.registered)}, but its {settings.protection_days}-day protection "
                f"ended {format_date(expires)} before it could be accepted; submit it again to register it anew."
            )
            want(
                reg, {"Status": EXPIRED, "Expires On": format_date(expires), "Conflict With": None, "Sync Notes": note}
            )
            plan.expired.append(reg.record.id)
            plan.summary_lines.append(f"Expired before acceptance: {reg.name()} ({reg.partner()}), {key}")
            continue

        want(reg, {"Status": ACCEPTED, "Expires On": format_date(expires), "Conflict With": None, "Sync Notes": None})
        reg.status = ACCEPTED
        reg.values["Expires On"] = expires
        holders[key] = reg
        plan.accepted.append(reg.record.id)
        plan.summary_lines.append(
            f"Accepted: {reg.name()} ({reg.partner()}), {key}, protected until {format_date(expires)}"
        )

    if not plan.summary_lines:
        plan.summary_lines.append("Referral registrations: nothing to do.")
    else:
        plan.summary_lines.insert(
            0,
            f"Referral registrations: {len(plan.accepted)} accepted, {len(plan.duplicates)} duplicate, "
            f"{len(plan.rejected_notes)} to fix, {len(plan.expired)} expired.",
        )
    return plan
