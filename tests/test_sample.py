"""The sample data generator: deterministic, valid Airtable cells, realistic enough for the demo."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bases.records import format_datetime, is_email, parse_datetime, parse_fields
from bases.sample import (
    ACTIVITIES_T,
    BAD_CONTACT_EMAIL,
    BAD_DUPLICATE_DOMAIN,
    BAD_UNKNOWN_PARTNER,
    CIRCLES_T,
    MEMBERS_T,
    PARTNERS_T,
    REFERRALS_T,
    SampleData,
    SampleRow,
    bad_rows,
    sample_data,
)
from bases.sample_parts import EXPIRY_DAYS
from bases.schema import Writer, table_def
from jobs.store.local import LocalStore
from jobs.store.sample import load_into

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=timezone.utc)
TODAY = NOW.date()
FREE_MAIL = {"gmail.com", "outlook.com", "yahoo.com"}


@pytest.fixture(scope="module")
def data() -> SampleData:
    return sample_data(NOW)


@pytest.fixture(scope="module")
def bad() -> dict[str, str]:
    return bad_rows(NOW)


def _rows(data: SampleData) -> list[tuple[tuple[str, str], SampleRow]]:
    return [(key, row) for key, rows in data.items() for row in rows]


def _by_ref(data: SampleData) -> dict[str, SampleRow]:
    return {row.ref: row for _, row in _rows(data)}


def _from(data: SampleData) -> list[SampleRow]:
    return [r for r in data[REFERRALS_T] if r.fields["Direction"] == "From partner"]


def _key(fields: dict[str, object]) -> str:
    domain = str(fields.get("Company Domain") or "").lower().removeprefix("www.")
    if domain:
        return domain
    contact = str(fields.get("Contact Email", "")).lower()
    return contact if contact.rpartition("@")[2] in FREE_MAIL else contact.rpartition("@")[2]


def _partner_emails(data: SampleData) -> set[str]:
    return {r.fields["Email"] for r in data[PARTNERS_T]}


# determinism and counts ------------------------------------------------------------------------


def test_same_seed_and_now_give_identical_output(data: SampleData) -> None:
    assert sample_data(NOW) == data
    assert bad_rows(NOW) == bad_rows(NOW)
    assert sample_data(NOW, seed=8) != data


def test_counts_match_the_request(data: SampleData) -> None:
    assert set(data) == {PARTNERS_T, ACTIVITIES_T, REFERRALS_T, CIRCLES_T, MEMBERS_T}
    assert len(data[PARTNERS_T]) == 40
    assert len(data[ACTIVITIES_T]) == 60
    assert len(data[REFERRALS_T]) == 200
    assert len(data[CIRCLES_T]) == 1
    members = Counter(r.fields["Status"] for r in data[MEMBERS_T])
    assert members == {"Active": 6, "Removed": 1}
    smaller = sample_data(NOW, partners=20, activities=15, referrals=80)
    assert [len(smaller[k]) for k in (PARTNERS_T, ACTIVITIES_T, REFERRALS_T)] == [20, 15, 80]


def test_refs_are_unique_and_stable_handles(data: SampleData) -> None:
    refs = [row.ref for _, row in _rows(data)]
    assert len(refs) == len(set(refs))
    assert data[PARTNERS_T][0].ref == "partner-01"
    assert data[ACTIVITIES_T][6].ref == "activity-07"
    assert data[REFERRALS_T][112].ref == "referral-113"
    assert data[CIRCLES_T][0].ref == "circle-1"
    for rows in data.values():  # numbered in created order
        assert [r.created for r in rows] == sorted(r.created for r in rows)


# cell validity ---------------------------------------------------------------------------------


def test_every_field_belongs_to_the_template_and_selects_are_valid_choices(data: SampleData) -> None:
    for (base_key, table), row in _rows(data):
        tdef = table_def(base_key, table)
        for name, value in row.fields.items():
            f = tdef.field(name)  # KeyError on an unknown field
            if f.type == "singleSelect":
                assert value in f.choices, (row.ref, name, value)
            if f.type == "checkbox":
                assert value is True, (row.ref, name)  # omitted when false
            if f.type == "date":
                assert date.fromisoformat(value).isoformat() == value
            if f.type == "dateTime":
                assert format_datetime(parse_datetime(value)) == value
            assert value not in (None, "", []), (row.ref, name)


def test_only_the_malformed_contact_email_fails_parsing(data: SampleData, bad: dict[str, str]) -> None:
    flagged = {}
    for (base_key, table), row in _rows(data):
        parsed = parse_fields(table_def(base_key, table), row.fields)
        if parsed.problems:
            flagged[row.ref] = [p.field for p in parsed.problems]
    (malformed,) = [ref for ref, kind in bad.items() if kind == BAD_CONTACT_EMAIL]
    assert flagged == {malformed: ["Contact Email"]}
    assert _by_ref(data)[malformed].fields["Contact Email"] == "jane.doe@"


def test_partners_carry_only_manager_fields(data: SampleData) -> None:
    tdef = table_def(*PARTNERS_T)
    manager = {f.name for f in tdef.fields if f.writer in (Writer.MANAGER, Writer.MANAGER_OR_JOB)}
    for row in data[PARTNERS_T]:
        assert set(row.fields) <= manager, row.ref
        assert {"Name", "Email", "Company", "Type", "Stage", "Owner"} <= set(row.fields)


def test_partner_emails_are_unique_lower_case_and_not_real(data: SampleData) -> None:
    emails = [r.fields["Email"] for r in data[PARTNERS_T]]
    assert len(emails) == len(set(emails))
    for e in emails:
        assert e == e.lower() and is_email(e) and e.endswith(".example")
    owners = {r.fields["Owner"] for r in data[PARTNERS_T]}
    assert 2 <= len(owners) <= 3 and all(o.endswith("@ourco.example") for o in owners)


# links and loading -----------------------------------------------------------------------------


def test_link_refs_resolve(data: SampleData) -> None:
    partners = {r.ref for r in data[PARTNERS_T]}
    circles = {r.ref for r in data[CIRCLES_T]}
    for row in data[ACTIVITIES_T]:
        assert len(row.fields["Partner"]) == 1 and row.fields["Partner"][0] in partners
    for row in data[MEMBERS_T]:
        assert row.fields["Circle"] == ["circle-1"] and set(row.fields["Circle"]) <= circles
        assert row.fields["Partner Email"] in _partner_emails(data)


def test_load_into_local_store(tmp_path: Path, data: SampleData) -> None:
    store = LocalStore(tmp_path / "store.db")
    try:
        ids = load_into(store, NOW)
        for (base_key, table), rows in data.items():
            assert store.count(base_key, table) == len(rows)
        assert len(ids) == sum(len(rows) for rows in data.values())
        assert len(set(ids.values())) == len(ids)
        for row in data[ACTIVITIES_T]:
            rec = store.get(*ACTIVITIES_T, ids[row.ref])
            assert rec is not None
            assert rec.fields["Partner"] == [ids[row.fields["Partner"][0]]]
            assert rec.created_time == format_datetime(row.created)
            partner = store.get(*PARTNERS_T, rec.fields["Partner"][0])
            assert partner is not None
        for row in data[MEMBERS_T]:
            rec = store.get(*MEMBERS_T, ids[row.ref])
            assert rec is not None and rec.fields["Circle"] == [ids["circle-1"]]
        referral = data[REFERRALS_T][0]
        rec = store.get(*REFERRALS_T, ids[referral.ref])
        assert rec is not None and rec.fields == referral.fields
    finally:
        store.close()


# time ------------------------------------------------------------------------------------------


def test_no_date_lies_after_now(data: SampleData) -> None:
    for (base_key, table), row in _rows(data):
        assert row.created <= NOW and row.created.tzinfo is not None, row.ref
        tdef = table_def(base_key, table)
        for name, value in row.fields.items():
            f = tdef.field(name)
            if f.type == "date" and name != "Expires On":
                assert date.fromisoformat(value) <= TODAY, (row.ref, name)
            if f.type == "dateTime":
                assert row.created <= parse_datetime(value) <= NOW, (row.ref, name)


def test_expires_on_is_registration_plus_protection(data: SampleData) -> None:
    for row in _from(data):
        if "Expires On" in row.fields:
            expected = row.created.date() + timedelta(days=EXPIRY_DAYS)
            assert row.fields["Expires On"] == expected.isoformat()


def test_referrals_span_the_last_year(data: SampleData) -> None:
    ages = [(NOW - r.created).days for r in data[REFERRALS_T]]
    assert max(ages) <= 365 and max(ages) > 250 and min(ages) <= 3


# realism ---------------------------------------------------------------------------------------


def test_partner_mix(data: SampleData) -> None:
    rows = data[PARTNERS_T]
    stages = Counter(r.fields["Stage"] for r in rows)
    assert stages["Onboarded"] + stages["Active"] >= 0.7 * len(rows)
    assert stages["Prospect"] >= 1 and stages["Recruited"] >= 1
    assert len({r.fields["Type"] for r in rows}) >= 4
    overrides = Counter(r.fields.get("Circle Override") for r in rows)
    assert overrides["Always in"] >= 1 and overrides["Never in"] >= 1
    assert 1 <= sum(1 for r in rows if r.fields.get("Do Not Message")) <= 2
    joined = [date.fromisoformat(r.fields["Joined On"]) for r in rows if "Joined On" in r.fields]
    assert min(joined) >= TODAY - timedelta(days=731)
    assert max((TODAY - d).days for d in joined) > 500


def test_activity_is_skewed(data: SampleData) -> None:
    partners = {r.fields["Email"]: r for r in data[PARTNERS_T]}
    ages: dict[str, list[int]] = {}
    for r in _from(data):
        email = r.fields["Partner Email"].lower()
        if email in partners:
            ages.setdefault(email, []).append((NOW - r.created).days)
    very_active = [e for e, a in ages.items() if sum(1 for x in a if x <= 90) >= 4 and min(a) <= 14]
    assert 6 <= len(very_active) <= 10
    gone_stale = [e for e, a in ages.items() if 120 <= min(a) <= 185]
    assert len(gone_stale) >= 3
    silent = [e for e in partners if e not in ages]
    assert len(silent) >= 5
    # "New" band: joined in the last 3 weeks, no referral yet
    new = [
        e
        for e, r in partners.items()
        if "Joined On" in r.fields and (TODAY - date.fromisoformat(r.fields["Joined On"])).days <= 21 and e not in ages
    ]
    assert new
    # nobody refers before joining
    for e, a in ages.items():
        if "Joined On" in partners[e].fields:
            first = TODAY - timedelta(days=max(a))
            assert date.fromisoformat(partners[e].fields["Joined On"]) <= first


def test_activities(data: SampleData) -> None:
    for r in data[ACTIVITIES_T]:
        assert (TODAY - date.fromisoformat(r.fields["Date"])).days <= 185
        assert r.created.date() == date.fromisoformat(r.fields["Date"])
    assert len({r.fields["Kind"] for r in data[ACTIVITIES_T]}) >= 4


def test_referral_statuses_reflect_age(data: SampleData) -> None:
    rows = _from(data)
    assert 0.8 <= len(rows) / len(data[REFERRALS_T]) <= 0.9
    assert [r.fields.get("Status") for r in rows[-8:]] == [None] * 8  # New = not yet processed
    assert all("Status" in r.fields for r in rows[:-8])
    deals = [r.fields["CRM ID"] for r in rows if "CRM ID" in r.fields]
    assert len(deals) == len(set(deals)) and all(d.startswith("deal-1") for d in deals)
    for r in rows:
        f, age = r.fields, (NOW - r.created).days
        status = f.get("Status")
        assert f["Referral"] == f"{f['Company']} — {f['Contact Name']}"
        if status in ("Won", "Lost", "In CRM", "Expired"):
            assert {"CRM ID", "CRM Stage", "CRM Pushed At", "Attribution", "Expires On"} <= set(f)
        if status == "Won":
            assert f["CRM Stage"] == "Closed won" and f["Amount"] > 0
        else:
            assert "Amount" not in f
        if status == "Lost":
            assert f["CRM Stage"] == "Closed lost"
        if status == "Expired":
            assert age >= EXPIRY_DAYS
        if status == "In CRM":
            assert age < EXPIRY_DAYS
            assert f["CRM Stage"] in ("Appointment scheduled", "Qualified to buy")
    counts = Counter(r.fields.get("Status") for r in rows)
    assert all(counts[s] >= 1 for s in ("Won", "Lost", "Expired", "In CRM", "Duplicate"))
    assert counts["Duplicate"] <= 5
    free = [r for r in rows if r.fields["Contact Email"].rpartition("@")[2] in FREE_MAIL]
    assert 1 <= len(free) <= 15
    assert any("Company Domain" not in r.fields for r in rows)


def test_duplicates_name_a_valid_earlier_registration(data: SampleData) -> None:
    rows = _from(data)
    for i, r in enumerate(rows):
        if r.fields.get("Status") != "Duplicate":
            continue
        earlier = [
            e
            for e in rows[:i]
            if _key(e.fields) == _key(r.fields)
            and e.fields.get("Status") not in ("Duplicate", "Rejected")
            and r.created - e.created < timedelta(days=EXPIRY_DAYS)
        ]
        assert earlier, r.ref
        assert r.fields["Conflict With"].startswith(earlier[0].fields["Referral"])
    # apart from the Duplicates, the only repeated registration key is the bad New one
    keys = Counter(_key(r.fields) for r in rows if r.fields.get("Status") != "Duplicate")
    repeated = {k for k, n in keys.items() if n > 1}
    (again,) = [ref for ref, kind in bad_rows(NOW).items() if kind == BAD_DUPLICATE_DOMAIN]
    assert repeated == {_key(_by_ref(data)[again].fields)}


def test_deliberately_bad_rows(data: SampleData, bad: dict[str, str]) -> None:
    assert sorted(bad.values()) == sorted([BAD_UNKNOWN_PARTNER, BAD_CONTACT_EMAIL, BAD_DUPLICATE_DOMAIN])
    by_ref = _by_ref(data)
    known = _partner_emails(data)
    rows = _from(data)
    for ref, kind in bad.items():
        row = by_ref[ref]
        assert "Status" not in row.fields and row in rows[-8:]
        email = row.fields["Partner Email"].lower()
        if kind == BAD_UNKNOWN_PARTNER:
            assert email not in known
        else:
            assert email in known
        if kind == BAD_DUPLICATE_DOMAIN:
            earlier = [
                r for r in rows if r.created < row.created and r.ref not in bad and _key(r.fields) == _key(row.fields)
            ]
            assert len(earlier) == 1
            (first,) = earlier
            assert first.fields["Status"] == "In CRM"
            assert date.fromisoformat(first.fields["Expires On"]) > TODAY
            assert first.fields["Partner Email"].lower() != email
    # every other from-partner referral names a known partner
    for r in rows:
        if r.ref not in bad:
            assert r.fields["Partner Email"].lower() in known


def test_to_partner_referrals(data: SampleData) -> None:
    rows = [r for r in data[REFERRALS_T] if r.fields["Direction"] == "To partner"]
    assert [r.fields.get("Status") for r in rows[-2:]] == [None, None]
    assert all(r.fields["Status"] == "Introduced" and "Intro Sent At" in r.fields for r in rows[:-2])
    receivers = {r.fields["Partner Email"] for r in rows}
    assert receivers <= _partner_emails(data)
    per_partner = Counter(r.fields["Partner Email"] for r in _from(data))
    top = {e for e, _ in per_partner.most_common(12)}
    assert receivers <= top
    for r in rows:
        assert "Attribution" not in r.fields and "Expires On" not in r.fields


def test_circle_and_members(data: SampleData) -> None:
    (circle,) = data[CIRCLES_T]
    f = circle.fields
    assert f["Name"] == "Top Partners" and f["Slack Channel ID"] == "C0DEMO0001"
    assert (f["Enter Score"], f["Leave Score"], f["Stale After Days"], f["Active"]) == (75, 50, 90, True)
    assert 2 <= len(f["Perks"].splitlines()) <= 3
    partners = {r.fields["Email"]: r for r in data[PARTNERS_T]}
    recent = Counter(r.fields["Partner Email"].lower() for r in _from(data) if (NOW - r.created).days <= 90)
    active = [m for m in data[MEMBERS_T] if m.fields["Status"] == "Active"]
    for m in active:
        p = partners[m.fields["Partner Email"]]
        assert p.fields.get("Circle Override") != "Never in"
        assert recent[m.fields["Partner Email"]] >= 3 or p.fields.get("Circle Override") == "Always in"
        assert date.fromisoformat(m.fields["Joined On"]) >= date.fromisoformat(p.fields["Joined On"])
    (removed,) = [m for m in data[MEMBERS_T] if m.fields["Status"] == "Removed"]
    assert removed.fields["Reason"]
    assert removed.fields["Joined On"] < removed.fields["Removed On"]
    assert len({m.fields["Partner Email"] for m in data[MEMBERS_T]}) == len(data[MEMBERS_T])


# other seeds and clocks ------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    now=st.datetimes(
        min_value=datetime(2022, 1, 1),
        max_value=datetime(2030, 12, 31),
        timezones=st.just(timezone.utc),
    ),
)
def test_any_seed_gives_valid_rows(seed: int, now: datetime) -> None:
    data = sample_data(now, seed=seed)
    bad = bad_rows(now, seed=seed)
    assert len(bad) == 3 and len(data[REFERRALS_T]) == 200
    flagged = set()
    for (base_key, table), row in _rows(data):
        assert row.created <= now
        parsed = parse_fields(table_def(base_key, table), row.fields)
        if parsed.problems:
            flagged.add((row.ref, tuple(p.field for p in parsed.problems)))
    (malformed,) = [ref for ref, kind in bad.items() if kind == BAD_CONTACT_EMAIL]
    assert flagged == {(malformed, ("Contact Email",))}
    emails = [r.fields["Email"] for r in data[PARTNERS_T]]
    assert len(emails) == len(set(emails))


def test_too_few_partners_is_refused() -> None:
    with pytest.raises(ValueError):
        sample_data(NOW, partners=5)
