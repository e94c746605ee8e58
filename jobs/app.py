"""What a command works with, built once from the settings: the store, the call ledger, the effect
queue, the clients of the outside systems, the CRM target and the executors.

Where a credential is missing the outbox stands in (SLACK_BOT_TOKEN, SMTP_HOST, the demo's CRM);
without AIRTABLE_TOKEN the local store is the data. A dry run works on copies of the store and
the queue (:meth:`App.dry_copy`), so every job sees what the jobs before it would have changed,
and nothing is sent or written anywhere.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from integrations.airtable import AirtableClient
from integrations.http import Clock
from integrations.hubspot import HubSpotClient
from integrations.ledger import CallLedger
from integrations.slack import SlackClient
from integrations.smtp import SmtpSender
from jobs.apply.airtable import AirtableExecutor
from jobs.apply.archive import ArchiveExecutor
from jobs.apply.crm import CrmExecutor
from jobs.apply.crm_targets import CrmTarget, HubSpotTarget, OutboxTarget, WebhookTarget
from jobs.apply.drain import Executor
from jobs.apply.dry import DryRun
from jobs.apply.email import EmailExecutor
from jobs.apply.outbox import OutboxExecutor
from jobs.apply.queue import EffectQueue
from jobs.apply.slack import SlackExecutor
from jobs.apply.state import StateExecutor
from jobs.apply.writer import RecordWriter
from jobs.settings import Settings
from jobs.store.local import LocalStore

log = logging.getLogger(__name__)

STORE, LEDGER, QUEUE = "store.sqlite", "ledger.sqlite", "effects.sqlite"
ARCHIVE = "archive"  # the archive files, one CSV per table (see jobs/apply/archive.py)


def crm_target(settings: Settings, clock: Clock) -> CrmTarget | None:
    """HubSpot, the webhook, the outbox (the demo), or None for CRM=none."""
    if settings.crm == "hubspot":
        client = HubSpotClient(
            settings.hubspot_token,
            api_url=settings.hubspot_api_url,
            api_version=settings.hubspot_api_version,
            sleep=clock.sleep,
        )
        return HubSpotTarget(client)
    if settings.crm == "webhook":
        return WebhookTarget(settings.crm_webhook_url, clock=clock)
    if settings.crm == "outbox":
        return OutboxTarget(settings.home)
    return None


def smtp_sender(settings: Settings) -> SmtpSender | None:
    if not settings.smtp_host:
        return None
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        local_hostname=socket.gethostname(),  # not getfqdn(): a reverse lookup can hang offline
    )


@dataclass
class App:
    settings: Settings
    clock: Clock
    store: LocalStore
    ledger: CallLedger
    queue: EffectQueue
    airtable: AirtableClient | None = None
    slack: SlackClient | None = None
    crm: CrmTarget | None = None
    smtp: SmtpSender | None = None
    dry: DryRun | None = None  # set on a dry run's copy: effects are recorded, not carried out
    _executors: dict[str, Executor] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> App:
        clock = clock or Clock()
        home = settings.home
        home.mkdir(parents=True, exist_ok=True)
        ledger = CallLedger(home / LEDGER)
        airtable = None
        if settings.uses_airtable:
            airtable = AirtableClient(
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
        return cls(
            settings=settings,
            clock=clock,
            store=LocalStore(home / STORE),
            ledger=ledger,
            queue=EffectQueue(home / QUEUE),
            airtable=airtable,
            slack=slack,
            crm=crm_target(settings, clock),
            smtp=smtp_sender(settings),
        )

    @property
    def home(self) -> Path:
        return self.settings.home

    def now(self) -> datetime:
        """The run's clock (``--now``), read through the app so a moved clock is seen everywhere."""
        return self.clock.now()

    def writer(self) -> RecordWriter:
        return RecordWriter(self.store, self.airtable, self.now)

    def executors(self) -> dict[str, Executor]:
        """Real executors where credentials are set, the outbox elsewhere; a dry run's recorder."""
        if self._executors is None:
            self._executors = self._build_executors()
        return self._executors

    def _build_executors(self) -> dict[str, Executor]:
        if self.dry is not None:
            return self.dry.executors(RecordWriter(self.store, None, self.now), StateExecutor(self.store))
        outbox = OutboxExecutor(self.home, self.now)
        writer = self.writer()
        return {
            "slack": SlackExecutor(self.slack) if self.slack is not None else outbox,
            "airtable": AirtableExecutor(writer, self.settings.airtable_record_cap),
            "state": StateExecutor(self.store),
            "email": EmailExecutor(self.smtp) if self.smtp is not None else outbox,
            "crm": CrmExecutor(self.crm, self.store, writer, self.now) if self.crm is not None else outbox,
            "archive": ArchiveExecutor(self.home / ARCHIVE),
        }

    def dry_copy(self) -> App:
        """The same program on copies of the store and the queue, with effects only recorded."""
        folder = Path(tempfile.mkdtemp(prefix="partnerops-dry-"))
        for name in (STORE, QUEUE):
            _copy_sqlite(self.home / name, folder / name)
        return App(
            settings=self.settings,
            clock=self.clock,
            store=LocalStore(folder / STORE),
            ledger=self.ledger,
            queue=EffectQueue(folder / QUEUE),
            airtable=self.airtable,
            slack=self.slack,
            crm=self.crm,
            smtp=self.smtp,
            dry=DryRun(),
        )

    def close(self) -> None:
        self.queue.close()
        self.store.close()
        self.ledger.close()


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite file (the backup API; a missing file gives an empty one)."""
    src = sqlite3.connect(str(source))
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
