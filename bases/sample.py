"""Deterministic, realistic sample data for the offline demo and the tests.

:func:`sample_data` builds rows for every table of the three bases (SPEC §2) in Airtable's cell
format; :func:`jobs.store.sample.load_into` writes them into the local store. Rows carry
a stable local handle (``ref``, e.g. ``"partner-03"``); link fields hold refs, which
:func:`load_into` resolves to record ids. Same ``seed`` and ``now`` give identical output.

Only fields a manager (or a form) would have filled are set on Partners; scores, bands and the
other job-owned partner fields are left for the jobs to compute. Referrals and Members carry the
job-written fields a base would show after some months of running. A few referrals are
deliberately bad (see :func:`bad_rows`) so validation has something to flag.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from typing import Any

from bases.records import format_date
from bases.sample_parts import (
    ACTIVITIES_T,
    BAD_CONTACT_EMAIL,
    BAD_DUPLICATE_DOMAIN,
    BAD_UNKNOWN_PARTNER,
    CIRCLE_CHANNEL,
    CIRCLE_PERKS,
    CIRCLES_T,
    LINKS,
    MEMBERS_T,
    OWNERS,
    PARTNERS_T,
    REFERRALS_T,
    REMOVED_REASON,
    SampleData,
    SampleRow,
    TableKey,
    _at,
    _Partner,
    _ref,
    _schedule,
    _slug,
    _spread,
    _tier_sizes,
)
from bases.sample_referrals import _make_referrals
from bases.sample_words import (
    _ACTIVITY_TITLES,
    _FIRST,
    _LAST,
    _PARTNER_COMPANIES,
    _PARTNER_NOTES,
    _TYPE_WEIGHTS,
    _TYPES,
)
from bases.schema import CIRCLE_DEFAULTS


def _make_partners(rng: random.Random, now: datetime, n: int, from_regular: int) -> list[_Partner]:
    today = now.date()
    names = rng.sample([(f, la) for f in _FIRST for la in _LAST], n)
    companies = list(_PARTNER_COMPANIES)
    rng.shuffle(companies)
    picked = companies[: min(n, len(companies))]
    picked += [rng.choice(companies) for _ in range(n - len(picked))]
    rng.shuffle(picked)
    company_type = {c: rng.choices(_TYPES, _TYPE_WEIGHTS)[0] for c in companies}

    tiers = [tier for tier, size in _tier_sizes(n) for _ in range(size)]
    # share of the from-partner referrals per tier (rare partners: one each, at most)
    sizes = dict(_tier_sizes(n))
    rare_total = min(sizes["rare"], max(0, round(from_regular * 0.05)))
    former_total = max(sizes["former"], round(from_regular * 0.08))
    moderate_total = max(sizes["moderate"], round(from_regular * 0.30))
    top_total = from_regular - rare_total - former_total - moderate_total
    if top_total < sizes["top"]:
        raise ValueError(f"referrals={from_regular} is too few for {n} partners")
    per_tier = {
        "top": iter(_spread(rng, top_total, sizes["top"], at_least_one=True)),
        "moderate": iter(_spread(rng, moderate_total, sizes["moderate"], at_least_one=True)),
        "former": iter(_spread(rng, former_total, sizes["former"], at_least_one=True)),
        "rare": iter([1] * rare_total + [0] * (sizes["rare"] - rare_total)),
    }

    partners: list[_Partner] = []
    for (first, last), company, tier in zip(names, picked, tiers, strict=True):
        domain = _slug(company) + ".example"
        email = f"{first}.{last}@{domain}".lower()
        k = next(per_tier[tier]) if tier in per_tier else 0
        if tier == "top":
            ages = _schedule(rng, k, rng.uniform(0.0, 6.0), (7.0, 21.0))
        elif tier == "moderate":
            ages = _schedule(rng, k, rng.uniform(10.0, 75.0), (15.0, 60.0))
        elif tier == "former":
            ages = _schedule(rng, k, rng.uniform(122.0, 180.0), (10.0, 35.0))
        elif tier == "rare":
            ages = (rng.uniform(60.0, 360.0),) * k
        else:
            ages = ()
        fields: dict[str, Any] = {
            "Name": f"{first} {last}",
            "Email": email,
            "Company": company,
            "Type": company_type[company],
            "Owner": rng.choice(OWNERS),
        }
        if tier == "new":
            joined_ago: int | None = rng.randint(2, 20)
        elif tier == "recruited":
            joined_ago = rng.randint(25, 120)
        elif tier == "prospect":
            joined_ago = None
        else:
            joined_ago = rng.randint(60, 730)
            if tier == "top":
                joined_ago = max(joined_ago, rng.randint(400, 730))
            if ages:
                joined_ago = max(joined_ago, int(max(ages)) + rng.randint(7, 45))
            joined_ago = min(joined_ago, 730)
        stage = {
            "new": "Onboarded",
            "onboarded": "Onboarded",
            "recruited": "Recruited",
            "prospect": "Prospect",
        }.get(tier, "Active" if ages else "Onboarded")
        fields["Stage"] = stage
        if joined_ago is not None:
            fields["Joined On"] = format_date(today - timedelta(days=joined_ago))
            created = _at(now, joined_ago + rng.choice((0, 0, 1, 3, 10)), rng)
        else:
            created = _at(now, rng.randint(35, 250), rng)
        partners.append(
            _Partner(
                tier, f"{first} {last}", company, domain, email, fields["Type"], fields, created, referral_days=ages
            )
        )

    by_tier = {t: [p for p in partners if p.tier == t] for t in sizes}
    # Circle Override: one top partner is never in, one moderate always in, a few explicit Auto.
    by_tier["top"][-1].fields["Circle Override"] = "Never in"
    by_tier["moderate"][0].fields["Circle Override"] = "Always in"
    for p in rng.sample(partners, 3):
        p.fields.setdefault("Circle Override", "Auto")
    by_tier["moderate"][-1].fields["Do Not Message"] = True
    (by_tier["rare"] or by_tier["onboarded"])[-1].fields["Do Not Message"] = True
    for p, note in zip(rng.sample(partners, len(_PARTNER_NOTES)), _PARTNER_NOTES, strict=True):
        p.fields["Notes"] = note

    partners.sort(key=lambda p: (p.created, p.email))
    for i, p in enumerate(partners, 1):
        p.ref = _ref("partner", i, n)
    return partners


def _make_activities(rng: random.Random, now: datetime, partners: list[_Partner], n: int) -> list[SampleRow]:
    today = now.date()
    weights = {
        "top": 5.0,
        "moderate": 3.0,
        "former": 1.5,
        "new": 2.0,
        "rare": 0.7,
        "onboarded": 0.7,
        "recruited": 1.0,
        "prospect": 0.7,
    }
    made: list[tuple[datetime, str, dict[str, Any]]] = []
    for _ in range(n):
        p = rng.choices(partners, [weights[q.tier] for q in partners])[0]
        since = (today - p.created.date()).days
        if "Joined On" in p.fields:
            since = (today - date.fromisoformat(p.fields["Joined On"])).days
        age = rng.randint(0, min(180, since))
        if p.tier == "former":
            age = rng.randint(min(120, since), min(180, since))
        kind = "Training" if p.tier == "new" else rng.choices(tuple(_ACTIVITY_TITLES), (40, 20, 15, 15, 10))[0]
        title = rng.choice(_ACTIVITY_TITLES[kind])
        fields: dict[str, Any] = {
            "Activity": f"{title} — {p.company}",
            "Partner": [p.ref],
            "Kind": kind,
            "Date": format_date(today - timedelta(days=age)),
        }
        if rng.random() < 0.25:
            fields["Notes"] = f"With {p.name.split()[0]}; follow-up agreed."
        made.append((_at(now, age, rng), fields["Activity"], fields))
    made.sort(key=lambda m: (m[0], m[1]))
    return [SampleRow(_ref("activity", i, n), c, f) for i, (c, _, f) in enumerate(made, 1)]


def _make_circles(
    rng: random.Random, now: datetime, partners: list[_Partner]
) -> tuple[list[SampleRow], list[SampleRow]]:
    today = now.date()
    circle_created = _at(now, 300, rng)
    circle = SampleRow(
        "circle-1",
        circle_created,
        {**CIRCLE_DEFAULTS, "Slack Channel ID": CIRCLE_CHANNEL, "Perks": CIRCLE_PERKS},
    )

    def recent(p: _Partner) -> int:
        return sum(1 for a in p.referral_days if a <= 90)

    eligible = [p for p in partners if p.fields.get("Circle Override") != "Never in"]
    always = [p for p in eligible if p.fields.get("Circle Override") == "Always in"]
    ranked = sorted(
        (p for p in eligible if p not in always and p.tier == "top"),
        key=lambda p: (-recent(p), min(p.referral_days, default=999.0), p.ref),
    )
    active = (always + ranked)[:6]
    members: list[SampleRow] = []
    start = max(circle_created.date(), today - timedelta(days=300))
    for p in active:
        joined = max(start, date.fromisoformat(p.fields["Joined On"]) + timedelta(days=30))
        joined = min(joined + timedelta(days=rng.randint(0, 90)), today - timedelta(days=7))
        created = _at(now, (today - joined).days, rng)
        members.append(
            SampleRow(
                "",
                created,
                {
                    "Member": p.name,
                    "Circle": [circle.ref],
                    "Partner Email": p.email,
                    "Status": "Active",
                    "Joined On": format_date(joined),
                },
            )
        )
    former = [p for p in partners if p.tier == "former" and p not in active]
    if former:
        p = former[0]
        removed = min(today, today - timedelta(days=int(min(p.referral_days))) + timedelta(days=91))
        joined = max(start, removed - timedelta(days=rng.randint(60, 200)))
        members.append(
            SampleRow(
                "",
                _at(now, (today - joined).days, rng),
                {
                    "Member": p.name,
                    "Circle": [circle.ref],
                    "Partner Email": p.email,
                    "Status": "Removed",
                    "Joined On": format_date(joined),
                    "Removed On": format_date(removed),
                    "Reason": REMOVED_REASON,
                },
            )
        )
    members.sort(key=lambda m: (m.created, m.fields["Partner Email"]))
    members = [SampleRow(f"member-{i}", m.created, m.fields) for i, m in enumerate(members, 1)]
    return [circle], members


def _generate(
    now: datetime, seed: int, partners: int, activities: int, referrals: int
) -> tuple[SampleData, dict[str, str]]:
    now = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)
    now = now.replace(microsecond=0)
    rng = random.Random(seed)
    from_regular = referrals - max(2, round(referrals * 0.15)) - 3
    people = _make_partners(rng, now, partners, from_regular)
    refs = _make_referrals(rng, now, people, referrals)
    acts = _make_activities(rng, now, people, activities)
    circles, members = _make_circles(rng, now, people)
    data: SampleData = {
        PARTNERS_T: [SampleRow(p.ref, p.created, dict(p.fields)) for p in people],
        ACTIVITIES_T: acts,
        REFERRALS_T: [SampleRow(r.ref, r.created, dict(r.fields)) for r in refs],
        CIRCLES_T: circles,
        MEMBERS_T: members,
    }
    return data, {r.ref: r.bad for r in refs if r.bad}


def sample_data(
    now: datetime, *, seed: int = 7, partners: int = 40, activities: int = 60, referrals: int = 200
) -> SampleData:
    """Rows for every table, keyed by (base key, table name); deterministic in (now, seed)."""
    return _generate(now, seed, partners, activities, referrals)[0]


def bad_rows(
    now: datetime, *, seed: int = 7, partners: int = 40, activities: int = 60, referrals: int = 200
) -> dict[str, str]:
    """The deliberately bad referrals of :func:`sample_data` (same arguments): ref -> kind.

    Kinds: :data:`BAD_UNKNOWN_PARTNER` (Partner Email of no partner),
    :data:`BAD_CONTACT_EMAIL` (Contact Email "jane.doe@", the only row ``parse_fields`` flags)
    and :data:`BAD_DUPLICATE_DOMAIN` (a New registration of a Company Domain an earlier,
    still valid registration holds). All three have Status New.
    """
    return _generate(now, seed, partners, activities, referrals)[1]


__all__ = [
    "ACTIVITIES_T",
    "BAD_CONTACT_EMAIL",
    "BAD_DUPLICATE_DOMAIN",
    "BAD_UNKNOWN_PARTNER",
    "CIRCLES_T",
    "CIRCLE_CHANNEL",
    "LINKS",
    "MEMBERS_T",
    "PARTNERS_T",
    "REFERRALS_T",
    "SampleData",
    "SampleRow",
    "TableKey",
    "bad_rows",
    "sample_data",
]
