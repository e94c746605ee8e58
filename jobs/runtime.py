"""What a command needs, built once from the settings: store, ledger, Airtable client, clock."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from integrations.airtable import AirtableClient, Clock
from integrations.ledger import CallLedger
from integrations.local import LocalStore
from jobs.settings import Settings


class SecretFilter(logging.Filter):
    """Replaces every secret value in a log record with ***."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "***")
        record.msg, record.args = message, ()
        return True


@dataclass
class Runtime:
    settings: Settings
    store: LocalStore
    ledger: CallLedger
    client: AirtableClient | None
    clock: Clock = field(default_factory=Clock)

    @property
    def home(self) -> Path:
        return self.settings.home

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        clock = clock or Clock()
        settings.home.mkdir(parents=True, exist_ok=True)
        store = LocalStore(settings.home / "store.sqlite")
        ledger = CallLedger(settings.home / "ledger.sqlite")
        client = None
        if settings.uses_airtable:
            client = AirtableClient(
                settings.airtable_token,
                settings.base_ids,
                ledger=ledger,
                allowance=settings.airtable_monthly_calls,
                api_url=settings.airtable_api_url,
                clock=clock,
            )
        return cls(settings, store, ledger, client, clock)

    def close(self) -> None:
        self.store.close()
        self.ledger.close()
