"""Handles one inbound message in one transaction: dedupe, load state, run the engine, persist."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake_flows import detect, geo
from intake_flows.catalog import OfficeFile, load_offices
from intake_flows.schema import FlowBundle
from intake_flows.screening import Matcher, RuleFile, Screening, facts, load_rules, screen

from bot.db import Database
from bot.engine import ContactState, Conversation, Engine, EngineContext, IntakeState, Outcome
from bot.i18n import LOCALES_DIR, I18n
from bot.events import (
    AnswerCleared, AnswerReadBack, AnswerRecorded, EngineEvent, Erased, HandoffRequested, HandoffSuggested, IntakeDeclined,
    IntakeFinished, IntakeLeft, IntakeStarted, LanguageSet, NotUnderstood, OptedIn, OptedOut, PriorityUpdated, ProgramChosen,
    Restarted, Resumed, ScreeningCompleted, Skipped, StaleAnswer, StepMissed, StopAsked, Unreadable,
)
from bot.messages import InboundMessage
from bot.models import Answer, Contact, Intake, IntakeEvent, Message, OptOut, ReferralCode, utcnow
from bot.privacy import decline, erase_contact, inherited_opt_out, set_opted_out
from bot.programs import CatalogCache
from bot.render import Button, Rendered, render
from bot.sms import plain_tables

log = logging.getLogger(__name__)

MAX_STORED_TEXT = 5000  # characters of one inbound message kept; longer than any channel's own limit
MAX_ID = 64  # the provider-id and address columns


class BadInbound(ValueError):
    """A message the adapter should have refused: an id or address that does not fit its column."""


def clean_inbound(msg: InboundMessage) -> InboundMessage:
    """The message as it can be stored: no NUL (PostgreSQL refuses it in text), text of bounded length."""
    for name, value in (("sender", msg.sender), ("provider id", msg.provider_id or "")):
        if len(value) > MAX_ID or "\x00" in value:
            raise BadInbound(f"{name} {value[:80]!r} does not fit")
    # A referral code outside the documented form is ignored, as if the link carried none: it would reach
    # the metrics and their CSV from a link anyone can open.
    return dataclasses.replace(msg, text=clean_text(msg.text)[:MAX_STORED_TEXT],
                               start_payload=detect.link_referral_code(msg.start_payload),
                               media_count=max(0, min(msg.media_count, 100)))


def clean_text(text: str | None) -> str:
    """Text any database stores: no NUL (PostgreSQL refuses it), no lone surrogate (not encodable as UTF-8)."""
    return _UNSTORABLE.sub(_unstorable, text or "")


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable(m: re.Match[str]) -> str:
    return "" if m.group() == "\x00" else "\ufffd"


@dataclass
class Settings:
    idle_timeout: timedelta = timedelta(hours=48)
    support_phone: str = "211"
    referral_cache_seconds: float = 60.0
    # Keys the hashes that keep an opt-out after erasure; unset, a random key kept in the database is used.
    privacy_key: str = ""
    # Languages whose SMS go out with plain letters (languages.yaml `sms_plain`); none unless the county says.
    sms_plain_languages: frozenset[str] = frozenset()
    # Outbound SMS segments a calendar month may cost before proactive sends stop (bot.budget); 0: no budget.
    sms_segment_budget: int = 0


@dataclass
class Runtime:
    """Flow data, translators and rules, loaded once per process (never at import time)."""

    bundle: FlowBundle
    i18n: I18n
    rules: RuleFile
    # Set these to override the database catalog and area table (a fixed catalog, a fake);
    # left None, IntakeService uses what staff keep in the database.
    matcher: Matcher | None = None
    area_tier: Callable[[str], str | None] | None = None
    offices: OfficeFile | None = None

    @classmethod
    def load(cls, data_dir: Path | None = None, locales_dir: Path = LOCALES_DIR, matcher: Matcher | None = None) -> "Runtime":
        bundle = FlowBundle.load(data_dir)
        rules = load_rules((data_dir / "rules.yaml") if data_dir else None)
        # A flow folder without its own AJCC list (a test flow, a pilot) uses the shipped one.
        offices = load_offices((data_dir / "ajcc.yaml") if data_dir and (data_dir / "ajcc.yaml").exists() else None)
        geo.warm_up()
        return cls(bundle, I18n(bundle.languages, locales_dir), rules, matcher, offices=offices)

    def facts(self, answers: Mapping[str, Any], area_tier: Callable[[str], str | None] | None = None) -> dict[str, Any]:
        return facts(answers, self.area_tier or area_tier)

    def screen(self, answers: Mapping[str, Any], language: str, matcher: Matcher | None = None,
               area_tier: Callable[[str], str | None] | None = None) -> Screening:
        return screen(answers, self.rules, self.facts(answers, area_tier), self.matcher or matcher, language,
                      self.offices)


@dataclass
class HandleResult:
    messages: list[Rendered]
    contact_id: int | None = None
    intake_id: int | None = None
    replayed: bool = False
    events: list[EngineEvent] = field(default_factory=list)


def answer_meta(msg: InboundMessage) -> dict[str, Any] | None:
    """What an inbound row keeps of a button press: the question it was shown under."""
    if msg.answers_step is None:
        return None
    return {"answers_step": msg.answers_step, "answers_turn": msg.answers_turn}


def question_meta(r: Rendered) -> dict[str, Any] | None:
    """What an outbound row keeps of a question, so a replay or a reloaded page shows its buttons."""
    if not r.asks and not r.buttons:
        return None
    return {"asks": r.asks, "turn": r.turn, "multi": r.multi, **({"hint": r.hint} if r.hint else {}),
            "buttons": [{"value": b.value, "number": b.number, "label": b.label} for b in r.buttons]}


def rendered_from(row: Message) -> Rendered:
    meta = row.meta or {}
    buttons = tuple(Button(b["value"], b["number"], b["label"]) for b in meta.get("buttons") or ())
    return Rendered(row.text or "", row.language or "en", row.segments or 1, row.encoding or "GSM-7", buttons,
                    bool(meta.get("multi")), meta.get("asks"), meta.get("turn"), meta.get("hint"))


class IntakeService:
    """The bot's front door for every channel: one call per inbound message."""

    def __init__(self, db: Database, runtime: Runtime, settings: Settings | None = None) -> None:
        self.db = db
        self.runtime = runtime
        self.settings = settings or Settings()
        self.sms_plain = plain_tables(runtime.bundle.languages, sorted(self.settings.sms_plain_languages))
        self._codes: frozenset[str] = frozenset()
        self._codes_at = -1e9
        self.catalog = CatalogCache()

    def referral_codes(self, session: Session) -> frozenset[str]:
        now = time.monotonic()
        if now - self._codes_at > self.settings.referral_cache_seconds:
            self._codes = frozenset(session.scalars(select(ReferralCode.code).where(ReferralCode.active)).all())
            self._codes_at = now
        return self._codes

    def forget_referral_codes(self) -> None:
        self._codes_at = -1e9

    def forget_catalog(self) -> None:
        """Makes the next message re-read programs and area tiers (after staff edit them)."""
        self.catalog.invalidate()

    def engine(self, session: Session) -> Engine:
        rt = self.runtime
        snap = self.catalog.snapshot(session)

        def screen_(answers: Mapping[str, Any], language: str) -> Screening:
            return rt.screen(answers, language, snap.matcher, snap.area_tier)

        def facts_(answers: Mapping[str, Any]) -> dict[str, Any]:
            return rt.facts(answers, snap.area_tier)

        ctx = EngineContext(rt.bundle, rt.i18n, screen_, facts_, self.referral_codes(session),
                            self.settings.idle_timeout, self.settings.support_phone)
        return Engine(ctx)

    # ---- the one transaction --------------------------------------------------------------
    def handle(self, msg: InboundMessage, now: datetime | None = None) -> HandleResult:
        now = now or utcnow()
        msg = clean_inbound(msg)
        for attempt in range(3):
            try:
                with self.db.writing() as session:
                    return self._handle(session, msg, now)
            except IntegrityError:
                # A twin delivery or a first message from the same new contact committed first:
                # the retry sees its rows and either replays or carries on from them.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _handle(self, s: Session, msg: InboundMessage, now: datetime) -> HandleResult:
        if msg.provider_id:
            prior = s.scalar(select(Message).where(Message.channel == msg.channel, Message.provider_id == msg.provider_id,
                                                   Message.direction == "in"))
            if prior is not None:
                return self._replay(s, prior)
        contact = self._contact(s, msg.channel, msg.sender, now)
        intake_row = s.get(Intake, contact.active_intake_id) if contact.active_intake_id else None
        inbound = Message(contact_id=contact.id, intake_id=intake_row.id if intake_row else None, direction="in",
                          channel=msg.channel, provider_id=msg.provider_id, text=msg.text, media_count=msg.media_count,
                          language=intake_row.language if intake_row else contact.language, created_at=now,
                          meta=answer_meta(msg))
        s.add(inbound)
        s.flush()

        convo = Conversation(
            ContactState(opted_out=contact.opted_out_at is not None, pending_delete=contact.pending_delete,
                         lang=contact.language),
            IntakeState.from_json(intake_row.id, intake_row.state) if intake_row else None)
        outcome = self.engine(s).handle(convo, msg, now)
        current = self._apply(s, contact, intake_row, outcome, now)
        if inbound.intake_id is None and current is not None:
            inbound.intake_id = current.id  # the message that started the intake belongs to it

        rendered = render(outcome.replies, self.runtime.i18n, msg.channel, self.sms_plain)
        for r in rendered:
            s.add(Message(contact_id=contact.id, intake_id=current.id if current else None, direction="out",
                          channel=msg.channel, in_reply_to_id=inbound.id, text=r.text, language=r.lang,
                          segments=r.segments, encoding=r.encoding, status="queued", created_at=now,
                          meta=question_meta(r)))
        return HandleResult(rendered, contact.id, current.id if current else None, False, outcome.events)

    def _replay(self, s: Session, prior: Message) -> HandleResult:
        rows = s.scalars(select(Message).where(Message.in_reply_to_id == prior.id).order_by(Message.id)).all()
        msgs = [rendered_from(r) for r in rows]
        return HandleResult(msgs, prior.contact_id, prior.intake_id, replayed=True)

    def _contact(self, s: Session, channel: str, address: str, now: datetime) -> Contact:
        query = select(Contact).where(Contact.channel == channel, Contact.address == address).with_for_update()
        contact = s.scalar(query)
        if contact is None:
            contact = Contact(channel=channel, address=address, created_at=now)
            s.add(contact)
            s.flush()  # a concurrent first message raises IntegrityError here; handle() retries
            why = inherited_opt_out(s, channel, address, self.settings.privacy_key)
            if why:
                set_opted_out(s, contact, True, why, now, self.settings.privacy_key)
        return contact

    # ---- applying the outcome ---------------------------------------------------------------
    def _apply(self, s: Session, contact: Contact, row: Intake | None, outcome: Outcome, now: datetime) -> Intake | None:
        convo = outcome.conversation
        turn = Applying(s, contact, row, now, self.settings.privacy_key)
        for ev in outcome.events:
            handler = EVENT_HANDLERS.get(type(ev))
            if handler is None:
                raise TypeError(f"no handler for engine event {type(ev).__name__}: add one to EVENT_HANDLERS")
            handler(turn, ev)
            s.add(IntakeEvent(contact_id=contact.id, intake_id=turn.current.id if turn.current else None, kind=ev.kind,
                              data=ev.stored(), created_at=now))
        current, erased = turn.current, turn.erased

        contact.pending_delete = convo.contact.pending_delete
        contact.language = convo.contact.lang
        state = convo.intake
        if current is not None and state is not None:
            current.state = state.to_json()
            current.language = state.lang
            current.status = state.status
            current.current_step = state.step
            current.first_name = state.answers.get("first_name")
            current.referral_code = state.referral_code
            current.referral_known = state.referral_known
            if "program_choice" not in state.answers:
                current.program_choice = None
            sc = state.screening
            current.screening = sc
            current.eligibility = sc["eligibility"]["status"] if sc else None
            current.is_priority = sc["priority"]["is_priority"] if sc else None
            if sc and current.completed_at is None:
                current.completed_at = now
            current.updated_at = now
        if erased:
            # Last, so nothing this turn wrote (the contact's language, its events) survives the erasure.
            s.flush()
            erase_contact(s, contact, now, configured_key=self.settings.privacy_key)
        return current


