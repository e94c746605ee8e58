"""Where accepted referrals go: HubSpot, a webhook (Make, n8n, Zapier), or the outbox.

A target turns one referral into the CRM's shape and pushes it idempotently: HubSpot by a
unique deal property holding the referral's record id, the webhook by the same id as its
Idempotency-Key. So a push repeated after a crash never makes a second deal. A target that can
be read back (HubSpot) also says how the deals it got have moved since (:meth:`read_back`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from integrations.errors import ServiceError
from integrations.http import Clock
from integrations.hubspot import HubSpotClient, HubSpotError
from integrations.webhook import WebhookClient, WebhookError
from jobs.apply.crm_document import Document, build_document
from jobs.plan import DealState

log = logging.getLogger(__name__)

REFERRAL_ID_PROPERTY = "partnerops_referral_id"
DEAL_PROPERTIES: list[dict[str, Any]] = [
    {
        "name": REFERRAL_ID_PROPERTY,
        "label": "Partner referral ID",
        "type": "string",
        "fieldType": "text",
        "hasUniqueValue": True,
        "description": "Airtable record id of the referral (set by partnerops)",
    },
    {"name": "partnerops_partner", "label": "Referring partner", "type": "string", "fieldType": "text"},
    {
        "name": "partnerops_attribution",
        "label": "Partner attribution",
        "type": "enumeration",
        "fieldType": "select",
        "options": [{"label": "Sourced", "value": "Sourced"}, {"label": "Influenced", "value": "Influenced"}],
    },
]


@dataclass(frozen=True)
class Referral:
    """What a target needs of one referral (already validated by the registration rules)."""

    id: str
    name: str
    company: str
    domain: str | None
    contact_name: str
    contact_email: str | None
    notes: str
    partner_email: str
    partner_name: str
    registered_at: str
    attribution: str
    expires_on: str | None = None
    partner_company: str | None = None
    pushed_at: str = ""


class PushFailed(Exception):
    """A push that failed; ``cause`` is the CRM's own failure, when there is one."""

    def __init__(self, why: str, *, permanent: bool, unknown: bool = False, cause: ServiceError | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.permanent = permanent and not unknown
        self.unknown = unknown
        self.cause = cause


class CrmTarget(Protocol):
    name: str

    def open_deal_exists(self, domain: str | None, email: str | None) -> bool: ...

    def push(self, referral: Referral) -> str:
        """Create or update the deal for this referral; returns the CRM's deal id."""
        ...

    def initial_stage(self) -> str | None:
        """The stage label a new deal starts in, written back with the push (None: the CRM does not say)."""
        ...

    def read_back(self, since: datetime) -> list[DealState] | None:
        """The pushed deals modified since ``since``; None when this CRM cannot be read back."""
        ...

    def account_currency(self) -> str | None:
        """The account's own currency (ISO 4217): a deal read back without a currency is in it.
        None when this CRM does not say, or could not be asked now."""
        ...


def document(referral: Referral, occurred_at: str) -> Document:
    """The JSON document of one accepted referral (webhook body and outbox file): one documented
    shape, ``partnerops.referral.v1``, built by :func:`jobs.apply.crm_document.build_document`."""
    return build_document(
        referral_id=referral.id,
        event="referral.accepted",
        occurred_at=occurred_at,
        referral={
            "name": referral.name,
            "company": referral.company,
            "company_domain": referral.domain,
            "contact_name": referral.contact_name,
            "contact_email": referral.contact_email,
            "notes": referral.notes,
            "registered_on": referral.registered_at[:10],
            "expires_on": referral.expires_on,
        },
        partner={"email": referral.partner_email, "name": referral.partner_name, "company": referral.partner_company},
        attribution=referral.attribution,
    )


class WebhookTarget:
    """CRM=webhook: one POST per accepted referral; the referral id is its Idempotency-Key."""

    name = "webhook"

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        self.client = WebhookClient(url, clock=clock)

    def open_deal_exists(self, domain: str | None, email: str | None) -> bool:
        return False  # a webhook cannot be asked; attribution is Sourced

    def push(self, referral: Referral) -> str:
        try:
            self.client.push(document(referral, referral.pushed_at))
        except WebhookError as exc:
            raise PushFailed(str(exc), permanent=not exc.retryable, unknown=exc.outcome_unknown, cause=exc) from None
        return f"webhook:{referral.id}"

    def initial_stage(self) -> str | None:
        return None

    def read_back(self, since: datetime) -> list[DealState] | None:
        return None  # a webhook cannot be asked how its deals moved

    def account_currency(self) -> str | None:
        return None


class HubSpotTarget:
    name = "hubspot"

    def __init__(self, client: HubSpotClient) -> None:
        self.client = client
        self._ready = False

    def setup(self) -> None:
        """Create the deal properties this program needs, once per process (a no-op when they exist)."""
        if not self._ready:
            self.client.ensure_deal_properties(DEAL_PROPERTIES)
            self._ready = True

    def open_deal_exists(self, domain: str | None, email: str | None) -> bool:
        try:
            return self.client.open_deal_exists(domain, email)
        except HubSpotError as exc:
            raise _failed(exc) from None

    def push(self, referral: Referral) -> str:
        try:
            self.setup()
            pipeline, stage = self.client.first_stage()
            deal = {
                REFERRAL_ID_PROPERTY: referral.id,
                "dealname": referral.name or f"{referral.company} (partner referral)",
                "partnerops_partner": referral.partner_email,
                "partnerops_attribution": referral.attribution,
            }
            result = self.client.upsert_deals(
                [deal], REFERRAL_ID_PROPERTY, create_only={"pipeline": pipeline, "dealstage": stage}
            )
            outcome = result[referral.id]
            if not outcome.ok or outcome.id is None:
                raise (
                    _failed(outcome.error)
                    if outcome.error
                    else PushFailed("HubSpot returned no deal id", permanent=False)
                )
            if referral.contact_email:
                props = {"email": referral.contact_email}
                if referral.contact_name:
                    first, _, last = referral.contact_name.partition(" ")
                    props.update(firstname=first, lastname=last)
                contact = self.client.upsert_contact(referral.contact_email, props)
                self.client.associate_deal_contact(outcome.id, contact)
            return outcome.id
        except HubSpotError as exc:
            raise _failed(exc) from None

    def initial_stage(self) -> str | None:
        """Written back with the push, so `stages` does not spend a write (and a message) on a new deal."""
        try:
            _pipeline, stage = self.client.first_stage()
            found = self.client.stages().get(stage)
        except HubSpotError:
            return None
        return found.label if found else None

    def read_back(self, since: datetime) -> list[DealState] | None:
        """One search for the deals carrying the referral-id property modified since ``since``."""
        self.setup()  # before any push, the search would fail on the unknown referral-id property
        deals = self.client.deals_modified_since(since, REFERRAL_ID_PROPERTY, READ_PROPERTIES)
        stages = self.client.stages()
        out: list[DealState] = []
        for deal in deals:
            props = deal.get("properties") or {}
            stage = stages.get(str(props.get("dealstage")))
            rid = str(props.get(REFERRAL_ID_PROPERTY) or "")
            if stage is None or not rid:
                continue
            out.append(
                DealState(
                    referral_id=rid,
                    deal_id=str(deal.get("id")),
                    stage_id=stage.id,
                    stage=stage.label,
                    outcome=stage.outcome,
                    amount=_amount(props.get("amount")),
                    currency=str(props.get("deal_currency_code") or "") or None,
                    modified=_modified(props.get("hs_lastmodifieddate")),
                )
            )
        return out

    def account_currency(self) -> str | None:
        """HubSpot's company currency (the account details; one call, cached by the client).
        None when HubSpot cannot be asked now: a won message then names no amount rather than
        an amount without its currency."""
        try:
            return self.client.company_currency()
        except HubSpotError as exc:
            log.warning("HubSpot's company currency could not be read (%s)", exc)
            return None


READ_PROPERTIES = ["dealstage", "amount", "dealname", "hs_lastmodifieddate", "deal_currency_code"]


def _amount(raw: object) -> float | None:
    try:
        return float(str(raw)) if raw not in (None, "") else None
    except ValueError:
        return None


def _modified(raw: object) -> datetime | None:
    if not raw:
        return None
    text = str(raw)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _failed(exc: HubSpotError) -> PushFailed:
    return PushFailed(
        f"HubSpot said {exc.code}: {exc.message}",
        permanent=not exc.retryable,
        unknown=exc.outcome_unknown,
        cause=exc,
    )


class OutboxTarget:
    """No CRM account (the demo): each push is a JSON file under outbox/crm."""

    name = "outbox"

    def __init__(self, home: Path) -> None:
        self.root = home / "outbox" / "crm"

    def open_deal_exists(self, domain: str | None, email: str | None) -> bool:
        return False

    def push(self, referral: Referral) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"deal-{referral.id}.json"
        path.write_text(
            json.dumps(document(referral, referral.pushed_at), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        return f"outbox:{referral.id}"

    def initial_stage(self) -> str | None:
        return None

    def read_back(self, since: datetime) -> list[DealState] | None:
        return None

    def account_currency(self) -> str | None:
        return None
