"""A partner whose Email a manager corrects stays the same partner. Pure.

Referrals and Members records name partners by e-mail (SPEC §2). When a manager corrects a
partner's Email, the referrals they sent and their Members records still carry the old one: read
literally, the partner would lose their referrals (a wrong Stale score, a removal) and look new to
the circles (a second invite, a second welcome). So the program remembers every e-mail each
Partners record has had, and reads an old e-mail as the record's current one — unless another
partner has it now, or several records had it. A Members record follows (its Partner Email is
rewritten: a job field); referrals are never rewritten (their Partner Email is the form's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bases.fields import MemberF, MemberStatus, ReferralF
from bases.records import Cell, Record, normalize_email
from bases.rows import PartnerRow
from jobs.plan import CellUpdate, Effect, RecordRef

#: where the e-mails each Partners record has had are kept (record id → e-mails, oldest first)
EMAILS = "partners:emails"
Seen = dict[str, list[str]]


def remembered(partners: Sequence[Record], seen: Mapping[str, Sequence[str]]) -> Seen:
    """What to remember now: each current record's e-mails so far, and its current one."""
    out: Seen = {}
    for rec in partners:
        row = PartnerRow.of(rec)
        past = [str(e) for e in seen.get(rec.id, [])]
        if row.email and row.email not in past:
            past.append(row.email)
        if past:
            out[rec.id] = past
    return out


def old_to_current(partners: Sequence[Record], seen: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Old e-mail → the current e-mail of the one record that had it, where nobody has it now."""
    current = {rec.id: PartnerRow.of(rec).email for rec in partners}
    taken = {e for e in current.values() if e}
    owners: dict[str, set[str]] = {}
    for rid, emails in seen.items():
        now = current.get(rid)
        for old in emails:
            if now and old != now and old not in taken:
                owners.setdefault(old, set()).add(now)
    return {old: next(iter(now)) for old, now in owners.items() if len(now) == 1}


def _email(value: object) -> str:
    return normalize_email(value) if isinstance(value, str) else ""


def _with(rec: Record, name: str, value: str) -> Record:
    return Record(rec.id, rec.created_time, {**rec.fields, name: value})


def referrals_as_partners_now(referrals: Iterable[Record], moved: Mapping[str, str]) -> list[Record]:
    """The referrals as the rules should read them: an old partner e-mail read as the current one."""
    out = []
    for rec in referrals:
        now = moved.get(_email(rec.get(ReferralF.PARTNER_EMAIL)))
        out.append(_with(rec, ReferralF.PARTNER_EMAIL, now) if now else rec)
    return out


def members_following(members: Sequence[Record], moved: Mapping[str, str]) -> tuple[list[Record], dict[str, str]]:
    """The Members records as the rules should read them, and record id → the e-mail to write:
    a live record of an old e-mail follows the partner, unless their circle has one already."""
    live = (MemberStatus.ACTIVE, MemberStatus.PENDING_INVITE)

    def circle(rec: Record) -> str:
        links = rec.get(MemberF.CIRCLE)
        return str(links[0]) if isinstance(links, list) and links else ""

    have = {(circle(r), _email(r.get(MemberF.PARTNER_EMAIL))) for r in members if r.get(MemberF.STATUS) in live}
    out, follow = [], {}
    for rec in members:
        now = moved.get(_email(rec.get(MemberF.PARTNER_EMAIL)))
        if now and rec.get(MemberF.STATUS) in live and (circle(rec), now) not in have:
            follow[rec.id] = now
            have.add((circle(rec), now))
            rec = _with(rec, MemberF.PARTNER_EMAIL, now)
        out.append(rec)
    return out, follow


def follow_effects(follow: Mapping[str, str]) -> list[Effect]:
    """The Members records' Partner Email rewritten to the partner's corrected e-mail."""
    effects = []
    for rid, email in sorted(follow.items()):
        cells: dict[str, Cell] = {MemberF.PARTNER_EMAIL: email}
        effects.append(
            Effect(
                f"member-follows:{rid}:{email}",
                CellUpdate(MemberF.BASE, MemberF.TABLE, rid, cells),
                email,
                f"Members: {rid} follows the partner's corrected e-mail {email}",
                source=RecordRef(MemberF.BASE, MemberF.TABLE, rid),
            )
        )
    return effects