# ---- one handler per engine event --------------------------------------------------------------

@dataclass
class Applying:
    """One turn's rows while its events are applied: the intake they change may start or go during the turn."""

    s: Session
    contact: Contact
    current: Intake | None
    now: datetime
    privacy_key: str
    erased: bool = False


def _start_intake(t: Applying, ev: IntakeStarted) -> None:
    t.current = Intake(contact_id=t.contact.id, channel=t.contact.channel, started_at=t.now, updated_at=t.now,
                       referral_code=ev.referral_code, referral_known=ev.referral_known, state={})
    t.s.add(t.current)
    t.s.flush()
    t.contact.active_intake_id = t.current.id


def _record_answer(t: Applying, ev: AnswerRecorded) -> None:
    if t.current is None:
        return
    row = t.s.scalar(select(Answer).where(Answer.intake_id == t.current.id, Answer.field == ev.field))
    if row is None:
        t.s.add(Answer(intake_id=t.current.id, field=ev.field, value=ev.value, step=ev.step, answered_at=t.now))
    else:
        row.value, row.step, row.answered_at = ev.value, ev.step, t.now


def _clear_answer(t: Applying, ev: AnswerCleared) -> None:
    if t.current is not None:
        t.s.execute(delete(Answer).where(Answer.intake_id == t.current.id, Answer.field == ev.field))


