"""Twilio delivery-status callbacks for messages staff send: signed like the inbound webhook."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator

from webhook.twilio_channel import public_url

log = logging.getLogger(__name__)
bp = Blueprint("twilio_status", __name__)


@bp.post("/webhooks/twilio/status")
def status_callback() -> Response:
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    if not token:
        log.error("TWILIO_AUTH_TOKEN is not set: refusing unsigned status callbacks")
        abort(403)
    if not RequestValidator(token).validate(public_url(), request.form, request.headers.get("X-Twilio-Signature", "")):
        log.warning("bad Twilio signature on a status callback for %s", public_url())
        abort(403)
    sid = (request.form.get("MessageSid") or request.form.get("SmsSid") or "").strip()
    status = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").strip()
    if not sid or not status:
        abort(400)
    from webhook.admin import outbound

    outbound().update_status(sid, status, (request.form.get("ErrorCode") or "").strip() or None)
    # Twilio only needs a 2xx; an unknown or stale status is not an error worth a retry.
    return Response(status=204)
