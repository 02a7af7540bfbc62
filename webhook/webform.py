"""The web intake as a plain HTML form: one question per page, the same engine, no JavaScript needed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from werkzeug.wrappers import Response  # what redirect() returns; flask.Response is a subclass

from intake_flows.detect import link_referral_code
from intake_flows.schema import Step
from intake_flows.text import N_, Msg

from bot import links
from bot.channels import CHANNELS
from bot.engine import LINK_DAYS
from bot.messages import InboundMessage
from bot.models import Answer, Contact, Intake, Message, utcnow
from bot.render import Rendered, for_channel
from bot.service import IntakeService, rendered_from
from webhook.adapter import Adapter
from webhook.webchat import _visitor

bp = Blueprint("webform", __name__)

CHANNEL = "web"  # the form and the chat are one web visitor, so either can carry on the other's intake
WORDING = "form"  # but the form has its own words where the chat's would be wrong (intake_flows/data/channel_wording.yaml)
# Events that mean the answer sent was not taken: the page shows the engine's words as an error.
REFUSED = frozenset({"not_understood", "unreadable", "stale_answer"})
# Browsers fill the fields of these roles from what they know of the person.
AUTOCOMPLETE = {"first_name": "given-name", "residence_zip": "postal-code"}
NUMERIC = frozenset({"zip", "number"})  # step kinds typed with digits

UI = {"title": N_("LA County High Road Training Partnerships"),
      "intro": N_("A free job-training screening, one question per page. It takes about 5 minutes."),
      "start": N_("Start now"),
      "continue": N_("Continue"),
      "back": N_("Back"),
      "skip": N_("Skip this question"),
      "no_address": N_("I don't have a fixed address"),
      "or": N_("or"),
      "problem": N_("There is a problem"),
      "check": N_("Check your answers"),
      "check_intro": N_("Your result is ready. Check your answers first; you can change any of them."),
      "change": N_("Change"),
      "skipped": N_("Not answered"),
      "language": N_("Language"),
      "chat": N_("Prefer to chat? Use the web chat instead."),
      "again": N_("Start over"),
      "message": N_("Your message"),
      "send": N_("Send"),
      "expired": N_("This page was open too long, so we could not take that answer. Please try again."),
      "sms_title": N_("Continue by text message"),
      "sms_intro": N_("Get a code and text it to us from your phone. You carry on there with your answers, and staff can text you."),  # noqa: E501 (a msgid is one string, for translators)
      "sms_get": N_("Get a code"),
      "sms_open": N_("Open my text messages"),
      "sms_linked": N_("Your phone is connected to this intake. You can carry on by text, or here.")}
SMS_SEND = N_("Text this code to %(number)s:")
SMS_EXPIRES = N_("The code works once, for %(days)s days. If you ever texted STOP to this number, text START first.")


@dataclass
class FormPage:
    """What one page shows: the engine's latest words, and the question they end with (if any)."""

    lang: str
    notes: list[Rendered] = field(default_factory=list)
    question: Rendered | None = None
    error: bool = False


def _service() -> IntakeService:
    return current_app.extensions["hrtp"]


def _lang_asked(service: IntakeService) -> str:
    wanted = (request.args.get("lang") or "").strip()
    languages = list(service.runtime.i18n.languages)
    if wanted in languages:
        return wanted
    return request.accept_languages.best_match(languages) or "en"


def ui_for(service: IntakeService, lang: str) -> dict[str, Any]:
    t = service.runtime.i18n(lang)
    return {"lang": t.lang, "dir": "rtl" if t.rtl else "ltr", **{k: t.render(v) for k, v in UI.items()}}


def languages(service: IntakeService) -> list[dict[str, Any]]:
    return [{"id": lang.id, "name": lang.name, "dir": "rtl" if service.runtime.i18n(lang.id).rtl else "ltr"}
            for lang in service.runtime.bundle.languages]


def _intake(service: IntakeService, visitor: str) -> tuple[Contact | None, Intake | None]:
    with service.db.session() as s:
        contact = s.scalar(select(Contact).where(Contact.channel == CHANNEL, Contact.address == visitor))
        if contact is None or contact.active_intake_id is None:
            return contact, None
        return contact, s.get(Intake, contact.active_intake_id)


