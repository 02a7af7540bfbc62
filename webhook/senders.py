"""Twilio's REST API for staff messages on SMS and WhatsApp (each adapter declares its senders: webhook/channels.py)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.outbound import Sender, SendError, SendResult
from bot.whatsapp import OUTSIDE_WINDOW_CODE

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
# Twilio's codes for a send that will never work: opted out (STOP), not a valid or not a mobile number,
# a region or sender we may not use, a body too long, a free-form WhatsApp message outside the 24-hour window
# (63016). Any other 4xx is also final, bar 429.
PERMANENT_CODES = frozenset({"21610", "21211", "21612", "21614", "21408", "21606", "21617", OUTSIDE_WINDOW_CODE})
# What a code means, where Twilio's own words would not tell staff what to do.
REASONS = {OUTSIDE_WINDOW_CODE: "outside WhatsApp's 24-hour window: only an approved template can reach this person "
                                "until they write again"}
TRANSIENT_CODES = frozenset({"20429", "20500", "20503"})


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class _HttpClient(TwilioHttpClient):
    """Twilio's HTTP client, remembering each thread's last response headers (Retry-After on a 429)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._last = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self._last.headers = None
        response = super().request(*args, **kwargs)
        self._last.headers = response.headers
        return response

    def last_headers(self) -> Mapping[str, str] | None:
        return getattr(self._last, "headers", None)


class TwilioSender:
    """Sends through Twilio's Messages API; `base_url` points it at a test or proxy server instead."""

    def __init__(self, account_sid: str, auth_token: str, sms_from: str = "", whatsapp_from: str = "",
                 messaging_service_sid: str = "", status_callback: str = "", base_url: str = "",
                 http_client: Any = None) -> None:
        self.http = http_client or _HttpClient(TIMEOUT_SECONDS)
        self.client = Client(account_sid, auth_token, http_client=self.http)
        if base_url:
            # The REST client has no documented way to change host; its API domain keeps it here.
            self.client.api.base_url = base_url.rstrip("/")
        self.sms_from = sms_from
        self.whatsapp_from = whatsapp_from or sms_from
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback

    def send(self, channel: str, address: str, text: str) -> SendResult:
        return self._create(channel, address, {"body": text})

    def send_template(self, channel: str, address: str, content_sid: str, variables: str) -> SendResult:
        """An approved template (Content API): ContentSid and ContentVariables go instead of Body."""
        if channel != "whatsapp":
            raise SendError("no_templates", f"approved templates are for WhatsApp, not {channel}")
        kwargs: dict[str, Any] = {"content_sid": content_sid}
        if variables and variables != "{}":
            kwargs["content_variables"] = variables
        return self._create(channel, address, kwargs)

    def _create(self, channel: str, address: str, kwargs: dict[str, Any]) -> SendResult:
        if channel == "whatsapp":
            kwargs["to"] = f"whatsapp:{address}"
            if not self.whatsapp_from:
                raise SendError("no_sender", "no WhatsApp sender number is configured (TWILIO_WHATSAPP_FROM)")
            sender = self.whatsapp_from
            kwargs["from_"] = sender if sender.startswith("whatsapp:") else f"whatsapp:{sender}"
        elif channel == "sms":
            kwargs["to"] = address
            if self.messaging_service_sid:
                kwargs["messaging_service_sid"] = self.messaging_service_sid
            elif self.sms_from:
                kwargs["from_"] = self.sms_from
            else:
                raise SendError("no_sender", "no SMS sender is configured (TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID)")
        else:
            raise SendError("no_channel", f"Twilio does not carry the {channel} channel")
        if self.status_callback:
            kwargs["status_callback"] = self.status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            code = str(exc.code) if exc.code else str(exc.status)
            transient = code not in PERMANENT_CODES and (exc.status == 429 or exc.status >= 500 or code in TRANSIENT_CODES)
            headers = self.http.last_headers() if isinstance(self.http, _HttpClient) else None
            raise SendError(code, REASONS.get(code) or exc.msg or "Twilio refused the message", transient,
                            _retry_after(headers) if exc.status == 429 else None) from exc
        except (TwilioException, OSError) as exc:  # requests' connection errors and timeouts are OSErrors
            raise SendError("unreachable", f"could not reach Twilio: {exc}", transient=True) from exc
        return SendResult(message.sid, (message.status or "queued").lower())


def setting(config: Mapping[str, Any], name: str) -> str:
    """A sender's setting from the app's config, else the environment."""
    return str(config.get(name) or os.environ.get(name) or "")


def twilio_senders(config: Mapping[str, Any]) -> dict[str, Sender]:
    """Twilio for SMS and WhatsApp, when its account is configured."""
    senders: dict[str, Sender] = {}
    sid, token = setting(config, "TWILIO_ACCOUNT_SID"), setting(config, "TWILIO_AUTH_TOKEN")
    if sid and token:
        base = setting(config, "PUBLIC_BASE_URL").rstrip("/")
        twilio = TwilioSender(sid, token, sms_from=setting(config, "TWILIO_FROM_NUMBER"),
                              whatsapp_from=setting(config, "TWILIO_WHATSAPP_FROM"),
                              messaging_service_sid=setting(config, "TWILIO_MESSAGING_SERVICE_SID"),
                              status_callback=f"{base}/webhooks/twilio/status" if base else "",
                              base_url=setting(config, "TWILIO_API_BASE_URL"))
        senders["sms"] = twilio
        senders["whatsapp"] = twilio
    return senders
