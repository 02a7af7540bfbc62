"""Conversation scenarios: a scripted person runs through the real engine and store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select

from intake_flows import answers as parse
from intake_flows.schema import Step
from intake_flows.text import Msg

from bot.channels import CHANNELS
from bot.events import AnswerRecorded, EngineEvent, ScreeningCompleted, StepMissed
from bot.messages import InboundMessage
from bot.models import Contact, Intake
from bot.render import Rendered
from bot.service import HandleResult, IntakeService
from bot.sms import segment_info

MAX_TURNS = 200
FLAG_VALUES = ("yes", "no", "prefer_not")


class ScenarioError(ValueError):
    """The scenario file is malformed."""


class Choose(BaseModel):
    model_config = ConfigDict(extra="forbid")
    choose: list[str]


class Say(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after: str
    text: str


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str | None = None
    eligibility: str | None = None
    priority: list[str] | None = None
    not_priority: list[str] | None = None
    is_priority: bool | None = None
    top_sector: str | None = None
    top_program: str | None = None
    programs: list[str] | None = None
    language: str | None = None
    referral_code: str | None = None
    answers: dict[str, Any] | None = None
    max_replies_before_result: int | None = None
    max_segments_per_message: int | None = None


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str
    channel: str = "sms"  # one of bot.channels.CHANNELS, which every adapter's channels join
    from_: str = Field("+13235550100", alias="from")
    start: str = "Hi"
    answers: dict[str, str | int | Choose] = {}
    otherwise: str | None = None
    say: list[Say] = []
    expect: Expect | None = None

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        if value not in CHANNELS:
            raise ValueError(f"unknown channel {value!r}; known: {', '.join(CHANNELS)}")
        return value

    @field_validator("answers", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: Any) -> Any:
        # YAML reads a bare yes/no as a boolean; the person typed the word.
        if isinstance(value, dict):
            return {k: ("yes" if v else "no") if isinstance(v, bool) else v for k, v in value.items()}
        return value


def load_scenario(path: str | Path) -> Scenario:
    """Reads and validates a scenario file, naming the file in any error."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return Scenario.model_validate(doc)
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc


@dataclass
class SimResult:
    status: str
    intake: dict[str, Any]
    transcript: list[dict[str, Any]]
    stats: dict[str, int]
    failures: list[str] = field(default_factory=list)
    replies_before_result: int | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "intake": self.intake, "transcript": self.transcript, "stats": self.stats,
                "ok": self.ok, "failures": self.failures}


