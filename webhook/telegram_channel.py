"""Telegram: check the webhook secret, parse the update, answer through the Bot API with buttons."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import click
from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask.cli import with_appcontext
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, TypeHandler
from telegram.request import HTTPXRequest

from intake_flows.detect import from_locale_tag
from intake_flows.text import N_, Msg

from bot.channels import CHANNELS
from bot.delivery import first_word_to_group, opt_out_contact
from bot.messages import InboundMessage
from bot.outbound import Sender, SendError, SendResult
from bot.render import Rendered
from bot.service import IntakeService
from webhook.adapter import Adapter
from webhook.senders import setting

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

    def send(self, channel: str, address: str, text: str, buttons: list[tuple[str, str]] | None = None) -> SendResult:
        if channel != "telegram":
            raise SendError("no_channel", f"the Telegram bot does not carry the {channel} channel")
        try:
            return SendResult(f"tg:{address}:{self.api.send(address, text, buttons)}", "sent")
        except Forbidden as exc:
            raise SendError("blocked", "the person has blocked the bot") from exc
        except RetryAfter as exc:
            raise SendError("429", f"Telegram asks us to slow down: {exc}", True, retry_after_seconds(exc)) from exc
        except (BadRequest, ChatMigrated, InvalidToken) as exc:
            raise SendError("bad_request", f"Telegram refused the message: {exc}") from exc
        except (NetworkError, TelegramError, TimeoutError) as exc:
            raise SendError("unreachable", f"could not reach Telegram: {exc}", transient=True) from exc


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait a 429 asks for. PTB 22 keeps it as a timedelta and warns on the public int attribute."""
    wait = getattr(exc, "_retry_after", None)
    if not isinstance(wait, timedelta):
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


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


class BotAPI(Protocol):
    """What handling an update needs of the Bot API: a message sent, a button released."""

    def send(self, chat_id: str, text: str, buttons: list[tuple[str, str]] | None = None) -> int: ...

    def answer_callback(self, callback_id: str) -> None: ...


def handle_update(service: IntakeService, api: BotAPI, body: Any, nudge: Callable[[list[int]], Any]) -> None:
    """One update, from the webhook or the poller: parse, handle, and hand the replies to the job queue.

    The replies are in the outbox, committed with the turn: `nudge` (the queue's) sends them in order,
    retries them and keeps to Telegram's limits; a redelivered update (a replay) has nothing new to send.
    BadUpdate for an update we cannot read."""
    parsed = parse_update(body, set(service.runtime.i18n.languages))
    if parsed.blocked_chat:
        opt_out_contact(service.db, "telegram", parsed.blocked_chat, "telegram: bot blocked")
        return
    msg = parsed.message
    if msg is None:
        _quietly(parsed, service, api)
        return
    result = service.handle(msg)
    if result.first_outbox_id is not None:
        nudge([result.first_outbox_id])
    if parsed.callback_id:
        try:
            api.answer_callback(parsed.callback_id)
        except (NetworkError, TelegramError, TimeoutError) as exc:
            # Only the spinner on the button; the answer itself is already in the outbox.
            log.info("Telegram answerCallbackQuery failed for update %s: %s", msg.provider_id, exc)


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
        from webhook.queue import queue_of

        handle_update(service, client(), body, queue_of(current_app._get_current_object()).nudge)  # type: ignore[attr-defined]
    except BadUpdate as exc:
        log.warning("malformed Telegram update: %s", exc)
        abort(400)
    return jsonify(ok=True)


def _quietly(parsed: ParsedUpdate, service: IntakeService, api: BotAPI) -> None:
    """Releases a button we cannot act on, and tells a group, once, to write to the bot privately."""
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


# Seconds between tries of an update whose replies the Bot API refused; polling has no redelivery to lean on.


def poll(service: IntakeService, api: BotAPI, token: str, nudge: Callable[[list[int]], Any], base_url: str = "") -> None:
    """Long-polls getUpdates (after deleting any webhook) and handles each update as the webhook does, until Ctrl-C."""

    async def on_update(update: object, _: Any) -> None:
        if not isinstance(update, Update):
            return
        body = update.to_dict()
        try:
            # Replies that fail are the job queue's to retry; the update itself is handled once.
            await asyncio.to_thread(handle_update, service, api, body, nudge)
        except BadUpdate as exc:
            log.warning("malformed Telegram update: %s", exc)

    builder = Application.builder().token(token)
    if base_url:
        builder = builder.base_url(base_url)
    application = builder.build()
    application.add_handler(TypeHandler(Update, on_update))
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failed: list[BaseException] = []

    async def run() -> None:
        updater = application.updater
        assert updater is not None  # the builder makes one unless told not to
        async with application:
            # Polling deletes any webhook first (Telegram refuses getUpdates while one is set); updates that
            # waited while the bot was down are answered, not dropped.
            await updater.start_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
            await application.start()
            await stop.wait()
            await updater.stop()  # confirms the updates it fetched, so a restart does not fetch them again
            await application.stop()

    def polling() -> None:
        try:
            loop.run_until_complete(run())
        except BaseException as exc:  # noqa: BLE001 (re-raised in the caller's thread below)
            failed.append(exc)
        finally:
            loop.close()
            done.set()

    # A thread and loop of its own: the caller's thread keeps Ctrl-C, and may already run a loop of its own.
    # It waits on an Event, not Thread.join: a join that Ctrl-C interrupts marks a running thread as stopped (3.11).
    done = threading.Event()
    threading.Thread(target=polling, name="telegram-poll").start()
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        with contextlib.suppress(RuntimeError):  # the loop closed on its own meanwhile
            loop.call_soon_threadsafe(stop.set)
        done.wait()
    if failed:
        raise failed[0]


@click.command("telegram-poll")
@with_appcontext
def poll_command() -> None:
    """Run the Telegram bot by long polling, with no public URL (a laptop); Ctrl-C stops it."""
    cfg = current_app.config
    if not cfg.get("TELEGRAM_BOT_TOKEN"):
        raise click.ClickException("set TELEGRAM_BOT_TOKEN first (the token @BotFather gave the bot)")
    schema = current_app.extensions["hrtp_schema"]
    if not schema.usable:
        raise click.ClickException(schema.advice)
    click.echo("Polling Telegram for updates; any webhook is removed (`hrtp-intake telegram-webhook` sets it again). "
               "Ctrl-C stops.")
    from webhook.queue import queue_of

    queue = queue_of(current_app._get_current_object())  # type: ignore[attr-defined]
    if queue.backend != "immediate":
        click.echo("Replies go out through the job queue: keep `hrtp-intake worker` running (./run.sh starts one).")
    try:
        poll(current_app.extensions["hrtp"], client(), cfg["TELEGRAM_BOT_TOKEN"], queue.nudge,
             cfg.get("TELEGRAM_API_BASE_URL") or "")
    except TelegramError as exc:
        raise click.ClickException(f"Telegram refused: {exc}") from exc
    click.echo("Stopped polling Telegram.")


def telegram_senders(config: Mapping[str, Any]) -> dict[str, Sender]:
    """Staff messages through the bot's own Bot API client, when a bot token is set."""
    return {"telegram": TelegramSender(client())} if setting(config, "TELEGRAM_BOT_TOKEN") else {}


ADAPTER = Adapter("telegram", channels=(CHANNELS["telegram"],), blueprints=(bp,), csrf_exempt=True,
                  senders=telegram_senders, commands=(set_webhook_command, poll_command))
