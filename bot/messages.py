"""The engine's inputs and outputs: inbound messages, replies and events (no I/O, no frameworks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from intake_flows.text import Msg

CHANNELS = ("sms", "whatsapp", "telegram", "web")


@dataclass(frozen=True)
class InboundMessage:
    """One message from a person, already parsed out of its channel's request."""

    channel: str
    sender: str
    text: str
    provider_id: str | None = None
    media_count: int = 0
    language_hint: str | None = None
    received_at: datetime | None = None
    start_payload: str | None = None
    # A tapped button names the question it was shown under (step id and turn), so an old
    # button cannot answer a newer question; typed text leaves both None.
    answers_step: str | None = None
    answers_turn: int | None = None
    # A form's "Change" link: ask this already answered step again (the answer is kept until replaced).
    revisit: str | None = None


@dataclass(frozen=True)
class Choice:
    number: int
    value: str
    label: Msg


@dataclass(frozen=True)
class Reply:
    """One thing the bot says: text, and for a question its choices and a hint on how to answer."""

    text: tuple[Msg, ...]
    lang: str
    choices: tuple[Choice, ...] = ()
    multi: bool = False
    hint: Msg | None = None
    asks: str | None = None  # the step id this reply asks, so a channel can keep buttons apart
    turn: int | None = None  # which asking of it: a button carries both back with its answer


@dataclass(frozen=True)
class Event:
    """Something that happened that persistence and staff care about."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
