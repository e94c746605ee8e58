"""One error root for every outside system: :class:`ServiceError`.

Each client (Airtable, Slack, HubSpot, the CRM webhook, SMTP) raises a subclass of it that
carries the service's own details; callers only ever ask one question of a failure —
:attr:`ServiceError.retryable`: may a later attempt succeed without anyone fixing anything? —
and one more of a write: :attr:`ServiceError.outcome_unknown`: may the request have been
applied although no answer came back (so it must be reconciled before it is ever repeated)?

Nothing here knows a partner-program rule.
"""

from __future__ import annotations

from typing import ClassVar

#: HTTP statuses that mean "nothing was done, ask again later".
RETRY_STATUSES = frozenset({408, 423, 425, 429})


class ServiceError(Exception):
    """An outside system failed or refused.

    ``status``: the HTTP status (0 = no answer at all); ``code``: the service's own error code
    (Airtable's ``INVALID_VALUE_FOR_COLUMN``, Slack's ``channel_not_found``, HubSpot's category,
    an SMTP reply code); ``message``: its own words; ``url``: where (secrets removed);
    ``outcome_unknown``: the request may have been applied (the answer was lost).
    """

    service: ClassVar[str] = "service"
    #: The service's codes that mean "try again later" although the status says otherwise
    #: (Slack answers HTTP 200 with ``ok: false``).
    transient_codes: ClassVar[frozenset[str]] = frozenset()
    #: The service's codes that mean "someone must fix something" whatever the status.
    permanent_codes: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        url: str = "",
        outcome_unknown: bool = False,
        hint: str = "",
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.url = url
        self.outcome_unknown = outcome_unknown
        self.hint = hint
        super().__init__(self.describe())

    def describe(self) -> str:
        """One line in plain words: service, status, code, message, where, and the hint."""
        status = f"HTTP {self.status}" if self.status else "no answer"
        text = f"{self.service} {self.code} ({status})"
        if self.message:
            text += f": {self.message}"
        if self.url:
            text += f" [{self.url}]"
        if self.hint:
            text += f" - {self.hint}"
        if self.outcome_unknown:
            text += " (it may have been applied)"
        return text

    @property
    def retryable(self) -> bool:
        """May a later attempt succeed without anyone fixing data or settings?"""
        if self.code in self.permanent_codes:
            return False
        if self.outcome_unknown or self.status == 0 or self.code in self.transient_codes:
            return True
        return self.status in RETRY_STATUSES or self.status >= 500

    @property
    def permanent(self) -> bool:
        return not self.retryable