def current_page(service: IntakeService, visitor: str) -> FormPage | None:
    """The replies to the visitor's last message, as a page; None before they start."""
    with service.db.session() as s:
        contact = s.scalar(select(Contact).where(Contact.channel == CHANNEL, Contact.address == visitor))
        if contact is None:
            return None
        last_in = s.scalar(select(Message).where(Message.contact_id == contact.id, Message.direction == "in")
                           .order_by(Message.id.desc()).limit(1))
        if last_in is None:
            return None
        rows = s.scalars(select(Message).where(Message.in_reply_to_id == last_in.id).order_by(Message.id)).all()
        replies = [rendered_from(r) for r in rows]
        lang = contact.language or (replies[-1].lang if replies else "en")
    question = next((r for r in reversed(replies) if r.asks), None)
    notes = [r for r in replies if r is not question]
    note = session.get("form_refused")
    error = bool(question and note and [question.asks, question.turn] == note and notes)
    return FormPage(lang, notes, question, error)


@dataclass
class Control:
    """How the question is answered on the page: its kind of input and its attributes."""

    kind: str  # radio | checkbox | text
    inputmode: str | None = None
    autocomplete: str | None = None
    skippable: bool = False
    option_lang: bool = False  # options are language names, each read in its own language
    no_address: bool = False  # the ZIP question: "no fixed address" is one press, beside the box


def asked_step(service: IntakeService, step_id: str | None) -> Step | None:
    """The intake's question by id, or a call-back question (asked mid-intake, from callback.yaml)."""
    bundle = service.runtime.bundle
    step = bundle.flow.by_id.get(step_id or "")
    if step is None and bundle.callback is not None:
        step = bundle.callback.by_id.get(step_id or "")
    return step


def control_for(service: IntakeService, question: Rendered) -> Control:
    step = asked_step(service, question.asks)
    # Every question can be skipped by typing SKIP; the button is offered where the question says so.
    can_skip = skippable(service, question.asks)
    if question.buttons:
        return Control("checkbox" if question.multi else "radio", skippable=can_skip,
                       option_lang=bool(step and step.kind == "language"))
    kind = step.kind if step else "text"
    role = step.role if step else None
    return Control("text", inputmode="numeric" if kind in NUMERIC else None,
                   autocomplete=AUTOCOMPLETE.get(role or "", "off"), skippable=can_skip, no_address=kind == "zip")


def skippable(service: IntakeService, step_id: str | None) -> bool:
    """True where the form offers Skip, so that leaving the question blank skips it too."""
    step = asked_step(service, step_id)
    return bool(step and (step.optional or (step.skippable and step.kind == "text")))


def _render(template: str, lang: str, **kw: Any) -> str:
    service = _service()
    ref = (link_referral_code(request.args.get("ref")) or "")
    session["lang"] = lang  # so a refusal that reads no database (the rate limit) still speaks it
    return render_template(template, ui=ui_for(service, lang), languages=languages(service), ref=ref, **kw)


def _sms_number() -> str | None:
    """The number people text, E.164, when the app has one."""
    raw = str(current_app.config.get("SMS_NUMBER") or "").strip()
    try:
        number = phonenumbers.parse(raw, str(current_app.config.get("DEFAULT_REGION") or "US"))
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def sms_panel(service: IntakeService, intake: Intake | None, lang: str) -> dict[str, Any] | None:
    """The result's offer to carry on by text: a button, then the code to text, then that it worked."""
    number = _sms_number()
    if intake is None or not intake.screening or number is None:
        return None
    with service.db.session() as s:
        linked = links.is_linked(s, intake.id)
    held = session.get("link_code")
    code = None
    if isinstance(held, dict) and held.get("intake") == intake.id and not linked:
        if str(held.get("until", "")) > utcnow().isoformat():
            code = str(held.get("code") or "")
    if code is None and held is not None:
        session.pop("link_code", None)
    t = service.runtime.i18n(lang)
    parsed = phonenumbers.parse(number)
    style = phonenumbers.PhoneNumberFormat.NATIONAL if parsed.country_code == 1 else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    # Isolated left to right, so a right-to-left sentence never reorders its digits.
    shown = "\u2066" + phonenumbers.format_number(parsed, style).replace(" ", "\u00a0") + "\u2069"  # and never broken
    return {"linked": linked, "code": code, "spelled": " ".join(code or ""),
            "send": t.render(Msg(SMS_SEND, {"number": shown})),
            "expires": t.render(Msg(SMS_EXPIRES, {"days": LINK_DAYS})),
            # Never fetched from us: the phone's messages app opens with the code typed in.
            "href": f"sms:{number}?&body={code}" if code else None}