def _opt_out(t: Applying, ev: OptedOut) -> None:
    set_opted_out(t.s, t.contact, True, ev.keyword or "", t.now, t.privacy_key)


def _opt_in(t: Applying, ev: OptedIn) -> None:
    set_opted_out(t.s, t.contact, False, ev.keyword or "", t.now, t.privacy_key)


def _erase(t: Applying, ev: Erased) -> None:
    # The erasure itself runs last in _apply, so nothing this turn writes survives it.
    t.erased = True
    t.current = None


def _decline(t: Applying, ev: IntakeDeclined) -> None:
    if t.current is not None:
        decline(t.s, t.current)


def _choose_program(t: Applying, ev: ProgramChosen) -> None:
    if t.current is not None:
        t.current.program_choice = ev.program


def _needs_contact(t: Applying, ev: HandoffRequested) -> None:
    if t.current is not None:
        t.current.needs_contact = True


def _history_only(t: Applying, ev: EngineEvent) -> None:
    """Nothing beyond its IntakeEvent row: the intake's state row already carries what changed."""


_HISTORY_ONLY: tuple[type[EngineEvent], ...] = (
    IntakeLeft, IntakeFinished, Restarted, Resumed, ScreeningCompleted, PriorityUpdated, AnswerReadBack, Skipped,
    NotUnderstood, StepMissed, Unreadable, StaleAnswer, LanguageSet, HandoffSuggested, StopAsked)

# Every engine event has its handler here; bot.events.EVENT_CLASSES lists them (a test checks they match).
EVENT_HANDLERS: dict[type[EngineEvent], Callable[[Applying, Any], None]] = {
    IntakeStarted: _start_intake,
    AnswerRecorded: _record_answer,
    AnswerCleared: _clear_answer,
    OptedOut: _opt_out,
    OptedIn: _opt_in,
    Erased: _erase,
    IntakeDeclined: _decline,
    ProgramChosen: _choose_program,
    HandoffRequested: _needs_contact,
    **{cls: _history_only for cls in _HISTORY_ONLY},
}
