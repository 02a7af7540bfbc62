"""Reminders in the app: the settings read once, `hrtp-intake reminders [--dry-run] [--now]`, and the worker's scan."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from bot.models import utcnow
from bot.reminders import ReminderConfig, ReminderConfigError, Reminders, ScanReport

log = logging.getLogger(__name__)


def reminder_config(config: Mapping[str, Any]) -> ReminderConfig:
    """The reminder settings from the app's config; a bad one raises ReminderConfigError naming it."""
    return ReminderConfig.parse(config.get("REMINDER_AFTER_HOURS"), config.get("REMINDER_QUIET_HOURS"),
                                config.get("REMINDER_TZ"), config.get("REMINDER_LATE_HOURS"))


def reminders_of(app: Flask | None = None) -> Reminders:
    """The app's reminder scanner, made on first use: it sends on the queue's channels and hands rows to the queue."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    from webhook.queue import made_once, queue_of

    def make() -> Reminders:
        queue = queue_of(app)
        return Reminders(app.extensions["hrtp"], reminder_config(app.config), queue.senders, queue.nudge,
                         whatsapp=app.extensions.get("hrtp_whatsapp"))

    return made_once(app, "hrtp_reminders", make)


def scan_once(app: Flask) -> ScanReport:
    """One scan at the current time, as the worker runs it every REMINDER_SCAN_SECONDS."""
    report = reminders_of(app).scan(utcnow())
    if report.nudges:
        log.info("reminders: %s enqueued", len(report.nudges),
                 extra={"intake_ids": [n.intake_id for n in report.nudges], "steps": [n.step for n in report.nudges]})
    return report


def parse_now(value: str | None, config: ReminderConfig) -> datetime:
    """--now as an aware time: ISO 8601, read in the people's time zone (REMINDER_TZ) when it has no offset."""
    if not value:
        return utcnow()
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time, like 2026-11-03T08:00-08:00", param_hint="--now") from None
    return (at if at.tzinfo else at.replace(tzinfo=config.tz)).astimezone(UTC)


@click.command("reminders")
@click.option("--dry-run", is_flag=True, help="Print the reminders that would go, one JSON line each; send nothing.")
@click.option("--now", "now_text", default=None, metavar="ISO8601",
              help="Pretend it is this time (no offset: REMINDER_TZ's local time). Default: now.")
@with_appcontext
def reminders_command(dry_run: bool, now_text: str | None) -> None:
    """Nudge people who stopped an intake midway (REMINDER_AFTER_HOURS); the worker does this by itself too."""
    from webhook.cli import _require_schema

    _require_schema()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        reminders = reminders_of(app)
    except ReminderConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    report = reminders.scan(parse_now(now_text, reminders.config), dry_run=dry_run)
    for nudge in report.nudges:
        click.echo(json.dumps(nudge.to_json(), ensure_ascii=False))
    what = "would be sent" if dry_run else "enqueued"
    channels = ", ".join(sorted(reminders.channels)) or "none configured (set the Twilio or Telegram settings)"
    click.echo(f"{len(report.nudges)} reminder{'s' if len(report.nudges) != 1 else ''} {what}"
               + ("; the SMS segment budget is reached, so no more go this month" if report.budget_stopped else "")
               + f"; channels: {channels}", err=True)