class Runner:
    """Drives one scenario through an IntakeService, as a person new to its database."""

    def __init__(self, service: IntakeService, scenario: Scenario, start: datetime | None = None) -> None:
        self.service = service
        self.sc = scenario
        self.flow = service.runtime.bundle.flow
        self.clock = start or datetime.now(UTC)
        # Provider ids are de-duplicated by the store, so they must never repeat across runs sharing a database.
        self.run_id = uuid.uuid4().hex[:12]
        self.address = scenario.from_
        self.transcript: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.answers_sent = 0
        self.replies_before_result: int | None = None
        self.intake_id: int | None = None
        self.asked: dict[str, int] = {}
        self.said: set[int] = set()
        self._seq = 0

    def send(self, text: str, answer: bool = True) -> tuple[list[Rendered], list[EngineEvent]]:
        self._seq += 1
        self.clock += timedelta(seconds=20)
        info = segment_info(text)
        self.transcript.append({"from": "person", "text": text, "segments": info.segments, "encoding": info.encoding})
        result = self.deliver(text)
        if result.intake_id is not None:
            self.intake_id = result.intake_id
        for m in result.messages:
            self.transcript.append({"from": "bot", "text": m.text, "segments": m.segments, "encoding": m.encoding})
        missed = next((e.step for e in result.events if isinstance(e, StepMissed)), None)
        if missed is not None:
            self.fail(f"not understood: {self.field_name(missed)}")
        self.answers_sent += answer
        if self.replies_before_result is None and any(isinstance(e, ScreeningCompleted) for e in result.events):
            self.replies_before_result = self.answers_sent
        return result.messages, result.events

    def deliver(self, text: str) -> HandleResult:
        """The person's message reaching the service; another transport (a Telegram poller) may carry it instead."""
        msg = InboundMessage(channel=self.sc.channel, sender=self.address, text=text,
                             provider_id=f"SIM-{self.run_id}-{self._seq:05d}")
        return self.service.handle(msg, now=self.clock)

    def fail(self, why: str) -> None:
        if why not in self.failures:
            self.failures.append(why)

    def field_name(self, step_id: str) -> str:
        step = self.flow.by_id.get(step_id)
        if step is None:
            return step_id
        return step.field or (", ".join(step.fields) if step.fields else step.id)

    def names(self, step_id: str) -> tuple[str, ...]:
        """What a scenario may call a question: its step id and every field it sets."""
        step = self.flow.by_id.get(step_id)
        if step is None:
            return (step_id,)
        return (step.id, *([step.field] if step.field else []), *step.fields)

    def typed(self, step_id: str, last: Rendered) -> str | None:
        step = self.flow.by_id.get(step_id)
        if step is not None and step.kind == "flags" and any(f in self.sc.answers for f in step.fields):
            if step.id in self.sc.answers:
                both = [step.id, *(f for f in step.fields if f in self.sc.answers)]
                self.fail(f"answers: {', '.join(both)} all answer the {step.id} question; keep either {step.id} "
                          "or its fields")
                return None
            return self.flags_reply(step, last)
        keys = [step_id] + ([step.field] if step and step.field else [])
        answer: Any = next((self.sc.answers[k] for k in keys if k in self.sc.answers), None)
        if answer is None:
            if step_id == "resume":
                return "1"
            if step is not None and step.kind == "flags":
                # `otherwise` is typed as is: for a question that sets several fields it would pick by position.
                self.fail(f"no answer for fields {', '.join(step.fields)} (asked together as {step.id})")
                return None
            return self.sc.otherwise
        if isinstance(answer, Choose):
            numbers = self.numbers(step_id, last, answer.choose)
            return None if numbers is None else ",".join(numbers)
        return str(answer)

    def numbers(self, step_id: str, last: Rendered, values: list[str]) -> list[str] | None:
        """The option numbers for value ids: what a person types, taps or ticks on every channel."""
        # SMS and WhatsApp show numbered lines; a Telegram button's data and a web button's text are that number,
        # and several-at-once questions are typed (Telegram) or ticked into the box (web) as "1,3".
        numbers = {b.value: b.number for b in last.buttons}
        missing = [v for v in values if v not in numbers]
        if missing:
            self.fail(f"{self.field_name(step_id)}: no option {missing} is offered")
            return None
        return [str(numbers[v]) for v in values]

    def flags_reply(self, step: Step, last: Rendered) -> str | None:
        """One reply to a "which of these apply" question, composed from each of its fields' answers."""
        values: dict[str, str] = {}
        for f in step.fields:
            value = self.flag_value(step, f, last.lang) if f in self.sc.answers else "no"
            if value is None:
                return None
            values[f] = value
        yes = [f for f in step.fields if values[f] == "yes"]
        withheld = [f for f in step.fields if values[f] == "prefer_not"]
        if yes:
            picks = yes
        elif len(withheld) == len(step.fields):
            picks = ["prefer_not"]
        elif not withheld:
            picks = ["none"]
        else:
            picks = []
        if not picks or (yes and withheld):
            # The question records "prefer not to say" only for all its fields at once; else it would record wrong.
            self.fail(f"answers: {', '.join(f'{f}: {values[f]}' for f in step.fields)} cannot be recorded by the "
                      f"{step.id} question, which takes prefer_not only for all of its fields at once")
            return None
        numbers = self.numbers(step.id, last, picks)
        return None if numbers is None else ",".join(numbers)

    def flag_value(self, step: Step, field_id: str, lang: str) -> str | None:
        """yes, no or prefer_not for one field of a flags question, from its entry in `answers`."""
        entry = self.sc.answers[field_id]
        if isinstance(entry, Choose):
            if len(entry.choose) == 1 and entry.choose[0] in FLAG_VALUES:
                return entry.choose[0]
            self.fail(f"answers.{field_id}: choose one of {list(FLAG_VALUES)}, not {entry.choose}")
            return None
        text = str(entry)
        if text in FLAG_VALUES:
            return text
        t = self.service.runtime.i18n(lang)
        words = self.service.runtime.bundle.keywords.answer_words
        withheld = [w for o in step.options if o.id == "prefer_not" for w in (o.label, t.render(Msg(o.label)), *o.words)]
        vocab = {"yes": (*words["yes"], "Yes", t.render(Msg("Yes"))),
                 "no": (*words["no"], "No", t.render(Msg("No"))),
                 "prefer_not": ("prefer not", *withheld)}
        value = parse.match_word(text, vocab)
        if value is None:
            self.fail(f"answers.{field_id}: {text!r} is not yes, no or prefer_not")
        return value

    def say_after(self, step_id: str, events: list[EngineEvent]) -> tuple[list[Rendered], list[EngineEvent]] | None:
        """Sends each `say` entry once, right after its field is first answered; the last replies, if any."""
        answered = any(isinstance(e, AnswerRecorded) and e.step == step_id for e in events)
        out = None
        for i, extra in enumerate(self.sc.say):
            if i not in self.said and answered and extra.after in self.names(step_id):
                self.said.add(i)
                out = self.send(extra.text, answer=False)
        return out

    def fresh_address(self) -> str:
        """The scenario's `from`, unless the database already knows it: then an address of this run's own."""
        with self.service.db.session() as s:
            known = s.scalar(select(Contact.id).where(Contact.channel == self.sc.channel,
                                                      Contact.address == self.sc.from_))
        if known is None:
            return self.sc.from_
        suffix = f"~{self.run_id}"
        return self.sc.from_[:64 - len(suffix)] + suffix

    def run(self) -> SimResult:
        self.address = self.fresh_address()
        replies, _ = self.send(self.sc.start, answer=False)
        for _ in range(MAX_TURNS):
            last = next((m for m in reversed(replies) if m.asks), None)
            if last is None or self.failures:
                break
            step_id = last.asks or ""
            self.asked[step_id] = self.asked.get(step_id, 0) + 1
            if self.asked[step_id] > 3:
                self.fail(f"not understood: {self.field_name(step_id)}")
                break
            text = self.typed(step_id, last)
            if text is None:
                if not self.failures:
                    self.fail(f"no answer for field {self.field_name(step_id)}")
                break
            replies, events = self.send(text)
            replies = (self.say_after(step_id, events) or (replies, events))[0]
        return self.result()

    def unused(self, status: str, recorded: dict[str, Any], facts: dict[str, Any]) -> None:
        """Fails for every `answers` key and `say` entry the run never used, saying why it was not."""
        asked = {n for step_id in self.asked for n in self.names(step_id)}
        for key in self.sc.answers:
            if key not in asked:
                self.fail(f"answers.{key} was never asked: {self.why_not_asked(key, status, recorded, facts)}")
        for i, extra in enumerate(self.sc.say):
            if i not in self.said:
                self.fail(f"say after {extra.after} was never sent: {extra.after} was never answered")

    def why_not_asked(self, key: str, status: str, recorded: dict[str, Any], facts: dict[str, Any]) -> str:
        step = next((s for s in self.flow.steps if key in (s.id, s.field, *s.fields)), None)
        if step is None:
            return f"the flow has no field or question {key}"
        if key in recorded:
            return "the conversation set it without asking (from an earlier message)"
        unmet = [c for c in step.when if not c.holds(recorded.get(c.field) if c.field else facts.get(c.subject))]
        if unmet:
            conds = " and ".join(f"{c.subject} {'in' if c.in_ is not None else 'not in'} "
                                 f"{list(c.in_ if c.in_ is not None else c.not_in or ())}" for c in unmet)
            return f"its question ({step.id}) only comes when {conds}, which this run did not meet"
        if step.kind == "program_choice" and not facts.get("match_count"):
            return f"no program matched, so its question ({step.id}) did not come"
        return f"the run ended ({status}) before its question ({step.id})"

    def result(self) -> SimResult:
        svc = self.service
        with svc.db.session() as s:
            contact = s.scalar(select(Contact).where(Contact.channel == self.sc.channel, Contact.address == self.address))
            intake = s.get(Intake, self.intake_id) if self.intake_id is not None else None
            data = intake_json(svc, intake) if intake else {}
            status = "opted_out" if contact and contact.opted_out_at else (intake.status if intake else "not_started")
            recorded = data.get("answers") or {}
            if not self.failures:
                facts = dict(svc.runtime.facts(recorded, svc.catalog.snapshot(s).area_tier))
                facts.update(eligibility=(data.get("eligibility") or {}).get("status"),
                             match_count=len(data.get("matches") or []))
                self.unused(status, recorded, facts)
        bot = [t for t in self.transcript if t["from"] == "bot"]
        stats = {"person_messages": len(self.transcript) - len(bot), "bot_messages": len(bot),
                 "segments": sum(t["segments"] for t in bot)}
        res = SimResult(status, data, self.transcript, stats, list(self.failures), self.replies_before_result)
        if self.sc.expect:
            check(res, self.sc.expect)
        return res


