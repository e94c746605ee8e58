"""Settings from the process environment and `.env`, read once, checked all together.

Every problem is collected and reported at once (exit code 2), so an operator fixes the whole
`.env` in one go. A secret ``X`` may instead come from a file named by ``X_FILE``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bases.records import is_email
from jobs.config_checks import base_ids_without_token, checked_channel, checked_home, misplaced_tokens, without_secrets
from jobs.rules.scores import HealthSettings

SECRETS = ("AIRTABLE_TOKEN", "SLACK_BOT_TOKEN", "HUBSPOT_TOKEN", "SMTP_PASSWORD", "CRM_WEBHOOK_URL")
CRM_TARGETS = ("hubspot", "webhook", "none")
BASE_ID_RE = re.compile(r"^app[A-Za-z0-9]{14}$")
BASE_VARS = {
    "partners": "AIRTABLE_PARTNERS_BASE",
    "referrals": "AIRTABLE_REFERRALS_BASE",
    "circles": "AIRTABLE_CIRCLES_BASE",
}

# Every variable the program reads, with its default ("" = unset). config.example.env lists
# exactly these; a test keeps the two in step.
DEFAULTS: dict[str, str] = {
    "AIRTABLE_TOKEN": "",
    "AIRTABLE_PARTNERS_BASE": "",
    "AIRTABLE_REFERRALS_BASE": "",
    "AIRTABLE_CIRCLES_BASE": "",
    "AIRTABLE_API_URL": "https://api.airtable.com",
    "AIRTABLE_MONTHLY_CALLS": "1000",
    "SLACK_BOT_TOKEN": "",
    "SLACK_API_URL": "https://slack.com/api/",
    "SLACK_MANAGER_CHANNEL": "",
    "CRM": "",
    "HUBSPOT_TOKEN": "",
    "HUBSPOT_API_URL": "https://api.hubapi.com",
    "HUBSPOT_API_VERSION": "2026-09",
    "STAGE_ALERTS": "closed",
    "CRM_WEBHOOK_URL": "",
    "SMTP_HOST": "",
    "SMTP_PORT": "587",
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_STARTTLS": "true",
    "EMAIL_FROM": "",
    "REFERRAL_FORM_URL": "",
    "PARTNEROPS_HOME": "./.partnerops",
    "TZ": "UTC",
    "DAILY_AT": "07:00",
    "DIGEST_AT": "Mon 08:00",
    "AIRTABLE_RECORD_CAP": "1000",
    "ARCHIVE": "manual",
    "ARCHIVE_AFTER_DAYS": "365",
    "SYNC_FULL_EVERY_DAYS": "7",
    "HEALTH_WEIGHTS": "0.40,0.25,0.25,0.10",
    "HEALTH_RECENCY_STEPS": "14:100,30:85,60:70,90:50,180:25",
    "HEALTH_BANDS": "75,50,25",
}


class ConfigError(Exception):
    """One or more settings are wrong; ``problems`` says each, with its fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("bad configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    airtable_token: str = field(default="", repr=False)
    base_ids: dict[str, str] = field(default_factory=dict)
    airtable_api_url: str = "https://api.airtable.com"
    airtable_monthly_calls: int = 1000
    slack_bot_token: str = field(default="", repr=False)
    slack_api_url: str = "https://slack.com/api/"
    slack_manager_channel: str = ""
    crm: str = "none"
    hubspot_token: str = field(default="", repr=False)
    hubspot_api_url: str = "https://api.hubapi.com"
    hubspot_api_version: str = "2026-09"
    stage_alerts: str = "closed"
    crm_webhook_url: str = field(default="", repr=False)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = True
    email_from: str = ""
    referral_form_url: str = ""
    home: Path = Path(".partnerops")
    tz: str = "UTC"
    daily_at: time = time(7, 0)
    digest_at: tuple[int, time] | None = (0, time(8, 0))  # (weekday, Monday = 0, local time); None: off
    airtable_record_cap: int = 1000
    archive: str = "manual"
    archive_after_days: int = 365
    sync_full_every_days: int = 7
    health: HealthSettings = field(default_factory=HealthSettings)

    @property
    def uses_airtable(self) -> bool:
        return bool(self.airtable_token)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def secrets(self) -> list[str]:
        """Every secret value in use, so logs and messages can be scrubbed of them."""
        values = [
            self.airtable_token,
            self.slack_bot_token,
            self.hubspot_token,
            self.smtp_password,
            self.crm_webhook_url,
        ]
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


def _int(env: dict[str, str], name: str, problems: list[str], *, minimum: int = 0) -> int:
    raw = env.get(name, "").strip() or DEFAULTS[name]
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name}={raw!r} is not a whole number; e.g. {name}={DEFAULTS[name]}")
        return int(DEFAULTS[name])
    if value < minimum:
        problems.append(f"{name}={value} must be at least {minimum}")
    return value


