"""Settings from the process environment and `.env`, read once, checked all together.

Every variable is one row of :data:`VARIABLES`: its name, its default, how it is read and checked,
and whether it is a secret. ``DEFAULTS``, ``SECRETS``, the defaults of :class:`Settings` (the
table's defaults, read) and :func:`load_settings` all come from that table; config.example.env
lists exactly its variables, each with its default (a test keeps the two in step).

Every problem is collected and reported at once (exit code 2), in the table's order, so an
operator fixes the whole `.env` in one go. A secret ``X`` may instead come from a file named by
``X_FILE``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bases.records import is_email
from jobs.config_checks import base_ids_without_token, checked_channel, checked_home, misplaced_tokens, without_secrets
from jobs.rules.scores import HealthSettings

CRM_TARGETS = ("hubspot", "webhook", "none")
BASE_ID_RE = re.compile(r"^app[A-Za-z0-9]{14}$")
BASE_VARS = {
    "partners": "AIRTABLE_PARTNERS_BASE",
    "referrals": "AIRTABLE_REFERRALS_BASE",
    "circles": "AIRTABLE_CIRCLES_BASE",
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConfigError(Exception):
    """One or more settings are wrong; ``problems`` says each, with its fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("bad configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass
class Reading:
    """What the variables are read from: each one's text as set (stripped; a secret's read from
    its ``_FILE``; "" when unset), and the problems found so far."""

    text: dict[str, str]
    problems: list[str] = field(default_factory=list)
    require_bases: bool = True

    def raw(self, var: Variable) -> str:
        """The variable's text, or its default when it is unset."""
        return self.text[var.name] or var.default


# How a variable is read: its value from the reading; a problem is added to ``reading.problems``
# (the value returned with it is never used: the settings are not made).
Parse = Callable[["Variable", Reading], Any]


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, its default ("" = unset), how it is read and checked,
    whether it is a secret, and the :class:`Settings` field it fills (None: its name in lower
    case; "": part of a field made of several, ``base_ids`` or ``health``)."""

    name: str
    default: str
    parse: Parse
    secret: bool = False
    setting: str | None = None

    @property
    def attr(self) -> str:
        return self.name.lower() if self.setting is None else self.setting


# ------------------------------------------------------------------------------ parsers


def _text(var: Variable, r: Reading) -> str:
    return r.raw(var)


def _path(var: Variable, r: Reading) -> Path:
    return Path(r.raw(var))


def _whole(minimum: int) -> Parse:
    def parse(var: Variable, r: Reading) -> int:
        raw = r.raw(var)
        try:
            value = int(raw)
        except ValueError:
            r.problems.append(f"{var.name}={raw!r} is not a whole number; e.g. {var.name}={var.default}")
            return 0
        if value < minimum:
            r.problems.append(f"{var.name}={value} must be at least {minimum}")
        return value

    return parse


def _choice(*choices: str) -> Parse:
    def parse(var: Variable, r: Reading) -> str:
        raw = r.raw(var).lower()
        if raw not in choices:
            r.problems.append(f"{var.name}={raw!r} is not valid; use one of: {', '.join(choices)}")
        return raw

    return parse


def _flag(var: Variable, r: Reading) -> bool:
    raw = r.raw(var).lower()
    if raw not in TRUE + FALSE:
        r.problems.append(f"{var.name}={raw!r} must be true or false")
    return raw in TRUE


def _url(var: Variable, r: Reading) -> str:
    raw = r.raw(var)
    if raw:
        parsed = urlparse(raw)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            shown = "(the secret value)" if var.secret else repr(raw)
            r.problems.append(f"{var.name}={shown} is not an http(s) URL; e.g. https://example.com/hook")
    return raw


def _base_id(var: Variable, r: Reading) -> str:
    value = r.raw(var)
    if not r.text["AIRTABLE_TOKEN"]:
        return value
    if not value:
        if r.require_bases:
            r.problems.append(
                f"{var.name} is empty; with AIRTABLE_TOKEN set every base id is needed (run `partnerops bases create`)"
            )
    elif not BASE_ID_RE.match(value):
        r.problems.append(f"{var.name}={value!r} is not a base id; it looks like app followed by 14 letters/digits")
    return value


def _crm(var: Variable, r: Reading) -> str:
    crm = r.raw(var).lower() or ("hubspot" if r.text["HUBSPOT_TOKEN"] else "none")
    if crm not in CRM_TARGETS:
        r.problems.append(f"{var.name}={crm!r} is not valid; use one of: {', '.join(CRM_TARGETS)}")
    if crm == "hubspot" and not r.text["HUBSPOT_TOKEN"]:
        r.problems.append("CRM=hubspot needs HUBSPOT_TOKEN (a private app token, pat-…)")
    if crm == "webhook" and not r.text["CRM_WEBHOOK_URL"]:
        r.problems.append("CRM=webhook needs CRM_WEBHOOK_URL (the Make / n8n / Zapier hook URL)")
    return crm


def _api_version(var: Variable, r: Reading) -> str:
    raw = r.raw(var)
    if raw != "v3" and not re.match(r"^\d{4}-\d{2}$", raw):
        r.problems.append(f"{var.name}={raw!r} must be v3 or a dated version like 2026-09")
    return raw


def _smtp_host(var: Variable, r: Reading) -> str:
    host = r.raw(var)
    if host and not r.text["EMAIL_FROM"]:
        r.problems.append("SMTP_HOST is set but EMAIL_FROM is empty; intro e-mails need a sender")
    return host


def _email(var: Variable, r: Reading) -> str:
    address = r.raw(var)
    if address and not is_email(address):
        r.problems.append(f"{var.name}={address!r} is not an e-mail address")
    return address


def _zone(var: Variable, r: Reading) -> str:
    tz = r.raw(var)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.problems.append(f"{var.name}={tz!r} is not a time zone name; e.g. Europe/Berlin or UTC")
    return tz


def _hh_mm(text: str) -> time | None:
    match = re.match(r"^(\d{1,2}):(\d{2})$", text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def _daily_at(var: Variable, r: Reading) -> time | None:
    raw = r.raw(var)
    at = _hh_mm(raw)
    if at is None:
        r.problems.append(f"{var.name}={raw!r} must be a time of day as HH:MM, e.g. {var.default}")
    return at


def _digest_at(var: Variable, r: Reading) -> tuple[int, time] | None:
    raw = r.raw(var)
    if raw.lower() == "off":
        return None
    match = re.match(r"^([A-Za-z]{3})[a-z]*\s+(\d{1,2}:\d{2})$", raw)
    at = _hh_mm(match.group(2)) if match else None
    if match is None or at is None or match.group(1).lower() not in WEEKDAYS:
        r.problems.append(f"{var.name}={raw!r} must be a weekday and a time, e.g. {var.default}, or off")
        return None
    return WEEKDAYS.index(match.group(1).lower()), at


def _weights(var: Variable, r: Reading) -> tuple[float, ...]:
    raw = r.raw(var)
    try:
        weights = tuple(float(x) for x in raw.split(","))
        if len(weights) != 4 or abs(sum(weights) - 1) > 0.001 or min(weights) < 0:
            raise ValueError
    except ValueError:
        r.problems.append(
            f"{var.name}={raw!r} must be four weights (recency, volume, quality, engagement) that add up to 1, e.g. {var.default}"
        )
        return ()
    return weights


def _recency_steps(var: Variable, r: Reading) -> tuple[tuple[int, int], ...]:
    raw = r.raw(var)
    try:
        steps = tuple((int(d), int(v)) for d, v in (pair.split(":") for pair in raw.split(",")))
        days = [d for d, _ in steps]
        if days != sorted(set(days)) or any(not 0 <= v <= 100 for _, v in steps):
            raise ValueError
    except ValueError:
        r.problems.append(
            f"{var.name}={raw!r} must be days:points pairs with rising days and points 0-100, e.g. {var.default}"
        )
        return ()
    return steps


def _bands(var: Variable, r: Reading) -> tuple[int, int, int]:
    raw = r.raw(var)
    try:
        top, healthy, at_risk = (int(x) for x in raw.split(","))
        if not 100 >= top > healthy > at_risk >= 0:
            raise ValueError
    except ValueError:
        r.problems.append(
            f"{var.name}={raw!r} must be the Top, Healthy and At risk thresholds, falling, e.g. {var.default}"
        )
        return (0, 0, 0)
    return top, healthy, at_risk


# --------------------------------------------------------------------------- the table

# Every variable the program reads, in the order its problems are reported: the secrets (a
# ``_FILE`` that cannot be read), the settings checked against others (base ids, CRM, e-mail
# sender) and the zone, then the rest.
VARIABLES: tuple[Variable, ...] = (
    Variable("AIRTABLE_TOKEN", "", _text, secret=True),
    Variable("SLACK_BOT_TOKEN", "", _text, secret=True),
    Variable("HUBSPOT_TOKEN", "", _text, secret=True),
    Variable("SMTP_PASSWORD", "", _text, secret=True),
    Variable("AIRTABLE_PARTNERS_BASE", "", _base_id, setting=""),
    Variable("AIRTABLE_REFERRALS_BASE", "", _base_id, setting=""),
    Variable("AIRTABLE_CIRCLES_BASE", "", _base_id, setting=""),
    Variable("CRM", "", _crm),  # "": hubspot when HUBSPOT_TOKEN is set, else none
    Variable("EMAIL_FROM", "", _email),
    Variable("SMTP_HOST", "", _smtp_host),
    Variable("TZ", "UTC", _zone),
    Variable("AIRTABLE_API_URL", "https://api.airtable.com", _url),
    Variable("AIRTABLE_MONTHLY_CALLS", "1000", _whole(1)),
    Variable("SLACK_API_URL", "https://slack.com/api/", _url),
    Variable("SLACK_MANAGER_CHANNEL", "", _text),
    Variable("HUBSPOT_API_URL", "https://api.hubapi.com", _url),
    Variable("HUBSPOT_API_VERSION", "2026-09", _api_version),
    Variable("STAGE_ALERTS", "closed", _choice("closed", "all")),
    Variable("CRM_WEBHOOK_URL", "", _url, secret=True),
    Variable("SMTP_PORT", "587", _whole(1)),
    Variable("SMTP_USER", "", _text),
    Variable("SMTP_STARTTLS", "true", _flag),
    Variable("REFERRAL_FORM_URL", "", _url),
    Variable("PARTNEROPS_HOME", "./.partnerops", _path, setting="home"),
    Variable("DAILY_AT", "07:00", _daily_at),
    Variable("DIGEST_AT", "Mon 08:00", _digest_at),  # (weekday, Monday = 0, local time); off: None
    Variable("AIRTABLE_RECORD_CAP", "1000", _whole(0)),
    Variable("ARCHIVE", "manual", _choice("manual", "auto")),
    Variable("ARCHIVE_AFTER_DAYS", "365", _whole(1)),
    Variable("SYNC_FULL_EVERY_DAYS", "7", _whole(1)),
    Variable("HEALTH_WEIGHTS", "0.40,0.25,0.25,0.10", _weights, setting=""),
    Variable("HEALTH_RECENCY_STEPS", "14:100,30:85,60:70,90:50,180:25", _recency_steps, setting=""),
    Variable("HEALTH_BANDS", "75,50,25", _bands, setting=""),
)
DEFAULTS: dict[str, str] = {v.name: v.default for v in VARIABLES}  # "" = unset
SECRETS: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.secret)


def _read(text: Mapping[str, str], problems: list[str], *, require_bases: bool = True) -> dict[str, Any]:
    """Every variable's value by name, from its text ("" or missing: unset); raise
    :class:`ConfigError` listing ``problems`` (those found before) and every one found here."""
    reading = Reading({v.name: text.get(v.name, "") for v in VARIABLES}, problems, require_bases)
    values = {v.name: v.parse(v, reading) for v in VARIABLES}
    if problems:
        raise ConfigError(problems)
    return values


def _fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`Settings` fields made of the variables' values."""
    weights = values["HEALTH_WEIGHTS"]
    top, healthy, at_risk = values["HEALTH_BANDS"]
    health = HealthSettings(
        weight_recency=weights[0],
        weight_volume=weights[1],
        weight_quality=weights[2],
        weight_engagement=weights[3],
        recency_steps=values["HEALTH_RECENCY_STEPS"],
        top_from=top,
        healthy_from=healthy,
        at_risk_from=at_risk,
    )
    base_ids = {key: values[name] for key, name in BASE_VARS.items()}
    return {**{v.attr: values[v.name] for v in VARIABLES if v.attr}, "base_ids": base_ids, "health": health}


# The settings of an empty environment: the table's defaults, read. They are Settings' defaults.
_DEFAULT = _fields(_read({}, []))


@dataclass(frozen=True)
class Settings:
    airtable_token: str = field(default=_DEFAULT["airtable_token"], repr=False)
    base_ids: dict[str, str] = field(default_factory=lambda: dict(_DEFAULT["base_ids"]))
    airtable_api_url: str = _DEFAULT["airtable_api_url"]
    airtable_monthly_calls: int = _DEFAULT["airtable_monthly_calls"]
    slack_bot_token: str = field(default=_DEFAULT["slack_bot_token"], repr=False)
    slack_api_url: str = _DEFAULT["slack_api_url"]
    slack_manager_channel: str = _DEFAULT["slack_manager_channel"]
    crm: str = _DEFAULT["crm"]
    hubspot_token: str = field(default=_DEFAULT["hubspot_token"], repr=False)
    hubspot_api_url: str = _DEFAULT["hubspot_api_url"]
    hubspot_api_version: str = _DEFAULT["hubspot_api_version"]
    stage_alerts: str = _DEFAULT["stage_alerts"]
    crm_webhook_url: str = field(default=_DEFAULT["crm_webhook_url"], repr=False)
    smtp_host: str = _DEFAULT["smtp_host"]
    smtp_port: int = _DEFAULT["smtp_port"]
    smtp_user: str = _DEFAULT["smtp_user"]
    smtp_password: str = field(default=_DEFAULT["smtp_password"], repr=False)
    smtp_starttls: bool = _DEFAULT["smtp_starttls"]
    email_from: str = _DEFAULT["email_from"]
    referral_form_url: str = _DEFAULT["referral_form_url"]
    home: Path = _DEFAULT["home"]
    tz: str = _DEFAULT["tz"]
    daily_at: time = _DEFAULT["daily_at"]
    digest_at: tuple[int, time] | None = _DEFAULT["digest_at"]  # (weekday, Monday = 0, local time); None: off
    airtable_record_cap: int = _DEFAULT["airtable_record_cap"]
    archive: str = _DEFAULT["archive"]
    archive_after_days: int = _DEFAULT["archive_after_days"]
    sync_full_every_days: int = _DEFAULT["sync_full_every_days"]
    health: HealthSettings = _DEFAULT["health"]

    @property
    def uses_airtable(self) -> bool:
        return bool(self.airtable_token)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def secrets(self) -> list[str]:
        """Every secret value in use, so logs and messages can be scrubbed of them."""
        values = [getattr(self, v.attr) for v in VARIABLES if v.secret]
        return [v for v in values if v]


def _read_env(environ: Mapping[str, str], dotenv_path: Path | None) -> dict[str, str]:
    """The process environment wins over `.env`, as python-dotenv does by default."""
    merged: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update(environ)
    return merged


def _resolve_secret(name: str, env: dict[str, str], problems: list[str]) -> str:
    direct = env.get(name, "").strip()
    path = env.get(f"{name}_FILE", "").strip()
    if direct and path:
        problems.append(f"{name} and {name}_FILE are both set; keep one of them")
    if path and not direct:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(f"{name}_FILE names {path!r}, which cannot be read ({exc.strerror}); fix the path")
    return direct


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | None = Path(".env"), *, require_bases: bool = True
) -> Settings:
    """Read and check every setting; raise :class:`ConfigError` listing all problems.

    ``require_bases=False`` is for `bases create`, which runs before the base ids exist.
    """
    env = _read_env(os.environ if environ is None else environ, dotenv_path)
    problems: list[str] = []
    text = {
        v.name: _resolve_secret(v.name, env, problems) if v.secret else env.get(v.name, "").strip() for v in VARIABLES
    }
    secrets = {name: text[name] for name in SECRETS}
    misplaced_tokens(dict(env), secrets, DEFAULTS, problems)
    base_ids = {key: text[var] for key, var in BASE_VARS.items()}
    base_ids_without_token(
        base_ids, BASE_VARS, secrets["AIRTABLE_TOKEN"] or env.get("AIRTABLE_TOKEN_FILE", ""), problems
    )
    text["SLACK_MANAGER_CHANNEL"] = checked_channel(text["SLACK_MANAGER_CHANNEL"], problems)
    checked_home(text["PARTNEROPS_HOME"] or DEFAULTS["PARTNEROPS_HOME"], problems)
    try:
        return Settings(**_fields(_read(text, problems, require_bases=require_bases)))
    except ConfigError as exc:
        raise ConfigError(without_secrets(exc.problems, secrets)) from None
