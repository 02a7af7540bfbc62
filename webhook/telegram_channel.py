"""Telegram: check the webhook secret, parse the update, answer through the Bot API with buttons."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask.cli import with_appcontext
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Forbidden, NetworkError, TelegramError
from telegram.request import HTTPXRequest

from intake_flows.detect import from_locale_tag
from intake_flows.text import Msg, N_

from bot.delivery import first_word_to_group, opt_out_contact, record_replies_sent, reply_statuses
from bot.messages import InboundMessage
from bot.outbound import SendError, SendResult
from bot.render import Rendered
from bot.service import IntakeService

log = logging.getLogger(__name__)
bp = Blueprint("telegram", __name__)
T = TypeVar("T")

MAX_TEXT = 4096  # sendMessage's limit after entity parsing
# Telegram's update and chat ids have at most 52 significant bits; anything larger is not from Telegram.
MAX_ID = 2**52
HANDLED = ("message", "callback_query", "my_chat_member")
GROUP_NOTICE = N_("Hello! To keep your answers private, I only do intakes in a private chat. "
                  "Please tap my name and send me a message there.")
MAX_CALLBACK = 64  # bytes of callback_data
# A button's callback_data: its number, and the question (step id and turn) it was shown under.
CALLBACK = re.compile(r"^(\d{1,3}):([a-z0-9_]{1,40}):(\d{1,9})$")


class BadUpdate(ValueError):
    """The update is not one we can read."""


@dataclass(frozen=True)
class ParsedUpdate:
    message: InboundMessage | None
    callback_id: str | None = None
    blocked_chat: str | None = None
    group_chat: str | None = None  # a group or channel: no intakes there, only a pointer to a private chat
    language: str | None = None


def _id(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not -MAX_ID < value < MAX_ID:
        raise BadUpdate(f"not a Telegram id: {str(value)[:40]!r}")
    return value


def _text(value: Any) -> str:
    if value is not None and not isinstance(value, str):
        raise BadUpdate("text that is not a string")
    return value or ""


def _language(user: Any, supported: set[str]) -> str | None:
    code = getattr(user, "language_code", None)
    return from_locale_tag(code, supported) if isinstance(code, str) else None


def _group(chat: Any) -> bool:
    return chat.type != "private" or chat.id < 0


def parse_update(data: Any, supported: set[str]) -> ParsedUpdate:
    """A Bot API update -> InboundMessage (text, button press or /start payload)."""
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int) or isinstance(data["update_id"], bool):
        raise BadUpdate("not a Telegram update")
    if not 0 <= data["update_id"] < MAX_ID:
        raise BadUpdate("an update id Telegram never sends")
    if not any(k in data for k in HANDLED):
        return ParsedUpdate(None)  # polls, reactions, joins...: nothing for the intake, and no reason to resend
    try:
        update = Update.de_json(data, None)
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
        # PTB trusts the shape of nested objects; a mangled one (a date past year 9999) fails with any of these.
        raise BadUpdate(str(exc)) from exc
    provider_id = f"tg:{update.update_id}"
    member = update.my_chat_member
    if member is not None:
        if getattr(member.new_chat_member, "status", None) == "kicked" and member.chat is not None:
            return ParsedUpdate(None, blocked_chat=str(_id(member.chat.id)))
        return ParsedUpdate(None)  # added to a group, promoted, ...: nothing for the intake
    if update.callback_query is not None:
        query = update.callback_query
        chat = query.message.chat if query.message is not None else None
        if chat is None:
            # A button under an old or inline message: there is no chat to answer in, only the button to release.
            return ParsedUpdate(None, callback_id=_text(query.id) or None)
        _id(chat.id)
        if _group(chat):
            return ParsedUpdate(None, callback_id=_text(query.id) or None, group_chat=str(chat.id),
                                language=_language(query.from_user, supported))
        data_ = _text(query.data)
        if not data_:
            return ParsedUpdate(None, callback_id=_text(query.id) or None)
        # Keyboards stay under old messages for good: the question a button belongs to goes with it.
        pressed = CALLBACK.match(data_)
        text, step, turn = (pressed[1], pressed[2], int(pressed[3])) if pressed else (data_[:MAX_CALLBACK], None, None)
        msg = InboundMessage("telegram", str(chat.id), text, provider_id,
                             language_hint=_language(query.from_user, supported),
                             answers_step=step, answers_turn=turn)
        return ParsedUpdate(msg, callback_id=_text(query.id) or None)
    message = update.message
    if message is None or message.chat is None:
        return ParsedUpdate(None)  # edits, channel posts, joins: nothing for the intake
    _id(message.chat.id)
    if _group(message.chat):
        return ParsedUpdate(None, group_chat=str(message.chat.id), language=_language(message.from_user, supported))
    text = _text(message.text) or _text(message.caption)
    media = sum(1 for part in (message.photo, message.document, message.voice, message.video, message.sticker,
                               message.audio, message.video_note) if part)
    payload = None
    if text.startswith("/start "):
        # Deep link t.me/<bot>?start=<code>: up to 64 characters of A-Z a-z 0-9 _ -.
        payload, text = text.split(" ", 1)[1].strip()[:64] or None, "/start"
    return ParsedUpdate(InboundMessage("telegram", str(message.chat.id), text, provider_id, media_count=media,
                                       language_hint=_language(message.from_user, supported),
                                       start_payload=payload))


class TelegramClient:
    """One PTB Bot on its own event loop thread, shared by every request of this process."""

    def __init__(self, token: str, base_url: str = "") -> None:
        self.token = token
        self.base_url = base_url
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bot: Bot | None = None

    def _start(self) -> tuple[asyncio.AbstractEventLoop, Bot]:
        with self._lock:
            if self._loop is None or self._bot is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="telegram-bot-api", daemon=True).start()
                kwargs: dict[str, Any] = {"request": HTTPXRequest(connection_pool_size=8)}
                if self.base_url:
                    kwargs["base_url"] = self.base_url
                self._bot = Bot(self.token, **kwargs)
                self._loop = loop
            return self._loop, self._bot

    def run(self, make: Callable[[Bot], Coroutine[Any, Any, T]], timeout: float = 10) -> T:
        loop, bot = self._start()
        return asyncio.run_coroutine_threadsafe(make(bot), loop).result(timeout)

    def send(self, chat_id: str, text: str, buttons: list[tuple[str, str]] | None = None) -> int:
        markup = (InlineKeyboardMarkup([[InlineKeyboardButton(label[:64], callback_data=data)] for label, data in buttons])
                  if buttons else None)
        message = self.run(lambda bot: bot.send_message(chat_id=int(chat_id), text=text[:MAX_TEXT], reply_markup=markup))
        return message.message_id

    def answer_callback(self, callback_id: str) -> None:
        self.run(lambda bot: bot.answer_callback_query(callback_id))

    def set_webhook(self, url: str, secret: str) -> bool:
        return self.run(lambda bot: bot.set_webhook(url=url, secret_token=secret, allowed_updates=Update.ALL_TYPES))


class TelegramSender:
    """Staff messages to a Telegram chat, through the same Bot API client as the bot's replies."""

    def __init__(self, api: TelegramClient) -> None:
        self.api = api

    def send(self, channel: str, address: str, text: str) -> SendResult:
        if channel != "telegram":
            raise SendError("no_channel", f"the Telegram bot does not carry the {channel} channel")
        try:
            return SendResult(f"tg:{address}:{self.api.send(address, text)}", "sent")
        except Forbidden as exc:
            raise SendError("blocked", "the person has blocked the bot") from exc
        except (NetworkError, TelegramError, TimeoutError) as exc:
            raise SendError("unreachable", f"could not reach Telegram: {exc}") from exc


