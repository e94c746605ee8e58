"""HubSpot CRM client for the one-way referral push, within HubSpot's free CRM.

Plain ``requests``; base URL, token, timeout, session and ``sleep`` are injected. The API version
is a setting: a dated version (default ``"2026-09"``: ``/crm/objects/2026-09/deals/…``) or ``"v3"``
(legacy paths, with ``/crm/v4/`` for associations; HubSpot ends ``/crm/v4/`` on 2027-03-30 and
``/v1``–``/v3`` in September 2027).

* :mod:`.transport` — paths, auth, waits on 429/423/477, repeats of reads; a write that got no
  answer or a 5xx raises with ``outcome_unknown=True`` (the caller reconciles);
* :mod:`.bodies` — every request body, typed after HubSpot's published request schema;
* :mod:`.errors` — :class:`HubSpotError`, a :class:`integrations.errors.ServiceError` whose
  ``code`` is HubSpot's category;
* :mod:`.client` — :class:`HubSpotClient`, the calls the jobs make (properties, pipelines, contact
  and deal upserts, associations, searches, read-back with currencies, the access check).

The client knows nothing about partners: the caller chooses the properties, the unique id property
and the stages.
"""

from integrations.hubspot.client import BATCH_LIMIT, DEFAULT_PROPERTY_GROUP, HubSpotClient
from integrations.hubspot.errors import HubSpotError, error_from_body
from integrations.hubspot.models import DEAL_CURRENCY_PROPERTY, DealAmount, Result, Stage, UpsertResult
from integrations.hubspot.search import SEARCH_PAGE_LIMIT, SEARCH_RESULT_CAP
from integrations.hubspot.transport import (
    DEFAULT_API_URL,
    DEFAULT_API_VERSION,
    RATE_LIMIT_TRIES,
    SERVER_ERROR_TRIES,
)

__all__ = [
    "BATCH_LIMIT",
    "DEAL_CURRENCY_PROPERTY",
    "DEFAULT_API_URL",
    "DEFAULT_API_VERSION",
    "DEFAULT_PROPERTY_GROUP",
    "RATE_LIMIT_TRIES",
    "SEARCH_PAGE_LIMIT",
    "SEARCH_RESULT_CAP",
    "SERVER_ERROR_TRIES",
    "DealAmount",
    "HubSpotClient",
    "HubSpotError",
    "Result",
    "Stage",
    "UpsertResult",
    "error_from_body",
]