@bp.get("/")
@bp.get("/apply")
def question() -> str | Response:
    service = _service()
    visitor = _visitor()
    page = current_page(service, visitor)
    if page is None or (page.question is None and not page.notes):
        return _render("form_start.html", _lang_asked(service))
    contact, intake = _intake(service, visitor)
    if page.question is not None and _moved_on(page.question, contact, intake):
        # The intake went on from a phone it was linked to: ask here what is asked there, in this page's words.
        service.handle(InboundMessage(channel=CHANNEL, sender=visitor, text="", revisit="", wording=WORDING))
        page = current_page(service, visitor) or page
    control = control_for(service, page.question) if page.question else None
    return _render("form_question.html", page.lang, page=page, control=control,
                   sms=sms_panel(service, intake, page.lang))


def _moved_on(question: Rendered, contact: Contact | None, intake: Intake | None) -> bool:
    """True when the page's question is no longer the intake's: another contact answered since."""
    if contact is None or intake is None or contact.opted_out_at is not None or contact.pending_delete:
        return False
    state = intake.state or {}
    asked = "resume" if state.get("pending") == "resume" else state.get("step")
    if state.get("finished") and asked is None:
        return question.asks is not None
    return asked is not None and (question.asks, question.turn) != (asked, state.get("turn", 0))


@bp.post("/apply/text")
def text_code() -> Response:
    """A new link code for the visitor's intake, kept in their session only to show it (the database has its hash)."""
    service = _service()
    _, intake = _intake(service, _visitor())
    if intake is not None and intake.screening and _sms_number() is not None:
        now = utcnow()
        with service.db.writing() as s:
            code = links.issue(s, intake.id, now, service.settings.privacy_key)
        session["link_code"] = {"code": code, "intake": intake.id, "until": (now + links.LIFETIME).isoformat()}
    return redirect(url_for("webform.question") + "#text", code=303)


def _send(text: str, **kw: Any) -> Response:
    """One message from the form to the engine, then the page that shows its replies (never a re-POST)."""
    service = _service()
    msg = InboundMessage(channel=CHANNEL, sender=_visitor(), text=text[:5000], wording=WORDING, **kw)
    result = service.handle(msg)
    kinds = {e.kind for e in result.events}
    # Refused, and the same question asked again: the page shows the engine's words as that question's error.
    session["form_refused"] = [msg.answers_step, msg.answers_turn] if kinds & REFUSED and msg.answers_step else None
    if "screening_completed" in kinds:
        return redirect(url_for("webform.check"), code=303)
    return redirect(url_for("webform.question"), code=303)


@bp.post("/apply/start")
def start() -> Response:
    service = _service()
    ref = (link_referral_code(request.form.get("ref")) or "")
    lang = request.form.get("lang") or ""
    hint = lang if lang in service.runtime.i18n.languages else (
        request.accept_languages.best_match(list(service.runtime.i18n.languages)))
    return _send("", start_payload=ref or None, language_hint=hint)


@bp.post("/apply")
def answer() -> Response | tuple[str, int]:
    step = request.form.get("step") or None
    turn_text = request.form.get("turn") or ""
    if step is not None and len(step) > 64:
        return _bad()
    try:
        turn = int(turn_text) if turn_text else None
    except ValueError:
        return _bad()
    action = request.form.get("action", "continue")
    if action == "back":
        text = "BACK"
    elif action == "skip":
        text = "SKIP"
    elif action == "no_address":
        text = "NONE"  # what the ZIP question takes for no fixed address, in every language
    else:
        # Radio buttons and checkboxes send the numbers the engine gave their options; a text box what was typed.
        text = ",".join(v.strip() for v in request.form.getlist("answer") if v.strip())
        if not text and skippable(_service(), step):
            text = "SKIP"  # left blank where Skip is offered
    return _send(text, answers_step=step, answers_turn=turn)


