"""Outreach workers' phones in the admin: register a phone or Telegram chat for a referral code, list and retire them."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.assisted import DEVICE_CHANNELS, DeviceError, devices, register_device, retire_device, shown_address
from bot.audit import audit
from bot.models import ReferralCode, utcnow
from bot.referrals import normalise_code
from webhook.admin import bp, client_ip, me, roles, service, tx


def _render(code: str, form: dict[str, str], error: str | None = None, status: int = 200) -> Any:
    with service().db.session() as s:
        rows = devices(s, code or None)
        codes = list(s.scalars(select(ReferralCode.code).where(ReferralCode.retired_at.is_(None)).order_by(ReferralCode.code)))
        s.expunge_all()
    return render_template("admin/devices.html", rows=rows, codes=codes, code=code, form=form, error=error,
                           channels=DEVICE_CHANNELS, shown=shown_address), status


@bp.get("/devices")
@roles("admin", "staff")
def outreach_devices() -> Any:
    code = normalise_code(request.args.get("code") or "")
    return _render(code, {"referral_code": code, "channel": "sms", "address": "", "label": ""})


@bp.post("/devices")
@roles("admin", "staff")
def outreach_device_register() -> Any:
    f = request.form
    form = {k: (f.get(k) or "").strip()[:120] for k in ("referral_code", "channel", "address", "label")}
    code = normalise_code(form["referral_code"])
    try:
        with tx() as s:
            row = register_device(s, form["channel"], form["address"], code, form["label"], me(), utcnow(),
                                  service().settings.privacy_key)
            # The address stays out of the audit log, which staff search and export.
            audit(s, me(), "outreach_device_registered", "referral_code", code,
                  {"device_id": row.id, "channel": row.channel}, client_ip(), utcnow())
    except DeviceError as exc:
        return _render(normalise_code(request.args.get("code") or ""), form, str(exc), 400)
    flash(f"Registered. Each person enrolled on that {dict(DEVICE_CHANNELS).get(form['channel'], 'phone')} "
          f"is their own intake with code {code}.")
    return redirect(url_for("admin.outreach_devices", code=code))


@bp.post("/devices/<int:device_id>/retire")
@roles("admin", "staff")
def outreach_device_retire(device_id: int) -> Any:
    with tx() as s:
        row = retire_device(s, device_id, utcnow())
        code = row.referral_code if row is not None else ""
        if row is not None:
            audit(s, me(), "outreach_device_retired", "referral_code", code, {"device_id": device_id}, client_ip(), utcnow())
    flash("Retired. People already enrolled on it keep their intakes; new messages from it are ordinary ones.")
    return redirect(url_for("admin.outreach_devices", code=code))
