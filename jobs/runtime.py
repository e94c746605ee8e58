"""What a command needs, built once from the settings: store, ledger, Airtable client, clock."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integrations.airtable import AirtableClient
from integrations.http import Clock
from integrations.ledger import CallLedger
from integrations.local import LocalStore
from integrations.slack import SlackClient
from jobs.effects import EffectQueue, Executor
from jobs.settings import Settings


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value (4 characters or more) replaced by ***."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class SecretFilter(logging.Filter):
    """Replaces every secret value in a log record with ***."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage(), self.secrets), ()
        return True


@dataclass
class Runtime:
    settings: Settings
    store: LocalStore
    ledger: CallLedger
    client: AirtableClient | None
    clock: Clock = field(default_factory=Clock)
    slack: SlackClient | None = None
    queue: EffectQueue | None = None
    crm: Any = None  # a jobs.crm_targets.CrmTarget, built on first use

    def crm_target(self) -> Any:
        """HubSpot, the webhook, the outbox (demo), or None for CRM=none."""
        if self.crm is None:
            from jobs.crm_targets import HubSpotTarget, OutboxTarget

            if self.settings.crm == "hubspot":
                from integrations.hubspot import HubSpotClient

                self.crm = HubSpotTarget(
                    HubSpotClient(
                        self.settings.hubspot_token,
                        api_url=self.settings.hubspot_api_url,
                        api_version=self.settings.hubspot_api_version,
                        sleep=self.clock.sleep,
                    )
                )
            elif self.settings.crm == "webhook":
                from jobs.crm_targets import WebhookTarget

                self.crm = WebhookTarget(self.settings.crm_webhook_url, clock=self.clock)
            elif self.settings.crm == "outbox":
                self.crm = OutboxTarget(self.settings.home)
        return self.crm

    def effects(self) -> EffectQueue:
        if self.queue is None:
            self.queue = EffectQueue(self.settings.home / "effects.sqlite")
        return self.queue

    def executors(self) -> dict[str, Executor]:
        """Real executors where credentials are set, the outbox elsewhere."""
        from jobs.executors import AirtableExecutor, OutboxExecutor, SlackExecutor, StateExecutor
        from jobs.writeback import RecordWriter

        outbox = OutboxExecutor(self.settings.home, self.clock.now)
        return {
            "slack": SlackExecutor(self.slack) if self.slack is not None else outbox,
            "airtable": AirtableExecutor(RecordWriter(self.store, self.client)),
            "state": StateExecutor(self.store),
            "email": self._email_executor(outbox),
            "crm": self._crm_executor(outbox),
        }

    def _email_executor(self, outbox: Executor) -> Executor:
        if not self.settings.smtp_host:
            return outbox
        from integrations.smtp import SmtpSender
        from jobs.intros import EmailExecutor

        s = self.settings
        return EmailExecutor(
            SmtpSender(
                s.smtp_host,
                s.smtp_port,
                user=s.smtp_user,
                password=s.smtp_password,
                starttls=s.smtp_starttls,
                local_hostname=socket.gethostname(),  # not getfqdn(): a reverse lookup can hang offline
            )
        )

    def _crm_executor(self, outbox: Executor) -> Executor:
        from jobs.referrals import CrmExecutor
        from jobs.writeback import RecordWriter

        target = self.crm_target()
        return (
            outbox
            if target is None
            else CrmExecutor(target, self.store, RecordWriter(self.store, self.client), self.clock.now)
        )

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
        slack = None
        if settings.slack_bot_token:
            slack = SlackClient(settings.slack_bot_token, api_url=settings.slack_api_url, sleep=clock.sleep)
        return cls(settings, store, ledger, client, clock, slack)

    def close(self) -> None:
        if self.queue is not None:
            self.queue.close()
        self.store.close()
        self.ledger.close()
