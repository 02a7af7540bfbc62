"""Intake list, detail, workflow actions, staff messages and the filtered CSV export."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.accounts import can_see, visible
from bot.assisted import addressee
from bot.audit import audit
from bot.export import csv_row, export_columns, record
from bot.facets import sync_facets
from bot.intake_list import PROGRAM_ROLES, IntakeFilter, filter_choices, iter_visible_ids, list_intakes
from bot.labels import answer_label, english, field_label
from bot.models import Answer, CaseFile, Contact, Intake, Message, ReferralCode, User, utcnow
from bot.outbound import ERROR_REASONS, OutboundError, staff_templates
from bot.privacy import erase_intakes
from bot.referrals import used_out_of_dates
from bot.whatsapp import window
from bot.workflow import (
    EXITS,
    PIPELINE,
    STATUSES,
    WorkflowError,
    add_note,
    allowed_transitions,
    assign,
    change_status,
    history,
    refer,
)
from webhook.admin import MAX_ROW_ID, bp, client_ip, me, outbound, roles, service, tx
from webhook.admin.programs import catalog_names

PAGE_SIZE = 50
MAX_WAGE = 10_000  # dollars an hour; more is a typo, and no float past it reaches the database


def _int_arg(name: str) -> int | None:
    v = request.args.get(name, "")
    return int(v) if v.isascii() and v.isdigit() else None  # "²" is a digit to isdigit, not to int


@bp.get("/intakes")
@login_required
def intakes() -> Any:
    f = IntakeFilter.from_args(request.args)
    user = me()
    now = utcnow()
    with tx() as s:
        sync_facets(s, now)
        page = list_intakes(s, user, f, before=_int_arg("before"), after=_int_arg("after"), limit=PAGE_SIZE)
        names = catalog_names()
        choices = filter_choices(s, user, names)
        if f.referral_code and f.referral_code != "(none)" and f.referral_code.upper() not in choices["referral_codes"]:
            choices["referral_codes"].append(f.referral_code.upper())  # an unregistered code typed into the URL
        staff = _staff(s) if not user.is_partner else []
        audit(s, user, "list", "intakes", None, {"filters": f.audited(), "shown": [r.id for r in page.rows]},
              client_ip(), now)
    rt = service().runtime
    flow = rt.bundle.flow
    info = flow.by_role.get("sectors")
    # "Not sure" (an exclusive option) is no sector to filter by.
    sectors = [o for o in info.options if o.id not in flow.by_id[info.step].exclusive] if info else []
    return render_template("admin/intakes.html", page=page, f=f, args=f.active(), choices=choices, staff=staff,
                           languages=rt.bundle.languages, sectors=sectors,
                           statuses=STATUSES, program_roles=PROGRAM_ROLES, names=names)


def _staff(s: Session) -> list[User]:
    return list(s.scalars(select(User).where(User.active.is_(True), User.role.in_(("admin", "staff")))
                          .order_by(User.display_name)))


def _intake_or_404(s: Session, intake_id: int) -> Intake:
    intake = s.get(Intake, intake_id)
    if intake is None or not can_see(s, me(), intake_id):
        abort(404)  # a partner gets the same answer for "not yours" as for "not there"
    return intake


@bp.get("/intakes/<int:intake_id>")
@login_required
def intake(intake_id: int, preview: Any = None, form: Any = None) -> Any:
    user = me()
    rt = service().runtime
    en = rt.i18n("en")
    names = catalog_names()
    with tx() as s:
        intake = _intake_or_404(s, intake_id)
        contact = s.get(Contact, intake.contact_id)
        assert contact is not None
        answers = list(s.scalars(select(Answer).where(Answer.intake_id == intake_id).order_by(Answer.id)))
        messages = list(s.scalars(select(Message).where(Message.intake_id == intake_id).order_by(Message.id)))
        others = list(s.execute(select(Intake.id, Intake.started_at, Intake.first_name, Intake.status,
                                       Intake.review_status, Intake.eligibility)
                                .where(Intake.contact_id == contact.id, Intake.id != intake_id,
                                       visible(user))
                                .order_by(Intake.id.desc())))
        cf = s.get(CaseFile, intake_id)
        timeline = history(s, intake_id, names)
        staff = _staff(s) if not user.is_partner else []
        assignee = s.get(User, cf.assignee_id) if cf and cf.assignee_id else None
        # Computed, not stored: a code's dates edited later re-judge the intakes that used it.
        referral_flag = (used_out_of_dates(s.get(ReferralCode, intake.referral_code), intake.started_at)
                         if intake.referral_code else None)
        wa_window = window(s, contact.id, utcnow()) if contact.channel == "whatsapp" else None
        audit(s, user, "view", "intake", intake_id, None, client_ip())
        s.flush()  # the audit entry must be written before the rows are detached for the template
        s.expunge_all()

    flow = rt.bundle.flow
    langs = {lang.id: lang for lang in rt.bundle.languages}
    sc = intake.screening or {}
    match_names = {m["program"]: english(m.get("name"), en) for m in sc.get("matches", [])}
    program_names = {**match_names, **names}
    # An answer is recorded in the same moment as the message that gave it: what the person typed, beside
    # what was understood, so staff can see a misreading (redacted messages have no text).
    typed_at = {m.created_at: m.text for m in messages if m.direction == "in" and m.text}
    rows = []
    for a in answers:
        step = flow.by_field.get(a.field)
        value = answer_label(flow, langs, a.field, a.value, program_names)
        typed = typed_at.get(a.answered_at)
        if typed and (re.fullmatch(r"[\d\s,;/&+.]+", typed) or typed.strip().casefold() == str(value).casefold()):
            typed = None  # an option's number or its own words say nothing more
        rows.append({"field": a.field, "label": field_label(flow, a.field),
                     "sensitive": a.field in flow.field_info and flow.field_info[a.field].sensitive,
                     "question": (step.prompt or "") if step else "",
                     "value": value, "raw": a.value, "typed": typed, "at": a.answered_at})
    elig = sc.get("eligibility") or {}
    reasons = [{"rule": r["rule"], "result": r["result"], "text": english(r.get("text"), en), "source": r.get("source"),
                "placeholder": r.get("placeholder")} for r in elig.get("reasons", [])]
    matches = [{"program": m["program"], "name": program_names.get(m["program"], m["program"]), "sector": m.get("sector"),
                "score": m.get("score"), "components": m.get("components") or {},
                "reasons": [english(r, en) for r in m.get("reasons", [])]} for m in sc.get("matches", [])]
    refer_options = dict(program_names)
    if intake.program_choice and intake.program_choice != "talk_to_someone":
        refer_options.setdefault(intake.program_choice, intake.program_choice)
    lang = langs.get(intake.language or contact.language or "en")
    return render_template(
        "admin/intake.html", intake=intake, contact=contact, rows=rows, messages=messages, others=others, cf=cf,
        timeline=timeline, staff=staff, assignee=assignee, eligibility=elig, reasons=reasons,
        priority=sc.get("priority") or {}, matches=matches, program_names=program_names,
        refer_options=sorted(refer_options.items(), key=lambda kv: kv[1].lower()),
        transitions=allowed_transitions(intake.review_status or "new"), pipeline=PIPELINE, exits=EXITS,
        templates=staff_templates(), person_language=lang, wa_window=wa_window, wa_templates=outbound().whatsapp,
        error_reasons=ERROR_REASONS, preview=preview, form=form or {},
        support_phone=current_app.config.get("SUPPORT_PHONE", ""),
        can_message=contact.channel in outbound().senders, user=user, referral_flag=referral_flag)


def _back(intake_id: int, anchor: str = "") -> Any:
    return redirect(url_for("admin.intake", intake_id=intake_id) + (f"#{anchor}" if anchor else ""))


@bp.post("/intakes/<int:intake_id>/status")
@login_required
def set_status(intake_id: int) -> Any:
    to = request.form.get("status", "")
    wage_raw = (request.form.get("hourly_wage") or "").strip().lstrip("$").replace(",", "")
    appr = request.form.get("apprenticeship", "")
    wage_cents = None
    if wage_raw:
        try:
            wage = float(wage_raw)
            if not math.isfinite(wage) or not 0 <= wage < MAX_WAGE:  # "inf" and "1e309" are floats too
                raise ValueError(wage_raw)
            wage_cents = round(wage * 100)
        except ValueError:
            flash("The hourly wage must be a number, like 23.50.", "error")
            return _back(intake_id, "workflow")
    apprenticeship = {"yes": True, "no": False}.get(appr)
    now = utcnow()
    try:
        with tx() as s:
            intake = _intake_or_404(s, intake_id)
            before = intake.review_status
            change_status(s, intake, to, me(), now, wage_cents, apprenticeship, request.form.get("reason"))
            audit(s, me(), "status", "intake", intake_id,
                  {"from": before, "to": to, **({"wage_cents": wage_cents, "apprenticeship": apprenticeship}
                                                if to == "placed" else {})}, client_ip(), now)
    except WorkflowError as exc:
        flash(f"Status not changed: {exc}.", "error")
        return _back(intake_id, "workflow")
    flash(f"Status is now {to.replace('_', ' ')}.")
    return _back(intake_id, "workflow")


@bp.post("/intakes/<int:intake_id>/assign")
@roles("admin", "staff")
def set_assignee(intake_id: int) -> Any:
    raw = request.form.get("assignee", "")
    now = utcnow()
    try:
        with tx() as s:
            intake = _intake_or_404(s, intake_id)
            assignee = s.get(User, int(raw)) if raw.isascii() and raw.isdigit() and int(raw) <= MAX_ROW_ID else None
            if raw and assignee is None:
                abort(400)
            assign(s, intake, assignee, me(), now)
            audit(s, me(), "assign", "intake", intake_id, {"assignee": assignee.username if assignee else None},
                  client_ip(), now)
    except WorkflowError as exc:
        flash(f"Not assigned: {exc}.", "error")
        return _back(intake_id, "workflow")
    flash(f"Assigned to {assignee.display_name}." if assignee else "Unassigned.")
    return _back(intake_id, "workflow")


@bp.post("/intakes/<int:intake_id>/refer")
@roles("admin", "staff")
def set_referral(intake_id: int) -> Any:
    program = (request.form.get("program") or "").strip()[:64] or None
    now = utcnow()
    with tx() as s:
        intake = _intake_or_404(s, intake_id)
        refer(s, intake, program, me(), now)
        audit(s, me(), "refer", "intake", intake_id, {"program": program}, client_ip(), now)
    flash(f"Referred to {catalog_names().get(program, program)}." if program else "Referral withdrawn.")
    return _back(intake_id, "workflow")


@bp.post("/intakes/<int:intake_id>/notes")
@login_required
def post_note(intake_id: int) -> Any:
    now = utcnow()
    try:
        with tx() as s:
            intake = _intake_or_404(s, intake_id)
            note = add_note(s, intake, me(), request.form.get("text", ""), now)
            s.flush()
            audit(s, me(), "note", "intake", intake_id, {"note_id": note.id}, client_ip(), now)
    except WorkflowError as exc:
        flash(f"Note not saved: {exc}.", "error")
        return _back(intake_id, "notes")
    flash("Note saved.")
    return _back(intake_id, "notes")


@bp.post("/intakes/<int:intake_id>/messages")
@roles("admin", "staff")
def send_message(intake_id: int) -> Any:
    form = {k: (request.form.get(k) or "") for k in ("template", "text", "date", "time", "place", "phone")}
    template = form["template"] or None
    text = None if template else form["text"]
    params = {k: form[k] for k in ("date", "time", "place", "phone")}
    ob = outbound()
    with tx() as s:
        row = _intake_or_404(s, intake_id)
        contact = s.get(Contact, row.contact_id)
        assert contact is not None
        lang = row.language or contact.language
        whom = addressee(s, row, contact)  # the preview shows "Message for Ana: ..." as the phone will
        for_person = (whom, row.started_at) if whom is not None else None
    if request.form.get("action") == "preview":
        try:
            composed = ob.compose(lang, text, template, params, for_person)
        except OutboundError as exc:
            flash(f"Cannot preview: {exc}.", "error")
            return intake(intake_id, preview=None, form=form)
        return intake(intake_id, preview=composed, form=form)
    try:
        msg = ob.send(intake_id, me(), text=text, template=template, params=params, ip=client_ip())
    except OutboundError as exc:
        flash(f"Not sent: {exc}.", "error")
        return intake(intake_id, preview=None, form=form)
    if msg.status in ("failed", "canceled"):
        flash(f"The message could not be delivered to the channel (error {msg.error_code}). It is kept in the "
              "conversation as failed.", "error")
    elif msg.provider_id:
        flash(f"Message sent ({msg.status}).")
    elif msg.error_code:
        flash(f"The channel did not take the message yet (error {msg.error_code}). It will be tried again shortly.",
              "error")
    else:
        flash("Message queued: it goes out in a moment.")
    return _back(intake_id, "conversation")


@bp.post("/intakes/<int:intake_id>/erase")
@roles("admin")
def erase(intake_id: int) -> Any:
    """Erases an intake at the person's request (by phone, in person): the same erasure as their DELETE."""
    if request.form.get("confirm") != "erase":
        flash("Not erased: tick the box to confirm the person asked for it.", "error")
        return _back(intake_id, "erase")
    now = utcnow()
    with tx() as s:
        intake = _intake_or_404(s, intake_id)
        if intake.status == "erased":
            flash("This intake was already erased.")
            return _back(intake_id)
        erase_intakes(s, [intake_id], now, "staff", me(), client_ip(), service().settings.privacy_key)
    flash("The intake is erased: answers, messages, notes and the contact's details are gone.")
    return _back(intake_id)


