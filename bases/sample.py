"""Deterministic, realistic sample data for the offline demo and the tests.

:func:`sample_data` builds rows for every table of the three bases (SPEC §2) in Airtable's cell
format; :func:`load_into` writes them into a :class:`~integrations.local.LocalStore`. Rows carry
a stable local handle (``ref``, e.g. ``"partner-03"``); link fields hold refs, which
:func:`load_into` resolves to record ids. Same ``seed`` and ``now`` give identical output.

Only fields a manager (or a form) would have filled are set on Partners; scores, bands and the
other job-owned partner fields are left for the jobs to compute. Referrals and Members carry the
job-written fields a base would show after some months of running. A few referrals are
deliberately bad (see :func:`bad_rows`) so validation has something to flag.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

from bases.records import format_date, format_datetime
from bases.schema import CIRCLE_DEFAULTS

if TYPE_CHECKING:
    from integrations.local import LocalStore

TableKey = tuple[str, str]

PARTNERS_T: TableKey = ("partners", "Partners")
ACTIVITIES_T: TableKey = ("partners", "Activities")
REFERRALS_T: TableKey = ("referrals", "Referrals")
CIRCLES_T: TableKey = ("circles", "Circles")
MEMBERS_T: TableKey = ("circles", "Members")

#: Which table a link field points at: (table, field) -> linked table.
LINKS: dict[tuple[TableKey, str], TableKey] = {
    (ACTIVITIES_T, "Partner"): PARTNERS_T,
    (MEMBERS_T, "Circle"): CIRCLES_T,
}

# Kinds of deliberately bad rows, the values of :func:`bad_rows`.
BAD_UNKNOWN_PARTNER = "unknown partner email"
BAD_CONTACT_EMAIL = "malformed contact email"
BAD_DUPLICATE_DOMAIN = "duplicate company domain"

EXPIRY_DAYS = 120
OWNERS = ("ana@ourco.example", "ben@ourco.example", "chloe@ourco.example")
CIRCLE_CHANNEL = "C0DEMO0001"
CIRCLE_PERKS = (
    "Priority access to our referral leads (we send you warm intros first)\n"
    "Quarterly roadmap briefing with our product team\n"
    "Co-marketing budget for joint webinars and case studies"
)
REMOVED_REASON = "No sourced referral for more than 90 days"

_FIRST = (
    "Ana", "Ben", "Carla", "Daniel", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Keiko", "Liam", "Maya", "Noah", "Olivia", "Pablo", "Quinn", "Rosa", "Samir", "Tara",
    "Umar", "Vera", "Wes", "Xenia", "Yusuf", "Zoe", "Aaron", "Bianca", "Caleb", "Dana",
    "Emil", "Freya", "Gil", "Hana", "Ivan", "Julia", "Kofi", "Lena", "Marco", "Nadia",
)
_LAST = (
    "Alvarez", "Becker", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Quintero",
    "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhang",
    "Andersen", "Brennan", "Costa", "Dimitrov", "Evans", "Ferreira", "Gupta", "Horvat",
    "Ibrahim", "Johansson", "Kim", "Lopez", "Mensah", "Novak",
)
_PARTNER_COMPANIES = (
    "Acme Digital", "Brightpath Consulting", "Northwind Agency", "Bluefin Labs",
    "Cobalt Creative", "Evergreen Advisors", "Fathom Analytics", "Granite Systems",
    "Harbor & Co", "Ironwood Partners", "Juniper Works", "Keystone Media", "Lumen Studio",
    "Maple Growth", "Nimbus Cloud", "Orchard Marketing", "Pinecrest IT",
    "Quartz Integrations", "Redwood Digital", "Summit Revenue", "Tidewater Consulting",
    "Upland Web", "Vantage Ops", "Willow Data", "Zephyr Automation", "Copperleaf Agency",
    "Driftwood Labs", "Foxglove Growth",
)
_LEAD_ADJ = (
    "Blue", "Bright", "Cedar", "Crimson", "Delta", "Eagle", "Falcon", "Golden", "Hill", "Lake",
    "Lunar", "Metro", "North", "Oak", "Prairie", "River", "Silver", "Solar", "Stone", "Sunny",
    "Urban", "Valley", "West", "Wild",
)
_LEAD_NOUN = (
    "Logistics", "Foods", "Health", "Dental", "Motors", "Realty", "Fitness", "Bakery", "Legal",
    "Print", "Energy", "Apparel", "Pharma", "Travel", "Insurance", "Studios", "Robotics",
    "Farms", "Outfitters", "Clinics", "Freight", "Builders", "Labs", "Books",
)
_FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com")
_TYPES = ("Agency", "Technology", "Consultant", "Affiliate", "Customer", "Other")
_TYPE_WEIGHTS = (35, 20, 20, 10, 10, 5)
_PARTNER_NOTES = (
    "Introduced by one of our customers.",
    "Prefers e-mail over Slack.",
    "Reseller agreement under review.",
    "Runs a monthly newsletter for ~2k SMB owners.",
    "Interested in co-marketing in Q3.",
)
_REFERRAL_NOTES = (
    "Looking to replace their current tool before renewal.",
    "Met them at a local meetup; budget approved for this year.",
    "Needs an integration with their accounting system.",
    "Decision maker is the COO, please loop me in.",
    "Small team (10 seats) but growing fast.",
)
_ACTIVITY_TITLES: dict[str, tuple[str, ...]] = {
    "Meeting": ("Quarterly review", "Pipeline call", "Account planning"),
    "Co-marketing": ("Joint webinar", "Case study", "Co-branded newsletter"),
    "Event": ("Partner meetup", "Booth at regional trade fair", "Customer roundtable"),
    "Training": ("Onboarding training", "Product certification", "Sales enablement session"),
    "Other": ("Feedback session", "Swag shipped", "Referral form walkthrough"),
}
_OPEN_STAGES = ("Appointment scheduled", "Qualified to buy")


@dataclass(frozen=True)
class SampleRow:
    """One sample record: a stable local handle, its creation time and its cells."""

    ref: str
    created: datetime
    fields: dict[str, Any]


SampleData = dict[TableKey, list[SampleRow]]


@dataclass
class _Partner:
    tier: str
    name: str
    company: str
    domain: str
    email: str
    ptype: str
    fields: dict[str, Any]
    created: datetime
    ref: str = ""
    referral_days: tuple[float, ...] = ()


@dataclass
class _Referral:
    created: datetime
    fields: dict[str, Any]
    partner: _Partner | None
    bad: str = ""
    ref: str = ""


def _slug(text: str) -> str:
    cleaned = "".join(c if c.isalnum() else " " for c in text.lower())
    return "-".join(cleaned.split())


def _at(now: datetime, days_ago: float, rng: random.Random) -> datetime:
    """A business-hours moment on the day ``days_ago`` days before ``now``, never after it."""
    day = (now - timedelta(days=days_ago)).date()
    moment = datetime.combine(
        day, time(rng.randint(7, 18), rng.randint(0, 59), rng.randint(0, 59)), timezone.utc
    )
    if moment > now:
        moment = (now - timedelta(minutes=rng.randint(1, 90))).replace(microsecond=0)
    return moment


def _later(now: datetime, moment: datetime, rng: random.Random, lo: int, hi: int) -> datetime:
    """``moment`` plus lo..hi minutes, capped at ``now``."""
    return min(moment + timedelta(minutes=rng.randint(lo, hi)), now)


def _ref(prefix: str, i: int, total: int) -> str:
    return f"{prefix}-{i:0{max(2, len(str(total)))}d}"


def _tier_sizes(n: int) -> list[tuple[str, int]]:
    shares = (
        ("top", 0.2), ("moderate", 0.375), ("former", 0.1), ("new", 0.075),
        ("onboarded", 0.05), ("recruited", 0.05), ("prospect", 0.05),
    )
    sizes = [(tier, max(1, round(n * share))) for tier, share in shares]
    rare = n - sum(size for _, size in sizes)
    if rare < 0:
        raise ValueError(f"partners={n} is too few for realistic sample data (use at least 12)")
    return [*sizes, ("rare", rare)]


def _spread(rng: random.Random, total: int, k: int, *, at_least_one: bool) -> list[int]:
    """Split ``total`` referrals across ``k`` partners, unevenly."""
    if k == 0:
        return []
    counts = [1 if at_least_one and total >= k else 0 for _ in range(k)]
    weights = [rng.uniform(0.6, 1.4) for _ in range(k)]
    for _ in range(total - sum(counts)):
        counts[rng.choices(range(k), weights)[0]] += 1
    return counts


def _schedule(rng: random.Random, k: int, newest: float, gap: tuple[float, float]) -> tuple[float, ...]:
    """``k`` ages in days, the newest first, at most 360 days old."""
    if k == 0:
        return ()
    gaps = [rng.uniform(*gap) for _ in range(k - 1)]
    room = 360 - newest
    if sum(gaps) > room:
        gaps = [g * room / sum(gaps) for g in gaps]
    ages = [newest]
    for g in gaps:
        ages.append(ages[-1] + g)
    return tuple(ages)


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
            "new": "Onboarded", "onboarded": "Onboarded", "recruited": "Recruited",
            "prospect": "Prospect",
        }.get(tier, "Active" if ages else "Onboarded")
        fields["Stage"] = stage
        if joined_ago is not None:
            fields["Joined On"] = format_date(today - timedelta(days=joined_ago))
            created = _at(now, joined_ago + rng.choice((0, 0, 1, 3, 10)), rng)
        else:
            created = _at(now, rng.randint(35, 250), rng)
        partners.append(
            _Partner(tier, f"{first} {last}", company, domain, email, fields["Type"], fields,
                     created, referral_days=ages)
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


def _make_referrals(
    rng: random.Random, now: datetime, partners: list[_Partner], total: int
) -> list[_Referral]:
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
            j for j in range(i)
            if j not in originals and j not in dup_idx and rows[j].partner is not rows[i].partner
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
        dup["Contact Email"] = (
            dup["Contact Name"].split()[0].lower() + "@" + _registration_domain(src)
        )
        dup["Status"] = "Duplicate"
        dup["Conflict With"] = f"{src['Referral']} (partner {src['Partner Email'].lower()})"
    old = [i for i in candidates if i not in dup_idx and i not in originals
           and (now - rows[i].created).days > 30]
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

    live = [r for r in rows[:new_cut] if r.fields.get("Status") == "In CRM"
            and r.fields.get("Company Domain") and rows.index(r) not in originals]
    if not live:  # tiny data sets: any earlier registration with a domain will do
        live = [r for r in rows[:new_cut] if r.fields.get("Company Domain")
                and r.fields.get("Status") not in ("Duplicate", "Rejected")]
    origin = rng.choice(live)
    p = rng.choice([q for q in top + moderate if q is not origin.partner])
    again: dict[str, Any] = {"Direction": "From partner", "Partner Email": p.email}
    again.update(_lead(rng, origin.fields["Company"], free_mail_rate=0.0))
    again["Company Domain"] = origin.fields["Company Domain"]
    again["Contact Email"] = (
        again["Contact Name"].split()[0].lower() + "@" + _registration_domain(origin.fields)
    )
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


def _make_activities(
    rng: random.Random, now: datetime, partners: list[_Partner], n: int
) -> list[SampleRow]:
    today = now.date()
    weights = {"top": 5.0, "moderate": 3.0, "former": 1.5, "new": 2.0, "rare": 0.7,
               "onboarded": 0.7, "recruited": 1.0, "prospect": 0.7}
    made: list[tuple[datetime, str, dict[str, Any]]] = []
    for _ in range(n):
        p = rng.choices(partners, [weights[q.tier] for q in partners])[0]
        since = (today - p.created.date()).days
        if "Joined On" in p.fields:
            since = (today - date.fromisoformat(p.fields["Joined On"])).days
        age = rng.randint(0, min(180, since))
        if p.tier == "former":
            age = rng.randint(min(120, since), min(180, since))
        kind = "Training" if p.tier == "new" else rng.choices(
            tuple(_ACTIVITY_TITLES), (40, 20, 15, 15, 10))[0]
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
    ranked = sorted((p for p in eligible if p not in always and p.tier == "top"),
                    key=lambda p: (-recent(p), min(p.referral_days, default=999.0), p.ref))
    active = (always + ranked)[:6]
    members: list[SampleRow] = []
    start = max(circle_created.date(), today - timedelta(days=300))
    for p in active:
        joined = max(start, date.fromisoformat(p.fields["Joined On"]) + timedelta(days=30))
        joined = min(joined + timedelta(days=rng.randint(0, 90)), today - timedelta(days=7))
        created = _at(now, (today - joined).days, rng)
        members.append(SampleRow("", created, {
            "Member": p.name, "Circle": [circle.ref], "Partner Email": p.email,
            "Status": "Active", "Joined On": format_date(joined),
        }))
    former = [p for p in partners if p.tier == "former" and p not in active]
    if former:
        p = former[0]
        removed = min(today, today - timedelta(days=int(min(p.referral_days))) + timedelta(days=91))
        joined = max(start, removed - timedelta(days=rng.randint(60, 200)))
        members.append(SampleRow("", _at(now, (today - joined).days, rng), {
            "Member": p.name, "Circle": [circle.ref], "Partner Email": p.email,
            "Status": "Removed", "Joined On": format_date(joined),
            "Removed On": format_date(removed), "Reason": REMOVED_REASON,
        }))
    members.sort(key=lambda m: (m.created, m.fields["Partner Email"]))
    members = [SampleRow(f"member-{i}", m.created, m.fields) for i, m in enumerate(members, 1)]
    return [circle], members


def _generate(
    now: datetime, seed: int, partners: int, activities: int, referrals: int
) -> tuple[SampleData, dict[str, str]]:
    now = (now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc))
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


def load_into(store: LocalStore, now: datetime, **kw: Any) -> dict[str, str]:
    """Write all sample rows into ``store``; return ref -> record id.

    Linked-to tables (Partners, Circles) are written first, so link fields can be resolved.
    Keyword arguments are those of :func:`sample_data`.
    """
    data = sample_data(now, **kw)
    ids: dict[str, str] = {}
    order = [PARTNERS_T, CIRCLES_T, ACTIVITIES_T, REFERRALS_T, MEMBERS_T]
    with store.transaction():
        for key in order:
            base_key, table = key
            for row in data[key]:
                fields = dict(row.fields)
                for (link_table, name), _target in LINKS.items():
                    if link_table == key and name in fields:
                        fields[name] = [ids[ref] for ref in fields[name]]
                record = store.create(base_key, table, fields, created=row.created)
                ids[row.ref] = record.id
    return ids
