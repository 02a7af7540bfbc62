"""WhatsApp's 24-hour customer service window, and the approved templates (Twilio ContentSids) sent outside it."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_flows.schema import FlowError

from bot.models import Message

# Free-form messages reach a WhatsApp user only this long after their last message (Meta's customer service window).
WINDOW = timedelta(hours=24)
REFUSED = "whatsapp_window"  # Message.error_code of a message that would have gone free-form outside the window
# Twilio's error for a free-form WhatsApp message outside the window (from the API or a status callback).
OUTSIDE_WINDOW_CODE = "63016"
REASON = ("WhatsApp allows free messages only within 24 hours of the person's last message; "
          "choose a template")
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
_REMINDER = re.compile(r"reminder(_[1-9][0-9]?)?")
_VARIABLE = re.compile(r"[1-9][0-9]?")


@dataclass(frozen=True)
class Window:
    """Whether free-form messages may go now: open until 24 hours after the person's last message."""

    last_inbound: datetime | None
    now: datetime

    @property
    def until(self) -> datetime | None:
        return self.last_inbound + WINDOW if self.last_inbound else None

    @property
    def open(self) -> bool:
        return self.until is not None and self.now < self.until


def last_inbound_at(s: Session, contact_id: int) -> datetime | None:
    """When the contact last wrote to us (an index lookup on messages.contact_id, read only when sending)."""
    return s.scalar(select(Message.created_at).where(Message.contact_id == contact_id, Message.direction == "in")
                    .order_by(Message.created_at.desc()).limit(1))


def window(s: Session, contact_id: int, now: datetime) -> Window:
    return Window(last_inbound_at(s, contact_id), now)  # UTCDateTime hands back aware times on every backend


@dataclass(frozen=True)
class Content:
    """An approved template as Twilio's Messages API takes it: ContentSid and ContentVariables (a JSON object)."""

    template: str
    sid: str
    lang: str
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def variables_json(self) -> str:
        return json.dumps(self.variables, ensure_ascii=False, sort_keys=True)


class _Approved(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Twilio's numbered variables ({{1}}, {{2}}) -> the template's params (staff_messages.yaml) that fill them.
    variables: dict[str, str] = {}
    content_sid: dict[str, str]  # language id -> ContentSid (HX + 32 hex digits)


class _ApprovedFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    templates: dict[str, _Approved]


class MissingVariable(ValueError):
    """The message does not carry a value its template's variables need."""


@dataclass(frozen=True)
class WhatsAppTemplates:
    """The county's approved WhatsApp templates: template id -> language -> ContentSid, with the variables."""

    sids: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    variables: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    fallback_lang: str = "en"

    def has(self, template_id: str) -> bool:
        return bool(self.sids.get(template_id))

    def content(self, template_id: str, lang: str | None, params: Mapping[str, Any]) -> Content | None:
        """The template in the person's language (else English, else None), its variables filled from params."""
        by_lang = self.sids.get(template_id) or {}
        use = lang if lang in by_lang else self.fallback_lang
        sid = by_lang.get(use or "")
        if sid is None:
            return None
        values: dict[str, str] = {}
        for number, param in (self.variables.get(template_id) or {}).items():
            value = params.get(param)
            if value is None or str(value).strip() == "":
                raise MissingVariable(f"the WhatsApp template {template_id!r} needs {param!r} for {{{{{number}}}}}")
            values[number] = str(value)
        return Content(template_id, sid, use or self.fallback_lang, values)

    def for_message(self, meta: Mapping[str, Any] | None, lang: str | None) -> Content | None:
        """The approved template a queued message may go as: its staff template, or reminder_<step> / reminder."""
        meta = meta or {}
        params = meta.get("params") or {}
        if meta.get("template"):
            return self.content(str(meta["template"]), lang, params)
        if meta.get("kind") == "reminder":
            template_id = self.reminder_template(meta.get("step"))
            if template_id:
                return self.content(template_id, lang, params)
        return None

    def reminder_template(self, step: Any) -> str | None:
        """The approved template a reminder step goes as: its own (reminder_<step>), else the general one."""
        return next((t for t in (f"reminder_{step}", "reminder") if self.has(t)), None)


def load_whatsapp_templates(path: Path | str, staff: Mapping[str, Collection[str]], languages: Collection[str],
                            fallback_lang: str = "en") -> WhatsAppTemplates:
    """Reads WHATSAPP_TEMPLATES' file and checks every id, language, ContentSid and variable; errors name the entry.

    `staff` maps each staff template id to its params; `reminder` and `reminder_<step>` are the reminders'."""
    path = Path(path)
    try:
        doc = _ApprovedFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise FlowError(f"{path}: {exc}") from exc
    sids: dict[str, dict[str, str]] = {}
    variables: dict[str, dict[str, str]] = {}
    for template_id, entry in doc.templates.items():
        where = f"{path}: templates.{template_id}"
        if template_id not in staff and not _REMINDER.fullmatch(template_id):
            raise FlowError(f"{where}: not a staff message template ({', '.join(sorted(staff))}) "
                            "nor reminder / reminder_<step>")
        if not entry.content_sid:
            raise FlowError(f"{where}: content_sid needs at least one language")
        for lang, sid in entry.content_sid.items():
            if lang not in languages:
                raise FlowError(f"{where}: unknown language {lang!r}; known: {', '.join(languages)}")
            if not _CONTENT_SID.fullmatch(sid):
                raise FlowError(f"{where}.content_sid.{lang}: {sid!r} is not a ContentSid (HX and 32 hex digits)")
        allowed = staff.get(template_id)
        for number, param in entry.variables.items():
            if not _VARIABLE.fullmatch(number):
                raise FlowError(f"{where}.variables: {number!r} must be a variable's number, like '1'")
            if allowed is not None and param not in allowed:
                raise FlowError(f"{where}.variables.{number}: {param!r} is not one of the template's params "
                                f"({', '.join(allowed) or 'it has none'})")
        sids[template_id] = dict(entry.content_sid)
        variables[template_id] = dict(entry.variables)
    return WhatsAppTemplates(sids, variables, fallback_lang)


class OutsideWindow(Exception):
    """A WhatsApp message that may not go: free-form outside the window, with no approved template to go as."""


def content_for_delivery(s: Session, message: Message, templates: WhatsAppTemplates | None, now: datetime) -> Content | None:
    """How a queued WhatsApp message goes now: None for free-form (window open), else its approved template.

    The window may have closed since it was queued (a slow queue, a reminder); free-form never goes outside it."""
    if window(s, message.contact_id, now).open:
        return None
    try:
        content = (templates or WhatsAppTemplates()).for_message(message.meta, message.language)
    except MissingVariable as exc:
        raise OutsideWindow(f"outside WhatsApp's 24-hour window, and {exc}") from exc
    if content is None:
        raise OutsideWindow("outside WhatsApp's 24-hour window (free messages only within 24 hours of the person's "
                            "last message), and this message has no approved WhatsApp template")
    return content
