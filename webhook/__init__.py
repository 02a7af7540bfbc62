"""How messages travel: the Flask app factory, channel adapters, web chat, admin and CLI."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, Response, send_from_directory
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from webhook.config import from_env

ICON_MAX_AGE = 7 * 24 * 3600  # seconds; the icon changes about never


class SafeJSON(DefaultJSONProvider):
    """JSON nested too deeply is unreadable input (a 400 for every route), not a RecursionError (a 500)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


def pool_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Pool and timeouts per process for a server database (ignored by SQLite)."""
    return {"pool_size": int(config.get("DB_POOL_SIZE", 10)), "max_overflow": int(config.get("DB_MAX_OVERFLOW", 5)),
            "pool_timeout": int(config.get("DB_POOL_TIMEOUT", 10)),
            "connect_timeout": int(config.get("DB_CONNECT_TIMEOUT", 5)),
            "statement_timeout_ms": int(config.get("DB_STATEMENT_TIMEOUT_MS", 15000))}


def _check_schema(app: Flask, db: Any) -> None:
    """Seeds the catalog on a migrated database; on one that is not, answers 503 until it is upgraded."""
    from bot.migrate import status
    from bot.programs import seed_if_empty

    schema = app.extensions["hrtp_schema"] = status(db.engine)
    if schema.usable:
        seed_if_empty(db)  # the first start copies the YAML catalog into the table staff edit
        return
    recheck = float(app.config.get("SCHEMA_RECHECK_SECONDS", 5))
    checked = [float("-inf")]

    @app.before_request
    def wait_for_upgrade() -> Any:
        current = app.extensions["hrtp_schema"]
        if not current.usable and time.monotonic() - checked[0] >= recheck:
            checked[0] = time.monotonic()
            current = app.extensions["hrtp_schema"] = status(db.engine)
            if current.usable:
                seed_if_empty(db)
            else:
                app.logger.error("not serving requests: %s", current.advice)
        if current.usable:
            return None
        return Response("This service is starting up. Please try again in a few minutes.\n", 503,
                        {"Retry-After": "60", "Content-Type": "text/plain; charset=utf-8"})


class ConfigError(RuntimeError):
    """A setting that must not go to production as it is."""


def _check_secret_key(app: Flask) -> None:
    # Compared with the generated key, so a test or a caller that passes SECRET_KEY in `config` counts as set.
    if app.config.get("PUBLIC_BASE_URL", "").startswith("https://") and app.config.get("SECRET_KEY_IS_DEFAULT") \
            and app.config["SECRET_KEY"] == app.config.get("_GENERATED_SECRET_KEY"):
        raise ConfigError("SECRET_KEY is not set, and PUBLIC_BASE_URL is https (a real deployment): set SECRET_KEY "
                          "to a long random value, the same for every worker, e.g. "
                          "python3 -c 'import secrets; print(secrets.token_hex(32))'")


def _check_reminders(app: Flask) -> None:
    # A mistyped REMINDER_* setting is named at start-up, not found later by a worker that sends nothing.
    from bot.reminders import ReminderConfigError
    from webhook.reminders import reminder_config

    try:
        reminder_config(app.config)
    except ReminderConfigError as exc:
        raise ConfigError(str(exc)) from exc


def _id_list(value: Any) -> frozenset[str]:
    """A comma-separated setting (or a list, from a test's config) as a set of ids."""
    items = value.split(",") if isinstance(value, str) else (value or ())
    return frozenset(str(i).strip() for i in items if str(i).strip())


def _whatsapp_templates(config: Mapping[str, Any], runtime: Any) -> Any:
    """The staff templates and the county's approved WhatsApp templates, checked at start: a bad file stops it."""
    from bot.outbound import staff_templates
    from bot.whatsapp import WhatsAppTemplates, load_whatsapp_templates

    staff = {t.id: t.params for t in staff_templates()}
    path = str(config.get("WHATSAPP_TEMPLATES") or "")
    if not path:
        return WhatsAppTemplates()
    return load_whatsapp_templates(path, staff, [lang.id for lang in runtime.bundle.languages])


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Builds the app: settings from the environment, overridden by `config` (tests pass one)."""
    from bot.db import Database
    from bot.service import IntakeService, Runtime, Settings

    app = Flask(__name__, instance_relative_config=True)
    app.json = SafeJSON(app)
    app.config.update(from_env(app.instance_path))
    app.config["_GENERATED_SECRET_KEY"] = app.config["SECRET_KEY"] if app.config["SECRET_KEY_IS_DEFAULT"] else None
    app.config.update(config or {})
    _check_secret_key(app)
    _check_reminders(app)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    # Flask ships SESSION_COOKIE_SAMESITE=None, so setdefault would never take effect.
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    if app.config.get("PUBLIC_BASE_URL", "").startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    if app.config.get("TRUSTED_PROXIES"):
        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]

    db = Database(app.config["DATABASE_URL"], pool=pool_settings(app.config))
    # Tables come only from `hrtp-intake db upgrade`: workers starting together never race on DDL.
    _check_schema(app, db)
    runtime = app.config.get("RUNTIME") or Runtime.load()
    settings = Settings(idle_timeout=timedelta(hours=int(app.config["IDLE_TIMEOUT_HOURS"])),
                        support_phone=str(app.config["SUPPORT_PHONE"]),
                        privacy_key=str(app.config.get("PRIVACY_KEY") or ""),
                        queued_channels=frozenset({"telegram"}),  # replies the job queue sends (webhook/queue.py)
                        sms_plain_languages=_id_list(app.config.get("SMS_PLAIN_LANGUAGES")),
                        sms_segment_budget=max(0, int(app.config.get("SMS_SEGMENT_BUDGET") or 0)))
    app.extensions["hrtp"] = IntakeService(db, runtime, settings)
    app.extensions["hrtp_whatsapp"] = _whatsapp_templates(app.config, runtime)

    from webhook.channels import ADAPTERS, Registry

    # Tests add a channel by passing CHANNEL_ADAPTERS; everything channel-shaped below reads this registry.
    channels = Registry(app.config.get("CHANNEL_ADAPTERS") or ADAPTERS)
    channels.install(app)

    from flask_wtf.csrf import CSRFProtect

    from webhook import admin

    # Every form needs a CSRF token, except provider webhooks (signed) and the web chat (JSON only).
    csrf = CSRFProtect(app)
    for exempt in channels.csrf_exempt():
        csrf.exempt(exempt)
    admin.init_app(app)
    from webhook import ratelimit, security, webchat, webform

    ratelimit.init_app(app, [webform.bp.name, webchat.bp.name])

    security.init_app(app)

    from webhook import health, logs
    from webhook.queue import health as queue_health

    health.init_app(app, db)
    # The queue's part names its backend and backlog beside the pass/fail (bot.outbox, webhook/queue.py).
    app.extensions["hrtp_health"]["queue"] = lambda: queue_health(app)
    app.wsgi_app = logs.RequestLog(app.wsgi_app)  # type: ignore[method-assign]
    if db.write_lock is not None:
        from webhook.turnlock import SerialisedWebhooks

        app.wsgi_app = SerialisedWebhooks(app.wsgi_app, db.holding_writes)  # type: ignore[method-assign]

    # Browsers ask for /favicon.ico on every page, even when the page names an SVG icon.
    @app.get("/favicon.ico")
    def favicon() -> Any:
        return send_from_directory(app.static_folder or "static", "favicon.ico", mimetype="image/vnd.microsoft.icon",
                                   max_age=ICON_MAX_AGE)

    @app.get("/icon.svg")
    def icon_svg() -> Any:
        return send_from_directory(app.static_folder or "static", "icon.svg", mimetype="image/svg+xml",
                                   max_age=ICON_MAX_AGE)

    from webhook.cli import register

    register(app)
    return app
