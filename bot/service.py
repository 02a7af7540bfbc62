"""Handles one inbound message in one transaction: dedupe, load state, run the engine, persist."""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from intake_flows import detect, geo, understand
from intake_flows.catalog import OfficeFile, Sector, check_against_data, load_offices, load_sectors
from intake_flows.matching import Wording
from intake_flows.profile import first_name
from intake_flows.schema import FlowBundle
from intake_flows.screening import Matcher, RuleFile, Screening, facts, load_rules, screen

from bot import assisted, links, logline
from bot.channels import capabilities
from bot.db import Database, Prepared
from bot.engine import ContactState, Conversation, Engine, EngineContext, IntakeState, Outcome
from bot.events import (
    AnswerCleared,
    AnswerReadBack,
    AnswerRecorded,
    CallBackRequested,
    ChannelLinked,
    EngineEvent,
    Erased,
    HandoffRequested,
    HandoffSuggested,
    IntakeDeclined,
    IntakeErased,
    IntakeFinished,
    IntakeLeft,
    IntakeStarted,
    LanguageSet,
    LinkRefused,
    NotUnderstood,
    OptedIn,
    OptedOut,
    OwnPhoneGiven,
    PersonSwitched,
    PriorityUpdated,
    ProgramChosen,
    Restarted,
    Resumed,
    ScreeningCompleted,
    Skipped,
    StaleAnswer,
    StepMissed,
    StopAsked,
    Unreadable,
)
from bot.i18n import LOCALES_DIR, I18n
from bot.messages import InboundMessage
from bot.models import Answer, CallBack, IntakeEvent, Message, Outbox, ReferralCode, utcnow
from bot.outbox import add as add_to_outbox
from bot.privacy import decline, erase_contact, inherited_opt_out, set_opted_out
from bot.programs import CatalogCache, CatalogSnapshot
from bot.render import Button, Rendered, render
from bot.sms import plain_tables
from bot.turnrows import ContactRow, IntakeRow, Turn

log = logging.getLogger(__name__)
turn_log = logging.getLogger("hrtp.turn")

MAX_STORED_TEXT = 5000  # characters of one inbound message kept; longer than any channel's own limit
MAX_ID = 64  # the provider-id and address columns
LINK_CODE_SHOWN = "(link code)"  # what the messages keep of a texted link code


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
                               media_count=max(0, min(msg.media_count, 100)),
                               phone_address=capabilities(msg.channel).phone_address)


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
    # Channels whose replies the job queue sends (an outbox row each, in the turn's transaction); the others'
    # replies go back in the webhook's response (TwiML, the web chat's JSON).
    queued_channels: frozenset[str] = frozenset()
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
    # Every sector a program may have (programs.yaml), and what matching says of sectors, needs and languages,
    # from this runtime's data; None: the shipped data's.
    sectors: tuple[Sector, ...] = ()
    wording: Wording | None = None

    @classmethod
    def load(cls, data_dir: Path | None = None, locales_dir: Path = LOCALES_DIR, matcher: Matcher | None = None) -> Runtime:
        bundle = FlowBundle.load(data_dir)
        rules = load_rules((data_dir / "rules.yaml") if data_dir else None)
        check_against_data(bundle.flow, bundle.languages, [c.id for c in rules.priority], data_dir)
        # A flow folder without its own AJCC list (a test flow, a pilot) uses the shipped one.
        offices = load_offices((data_dir / "ajcc.yaml") if data_dir and (data_dir / "ajcc.yaml").exists() else None)
        sectors = load_sectors((data_dir / "programs.yaml") if data_dir and (data_dir / "programs.yaml").exists() else None)
        geo.warm_up()
        return cls(bundle, I18n(bundle.languages, locales_dir), rules, matcher, offices=offices, sectors=sectors,
                   wording=Wording.of(bundle.flow, bundle.languages, sectors))

    def warm_up(self) -> None:
        """Reads every language's understanding data now (0.4 s), before serving: the first person to answer in a
        language paid 30 ms for it, and each forked worker would have read it again."""
        for lang in self.bundle.languages:
            understand.load(lang.id)

    def facts(self, answers: Mapping[str, Any], area_tier: Callable[[str], str | None] | None = None) -> dict[str, Any]:
        return facts(answers, self.area_tier or area_tier, self.bundle.flow)

    def screen(self, answers: Mapping[str, Any], language: str, matcher: Matcher | None = None,
               area_tier: Callable[[str], str | None] | None = None) -> Screening:
        return screen(answers, self.rules, self.facts(answers, area_tier), self.matcher or matcher, language,
                      self.offices, self.bundle.flow)


