"""The engine on small flows of its own: number questions, and what a crash leaves behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake_flows.schema import DATA_DIR

from bot.models import Answer, Intake, Message
from bot.service import IntakeService, Runtime
from tests.transcript import Person

HOURS_FLOW = """
id: intake
steps:
  - id: language
    kind: language
    field: language
    prompt: "Language?"
  - id: consent
    kind: yesno
    field: consent
    prompt: "OK?"
  - id: hours
    kind: number
    field: hours
    min: 0
    max: 80
    prompt: "How many hours a week can you train?"
  - id: result
    kind: result
  - id: done
    kind: end
    text: "Thanks."
"""


def runtime_with_flow(folder: Path, flow: str) -> Runtime:
    """The shipped languages, keywords and rules with this flow in their place."""
    for name in ("languages.yaml", "keywords.yaml", "phrases.yaml", "rules.yaml"):
        (folder / name).write_text((DATA_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "intake.yaml").write_text(flow, encoding="utf-8")
    return Runtime.load(folder)


@pytest.fixture
def hours_runtime(tmp_path: Path) -> Runtime:
    return runtime_with_flow(tmp_path, HOURS_FLOW)


def test_a_number_question_reads_digits_in_words_and_checks_the_range(db, hours_runtime):
    p = Person(IntakeService(db, hours_runtime), "+13235550150")
    p.says("Hi")
    p.says("yes")
    assert "number from 0 to 80" in p.says("120")
    assert "number from 0 to 80" in p.says("lots")
    assert "Thanks." in p.says("about ٢٠ hours")
    with db.session() as s:
        assert s.scalar(select(Answer.value).where(Answer.field == "hours")) == 20


NOTE_FLOW = """
id: intake
steps:
  - id: language
    kind: language
    field: language
    prompt: "Language?"
  - id: consent
    kind: yesno
    field: consent
    role: consent
    prompt: "OK?"
  - id: first_name
    kind: text
    field: first_name
    role: first_name
    reprompt: "Please send your first name, or SKIP."
    prompt: "Name?"
  - id: landmark
    kind: text
    field: landmark
    max_length: 30
    prompt: "What is a landmark near where you stay?"
  - id: result
    kind: result
  - id: done
    kind: end
    text: "Thanks."
"""


@pytest.fixture
def note_runtime(tmp_path: Path) -> Runtime:
    return runtime_with_flow(tmp_path, NOTE_FLOW)


def test_a_text_question_that_is_not_the_name_keeps_what_was_typed_and_reprompts_as_itself(db, note_runtime):
    p = Person(IntakeService(db, note_runtime), "+13235550152")
    p.says("Hi")
    p.says("yes")
    assert "Please send your first name, or SKIP." in p.says("hello")  # the name step's own reprompt, from the flow
    assert "What is a landmark" in p.says("My name is Ana")
    said = p.says("the big church on 5th street next to the old market")
    assert "shorter answer, up to 30 letters" in said and "first name" not in said and p.asked == "landmark"
    assert "Thanks." in p.says("My name is on the mural")  # not read as a name: kept as typed
    with db.session() as s:
        answers = {f: v for f, v in s.execute(select(Answer.field, Answer.value))}
    assert answers["first_name"] == "Ana" and answers["landmark"] == "My name is on the mural"


class Boom(RuntimeError):
    pass


def test_a_crash_mid_message_leaves_no_half_applied_state(service, monkeypatch):
    p = Person(service, "+13235550151")
    p.says("Hi")

    original = service._apply

    def apply_then_crash(*args, **kwargs):
        original(*args, **kwargs)
        raise Boom("disk full")

    monkeypatch.setattr(service, "_apply", apply_then_crash)
    with pytest.raises(Boom):
        p.says("yes")
    with service.db.session() as s:
        intake = s.scalars(select(Intake)).one()
        assert intake.current_step == "consent" and "consent" not in intake.state["answers"]
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1
        assert s.scalar(select(func.count()).select_from(Answer).where(Answer.field == "consent")) == 0
    monkeypatch.undo()
    assert "first name" in p.says("yes")  # the person's next try applies cleanly