def telegram_text(m: Rendered) -> tuple[str, list[tuple[str, str]]]:
    """Single choices become buttons; several-at-once choices stay typed numbers, as on SMS."""
    if not m.buttons:
        return m.text, []
    if m.multi:
        return m.text + "".join(f"\n{b.number}) {b.label}" for b in m.buttons), []
    return m.text, [(b.label, callback_data(b.number, m)) for b in m.buttons]


def callback_data(number: int, m: Rendered) -> str:
    data = f"{number}:{m.asks}:{m.turn}"
    return data if m.asks and m.turn is not None and CALLBACK.match(data) and len(data) <= MAX_CALLBACK else str(number)


def client() -> TelegramClient:
    ext = current_app.extensions
    if "telegram_client" not in ext:
        ext["telegram_client"] = TelegramClient(current_app.config["TELEGRAM_BOT_TOKEN"],
                                                current_app.config.get("TELEGRAM_API_BASE_URL") or "")
    return ext["telegram_client"]


@bp.post("/webhooks/telegram")
def inbound() -> Response | tuple[Response, int]:
    secret = (current_app.config.get("TELEGRAM_WEBHOOK_SECRET") or "").encode()
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode("utf-8", "replace")
    # Compare bytes: compare_digest on a non-ASCII str raises TypeError (a 500 where 403 belongs).
    if not secret or not current_app.config.get("TELEGRAM_BOT_TOKEN") or not hmac.compare_digest(given, secret):
        abort(403)
    service: IntakeService = current_app.extensions["hrtp"]
    try:
        # Parsed here, not by get_json: deeply nested JSON raises RecursionError, which Flask lets through.
        body = json.loads(request.get_data())
    except (ValueError, RecursionError):
        log.warning("unreadable Telegram update body")
        abort(400)
    try:
        parsed = parse_update(body, set(service.runtime.i18n.languages))
    except BadUpdate as exc:
        log.warning("malformed Telegram update: %s", exc)
        abort(400)
    if parsed.blocked_chat:
        opt_out_contact(service.db, "telegram", parsed.blocked_chat, "telegram: bot blocked")
        return jsonify(ok=True)
    msg = parsed.message
    if msg is None:
        _quietly(parsed, service)
        return jsonify(ok=True)
    result = service.handle(msg)
    # A redelivery after a failure part-way sends only the replies that did not go out the first time.
    done = reply_statuses(service.db, "telegram", msg.provider_id or "") if result.replayed else []
    if done and all(st == "sent" for st in done):
        return jsonify(ok=True)
    api = client()
    outcomes: list[tuple[str | None, str, str | None]] = []
    try:
        if parsed.callback_id:
            api.answer_callback(parsed.callback_id)
        for i, m in enumerate(result.messages):
            if i < len(done) and done[i] == "sent":
                outcomes.append((None, "sent", None))  # keeps the id it was sent with
                continue
            text, buttons = telegram_text(m)
            outcomes.append((f"tg:{msg.sender}:{api.send(msg.sender, text, buttons)}", "sent", None))
    except Forbidden:
        # Telegram's STOP: the person blocked the bot. Keep quiet from now on.
        opt_out_contact(service.db, "telegram", msg.sender, "telegram: bot blocked")
        return jsonify(ok=True)
    except (NetworkError, TelegramError, TimeoutError) as exc:
        log.warning("Telegram Bot API failed for update %s: %s", msg.provider_id, exc)
        record_replies_sent(service.db, "telegram", msg.provider_id or "", outcomes)
        # A non-2xx makes Telegram deliver the update again; the replay re-sends the same replies.
        return jsonify(ok=False), 502
    record_replies_sent(service.db, "telegram", msg.provider_id or "", outcomes)
    return jsonify(ok=True)