@dataclass
class HandleResult:
    messages: list[Rendered]
    contact_id: int | None = None
    intake_id: int | None = None
    replayed: bool = False
    events: list[EngineEvent] = field(default_factory=list)
    outbox: list[Outbox] = field(default_factory=list)

    @property
    def first_outbox_id(self) -> int | None:
        """The first reply's outbox row, once committed: its job sends the others after it, in order."""
        return self.outbox[0].id if self.outbox else None


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
        self.catalog = CatalogCache(wording=runtime.wording)
        # The engine holds no per-message state: one serves every turn until the catalog or codes change.
        self._engine: tuple[object, frozenset[str], Engine] | None = None

    def referral_codes(self, session: Session | Callable[[], Session]) -> frozenset[str]:
        now = time.monotonic()
        if now - self._codes_at > self.settings.referral_cache_seconds:
            # Retired and out-of-date codes stay known: the intake is attributed and the admin flags it.
            s = session if isinstance(session, Session) else session()
            self._codes = frozenset(s.scalars(select(ReferralCode.code)).all())
            self._codes_at = now
        return self._codes

    def forget_referral_codes(self) -> None:
        self._codes_at = -1e9

    def forget_catalog(self) -> None:
        """Makes the next message re-read programs and area tiers (after staff edit them)."""
        self.catalog.invalidate()

    def engine(self, t: Turn) -> Engine:
        # The caches read through a Session only when stale: most turns never make one.
        snap = self.catalog.fresh() or self.catalog.snapshot(t.session)
        codes = self.referral_codes(lambda: t.session)
        cached = self._engine
        if cached is not None and cached[0] is snap and cached[1] is codes:
            return cached[2]
        engine = self._build_engine(snap, codes)
        self._engine = (snap, codes, engine)
        return engine

    def _build_engine(self, snap: CatalogSnapshot, codes: frozenset[str]) -> Engine:
        rt = self.runtime

        def screen_(answers: Mapping[str, Any], language: str) -> Screening:
            return rt.screen(answers, language, snap.matcher, snap.area_tier)

        def facts_(answers: Mapping[str, Any]) -> dict[str, Any]:
            return rt.facts(answers, snap.area_tier)

        ctx = EngineContext(rt.bundle, rt.i18n, screen_, facts_, codes, self.settings.idle_timeout,
                            self.settings.support_phone)
        return Engine(ctx)

    # ---- the one transaction --------------------------------------------------------------
    def handle(self, msg: InboundMessage, now: datetime | None = None) -> HandleResult:
        now = now or utcnow()
        msg = clean_inbound(msg)
        started = time.perf_counter()
        lost_connection = False
        for attempt in range(4):
            try:
                with self.db.write_connection() as conn, Turn(conn, self.db.sessions) as turn:
                    result = self._handle(turn, msg, now, look_for_twin=attempt > 0)
                if turn_log.isEnabledFor(logging.INFO):
                    # Ids and kinds only: never the address or the text (see webhook/logs.py).
                    fields = {
                        "channel": msg.channel, "contact_id": result.contact_id, "intake_id": result.intake_id,
                        "replayed": result.replayed, "replies": len(result.messages), "attempts": attempt + 1,
                        "events": [getattr(e, "kind", type(e).__name__) for e in result.events],
                        "ms": round((time.perf_counter() - started) * 1000, 2)}
                    line = logline.current.get()
                    if line is None:
                        turn_log.info("turn", extra=fields)
                    else:
                        line["turn"] = fields  # one line a request: formatting and writing a second cost 3% of a turn
                return result
            except IntegrityError:
                # A twin delivery (the provider id is unique) or a first message from the same new contact
                # committed first: the retry sees its rows and either replays or carries on from them.
                if attempt == 3:
                    raise
            except DBAPIError as exc:
                # The database went away under a pooled connection (a restart, a failover): nothing was committed,
                # and every connection pooled before it is as dead, so the turn starts again on a fresh pool.
                if not exc.connection_invalidated or lost_connection:
                    raise
                lost_connection = True
                log.warning("database connection lost; trying the turn again on a new one")
                self.db.engine.dispose()
        raise AssertionError("unreachable")

    def _handle(self, t: Turn, msg: InboundMessage, now: datetime, look_for_twin: bool = True) -> HandleResult:
        # The first try leaves de-duplication to the unique provider id: a twin fails its inbound INSERT and
        # the retry looks for it, so the usual message pays no extra query.
        if msg.provider_id and look_for_twin:
            prior = t.session.scalar(select(Message).where(Message.channel == msg.channel,
                                                           Message.provider_id == msg.provider_id, Message.direction == "in"))
            if prior is not None:
                return self._replay(t.session, prior)
        contact, intake_row = self._contact(t, msg.channel, msg.sender, now)
        active = contact.active_intake_id
        msg = self._link(t, msg, contact, now)
        if contact.active_intake_id != active:
            intake_row = t.intake(contact.active_intake_id) if contact.active_intake_id else None
        msg = assisted.own_phone_welcome(t, contact, intake_row, msg)
        if intake_row is not None and not t.locked(intake_row.id):
            # Locked (and re-read once locked): a linked intake is carried on from two contacts, the web page
            # and the phone, at once. The usual turn read it locked already; SQLite's writers are serialised (bot.db).
            intake_row = t.intake(intake_row.id, lock=True)
        # The turn's rows are plain (bot.turnrows) and its messages and events are written with prebuilt
        # statements, in order, on the turn's connection: the ORM's loader and unit of work cost more than the
        # rest of the turn's database work together.
        conn = t.conn
        # A twin delivery fails here, on the unique provider id, before any work is done for it.
        inbound_id = _INSERT_INBOUND.run(conn, {
            "contact_id": contact.id, "intake_id": intake_row.id if intake_row else None, "direction": "in",
            "channel": msg.channel, "provider_id": msg.provider_id, "text": msg.text, "media_count": msg.media_count,
            "language": intake_row.language if intake_row else contact.language, "created_at": now,
            "meta": answer_meta(msg)})

        convo = Conversation(
            ContactState(opted_out=contact.opted_out_at is not None, pending_delete=contact.pending_delete,
                         lang=contact.language, picking=contact.picking_person,
                         **(assisted.shared_state(t.session, contact, intake_row) if contact.shared else {})),
            # Not copied: the engine copies what it is given (Engine.handle) and never changes it.
            IntakeState.from_json(intake_row.id, {**intake_row.state, "screening": intake_row.screening}, copy=False)
            if intake_row else None)
        outcome = self.engine(t).handle(convo, msg, now)
        current = self._apply(t, contact, intake_row, outcome, now)
        if current is not None and (intake_row is None or assisted.switched(outcome.events)):
            # The message that started the intake belongs to it, as "which person?"'s answer belongs to the one chosen.
            _update_by_id(_MESSAGES, ("intake_id",)).run(conn, {"intake_id": current.id, "pk_": inbound_id})

        rendered = render(outcome.replies, self.runtime.i18n, msg.channel, wording=msg.wording, plain=self.sms_plain)
        outbox: list[Outbox] = []
        if rendered and msg.channel in self.settings.queued_channels:
            # Replies the job queue sends (Telegram's) get their outbox rows in this transaction, so the ORM
            # writes them: each outbox row needs its message's id.
            s = t.session
            for r in rendered:
                reply = Message(contact_id=contact.id, intake_id=current.id if current else None, direction="out",
                                channel=msg.channel, in_reply_to_id=inbound_id, text=r.text, language=r.lang,
                                segments=r.segments, encoding=r.encoding, status="queued", created_at=now,
                                meta=question_meta(r))
                s.add(reply)
                # The sender's address, not the contact's: an erasure this turn has already replaced that.
                outbox.append(add_to_outbox(s, reply, msg.sender, now, group_key=f"in:{inbound_id}"))
            s.flush()
        elif rendered:
            _INSERT_MESSAGE.run_many(conn, [{
                "contact_id": contact.id, "intake_id": current.id if current else None, "direction": "out",
                "channel": msg.channel, "provider_id": None, "in_reply_to_id": inbound_id, "text": r.text,
                "language": r.lang, "segments": r.segments, "encoding": r.encoding, "media_count": 0, "status": "queued",
                "created_at": now, "meta": question_meta(r)} for r in rendered])
        return HandleResult(rendered, contact.id, current.id if current else None, False, outcome.events, outbox)

    def _link(self, t: Turn, msg: InboundMessage, contact: ContactRow, now: datetime) -> InboundMessage:
        """A web page's link code texted to us: the phone takes that intake on (bot.links), and the engine says so."""
        # The web visitor who has the code is already on the web; an opted-out number hears nothing until START.
        if msg.channel == "web" or contact.opted_out_at is not None:
            return msg
        code = self.runtime.bundle.intents.link_code(msg.text)
        if code is None:
            return msg
        done = links.redeem(t.session, code, t.orm(contact), now, self.settings.privacy_key)
        t.sync()
        status = "linked_replacing" if done.replaced else done.status
        # The code is never kept: a live one (an opted-out phone's) would let anyone reading the messages use it.
        return dataclasses.replace(msg, text=LINK_CODE_SHOWN, link=status,
                                   language_hint=done.language or msg.language_hint)

    def _replay(self, s: Session, prior: Message) -> HandleResult:
        rows = s.scalars(select(Message).where(Message.in_reply_to_id == prior.id).order_by(Message.id)).all()
        msgs = [rendered_from(r) for r in rows]
        return HandleResult(msgs, prior.contact_id, prior.intake_id, replayed=True)

    def _contact(self, t: Turn, channel: str, address: str, now: datetime) -> tuple[ContactRow, IntakeRow | None]:
        """The contact (locked for this turn on PostgreSQL) and its active intake, in one query."""
        found = t.contact_and_intake(channel, address)
        if found is not None:
            return found
        contact = t.new_contact(channel, address, now)  # a concurrent first message raises IntegrityError; handle() retries
        why = inherited_opt_out(t.conn, channel, address, self.settings.privacy_key)
        if why:
            set_opted_out(t.session, t.orm(contact), True, why, now, self.settings.privacy_key)
            t.sync()
        return contact, None

    # ---- applying the outcome ---------------------------------------------------------------
    def _apply(self, t: Turn, contact: ContactRow, row: IntakeRow | None, outcome: Outcome,
               now: datetime) -> IntakeRow | None:
        convo = outcome.conversation
        turn = Applying(t, contact, row, now, self.settings.privacy_key)
        for ev in outcome.events:
            handler = EVENT_HANDLERS.get(type(ev))
            if handler is None:
                raise TypeError(f"no handler for engine event {type(ev).__name__}: add one to EVENT_HANDLERS")
            if handler not in _KEEP_EVENTS_PENDING:
                turn.write_events()  # a handler that reads or rewrites the history (decline) sees this turn's rows
            handler(turn, ev)
            stored = ev.stored()
            info = self.runtime.bundle.flow.field_info.get(ev.field) if isinstance(ev, AnswerRecorded) else None
            if stored is not None and info is not None and info.sensitive:
                stored.pop("value", None)  # a sensitive answer lives in its answer row alone, not in the event history
            turn.events.append({"contact_id": contact.id, "intake_id": turn.current.id if turn.current else None,
                                "kind": ev.kind, "data": stored, "created_at": now})
        turn.write_events()
        t.sync()  # what the ORM changed in the handlers above (an opt-out's time) is in the rows now
        current, erased = turn.current, turn.erased

        contact.pending_delete = convo.contact.pending_delete
        contact.picking_person = convo.contact.picking
        contact.language = convo.contact.lang
        state = convo.intake
        if current is not None and state is not None:
            # The screening lives in its own column (staff lists read it); kept once, the state row stays small.
            # Not copied: the outcome is the engine's own copy, and nothing reads it after this turn.
            current.state = {k: v for k, v in state.to_json(copy=False).items() if k != "screening"}
            current.language = state.lang
            current.status = state.status
            current.current_step = state.step
            current.first_name = first_name(state.answers, self.runtime.bundle.flow)
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
        t.write(contact)
        if current is not None:
            t.write(current)
        if erased:
            # Last, so nothing this turn wrote (the contact's language, its events) survives the erasure.
            erase_contact(t.session, t.orm(contact), now, configured_key=self.settings.privacy_key)
        return current