def intake_json(service: IntakeService, intake: Intake) -> dict[str, Any]:
    """The intake as DESIGN.md's simulate output describes it, texts in the person's language."""
    t = service.runtime.i18n(intake.language)
    answers = {a.field: a.value for a in intake.answers}
    sc = intake.screening or {}
    elig = sc.get("eligibility") or {}
    return {
        "id": intake.id, "channel": intake.channel, "language": intake.language,
        "referral_code": intake.referral_code, "referral_known": intake.referral_known,
        "answers": answers,
        "eligibility": {"status": elig.get("status"),
                        "reasons": [{"rule": r["rule"], "result": r["result"], "text": t.render(Msg.from_json(r["text"]))}
                                    for r in elig.get("reasons", [])]},
        "priority": {"is_priority": (sc.get("priority") or {}).get("is_priority"),
                     "categories": (sc.get("priority") or {}).get("categories", [])},
        "matches": [{"program": m["program"], "sector": m["sector"], "score": m["score"],
                     "reasons": [t.render(Msg.from_json(r)) for r in m.get("reasons", [])]}
                    for m in sc.get("matches", [])],
    }


def check(res: SimResult, exp: Expect) -> None:
    """Adds a failure for every expectation the result misses."""
    i = res.intake

    def want(name: str, expected: Any, actual: Any) -> None:
        if expected is not None and expected != actual:
            res.failures.append(f"expected {name} {expected!r}, got {actual!r}")

    want("status", exp.status, res.status)
    want("eligibility", exp.eligibility, (i.get("eligibility") or {}).get("status"))
    want("language", exp.language, i.get("language"))
    want("referral_code", exp.referral_code, i.get("referral_code"))
    want("is_priority", exp.is_priority, (i.get("priority") or {}).get("is_priority"))
    cats = set((i.get("priority") or {}).get("categories") or [])
    for c in exp.priority or []:
        if c not in cats:
            res.failures.append(f"expected priority category {c!r}, got {sorted(cats)}")
    for c in exp.not_priority or []:
        if c in cats:
            res.failures.append(f"did not expect priority category {c!r}")
    matches = i.get("matches") or []
    if exp.top_sector is not None:
        want("top_sector", exp.top_sector, matches[0]["sector"] if matches else None)
    if exp.top_program is not None:
        want("top_program", exp.top_program, matches[0]["program"] if matches else None)
    for p in exp.programs or []:
        if p not in [m["program"] for m in matches]:
            res.failures.append(f"expected program {p!r} among matches {[m['program'] for m in matches]}")
    for k, v in (exp.answers or {}).items():
        want(f"answer {k}", v, (i.get("answers") or {}).get(k))
    if exp.max_replies_before_result is not None:
        n = res.replies_before_result
        if n is None or n > exp.max_replies_before_result:
            res.failures.append(f"expected the result within {exp.max_replies_before_result} replies, got {n}")
    if exp.max_segments_per_message is not None:
        worst = max((t["segments"] for t in res.transcript if t["from"] == "bot"), default=0)
        if worst > exp.max_segments_per_message:
            res.failures.append(f"a bot message took {worst} segments (limit {exp.max_segments_per_message})")
