"""The `intros` job: give a referral to a partner (SPEC §5, "To partner").

A New To-partner record produces, once ever: a Slack message to the partner, an intro e-mail
to the partner with the referred contact in Cc (jobs/templates/intro_email.txt.j2), then Status
Introduced and Intro Sent At. All three are queued together; the e-mail is never sent twice —
a run killed while sending it leaves it *unknown*, reported for a human to check, not resent.
Do Not Message partners get the e-mail (a manager chose to give them this lead) but no Slack
message.
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from bases.records import Record, format_datetime, is_email, parse_fields
from bases.schema import table_def
from integrations.smtp import SmtpError, SmtpSender, build_intro, render_text, safe_header, split_subject
from jobs.effects import ApplyReport, Effect, EffectFailed, Progress, apply, cell_update, digest, start
from jobs.messages import TEMPLATES, first_name, render
from jobs.partners import partner_by_email, slack_user

REFERRALS = table_def("referrals", "Referrals")
OUTBOX_SENDER = "partners@outbox.invalid"


def is_new_intro(record: Record) -> bool:
    return (
        record.get("Direction") == "To partner"
        and record.get("Status") in (None, "", "New")
        and not record.get("Intro Sent At")
    )


def _problems(record: Record, partner: Record | None) -> list[str]:
    parsed = parse_fields(REFERRALS, record.fields)
    notes = [str(p) for p in parsed.problems]
    email = str(record.get("Partner Email", ""))
    if partner is None and is_email(email):
        notes.append(f"Partner Email {email} is not a partner in the Partners base; fix the e-mail or add the partner")
    contact = str(record.get("Contact Email", ""))
    if not contact:
        notes.append("Contact Email is empty; the intro e-mail needs the contact's address for Cc")
    return notes


def _email(rt: Any, record: Record, partner: Record, now: datetime) -> str:
    sender = rt.settings.email_from or OUTBOX_SENDER
    text = render_text(
        TEMPLATES / "intro_email.txt.j2",
        partner_first_name=first_name(str(partner.get("Name", ""))),
        contact_name=safe_header(str(record.get("Contact Name", ""))),
        contact_email=str(record.get("Contact Email", "")),
        company=safe_header(str(record.get("Company", ""))),
        notes=str(record.get("Notes", "")),
        sender_name="The partner team",
    )
    subject, body = split_subject(text)
    msg = build_intro(
        sender=sender,
        sender_name="Partner team",
        to_name=str(partner.get("Name", "")),
        to_email=str(partner.get("Email", "")),
        cc_name=str(record.get("Contact Name", "")),
        cc_email=str(record.get("Contact Email", "")),
        subject=subject,
        body=body,
        message_id_key=f"intro:{record.id}",
        domain=sender.split("@", 1)[1],
        now=now,
    )
    return msg.as_string(policy=policy.SMTP)


def plan_intro(rt: Any, record: Record, now: datetime) -> tuple[list[Effect], str | None]:
    """The effects of one intro, or a Sync Notes text saying what a manager must fix."""
    partner = partner_by_email(rt.store, str(record.get("Partner Email", "")))
    problems = _problems(record, partner)
    if problems or partner is None:
        return [], "\n".join(problems)
    try:
        eml = _email(rt, record, partner, now)
    except ValueError as exc:
        return [], f"The intro e-mail cannot be built: {exc}"
    group = f"intro:{record.id}"
    name = str(record.get("Referral", record.id))
    effects = []
    user = slack_user(rt.slack, partner)
    if user and not partner.get("Do Not Message"):
        text = render(
            "intro_dm",
            first_name=first_name(str(partner.get("Name", ""))),
            contact_name=str(record.get("Contact Name", "")),
            company=str(record.get("Company", "")),
            notes=str(record.get("Notes", "")),
            contact_email=str(record.get("Contact Email", "")),
        )
        effects.append(
            Effect(
                f"intro-dm:{record.id}",
                "slack.dm",
                str(partner.get("Email")),
                {"email": partner.get("Email"), "user_id": user, "text": text},
                f"Slack: referral {name} to {partner.get('Name')}",
                group=group,
            )
        )
    effects.append(
        Effect(
            f"intro-email:{record.id}",
            "email.send",
            str(partner.get("Email")),
            {"eml": eml},
            f"intro e-mail for {name}",
            repeatable=False,
            group=group,
        )
    )
    effects.append(
        cell_update(
            f"intro-done:{record.id}",
            "referrals",
            "Referrals",
            record.id,
            {"Status": "Introduced", "Intro Sent At": format_datetime(now), "Sync Notes": ""},
            f"mark {name} Introduced",
            group=group,
        )
    )
    return effects, None


def run_intros(rt: Any, now: datetime, dry_run: bool, progress: Progress) -> Any:
    from jobs.cycle import JobOutcome

    leftovers = start(rt, progress) if not dry_run else ApplyReport()
    effects: list[Effect] = []
    # Sync Notes of intros that cannot go out yet, queued last: written together, with the last Introduced.
    notes_effects: list[Effect] = []
    fixes: list[str] = []
    intros = 0
    for record in rt.store.all("referrals", "Referrals"):
        if not is_new_intro(record):
            continue
        planned, notes = plan_intro(rt, record, now)
        if notes is not None:
            fixes.append(f"{record.get('Referral', record.id)}: {notes.splitlines()[0]}")
            if notes != record.get("Sync Notes"):
                notes_effects.append(
                    cell_update(
                        f"intro-notes:{record.id}:{digest(notes)}",
                        "referrals",
                        "Referrals",
                        record.id,
                        {"Sync Notes": notes},
                        "Sync Notes of an intro",
                    )
                )
            continue
        effects += planned
        intros += 1
    effects += notes_effects
    if dry_run:
        lines = [f"would {e.describe}" for e in effects] + [f"needs a fix: {f}" for f in fixes]
        return JobOutcome("intros", "planned", "\n".join(lines) or "no new referral to give")
    applied = apply(rt, effects, leftovers, progress)
    report = applied.report
    failures = [*applied.failures, *fixes]
    sent = sum(1 for e in report.done if e.kind == "email.send")
    return JobOutcome(
        "intros", "done", f"{intros} referral(s) given to partners, {sent} intro e-mail(s) sent", failures
    )


def intros_estimate(rt: Any, now: datetime) -> int:
    if rt.client is None:
        return 0
    return sum(1 for r in rt.store.all("referrals", "Referrals") if is_new_intro(r))


class EmailExecutor:
    """Sends the queued .eml over SMTP (STARTTLS by default)."""

    def __init__(self, sender: SmtpSender) -> None:
        self.sender = sender

    def run(self, effect: Effect) -> dict[str, Any]:
        msg = BytesParser(policy=policy.SMTP).parsebytes(str(effect.payload["eml"]).encode())
        try:
            refused = self.sender.send(msg)
        except SmtpError as exc:
            if exc.outcome_unknown:
                # The server may have accepted it: at most once, so it counts as sent.
                return {"outcome": "unknown", "why": str(exc)}
            raise EffectFailed(f"e-mail not sent: {exc}", permanent=exc.permanent) from None
        return {"refused": {k: list(v) for k, v in (refused or {}).items()}}

    def reconcile(self, effect: Effect, started_at: datetime) -> dict[str, Any] | None:
        return None  # SMTP cannot be asked; the queue reports it instead of resending


def eml_path(home: Path) -> Path:
    return home / "outbox" / "email"