# ---- one handler per engine event --------------------------------------------------------------

@dataclass
class Applying:
    """One turn's rows while its events are applied: the intake they change may start or go during the turn."""

    turn: Turn
    contact: ContactRow
    current: IntakeRow | None
    now: datetime
    privacy_key: str
    erased: bool = False
    # This turn's event rows not yet written: written together, in one statement, before anything may read them.
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def s(self) -> Session:
        """The ORM Session in the turn's transaction, for the handlers that need one."""
        return self.turn.session

    def write_events(self) -> None:
        if self.events:
            _INSERT_EVENT.run_many(self.turn.conn, self.events)
            self.events = []


def _start_intake(t: Applying, ev: IntakeStarted) -> None:
    t.current = t.turn.new_intake({
        "contact_id": t.contact.id, "channel": t.contact.channel, "status": "incomplete", "review_status": "new",
        "referral_code": ev.referral_code, "referral_known": ev.referral_known, "needs_contact": False,
        "started_at": t.now, "updated_at": t.now, "state": {}})
    t.contact.active_intake_id = t.current.id
    if ev.new_person:
        t.contact.shared = True  # several people's intakes now: staff messages and DELETE name whose


def _record_answer(t: Applying, ev: AnswerRecorded) -> None:
    if t.current is None:
        return
    stmt = _answer_upsert(t.turn.conn.dialect.name)
    if stmt is not None:
        # One statement, no read first (the (intake, field) pair is unique), run in order on the turn's
        # connection: nothing pending in the session is needed for it.
        stmt.run(t.turn.conn, {"intake_id": t.current.id, "field": ev.field, "value": ev.value, "step": ev.step,
                                        "answered_at": t.now})
        return
    row = t.s.scalar(select(Answer).where(Answer.intake_id == t.current.id, Answer.field == ev.field))
    if row is None:
        t.s.add(Answer(intake_id=t.current.id, field=ev.field, value=ev.value, step=ev.step, answered_at=t.now))
    else:
        row.value, row.step, row.answered_at = ev.value, ev.step, t.now


