"""The jobs of a cycle, in the order they run, with what each reads, plans, costs and trusts.

``sync`` comes first and is its own runner (it *is* I/O: Airtable into the store); every other
job is read → plan → apply through :func:`jobs.schedule.runner.run_job`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from bases.fields import ReferralF
from jobs.app import App
from jobs.plan import Plan
from jobs.rules.aliases import follow_effects
from jobs.rules.circles import CircleInputs, plan_circles_effects
from jobs.rules.digest import DigestInputs, plan_digest
from jobs.rules.health import plan_health
from jobs.rules.intros import new_intros, plan_intros
from jobs.rules.referrals import plan_referrals
from jobs.rules.stages import plan_stages
from jobs.schedule import inputs
from jobs.schedule.runner import Job, Runnable

ORDER = ["sync", "health", "circles", "referrals", "stages", "intros", "digest"]

# What each job trusts. ``fields``: what it reads (a field it writes and reads back counts here):
# renamed, deleted, retyped, missing or short of an option, it stops the job. ``writes``: what it
# only writes: renamed, deleted, retyped or short of an option, it stops the job too; a field the
# base never had (a newer template's, not added yet) is written around. Sync Notes is neither: the
# run summary says what it would have said.
_PARTNER_READS = ("Partners.Email",)
_REFERRAL_READS = ("Referrals.Direction", "Referrals.Partner Email", "Referrals.Status")
_WHO = ("Partners.Name", "Partners.Owner", "Partners.Slack User ID", "Partners.Do Not Message")


def _health_estimate(app: App, now: datetime) -> int:
    """One write per 10 partners whose cells change (0 offline)."""
    if app.airtable is None:
        return 0
    return math.ceil(len(plan_health(inputs.read_health(app, now)).effects) / 10)


def _referrals_estimate(app: App, now: datetime) -> int:
    """One write per referral that may be pushed (its cells and the CRM's answer in one write);
    registration-only changes go 10 records a call."""
    if app.airtable is None:
        return 0
    waiting = [
        r
        for r in app.store.all(ReferralF.BASE, ReferralF.TABLE)
        if r.get(ReferralF.DIRECTION) == "From partner"
        and (
            r.get(ReferralF.STATUS) in (None, "", "New")
            or (r.get(ReferralF.STATUS) == "Accepted" and not r.get(ReferralF.CRM_ID))
        )
    ]
    return max(1, len(waiting) if app.crm is not None else math.ceil(len(waiting) / 10))


def _intros_estimate(app: App, now: datetime) -> int:
    """Two writes per intro (the claim, then Introduced)."""
    return 0 if app.airtable is None else 2 * len(new_intros(app.store.all(ReferralF.BASE, ReferralF.TABLE)))


def _plan_circles(read: CircleInputs) -> Plan:
    """The circles plan; first, the Members records that follow a partner's corrected e-mail."""
    plan = plan_circles_effects(read)
    follow = read.follow if isinstance(read, inputs.CirclesRead) else {}
    plan.effects[:0] = follow_effects(follow)
    plan.story[:0] = [
        f"Members record {rid} now names {email} (the partner's Email was corrected)"
        for rid, email in sorted(follow.items())
    ]
    return plan


def _small(calls: int) -> Callable[[App, datetime], int]:
    def estimate(app: App, now: datetime) -> int:
        return 0 if app.airtable is None else calls

    return estimate


HEALTH = Job(
    "health",
    inputs.read_health,
    plan_health,
    _health_estimate,
    fields=(
        *_PARTNER_READS,
        *_REFERRAL_READS,
        "Referrals.Intro Sent At",
        "Partners.Joined On",
        "Partners.Stage",
        "Partners.Health Score",
        "Partners.Health Band",
        "Partners.Band Changed On",
        "Activities.Partner",
        "Activities.Date",
    ),
    writes=(
        "Partners.Previous Band",
        "Partners.Last Referral On",
        "Partners.First Referral On",
        "Partners.Referrals 90d",
        "Partners.Won Referrals",
        "Partners.Health Detail",
        "Partners.Referrals Given",
        "Partners.Last Given On",
    ),
)
CIRCLES = Job(
    "circles",
    inputs.read_circles,
    _plan_circles,
    _small(3),
    fields=(
        *_PARTNER_READS,
        *_WHO,
        *_REFERRAL_READS,
        "Partners.Health Score",
        "Partners.Last Referral On",
        "Partners.Circle Override",
        "Activities.Partner",
        "Activities.Date",
        "Circles.Name",
        "Circles.Slack Channel ID",
        "Circles.Enter Score",
        "Circles.Leave Score",
        "Circles.Stale After Days",
        "Circles.Max Members",
        "Circles.Perks",
        "Circles.Active",
        "Members.Circle",
        "Members.Partner Email",
        "Members.Status",
        "Members.Joined On",
        "Members.Removed On",
    ),
    writes=("Members.Member", "Members.Reason"),
    after=("health",),
)
REFERRALS = Job(
    "referrals",
    inputs.read_referrals,
    plan_referrals,
    _referrals_estimate,
    fields=(
        *_PARTNER_READS,
        *_WHO,
        *_REFERRAL_READS,
        "Partners.Company",
        "Referrals.Referral",
        "Referrals.Company",
        "Referrals.Company Domain",
        "Referrals.Contact Name",
        "Referrals.Contact Email",
        "Referrals.Notes",
        "Referrals.Attribution",
        "Referrals.Conflict With",
        "Referrals.Expires On",
        "Referrals.CRM ID",
    ),
    writes=("Referrals.CRM Pushed At", "Referrals.CRM Stage"),
)
STAGES = Job(
    "stages",
    inputs.read_stages,
    plan_stages,
    _small(2),
    fields=(*_PARTNER_READS, *_WHO, *_REFERRAL_READS, "Referrals.CRM ID", "Referrals.CRM Stage", "Referrals.Amount"),
)
INTROS = Job(
    "intros",
    inputs.read_intros,
    plan_intros,
    _intros_estimate,
    fields=(
        *_PARTNER_READS,
        *_WHO,
        *_REFERRAL_READS,
        "Partners.Company",
        "Referrals.Referral",
        "Referrals.Company",
        "Referrals.Contact Name",
        "Referrals.Contact Email",
        "Referrals.Notes",
        "Referrals.Intro Sent At",
    ),
)

RULE_JOBS: tuple[Runnable, ...] = (HEALTH, CIRCLES, REFERRALS, STAGES, INTROS)


def digest_job(projected: Callable[[App, datetime], int]) -> Job[DigestInputs]:
    """The weekly managers' digest (SPEC §8): reads only the store, costs no Airtable call.

    ``projected`` gives the month's projected Airtable calls for its capacity line; it is the
    budget plan's (:func:`jobs.schedule.tiers.make_plan`), passed in because the tiers import
    this registry. It trusts no particular field: a manager's view shows what is there.
    """

    def read(app: App, now: datetime) -> DigestInputs:
        return inputs.read_digest(app, now, projected)

    return Job("digest", read, plan_digest, _small(0))