def _url(env: dict[str, str], name: str, problems: list[str], value: str | None = None) -> str:
    raw = (value if value is not None else env.get(name, "")).strip() or DEFAULTS.get(name, "")
    if raw:
        parsed = urlparse(raw)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            shown = "(the secret value)" if name in SECRETS else repr(raw)
            problems.append(f"{name}={shown} is not an http(s) URL; e.g. https://example.com/hook")
    return raw


def _bool(env: dict[str, str], name: str, problems: list[str]) -> bool:
    raw = (env.get(name, "").strip() or DEFAULTS[name]).lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    problems.append(f"{name}={raw!r} must be true or false")
    return True


def _daily_at(env: dict[str, str], problems: list[str]) -> time:
    raw = env.get("DAILY_AT", "").strip() or DEFAULTS["DAILY_AT"]
    match = re.match(r"^(\d{1,2}):(\d{2})$", raw)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        problems.append(f"DAILY_AT={raw!r} must be a time of day as HH:MM, e.g. {DEFAULTS['DAILY_AT']}")
        return time(7, 0)
    return time(int(match.group(1)), int(match.group(2)))


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _digest_at(env: dict[str, str], problems: list[str]) -> tuple[int, time] | None:
    raw = env.get("DIGEST_AT", "").strip() or DEFAULTS["DIGEST_AT"]
    if raw.lower() == "off":
        return None
    match = re.match(r"^([A-Za-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})$", raw)
    if not match or match.group(1).lower() not in WEEKDAYS or int(match.group(2)) > 23 or int(match.group(3)) > 59:
        problems.append(f"DIGEST_AT={raw!r} must be a weekday and a time, e.g. {DEFAULTS['DIGEST_AT']}, or off")
        return (0, time(8, 0))
    return WEEKDAYS.index(match.group(1).lower()), time(int(match.group(2)), int(match.group(3)))


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...], problems: list[str]) -> str:
    raw = (env.get(name, "").strip() or DEFAULTS[name]).lower()
    if raw not in choices:
        problems.append(f"{name}={raw!r} is not valid; use one of: {', '.join(choices)}")
        return DEFAULTS[name]
    return raw


def _api_version(env: dict[str, str], problems: list[str]) -> str:
    raw = env.get("HUBSPOT_API_VERSION", "").strip() or DEFAULTS["HUBSPOT_API_VERSION"]
    if raw != "v3" and not re.match(r"^\d{4}-\d{2}$", raw):
        problems.append(f"HUBSPOT_API_VERSION={raw!r} must be v3 or a dated version like 2026-09")
    return raw


