"""A per-client rate limit on the public form and chat, with a polite answer in the person's language."""

from __future__ import annotations

import math
import time
from functools import partial
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request, session
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address

from intake_flows.text import N_, Msg

from bot.service import IntakeService

# Many people share one address (a shelter's wifi, a library, a job fair), and a whole intake on the
# form is about 45 requests, so the default leaves room for several at once.
DEFAULT_LIMIT = "60 per minute; 600 per hour"
SCOPE = "public"  # the form and the chat share one budget: they are one web visitor
TOO_MANY = N_("Too many requests from your connection in a short time. Please wait %(seconds)s seconds, then try again.")


def init_app(app: Flask, blueprints: list[str]) -> Limiter:
    """Limits these blueprints per remote address (after ProxyFix); webhooks and /healthz stay unlimited."""
    # A Redis URL shares the counts among the web processes; memory:// counts per process.
    storage = app.config.get("RATELIMIT_STORAGE_URI") or app.config.get("REDIS_URL") or "memory://"
    # Our own Retry-After (too_many) says the same number of seconds as the page does.
    limiter = Limiter(get_remote_address, app=app, storage_uri=storage, headers_enabled=False,
                      enabled=bool(app.config.get("RATELIMIT_ENABLED", True)), default_limits=[])
    shared = limiter.shared_limit(str(app.config.get("RATE_LIMIT") or DEFAULT_LIMIT), scope=SCOPE)
    for name in blueprints:
        shared(app.blueprints[name])  # type: ignore[call-overload]  # a Blueprint overload exists; mypy misses it
    _only_for(app, limiter, blueprints)
    app.register_error_handler(RateLimitExceeded, too_many)
    app.extensions["hrtp_limiter"] = limiter
    return limiter


def _owned_by(limiter: Limiter, hook: Any) -> bool:
    return getattr(hook, "__self__", None) is limiter or (isinstance(hook, partial) and limiter in hook.args)


def _only_for(app: Flask, limiter: Limiter, blueprints: list[str]) -> None:
    """Moves the limiter's request hooks from every request to these blueprints' requests.

    Flask-Limiter hooks itself into every request and then asks whether a limit applies; for a webhook or
    an admin page, which carry none, that asking was 4% of an SMS turn. Blueprint hooks are Flask's own way
    of running code for some requests only, so webhooks and the admin now never reach the limiter."""
    if not limiter.enabled:
        return  # turned off, it hooks itself into nothing
    registries: tuple[dict[Any, list[Any]], ...] = (app.before_request_funcs, app.after_request_funcs,
                                                     app.teardown_request_funcs)
    for hooks in registries:
        mine = [h for h in hooks.get(None, []) if _owned_by(limiter, h)]
        if not mine:
            raise RuntimeError("Flask-Limiter's request hooks were not found: check webhook/ratelimit.py against it")
        hooks[None] = [h for h in hooks[None] if not _owned_by(limiter, h)]
        for name in blueprints:
            hooks.setdefault(name, []).extend(mine)


def _retry_after(exc: RateLimitExceeded) -> int:
    limiter: Limiter = current_app.extensions["hrtp_limiter"]
    current = limiter.current_limit
    if current is None:
        return int(exc.limit.limit.get_expiry())
    return max(1, math.ceil(current.reset_at - time.time()))


def _language(service: IntakeService) -> str:
    """The page's language without touching the database: the link, the form's last page, the browser."""
    languages = list(service.runtime.i18n.languages)
    for wanted in (request.args.get("lang"), session.get("lang")):
        if isinstance(wanted, str) and wanted in languages:
            return wanted
    return request.accept_languages.best_match(languages) or "en"


def too_many(exc: RateLimitExceeded) -> tuple[str | Response, int, dict[str, str]]:
    """429 with Retry-After: JSON the chat shows as a bot message, a page for everything else."""
    from webhook.webform import languages, ui_for  # the form's page frame; webform imports nothing from here

    service: IntakeService = current_app.extensions["hrtp"]
    seconds = _retry_after(exc)
    lang = _language(service)
    text = service.runtime.i18n(lang).render(Msg(TOO_MANY, {"seconds": seconds}))
    headers = {"Retry-After": str(seconds)}
    if request.path.startswith("/chat/"):
        return jsonify(error=text, retry_after=seconds, lang=lang), 429, headers
    ui = ui_for(service, lang)
    return render_template("form_problem.html", ui=ui, languages=languages(service), ref="", message=text), 429, headers
