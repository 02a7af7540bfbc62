"""The call-back list: people who asked for a call, next window first, with what staff record after each call."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from bot.callbacks import (
    DAYS_LABELS,
    NEW_WINDOW_TEMPLATE,
    STATUS_LABELS,
    WINDOW_LABELS,
    CallBackError,
    call_back_list,
    record_outcome,
)
from bot.models import utcnow
from bot.outbound import OutboundError
from webhook.admin import bp, client_ip, me, outbound, roles, tx


@bp.get("/callbacks")
@roles("admin", "staff")
def callbacks() -> Any:
    with tx() as s:
        rows = call_back_list(s, utcnow())
    return render_template("admin/callbacks.html", rows=rows, WINDOW_LABELS=WINDOW_LABELS, DAYS_LABELS=DAYS_LABELS,
                           CB_STATUS=STATUS_LABELS)


@bp.post("/callbacks/<int:call_back_id>")
@roles("admin", "staff")
def call_back_outcome(call_back_id: int) -> Any:
    outcome = request.form.get("outcome") or ""
    try:
        with tx() as s:
            cb = record_outcome(s, call_back_id, outcome, me(), client_ip(), utcnow())
            intake_id = cb.intake_id
    except CallBackError as exc:
        flash(f"Not recorded: {exc}.", "error")
        return redirect(url_for("admin.callbacks"))
    if outcome != "no_answer":
        flash("Call recorded.")
        return redirect(url_for("admin.callbacks"))
    try:
        msg = outbound().send(intake_id, me(), template=NEW_WINDOW_TEMPLATE, ip=client_ip())
    except OutboundError as exc:
        flash(f"No answer recorded, but no message went out: {exc}.", "error")
        return redirect(url_for("admin.callbacks"))
    if msg.status == "failed":
        flash(f"No answer recorded; the message asking for a new time failed (error {msg.error_code}).", "error")
    else:
        flash("No answer recorded; the person was asked for a new time.")
    return redirect(url_for("admin.callbacks"))