@bp.post("/apply/language")
def language() -> Response | tuple[str, int]:
    service = _service()
    wanted = request.form.get("lang") or ""
    names = {lang.id: lang.name for lang in service.runtime.bundle.languages}
    if wanted not in names:
        return _bad()
    _, intake = _intake(service, _visitor())
    if intake is None:
        ref = (link_referral_code(request.form.get("ref")) or "") or None
        return redirect(url_for("webform.question", lang=wanted, ref=ref), code=303)
    # Naming a language is how a person switches in any channel; the engine decides what that means now.
    return _send(names[wanted])


@bp.post("/apply/change")
def change() -> Response | tuple[str, int]:
    step = request.form.get("step") or ""
    if not 0 < len(step) <= 64:
        return _bad()
    return _send("", revisit=step)


@bp.post("/apply/new")
def new() -> Response:
    return _send("NEW")


def _answer_label(service: IntakeService, lang: str, step: Step, answers: dict[str, Any], skipped: str) -> list[str]:
    """An answered step's answer in words: option labels for choices, what was typed otherwise."""
    t = service.runtime.i18n(lang)
    labels = {o.id: o.label for o in step.options}
    if step.kind == "flags":
        values = [f for f in step.fields if answers.get(f) == "yes"]
        if not values and any(answers.get(f) == "prefer_not" for f in step.fields):
            values = ["prefer_not"]
        return [t.render(Msg(labels[v])) for v in values or ["none"] if v in labels] or [skipped]
    value = answers.get(step.field or "")
    if value is None:
        return [skipped]
    if step.kind == "yesno":
        return [t.render(Msg(N_("Yes") if value == "yes" else N_("No")))]
    if step.kind == "zip" and value == "none":
        return [t.render(Msg(N_("No fixed address")))]
    if isinstance(value, list):
        return [t.render(Msg(labels[v])) if v in labels else str(v) for v in value]
    return [t.render(Msg(labels[value])) if value in labels else str(value)]


def check_rows(service: IntakeService, intake: Intake) -> list[dict[str, Any]]:
    """The questions the person answered before the result, in flow order, with their answers in words."""
    lang = intake.language or "en"
    t = service.runtime.i18n(lang)
    flow = service.runtime.bundle.flow
    with service.db.session() as s:
        answers = {a.field: a.value for a in s.scalars(select(Answer).where(Answer.intake_id == intake.id))}
    answered = set((intake.state or {}).get("history") or ())
    skipped = t.render(Msg(UI["skipped"]))
    rows = []
    for step in flow.steps:
        if step.kind == "result":
            break
        # The language and the consent to be asked are how the conversation runs, not answers to check.
        if step.id not in answered or step.kind == "language" or step.stop_when or not step.answer_fields:
            continue
        prompt = t.render(for_channel(Msg(step.prompt or ""), WORDING))
        rows.append({"step": step.id, "question": prompt, "answer": _answer_label(service, lang, step, answers, skipped)})
    return rows


@bp.get("/apply/check")
def check() -> str | Response:
    service = _service()
    _, intake = _intake(service, _visitor())
    if intake is None or not intake.screening:
        return redirect(url_for("webform.question"), code=303)
    return _render("form_check.html", intake.language or "en", rows=check_rows(service, intake))


def _bad() -> tuple[str, int]:
    service = _service()
    return _render("form_problem.html", _lang_asked(service), message=ui_for(service, _lang_asked(service))["expired"]), 400


@bp.errorhandler(CSRFError)
def csrf_failed(_: CSRFError) -> tuple[str, int]:
    return _bad()



# A plain HTML form on the web chat's channel: CSRF-protected like the admin's.
ADAPTER = Adapter("webform", channels=(CHANNELS["web"],), blueprints=(bp,), csrf_exempt=False)
