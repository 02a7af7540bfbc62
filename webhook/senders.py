"""Channel senders for staff messages: Twilio's REST API for SMS and WhatsApp, and the Telegram bot."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.outbound import SendError, SendResult, Sender

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


class TwilioSender:
    """Sends through Twilio's Messages API; `base_url` points it at a test or proxy server instead."""

    def __init__(self, account_sid: str, auth_token: str, sms_from: str = "", whatsapp_from: str = "",
                 messaging_service_sid: str = "", status_callback: str = "", base_url: str = "",
                 http_client: Any = None) -> None:
        self.client = Client(account_sid, auth_token,
                             http_client=http_client or TwilioHttpClient(timeout=TIMEOUT_SECONDS))
        if base_url:
            # The REST client has no documented way to change host; its API domain keeps it here.
            self.client.api.base_url = base_url.rstrip("/")
        self.sms_from = sms_from
        self.whatsapp_from = whatsapp_from or sms_from
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback

    def send(self, channel: str, address: str, text: str) -> SendResult:
        kwargs: dict[str, Any] = {"body": text}
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
            raise SendError(str(exc.code) if exc.code else str(exc.status), exc.msg or "Twilio refused the message") from exc
        except (TwilioException, OSError) as exc:  # requests' connection errors are OSErrors
            raise SendError("unreachable", f"could not reach Twilio: {exc}") from exc
        return SendResult(message.sid, (message.status or "queued").lower())


def _setting(config: Mapping[str, Any], name: str) -> str:
    return str(config.get(name) or os.environ.get(name) or "")


def senders_from_config(config: Mapping[str, Any]) -> dict[str, Sender]:
    """The senders the settings allow: Twilio for SMS and WhatsApp, the Telegram bot, when configured."""
    senders: dict[str, Sender] = {}
    sid, token = _setting(config, "TWILIO_ACCOUNT_SID"), _setting(config, "TWILIO_AUTH_TOKEN")
    if sid and token:
        base = _setting(config, "PUBLIC_BASE_URL").rstrip("/")
        twilio = TwilioSender(sid, token, sms_from=_setting(config, "TWILIO_FROM_NUMBER"),
                              whatsapp_from=_setting(config, "TWILIO_WHATSAPP_FROM"),
                              messaging_service_sid=_setting(config, "TWILIO_MESSAGING_SERVICE_SID"),
                              status_callback=f"{base}/webhooks/twilio/status" if base else "",
                              base_url=_setting(config, "TWILIO_API_BASE_URL"))
        senders["sms"] = twilio
        senders["whatsapp"] = twilio
    if _setting(config, "TELEGRAM_BOT_TOKEN"):
        from webhook.telegram_channel import TelegramSender, client

        senders["telegram"] = TelegramSender(client())
    return senders
