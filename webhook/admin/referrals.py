"""Referral codes in the admin (list, add, edit, retire, their links) and outreach workers' own weekly counts."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.audit import audit
from bot.models import ReferralCode, User, utcnow
from bot.referrals import (
    CHANNELS,
    SMALL_COUNT,
    WEEK_COLUMNS,
    CodeForm,
    code_links,
    codes_of,
    normalise_code,
    outreach_users,
    save_code,
    weekly_counts,
)
from webhook.admin import bp, client_ip, me, roles, service, tx


def links_for(code: str) -> dict[str, str]:
    cfg = current_app.config
    return code_links(code, cfg.get("PUBLIC_BASE_URL") or "", cfg.get("TELEGRAM_BOT_USERNAME") or "",
                      cfg.get("SMS_NUMBER") or cfg.get("TWILIO_FROM_NUMBER") or "")


@bp.get("/referral-codes")
@roles("admin", "staff")
def referral_codes() -> Any:
    show = "retired" if request.args.get("show") == "retired" else "active"
    q = select(ReferralCode).order_by(ReferralCode.code)
    q = q.where(ReferralCode.retired_at.is_not(None) if show == "retired" else ReferralCode.retired_at.is_(None))
    with service().db.session() as s:
        rows = list(s.scalars(q))
        workers = {u.id: u.display_name for u in outreach_users(s)}
        s.expunge_all()
    return render_template("admin/referral_codes.html", rows=rows, show=show, links={r.code: links_for(r.code) for r in rows},
                           workers=workers, channel_names=dict(CHANNELS))


def _form_from_request(code: str) -> CodeForm:
    f = request.form
    raw_user = (f.get("outreach_user_id") or "").strip()
    return CodeForm(code=code, organisation=(f.get("organisation") or "").strip(), worker=(f.get("worker") or "").strip(),
                    site=(f.get("site") or "").strip(), active_from=(f.get("active_from") or "").strip(),
                    active_to=(f.get("active_to") or "").strip(), channels=f.getlist("channels"),
                    note=(f.get("note") or "").strip(),
                    outreach_user_id=int(raw_user) if raw_user.isascii() and raw_user.isdigit() and len(raw_user) < 10 else None)


def _check_worker(form: CodeForm, errors: dict[str, str]) -> None:
    if form.outreach_user_id is None:
        if (request.form.get("outreach_user_id") or "").strip():
            errors["outreach_user_id"] = "Choose an outreach-worker account from the list."
        return
    with service().db.session() as s:
        user = s.get(User, form.outreach_user_id)
        if user is None or user.role != "outreach":
            errors["outreach_user_id"] = "Choose an outreach-worker account from the list."


def _render_form(form: CodeForm, is_new: bool, errors: dict[str, str], status: int = 200) -> Any:
    with service().db.session() as s:
        workers = [(u.id, u.display_name) for u in outreach_users(s)]
    return render_template("admin/referral_code_form.html", form=form, is_new=is_new, errors=errors,
                           channels=CHANNELS, workers=workers,
                           links=links_for(form.code) if not is_new else None), status


@bp.route("/referral-codes/new", methods=["GET", "POST"])
@roles("admin", "staff")
def referral_code_new() -> Any:
    if request.method == "GET":
        return _render_form(CodeForm(code="", channels=[k for k, _ in CHANNELS]), True, {})
    form = _form_from_request(normalise_code(request.form.get("code") or ""))
    errors = form.errors()
    _check_worker(form, errors)
    if not errors:
        try:
            with tx() as s:
                row = save_code(s, form, new=True)
                audit(s, me(), "referral_code_saved", "referral_code", row.code, _detail(row, "created"), client_ip(), utcnow())
        except ValueError as exc:
            errors["code"] = str(exc)
    if errors:
        return _render_form(form, True, errors, 400)
    service().forget_referral_codes()
    flash(f"Referral code {form.code} is ready. People can text JOIN {form.code}.")
    return redirect(url_for("admin.referral_code_edit", code=form.code))


@bp.route("/referral-codes/<code>", methods=["GET", "POST"])
@roles("admin", "staff")
def referral_code_edit(code: str) -> Any:
    code = normalise_code(code)
    with service().db.session() as s:
        row = s.get(ReferralCode, code)
        if row is None:
            abort(404)
        s.expunge(row)
    if request.method == "GET":
        form = CodeForm(code=row.code, organisation=row.organisation or "", worker=row.worker or "", site=row.site or "",
                        active_from=row.active_from.isoformat() if row.active_from else "",
                        active_to=row.active_to.isoformat() if row.active_to else "", channels=list(row.channels or []),
                        note=row.note or "", outreach_user_id=row.outreach_user_id)
        return _render_form(form, False, {}) if row.retired_at is None else _render_retired(row)
    if row.retired_at is not None:
        abort(409, description="This code is retired; it can no longer be edited.")
    form = _form_from_request(code)
    errors = form.errors()
    _check_worker(form, errors)
    if errors:
        return _render_form(form, False, errors, 400)
    with tx() as s:
        saved = save_code(s, form, new=False)
        audit(s, me(), "referral_code_saved", "referral_code", saved.code, _detail(saved, "edited"), client_ip(), utcnow())
    flash(f"Saved {code}.")
    return redirect(url_for("admin.referral_code_edit", code=code))


def _render_retired(row: ReferralCode) -> Any:
    with service().db.session() as s:
        workers = {u.id: u.display_name for u in outreach_users(s)}
    return render_template("admin/referral_codes.html", rows=[row], show="retired", links={row.code: links_for(row.code)},
                           workers=workers, channel_names=dict(CHANNELS), single=True)


@bp.post("/referral-codes/<code>/retire")
@roles("admin", "staff")
def referral_code_retire(code: str) -> Any:
    code = normalise_code(code)
    with tx() as s:
        row = s.get(ReferralCode, code)
        if row is None:
            abort(404)
        if row.retired_at is None:
            row.retired_at = utcnow()
            audit(s, me(), "referral_code_retired", "referral_code", code, None, client_ip(), utcnow())
    flash(f"Retired {code}. Intakes that still use it are attributed to it and flagged.")
    return redirect(url_for("admin.referral_codes"))


def _detail(row: ReferralCode, how: str) -> dict[str, Any]:
    return {"how": how, "organisation": row.organisation, "worker": row.worker, "site": row.site,
            "active_from": row.active_from.isoformat() if row.active_from else None,
            "active_to": row.active_to.isoformat() if row.active_to else None, "channels": list(row.channels or []),
            "outreach_user_id": row.outreach_user_id}


# ---- an outreach worker's own page ---------------------------------------------------------------

@bp.get("/outreach")
@roles("outreach")
def outreach() -> Any:
    with service().db.session() as s:
        codes = codes_of(s, me())
        rows = weekly_counts(s, [c.code for c in codes])
        s.expunge_all()
    with tx() as s:
        audit(s, me(), "view", "outreach_counts", None, {"codes": [c.code for c in codes]}, client_ip(), utcnow())
    return render_template("admin/outreach.html", codes=codes, rows=rows, columns=WEEK_COLUMNS, small=SMALL_COUNT,
                           links={c.code: links_for(c.code) for c in codes})
