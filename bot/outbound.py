"""Staff messages to a person: through their own channel, in their language, never after an opt-out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Protocol

from babel.dates import format_date, format_time
from sqlalchemy import select

from intake_flows.text import N_, Msg, verbatim

from bot.assisted import addressee
from bot.audit import audit
from bot.db import Database
from bot.i18n import I18n, Translator
from bot.models import Contact, Intake, Message, User, utcnow
from bot.privacy import same_number, set_opted_out
from bot.sms import segment_info

log = logging.getLogger(__name__)

MAX_LENGTH = 1600  # Twilio refuses longer bodies
# Twilio 21610: the recipient has replied STOP to this sender; "blocked": the person blocked
# the Telegram bot (a 403 from the Bot API). Both mean the person asked for no more messages.
OPTED_OUT_CODES = frozenset({"21610", "blocked"})

# Delivery statuses in the order they can happen; callbacks arrive out of order, so a status only
# ever replaces one ranked lower.
STATUS_RANK = {"queued": 0, "accepted": 0, "scheduled": 0, "sending": 1, "sent": 2, "delivered": 3,
               "undelivered": 3, "failed": 3, "canceled": 3, "read": 4}


class OutboundError(ValueError):
    """A message staff cannot send; `reason` is a stable id, the text says why in plain words."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason


class SendError(Exception):
    """The channel's API refused or could not be reached; `code` is the provider's error code.

    `transient` errors (5xx, timeouts, 429) are worth another try, after `retry_after` seconds when the provider said."""

    def __init__(self, code: str | None, text: str, transient: bool = False, retry_after: float | None = None) -> None:
        super().__init__(text)
        self.code = code
        self.transient = transient
        self.retry_after = retry_after


@dataclass(frozen=True)
class SendResult:
    provider_id: str | None
    status: str = "sent"


class Sender(Protocol):
    """Delivers one text to one address on a channel (Twilio REST for SMS and WhatsApp, ...)."""

    def send(self, channel: str, address: str, text: str) -> SendResult: ...


@dataclass(frozen=True)
class Template:
    id: str
    label: str  # what staff pick, in English
    msgid: str
    params: tuple[str, ...] = ()


TEMPLATES = (
    Template("call_soon", "We will call you",
             N_("Hello from LA County High Road Training Partnerships. "
                "A staff member will call you at this number in the next few days about your training intake.")),
    Template("orientation", "Your orientation is on …",
             N_("Your training orientation is on %(date)s at %(time)s, at %(place)s. Reply here if you cannot come."),
             ("date", "time", "place")),
    Template("call_back", "Please call us back",
             N_("We tried to reach you about your training intake. "
                "Please call us at %(phone)s, or reply here with a good time to call."),
             ("phone",)),
    # Sent by the call-back list's "no answer"; the person's reply is read as the call-back time question.
    Template("callback_new_window", "We missed you: pick a new time",
             N_("Sorry we missed you when we called about your training intake. When is a good time to try again? Reply with weekday or weekend and morning, afternoon or evening, or SKIP.")),  # noqa: E501 (a msgid is one string, for translators)
)
TEMPLATES_BY_ID = {t.id: t for t in TEMPLATES}


@dataclass(frozen=True)
class Composed:
    text: str
    lang: str
    translated: bool  # False when the person's language has no translation yet and English goes out
    segments: int
    encoding: str


def template_params(template: Template, params: Mapping[str, str], t: Translator) -> dict[str, Any]:
    """Validates and formats a template's parameters in the person's locale."""
    out: dict[str, Any] = {}
    for name in template.params:
        raw = (params.get(name) or "").strip()
        if not raw:
            raise OutboundError("missing_param", f"the template needs a {name}")
        if name == "date":
            try:
                out[name] = verbatim(format_date(date.fromisoformat(raw), "full", locale=t.locale))
            except ValueError as exc:
                raise OutboundError("bad_param", "the date must look like 2026-11-20") from exc
        elif name == "time":
            try:
                out[name] = verbatim(format_time(time.fromisoformat(raw), "short", locale=t.locale))
            except ValueError as exc:
                raise OutboundError("bad_param", "the time must look like 09:30") from exc
        else:
            out[name] = verbatim(raw[:200])
    return out


