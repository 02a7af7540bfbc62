"""Settings from the environment (12-factor), with safe defaults for a newcomer's first run."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def from_env(instance_path: str) -> dict[str, Any]:
    """Reads every setting the app knows; unset ones get development defaults."""
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'hrtp.db'}",
        # A per-process random key keeps a first run working; production sets SECRET_KEY (create_app
        # refuses to serve https without it: sessions would break across workers and restarts).
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_hex(32),
        "SECRET_KEY_IS_DEFAULT": not os.environ.get("SECRET_KEY"),
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_ACCOUNT_SID": os.environ.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_FROM_NUMBER": os.environ.get("TWILIO_FROM_NUMBER", ""),
        "TWILIO_WHATSAPP_FROM": os.environ.get("TWILIO_WHATSAPP_FROM", ""),
        "TWILIO_MESSAGING_SERVICE_SID": os.environ.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        "TWILIO_API_BASE_URL": os.environ.get("TWILIO_API_BASE_URL", ""),
        "TELEGRAM_BOT_TOKEN": os.environ.get("TELEGRAM_BOT_TOKEN", ""),
        "TELEGRAM_WEBHOOK_SECRET": os.environ.get("TELEGRAM_WEBHOOK_SECRET", ""),
        # The bot's @username without the @, for the t.me deep links on flyers and referral-code pages.
        "TELEGRAM_BOT_USERNAME": os.environ.get("TELEGRAM_BOT_USERNAME", "").lstrip("@"),
        "TELEGRAM_API_BASE_URL": os.environ.get("TELEGRAM_API_BASE_URL", ""),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "").rstrip("/"),
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        "IDLE_TIMEOUT_HOURS": _int("IDLE_TIMEOUT_HOURS", 48),
        "SUPPORT_PHONE": os.environ.get("SUPPORT_PHONE", "211"),
        "DEFAULT_REGION": os.environ.get("DEFAULT_REGION", "US"),
        # Keys the hashes that keep opt-outs after erasure; set it in production, outside the database.
        "PRIVACY_KEY": os.environ.get("PRIVACY_KEY", ""),
        "RETENTION_DAYS": _int("RETENTION_DAYS", 180),
        "ADMIN_IDLE_MINUTES": _int("ADMIN_IDLE_MINUTES", 60),
        # Requests per client address to the form and chat together, in Flask-Limiter's notation.
        "RATE_LIMIT": os.environ.get("RATE_LIMIT", ""),
        "RATELIMIT_ENABLED": os.environ.get("RATE_LIMIT_ENABLED", "1").lower() not in ("0", "false", "no", "off"),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        # The number people text to carry a web intake on by SMS; unset, the Twilio sending number.
        "SMS_NUMBER": os.environ.get("SMS_NUMBER", "") or os.environ.get("TWILIO_FROM_NUMBER", ""),
        # "json" (one object a line, phone numbers scrubbed) or "text"; `serve` configures logging with them.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "json"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # Per worker process: the SQLAlchemy pool for PostgreSQL (see README, Production).
        "DB_POOL_SIZE": _int("DB_POOL_SIZE", 10),
        "DB_MAX_OVERFLOW": _int("DB_MAX_OVERFLOW", 5),
        "DB_POOL_TIMEOUT": _int("DB_POOL_TIMEOUT", 10),
        "DB_CONNECT_TIMEOUT": _int("DB_CONNECT_TIMEOUT", 5),
        "DB_STATEMENT_TIMEOUT_MS": _int("DB_STATEMENT_TIMEOUT_MS", 15000),
        "HEALTHZ_TIMEOUT_SECONDS": _int("HEALTHZ_TIMEOUT_SECONDS", 2),
        # SMS cost (README, SMS cost): languages sent with plain letters, and segments a month may cost.
        "SMS_PLAIN_LANGUAGES": os.environ.get("SMS_PLAIN_LANGUAGES", ""),
        "SMS_SEGMENT_BUDGET": _int("SMS_SEGMENT_BUDGET", 0),
        # Reminders for abandoned intakes (README, Reminders; bot/reminders.py): hours of silence before each,
        # quiet hours in the people's time zone, and how often the worker looks for due ones.
        "REMINDER_AFTER_HOURS": os.environ.get("REMINDER_AFTER_HOURS", "24,72"),
        "REMINDER_QUIET_HOURS": os.environ.get("REMINDER_QUIET_HOURS", "21:00-08:00"),
        "REMINDER_TZ": os.environ.get("REMINDER_TZ", "America/Los_Angeles"),
        "REMINDER_LATE_HOURS": os.environ.get("REMINDER_LATE_HOURS", "24"),
        "REMINDER_SCAN_SECONDS": _int("REMINDER_SCAN_SECONDS", 300),
        # WhatsApp outside the 24-hour window (README, WhatsApp's 24-hour window): a YAML file of approved
        # templates, template id -> language -> Twilio ContentSid, with their variables.
        "WHATSAPP_TEMPLATES": os.environ.get("WHATSAPP_TEMPLATES", ""),
    }
