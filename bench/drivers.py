"""Two ways to run the program through the simulated month, on the fakes' clock.

* :class:`InProcess` — the real scheduler's ``tick`` in this process, woken exactly when it says
  the next run is due (as ``partnerops run`` does);
* :class:`CommandLine` — ``python -m jobs run --once --now <t>`` as a subprocess per wake-up, its
  state in PARTNEROPS_HOME between runs, exactly as under cron: woken at the minute its output
  names as the next run (cron's resolution is a minute), and a minute later when that minute
  turns out early.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from integrations.http import Clock
from integrations.ledger import CallLedger
from jobs.app import LEDGER
from jobs.app import App as Runtime
from jobs.commands.budget import cmd_budget
from jobs.schedule.tiers import tick
from jobs.settings import BASE_VARS, Settings
from tests.fakes.airtable import FakeClock

ROOT = Path(__file__).resolve().parent.parent
NEXT_DUE = re.compile(r"next run due (\d{4}-\d\d-\d\d \d\d:\d\d) ")


class Driver(Protocol):
    #: wake-ups that reported a failure (exit code 1: a record needs a fix, an effect failed)
    failed_runs: int

    def tick(self, now: datetime) -> datetime | None:
        """Run what is due at ``now``; when to wake next (None: not known)."""

    def budget(self, now: datetime) -> str: ...

    def ledger(self) -> CallLedger: ...

    def close(self) -> None: ...


class InProcess:
    def __init__(self, settings: Settings, clock: FakeClock) -> None:
        self.settings = settings
        self.rt = Runtime.open(settings, Clock(time=clock.time, sleep=clock.sleep, now=clock.now))
        self.failed_runs = 0

    def tick(self, now: datetime) -> datetime | None:
        report = tick(self.rt, now)
        self.failed_runs += not report.ok
        return report.next_due

    def budget(self, now: datetime) -> str:
        shown = io.StringIO()
        cmd_budget(self.settings, shown, now=now)
        return shown.getvalue()

    def ledger(self) -> CallLedger:
        return self.rt.ledger

    def close(self) -> None:
        self.rt.close()


def environment(s: Settings) -> dict[str, str]:
    """The settings as the variables an operator would put in `.env`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRTABLE_", "SLACK_", "HUBSPOT_", "SMTP_"))}
    env.update({var: s.base_ids[key] for key, var in BASE_VARS.items()})
    env.update(
        AIRTABLE_TOKEN=s.airtable_token,
        AIRTABLE_API_URL=s.airtable_api_url,
        AIRTABLE_MONTHLY_CALLS=str(s.airtable_monthly_calls),
        SLACK_BOT_TOKEN=s.slack_bot_token,
        SLACK_API_URL=s.slack_api_url,
        SLACK_MANAGER_CHANNEL=s.slack_manager_channel,
        CRM=s.crm,
        HUBSPOT_TOKEN=s.hubspot_token,
        HUBSPOT_API_URL=s.hubspot_api_url,
        REFERRAL_FORM_URL=s.referral_form_url,
        PARTNEROPS_HOME=str(s.home),
        TZ=s.tz,
    )
    return env


class CommandLine:
    def __init__(self, settings: Settings) -> None:
        self.settings = replace(settings)
        self.env = environment(settings)
        self.runs = 0
        self.failed_runs = 0

    def _partnerops(self, *args: str) -> str:
        command = [sys.executable, "-m", "jobs", "--env-file", "/nonexistent", *args]
        done = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=600)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        self.failed_runs += done.returncode == 1
        return done.stdout

    def tick(self, now: datetime) -> datetime | None:
        self.runs += 1
        out = self._partnerops("run", "--once", "--now", now.isoformat())
        found = NEXT_DUE.findall(out)
        if not found:
            return None
        named = datetime.fromisoformat(found[-1]).replace(tzinfo=self.settings.zone)
        return max(named, now.replace(second=0, microsecond=0) + timedelta(minutes=1))

    def budget(self, now: datetime) -> str:
        return self._partnerops("budget", "--now", now.isoformat())

    def ledger(self) -> CallLedger:
        return CallLedger(self.settings.home / LEDGER)

    def close(self) -> None:
        pass