def _health(env: dict[str, str], problems: list[str]) -> HealthSettings:
    """SPEC §3's model, with weights, recency steps and band thresholds from the environment."""
    default = HealthSettings()
    raw = {n: env.get(n, "").strip() or DEFAULTS[n] for n in ("HEALTH_WEIGHTS", "HEALTH_RECENCY_STEPS", "HEALTH_BANDS")}
    try:
        weights = [float(x) for x in raw["HEALTH_WEIGHTS"].split(",")]
        if len(weights) != 4 or abs(sum(weights) - 1) > 0.001 or min(weights) < 0:
            raise ValueError
    except ValueError:
        problems.append(
            f"HEALTH_WEIGHTS={raw['HEALTH_WEIGHTS']!r} must be four weights (recency, volume, quality, engagement) that add up to 1, e.g. {DEFAULTS['HEALTH_WEIGHTS']}"
        )
        weights = list(default.weights)
    try:
        steps = tuple((int(d), int(v)) for d, v in (pair.split(":") for pair in raw["HEALTH_RECENCY_STEPS"].split(",")))
        days = [d for d, _ in steps]
        if days != sorted(set(days)) or any(not 0 <= v <= 100 for _, v in steps):
            raise ValueError
    except ValueError:
        problems.append(
            f"HEALTH_RECENCY_STEPS={raw['HEALTH_RECENCY_STEPS']!r} must be days:points pairs with rising days and points 0-100, e.g. {DEFAULTS['HEALTH_RECENCY_STEPS']}"
        )
        steps = default.recency_steps
    try:
        top, healthy, at_risk = (int(x) for x in raw["HEALTH_BANDS"].split(","))
        if not 100 >= top > healthy > at_risk >= 0:
            raise ValueError
    except ValueError:
        problems.append(
            f"HEALTH_BANDS={raw['HEALTH_BANDS']!r} must be the Top, Healthy and At risk thresholds, falling, e.g. {DEFAULTS['HEALTH_BANDS']}"
        )
        top, healthy, at_risk = default.top_from, default.healthy_from, default.at_risk_from
    return HealthSettings(
        weight_recency=weights[0],
        weight_volume=weights[1],
        weight_quality=weights[2],
        weight_engagement=weights[3],
        recency_steps=steps,
        top_from=top,
        healthy_from=healthy,
        at_risk_from=at_risk,
    )


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | None = Path(".env"), *, require_bases: bool = True
) -> Settings:
    """Read and check every setting; raise :class:`ConfigError` listing all problems.

    ``require_bases=False`` is for `bases create`, which runs before the base ids exist.
    """
    env = _read_env(os.environ if environ is None else environ, dotenv_path)
    problems: list[str] = []
    secrets = {name: _resolve_secret(name, env, problems) for name in SECRETS}
    misplaced_tokens(env, secrets, DEFAULTS, problems)

    base_ids = {key: env.get(var, "").strip() for key, var in BASE_VARS.items()}
    if secrets["AIRTABLE_TOKEN"]:
        for key, var in BASE_VARS.items():
            if not base_ids[key]:
                if not require_bases:
                    continue
                problems.append(
                    f"{var} is empty; with AIRTABLE_TOKEN set every base id is needed (run `partnerops bases create`)"
                )
            elif not BASE_ID_RE.match(base_ids[key]):
                problems.append(
                    f"{var}={base_ids[key]!r} is not a base id; it looks like app followed by 14 letters/digits"
                )
    base_ids_without_token(
        base_ids, BASE_VARS, secrets["AIRTABLE_TOKEN"] or env.get("AIRTABLE_TOKEN_FILE", ""), problems
    )

    crm = env.get("CRM", "").strip().lower() or ("hubspot" if secrets["HUBSPOT_TOKEN"] else "none")
    if crm not in CRM_TARGETS:
        problems.append(f"CRM={crm!r} is not valid; use one of: {', '.join(CRM_TARGETS)}")
    if crm == "hubspot" and not secrets["HUBSPOT_TOKEN"]:
        problems.append("CRM=hubspot needs HUBSPOT_TOKEN (a private app token, pat-…)")
    if crm == "webhook" and not secrets["CRM_WEBHOOK_URL"]:
        problems.append("CRM=webhook needs CRM_WEBHOOK_URL (the Make / n8n / Zapier hook URL)")

    email_from = env.get("EMAIL_FROM", "").strip()
    smtp_host = env.get("SMTP_HOST", "").strip()
    if email_from and not is_email(email_from):
        problems.append(f"EMAIL_FROM={email_from!r} is not an e-mail address")
    if smtp_host and not email_from:
        problems.append("SMTP_HOST is set but EMAIL_FROM is empty; intro e-mails need a sender")

    tz = env.get("TZ", "").strip() or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"TZ={tz!r} is not a time zone name; e.g. Europe/Berlin or UTC")
        tz = "UTC"

    manager_channel = checked_channel(env.get("SLACK_MANAGER_CHANNEL", ""), problems)
    settings = Settings(
        airtable_token=secrets["AIRTABLE_TOKEN"],
        base_ids=base_ids,
        airtable_api_url=_url(env, "AIRTABLE_API_URL", problems),
        airtable_monthly_calls=_int(env, "AIRTABLE_MONTHLY_CALLS", problems, minimum=1),
        slack_bot_token=secrets["SLACK_BOT_TOKEN"],
        slack_api_url=_url(env, "SLACK_API_URL", problems),
        slack_manager_channel=manager_channel,
        crm=crm,
        hubspot_token=secrets["HUBSPOT_TOKEN"],
        hubspot_api_url=_url(env, "HUBSPOT_API_URL", problems),
        hubspot_api_version=_api_version(env, problems),
        stage_alerts=_choice(env, "STAGE_ALERTS", ("closed", "all"), problems),
        crm_webhook_url=_url(env, "CRM_WEBHOOK_URL", problems, secrets["CRM_WEBHOOK_URL"]),
        smtp_host=smtp_host,
        smtp_port=_int(env, "SMTP_PORT", problems, minimum=1),
        smtp_user=env.get("SMTP_USER", "").strip(),
        smtp_password=secrets["SMTP_PASSWORD"],
        smtp_starttls=_bool(env, "SMTP_STARTTLS", problems),
        email_from=email_from,
        referral_form_url=_url(env, "REFERRAL_FORM_URL", problems),
        home=checked_home(env.get("PARTNEROPS_HOME", "").strip() or DEFAULTS["PARTNEROPS_HOME"], problems),
        tz=tz,
        daily_at=_daily_at(env, problems),
        digest_at=_digest_at(env, problems),
        airtable_record_cap=_int(env, "AIRTABLE_RECORD_CAP", problems, minimum=0),
        archive=_choice(env, "ARCHIVE", ("manual", "auto"), problems),
        archive_after_days=_int(env, "ARCHIVE_AFTER_DAYS", problems, minimum=1),
        sync_full_every_days=_int(env, "SYNC_FULL_EVERY_DAYS", problems, minimum=1),
        health=_health(env, problems),
    )
    if problems:
        raise ConfigError(without_secrets(problems, secrets))
    return settings
