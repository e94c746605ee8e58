"""The partnerops.referral.v1 document (jobs/apply/crm_document.py): the webhook body and outbox file."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobs.apply import crm_document
from jobs.apply.crm_document import build_document


def doc(referral_id: str = "recA1b2C3d4E5f6G7") -> crm_document.Document:
    return build_document(
        referral_id=referral_id,
        event="referral.accepted",
        occurred_at="2026-11-02T09:00:00Z",
        referral={
            "Referral": "Acme – website",
            "Company": "Acme",
            "Company Domain": "acme.com",
            "Contact Name": "Jane Doe",
            "Contact Email": "jane@acme.com",
            "Partner Email": "pat@agency.example",
            "Expires On": "2027-03-01",
        },
        partner={"Name": "Pat Lee", "Company": "Agency"},
        attribution="Sourced",
    )


def test_document_shape() -> None:
    assert doc() == {
        "schema": "partnerops.referral.v1",
        "event": "referral.accepted",
        "referral_id": "recA1b2C3d4E5f6G7",
        "occurred_at": "2026-11-02T09:00:00Z",
        "attribution": "Sourced",
        "referral": {
            "name": "Acme – website",
            "company": "Acme",
            "company_domain": "acme.com",
            "contact_name": "Jane Doe",
            "contact_email": "jane@acme.com",
            "notes": None,
            "registered_on": None,
            "expires_on": "2027-03-01",
        },
        "partner": {"email": "pat@agency.example", "name": "Pat Lee", "company": "Agency"},
    }


def test_document_keys_are_stable_and_snake_case_input_works() -> None:
    minimal = build_document(
        referral_id="rec1",
        event=crm_document.EVENT_REFERRAL_ACCEPTED,
        occurred_at="2026-11-02T09:00:00+00:00",
        referral={"company": "Acme", "registered_on": "2026-11-01T08:00:00.000Z", "extra": "ignored"},
        partner={"email": "pat@agency.example"},
        attribution=None,
    )
    assert set(minimal["referral"]) == set(doc()["referral"])
    assert set(minimal["partner"]) == set(doc()["partner"])
    assert minimal["referral"]["company"] == "Acme"
    assert minimal["referral"]["registered_on"] == "2026-11-01"
    assert minimal["attribution"] is None
    json.dumps(minimal)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event": "referral.won"},
        {"occurred_at": "yesterday"},
        {"attribution": "Maybe"},
        {"referral_id": " "},
    ],
)
def test_document_rejects_bad_input(kwargs: dict[str, Any]) -> None:
    base: dict[str, Any] = {
        "referral_id": "rec1",
        "event": "referral.accepted",
        "occurred_at": "2026-11-02T09:00:00Z",
        "referral": {},
        "partner": {},
        "attribution": None,
    }
    with pytest.raises(ValueError):
        build_document(**{**base, **kwargs})
