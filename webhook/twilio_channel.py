"""Twilio SMS and WhatsApp: verify the signature, parse the form, answer TwiML."""

from __future__ import annotations

import functools
import hmac
import logging
import re
from typing import Any
from urllib.parse import urlparse

import phonenumbers
from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator, add_port, remove_port

from bot.channels import CHANNELS
from bot.messages import InboundMessage
from bot.service import IntakeService
from webhook import twilio_status
from webhook.adapter import Adapter
from webhook.senders import twilio_senders

log = logging.getLogger(__name__)
bp = Blueprint("twilio", __name__)


# Twilio's ids are 34 letters and digits; anything past the column's 64 would be cut into a collision.
SID = re.compile(r"[A-Za-z0-9]{1,64}")
MAX_MEDIA = 10  # Twilio delivers at most ten attachments per message


class BadRequest(ValueError):
    """The request is not a Twilio message we can read."""


def public_url() -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL plus the path when set, else what Flask sees."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        qs = request.query_string.decode("latin-1")
        return base + request.path + (f"?{qs}" if qs else "")
    return request.url


# A person texts from one number many times, and parsing it was 2% of a turn; a refused sender raises and
# so is never kept.
@functools.lru_cache(maxsize=1 << 14)
def normalise_address(raw: str, region: str) -> str:
    """E.164 for phone numbers; short codes and other senders are kept as sent."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise BadRequest(f"unreadable sender {raw!r}") from exc
    if not phonenumbers.is_possible_number(number):
        raise BadRequest(f"impossible sender {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_inbound(form: Any, region: str) -> InboundMessage:
    """A Twilio webhook form -> InboundMessage (SMS, or WhatsApp by its `whatsapp:` prefix)."""
    sender = (form.get("From") or "").strip()
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not sender or not sid:
        raise BadRequest("From and MessageSid are required")
    if not SID.fullmatch(sid):
        raise BadRequest(f"unreadable MessageSid {sid[:80]!r}")
    channel = "sms"
    if sender.lower().startswith("whatsapp:"):
        channel, sender = "whatsapp", sender.split(":", 1)[1]
    raw_media = (form.get("NumMedia") or "0").strip()
    media = int(raw_media) if raw_media.isascii() and raw_media.isdigit() and len(raw_media) < 6 else 0
    return InboundMessage(channel=channel, sender=normalise_address(sender, region), text=form.get("Body") or "",
                          provider_id=sid, media_count=min(media, MAX_MEDIA))


_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>'


def xml_text(text: str) -> str:
    """Character data escaped as the Twilio library's TwiML escapes it (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def twiml(texts: list[str]) -> Response:
    """The replies as TwiML, byte for byte what MessagingResponse writes, built as a string."""
    if not texts:
        body = _XML_DECL + "<Response />"
    else:
        body = _XML_DECL + "<Response>" + "".join(f"<Message>{xml_text(t)}</Message>" for t in texts) + "</Response>"
    return Response(body, status=200, mimetype="text/xml")


@functools.lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def signature_valid(token: str, url: str, form: Any, signature: str) -> bool:
    """RequestValidator.validate for a form post, stopping at the first URL form that matches.

    The library signs the URL with and without its port every time; the form Twilio uses (the URL as
    configured) matches first, so the usual request pays for one HMAC instead of two."""
    validator = _validator(token)
    parsed = urlparse(url)
    first, second = (add_port(parsed), remove_port(parsed)) if parsed.port else (remove_port(parsed), add_port(parsed))
    return any(hmac.compare_digest(validator.compute_signature(u, form).encode(), signature.encode())
               for u in (first, second))


def require_twilio_signature() -> None:
    """Aborts with 403 unless the request carries Twilio's signature for our public URL."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    if not token:
        log.error("TWILIO_AUTH_TOKEN is not set: refusing unsigned Twilio requests")
        abort(403)
    # The header defaults to "": the validator raises TypeError on None, a 500 where 403 belongs.
    if not signature_valid(token, public_url(), request.form, request.headers.get("X-Twilio-Signature", "")):
        log.warning("bad Twilio signature for %s", public_url())
        abort(403)


@bp.post("/webhooks/twilio")
def inbound() -> Response:
    require_twilio_signature()
    form = request.form
    try:
        msg = parse_inbound(form, current_app.config.get("DEFAULT_REGION", "US"))
    except BadRequest as exc:
        log.warning("malformed Twilio webhook: %s", exc)
        abort(400)
    service: IntakeService = current_app.extensions["hrtp"]
    result = service.handle(msg)
    return twiml([m.text for m in result.messages])


ADAPTER = Adapter("twilio", channels=(CHANNELS["sms"], CHANNELS["whatsapp"]), blueprints=(bp, twilio_status.bp),
                  csrf_exempt=True, senders=twilio_senders)
