"""Referral registration rules (SPEC §5, From partner): keys, first valid registration wins, expiry."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bases.records import Record, format_datetime
from jobs.rules.registration import (
    FREE_MAIL_DOMAINS,
    ReferralSettings,
    RegistrationPlan,
    normalize_domain,
    plan_registrations,
    registration_key,
)

NOW = date(2026, 6, 1)
PARTNERS = {"ann@agency.io", "bob@consult.co"}
_ids = itertools.count()


def at(days_ago: int, hour: int = 12) -> str:
    """A createdTime `days_ago` days before NOW."""
    return format_datetime(datetime.combine(NOW - timedelta(days=days_ago), time(hour, 0), tzinfo=timezone.utc))


def day(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def ref(
    created: str | None = None,
    rid: str | None = None,
    *,
    name: str = "Acme — Jane Doe",
    partner: str = "ann@agency.io",
    domain: str | None = "acme.com",
    contact: str | None = "jane@acme.com",
    direction: str = "From partner",
    **cells: Any,
) -> Record:
    fields: dict[str, Any] = {"Referral": name, "Direction": direction, "Partner Email": partner}
    if domain is not None:
        fields["Company Domain"] = domain
    if contact is not None:
        fields["Contact Email"] = contact
    fields.update({k.replace("_", " "): v for k, v in cells.items()})
    return Record(rid or f"rec{next(_ids):06d}", created or at(10), fields)


def apply(records: list[Record], plan: RegistrationPlan) -> list[Record]:
    out = []
    for r in records:
        fields = dict(r.fields)
        for name, value in plan.cells.get(r.id, {}).items():
            if value is None:
                fields.pop(name, None)
            else:
                fields[name] = value
        out.append(Record(r.id, r.created_time, fields))
    return out


# --- normalize_domain / registration_key ---------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Acme.com/path?x", "acme.com"),
        ("http://acme.com:8080/", "acme.com"),
        ("ACME.COM.", "acme.com"),
        (" acme.co.uk ", "acme.co.uk"),
        ("www.acme.com", "acme.com"),
        ("eu.acme.com", "eu.acme.com"),
        ("acme.com#team", "acme.com"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("not a domain", None),
        ("localhost", None),
        ("", None),
        ("   ", None),
        ("jane@acme.com", None),
        ("acme..com", None),
        ("10.0.0.1", None),
        ("https://", None),
    ],
)
def test_normalize_domain(raw: str, expected: str | None) -> None:
    assert normalize_domain(raw) == expected


def test_free_mail_list_is_sane() -> None:
    assert {"gmail.com", "outlook.com", "yahoo.co.uk", "proton.me", "icloud.com"} <= FREE_MAIL_DOMAINS
    assert len(FREE_MAIL_DOMAINS) >= 40
    assert all(normalize_domain(d) == d for d in FREE_MAIL_DOMAINS)


def test_registration_key_from_company_domain() -> None:
    assert registration_key("https://www.Acme.com", "jane@other.com") == ("domain:acme.com", "from Company Domain")


def test_registration_key_from_contact_domain() -> None:
    key, how = registration_key(None, " Jane@ACME.com ")
    assert key == "domain:acme.com"
    assert "Contact Email" in how


def test_registration_key_free_mail_uses_email() -> None:
    key, how = registration_key("", "Jane.Doe@Gmail.com")
    assert key == "email:jane.doe@gmail.com"
    assert "free-mail" in how


def test_registration_key_free_mail_company_domain_falls_back_to_email() -> None:
    assert registration_key("gmail.com", "jane@gmail.com")[0] == "email:jane@gmail.com"
    key, why = registration_key("gmail.com", None)
    assert key is None and "free-mail" in why


def test_registration_key_nothing_usable() -> None:
    key, why = registration_key(None, None)
    assert key is None and "Company Domain" in why and "Contact Email" in why
    key, why = registration_key("Acme Inc", "jane@acme.com")
    assert key is None and "'Acme Inc' is not a domain name" in why


# --- checks of New records -----------------------------------------------------------------


def test_unknown_partner_gets_sync_notes_and_stays_new() -> None:
    r = ref(partner="Eve@Nowhere.com")
    plan = plan_registrations([r], PARTNERS, NOW)
    note = "Partner Email eve@nowhere.com is not a partner in the Partners base; fix the e-mail or add the partner"
    assert plan.cells == {} and plan.notes == {r.id: note}
    assert plan.rejected_notes == {r.id: note}
    assert plan.accepted == [] and plan.duplicates == []


def test_partner_match_is_normalized() -> None:
    r = ref(partner=" ANN@Agency.io ")
    assert plan_registrations([r], {"Ann@agency.IO"}, NOW).accepted == [r.id]


def test_malformed_contact_email() -> None:
    r = ref(domain=None, contact="jane@", Status="New")
    plan = plan_registrations([r], PARTNERS, NOW)
    assert r.id not in plan.cells
    cells = {"Sync Notes": plan.notes[r.id]}
    assert "Contact Email: 'jane@' is not a valid e-mail address" in cells["Sync Notes"]
    assert "checked again on the next run" in cells["Sync Notes"]
    assert plan.accepted == []


def test_no_key_note() -> None:
    r = ref(domain=None, contact=None)
    plan = plan_registrations([r], PARTNERS, NOW)
    assert "Neither Company Domain nor Contact Email" in plan.notes[r.id]
    assert r.id not in plan.cells


def test_all_problems_reported_at_once() -> None:
    r = ref(partner="eve@nowhere.com", domain="Acme Inc")
    notes = plan_registrations([r], PARTNERS, NOW).rejected_notes[r.id]
    assert "eve@nowhere.com is not a partner" in notes and "'Acme Inc' is not a domain name" in notes


def test_fixed_record_is_accepted_and_note_cleared() -> None:
    r = ref(Sync_Notes="Partner Email x is not a partner")
    plan = plan_registrations([r], PARTNERS, NOW)
    assert plan.cells[r.id] == {"Status": "Accepted", "Expires On": day(10 - 120)} and plan.notes[r.id] == ""
    assert plan.accepted == [r.id]


def test_to_partner_and_other_directions_ignored() -> None:
    records = [ref(direction="To partner"), ref(direction=""), ref(direction="To partner", Status="Accepted")]
    plan = plan_registrations(records, PARTNERS, NOW)
    assert plan.cells == {} and plan.accepted == []


# --- first valid registration wins ---------------------------------------------------------


def test_empty_status_means_new_and_accepted() -> None:
    r = ref(at(3))
    plan = plan_registrations([r], PARTNERS, NOW)
    assert plan.cells == {r.id: {"Status": "Accepted", "Expires On": day(3 - 120)}}
    assert plan.accepted == [r.id]
    assert plan.keys[r.id] == "domain:acme.com"


def test_same_run_conflict_earlier_wins_regardless_of_input_order() -> None:
    early = ref(at(5), name="Acme — Jane", partner="ann@agency.io")
    late = ref(at(2), name="Acme — Joe", partner="bob@consult.co", domain=None, contact="joe@acme.com")
    plan = plan_registrations([late, early], PARTNERS, NOW)
    assert plan.accepted == [early.id]
    assert plan.duplicates == [late.id]
    assert plan.cells[late.id] == {
        "Status": "Duplicate",
        "Conflict With": f"Acme — Jane (ann@agency.io, registered {day(5)})",
    }


def test_exact_created_time_tie_broken_by_record_id() -> None:
    t = at(4)
    a = ref(t, "recAAA", partner="bob@consult.co")
    b = ref(t, "recBBB")
    plan = plan_registrations([b, a], PARTNERS, NOW)
    assert plan.accepted == ["recAAA"] and plan.duplicates == ["recBBB"]


def test_created_times_compared_as_instants() -> None:
    a = ref("2026-05-20T10:00:00Z", "recZZZ")  # earlier, though "…Z" > "….000Z" as strings
    b = ref("2026-05-20T10:00:00.500Z", "recAAA")
    assert plan_registrations([b, a], PARTNERS, NOW).accepted == ["recZZZ"]


def test_same_partner_twice_is_duplicate_same_format() -> None:
    first = ref(at(9), name="Acme 1")
    again = ref(at(1), name="Acme 2")
    plan = plan_registrations([first, again], PARTNERS, NOW)
    assert plan.duplicates == [again.id]
    assert plan.cells[again.id]["Conflict With"] == f"Acme 1 (ann@agency.io, registered {day(9)})"
    assert any("(same partner)" in line for line in plan.summary_lines)


def test_conflict_with_in_crm_holder_even_if_registered_later() -> None:
    holder = ref(at(30), name="Acme deal", partner="bob@consult.co", Status="In CRM", Expires_On=day(30 - 120))
    late = ref(at(1))
    older_new = ref(at(60))  # was invalid until now: does not outrank a claim accepted in the gap
    plan = plan_registrations([holder, late, older_new], PARTNERS, NOW)
    assert plan.accepted == []
    assert sorted(plan.duplicates) == sorted([late.id, older_new.id])
    assert plan.cells[late.id]["Conflict With"] == f"Acme deal (bob@consult.co, registered {day(30)})"
    assert holder.id not in plan.cells


@pytest.mark.parametrize(
    "holder_cells",
    [
        {"Status": "Expired", "Expires On": day(1)},
        {"Status": "Rejected"},
        {"Status": "Duplicate", "Conflict With": "x"},
        {"Status": "Lost", "Expires On": day(1)},  # Lost holds only until Expires On
        {"Status": "Accepted", "Expires On": day(1)},  # passed: expires in the same run
        {"Status": "In CRM", "Expires On": day(1)},
    ],
)
def test_no_conflict_with_released_holder(holder_cells: dict[str, Any]) -> None:
    holder = Record(
        "recHOLD",
        at(200),
        {
            "Referral": "Old",
            "Direction": "From partner",
            "Partner Email": "bob@consult.co",
            "Company Domain": "acme.com",
            **holder_cells,
        },
    )
    r = ref(at(1))
    plan = plan_registrations([holder, r], PARTNERS, NOW)
    assert plan.accepted == [r.id]


def test_holder_without_expires_on_uses_registration_date() -> None:
    holder = ref(at(121), partner="bob@consult.co", Status="Lost")
    holder_ok = ref(at(120), partner="bob@consult.co", Status="Lost", domain="beta.com")
    a, b = ref(at(1)), ref(at(1), domain="beta.com")
    plan = plan_registrations([holder, holder_ok, a, b], PARTNERS, NOW)
    assert plan.accepted == [a.id] and plan.duplicates == [b.id]


def test_holder_on_its_expires_on_day_still_holds() -> None:
    holder = ref(at(50), partner="bob@consult.co", Status="Lost", Expires_On=day(0))
    r = ref(at(1))
    assert plan_registrations([holder, r], PARTNERS, NOW).duplicates == [r.id]


def test_won_holds_forever_by_default() -> None:
    won = ref(at(400), name="Acme won", partner="bob@consult.co", Status="Won", Expires_On=day(280))
    r = ref(at(1))
    plan = plan_registrations([won, r], PARTNERS, NOW)
    assert plan.duplicates == [r.id]
    assert plan.cells[r.id]["Conflict With"] == f"Acme won (bob@consult.co, registered {day(400)})"
    assert won.id not in plan.cells  # Won never expires


def test_won_holds_until_expiry_when_set_off() -> None:
    won = ref(at(400), partner="bob@consult.co", Status="Won", Expires_On=day(280))
    r = ref(at(1))
    plan = plan_registrations([won, r], PARTNERS, NOW, ReferralSettings(won_holds_forever=False))
    assert plan.accepted == [r.id]


def test_manager_reset_duplicate_to_new_clears_conflict() -> None:
    r = ref(at(5), Status="New", Conflict_With="Old (x@y.com, registered 2026-01-01)")
    plan = plan_registrations([r], PARTNERS, NOW)
    assert plan.cells[r.id]["Conflict With"] is None and plan.cells[r.id]["Status"] == "Accepted"


def test_new_registration_whose_protection_already_ended() -> None:
    r = ref(at(130))
    plan = plan_registrations([r], PARTNERS, NOW)
    assert plan.accepted == [] and plan.expired == [r.id]
    assert plan.cells[r.id]["Status"] == "Expired"
    assert plan.cells[r.id]["Expires On"] == day(10)
    assert "submit it again" in plan.notes[r.id]


def test_protection_days_setting() -> None:
    r = ref(at(3))
    plan = plan_registrations([r], PARTNERS, NOW, ReferralSettings(protection_days=90))
    assert plan.cells[r.id]["Expires On"] == day(3 - 90)


# --- expiry --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Accepted", "In CRM"])
def test_expiry_boundary(status: str) -> None:
    today = ref(at(120), Status=status, Expires_On=day(0))
    yesterday = ref(at(121), Status=status, Expires_On=day(1), domain="beta.com")
    plan = plan_registrations([today, yesterday], PARTNERS, NOW)
    assert plan.expired == [yesterday.id]
    assert plan.cells == {yesterday.id: {"Status": "Expired"}}


@pytest.mark.parametrize("status", ["Won", "Lost", "Duplicate", "Rejected"])
def test_closed_statuses_never_expire(status: str) -> None:
    r = ref(at(300), Status=status, Expires_On=day(180))
    assert plan_registrations([r], PARTNERS, NOW).cells == {}


def test_missing_expires_on_is_filled_in() -> None:
    r = ref(at(10), Status="In CRM")
    old = ref(at(200), Status="Accepted", domain="beta.com")
    plan = plan_registrations([r, old], PARTNERS, NOW)
    assert plan.cells[r.id] == {"Expires On": day(10 - 120)}
    assert plan.cells[old.id] == {"Expires On": day(80), "Status": "Expired"}


# --- idempotence ---------------------------------------------------------------------------


def test_replanning_after_applying_is_empty() -> None:
    records = [
        ref(at(5)),
        ref(at(4), partner="bob@consult.co"),
        ref(at(3), partner="eve@x.com", domain="beta.com"),
        ref(at(3), domain=None, contact="jane@"),
        ref(at(130), domain="gamma.com"),
        ref(at(200), Status="In CRM", domain="delta.com"),
        ref(at(20), Status="Accepted", domain="eps.com", Expires_On=day(1)),
        ref(at(2), direction="To partner"),
    ]
    plan = plan_registrations(records, PARTNERS, NOW)
    assert plan.cells
    again = plan_registrations(apply(records, plan), PARTNERS, NOW)
    assert again.cells == {}
    assert again.accepted == [] and again.duplicates == [] and again.expired == []


def test_summary_lines() -> None:
    plan = plan_registrations([ref(at(5)), ref(at(4))], PARTNERS, NOW)
    assert plan.summary_lines[0].startswith("Referral registrations: 1 accepted, 1 duplicate")
    assert plan_registrations([], PARTNERS, NOW).summary_lines == ["Referral registrations: nothing to do."]


# --- property: the earliest valid registration per key wins --------------------------------

KEYS = st.sampled_from(
    [("acme.com", None), (None, "jane@acme.com"), ("beta.io", None), (None, "joe@gmail.com"), (None, "joe@GMAIL.com")]
)


@st.composite
def registrations(draw: st.DrawFn) -> list[Record]:
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        domain, contact = draw(KEYS)
        days_ago = draw(st.integers(0, 3))  # few distinct times → many exact ties
        partner = draw(st.sampled_from(["ann@agency.io", "bob@consult.co", "eve@nowhere.com"]))
        rid = f"rec{draw(st.integers(0, 10**6)):07d}{i:02d}"
        status = draw(st.sampled_from(["", "New"]))
        out.append(ref(at(days_ago), rid, name=f"R{i}", partner=partner, domain=domain, contact=contact, Status=status))
    return out


@settings(max_examples=200, deadline=None)
@given(registrations(), st.randoms(use_true_random=False))
def test_property_earliest_valid_registration_wins(records: list[Record], rnd: Any) -> None:
    shuffled = list(records)
    rnd.shuffle(shuffled)
    plan = plan_registrations(shuffled, PARTNERS, NOW)

    def key_of(r: Record) -> str | None:
        return registration_key(r.get("Company Domain"), r.get("Contact Email"))[0]

    valid = [r for r in records if r.get("Partner Email") in PARTNERS]
    by_key: dict[str | None, list[Record]] = {}
    for r in valid:
        by_key.setdefault(key_of(r), []).append(r)
    expected_accepted = set()
    for rs in by_key.values():
        first = min(rs, key=lambda r: (datetime.fromisoformat(r.created_time.replace("Z", "+00:00")), r.id))
        expected_accepted.add(first.id)
        accepted_here = [r.id for r in rs if r.id in plan.accepted]
        assert accepted_here == [first.id]
        for r in rs:
            if r.id != first.id:
                assert plan.cells[r.id]["Status"] == "Duplicate"
                assert plan.cells[r.id]["Conflict With"].startswith(f"{first.get('Referral')} (")
    assert set(plan.accepted) == expected_accepted
    assert set(plan.rejected_notes) == {r.id for r in records if r.get("Partner Email") not in PARTNERS}
    assert plan_registrations(apply(shuffled, plan), PARTNERS, NOW).cells == {}
