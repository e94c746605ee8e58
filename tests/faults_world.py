"""A small partner program against every fake at once, for fault and restore tests.

The fake Airtable (the three template bases, the change feed), the fake Slack, the fake HubSpot
(or a webhook receiver) and a local SMTP server, all over real HTTP on loopback, one simulated
clock. :class:`World` seeds a program whose first cycle does one write of every kind: health
scores (Airtable updates), a join (invite, a Members record made by upsert, a welcome, the
channel post), a partner not in Slack (a Members record, the managers' post), a leave (kick,
Members update, a removal message), an at-risk nudge, a new referral (deal, contact and
association in HubSpot, or a webhook POST; the receipt), a duplicate (its receipt) and a
To-partner referral (the claim, a Slack message, the intro e-mail, Introduced).

Traps arm a fake's own ``fail_next`` just before the first request that matches a predicate,
so a fault lands on the first write of one kind (a DM, not any ``chat.postMessage``; an upsert,
not any ``PATCH``). :meth:`World.tally` counts what reached the outside, per recipient.
"""

from __future__ import annotations

import email
import email.utils
import json
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
from aiosmtpd.controller import Controller

from integrations.airtable import AirtableClient
from integrations.http import Clock
from integrations.hubspot import HubSpotClient
from integrations.ledger import CallLedger
from integrations.slack import SlackClient
from integrations.smtp import SmtpSender
from jobs.app import LEDGER, QUEUE, STORE, App
from jobs.apply.crm_targets import REFERRAL_ID_PROPERTY, CrmTarget, HubSpotTarget, WebhookTarget
from jobs.apply.queue import EffectQueue
from jobs.plan import JobOutcome
from jobs.schedule.runner import Cycle, run_job
from jobs.schedule.tiers import cycle_jobs
from jobs.settings import Settings
from jobs.store.local import LocalStore
from tests.conftest import TOKEN, provision
from tests.fakes.airtable import FakeAirtable, FakeClock
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import Recorder, free_port
from tests.fakes.webhook import FakeReceiver

START = datetime(2026, 11, 17, 7, 0, tzinfo=timezone.utc)
CHANNEL, MANAGERS = "G0CIRCLE01", "C0MANAGERS"
SLACK_TOKEN, HUB_TOKEN = "xoxb-world-token", "pat-na1-world"
OWNER, FROM = "olivia@ourco.example", "partners@ourco.example"
ALMA, PETE, DORA, RIA, NORA = (f"{n}@partner.example" for n in ("alma", "pete", "dora", "ria", "nora"))
SHORT_TIMEOUT = 1  # seconds: for a test of time-outs (the fake Slack or the SMTP server answers later)
TIMEOUT = 10  # seconds: otherwise (a busy test machine is no fault)

Json = dict[str, Any]
Predicate = Callable[..., bool]


# --- the fakes, with traps ------------------------------------------------------------------------


@dataclass
class Trap:
    """Arms a fault just before the first request ``matches`` accepts (once)."""

    matches: Predicate
    arm: Callable[[], None]
    sprung: bool = False

    def check(self, *request: Any) -> None:
        if not self.sprung and self.matches(*request):
            self.sprung = True
            self.arm()


