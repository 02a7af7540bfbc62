"""The audit log: who viewed, changed or exported personal data, written in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.models import AuditLog, User, utcnow


def audit(s: Session, user: User | None, action: str, target_type: str | None = None, target_id: Any = None,
          detail: Mapping[str, Any] | None = None, ip: str | None = None, now: datetime | None = None) -> AuditLog:
    """Writes one audit entry in the caller's transaction."""
    entry = AuditLog(user_id=user.id if user else None, username=user.username if user else None, action=action,
                     target_type=target_type, target_id=None if target_id is None else str(target_id),
                     detail=dict(detail) if detail else None, ip=(ip or "")[:64] or None, created_at=now or utcnow())
    s.add(entry)
    return entry
