"""Conversation scenarios: a scripted person runs through the real engine and store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from bot.render import Rendered
from bot.service import IntakeService
from bot.messages import InboundMessage
from bot.sms import segment_info
from bot.store import Contact, Intake
from intake_flows.text import Msg

MAX_TURNS = 200


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
    channel: Literal["sms", "whatsapp", "telegram", "web"] = "sms"
    from_: str = Field("+13235550100", alias="from")
    start: str = "Hi"
    answers: dict[str, str | int | Choose] = {}
    otherwise: str | None = None
    say: list[Say] = []
    expect: Expect | None = None


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
    """Drives one scenario through an IntakeService."""

    def __init__(self, service: IntakeService, scenario: Scenario, start: datetime | None = None) -> None:
        self.service = service
        self.sc = scenario
        self.clock = start or datetime.now(timezone.utc)
        self.transcript: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.sent = 0
        self.answers_sent = 0
        self.replies_before_result: int | None = None
        self._seq = 0

    def send(self, text: str, answer: bool = True) -> list[Rendered]:
        self._seq += 1
        self.clock += timedelta(seconds=20)
        info = segment_info(text)
        self.transcript.append({"from": "person", "text": text, "segments": info.segments, "encoding": info.encoding})
        sender = self.sc.from_
        msg = InboundMessage(channel=self.sc.channel, sender=sender, text=text,
                             provider_id=f"SIM{self.clock.timestamp():.0f}{self._seq:05d}")
        result = self.service.handle(msg, now=self.clock)
        for m in result.messages:
            self.transcript.append({"from": "bot", "text": m.text, "segments": m.segments, "encoding": m.encoding})
        if any(e.kind == "step_missed" for e in result.events):
            missed = next(e.data["step"] for e in result.events if e.kind == "step_missed")
            self.fail(f"not understood: {self.field_name(missed)}")
        self.sent += 1
        self.answers_sent += answer
        if self.replies_before_result is None and any(e.kind == "screening_completed" for e in result.events):
            self.replies_before_result = self.answers_sent
        return result.messages

    def fail(self, why: str) -> None:
        if why not in self.failures:
            self.failures.append(why)

    def field_name(self, step_id: str) -> str:
        step = self.service.runtime.bundle.flow.by_id.get(step_id)
        return (step.field or step.id) if step else step_id

    def typed(self, step_id: str, last: Rendered) -> str | None:
        step = self.service.runtime.bundle.flow.by_id.get(step_id)
        keys = [step_id] + ([step.field] if step and step.field else [])
        answer: Any = next((self.sc.answers[k] for k in keys if k in self.sc.answers), None)
        if answer is None:
            if step_id == "resume":
                return "1"
            return self.sc.otherwise
        if isinstance(answer, Choose):
            numbers = {b.value: b.number for b in last.buttons}
            missing = [v for v in answer.choose if v not in numbers]
            if missing:
                self.fail(f"{self.field_name(step_id)}: no option {missing} is offered")
                return None
            return ",".join(str(numbers[v]) for v in answer.choose)
        return str(answer)

    def run(self) -> SimResult:
        replies = self.send(self.sc.start, answer=False)
        asked: dict[str, int] = {}
        for _ in range(MAX_TURNS):
            last = next((m for m in reversed(replies) if m.asks), None)
            if last is None or self.failures:
                break
            step_id = last.asks or ""
            asked[step_id] = asked.get(step_id, 0) + 1
            if asked[step_id] > 3:
                self.fail(f"not understood: {self.field_name(step_id)}")
                break
            text = self.typed(step_id, last)
            if text is None:
                if not self.failures:
                    self.fail(f"no answer for field {self.field_name(step_id)}")
                break
            replies = self.send(text)
            for extra in self.sc.say:
                if extra.after in (step_id, self.field_name(step_id)):
                    replies = self.send(extra.text, answer=False)
        return self.result()

    def result(self) -> SimResult:
        svc = self.service
        with svc.db.session() as s:
            contact = s.scalar(select(Contact).where(Contact.channel == self.sc.channel, Contact.address == self.sc.from_))
            intake = s.get(Intake, contact.active_intake_id) if contact and contact.active_intake_id else None
            if intake is None and contact is not None and contact.intakes:
                intake = contact.intakes[-1]
            data = intake_json(svc, intake) if intake else {}
            status = "opted_out" if contact and contact.opted_out_at else (intake.status if intake else "not_started")
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