def _quietly(parsed: ParsedUpdate, service: IntakeService) -> None:
    """Releases a button we cannot act on, and tells a group, once, to write to the bot privately."""
    api = client()
    try:
        if parsed.callback_id:
            api.answer_callback(parsed.callback_id)
        if parsed.group_chat and first_word_to_group(service.db, parsed.group_chat):
            api.send(parsed.group_chat, service.runtime.i18n(parsed.language).render(Msg(GROUP_NOTICE)))
    except (NetworkError, TelegramError, TimeoutError) as exc:
        # Nothing to retry for: the update asked nothing of the intake.
        log.info("Telegram Bot API call for a group or stray button failed: %s", exc)


@click.command("telegram-webhook")
@with_appcontext
def set_webhook_command() -> None:
    """Point the Telegram bot at PUBLIC_BASE_URL/webhooks/telegram with the webhook secret."""
    cfg = current_app.config
    missing = [k for k in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "PUBLIC_BASE_URL") if not cfg.get(k)]
    if missing:
        raise click.ClickException(f"set {', '.join(missing)} first")
    url = cfg["PUBLIC_BASE_URL"].rstrip("/") + "/webhooks/telegram"
    try:
        client().set_webhook(url, cfg["TELEGRAM_WEBHOOK_SECRET"])
    except TelegramError as exc:
        raise click.ClickException(f"Telegram refused: {exc}") from exc
    click.echo(f"Telegram now delivers updates to {url}")