# ---- export ------------------------------------------------------------------------------------

@bp.get("/intakes/export.csv")
@login_required
def export_intakes() -> Response:
    """The filtered list as CSV, streamed; the export itself is audited with its filters."""
    f = IntakeFilter.from_args(request.args)
    user = me()
    db = service().db
    flow = service().runtime.bundle.flow
    with tx() as s:
        sync_facets(s)
        audit(s, user, "export", "intakes", None, {"filters": f.audited(), "format": "csv"}, client_ip())

    def generate() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(export_columns(flow))
        yield buf.getvalue()
        with db.session() as s:
            for ids in iter_visible_ids(s, user, f):
                buf.seek(0)
                buf.truncate()
                rows = s.execute(select(Intake, Contact.address).join(Contact, Contact.id == Intake.contact_id)
                                 .where(Intake.id.in_(ids)).order_by(Intake.id)).all()
                answers: dict[int, dict[str, Any]] = {i: {} for i in ids}
                for a in s.execute(select(Answer.intake_id, Answer.field, Answer.value).where(Answer.intake_id.in_(ids))):
                    answers[a.intake_id][a.field] = a.value
                for it, address in rows:
                    writer.writerow(csv_row(record(it, address, answers[it.id]), flow))
                yield buf.getvalue()
                s.expunge_all()

    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="hrtp-intakes-{stamp}.csv"'})
