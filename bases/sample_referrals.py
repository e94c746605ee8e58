"""Sample referrals: leads partners registered, a few deliberately bad, in every status."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from bases.records import format_date, format_datetime
from bases.sample_parts import (
    _OPEN_STAGES,
    BAD_CONTACT_EMAIL,
    BAD_DUPLICATE_DOMAIN,
    BAD_UNKNOWN_PARTNER,
    EXPIRY_DAYS,
    _at,
    _later,
    _Partner,
    _ref,
    _Referral,
)
from bases.sample_words import (
    _FIRST,
    _FREE_MAIL,
    _LAST,
    _LEAD_ADJ,
    _LEAD_NOUN,
    _REFERRAL_NOTES,
)


def _lead_companies(rng: random.Random, count: int) -> list[str]:
    combos = [f"{a} {b}" for a in _LEAD_ADJ for b in _LEAD_NOUN]
    rng.shuffle(combos)
    base, round_no = list(combos), 2
    while len(combos) < count:
        combos += [f"{c} {round_no}" for c in base]
        round_no += 1
    return combos[:count]


def _lead(rng: random.Random, company: str, *, free_mail_rate: float) -> dict[str, Any]:
    """Form fields of one lead: Company, Company Domain, Contact Name, Contact Email, Notes."""
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    domain = company.lower().replace(" ", "") + ".example"
    fields: dict[str, Any] = {
        "Referral": f"{company} — {first} {last}",
        "Company": company,
        "Contact Name": f"{first} {last}",
    }
    if rng.random() < free_mail_rate:
        local = f"{first}.{last}{rng.randint(10, 99)}".lower()
        fields["Contact Email"] = f"{local}@{rng.choice(_FREE_MAIL)}"
        if rng.random() < 0.5:
            fields["Company Domain"] = domain
    else:
        local = rng.choice((f"{first}.{last}", first, f"{first[0]}{last}")).lower()
        fields["Contact Email"] = f"{local}@{domain}"
        roll = rng.random()
        if roll < 0.03:
            fields["Company Domain"] = "www." + domain
        elif roll < 0.70:
            fields["Company Domain"] = domain
    if rng.random() < 0.2:
        fields["Notes"] = rng.choice(_REFERRAL_NOTES)
    return fields


def _registration_domain(fields: dict[str, Any]) -> str:
    domain = str(fields.get("Company Domain") or "")
    if domain:
        return domain.removeprefix("www.")
    contact_domain = str(fields.get("Contact Email", "")).rpartition("@")[2]
    return "" if contact_domain in _FREE_MAIL else contact_domain


def _make_referrals(rng: random.Random, now: datetime, partners: list[_Partner], total: int) -> list[_Referral]:
    to_n = max(2, round(total * 0.15))
    from_regular = total - to_n - 3
    companies = iter(_lead_companies(rng, total))

    rows: list[_Referral] = []
    for p in partners:
        for age in p.referral_days:
            fields = {"Direction": "From partner", "Partner Email": p.email}
            fields.update(_lead(rng, next(companies), free_mail_rate=0.04))
            rows.append(_Referral(_at(now, age, rng), fields, p))
    assert len(rows) == from_regular, (len(rows), from_regular)
    rows.sort(key=lambda r: (r.created, r.fields["Referral"]))

    # one partner typed their e-mail with capitals (normalization, not an error)
    mixed = rows[len(rows) // 3]
    mixed.fields["Partner Email"] = mixed.fields["Partner Email"].title()

    new_cut = len(rows) - 5  # the newest 5 regular rows are New, plus the 3 bad ones
    deal = 1000
    originals: set[int] = set()
    candidates = [i for i in range(new_cut) if (now - rows[i].created).days > 20]
    n_dup = max(1, round(from_regular * 0.02))
    dup_idx: list[int] = []
    for i in rng.sample(candidates, len(candidates)):
        if len(dup_idx) == n_dup:
            break
        earlier = [
            j
            for j in range(i)
            if j not in originals
            and j not in dup_idx
            and rows[j].partner is not rows[i].partner
            and _registration_domain(rows[j].fields)
            and timedelta(days=1) < rows[i].created - rows[j].created < timedelta(days=110)
        ]
        if not earlier:
            continue
        j = rng.choice(earlier)
        originals.add(j)
        dup_idx.append(i)
        src = rows[j].fields
        dup = rows[i].fields
        dup["Company"] = src["Company"]
        dup["Company Domain"] = _registration_domain(src)
        dup["Referral"] = f"{src['Company']} — {dup['Contact Name']}"
        dup["Contact Email"] = dup["Contact Name"].split()[0].lower() + "@" + _registration_domain(src)
        dup["Status"] = "Duplicate"
        dup["Conflict With"] = f"{src['Referral']} (partner {src['Partner Email'].lower()})"
    old = [i for i in candidates if i not in dup_idx and i not in originals and (now - rows[i].created).days > 30]
    rejected = set(rng.sample(old, min(2, len(old))))

    for i, r in enumerate(rows):
        f = r.fields
        if i >= new_cut or i in dup_idx:
            continue
        if i in rejected:
            f["Status"] = "Rejected"
            f["Notes"] = "Already an active customer of ours."
            continue
        age = (now - r.created).days
        f["Attribution"] = "Influenced" if rng.random() < 0.15 else "Sourced"
        f["Expires On"] = format_date(r.created.date() + timedelta(days=EXPIRY_DAYS))
        if age <= 14 and rng.random() < 0.08:
            f["Status"] = "Accepted"
            continue
        deal += 1
        f["CRM ID"] = f"deal-{deal}"
        f["CRM Pushed At"] = format_datetime(_later(now, r.created, rng, 3, 60))
        roll = rng.random()
        if age >= EXPIRY_DAYS:
            status = "Won" if roll < 0.35 else "Lost" if roll < 0.7 else "Expired"
        elif age > 30:
            status = "Won" if roll < 0.2 else "Lost" if roll < 0.35 else "In CRM"
        else:
            status = "In CRM"
        f["Status"] = status
        if status == "Won":
            f["CRM Stage"] = "Closed won"
            f["Amount"] = float(rng.randrange(2000, 60000, 500))
        elif status == "Lost":
            f["CRM Stage"] = "Closed lost"
        else:
            f["CRM Stage"] = _OPEN_STAGES[0] if age < 21 else rng.choice(_OPEN_STAGES)

    # deliberately bad rows, all New and among the newest
    floor = (now - rows[new_cut].created).total_seconds() / 86400
    top = [p for p in partners if p.tier == "top"]
    moderate = [p for p in partners if p.tier == "moderate"]
    bad: list[_Referral] = []

    unknown = {"Direction": "From partner", "Partner Email": "lee.morgan@brightside-media.example"}
    unknown.update(_lead(rng, next(companies), free_mail_rate=0.0))
    bad.append(_Referral(now, unknown, None, BAD_UNKNOWN_PARTNER))

    p = rng.choice(moderate)
    broken: dict[str, Any] = {"Direction": "From partner", "Partner Email": p.email}
    broken.update(_lead(rng, next(companies), free_mail_rate=0.0))
    broken["Referral"] = f"{broken['Company']} — Jane Doe"
    broken["Contact Name"] = "Jane Doe"
    broken["Contact Email"] = "jane.doe@"
    broken["Company Domain"] = broken["Company"].lower().replace(" ", "") + ".example"
    bad.append(_Referral(now, broken, p, BAD_CONTACT_EMAIL))

    live = [
        r
        for r in rows[:new_cut]
        if r.fields.get("Status") == "In CRM" and r.fields.get("Company Domain") and rows.index(r) not in originals
    ]
    if not live:  # tiny data sets: any earlier registration with a domain will do
        live = [
            r
            for r in rows[:new_cut]
            if r.fields.get("Company Domain") and r.fields.get("Status") not in ("Duplicate", "Rejected")
        ]
    origin = rng.choice(live)
    p = rng.choice([q for q in top + moderate if q is not origin.partner])
    again: dict[str, Any] = {"Direction": "From partner", "Partner Email": p.email}
    again.update(_lead(rng, origin.fields["Company"], free_mail_rate=0.0))
    again["Company Domain"] = origin.fields["Company Domain"]
    again["Contact Email"] = again["Contact Name"].split()[0].lower() + "@" + _registration_domain(origin.fields)
    bad.append(_Referral(now, again, p, BAD_DUPLICATE_DOMAIN))
    for b in bad:
        b.created = _at(now, rng.uniform(0.0, max(floor, 0.0)), rng)
        if b.created < rows[new_cut].created:
            b.created = _later(now, rows[new_cut].created, rng, 1, 30)
    rows += bad

    # To partner: leads we give to top partners; the newest 2 stay New.
    to_rows: list[_Referral] = []
    for _ in range(to_n):
        p = rng.choice(top)
        fields = {"Direction": "To partner", "Partner Email": p.email}
        fields.update(_lead(rng, next(companies), free_mail_rate=0.0))
        fields["Company Domain"] = _registration_domain(fields)
        to_rows.append(_Referral(_at(now, rng.uniform(0.0, 330.0), rng), fields, p))
    to_rows.sort(key=lambda r: (r.created, r.fields["Referral"]))
    for r in to_rows[:-2]:
        r.fields["Status"] = "Introduced"
        r.fields["Intro Sent At"] = format_datetime(_later(now, r.created, rng, 2, 30))
    rows += to_rows

    rows.sort(key=lambda r: (r.created, r.fields["Referral"]))
    for i, r in enumerate(rows, 1):
        r.ref = _ref("referral", i, total)
    return rows
