"""The lines `partnerops check` and `partnerops bases check` print: ok, WARN, FAIL with the fix.

Every line goes through :func:`jobs.tokens.hide_secrets`, so no token is ever printed back, and a
failure always says what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from integrations.errors import ServiceError
from jobs.tokens import hide_secrets

PASS, FAIL, WARN = "ok  ", "FAIL", "WARN"


@dataclass
class Checklist:
    out: TextIO
    secrets: list[str] = field(default_factory=list)
    failures: int = 0
    warnings: int = 0

    def _print(self, mark: str, text: str) -> None:
        print(f"{mark} {hide_secrets(text, self.secrets)}", file=self.out)

    def ok(self, text: str) -> None:
        self._print(PASS, text)

    def warn(self, text: str, fix: str = "") -> None:
        self.warnings += 1
        self._print(WARN, f"{text}. Fix: {fix}" if fix else text)

    def fail(self, what: str, why: str, fix: str) -> None:
        """``what``: the thing checked; ``why``: what is wrong, in plain words; ``fix``: what to do."""
        self.failures += 1
        self._print(FAIL, f"{what}: {why}. Fix: {fix}")

    def fail_line(self, line: str) -> None:
        """A failure already worded with its fix (a schema difference)."""
        self.failures += 1
        self._print(FAIL, line)

    def summary(self) -> str:
        if self.failures:
            return f"{self.failures} check(s) failed"
        return "all checks passed" + (f", {self.warnings} warning(s)" if self.warnings else "")


def no_answer(exc: ServiceError) -> str:
    """Why a service did not answer, in plain words (never a bare exception name)."""
    text = f"{exc.code} {exc.message}".lower()
    if "timeout" in text or "timed out" in text:
        return "it did not answer in time"
    if "gaierror" in text or "name or service" in text or "resolve" in text:
        return "its host name does not resolve"
    if "refused" in text:
        return "the connection was refused"
    return "no connection could be made"


def network_fix(variable: str, default: str) -> str:
    return (
        f"check {variable} (default {default}) and that this machine reaches it "
        "(network, proxy settings such as HTTPS_PROXY, firewall)"
    )
