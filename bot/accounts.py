"""Staff accounts: creating them, signing in with throttling, and which intakes each account may see."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import ColumnElement, false, func, select, true
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bot.models import CaseFile, Intake, LoginAttempt, User

ROLES = ("admin", "staff", "partner", "outreach")  # outreach: weekly counts of their own codes, no records

LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_IP = 20

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


def create_user(s: Session, username: str, password: str, role: str, display_name: str | None = None,
                program_ids: Sequence[str] = ()) -> User:
    """Creates or updates an account; the password is stored only as a salted scrypt hash."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise ValueError("usernames are 2-64 lowercase letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise ValueError("passwords need at least 10 characters")
    if role == "partner" and not program_ids:
        raise ValueError("a partner account needs at least one program id")
    user = s.scalar(select(User).where(User.username == username)) or User(username=username)
    user.display_name = (display_name or user.display_name or username).strip()[:120]
    user.role = role
    user.program_ids = sorted({p.strip() for p in program_ids if p.strip()}) if role == "partner" else []
    user.active = True
    user.set_password(password)
    user.end_sessions()
    s.add(user)
    s.flush()
    return user


def login_blocked(s: Session, username: str, ip: str, now: datetime) -> bool:
    """True while recent failures for this username or address exceed the limits."""
    since = now - LOGIN_WINDOW
    by_user = s.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.created_at >= since, LoginAttempt.ok.is_(False))) or 0
    by_ip = s.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.ip == ip, LoginAttempt.created_at >= since, LoginAttempt.ok.is_(False))) or 0
    return by_user >= MAX_FAILURES_PER_USER or by_ip >= MAX_FAILURES_PER_IP


def authenticate(s: Session, username: str, password: str, ip: str, now: datetime) -> User | None:
    """Checks a password and records the attempt; None when wrong, unknown or inactive."""
    username = username.strip().lower()[:64]
    user = s.scalar(select(User).where(User.username == username))
    ok = user is not None and user.active and user.check_password(password)
    if user is None:
        # Spend the same time as a real check so response times do not reveal which usernames exist.
        check_password_hash(_dummy_hash(), password)
    s.add(LoginAttempt(username=username, ip=ip[:64], ok=ok, created_at=now))
    if ok and user is not None:
        user.last_login_at = now
        if not user.session_token:
            user.end_sessions()  # an account made before session tokens existed
        return user
    return None


@cache
def _dummy_hash() -> str:
    """A hash to check unknown usernames against, made on the first such sign-in rather than at import."""
    return generate_password_hash("not-a-real-password")


# ---- who sees what -----------------------------------------------------------------------------

def visible(user: User) -> ColumnElement[bool]:
    """The intakes a user may see: all for staff and admins, only their programs' referrals for partners."""
    if user.role in ("admin", "staff"):
        return true()
    if user.role == "partner" and user.program_ids:
        return Intake.id.in_(select(CaseFile.intake_id).where(CaseFile.referred_program.in_(list(user.program_ids))))
    return false()


def can_see(s: Session, user: User, intake_id: int) -> bool:
    return s.scalar(select(Intake.id).where(Intake.id == intake_id, visible(user))) is not None
