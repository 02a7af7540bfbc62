"""A web chat that talks to the same engine, so anyone can try the intake in a browser."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from babel.lists import format_list
from flask import Blueprint, Response, current_app, jsonify, render_template, request
from sqlalchemy import select

from intake_flows.text import N_

from bot.channels import CHANNELS
from bot.messages import InboundMessage
from bot.models import Contact, Intake, Message, utcnow
from bot.render import Rendered
from bot.service import IntakeService, rendered_from
from webhook.adapter import Adapter

bp = Blueprint("webchat", __name__)

HISTORY_LIMIT = 200  # messages shown again after a reload; an intake is about 40
# Phones are often shared (a family's, an outreach worker's): once a conversation has been quiet
# this long, a reload opens on an empty page. The intake carries on when the person writes again.
HISTORY_WINDOW = timedelta(hours=2)


def _visitor() -> str:
    from webhook.security import visitor_id  # the chat's own cookie: opening it never widens a staff sign-in

    return "web:" + visitor_id()


# The page's own words, shown in the conversation's language as soon as it is known.
UI = {"title": N_("LA County High Road Training Partnerships"),
      "subtitle": N_("Free job-training screening. Type a message to begin, or HELP at any time."),
      "label": N_("Your message"),
      "placeholder": N_("Type your answer here"),
      "send": N_("Send"),
      "log": N_("Conversation"),
      "offline": N_("Sorry, we could not reach the server. Please try again."),
      "form": N_("Prefer one question per page, or no JavaScript? Use the form instead.")}


def ui_strings(service: IntakeService, lang: str) -> dict[str, str]:
    """The page's labels in one language, with its text direction (fa and ar read right to left)."""
    t = service.runtime.i18n(lang)
    return {"lang": t.lang, "dir": "rtl" if t.rtl else "ltr", **{k: t.render(v) for k, v in UI.items()}}


def _contact(service: IntakeService, visitor: str) -> Contact | None:
    with service.db.session() as s:
        return s.scalar(select(Contact).where(Contact.channel == "web", Contact.address == visitor))


def bot_message(service: IntakeService, m: Rendered) -> dict[str, Any]:
    """One bot message as the page draws it; buttons carry the question they answer."""
    return {"from": "bot", "text": m.text, "lang": m.lang, "rtl": service.runtime.i18n(m.lang).rtl,
            "buttons": [{"number": b.number, "label": b.label} for b in m.buttons], "multi": m.multi,
            "step": m.asks, "turn": m.turn, "live": bool(m.buttons)}


def said_with_buttons(service: IntakeService, text: str, shown: Rendered | None) -> str:
    """What a person's button press said, in words: the labels of the numbers they tapped."""
    if shown is None:
        return text
    labels = {b.number: b.label for b in shown.buttons}
    picked = [labels.get(int(n)) for n in re.findall(r"\d+", text)]
    if not picked or None in picked:
        return text
    return format_list([p for p in picked if p], locale=service.runtime.i18n(shown.lang).locale)


def history(service: IntakeService, visitor: str) -> list[dict[str, Any]]:
    """The conversation so far with the visitor's current intake, so a reload loses nothing."""
    with service.db.session() as s:
        contact = s.scalar(select(Contact).where(Contact.channel == "web", Contact.address == visitor))
        if contact is None or contact.active_intake_id is None:
            return []
        intake = s.get(Intake, contact.active_intake_id)
        if intake is None or utcnow() - intake.updated_at > HISTORY_WINDOW:
            return []
        rows = list(reversed(s.scalars(
            select(Message).where(Message.intake_id == contact.active_intake_id, Message.text.is_not(None))
            .order_by(Message.id.desc()).limit(HISTORY_LIMIT)).all()))
        state = intake.state or {}
        asked = None if contact.pending_delete or contact.opted_out_at else (
            "resume" if state.get("pending") == "resume" else state.get("step"))
        turn = state.get("turn", 0)
    out: list[dict[str, Any]] = []
    shown: dict[tuple[Any, Any], Rendered] = {}
    for row in rows:
        if row.direction == "out":
            r = rendered_from(row)
            if r.asks:
                shown[(r.asks, r.turn)] = r
            out.append(bot_message(service, r))
            continue
        meta = row.meta or {}
        text = row.text or ""
        if meta.get("answers_step"):
            text = said_with_buttons(service, text, shown.get((meta["answers_step"], meta.get("answers_turn"))))
        out.append({"from": "person", "text": text})
    # Only the question being asked now keeps working buttons: the last time it was shown.
    live = next((m for m in reversed(out) if m["from"] == "bot" and m["buttons"]), None)
    for m in out:
        if m["from"] == "bot":
            m["live"] = m is live and asked is not None and (m["step"], m["turn"]) == (asked, turn)
    return out


def _page_language(service: IntakeService, visitor: str) -> str:
    contact = _contact(service, visitor)
    known = contact.language if contact else None
    return known or request.accept_languages.best_match(list(service.runtime.i18n.languages)) or "en"


@bp.get("/chat")
def page() -> str:
    ref = (request.args.get("ref") or "").strip()[:32]
    service: IntakeService = current_app.extensions["hrtp"]
    visitor = _visitor()
    ui = ui_strings(service, _page_language(service, visitor))
    return render_template("chat.html", ref=ref, ui=ui, history=history(service, visitor))


@bp.get("/chat/history")
def transcript() -> Response:
    service: IntakeService = current_app.extensions["hrtp"]
    return jsonify(messages=history(service, _visitor()))


def _bad(why: str) -> tuple[Response, int]:
    return jsonify(error=why), 400


@bp.post("/chat/send")
def send() -> tuple[Response, int] | Response:
    data: Any = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("text", ""), str):
        return _bad("send JSON like {\"text\": \"hello\"}")
    step, turn = data.get("step"), data.get("turn")
    if step is not None and not (isinstance(step, str) and 0 < len(step) <= 64):
        return _bad("\"step\" is the id of the question a button was shown under")
    if turn is not None and (isinstance(turn, bool) or not isinstance(turn, int)):
        return _bad("\"turn\" is the number that came with the button")
    text = data.get("text", "")[:5000]
    ref = data.get("ref") if isinstance(data.get("ref"), str) else None
    service: IntakeService = current_app.extensions["hrtp"]
    # Both hints only count when the message starts an intake; the engine ignores them later.
    lang_hint = request.accept_languages.best_match(list(service.runtime.i18n.languages))
    msg = InboundMessage(channel="web", sender=_visitor(), text=text, start_payload=ref or None,
                         language_hint=lang_hint if lang_hint and lang_hint != "en" else None,
                         answers_step=step, answers_turn=turn)
    result = service.handle(msg)
    last_lang = result.messages[-1].lang if result.messages else None
    messages = [bot_message(service, m) for m in result.messages]
    live = next((m for m in reversed(messages) if m["buttons"]), None)
    for m in messages:
        m["live"] = m is live
    return jsonify(ui=ui_strings(service, last_lang) if last_lang else None, messages=messages)


# JSON in, JSON out: a browser form can never post to it, so it needs no CSRF token.
ADAPTER = Adapter("webchat", channels=(CHANNELS["web"],), blueprints=(bp,), csrf_exempt=True)
