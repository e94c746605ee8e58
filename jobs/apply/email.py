"""E-mail effects: the queued message, sent over SMTP at most once.

SMTP cannot be asked afterwards whether a message arrived, so an e-mail whose outcome is
unknown (the connection broke while the message was handed over) is never sent again; it is
reported for a person to check. A refused partner address is a failure even when the Cc was
accepted: the partner did not get the introduction.
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses

from integrations.smtp import SmtpError, SmtpSender
from jobs.apply.drain import EffectFailed, Result
from jobs.plan import Effect, EmailSend


class EmailExecutor:
    def __init__(self, sender: SmtpSender) -> None:
        self.sender = sender

    def run(self, effect: Effect) -> Result:
        if not isinstance(effect.payload, EmailSend):
            raise EffectFailed(f"SMTP cannot carry out {effect.kind}")
        msg = BytesParser(policy=policy.SMTP).parsebytes(effect.payload.eml.encode())
        try:
            refused = self.sender.send(msg)
        except SmtpError as exc:
            what = "the mail server did not confirm it" if exc.outcome_unknown else "it was not sent"
            raise EffectFailed.of(exc, what) from None
        to = {addr.lower() for _name, addr in getaddresses([str(v) for v in msg.get_all("To") or []])}
        lost = {addr: reply for addr, reply in refused.items() if addr.lower() in to}
        if lost:
            detail = "; ".join(f"{a}: {code} {text}" for a, (code, text) in lost.items())
            raise EffectFailed(
                f"the mail server refused the partner's address ({detail}); the contact in Cc got it, "
                "the partner did not"
            )
        return {"refused": {k: [v[0], v[1]] for k, v in refused.items()}}

    def reconcile(self, effect: Effect, started_at: datetime) -> Result | None:
        return None  # SMTP cannot be asked; the queue reports it instead of resending
