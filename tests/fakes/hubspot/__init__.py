"""A fake HubSpot CRM API (free tier) served over real HTTP on loopback, for tests.

Serves both path families with the same handlers: legacy (``/crm/v3/objects``, ``/crm/v3/properties``,
``/crm/v3/pipelines``, ``/crm/v4/associations``, ``/crm/v4/objects/.../associations``,
``/account-info/v3``) and dated (``/crm/objects/2026-09``, ``/crm/properties/2026-09``,
``/crm/pipelines/2026-09``, ``/crm/associations/2026-09``, ``/account-info/2026-09``). Every
request body is checked against HubSpot's published request schema for its version (see
:mod:`tests.fakes.hubspot.schemas`) and refused with HubSpot's 400 VALIDATION_ERROR answer.
Enforces the Bearer token, unique property values, duplicate contact e-mails (409 "Existing ID:
N"), batch size ≤100, 207 partial results, search filters/sorts/paging and the 10,000 result cap,
deal currencies among the account's. Controls: ``deals()``, ``contacts()``, ``add_object``,
``associate``, ``set_stage``, ``calls``, ``fail_next`` (before or after applying, or dropping
the connection), ``company_currency``. Standard library only.
"""

from tests.fakes.hubspot.common import (
    DEFAULT_STAGES,
    DEFAULT_START,
    RATE_LIMIT_BODY,
    RATE_LIMIT_HEADERS,
    ApiError,
    ManualClock,
)
from tests.fakes.hubspot.server import FakeHubSpot

__all__ = [
    "DEFAULT_STAGES",
    "DEFAULT_START",
    "RATE_LIMIT_BODY",
    "RATE_LIMIT_HEADERS",
    "ApiError",
    "FakeHubSpot",
    "ManualClock",
]
