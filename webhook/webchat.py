"""A web chat that talks to the same engine, so anyone can try the intake in a browser."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, session

from sqlalchemy import select

from intake_flows.text import N_

from bot.messages import InboundMessage
from bot.service import IntakeService
from bot.store import Contact

bp = Blueprint("webchat", __name__)


def _visitor() -> str:
    from webhook.security import visitor_id  # the chat's own cookie: opening it never widens a staff sign-in

    return "web:" + visitor_id()


# The page's own words, shown in the conversation's language as soon as it is known.
UI = {"title": N_("LA County High Road Training Partnerships"),
      "subtitle": N_("Free job-training screening. Type a message to begin, or HELP at any time."),
      "label": N_("Your message"),
      "placeholder": N_("Type your answer here"),
      "send": N_("Send"),
      "offline": N_("Sorry, we could not reach the server. Please try again.")}


def ui_strings(service: IntakeService, lang: str) -> dict[str, str]:
    """The page's labels in one language, with its text direction (fa and ar read right to left)."""
    t = service.runtime.i18n(lang)
    return {"lang": t.lang, "dir": "rtl" if t.rtl else "ltr", **{k: t.render(v) for k, v in UI.items()}}


def _page_language(service: IntakeService, visitor: str) -> str:
    with service.db.session() as s:
        known = s.scalar(select(Contact.language).where(Contact.channel == "web", Contact.address == visitor))
    return known or request.accept_languages.best_match(list(service.runtime.i18n.languages)) or "en"


@bp.get("/")
@bp.get("/chat")
@bp.get("/apply")
def page() -> str:
    ref = (request.args.get("ref") or "").strip()[:32]
    service: IntakeService = current_app.extensions["hrtp"]
    ui = ui_strings(service, _page_language(service, _visitor()))
    return render_template("chat.html", ref=ref, ui=ui)


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
    last_lang = result.messages[-1].lang if result.messages else None
    return jsonify(ui=ui_strings(service, last_lang) if last_lang else None, messages=[
        {"text": m.text, "lang": m.lang, "rtl": service.runtime.i18n(m.lang).rtl,
         "buttons": [{"number": b.number, "label": b.label} for b in m.buttons], "multi": m.multi}
        for m in result.messages])