class TrappedSlack(FakeSlack):
    """The fake Slack, counting the invites and removals that changed a channel's members."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.traps: list[Trap] = []
        self.joined: Counter[str] = Counter()  # user id → times added to a channel
        self.removed: Counter[str] = Counter()

    def handle(self, method: str, params: Json, auth: str | None) -> Any:
        for trap in self.traps:
            trap.check(method, params)
        return super().handle(method, params, auth)

    def _invite(self, params: Json) -> Json:
        before = set(self.channels.get(str(params.get("channel")), {}).get("members", set()))
        out = super()._invite(params)
        self.joined.update(self.channels[str(params["channel"])]["members"] - before)
        return out

    def _kick(self, params: Json) -> Json:
        before = set(self.channels.get(str(params.get("channel")), {}).get("members", set()))
        out = super()._kick(params)
        self.removed.update(before - self.channels[str(params["channel"])]["members"])
        return out


class TrappedAirtable(FakeAirtable):
    def __init__(self, token: str, *, clock: FakeClock) -> None:
        super().__init__(token, clock=clock)
        self.traps: list[Trap] = []

    def _serve(self, req: Any) -> Any:
        for trap in self.traps:
            trap.check(req.method, req.path, req.body)
        return super()._serve(req)


class TrappedHubSpot(FakeHubSpot):
    def __init__(self, token: str, *, now: Callable[[], datetime]) -> None:
        super().__init__(token, now=now)
        self.traps: list[Trap] = []

    def _serve(self, request: Any) -> Any:
        for trap in self.traps:
            trap.check(request.method, request.path, request.body)
        return super()._serve(request)


@contextmanager
def late_answer(matches: Predicate) -> Iterator[list[Trap]]:
    """Requests-based clients (Airtable, HubSpot, the webhook): the first request ``matches``
    accepts (method, url, body) is sent and applied, then its answer never comes (a read time-out)."""
    original = requests.Session.request
    traps = [Trap(matches, lambda: None)]

    def request(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        response = original(self, method, url, *args, **kwargs)
        was = traps[0].sprung
        sent = kwargs.get("data") or json.dumps(kwargs.get("json") or {})
        traps[0].check(method.upper(), url, sent.encode() if isinstance(sent, str) else bytes(sent))
        if traps[0].sprung and not was:
            raise requests.ReadTimeout("read timed out (injected)")
        return response

    requests.Session.request = request  # type: ignore[method-assign]
    try:
        yield traps
    finally:
        requests.Session.request = original  # type: ignore[method-assign]


# --- the world ----------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What reached the outside."""

    dms: Counter[str]  # partner e-mail → direct messages
    posts: Counter[str]  # channel → channel posts
    keys: Counter[str]  # metadata key → messages carrying it
    emails: Counter[tuple[str, str]]  # (To, Subject) → e-mails received
    deals: Counter[str]  # referral id → deals (HubSpot) or distinct deliveries (webhook)
    invites: Counter[str]  # e-mail → times added to the circle channel
    kicks: Counter[str]
    members: Counter[str]  # partner e-mail → Members records

    def repeated(self) -> dict[str, Any]:
        """Everything that happened more than once (empty: nothing twice)."""
        out: dict[str, Any] = {}
        for name in ("keys", "emails", "deals", "invites", "kicks", "members"):
            many = {k: n for k, n in getattr(self, name).items() if n > 1}
            if many:
                out[name] = many
        return out