def _clear_answer(t: Applying, ev: AnswerCleared) -> None:
    if t.current is not None:
        t.turn.conn.execute(delete(Answer).where(Answer.intake_id == t.current.id, Answer.field == ev.field))


def _opt_out(t: Applying, ev: OptedOut) -> None:
    set_opted_out(t.s, t.turn.orm(t.contact), True, ev.keyword or "", t.now, t.privacy_key)


def _opt_in(t: Applying, ev: OptedIn) -> None:
    set_opted_out(t.s, t.turn.orm(t.contact), False, ev.keyword or "", t.now, t.privacy_key)


def _erase(t: Applying, ev: Erased) -> None:
    # The erasure itself runs last in _apply, so nothing this turn writes survives it.
    t.erased = True
    t.current = None


def _decline(t: Applying, ev: IntakeDeclined) -> None:
    if t.current is not None:
        decline(t.s, t.turn.orm(t.current))


def _choose_program(t: Applying, ev: ProgramChosen) -> None:
    if t.current is not None:
        t.current.program_choice = ev.program


def _needs_contact(t: Applying, ev: HandoffRequested) -> None:
    if t.current is not None:
        t.current.needs_contact = True


def _call_back(t: Applying, ev: CallBackRequested) -> None:
    if t.current is None:
        return
    t.current.needs_contact = True
    phone = ev.phone or assisted.follow_up_phone(t.s, t.current, t.contact)
    t.s.add(CallBack(intake_id=t.current.id, window=ev.window, days=ev.days, phone=phone, status="requested", attempts=0,
                     requested_at=t.now, updated_at=t.now))


