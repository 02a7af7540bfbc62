"""A question added to the flow's YAML alone is asked, understood, stored, exported, shown to staff and counted."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from intake_flows.schema import DATA_DIR

from bot.export import export_csv
from bot.facets import sync_facets
from bot.metrics import compute_metrics
from bot.models import Answer
from bot.service import Runtime
from tests.admin.helpers import intake_id_of
from tests.transcript import Person

# The question of issue 11, as a county analyst would add it: YAML and its English strings, no Python. Its msgids
# have no translations here, so the conversation is in English (a real one would need all 15 catalogs).
CONTACT_TIME = """\
  - id: contact_time
    kind: choice
    field: contact_time
    staff_label: Best time to call
    prompt: "When is the best time to call you?"
    options:
      - {id: morning, label: "Morning"}
      - {id: afternoon, label: "Afternoon"}
      - {id: evening, label: "Evening"}

"""
ANSWERS = {"language": "English", "consent": "yes", "first_name": "Ana", "zip": "90011", "age_range": "I'm 30",
           "employment": "not working", "sectors": "construction", "education": "GED", "drivers_license": "yes",
           "housing": "my own place", "background": "none", "needs": "childcare"}


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    """The shipped data with the new question asked just before the result, loaded as the app loads its own."""
    folder = tmp_path_factory.mktemp("flow")
    for path in DATA_DIR.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if path.name == "intake.yaml" and "field: contact_time" not in text:
            assert text.count("  - id: result\n") == 1
            text = text.replace("  - id: result\n", CONTACT_TIME + "  - id: result\n")
        (folder / path.name).write_text(text, encoding="utf-8")
    return Runtime.load(Path(folder))


@pytest.fixture
def app_config(app_config: dict, extended: Runtime) -> dict:
    return {**app_config, "RUNTIME": extended}


def reach_contact_time(svc, phone: str) -> Person:
    p = Person(svc, phone)
    p.says("Hi")
    p.answer_until("contact_time", ANSWERS, default="")  # every other question is answered by its field
    return p


def stored(svc, intake_id: int) -> dict:
    with svc.db.session() as s:
        return {a.field: a.value for a in s.scalars(select(Answer).where(Answer.intake_id == intake_id))}


def test_the_new_question_is_asked_and_a_typo_is_understood_and_stored(svc):
    p = reach_contact_time(svc, "+13235550301")
    assert "When is the best time to call you?" in p.last.messages[-1].text
    assert [b.label for b in p.last.messages[-1].buttons] == ["Morning", "Afternoon", "Evening"]
    said = p.says("mornin")
    assert "Got it: Morning." in said and p.asked == "program_choice"
    assert stored(svc, intake_id_of(p))["contact_time"] == "morning"


def test_an_answer_that_is_no_time_gets_a_kind_reprompt_then_words_are_understood(svc):
    p = reach_contact_time(svc, "+13235550302")
    said = p.says("whenever")
    assert "Sorry, I didn't understand. Please reply with one of the numbers below." in said
    assert "When is the best time to call you?" in said and p.asked == "contact_time"
    assert "Got it: Evening." in p.says("evening pls")
    assert stored(svc, intake_id_of(p))["contact_time"] == "evening"


def test_the_export_has_a_column_for_it_named_by_the_flow(svc, extended):
    p = reach_contact_time(svc, "+13235550303")
    p.says("2")
    rows = list(csv.DictReader(io.StringIO("".join(export_csv(svc.db, flow=extended.bundle.flow)))))
    assert [r["answer_contact_time"] for r in rows] == ["afternoon"]


def test_staff_see_it_with_its_label_on_the_intake_and_in_the_filtered_export(staff, svc):
    p = reach_contact_time(svc, "+13235550304")
    p.says("3")
    page = staff.get(f"/admin/intakes/{intake_id_of(p)}").get_data(as_text=True)
    assert "Best time to call</th><td>Evening" in page
    exported = list(csv.DictReader(io.StringIO(staff.get("/admin/intakes/export.csv").get_data(as_text=True))))
    assert [r["answer_contact_time"] for r in exported] == ["evening"]


def test_drop_off_counts_who_answered_it_and_who_stopped_there(staff, svc, extended):
    reach_contact_time(svc, "+13235550305").says("1")
    reach_contact_time(svc, "+13235550306")  # stops at the new question
    with svc.db.writing() as s:
        sync_facets(s)
        rows = {d.step: d for d in compute_metrics(s, extended.bundle.flow).dropoff}
    d = rows["contact_time"]
    assert (d.label, d.question, d.answered, d.stopped) == ("Best time to call", "When is the best time to call you?", 1, 1)
    table = staff.get("/admin/metrics/dropoff.csv").get_data(as_text=True)
    assert "Best time to call,When is the best time to call you?,1,0,1,0.5" in table
    assert "Best time to call" in staff.get("/admin/metrics").get_data(as_text=True)
