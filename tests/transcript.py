"""A scripted person for transcript-style tests: `person.says("hi")` returns what the bot said."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.db import Database
from bot.messages import InboundMessage
from bot.models import Contact, Intake
from bot.render import Rendered
from bot.service import HandleResult, IntakeService


def answer_by_field(send: Callable[[str], Any], asked: Callable[[], str | None], until: str,
                    answers: Mapping[str, str], default: str = "1", limit: int = 40) -> None:
    """Answers whatever is asked from `answers` (by step id) or `default` until `until` is asked, on any channel."""
    for _ in range(limit):
        step = asked()
        if step == until:
            return
        assert step, "the bot stopped asking before reaching " + until
        send(answers.get(step, default))
    raise AssertionError(f"never reached {until}")


def step_asked(db: Database, channel: str, address: str) -> str | None:
    """The question a contact's intake waits on, as the store has it (for channels whose replies are only text)."""
    with db.session() as s:
        return s.scalar(select(Intake.current_step).join(Contact, Contact.active_intake_id == Intake.id)
                        .where(Contact.channel == channel, Contact.address == address))


class Person:
    """Someone texting the bot from one phone, with a clock that moves a little per message."""

    def __init__(self, service: IntakeService, phone: str, channel: str = "sms", start: datetime | None = None) -> None:
        self.service = service
        self.phone = phone
        self.channel = channel
        self.now = start or datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
        self.n = 0
        self.last: HandleResult | None = None

    def send(self, text: str, media: int = 0, provider_id: str | None = None, language_hint: str | None = None) -> HandleResult:
        self.n += 1
        self.now += timedelta(seconds=30)
        msg = InboundMessage(self.channel, self.phone, text, provider_id or f"SM{self.phone[-4:]}{self.n:06d}",
                             media_count=media, language_hint=language_hint)
        self.last = self.service.handle(msg, now=self.now)
        return self.last

    def says(self, text: str, **kw) -> str:
        """Sends a message and returns the bot's replies joined as one text."""
        return "\n".join(m.text for m in self.send(text, **kw).messages)

    def wait(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    @property
    def asked(self) -> str | None:
        """The step the bot's last reply asks, or None."""
        msgs: list[Rendered] = self.last.messages if self.last else []
        return next((m.asks for m in reversed(msgs) if m.asks), None)

    def answer_until(self, step: str, answers: dict[str, str], default: str = "1", limit: int = 40) -> None:
        """Answers each question from `answers` (by step id) or `default` until `step` is asked."""
        answer_by_field(self.says, lambda: self.asked, step, answers, default, limit)
