"""The conversation engine: (state, inbound message, now) -> (new state, replies, events), with no I/O."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from intake_flows import answers as parse
from intake_flows import detect, geo, understand
from intake_flows import intents as detect_intents
from intake_flows.matching import is_check
from intake_flows.profile import first_name
from intake_flows.schema import FlowBundle, Step, StopOutcome
from intake_flows.screening import Screening
from intake_flows.text import N_, Msg, MsgList, verbatim

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
from bot.i18n import I18n
from bot.messages import Choice, InboundMessage, MatchReasons, Reply

TALK = "talk_to_someone"
LONG_MESSAGE = 500  # characters; a longer "answer" is almost never an answer
STOP_QUESTION = "stop?"  # pending: "do you want us to stop?" was asked (what was pending before follows)
LANGUAGE_PAIR = "pair:"  # pending: two languages that share a script were offered
CALLBACK = "callback:"  # pending: "callback:<call-back step>|<window chosen>|<then>", then "", "skip:<step>" or "next:<step>"
KEYWORD_LENGTH = 160  # characters; past one SMS, a stop word is part of a story, not a request
LINK_DAYS = 7  # how long a web page's link code works (bot.links)
OWN_PHONE = "own_phone"  # pending: the person's own number was asked, on an outreach worker's phone
OWN_PHONE_LINK = "own_phone"  # InboundMessage.link: the first message from the number an outreach worker gave
PICK = "pick"  # what "which person is this for?" asks, for its buttons


@dataclass
class IntakeState:
    """Where one person's intake stands; stored as JSON on the intake row."""

    key: int | None = None
    step: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    misses: int = 0
    pending: str | None = None
    screening: dict[str, Any] | None = None
    status: str = "incomplete"
    finished: bool = False
    lang: str | None = None
    referral_code: str | None = None
    referral_known: bool | None = None
    last_activity: str | None = None
    turn: int = 0  # answers taken so far: a question asked after an answer is a new asking
    # Enrolled on an outreach worker's phone: "due" until the person's own number was asked, then "asked".
    assisted: str | None = None

    def to_json(self, copy: bool = True) -> dict[str, Any]:
        """The state as stored; `copy=False` shares its lists and dicts, for a caller done with this state."""
        data = dict(self.__dict__)
        data.pop("key")
        if data["assisted"] is None:
            data.pop("assisted")  # stored states of everyone else's intakes stay as they were
        return json_copy(data) if copy else data

    @classmethod
    def from_json(cls, key: int | None, data: Mapping[str, Any] | None, copy: bool = True) -> IntakeState:
        """The state stored as `data`; `copy=False` takes its lists and dicts over, for a caller that made them."""
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__ and k != "key"}
        return cls(key=key, **(json_copy(known) if copy else known))


def json_copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, tuples of scalars), several times faster than deepcopy."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(json_copy(v) for v in value)
    return value


@dataclass(frozen=True)
class SharedPerson:
    """Another person's intake on this phone, as "which person?" offers it."""

    intake_id: int
    name: str | None
    state: Mapping[str, Any]


@dataclass
class ContactState:
    opted_out: bool = False
    pending_delete: bool = False
    lang: str | None = None
    # An outreach worker's registered phone: each person it enrols is an intake of this referral code.
    device_code: str | None = None
    # The other people's intakes on this phone (NEW, an outreach worker's phone), newest first; read only for shared phones.
    people: tuple[SharedPerson, ...] = ()
    picking: bool = False  # "which person is this for?" waits for its answer

    @property
    def shared(self) -> bool:
        return bool(self.people) or self.device_code is not None


@dataclass
class Conversation:
    contact: ContactState
    intake: IntakeState | None

    def copy(self) -> Conversation:
        """A deep copy (the states hold only JSON-shaped data), without deepcopy's cost."""
        intake = None if self.intake is None else IntakeState(**json_copy(vars(self.intake)))
        return Conversation(ContactState(**vars(self.contact)), intake)


@dataclass
class Outcome:
    conversation: Conversation
    replies: list[Reply]
    events: list[EngineEvent]


Screener = Callable[[Mapping[str, Any], str], Screening]
FactsFn = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass
class EngineContext:
    """What the engine reads but never changes: flow data, translators, screening, settings."""

    bundle: FlowBundle
    i18n: I18n
    screen: Screener
    facts: FactsFn
    referral_codes: frozenset[str] = frozenset()
    idle_timeout: timedelta = timedelta(hours=48)
    support_phone: str = "211"

    def __post_init__(self) -> None:
        # Built per message, so everything derived from the data files comes ready-made from the bundle.
        self.answer_words = self.bundle.keywords.answer_words
        self.language_vocab = self.bundle.language_vocab

    def keyword_action(self, text: str) -> str | None:
        """The keyword action of a message, read as people say it ("stop pls", "en español" -> language)."""
        intent = self.read(text)
        if intent is None or intent.action == "maybe_stop":
            return None
        return "language" if intent.action == "switch" else intent.action

    def read(self, text: str) -> detect_intents.Intent | None:
        return self.bundle.intents.read(text) if len(text) <= KEYWORD_LENGTH else None


class Engine:
    """Runs the intake flow for one message at a time."""

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self.flow = ctx.bundle.flow

    # ---- entry point -------------------------------------------------------------------
    def handle(self, convo: Conversation, msg: InboundMessage, now: datetime) -> Outcome:
        convo = convo.copy()
        turn = _Turn(self, convo, now)
        turn.run(msg)
        if convo.intake is not None:
            convo.intake.last_activity = now.isoformat()
            if convo.intake.lang:
                convo.contact.lang = convo.intake.lang
        return Outcome(convo, turn.replies, turn.events)


def essential(step: Step) -> bool:
    """The language and consent questions: never skipped, and without them nothing can go on."""
    return step.kind == "language" or step.role == "consent"


