"""Headers every response carries, the nonce our own inline scripts run with, and the web chat's own cookie."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Flask, Request, Response, current_app, g, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from jinja2 import BaseLoader, Environment
from markupsafe import Markup

HSTS = "max-age=31536000"  # a year; no includeSubDomains, as the county's other hosts are not ours to pin
VISITOR_COOKIE = "hrtp_chat"
VISITOR_DAYS = 31  # as long as a web-chat conversation was kept before it had its own cookie
_VISITOR = re.compile(r"[A-Za-z0-9_-]{16,64}")
_INLINE = re.compile(r"<(script|style)>")


def csp_nonce() -> str:
    """This response's nonce, made the first time a template asks for it."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)


class NonceLoader(BaseLoader):
    """Gives the bare <script> and <style> tags in our template files this response's nonce.

    Only the template source is rewritten, before any data is rendered into it, so a tag that reached
    a page through data never gets a nonce and the browser refuses to run it."""

    def __init__(self, inner: BaseLoader) -> None:
        self.inner = inner

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Any]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        return _INLINE.sub(r'<\1 nonce="{{ csp_nonce() }}">', source), filename, uptodate

    def list_templates(self) -> list[str]:
        return self.inner.list_templates()


def policy(nonce: str | None) -> str:
    """The Content-Security-Policy of an HTML page: nothing from other sites, and never inside a frame."""
    inline = f" 'nonce-{nonce}'" if nonce else ""
    return (f"default-src 'self'; script-src 'self'{inline}; style-src 'self'{inline}; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def secure_headers(resp: Response) -> Response:
    headers = resp.headers
    # One pass over the headers: werkzeug's setdefault and `in` raise and catch a KeyError for each one
    # missing, which made these four headers 2% of an SMS turn.
    present = {k.lower() for k, _v in headers.items()}

    def default(name: str, value: str) -> None:
        if name.lower() not in present:
            headers.add(name, value)

    default("X-Content-Type-Options", "nosniff")
    default("Referrer-Policy", "same-origin")
    if resp.mimetype == "text/html":
        headers["Content-Security-Policy"] = policy(g.get("csp_nonce"))
        headers["X-Frame-Options"] = "DENY"
    else:
        default("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    # Browsers ignore HSTS over plain http; a deployment behind https says so by PUBLIC_BASE_URL or the proxy.
    if request.is_secure or str(current_app.config.get("PUBLIC_BASE_URL") or "").startswith("https://"):
        default("Strict-Transport-Security", HSTS)
    return set_visitor_cookie(resp)


# ---- the web chat's visitor --------------------------------------------------------------------

def visitor_id() -> str:
    """The web-chat visitor's id, from the chat's own cookie, so opening the chat never changes a staff sign-in."""
    if "visitor" in g:
        return str(g.visitor)
    vid = request.cookies.get(VISITOR_COOKIE, "")
    if not _VISITOR.fullmatch(vid):
        # A conversation begun when the chat lived in the shared session carries on, and that session goes
        # back to ending with the browser (the chat had made it last 31 days).
        old = session.pop("visitor", None) if "visitor" in session else None
        if old is not None:
            session.permanent = False
        vid = old if isinstance(old, str) and _VISITOR.fullmatch(old) else secrets.token_urlsafe(16)
        g.new_visitor = True
    g.visitor = vid
    return vid


def set_visitor_cookie(resp: Response) -> Response:
    if g.get("new_visitor"):
        resp.set_cookie(VISITOR_COOKIE, g.visitor, max_age=VISITOR_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), path="/")
    return resp


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions; a request without the cookie (every webhook) skips building the signer."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()  # what Flask returns then too, less the signer it builds first
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Every response gets the headers; every template can ask for the nonce."""
    app.session_interface = CookieSessions()
    assert app.jinja_loader is not None
    app.jinja_env.loader = NonceLoader(app.jinja_loader)
    app.jinja_env.globals["csp_nonce"] = lambda: Markup.escape(csp_nonce())
    app.after_request(secure_headers)
