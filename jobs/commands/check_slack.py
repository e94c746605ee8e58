"""`check` for Slack and the circles: the token, its scopes, the managers' channel, and each Active
circle's channel (it has one, it exists, the bot is in it)."""

from __future__ import annotations

from bases.records import Record
from integrations.slack import (
    HINT_AUTH,
    HINT_BOT_NOT_MEMBER,
    HINT_MISSING_SCOPE,
    REQUIRED_SCOPES,
    SlackClient,
    SlackError,
)
from jobs.commands.checklist import Checklist, network_fix, no_answer
from jobs.refused import SLACK_AUTH_CODES
from jobs.rules.circle_config import CircleConfig
from jobs.settings import DEFAULTS, Settings

MANAGERS = "managers' channel (SLACK_MANAGER_CHANNEL)"
CHANNEL_FIX = (
    "in the Circles base, put the circle's private Slack channel id (C… or G…) in Slack Channel ID: in Slack, "
    "open the channel, click its name, and copy the Channel ID at the bottom of the About tab"
)
INVITE_FIX = "in Slack, open the channel and type /invite @<the bot's name>"


def check_slack(slack: SlackClient | None, settings: Settings, circles: list[Record] | None, report: Checklist) -> None:
    """Slack when SLACK_BOT_TOKEN is set; the circles' channel ids in any case (when they could be read)."""
    usable = slack is not None and _token(slack, settings, report)
    if slack is None:
        report.ok(f"Slack: no SLACK_BOT_TOKEN, messages go to the outbox under {settings.home}/outbox")
    channels = [(MANAGERS, settings.slack_manager_channel)] if settings.slack_manager_channel else []
    for config in _active(circles, report) if circles is not None else []:
        if config.channel_id is None:
            report.fail(f"circle {config.name!r}", "it is Active but has no valid Slack Channel ID", CHANNEL_FIX)
        else:
            channels.append((f"circle {config.name!r}", config.channel_id))
    for label, channel in channels:
        if slack is not None and usable:
            _channel(slack, label, channel, report)
        elif slack is None:
            report.ok(f"Slack {label} {channel}: not checked (no SLACK_BOT_TOKEN)")


def _active(circles: list[Record], report: Checklist) -> list[CircleConfig]:
    active = [c for c in (CircleConfig.from_record(r)[0] for r in circles) if c.active]
    if not active:
        why = "no circle is Active" if circles else "the Circles base holds no circle"
        report.warn(f"{why}: nobody is invited anywhere", "add a circle (or tick Active on one) in the Circles base")
    return active


def _token(slack: SlackClient, settings: Settings, report: Checklist) -> bool:
    """The token is accepted (and has the scopes): channel checks can be trusted."""
    try:
        who = slack.auth_test()
    except SlackError as exc:
        _failed(exc, "Slack token", settings, report)
        return False
    report.ok(f"Slack token: workspace {who.get('team')}")
    scopes = who.get("scopes")
    if scopes is None:
        report.warn("Slack did not say which scopes the token has", "compare them by hand with the list in README.md")
        return True
    missing = [s for s in REQUIRED_SCOPES if s not in scopes]
    if missing:
        report.fail("Slack scopes missing", ", ".join(missing), HINT_MISSING_SCOPE)
    else:
        report.ok(f"Slack scopes: all {len(REQUIRED_SCOPES)} present")
    return True


def _failed(exc: SlackError, what: str, settings: Settings, report: Checklist) -> None:
    if exc.code in ("network_error", "http_error") or (exc.status == 0 and exc.code == "client_error"):
        api = settings.slack_api_url
        report.fail(
            f"Slack at {api}", f"no answer: {no_answer(exc)}", network_fix("SLACK_API_URL", DEFAULTS["SLACK_API_URL"])
        )
    elif exc.code in SLACK_AUTH_CODES:
        report.fail(what, f"{exc.code}: the token was rejected", HINT_AUTH)
    else:
        report.fail(what, exc.code, exc.hint or HINT_AUTH)


def _channel(slack: SlackClient, label: str, channel: str, report: Checklist) -> None:
    try:
        info = slack.channel_info(channel)
    except SlackError as exc:
        if exc.code in ("network_error", "http_error"):
            report.fail(
                f"Slack {label} {channel}",
                f"no answer: {no_answer(exc)}",
                network_fix("SLACK_API_URL", DEFAULTS["SLACK_API_URL"]),
            )
        else:
            report.fail(f"Slack {label} {channel}", exc.code, exc.hint or HINT_BOT_NOT_MEMBER)
        return
    if info.get("is_archived"):
        report.fail(
            f"Slack {label} {channel}", "the channel is archived", "unarchive it in Slack, or use another channel's id"
        )
    elif info.get("is_member") is False:
        report.fail(f"Slack {label} {channel}", "the bot is not in the channel", INVITE_FIX)
    else:
        report.ok(f"Slack {label} {channel}: the bot can see it")
