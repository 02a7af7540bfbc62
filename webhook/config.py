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
        # A per-process random key keeps a first run working; production sets SECRET_KEY.
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_hex(32),
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_ACCOUNT_SID": os.environ.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_FROM_NUMBER": os.environ.get("TWILIO_FROM_NUMBER", ""),
        "TWILIO_WHATSAPP_FROM": os.environ.get("TWILIO_WHATSAPP_FROM", ""),
        "TWILIO_MESSAGING_SERVICE_SID": os.environ.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        "TWILIO_API_BASE_URL": os.environ.get("TWILIO_API_BASE_URL", ""),
        "TELEGRAM_BOT_TOKEN": os.environ.get("TELEGRAM_BOT_TOKEN", ""),
        "TELEGRAM_WEBHOOK_SECRET": os.environ.get("TELEGRAM_WEBHOOK_SECRET", ""),
        # The bot's @username without the @, for the t.me deep links printed on flyers.
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
    }