class Outbound:
    """Composes, records and sends staff messages, and follows their delivery status."""

    def __init__(self, db: Database, i18n: I18n, senders: Mapping[str, Sender],
                 dispatch: Callable[[Sequence[int]], None] | None = None) -> None:
        self.db = db
        self.i18n = i18n
        self.senders = dict(senders)
        # Hands committed outbox rows to the job queue; without one (scripts, tests) they are sent right here.
        self.dispatch = dispatch or self._send_here

    def _send_here(self, outbox_ids: Sequence[int]) -> None:
        from bot.outbox import Courier, default_transport

        courier = Courier(self.db, default_transport(self.senders))
        for outbox_id in outbox_ids:
            courier.deliver(outbox_id)

    def compose(self, lang: str | None, text: str | None = None, template: str | None = None,
                params: Mapping[str, str] | None = None, for_person: tuple[str, datetime] | None = None) -> Composed:
        """The text that would go out: a template in the person's language, or staff's own words.

        `for_person` (a first name, or "", and when the intake started) names whom it is for, on a shared phone."""
        t = self.i18n(lang)
        if template:
            tpl = TEMPLATES_BY_ID.get(template)
            if tpl is None:
                raise OutboundError("unknown_template", f"there is no template {template!r}")
            body = t.render(Msg(tpl.msgid, template_params(tpl, params or {}, t)))
            translated = t.lang == "en" or t.gettext(tpl.msgid) != tpl.msgid
        else:
            body = (text or "").strip()
            translated = True
        if not body:
            raise OutboundError("empty", "the message is empty")
        if for_person is not None:
            name, started = for_person
            if name:
                body = t.render(Msg(N_("Message for %(name)s: %(message)s"), {"name": verbatim(name), "message": verbatim(body)}))
            else:
                body = t.render(Msg(N_("Message for the person whose intake was started on %(date)s: %(message)s"),
                                    {"date": verbatim(format_date(started.date(), "medium", locale=t.locale)),
                                     "message": verbatim(body)}))
        if len(body) > MAX_LENGTH:
            raise OutboundError("too_long", f"messages can be at most {MAX_LENGTH} characters")
        info = segment_info(body)
        return Composed(body, t.lang, translated, info.segments, info.encoding)

    def send(self, intake_id: int, user: User, text: str | None = None, template: str | None = None,
             params: Mapping[str, str] | None = None, ip: str | None = None, now: datetime | None = None) -> Message:
        """Records the message and its outbox row in one transaction, then hands it to the queue to send."""
        from bot.outbox import add  # bot.outbox builds on this module's SendError and Sender

        now = now or utcnow()
        with self.db.writing() as s:
            intake = s.get(Intake, intake_id)
            if intake is None:
                raise OutboundError("not_found", "there is no such intake")
            contact = s.get(Contact, intake.contact_id)
            assert contact is not None
            # STOP by SMS also covers the same number on WhatsApp, and the other way round.
            if any(c.opted_out_at is not None for c in same_number(s, contact)):
                raise OutboundError("opted_out", "this person texted STOP: they get no more messages until they opt back in")
            if intake.status in ("erased", "declined"):
                raise OutboundError("no_consent", "this person declined or erased their intake, so we do not message them")
            sender = self.senders.get(contact.channel)
            if sender is None:
                raise OutboundError("no_channel", f"messages cannot be sent on the {contact.channel} channel from here")
            # A phone several people's intakes go through (NEW, an outreach worker's) reads whom each message is for.
            whom = addressee(s, intake, contact)
            composed = self.compose(intake.language or contact.language, text, template, params,
                                    (whom, intake.started_at) if whom is not None else None)
            msg = Message(contact_id=contact.id, intake_id=intake.id, direction="out", channel=contact.channel,
                          text=composed.text, language=composed.lang, segments=composed.segments,
                          encoding=composed.encoding, status="queued", created_at=now,
                          meta={"staff": user.username, "staff_user_id": user.id,
                                **({"template": template} if template else {})})
            s.add(msg)
            s.flush()
            audit(s, user, "message", "intake", intake.id, {"message_id": msg.id, "template": template}, ip, now)
            row = add(s, msg, contact.address, now)
        # Sending happens after the commit (no database lock is held while an API call runs), and only if it committed.
        self.dispatch([row.id])
        with self.db.session() as s:
            sent = s.get(Message, msg.id)
            assert sent is not None
            return sent

    def update_status(self, provider_id: str, status: str, error_code: str | None = None,
                      now: datetime | None = None) -> bool:
        """Applies a delivery-status callback; a status never replaces a later one."""
        status = (status or "").strip().lower()
        if status not in STATUS_RANK or not provider_id:
            return False
        with self.db.writing() as s:
            msg = s.scalar(select(Message).where(Message.provider_id == provider_id[:64], Message.direction == "out"))
            if msg is None:
                return False
            if STATUS_RANK[status] > STATUS_RANK.get(msg.status or "queued", 0):
                msg.status = status
                if error_code:
                    msg.error_code = error_code[:16]
                meta = dict(msg.meta or {})
                meta.setdefault("status_at", {})[status] = (now or utcnow()).isoformat()
                msg.meta = meta
                if error_code in OPTED_OUT_CODES:
                    self._carrier_opt_out(s, msg.contact_id, now or utcnow())
                return True
            return False

    def _carrier_opt_out(self, s: Any, contact_id: int, now: datetime) -> None:
        # The carrier says this person opted out (e.g. STOP to a Messaging Service); honour it here too.
        contact = s.get(Contact, contact_id)
        if contact is not None and contact.opted_out_at is None:
            set_opted_out(s, contact, True, "carrier:21610", now)
