"""The staff admin: sign-in, the intake list and detail, workflow, messages, programs, metrics, audit log."""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from sqlalchemy.orm import Session

from bot.accounts import authenticate, login_blocked
from bot.audit import audit
from bot.labels import ELIGIBILITY_LABELS, PROGRESS_LABELS, STATUS_LABELS, priority_labels
from bot.models import User, utcnow
from bot.outbound import Outbound
from bot.service import IntakeService

bp = Blueprint("admin", __name__, url_prefix="/admin")
login_manager = LoginManager()
login_manager.login_view = "admin.login"
login_manager.login_message = "Please sign in to see intakes."
login_manager.session_protection = "strong"

LOCAL_TZ = ZoneInfo("America/Los_Angeles")  # staff work in LA County time
F = TypeVar("F", bound=Callable[..., Any])


def service() -> IntakeService:
    return current_app.extensions["hrtp"]


def outbound() -> Outbound:
    """The staff message sender, built once per app from its settings."""
    ob = current_app.extensions.get("hrtp_outbound")
    if ob is None:
        from webhook.queue import queue_of

        svc, queue = service(), queue_of(current_app._get_current_object())  # type: ignore[attr-defined]
        ob = Outbound(svc.db, svc.runtime.i18n, queue.senders, dispatch=queue.nudge, whatsapp=queue.whatsapp)
        current_app.extensions["hrtp_outbound"] = ob
    return ob


@contextmanager
def tx() -> Iterator[Session]:
    """One write transaction for one request's work (every admin request writes at least its audit entry)."""
    with service().db.writing() as s:
        yield s


def client_ip() -> str:
    return request.remote_addr or ""


def me() -> User:
    return current_user._get_current_object()


def roles(*allowed: str) -> Callable[[F], F]:
    """Lets only these roles in; others get 403."""

    def deco(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return deco


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    uid, _, token = user_id.partition(":")
    if not uid.isdigit() or not token:
        return None
    with service().db.session() as s:
        user = s.get(User, int(uid))
        if user is None or not user.active or not hmac.compare_digest(token, user.session_token or ""):
            return None
        s.expunge(user)
        return user


MAX_ROW_ID = 2**31 - 1  # PostgreSQL's integer: a larger id is an error there and an overflow in SQLite
NUMBER_ARGS = ("before", "after", "intake")
DATE_ARGS = ("date_from", "date_to", "from", "to")
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)  # far enough either way; 9999-12-31 + 1 day overflows
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def unreadable_arg(args: Any) -> str | None:
    """Why a query string is not one our pages make (a number, date or character no form sends), or None."""
    for name, raw in args.items(multi=True):
        if name == "next":
            continue  # the sign-in page falls back to the intake list instead
        value = raw.strip()
        if _CONTROL.search(value):
            return f"{name} has a control character in it"
        if not value:
            continue
        if name in NUMBER_ARGS or (name == "assignee" and value != "none"):
            if not (value.isascii() and value.isdigit() and int(value) <= MAX_ROW_ID):
                return f"{name} must be a whole number"
        elif name in DATE_ARGS:
            try:
                day = datetime.strptime(value, "%Y-%m-%d").date()
            except ValueError:
                return f"{name} must be a date like 2026-11-02"
            if not EARLIEST <= day <= LATEST:
                return f"{name} must be a date between {EARLIEST} and {LATEST}"
    return None


@bp.before_request
def refuse_unreadable_args() -> None:
    """A hand-edited or forged link or form gets a 400 that says what is wrong, never a 500."""
    why = unreadable_arg(request.args)
    if why is None and any("\x00" in v for v in request.form.values()):
        why = "a form field has a NUL character in it"  # PostgreSQL refuses NUL in text, and no form sends one
    if why:
        abort(400, description=f"This request cannot be read: {why}. Go back and try again.")


# The only admin pages an outreach-worker account opens: its own counts, and signing in and out.
OUTREACH_ENDPOINTS = frozenset({"admin.outreach", "admin.login", "admin.logout", "admin.home"})