class _Turn:
    """The work of one inbound message; collects replies and events."""

    def __init__(self, engine: Engine, convo: Conversation, now: datetime) -> None:
        self.ctx = engine.ctx
        self.flow = engine.flow
        self.convo = convo
        self.now = now
        self.replies: list[Reply] = []
        self.events: list[EngineEvent] = []
        # "Got it: ..." for an answer read from words, said at the start of the next message.
        self.readback: Msg | None = None

    # ---- helpers -----------------------------------------------------------------------
    @property
    def intake(self) -> IntakeState:
        assert self.convo.intake is not None
        return self.convo.intake

    @property
    def lang(self) -> str:
        intake = self.convo.intake
        return (intake.lang if intake and intake.lang else None) or self.convo.contact.lang or "en"

    def say(self, *parts: Msg | str, **kw: Any) -> None:
        msgs = tuple(Msg(p) if isinstance(p, str) else p for p in parts)
        # A pending read-back goes with the next thing said; the channel decides whether it fits beside it.
        readback, self.readback = self.readback, None
        self.replies.append(Reply(text=msgs, lang=self.lang, readback=readback, **kw))

    def emit(self, event: EngineEvent) -> None:
        self.events.append(event)

    # ---- the turn ----------------------------------------------------------------------
    def run(self, msg: InboundMessage) -> None:
        contact = self.convo.contact
        text = parse.clean(msg.text)
        intent = self.ctx.read(text)
        action = intent.action if intent else None
        if action == "opt_in" and not contact.opted_out:
            action = None  # START/YES only lift an opt-out; otherwise "yes" is an ordinary answer.

        if contact.opted_out:
            if action == "opt_in" or parse.match_word(text, {"yes": self.ctx.answer_words["yes"]}) == "yes":
                contact.opted_out = False
                self.emit(OptedIn(keyword=text))
                self.say(N_("You're subscribed again to LA County HRTP messages. Text STOP to stop."))
                if self.convo.intake and not self.intake.finished:
                    self.ask_current()
            return  # An opted-out person gets nothing else until they opt back in.

        if msg.link is not None and not (msg.link == OWN_PHONE_LINK and action):
            self.linked(msg)
            return

        if msg.answers_step is not None and self.convo.intake is not None and self.is_stale(msg):
            # A button left under an earlier question: its number means something else now.
            self.emit(StaleAnswer(step=msg.answers_step, turn=msg.answers_turn, current=self.asked_now()))
            self.say(N_("That button belongs to an earlier question, so I didn't use it."))
            self.reask()
            return

        if action == "opt_out" and intent is not None and intent.answerable and self.answers_waiting_question(text):
            action = None  # "ya no" to "Are you working now?" is "not any more"; elsewhere it stops, as "No más" does
        if action == "opt_out":
            self.opt_out(msg, text, intent)
            return

        if contact.picking:
            contact.picking = False
            if self.answer_pick(msg, text, action):
                return

        if action == "people" and (contact.people or self.convo.intake is not None):
            self.ask_pick()
            return

        if contact.pending_delete:
            contact.pending_delete = False
            if self.yes_no(text) == "yes" and contact.shared and self.convo.intake is not None:
                name = self.person_name()
                self.emit(IntakeErased())
                self.convo.intake = None
                if name:
                    self.say(Msg(N_("Done. %(name)s's answers and messages were erased. "
                                    "The other people's intakes are kept."), {"name": verbatim(name)}))
                else:
                    self.say(N_("Done. That person's answers and messages were erased. "
                                "The other people's intakes are kept."))
            elif self.yes_no(text) == "yes":
                self.emit(Erased())
                self.convo.intake = None
                self.say(N_("Done. Your answers and messages with us were erased. Text us any time to start again."))
            else:
                self.say(N_("OK, nothing was erased."))
                if self.convo.intake and not self.intake.finished:
                    self.ask_current()
            return

        if self.convo.intake is not None and (self.intake.pending or "").startswith(STOP_QUESTION):
            if self.answer_stop_question(msg, text):
                return
            intent = self.ctx.read(text)
            action = intent.action if intent and intent.action != "opt_in" else None

        if action == "maybe_stop":
            if self.convo.intake is None:
                self.start_intake(msg, text, None, ask=False)
            self.ask_stop_question()
            return

        if self.convo.intake is None:
            self.start_intake(msg, text, intent)
            return

        if msg.revisit is not None:
            self.revisit(msg.revisit)
            return

        if action == "switch" and intent is not None:
            if self.switch_language(intent.langs, text):
                return
            action = None

        if action:
            self.run_keyword(action)
            return

        intake = self.intake
        if (intake.pending or "").startswith(CALLBACK):
            self.answer_callback(msg, text)
            return
        if intake.pending == OWN_PHONE:
            self.answer_own_phone(msg, text)
            return
        if intake.pending == "resume":
            self.answer_resume(text)
            return
        if (intake.pending or "").startswith(LANGUAGE_PAIR):
            self.answer_language_pair(msg, text)
            return
        if self.idle_expired():
            if self.kept_after_gap(msg, text):
                return
            intake.pending = "resume"
            self.say(N_("Welcome back! Do you want to continue where you left off?"),
                     choices=self.resume_choices(), asks="resume", turn=intake.turn)
            return
        if intake.step is None:
            if intake.finished:
                self.say_complete()
            else:
                self.advance()
            return
        self.answer(msg, text)

    # ---- stopping ----------------------------------------------------------------------
    def opt_out(self, msg: InboundMessage, text: str, intent: detect_intents.Intent | None) -> None:
        contact = self.convo.contact
        contact.opted_out = True
        contact.pending_delete = False
        contact.picking = False
        if self.convo.intake is not None and (self.intake.pending or "").startswith(STOP_QUESTION):
            self.intake.pending = (self.intake.pending or "")[len(STOP_QUESTION):] or None
        if not (self.convo.intake and self.convo.intake.lang) and not contact.lang:
            # STOP as the very first message: confirm in the language it was said in, where that shows.
            said = intent.langs if intent else ()
            hint = msg.language_hint if msg.language_hint in self.ctx.i18n.languages else None
            # "TD" is the mainland Chinese unsubscribe: Simplified, which Traditional readers also read.
            contact.lang = ("zh-Hans" if set(said) == {"zh-Hans", "zh-Hant"} else said[0] if len(said) == 1 else None
                            ) or hint or detect.best_guess(text)
        self.emit(OptedOut(keyword=text))
        self.say(N_("You're unsubscribed from LA County HRTP messages and won't get more. Text START to come back."))

    def answers_waiting_question(self, text: str) -> bool:
        """Whether a question with options is waiting and reads the text as its answer."""
        intake = self.convo.intake
        if intake is None or intake.finished or intake.pending or self.convo.contact.picking \
                or self.convo.contact.pending_delete or self.idle_expired():
            return False
        step = self.flow.by_id.get(intake.step or "")
        if step is None or step.kind in ("text", "zip", "number"):
            return False  # read as a name or a ZIP, a stop would be kept as an answer
        readback = self.readback
        _, problem = self.interpret(step, text)
        self.readback = readback
        return problem is None

    def ask_stop_question(self) -> None:
        intake = self.intake
        if not (intake.pending or "").startswith(STOP_QUESTION):
            intake.pending = STOP_QUESTION + (intake.pending or "")
        self.emit(StopAsked(step=intake.step))
        self.say(N_("Do you want us to stop texting you? Reply STOP to stop, or 1 to go on."))

    def answer_stop_question(self, msg: InboundMessage, text: str) -> bool:
        """True when the reply settled "stop or go on"; otherwise the message is read as usual."""
        intake = self.intake
        before = (intake.pending or "")[len(STOP_QUESTION):] or None
        intake.pending = before
        number = parse.parse_int(text)
        said = self.yes_no(text) if number is None else None
        again = self.ctx.read(text)
        if said == "yes" or (again is not None and again.action == "maybe_stop"):
            # "Yes", or stop words again ("I said stop texting me"): the question was answered.
            self.opt_out(msg, text, None)
            return True
        if said == "no" or number == 1 or parse.match_word(
                text, {"go": self.ctx.bundle.intents.continue_words(self.lang)}) == "go":
            if before == "resume":
                self.say(N_("Welcome back! Do you want to continue where you left off?"),
                         choices=self.resume_choices(), asks="resume", turn=intake.turn)
            elif intake.step is None and not intake.finished:
                self.advance()
            elif not intake.finished:
                self.ask_current()
            else:
                self.say_complete()  # going on after the end: say where things stand rather than nothing
            return True
        return False

    # ---- languages -----------------------------------------------------------------------
    def switch_language(self, langs: Sequence[str], text: str) -> bool:
        """Switches to a language named mid-intake; False when the words answer the question instead."""
        intake = self.intake
        step = self.flow.by_id.get(intake.step or "")
        if step is None or step.kind == "language" or intake.pending:
            return False
        if step.kind != "text" and self.interpret(step, text)[1] is None:
            return False  # "عربي" at the race question is an answer, not a language.
        target = intake.lang if intake.lang in langs else langs[0]
        if target != intake.lang:
            self.record("language", target, step_id="language")
            intake.lang = target
            self.emit(LanguageSet(language=target or "en"))
            self.say(N_("Text LANGUAGE any time to change the language."))
        self.ask(step)
        return True

    def ask_language_pair(self, pair: Sequence[str]) -> None:
        """Two languages share the script of the first message: ask between just those, in their own words."""
        intake = self.intake
        intake.step = "language"
        intake.pending = LANGUAGE_PAIR + ",".join(pair)
        step = self.flow.by_id["language"]
        names = {lang.id: lang.name for lang in self.ctx.bundle.languages}
        prompts = [verbatim(self.ctx.i18n(lang).render(Msg(step.prompt or ""))) for lang in pair]
        choices = tuple(Choice(i, lang, verbatim(names[lang])) for i, lang in enumerate(pair, 1))
        # Rendered as the first of the two, so a right-to-left pair (fa, ar) is shown right to left.
        self.replies.append(Reply(text=tuple(prompts), lang=pair[0], choices=choices, asks="language", turn=intake.turn))

    def answer_language_pair(self, msg: InboundMessage, text: str) -> None:
        intake = self.intake
        pair = (intake.pending or "")[len(LANGUAGE_PAIR):].split(",")
        intake.pending = None
        vocab = {lang: self.ctx.language_vocab.get(lang, ()) for lang in pair}
        picked = parse.parse_choice(text, list(enumerate(pair, 1)), vocab)
        if picked is None:  # Another language by its name ("English"), never by its id ("hi" is a greeting).
            picked = parse.match_word(text, {lang.id: (lang.name, *lang.words) for lang in self.ctx.bundle.languages})
        if picked is None:
            self.ask(self.flow.by_id["language"])  # Neither: the whole list, numbered as usual.
            return
        self.take_answer(self.flow.by_id["language"], picked)

    def say_complete(self) -> None:
        self.say(self.with_phone(N_("Your intake is complete and staff will contact you. "
                                    "Text NEW to start one for someone else, or HELP for options.")))

    def with_phone(self, msgid: str) -> Msg:
        """A message whose wording on some channels (see bot.render) points to the support phone."""
        return Msg(msgid, {"phone": self.ctx.support_phone})

    # ---- starting ----------------------------------------------------------------------
    def start_intake(self, msg: InboundMessage, text: str, intent: detect_intents.Intent | None,
                     ask: bool = True) -> None:
        intake = IntakeState(status="incomplete")
        self.convo.intake = intake
        action = intent.action if intent else None
        code = self.convo.contact.device_code or msg.start_payload or detect.referral_code(text, self.ctx.referral_codes)
        if code:
            intake.referral_code = code.upper()[:32]
            intake.referral_known = intake.referral_code in self.ctx.referral_codes
        self.emit(IntakeStarted(referral_code=intake.referral_code, referral_known=intake.referral_known))
        if self.convo.contact.device_code:
            intake.assisted = "due"
            self.say_enrolling()
        words = detect.without_referral(text, self.ctx.referral_codes)
        candidates: tuple[str, ...] = ()
        if action not in ("language", "switch") and words:
            candidates = (self.ctx.bundle.intents.greeting(words) or detect.language_candidates(words)
                          or (("en",) if detect.looks_english(words) else ())
                          or (intent.langs if intent and len(intent.langs) == 1 else ()))
        if action == "switch" and intent is not None and len(intent.langs) == 1:
            candidates = intent.langs
        order = [lang.id for lang in self.ctx.bundle.languages]
        candidates = tuple(sorted(candidates, key=lambda c: order.index(c) if c in order else len(order)))
        hint = msg.language_hint if msg.language_hint in self.ctx.i18n.languages else None
        if hint and (candidates == ("en",) or (len(candidates) > 1 and hint in candidates)):
            candidates = (hint,)  # English words are typed by everyone; the device's language says more.
        if not candidates and hint:
            candidates = (hint,)
        if len(candidates) == 1:
            guess = candidates[0]
            self.record("language", guess, step_id="language")
            intake.history.append("language")
            intake.lang = guess
            self.say(N_("Text LANGUAGE any time to change the language."))
        if not ask:
            return
        if action == "help":
            self.help()
        elif action == "person":
            self.emit(HandoffRequested(step=None))
            self.say(N_("Thanks. A staff member will contact you soon at this number."))
            self.offer_callback("")
            return
        if len(candidates) == 2:
            self.ask_language_pair(candidates)
            return
        self.advance()

    # ---- keywords ----------------------------------------------------------------------
    def run_keyword(self, action: str) -> None:
        intake = self.intake
        if action == "help":
            self.help()
            self.ask_current()
        elif action == "person":
            self.emit(HandoffRequested(step=intake.step))
            self.say(self.with_phone(N_("Thanks. A staff member will contact you soon at this number.")))
            self.offer_callback("")
        elif action == "delete":
            self.convo.contact.pending_delete = True
            name = self.person_name()
            if self.convo.contact.shared and name:
                # A shared phone: say whose intake goes, so nobody erases the wrong person's.
                self.say(Msg(N_("Erase %(name)s's answers and messages? The other people's intakes are kept. "
                                "Reply YES to erase, or NO to keep them."), {"name": verbatim(name)}))
            elif self.convo.contact.shared:
                self.say(N_("Erase the answers and messages of the person in progress now (no name given)? "
                            "The other people's intakes are kept. Reply YES to erase, or NO to keep them."))
            else:
                self.say(N_("Erase all your answers and messages with us? Reply YES to erase, or NO to keep them."))
        elif action == "new":
            self.emit(IntakeLeft(status=intake.status))
            lang = intake.lang
            self.new_person(intake)
            self.convo.contact.lang = lang
            self.advance()
        elif action == "restart":
            self.emit(Restarted())
            lang = intake.lang
            for f in list(intake.answers):
                if f != "language":
                    self.emit(AnswerCleared(field=f))
            intake.answers = {"language": lang} if lang else {}
            intake.history = ["language"] if lang else []
            intake.screening = None
            intake.status = "incomplete"
            intake.finished = False
            intake.pending = None
            intake.step = None
            intake.misses = 0
            intake.turn += 1
            self.say(N_("Starting over."))
            self.advance()
        elif action == "language":
            intake.pending = None
            self.ask(self.flow.by_id["language"])
        elif action == "back":
            self.back()
        elif action == "people":
            self.ask_pick()

    def new_person(self, left: IntakeState | None) -> None:
        """Another person's intake on this phone, with the phone's referral code; the one left stays as it is."""
        contact = self.convo.contact
        code = contact.device_code or (left.referral_code if left else None)
        known = (code in self.ctx.referral_codes) if contact.device_code else (left.referral_known if left else None)
        self.convo.intake = IntakeState(status="incomplete", referral_code=code, referral_known=known,
                                        turn=(left.turn + 1) if left else 0,
                                        assisted="due" if contact.device_code else None)
        self.emit(IntakeStarted(referral_code=code, referral_known=known, new_person=True))
        if contact.device_code:
            self.say_enrolling()
        else:
            self.say(N_("Starting a new intake for another person. Their answers are kept apart from earlier ones."))

    def say_enrolling(self) -> None:
        self.say(N_("New person: their answers are kept apart from everyone else's. "
                    "Send NEW to enrol another person, or PEOPLE to switch between them."))

    # ---- shared phones: which person a message is for -----------------------------------------
    def person_name(self) -> str | None:
        intake = self.convo.intake
        return first_name(intake.answers, self.flow) if intake is not None else None

    def pick_choices(self) -> tuple[Choice, ...]:
        """The current person first, then the others on this phone, then a new person."""
        out: list[Choice] = []
        people: list[tuple[str, str | None]] = []
        if self.convo.intake is not None and self.convo.intake.key is not None:
            people.append((f"i{self.convo.intake.key}", self.person_name()))
        people += [(f"i{p.intake_id}", p.name) for p in self.convo.contact.people]
        for n, (value, name) in enumerate(people, 1):
            label = verbatim(name) if name else Msg(N_("Person %(n)s (no name yet)"), {"n": n})
            out.append(Choice(n, value, label))
        out.append(Choice(len(out) + 1, "new", Msg(N_("Enrol another person"))))
        return tuple(out)

    def ask_pick(self) -> None:
        self.convo.contact.picking = True
        self.say(N_("Who is this for? Reply with a number."), choices=self.pick_choices(), asks=PICK)

    def answer_pick(self, msg: InboundMessage, text: str, action: str | None) -> bool:
        """True when the reply chose a person (or a new one); a keyword or a plain answer goes on as usual."""
        choices = self.pick_choices()
        vocab = {c.value: self.words_for(c.label) for c in choices}
        vocab["new"] = (*vocab["new"], *self.ctx.bundle.keywords.keywords.get("new", ()))
        picked = parse.parse_choice(text, [(c.number, c.value) for c in choices], vocab)
        if picked is None:
            if action is not None or self.convo.intake is None:
                return False
            self.say(N_("Sorry, I didn't understand. Please reply with one of the numbers below."))
            self.ask_pick()
            return True
        if picked == "new":
            if self.convo.intake is not None:
                self.emit(IntakeLeft(status=self.intake.status))
            lang = self.lang
            self.new_person(self.convo.intake)
            self.convo.contact.lang = lang
            self.advance()
            return True
        key = int(picked[1:])
        other = next((p for p in self.convo.contact.people if p.intake_id == key), None)
        if other is not None:
            self.emit(PersonSwitched(intake_id=key))
            self.convo.intake = IntakeState.from_json(key, other.state)
            self.convo.contact.lang = self.convo.intake.lang or self.convo.contact.lang
        name = self.person_name()
        if name:
            self.say(Msg(N_("Now with %(name)s."), {"name": verbatim(name)}))
        else:
            self.say(N_("Now with the person you chose."))
        self.reask()
        return True

    # ---- an outreach worker's phone: the person's own number -----------------------------------
    def own_phone_due(self, step: Step) -> bool:
        """Asked once, right after the first name (or consent, in a flow that asks no name)."""
        if self.intake.assisted != "due":
            return False
        has_name = any(s.role == "first_name" for s in self.flow.steps)
        return step.role == ("first_name" if has_name else "consent")

    def ask_own_phone(self, again: bool = False) -> None:
        intake = self.intake
        intake.pending = OWN_PHONE
        name = self.person_name()
        if name:
            prompt = Msg(N_("What is %(name)s's own mobile number? Staff will send follow-up there, never here."),
                         {"name": verbatim(name)})
        else:
            prompt = Msg(N_("What is this person's own mobile number? Staff will send follow-up there, never here."))
        self.say(prompt, hint=Msg(N_("Optional: reply SKIP to leave it out.")), asks=OWN_PHONE, turn=intake.turn)

    def answer_own_phone(self, msg: InboundMessage, text: str) -> None:
        intake = self.intake
        if self.is_skip(text):
            self.emit(Skipped(step=OWN_PHONE))
            self.own_phone_done()
            return
        phone = us_phone(text)
        if phone is None:
            self.say(N_("Please send a US mobile number with its area code, like 213-555-0100, or SKIP."))
            self.ask_own_phone(again=True)
            return
        if phone[-10:] == re.sub(r"\D", "", msg.sender)[-10:]:
            self.say(N_("That is the number these messages come from. Please send the person's own number, or SKIP."))
            self.ask_own_phone(again=True)
            return
        self.emit(OwnPhoneGiven(phone=phone))
        self.say(Msg(N_("Thanks. Staff messages for this person will go to their own number, ending %(last4)s."),
                     {"last4": verbatim(phone[-4:])}))
        intake.turn += 1
        self.own_phone_done()

    def own_phone_done(self) -> None:
        intake = self.intake
        intake.assisted = "asked"
        intake.pending = None
        intake.step = None
        self.advance()

    def help(self) -> None:
        self.say(Msg(N_("LA County High Road Training Partnerships: free job-training screening by text, about 15 messages. "
                        "Msg & data rates may apply. Reply PERSON to reach staff, or call %(phone)s."),
                     {"phone": self.ctx.support_phone}))
        self.say(N_("Reply BACK to change your last answer, LANGUAGE to change language, RESTART to start over, "
                    "NEW for another person on this phone, DELETE to erase your answers, STOP to stop."))

    def back(self) -> None:
        intake = self.intake
        current = intake.step
        history = [s for s in intake.history if s != current]
        if not history:
            self.say(N_("This is the first question."))
            self.ask_current()
            return
        previous = history.pop()
        intake.history = history
        intake.pending = None
        step = self.flow.by_id[previous]
        self.ask(step)

    def revisit(self, step_id: str) -> None:
        """Asks an answered question again, as a form's "Change" link asks; anything else re-asks the current one."""
        intake = self.intake
        step = self.flow.by_id.get(step_id)
        if step is None or step_id not in intake.history or not step.answer_fields or step.kind == "language":
            self.reask()
            return
        intake.pending = None
        self.ask(step)

    # ---- a web intake carried on by text -------------------------------------------------------
    def linked(self, msg: InboundMessage) -> None:
        """A link code was texted: the service attached this phone to a web intake, or could not."""
        contact = self.convo.contact
        contact.pending_delete = False
        if msg.link == OWN_PHONE_LINK and self.convo.intake is not None:
            name = self.person_name()
            if name:
                self.say(Msg(N_("Hello %(name)s! This is your own intake, started with an outreach worker. "
                                "You can carry on here: your answers so far are kept."), {"name": verbatim(name)}))
            else:
                self.say(N_("Hello! This is your own intake, started with an outreach worker. "
                            "You can carry on here: your answers so far are kept."))
            self.reask()
            return
        if msg.link in ("linked", "linked_replacing") and self.convo.intake is not None:
            self.emit(ChannelLinked(channel=msg.channel))
            parts = [N_("Welcome! You can carry on here. Your answers from the web page are kept.")]
            if msg.link == "linked_replacing":
                parts.append(N_("The other intake that was open here is kept apart for staff."))
            self.say(*parts)
            self.reask()
            return
        self.emit(LinkRefused())
        hint = msg.language_hint if msg.language_hint in self.ctx.i18n.languages else None
        if self.convo.intake is None and not contact.lang and hint:
            contact.lang = hint  # an expired code still names its intake's language
        self.say(Msg(N_("Sorry, that code didn't work. A code works once, for %(days)s days. You can get a new one on the web page."),  # noqa: E501 (a msgid is one string, for translators)
                     {"days": LINK_DAYS}))
        if self.convo.intake is None:
            self.say(N_("To start a screening here instead, send any message."))
        elif not self.intake.finished:
            self.reask()

    # ---- resume after a long gap ---------------------------------------------------------
    def idle_expired(self) -> bool:
        intake = self.intake
        if intake.finished or intake.status != "incomplete" or not intake.last_activity or intake.step is None:
            return False
        return self.now - datetime.fromisoformat(intake.last_activity) > self.ctx.idle_timeout

    def resume_choices(self) -> tuple[Choice, ...]:
        return (Choice(1, "continue", Msg(N_("Continue"))), Choice(2, "restart", Msg(N_("Start over"))))

    def kept_after_gap(self, msg: InboundMessage, text: str) -> bool:
        """After a long gap, a plain answer to the waiting question is kept, then the person is welcomed back."""
        step = self.flow.by_id.get(self.intake.step or "")
        if step is None or step.kind in ("text", "language") or self.interpret(step, text)[1] is not None:
            return False  # A name, or words that answer nothing: ask whether to go on instead.
        self.emit(Resumed())
        self.say(N_("Welcome back! I kept that answer. Text RESTART to start over."))
        self.answer(msg, text)
        return True

    def answer_resume(self, text: str) -> None:
        choices = self.resume_choices()
        vocab = {c.value: self.words_for(c.label) for c in choices}
        vocab["continue"] = (*vocab["continue"], *self.ctx.bundle.intents.continue_words(self.lang),
                             *self.yes_no_vocab()["yes"])
        vocab["restart"] = (*vocab["restart"], *self.ctx.bundle.keywords.keywords.get("restart", ()))
        picked = parse.parse_choice(text, [(c.number, c.value) for c in choices], vocab)
        if picked is None:
            self.say(N_("Sorry, I didn't understand. Please reply with one of the numbers below."),
                     N_("Do you want to continue where you left off?"), choices=choices, asks="resume",
                     turn=self.intake.turn)
            return
        self.intake.pending = None
        if picked == "restart":
            self.run_keyword("restart")
        else:
            self.emit(Resumed())
            self.ask_current()

    def asked_now(self) -> str | None:
        """The question the person was last asked: a step id, "resume", "delete" or None."""
        if self.convo.contact.pending_delete:
            return "delete"
        if self.convo.contact.picking:
            return PICK
        intake = self.intake
        pending = intake.pending or ""
        if pending.startswith(CALLBACK):
            return pending[len(CALLBACK):].split("|", 1)[0]
        return "resume" if intake.pending == "resume" else OWN_PHONE if pending == OWN_PHONE else intake.step

    def is_stale(self, msg: InboundMessage) -> bool:
        if msg.answers_step != self.asked_now():
            return True
        return msg.answers_turn is not None and msg.answers_turn != self.intake.turn

    def reask(self) -> None:
        """Asks again whatever the person was last asked, without recording anything."""
        intake = self.intake
        if self.convo.contact.pending_delete:
            self.run_keyword("delete")
        elif self.convo.contact.picking:
            self.ask_pick()
        elif intake.pending == "resume":
            self.say(N_("Do you want to continue where you left off?"), choices=self.resume_choices(), asks="resume",
                     turn=intake.turn)
        elif (pending := intake.pending or "").startswith(LANGUAGE_PAIR):
            self.ask_language_pair(pending[len(LANGUAGE_PAIR):].split(","))
        elif pending.startswith(CALLBACK):
            self.ask_callback(*pending[len(CALLBACK):].split("|", 2))
        elif pending == OWN_PHONE:
            self.ask_own_phone(again=True)
        elif intake.step is None and intake.finished:
            self.say_complete()
        elif intake.step in self.flow.by_id:
            self.ask(self.flow.by_id[intake.step], again=True)
        else:
            self.advance()

    # ---- call-backs -----------------------------------------------------------------------
    def offer_callback(self, then: str) -> None:
        """Asks when to call (and where, on a channel without a phone number); `then` says how to carry on after."""
        if self.ctx.bundle.callback is None:
            self.callback_done(then)
            return
        self.ask_callback("callback_window", "", then)

    def ask_callback(self, step_id: str, window: str, then: str) -> None:
        intake = self.intake
        assert self.ctx.bundle.callback is not None
        step = self.ctx.bundle.callback.by_id[step_id]
        intake.pending = f"{CALLBACK}{step_id}|{window}|{then}"
        choices = self.choices_for(step) if step.kind == "choice" else ()
        self.say(Msg(step.prompt or ""), choices=choices, asks=step.id, turn=intake.turn)

    def answer_callback(self, msg: InboundMessage, text: str) -> None:
        intake = self.intake
        flow = self.ctx.bundle.callback
        step_id, window, then = (intake.pending or "")[len(CALLBACK):].split("|", 2)
        if flow is None or step_id not in flow.by_id:
            intake.pending = None
            self.callback_done(then)
            return
        step = flow.by_id[step_id]
        if step.kind == "choice":
            if self.is_skip(text):
                intake.pending = None
                self.say(N_("OK, no call for now. Reply PERSON any time if you'd like one."))
                self.callback_done(then)
                return
            value, problem = self.interpret(step, text)
            if problem is not None:
                self.readback = None
                self.say(problem)
                self.ask_callback(step_id, window, then)
                return
            self.readback = None  # the thanks that follows names the time
            if not msg.phone_address and "callback_phone" in flow.by_id:
                self.ask_callback("callback_phone", value, then)
                return
            self.request_callback(value, None, then)
            return
        if self.is_skip(text):
            self.say(self.with_phone(N_("OK. Then call us at %(phone)s.")))
            self.request_callback(window, None, then)
            return
        phone = us_phone(text)
        if phone is None:
            self.say(Msg(step.reprompt or step.prompt or ""))
            self.ask_callback(step_id, window, then)
            return
        self.request_callback(window, phone, then)

    def request_callback(self, choice: str, phone: str | None, then: str) -> None:
        intake = self.intake
        days, _, window = choice.partition("_")
        intake.pending = None
        self.emit(CallBackRequested(window=window, days=days, phone=phone, step=intake.step))
        flow = self.ctx.bundle.callback
        step = flow.by_id["callback_window"] if flow else None
        label = (next((c.label for c in self.choices_for(step) if c.value == choice), verbatim(choice))
                 if step else verbatim(choice))
        self.say(Msg(N_("Thanks. We'll call you: %(time)s."), {"time": label}))
        self.callback_done(then)

    def callback_done(self, then: str) -> None:
        """Back exactly where the person was: the question they were on, or the one after it."""
        intake = self.intake
        how, _, step_id = then.partition(":")
        step = self.flow.by_id.get(step_id)
        if how == "skip" and step is not None:
            for f in step.answer_fields:
                self.record(f, None, step_id=step.id)
            self.after_answer(step)
        elif how == "next" and step is not None:
            self.after_answer(step)
        elif not intake.finished:
            self.ask_current()

    # ---- answers -----------------------------------------------------------------------
    def words_for(self, label: Msg, extra: Sequence[str] = ()) -> tuple[str, ...]:
        """An option's words: its English label, its label in the person's language, synonyms."""
        words = [label.msgid, *extra]
        if label.translate:
            words.append(self.ctx.i18n(self.lang).render(label))
        return tuple(words)

    def yes_no_vocab(self) -> dict[str, tuple[str, ...]]:
        """Words for yes and no in every language, plus the Yes/No labels in the person's language."""
        return {"yes": (*self.ctx.answer_words["yes"], *self.words_for(Msg(N_("Yes")))),
                "no": (*self.ctx.answer_words["no"], *self.words_for(Msg(N_("No"))))}

    def yes_no(self, text: str) -> str | None:
        return parse.parse_choice(text, [(1, "yes"), (2, "no")], self.yes_no_vocab())

    def is_skip(self, text: str) -> bool:
        return parse.match_word(text, {"skip": (*self.ctx.answer_words["skip"], *self.words_for(Msg(N_("Skip"))))}) == "skip"

    def choices_for(self, step: Step) -> tuple[Choice, ...]:
        if step.kind == "language":
            return tuple(Choice(i, lang.id, verbatim(lang.name)) for i, lang in enumerate(self.ctx.bundle.languages, 1))
        if step.kind == "yesno":
            return (Choice(1, "yes", Msg(N_("Yes"))), Choice(2, "no", Msg(N_("No"))))
        if step.kind == "program_choice":
            matches = (self.intake.screening or {}).get("matches", [])
            out = [Choice(i, m["program"], Msg.from_json(m["name"])) for i, m in enumerate(matches, 1)]
            out.append(Choice(len(out) + 1, TALK, Msg(N_("Talk with a person first"))))
            return tuple(out)
        return tuple(Choice(i, o.id, Msg(o.label)) for i, o in enumerate(step.options, 1))

    def vocab_for(self, step: Step, choices: Sequence[Choice]) -> dict[str, tuple[str, ...]]:
        if step.kind == "language":
            return self.ctx.language_vocab
        if step.kind == "yesno":
            return self.yes_no_vocab()
        extra = {o.id: o.words for o in step.options}
        return {c.value: self.words_for(c.label, extra.get(c.value, ())) for c in choices}

    def answer(self, msg: InboundMessage, text: str) -> None:
        intake = self.intake
        step = self.flow.by_id.get(intake.step or "")
        if step is None:  # The flow changed under a stored conversation: carry on from what still exists.
            intake.step = None
            self.advance()
            return
        raw = msg.text or ""
        if not text or not parse.has_letters(text):
            self.emit(Unreadable(step=step.id, media=msg.media_count))
            if msg.media_count:
                self.say(N_("Thanks! I can only read text, not pictures or files. Please answer in words or numbers."))
            else:
                self.say(N_("Sorry, I couldn't read that. Please answer in words or numbers."))
            self.ask(step, again=True)
            return
        if len(raw) > LONG_MESSAGE:
            self.miss(step, Msg(N_("That message is too long for me. Please send a short answer.")))
            return
        if step.skippable and not essential(step) and (
                self.is_skip(text) or (step.role == "first_name" and self.read_name(text).skip)):
            self.emit(Skipped(step=step.id))
            for f in step.answer_fields:
                self.record(f, None, step_id=step.id)
            self.after_answer(step)
            return
        value, problem = self.interpret(step, text)
        if problem is not None:
            self.readback = None
            self.miss(step, problem)
            return
        if self.readback is not None:
            # Events are kept after a refusal or an erasure; the typed text stays in messages, which are redacted.
            self.emit(AnswerReadBack(step=step.id))
        self.take_answer(step, value)

    def read_name(self, text: str) -> understand.NameReading:
        words = self.ctx.answer_words
        commands = [w for ws in self.ctx.bundle.keywords.keywords.values() for w in ws]
        return understand.read_name(text, self.lang, skip_words=words["skip"], no_words=words["no"], commands=commands)

    def question_for(self, step: Step, choices: Sequence[Choice]) -> understand.Question:
        """The reader's view of a question: its numbered options, their words, and what negating each means."""
        kind = "choice" if step.kind == "program_choice" else step.kind
        vocab = dict(self.vocab_for(step, choices))
        negated = {o.id: o.negated for o in step.options if o.negated}
        ranges = {o.id: (o.min, o.max) for o in step.options if o.min is not None and o.max is not None}
        if step.kind == "yesno":
            negated["yes"] = "no"
        none = "none" if any(o.id == "none" for o in step.options) else None
        exclusive = tuple(step.exclusive) + (("none", "prefer_not") if step.kind == "flags" else ())
        return understand.Question(step.id, kind, tuple((c.number, c.value) for c in choices), vocab,
                                   negated, ranges, exclusive, none)

    def label_of(self, step: Step, value: Any, choices: Sequence[Choice]) -> Msg:
        """The words to read an answer back with: the options' labels in the person's language."""
        labels = {c.value: c.label for c in choices}
        if isinstance(value, list):
            items = tuple(labels[v] for v in value if v in labels)
            return items[0] if len(items) == 1 else MsgList("", items=items)
        return labels.get(value, verbatim(str(value)))

    def read_choice(self, question: understand.Question, text: str) -> understand.Reading:
        """Reads in the conversation's language, and in the language of another script it is typed in."""
        mine = understand.read_choice(question, text, self.lang)
        script = detect.main_script(text)
        names = {lang.id: lang.name for lang in self.ctx.bundle.languages}
        if script is None or script in ("LATIN", detect.main_script(names.get(self.lang, ""))):
            return mine
        # "مش موافق" in an English conversation: only Arabic's own data knows that مش negates.
        theirs = [understand.read_choice(question, text, lang) for lang in detect.language_candidates(text)
                  if lang != self.lang and lang in names]
        if not theirs:
            return mine
        doubtful = next((r for r in theirs if r.negated or r.unsure or r.clash), None)
        if doubtful is not None:
            return doubtful
        values = {repr(r.value) for r in theirs if r.understood}
        if len(values) == 1 and all(r.understood for r in theirs):
            return theirs[0]
        return understand.Reading()  # the languages it is written in do not settle it: ask, never guess

    def interpret(self, step: Step, text: str) -> tuple[Any, Msg | None]:
        """The answer's value for the step, or a kind explanation of what is expected."""
        kind = step.kind
        if kind == "text":
            if step.role != "first_name":
                # Any other text is kept as typed; the question itself, asked again, says what is wanted.
                value = " ".join(text.split())
                if not value:
                    return None, Msg(step.reprompt or N_("Sorry, I couldn't read that. Please answer in words or numbers."))
                if len(value) > step.max_length:
                    return None, Msg(N_("Please send a shorter answer, up to %(max)s letters."), {"max": step.max_length})
                return value, None
            named = self.read_name(text)
            name = named.name
            if not name:
                return None, Msg(step.reprompt or N_("Sorry, I couldn't read that. Please answer in words or numbers."))
            if len(name) > step.max_length:
                return None, Msg(N_("Please send a shorter answer, up to %(max)s letters."), {"max": step.max_length})
            if named.from_sentence:
                self.readback = Msg(N_("Got it: %(answer)s."), {"answer": verbatim(name)})
            return name, None
        if kind == "zip":
            zip5 = understand.read_zip(text)
            if zip5 is None:
                if parse.match_word(text, {"none": self.ctx.answer_words["none"]}) == "none":
                    return "none", None
                if understand.says_no_address(text, self.lang, ()):
                    self.readback = Msg(N_("Got it: %(answer)s."), {"answer": Msg(N_("No fixed address"))})
                    return "none", None
                return None, Msg(N_("Please send a 5-digit ZIP code like 90011, or NONE if you have no fixed address."))
            if geo.lookup(zip5) is None:
                return None, Msg(N_("I couldn't find ZIP code %(zip)s. Please check it, or send NONE."), {"zip": verbatim(zip5)})
            if not re.search(r"\d{5}", parse.to_ascii_digits(text)):
                self.readback = Msg(N_("Got it: %(answer)s."), {"answer": verbatim(zip5)})
            return zip5, None
        if kind == "number":
            n = parse.parse_number(text)
            if n is None or (step.min is not None and n < step.min) or (step.max is not None and n > step.max):
                return None, Msg(N_("Please reply with a number from %(min)s to %(max)s."),
                                 {"min": step.min if step.min is not None else 0,
                                  "max": step.max if step.max is not None else 999})
            return (int(n) if n == int(n) else n), None
        choices = self.choices_for(step)
        reading = self.read_choice(self.question_for(step, choices), text)
        multi = kind in ("multi", "flags")
        if reading.clash:
            return None, Msg(N_("Sorry, that mixes answers that don't go together. Please pick again."))
        if reading.negated:
            # "not a veteran", "no college degree": what does not apply is clear, what does is not.
            answer = self.label_of(step, list(reading.negated), choices)
            if multi:
                return None, Msg(N_("OK, this one does not apply: %(answer)s. "
                                    "Which of these do? Reply with all numbers that fit, like 1,3."),
                                 {"answer": answer})
            return None, Msg(N_("OK, not this one: %(answer)s. Which one fits? Please reply with one of the numbers below."),
                             {"answer": answer})
        if not reading.understood:
            if multi:
                return None, Msg(N_("Sorry, I didn't understand. Reply with the numbers of all that fit, like 1,3."))
            if kind == "yesno":
                return None, Msg(N_("Sorry, please reply 1 for yes or 2 for no."))
            return None, Msg(N_("Sorry, I didn't understand. Please reply with one of the numbers below."))
        # Consent, language and the program choice answer themselves in the very next message.
        if reading.how == "words" and not essential(step) and step.kind != "program_choice":
            self.readback = Msg(N_("Got it: %(answer)s."), {"answer": self.label_of(step, reading.value, choices)})
        return reading.value, None

    def miss(self, step: Step, problem: Msg) -> None:
        intake = self.intake
        intake.misses += 1
        self.emit(NotUnderstood(step=step.id, misses=intake.misses))
        if intake.misses >= 3 and not essential(step):
            self.emit(StepMissed(step=step.id))
            if self.ctx.bundle.callback is not None:
                self.say(N_("Let's skip this question for now. Staff can call you to help with it."))
                self.offer_callback("skip:" + step.id)
                return
            self.say(self.with_phone(N_("Let's skip this question for now. Staff can help with it later: reply PERSON if you'd like a call.")))  # noqa: E501 (a msgid is one string, for translators)
            for f in step.answer_fields:
                self.record(f, None, step_id=step.id)
            self.after_answer(step)
            return
        if intake.misses >= 3:
            # Without language or consent nothing can go on; offer a person instead of a loop.
            self.emit(HandoffSuggested(step=step.id))
            self.say(self.with_phone(N_("It looks like this is hard to answer by text. Reply PERSON and staff will call you.")))
        self.say(problem)
        self.ask(step, again=True)

    def record(self, field_id: str, value: Any, step_id: str) -> None:
        intake = self.intake
        old = intake.answers.get(field_id, "\0missing")
        intake.answers[field_id] = value
        if old != value:
            self.emit(AnswerRecorded(field=field_id, value=value, step=step_id))

    def take_answer(self, step: Step, value: Any) -> None:
        """Records an understood answer, acts on it (language, program choice, a stop) and moves on."""
        intake = self.intake
        if step.kind == "flags":
            if value == ["prefer_not"]:
                values = {f: "prefer_not" for f in step.fields}
            else:
                values = {f: ("yes" if f in value else "no") for f in step.fields}
            for f, v in values.items():
                self.record(f, v, step_id=step.id)
        else:
            self.record(step.field or "", value, step_id=step.id)
        if step.kind == "language":
            intake.lang = value
            self.emit(LanguageSet(language=value))
        if step.kind == "program_choice":
            if value == TALK:
                self.emit(HandoffRequested(step=step.id))
                self.say(self.with_phone(N_("Thanks. A staff member will contact you soon to talk it through.")))
                if self.ctx.bundle.callback is not None:
                    self.offer_callback("next:" + step.id)
                    return
            else:
                self.emit(ProgramChosen(program=value))
                name = next((c.label for c in self.choices_for(step) if c.value == value), verbatim(value))
                self.say(Msg(N_("Great choice. Staff will share your interest in %(program)s and contact you about next steps."),
                             {"program": name}))
        outcome = step.stop_when.get(value) if isinstance(value, str) else None
        if outcome:
            self.stop(outcome)
            return
        self.after_answer(step)

    def stop(self, outcome: StopOutcome) -> None:
        intake = self.intake
        intake.status = outcome
        intake.finished = True
        intake.step = None
        # The one outcome (schema.StopOutcome) today: answers typed before going BACK to consent go too,
        # only the language and the "no" stay.
        self.emit(IntakeDeclined())
        kept = [s for s in self.flow.steps if essential(s)]
        intake.answers = {k: v for k, v in intake.answers.items() if any(k in s.answer_fields for s in kept)}
        intake.history = [h for h in intake.history if any(h == s.id for s in kept)]
        self.say(N_("OK. We won't keep your answers. If you change your mind, text RESTART."))

    def after_answer(self, step: Step) -> None:
        intake = self.intake
        intake.turn += 1
        intake.misses = 0
        intake.pending = None
        if step.id in intake.history:
            intake.history.remove(step.id)
        intake.history.append(step.id)
        result_index = next((i for i, s in enumerate(self.flow.steps) if s.kind == "result"), len(self.flow.steps))
        if intake.screening is not None and self.flow.index(step.id) < result_index:
            # An earlier answer changed after the result: screen again, and let them choose again.
            intake.screening = None
            if "program_choice" in intake.answers:
                intake.answers.pop("program_choice")
                self.emit(AnswerCleared(field="program_choice"))
        elif intake.screening is not None:
            # Answers after the result (gender, race/ethnicity) still change priority categories.
            fresh = self.ctx.screen(intake.answers, self.lang).to_json()["priority"]
            if fresh != intake.screening.get("priority"):
                intake.screening = {**intake.screening, "priority": fresh}
                self.emit(PriorityUpdated(priority=fresh))
        intake.step = None
        if self.own_phone_due(step):
            self.ask_own_phone()
            return
        self.advance()

    # ---- moving forward ----------------------------------------------------------------
    def applies(self, step: Step, facts: Mapping[str, Any]) -> bool:
        intake = self.intake
        for cond in step.when:
            value = intake.answers.get(cond.field) if cond.field else facts.get(cond.fact or "")
            if not cond.holds(value):
                return False
        return True

    def current_facts(self) -> dict[str, Any]:
        intake = self.intake
        known = dict(self.ctx.facts(intake.answers))
        if intake.screening:
            known["eligibility"] = intake.screening["eligibility"]["status"]
            known["match_count"] = len(intake.screening.get("matches", []))
        return known

    def advance(self) -> None:
        intake = self.intake
        while True:
            facts = self.current_facts()
            for each in self.flow.steps:
                if not self.applies(each, facts):
                    for f in each.answer_fields:
                        if f in intake.answers:
                            intake.answers.pop(f)
                            self.emit(AnswerCleared(field=f))
            step = self.next_step(facts)
            if step is None:
                intake.step = None
                return
            if step.kind == "result":
                self.show_result()
                continue
            if step.kind == "end":
                intake.finished = True
                intake.step = None
                self.emit(IntakeFinished())
                self.say(self.with_phone(step.text or ""))
                return
            self.ask(step)
            return

    def next_step(self, facts: Mapping[str, Any]) -> Step | None:
        intake = self.intake
        for step in self.flow.steps:
            if not self.applies(step, facts):
                continue
            if step.kind == "result":
                if intake.screening is None:
                    return step
                continue
            if step.kind == "end":
                return None if intake.finished else step
            if step.kind == "program_choice" and not (intake.screening or {}).get("matches"):
                continue
            if not all(f in intake.answers for f in step.answer_fields):
                return step
        return None

    # ---- asking ------------------------------------------------------------------------
    def ask_current(self) -> None:
        intake = self.intake
        if (pending := intake.pending or "").startswith(CALLBACK):
            # HELP, or NO to DELETE, while the call-back time was asked: that question is still the one waiting.
            self.ask_callback(*pending[len(CALLBACK):].split("|", 2))
            return
        if pending == OWN_PHONE:
            self.ask_own_phone(again=True)
            return
        step = self.flow.by_id.get(intake.step or "")
        if step is None:
            self.advance()
        else:
            self.ask(step)

    def ask(self, step: Step, again: bool = False) -> None:
        intake = self.intake
        if intake.step != step.id:
            intake.misses = 0
        intake.step = step.id
        for text in () if again else step.before:
            self.say(text)
        parts: list[Msg] = []
        if step.why and not again:
            parts.append(Msg(step.why))
        choices = self.choices_for(step) if step.kind not in ("text", "zip", "number") else ()
        if step.kind == "program_choice":
            parts.append(Msg(step.prompt
                             or N_("Reply with the number of the program you want, or %(talk)s to talk with a person first."),
                             {"talk": choices[-1].number}))
        else:
            parts.append(Msg(step.prompt or ""))
        hint = None
        if step.kind in ("multi", "flags"):
            hint = Msg(N_("Reply with all numbers that fit, like 1,3."))
        if step.optional:
            hint = Msg(N_("Optional: reply SKIP to leave it out."))
        self.say(*parts, choices=choices, multi=step.kind in ("multi", "flags"), hint=hint, asks=step.id,
                 turn=intake.turn)

    def show_result(self) -> None:
        intake = self.intake
        screening = self.ctx.screen(intake.answers, self.lang)
        data = screening.to_json()
        intake.screening = data
        intake.status = "completed"
        self.emit(ScreeningCompleted(screening=data))
        status = screening.eligibility
        name = first_name(intake.answers, self.flow)
        if status == "eligible":
            if name:
                self.say(Msg(N_("Good news, %(name)s: you can likely join an LA County High Road Training Partnership. "
                                "This is a screening, not a final decision."),
                             {"name": verbatim(name)}))
            else:
                self.say(N_("Good news: you can likely join an LA County High Road Training Partnership. "
                            "This is a screening, not a final decision."))
        elif status == "needs_review":
            reasons = [r.text for r in screening.reasons if r.review]
            self.say(N_("Thanks! Staff need to check a few things before we know which trainings you can join:"), *reasons)
        else:
            reasons = [r.text for r in screening.reasons if r.result == "fail"]
            self.say(N_("Thank you for your answers. These trainings may not fit you right now:"), *reasons)
            # Nobody leaves with nothing: where to go instead, ending with the nearest job centre.
            self.say(*(screening.instead or (Msg(N_("You can still get free job help at an America's Job Center of California. "
                                                    "Call 211 to find the nearest one.")),)))
            return
        if screening.matches:
            # Every reason goes out; a channel with a segment budget trims them when it renders (bot.render).
            self.say(N_("Trainings that fit you:"), matches=tuple(
                MatchReasons(m.name, tuple(r for r in m.reasons if not is_check(r)), tuple(r for r in m.reasons if is_check(r)))
                for m in screening.matches))
        else:
            self.say(N_("Staff will look for the training that fits you best and contact you."))


def us_phone(text: str) -> str | None:
    """A US phone number as +1 and ten digits, or None: an area code and exchange never start with 0 or 1."""
    digits = re.sub(r"\D", "", parse.to_ascii_digits(text))
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01" or digits[3] in "01":
        return None
    return "+1" + digits