def _history_only(t: Applying, ev: EngineEvent) -> None:
    """Nothing beyond its IntakeEvent row: the intake's state row already carries what changed."""


_HISTORY_ONLY: tuple[type[EngineEvent], ...] = (
    IntakeLeft, IntakeFinished, Restarted, Resumed, ScreeningCompleted, PriorityUpdated, AnswerReadBack, Skipped,
    NotUnderstood, StepMissed, Unreadable, StaleAnswer, LanguageSet, HandoffSuggested, StopAsked, ChannelLinked, LinkRefused)

# Handlers that neither read nor rewrite the event history: this turn's event rows may wait until the end.
_KEEP_EVENTS_PENDING: frozenset[Callable[..., None]] = frozenset({_history_only, _record_answer, _choose_program, _needs_contact})

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
    CallBackRequested: _call_back,
    OwnPhoneGiven: assisted.own_phone_given,
    PersonSwitched: assisted.switch_person,
    IntakeErased: assisted.erase_one,
    **{cls: _history_only for cls in _HISTORY_ONLY},
}


_MESSAGES = cast(Table, Message.__table__)
_INSERT_INBOUND = Prepared(insert(_MESSAGES).returning(_MESSAGES.c.id), (
    "contact_id", "intake_id", "direction", "channel", "provider_id", "text", "media_count", "language", "created_at", "meta"))
_INSERT_MESSAGE = Prepared(insert(_MESSAGES), (
    "contact_id", "intake_id", "direction", "channel", "provider_id", "in_reply_to_id", "text", "language", "segments",
    "encoding", "media_count", "status", "created_at", "meta"))
_INSERT_EVENT = Prepared(insert(cast(Table, IntakeEvent.__table__)), ("contact_id", "intake_id", "kind", "data", "created_at"))


@functools.cache
def _update_by_id(table: Any, columns: tuple[str, ...]) -> Prepared:
    return Prepared(update(table).where(table.c.id == bindparam("pk_")), (*columns, "pk_"))


@functools.cache
def _answer_upsert(dialect: str) -> Prepared | None:
    """INSERT ... ON CONFLICT (intake_id, field) DO UPDATE, built once; None where the dialect has no such clause."""
    make = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}.get(dialect)
    if make is None:
        return None
    stmt: Any = make(cast(Table, Answer.__table__))
    return Prepared(stmt.on_conflict_do_update(index_elements=["intake_id", "field"], set_={
        "value": stmt.excluded.value, "step": stmt.excluded.step, "answered_at": stmt.excluded.answered_at}),
        ("intake_id", "field", "value", "step", "answered_at"))