@dataclass
class World:
    tmp: Path
    clock: FakeClock
    air: TrappedAirtable
    slack: TrappedSlack
    hub: TrappedHubSpot
    recorder: Recorder
    smtp: Controller
    hook: FakeReceiver | None = None
    ids: dict[str, str] = field(default_factory=dict)
    rec: dict[str, str] = field(default_factory=dict)  # name → record id
    users: dict[str, str] = field(default_factory=dict)  # e-mail → Slack user id

    @property
    def home(self) -> Path:
        return self.tmp / "home"

    # seeding -----------------------------------------------------------------------------------

    def seed(self, ria: tuple[int, ...] = (40,)) -> None:
        """``ria``: how many days ago Ria's referrals came (one 40 days ago: at risk at once)."""
        self.ids = provision(self.air)
        self.clock.advance(2)
        for who, name in ((ALMA, "Alma Top"), (PETE, "Pete Pending"), (DORA, "Dora Gone"), (RIA, "Ria Risk")):
            self.rec[who] = self.partner(name, who)
        for who, days in ((ALMA, (3, 5, 7)), (PETE, (4, 6, 8)), (RIA, ria)):
            for i, ago in enumerate(days):
                self.settled_referral(who, ago, i)
            for i in range(2):
                self.activity(who, i)
        self.rec["circle"] = self.create(
            "circles",
            "Circles",
            {
                "Name": "Top Partners",
                "Slack Channel ID": CHANNEL,
                "Enter Score": 75,
                "Leave Score": 50,
                "Stale After Days": 90,
                "Perks": "First pick of our referrals",
                "Active": True,
            },
        )
        for who in (DORA, RIA):
            self.member(who)
        for who in (ALMA, DORA, RIA):
            self.users[who] = self.slack.add_user(who)
        self.slack.add_channel(CHANNEL, [self.users[DORA], self.users[RIA]])
        self.slack.add_channel(MANAGERS, private=False)
        self.rec["newco"] = self.referral("Newco — Nina", ALMA, "newco.example", "nina@newco.example", minutes=60)
        self.rec["dup"] = self.referral("Newco — Ned", ALMA, "newco.example", "ned@newco.example", minutes=30)
        self.rec["inbound"] = self.give("Inbound — Sam", ALMA, "inbound.example", "sam@inbound.example")

    def create(self, base: str, table: str, fields: Json, created: datetime | None = None) -> str:
        rid: str = self.air.ui_create(self.ids[base], table, fields, created=created or START - timedelta(days=400))
        return rid

    def partner(self, name: str, who: str) -> str:
        fields = {"Name": name, "Email": who, "Owner": OWNER, "Joined On": "2024-01-15", "Stage": "Active"}
        return self.create("partners", "Partners", fields)

    def activity(self, who: str, i: int) -> None:
        day = (START - timedelta(days=10 + i)).date().isoformat()
        self.create("partners", "Activities", {"Activity": f"call {i}", "Partner": [self.rec[who]], "Date": day})

    def new_partner(self, name: str, who: str, referral_days: tuple[int, ...]) -> None:
        """A partner added by a manager, with the referrals and activities they already had."""
        self.rec[who] = self.partner(name, who)
        for i, ago in enumerate(referral_days):
            self.settled_referral(who, ago, i)
        for i in range(2):
            self.activity(who, i)
        self.users[who] = self.slack.add_user(who)

    def settled_referral(self, who: str, days_ago: int, i: int) -> None:
        created = START - timedelta(days=days_ago)
        domain = f"{who.split('@')[0]}-old{i}.example"
        fields = {
            "Referral": f"Old {i} — {who}",
            "Direction": "From partner",
            "Partner Email": who,
            "Company": f"Old {i}",
            "Company Domain": domain,
            "Contact Email": f"buyer@{domain}",
            "Status": "In CRM",
            "Attribution": "Sourced",
            "CRM ID": f"old-{who}-{i}",
            "Expires On": (created + timedelta(days=120)).date().isoformat(),
        }
        self.create("referrals", "Referrals", fields, created)

    def member(self, who: str) -> None:
        fields = {
            "Member": f"Top Partners: {who}",
            "Circle": [self.rec["circle"]],
            "Partner Email": who,
            "Status": "Active",
            "Joined On": "2026-01-10",
        }
        self.rec[f"member:{who}"] = self.create("circles", "Members", fields)

    def referral(self, title: str, who: str, domain: str, contact: str, *, minutes: int = 0) -> str:
        """A From-partner referral, submitted through the form ``minutes`` before the clock's now."""
        fields = {
            "Referral": title,
            "Direction": "From partner",
            "Partner Email": who,
            "Company": title.split(" — ")[0],
            "Company Domain": domain,
            "Contact Name": title.split(" — ")[1],
            "Contact Email": contact,
        }
        return self.create("referrals", "Referrals", fields, self.clock.now() - timedelta(minutes=minutes))

    def give(self, title: str, who: str, domain: str, contact: str) -> str:
        """A To-partner referral a manager typed in (a lead for the partner)."""
        fields = {
            "Referral": title,
            "Direction": "To partner",
            "Partner Email": who,
            "Company": title.split(" — ")[0],
            "Company Domain": domain,
            "Contact Name": title.split(" — ")[1],
            "Contact Email": contact,
            "Notes": "Wants a partner for a relaunch",
        }
        return self.create("referrals", "Referrals", fields, self.clock.now())

    # the program -------------------------------------------------------------------------------

    def settings(self, crm: str = "hubspot") -> Settings:
        return Settings(
            airtable_token=TOKEN,
            base_ids=self.ids,
            airtable_api_url=self.air.url,
            slack_bot_token=SLACK_TOKEN,
            slack_api_url=self.slack.url,
            slack_manager_channel=MANAGERS,
            crm=crm,
            hubspot_token=HUB_TOKEN,
            hubspot_api_url=self.hub.url,
            crm_webhook_url=self.hook.url if self.hook else "",
            smtp_host="127.0.0.1",
            smtp_port=self.smtp.port,
            smtp_starttls=False,
            email_from=FROM,
            referral_form_url="https://forms.example/refer",
            home=self.home,
            digest_at=None,  # the weekly digest has its own restore and fault tests
        )

    def app(self, crm: str = "hubspot", timeout: int = TIMEOUT) -> App:
        """The program on the home, its clients on the fakes (``timeout``: Slack's and SMTP's)."""
        settings = self.settings(crm)
        self.home.mkdir(parents=True, exist_ok=True)
        clock = Clock(time=self.clock.time, sleep=self.clock.sleep, now=self.clock.now)
        ledger = CallLedger(self.home / LEDGER)
        target: CrmTarget
        if crm == "webhook":
            target = WebhookTarget(settings.crm_webhook_url, clock=clock)
        else:
            target = HubSpotTarget(HubSpotClient(HUB_TOKEN, api_url=self.hub.url, sleep=lambda _s: None))
        return App(
            settings=settings,
            clock=clock,
            store=LocalStore(self.home / STORE),
            ledger=ledger,
            queue=EffectQueue(self.home / QUEUE),
            airtable=AirtableClient(TOKEN, self.ids, ledger=ledger, allowance=5000, api_url=self.air.url, clock=clock),
            slack=SlackClient(SLACK_TOKEN, api_url=self.slack.url, timeout=timeout, sleep=lambda _s: None),
            crm=target,
            smtp=SmtpSender("127.0.0.1", self.smtp.port, starttls=False, timeout=timeout),
        )

    def cycle(self, app: App, only: list[str] | None = None) -> list[JobOutcome]:
        """One cycle of every job (or those named), at the clock's now."""
        now = self.clock.now()
        cycle = Cycle()
        return [run_job(app, job, now, cycle, lambda _m: None) for job in cycle_jobs(only)]

    def later(self, minutes: float) -> None:
        self.clock.advance(minutes * 60)

    # what reached the outside ---------------------------------------------------------------------

    def tally(self) -> Tally:
        by_user = {uid: who for who, uid in self.users.items()}
        dm_user = {cid: by_user.get(uid, uid) for uid, cid in self.slack.dms.items()}
        dms: Counter[str] = Counter()
        posts: Counter[str] = Counter()
        keys: Counter[str] = Counter()
        for m in self.slack.messages():
            channel = str(m.get("channel", ""))
            if channel in dm_user:
                dms[dm_user[channel]] += 1
            else:
                posts[channel] += 1
            key = (m.get("metadata") or {}).get("event_payload", {}).get("key")
            if key:
                keys[str(key)] += 1
        emails: Counter[tuple[str, str]] = Counter()
        for env in self.recorder.received:
            msg = email.message_from_bytes(env.content)
            emails[(str(msg["To"]), str(msg["Subject"]))] += 1
        return Tally(
            dms=dms,
            posts=posts,
            keys=keys,
            emails=emails,
            deals=self.deals(),
            invites=Counter({by_user.get(u, u): n for u, n in self.slack.joined.items()}),
            kicks=Counter({by_user.get(u, u): n for u, n in self.slack.removed.items()}),
            members=Counter(str(r["fields"].get("Partner Email")) for r in self.records("circles", "Members")),
        )

    def deals(self) -> Counter[str]:
        if self.hook is not None:
            # A receiver makes one deal per Idempotency-Key (the referral id); a repeated POST carries the same.
            keys = {(r.headers.get("Idempotency-Key"), r.body) for r in self.hook.requests}
            return Counter(str(k) for k, _body in keys)
        return Counter(str(d["properties"].get(REFERRAL_ID_PROPERTY)) for d in self.hub.deals())

    def records(self, base: str, table: str) -> list[Json]:
        out: list[Json] = self.air.records(self.ids[base], table)
        return out

    def fields(self, base: str, table: str, rid: str) -> Json:
        return next(dict(r["fields"]) for r in self.records(base, table) if r["id"] == rid)

    # the home ------------------------------------------------------------------------------------

    def snapshot(self, name: str) -> Path:
        """A consistent copy of PARTNEROPS_HOME as it is now (the SQLite backup API, as a backup script would)."""
        target = self.tmp / "copies" / name
        target.mkdir(parents=True)
        for path in self.home.iterdir():
            if path.suffix == ".sqlite":
                src, dst = sqlite3.connect(str(path)), sqlite3.connect(str(target / path.name))
                try:
                    src.backup(dst)
                finally:
                    dst.close()
                    src.close()
        return target

    def restore(self, copy: Path) -> None:
        """Replace PARTNEROPS_HOME by the copy (the program is not running)."""
        shutil.rmtree(self.home)
        shutil.copytree(copy, self.home)


@contextmanager
def world(tmp: Path, *, webhook: bool = False, ria: tuple[int, ...] = (40,)) -> Iterator[World]:
    clock = FakeClock(START - timedelta(minutes=5))
    recorder = Recorder()
    smtp = Controller(recorder, hostname="127.0.0.1", port=free_port(), ready_timeout=5)
    smtp.start()
    hook = FakeReceiver().start() if webhook else None
    try:
        with (
            TrappedAirtable(TOKEN, clock=clock) as air,
            TrappedSlack(SLACK_TOKEN) as slack,
            TrappedHubSpot(HUB_TOKEN, now=clock.now) as hub,
        ):
            w = World(tmp, clock, air, slack, hub, recorder, smtp, hook)
            w.seed(ria)
            w.clock.advance(5 * 60)
            yield w
    finally:
        smtp.stop()
        if hook is not None:
            hook.stop()


def on(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)
