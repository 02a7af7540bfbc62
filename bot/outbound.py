"""Staff messages to a person: through their own channel, in their language, never after an opt-out."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import yaml
from babel.dates import format_date, format_time
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select

from intake_flows.schema import DATA_DIR, FlowError
from intake_flows.text import Msg, verbatim

from bot.assisted import addressee
from bot.assisted import for_person as named  # compose() has a parameter of that name
from bot.audit import audit
from bot.db import Database
from bot.i18n import I18n, Translator
from bot.models import Contact, Intake, Message, User, utcnow
from bot.privacy import set_opted_out, unreachable
from bot.sms import segment_info
from bot.whatsapp import OUTSIDE_WINDOW_CODE, REASON, REFUSED, MissingVariable, WhatsAppTemplates, window

log = logging.getLogger(__name__)

MAX_LENGTH = 1600  # Twilio refuses longer bodies
# Twilio 21610: the recipient has replied STOP to this sender; "blocked": the person blocked
# the Telegram bot (a 403 from the Bot API). Both mean the person asked for no more messages.
OPTED_OUT_CODES = frozenset({"21610", "blocked"})
# Error codes staff see beside a failed message, said in plain words.
ERROR_REASONS = {REFUSED: "not sent: outside WhatsApp's 24-hour window, and no approved template for it",
                 OUTSIDE_WINDOW_CODE: "WhatsApp refused it: outside the 24-hour window, only approved templates go"}

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


@runtime_checkable
class TemplateSender(Protocol):
    """A sender that can also send an approved template (Twilio's ContentSid, with its variables as JSON)."""

    def send_template(self, channel: str, address: str, content_sid: str, variables: str) -> SendResult: ...


@dataclass(frozen=True)
class Template:
    id: str
    label: str  # what staff pick, in English
    msgid: str
    params: tuple[str, ...] = ()


TEMPLATES_PATH = DATA_DIR / "staff_messages.yaml"
# The message form's fields (webhook/admin/intakes.py); a template can ask only for these.
FORM_PARAMS = frozenset({"date", "time", "place", "phone"})
_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class _TemplateEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    staff_label: str
    text: str
    params: tuple[str, ...] = ()


class _TemplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    templates: tuple[_TemplateEntry, ...]


@functools.cache
def staff_templates(path: Path = TEMPLATES_PATH) -> tuple[Template, ...]:
    """The staff message templates (staff_messages.yaml), read and checked once; errors name the file and entry."""
    try:
        doc = _TemplateFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise FlowError(f"{path}: {exc}") from exc
    out: list[Template] = []
    for i, e in enumerate(doc.templates):
        where = f"{path}: templates[{i}] ({e.id!r})"
        if not _ID.fullmatch(e.id):
            raise FlowError(f"{where}: an id is lower-case letters, digits and _, starting with a letter")
        if any(t.id == e.id for t in out):
            raise FlowError(f"{where}: the id appears twice")
        if not e.text.strip() or not e.staff_label.strip():
            raise FlowError(f"{where}: text and staff_label must not be empty")
        if unknown := sorted(set(e.params) - FORM_PARAMS):
            raise FlowError(f"{where}: unknown params {unknown}; the message form has {', '.join(sorted(FORM_PARAMS))}")
        named = set(_PLACEHOLDER.findall(e.text))
        if named != set(e.params):
            raise FlowError(f"{where}: the text names {sorted(named)} but params are {sorted(e.params)}")
        out.append(Template(e.id, e.staff_label, e.text, tuple(e.params)))
    return tuple(out)


def template_by_id(template_id: str) -> Template | None:
    return next((t for t in staff_templates() if t.id == template_id), None)


@dataclass(frozen=True)
class Composed:
    text: str
    lang: str
    translated: bool  # False when the person's language has no translation yet and English goes out
    segments: int
    encoding: str
    params: dict[str, str] = field(default_factory=dict)  # a template's details as the person reads them


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
                 dispatch: Callable[[Sequence[int]], None] | None = None,
                 whatsapp: WhatsAppTemplates | None = None) -> None:
        self.db = db
        self.i18n = i18n
        self.senders = dict(senders)
        self.whatsapp = whatsapp or WhatsAppTemplates()
        # Hands committed outbox rows to the job queue; without one (scripts, tests) they are sent right here.
        self.dispatch = dispatch or self._send_here

    def _send_here(self, outbox_ids: Sequence[int]) -> None:
        from bot.outbox import Courier, default_transport

        courier = Courier(self.db, default_transport(self.senders), whatsapp=self.whatsapp)
        for outbox_id in outbox_ids:
            courier.deliver(outbox_id)

    def compose(self, lang: str | None, text: str | None = None, template: str | None = None,
                params: Mapping[str, str] | None = None, for_person: tuple[str, datetime] | None = None) -> Composed:
        """The text that would go out: a template in the person's language, or staff's own words.

        `for_person` (a first name, or "", and when the intake started) names whom it is for, on a shared phone."""
        t = self.i18n(lang)
        if template:
            tpl = template_by_id(template)
            if tpl is None:
                raise OutboundError("unknown_template", f"there is no template {template!r}")
            values = template_params(tpl, params or {}, t)
            body = t.render(Msg(tpl.msgid, values))
            translated = t.lang == "en" or t.gettext(tpl.msgid) != tpl.msgid
            shown = {k: t.render(v) for k, v in values.items()}
        else:
            body = (text or "").strip()
            translated = True
            shown = {}
        if not body:
            raise OutboundError("empty", "the message is empty")
        if for_person is not None:
            body = t.render(named(verbatim(body), *for_person, t))
        if len(body) > MAX_LENGTH:
            raise OutboundError("too_long", f"messages can be at most {MAX_LENGTH} characters")
        info = segment_info(body)
        return Composed(body, t.lang, translated, info.segments, info.encoding, shown)

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
            if unreachable(s, contact) == "opted_out":
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
            if contact.channel == "whatsapp":
                self.check_whatsapp(s, contact, template, composed, now)
            msg = Message(contact_id=contact.id, intake_id=intake.id, direction="out", channel=contact.channel,
                          text=composed.text, language=composed.lang, segments=composed.segments,
                          encoding=composed.encoding, status="queued", created_at=now,
                          meta={"staff": user.username, "staff_user_id": user.id,
                                **({"template": template, "params": composed.params} if template else {})})
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

    def check_whatsapp(self, s: Any, contact: Contact, template: str | None, composed: Composed, now: datetime) -> None:
        """Outside the 24-hour window only an approved template may go: refuses anything else before it is queued."""
        if window(s, contact.id, now).open:
            return
        if not template:
            raise OutboundError(REFUSED, REASON)
        try:
            content = self.whatsapp.content(template, composed.lang, composed.params)
        except MissingVariable as exc:
            raise OutboundError("whatsapp_template", str(exc)) from exc
        if content is None:
            label = tpl.label if (tpl := template_by_id(template)) else template
            raise OutboundError("whatsapp_template", f"{REASON} approved for WhatsApp: {label!r} has no WhatsApp "
                                                     "template set up (WHATSAPP_TEMPLATES)")

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
