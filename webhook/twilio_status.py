"""Twilio delivery-status callbacks for messages staff send: signed like the inbound webhook."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, request

bp = Blueprint("twilio_status", __name__)
ERROR_CODE = re.compile(r"[A-Za-z0-9]{1,16}")  # Twilio's are five digits


@bp.post("/webhooks/twilio/status")
def status_callback() -> Response:
    # Imported here: the Twilio adapter (webhook.twilio_channel) declares this blueprint as part of its channel.
    from webhook.twilio_channel import SID, require_twilio_signature

    require_twilio_signature()
    sid = (request.form.get("MessageSid") or request.form.get("SmsSid") or "").strip()
    status = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").strip()
    if not sid or not status or not SID.fullmatch(sid):
        abort(400)
    from webhook.admin import outbound

    error = (request.form.get("ErrorCode") or "").strip()
    outbound().update_status(sid, status, error if ERROR_CODE.fullmatch(error) else None)
    # Twilio only needs a 2xx; an unknown or stale status is not an error worth a retry.
    return Response(status=204)
