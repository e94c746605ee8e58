"""What the managers' channel hears from the runner: each distinct problem once.

A job stopped by a broken field, an effect Slack, the mail server, the CRM or Airtable refused
for good, a circle held back by its settings: each becomes one post to ``SLACK_MANAGER_CHANNEL``
whose effect key is a fingerprint of the problem, so the queue posts it once (until done
effects are pruned after 90 days), however many runs meet the same problem. The post goes out
at once and alone: it never carries out other queued effects (a stopped job's leftovers wait).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from integrations.slack_format import escape_block
from jobs.app import App
from jobs.apply.drain import DrainReport
from jobs.plan import ChannelPost, Effect, fingerprint
from jobs.refused import drain_for

log = logging.getLogger(__name__)

JOB = "managers"  # the queue's job name for these posts
KEY = "managers-note:"
SHOWN = 5  # effects named in one post; the rest are counted


@dataclass(frozen=True)
class Notice:
    """One problem for the managers: ``problem`` identifies it, ``text`` says it."""

    problem: str
    text: str


def stopped(job: str, problems: Sequence[str]) -> Notice:
    """A job the runner did not run because Airtable's fields cannot be trusted."""
    what = "\n".join(problems)
    text = (
        f"partnerops stopped *{job}* (and every job that reads what it writes): nothing is written or "
        f"sent on the basis of a field that cannot be trusted.\n{escape_block(what)}\n"
        "It runs again by itself once this is fixed in Airtable."
    )
    return Notice(f"stopped:{what}", text)


def refused(job: str, why: str, describes: Sequence[str]) -> Notice:
    """Effects of one job that failed for the same reason, for good (or with an unknown outcome)."""
    names = sorted(set(describes))
    shown = ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
    text = (
        f"partnerops ({job}) could not do this: {escape_block(shown)}\n"
        f"Why: {escape_block(why)}\n"
        "It is not tried again every run; the records concerned say so in their Sync Notes."
    )
    return Notice(f"refused:{job}:{why}:{names}", text)


def failing(job: str, key: str, describe: str, why: str) -> Notice:
    """An effect that keeps failing (tried every run): one problem however its words vary (a
    receiver's answer may carry a request id), until it is done."""
    text = (
        f"partnerops ({job}) keeps failing to do this: {escape_block(describe)}\n"
        f"Why: {escape_block(why)}\n"
        "It is tried again every run; the record concerned says so in its Sync Notes."
    )
    return Notice(f"failing:{job}:{key}", text)


def problem(job: str, text: str) -> Notice:
    """A problem a job's plan reported that is not about one effect (a circle's settings, …)."""
    return Notice(f"problem:{job}:{text}", escape_block(f"partnerops ({job}): {text}"))


def _effect(app: App, notice: Notice) -> Effect:
    post = ChannelPost(app.settings.slack_manager_channel, notice.text)
    return Effect(f"{KEY}{fingerprint(notice.problem)}", post, "managers", "tell the managers: " + notice.problem[:80])


def tell(app: App, notices: Sequence[Notice], now: datetime, say: Callable[[str], None]) -> DrainReport:
    """Post each notice not posted before (nothing without a managers' channel)."""
    if not app.settings.slack_manager_channel or not notices:
        return DrainReport()
    effects = list({e.key: e for e in (_effect(app, n) for n in notices)}.values())
    app.queue.enqueue(effects, now, JOB)
    keys = {e.key for e in effects}
    report = drain_for(app, say, lambda q: q.effect.key in keys)
    for why in report.failed.values():
        log.warning("the managers' channel could not be told: %s", why)
    return report
