"""A web chat that talks to the same engine, so anyone can try the intake in a browser."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, session

from bot.messages import InboundMessage
from bot.service import IntakeService

bp = Blueprint("webchat", __name__)


def _visitor() -> str:
    if "visitor" not in session:
        session["visitor"] = secrets.token_urlsafe(16)
        session.permanent = True
    return "web:" + session["visitor"]


@bp.get("/")
@bp.get("/chat")
@bp.get("/apply")
def page() -> str:
    ref = (request.args.get("ref") or "").strip()[:32]
    _visitor()
    return render_template("chat.html", ref=ref)


@bp.post("/chat/send")
def send() -> tuple[Response, int] | Response:
    data: Any = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("text", ""), str):
        return jsonify(error="send JSON like {\"text\": \"hello\"}"), 400
    text = data.get("text", "")[:5000]
    ref = data.get("ref") if isinstance(data.get("ref"), str) else None
    service: IntakeService = current_app.extensions["hrtp"]
    # Both hints only count when the message starts an intake; the engine ignores them later.
    lang_hint = request.accept_languages.best_match(list(service.runtime.i18n.languages))
    msg = InboundMessage(channel="web", sender=_visitor(), text=text, start_payload=ref or None,
                         language_hint=lang_hint if lang_hint and lang_hint != "en" else None)
    result = service.handle(msg)
    return jsonify(messages=[
        {"text": m.text, "lang": m.lang, "rtl": service.runtime.i18n(m.lang).rtl,
         "buttons": [{"number": b.number, "label": b.label} for b in m.buttons], "multi": m.multi}
        for m in result.messages])