@bp.before_request
def outreach_only_own_counts() -> None:
    """An outreach worker sees counts for their own codes and nothing else: every other admin page is 403."""
    if current_user.is_authenticated and current_user.role == "outreach" and request.endpoint not in OUTREACH_ENDPOINTS:
        abort(403)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: an admin path of this site, or the intake list."""
    target = target or ""
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or "\\" in target or _CONTROL.search(target) or target.startswith("//")
            or not (parts.path == "/admin" or parts.path.startswith("/admin/"))):
        return url_for("admin.intakes")
    return target


@bp.before_request
def idle_sign_out() -> Any:
    """Signs a session out after ADMIN_IDLE_MINUTES without a request (a computer left open at an outreach site)."""
    if not current_user.is_authenticated:
        return None
    now = time.time()
    seen = session.get("seen")
    limit = 60 * int(current_app.config.get("ADMIN_IDLE_MINUTES") or 60)
    if isinstance(seen, (int, float)) and now - seen > limit:
        logout_user()
        session.pop("seen", None)
        flash(f"You were signed out after {limit // 60} minutes without activity. Please sign in again.")
        return redirect(url_for("admin.login"))
    session["seen"] = now
    return None


# ---- sign-in -----------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("admin.outreach" if current_user.role == "outreach" else "admin.intakes"))
    error = None
    status = 200
    if request.method == "POST":
        username = (request.form.get("username") or "").strip().lower()[:64]
        password = request.form.get("password") or ""
        now = utcnow()
        with tx() as s:
            if login_blocked(s, username, client_ip(), now):
                error, status = "Too many failed sign-ins. Wait 15 minutes and try again.", 429
                audit(s, None, "login_blocked", "user", None, {"username": username}, client_ip(), now)
            else:
                user = authenticate(s, username, password, client_ip(), now)
                if user is None:
                    error, status = "That username and password do not match.", 401
                    audit(s, None, "login_failed", "user", None, {"username": username}, client_ip(), now)
                else:
                    audit(s, user, "login", "user", user.id, None, client_ip(), now)
                    s.flush()
                    s.expunge(user)
        if error is None:
            session.clear()  # nothing from before the sign-in carries over into the signed-in session
            login_user(user)
            session["seen"] = time.time()
            # Staff sign-ins end with the browser, so a shared computer at an outreach site forgets them.
            session.permanent = False
            # Only this site's admin paths, so the sign-in page cannot bounce staff elsewhere or split a header.
            if user is not None and user.role == "outreach":
                return redirect(url_for("admin.outreach"))
            return redirect(safe_next(request.args.get("next")))
    return render_template("admin/login.html", error=error), status


@bp.post("/logout")
@login_required
def logout() -> Any:
    with tx() as s:
        audit(s, me(), "logout", "user", me().id, None, client_ip())
        user = s.get(User, me().id)
        if user is not None:
            user.end_sessions()
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("admin.login"))


@bp.get("/")
@login_required
def home() -> Any:
    return redirect(url_for("admin.outreach" if current_user.role == "outreach" else "admin.intakes"))


# ---- page furniture ----------------------------------------------------------------------------

def local(dt: datetime | None, fmt: str = "%b %-d, %Y %-I:%M %p") -> str:
    if dt is None:
        return ""
    return dt.astimezone(LOCAL_TZ).strftime(fmt)


def money(cents: int | None) -> str:
    return "" if cents is None else f"${cents / 100:,.2f}"


def pct(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{x * 100:.{digits}f}%"


def number(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


@bp.after_request
def security_headers(resp: Response) -> Response:
    # Staff pages show personal data: never cached (webhook.security keeps them out of frames and third parties).
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def init_app(app: Flask) -> None:
    """Sets up sign-in, the admin blueprint and its template helpers on an app."""
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 12 * 3600)
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    if app.config.get("SESSION_COOKIE_SECURE"):
        app.config.setdefault("REMEMBER_COOKIE_SECURE", True)
    login_manager.init_app(app)
    from webhook.admin import (  # noqa: F401  (routes register on import)
        callbacks,
        devices,
        flyers,
        intakes,
        programs,
        referrals,
        reminders,
        reports,
    )

    app.register_blueprint(bp)
    app.jinja_env.filters.update(local=local, money=money, pct=pct, number=number)
    rt = app.extensions["hrtp"].runtime
    app.jinja_env.globals.update(STATUS_LABELS=STATUS_LABELS, ELIGIBILITY_LABELS=ELIGIBILITY_LABELS,
                                 PRIORITY_LABELS=priority_labels(rt.rules, rt.bundle.flow),
                                 CHANNEL_LABELS=app.extensions["hrtp_channels"].labels(),
                                 PROGRESS_LABELS=PROGRESS_LABELS)


__all__ = ["bp", "init_app", "outbound", "service", "tx", "me", "roles", "client_ip"]
