"""The scenario runner keeps DESIGN.md's promises: says once, flags by field, no dead keys, one shared database."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bot.db import Database
from bot.migrate import fresh_sqlite
from bot.service import IntakeService
from bot.simulate import Runner, SimResult, load_scenario
from tests.conftest import T0
from webhook.cli import main

SHIPPED = sorted((Path(__file__).parent / "scenarios").glob("*.yaml"))

# A full English intake answered by value ids ("Hi" settles English); each test changes only what it is about.
PERSON = {
    "consent": {"choose": ["yes"]}, "first_name": "Ana", "zip": "90011",
    "age_range": {"choose": ["25_54"]}, "employment": {"choose": ["unemployed"]},
    "sectors": {"choose": ["construction"]}, "education": {"choose": ["hs_ged"]},
    "drivers_license": {"choose": ["no"]}, "housing": {"choose": ["stable"]},
    "needs": {"choose": ["none"]}, "program_choice": {"choose": ["talk_to_someone"]},
    "gender": "SKIP", "race_ethnicity": "SKIP",
}


def scenario_file(tmp_path: Path, name: str = "person", answers: dict[str, Any] | None = None, **top: Any) -> Path:
    # A question no test names (one added to the flow later) is skipped, so these tests stay about what they test.
    doc = {"name": name, "channel": "sms", "from": "+13235550142", "start": "Hi",
           "answers": {**PERSON, **(answers or {})}, "otherwise": "SKIP", **top}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run(db: Database, runtime, path: Path) -> SimResult:
    return Runner(IntakeService(db, runtime), load_scenario(path), start=T0).run()


def said(result: SimResult) -> list[str]:
    return [t["text"] for t in result.transcript if t["from"] == "person"]


def recorded(result: SimResult, *fields: str) -> dict[str, Any]:
    return {f: result.intake["answers"].get(f) for f in fields}


FLAGS = ("veteran", "justice_involved", "public_assistance")


# ---- say -----------------------------------------------------------------------------------
def test_a_say_entry_is_sent_once_even_when_it_sends_the_person_back_to_its_field(db, runtime, tmp_path):
    path = scenario_file(tmp_path, answers={"background": {"choose": ["none"]}},
                         say=[{"after": "employment", "text": "BACK"}])
    result = run(db, runtime, path)
    assert result.ok, result.failures
    assert result.status == "completed"
    assert said(result).count("BACK") == 1
    assert said(result)[said(result).index("BACK") - 1:said(result).index("BACK") + 2] == ["1", "BACK", "1"]


def test_a_say_entry_whose_field_is_never_answered_fails_naming_it(db, runtime, tmp_path):
    path = scenario_file(tmp_path, answers={"background": {"choose": ["none"]}}, say=[{"after": "la_county", "text": "HELP"}])
    result = run(db, runtime, path)
    assert "say after la_county was never sent: la_county was never answered" in result.failures


# ---- the "which of these apply" question -------------------------------------------------
@pytest.mark.parametrize("channel, sender", [("sms", "+13235550142"), ("whatsapp", "whatsapp:+13235550142"),
                                             ("telegram", "7001000142"), ("web", "web-session-0142")])
def test_the_flags_question_is_answered_from_each_fields_entry_never_from_otherwise(db, runtime, tmp_path, channel, sender):
    path = scenario_file(tmp_path, channel=channel, otherwise="1", **{"from": sender},
                         answers={"veteran": "no", "justice_involved": {"choose": ["yes"]}, "public_assistance": "no",
                                  # "1" is no name: three misses offer a call, and ask a number where there is none
                                  **({"callback_phone": "SKIP"} if channel in ("telegram", "web") else {})})
    result = run(db, runtime, path)
    assert result.ok, result.failures
    assert recorded(result, *FLAGS) == {"veteran": "no", "justice_involved": "yes", "public_assistance": "no"}
    assert "justice_involved" in result.intake["priority"]["categories"]
    assert "veteran" not in result.intake["priority"]["categories"]


@pytest.mark.parametrize("answers, expected", [
    ({"veteran": "yes", "justice_involved": "no", "public_assistance": "yes"}, ("yes", "no", "yes")),
    ({"veteran": "no", "justice_involved": "no", "public_assistance": "no"}, ("no", "no", "no")),
    ({"veteran": "prefer_not", "justice_involved": "prefer_not", "public_assistance": "prefer_not"},
     ("prefer_not", "prefer_not", "prefer_not")),
    ({"veteran": "Prefer not to say", "justice_involved": "prefer not", "public_assistance": "PREFER_NOT"},
     ("prefer_not", "prefer_not", "prefer_not")),
    ({"veteran": "Yes", "justice_involved": "nope"}, ("yes", "no", "no")),
    ({"public_assistance": {"choose": ["yes"]}}, ("no", "no", "yes")),
], ids=["two-apply", "none-apply", "prefer-not-ids", "prefer-not-words", "words-and-unlisted", "one-chosen"])
def test_plain_strings_are_each_flag_fields_answer(db, runtime, tmp_path, answers, expected):
    result = run(db, runtime, scenario_file(tmp_path, answers=answers))
    assert result.ok, result.failures
    assert recorded(result, *FLAGS) == dict(zip(FLAGS, expected, strict=True))


def test_a_flags_field_answered_in_the_persons_language(db, runtime, tmp_path):
    path = scenario_file(tmp_path, start="Bonjour", answers={"language": "español", "consent": "sí", "veteran": "sí",
                                            "justice_involved": "no", "public_assistance": "No"})
    result = run(db, runtime, path)
    assert result.ok, result.failures
    assert result.intake["language"] == "es"
    assert recorded(result, *FLAGS) == {"veteran": "yes", "justice_involved": "no", "public_assistance": "no"}


def test_bare_yaml_yes_and_no_are_the_words_the_person_typed(db, runtime, tmp_path):
    path = tmp_path / "bare.yaml"
    path.write_text(textwrap.dedent("""\
        name: bare yes and no
        answers: {consent: yes, first_name: Ana, zip: "90011", age_range: "4", employment: "1",
                  sectors: "1", education: "2", drivers_license: no, housing: "1", veteran: yes, justice_involved: no,
                  needs: "7", program_choice: "SKIP", gender: SKIP, race_ethnicity: SKIP}
        otherwise: "1"
        """), encoding="utf-8")
    result = run(db, runtime, path)
    assert result.ok, result.failures
    assert recorded(result, "consent", "drivers_license", *FLAGS) == {
        "consent": "yes", "drivers_license": "no", "veteran": "yes", "justice_involved": "no", "public_assistance": "no"}


def test_a_combination_the_flags_question_cannot_record_fails_naming_the_fields(db, runtime, tmp_path):
    path = scenario_file(tmp_path, answers={"veteran": "yes", "justice_involved": "prefer_not"})
    result = run(db, runtime, path)
    assert not result.ok
    assert any("veteran: yes, justice_involved: prefer_not" in f and "background" in f for f in result.failures), result.failures


def test_a_flags_field_value_that_is_not_yes_no_or_prefer_not_fails_naming_the_field(db, runtime, tmp_path):
    result = run(db, runtime, scenario_file(tmp_path, answers={"veteran": "sometimes"}))
    assert "answers.veteran: 'sometimes' is not yes, no or prefer_not" in result.failures


def test_the_flags_question_with_no_field_answered_fails_instead_of_typing_otherwise(db, runtime, tmp_path):
    result = run(db, runtime, scenario_file(tmp_path, otherwise="1"))
    assert result.failures == ["no answer for fields veteran, justice_involved, public_assistance (asked together as background)"]
    assert "veteran" not in result.intake["answers"]


def test_the_question_and_its_fields_together_are_ambiguous(db, runtime, tmp_path):
    result = run(db, runtime, scenario_file(tmp_path, answers={"background": {"choose": ["none"]}, "veteran": "yes"}))
    assert not result.ok and "background, veteran" in result.failures[0]


# ---- answers the flow never asked --------------------------------------------------------
def test_an_answer_a_condition_skipped_fails_naming_the_key_and_why(db, runtime, tmp_path):
    path = scenario_file(tmp_path, answers={"background": {"choose": ["none"]}, "la_county": {"choose": ["yes"]}})
    result = run(db, runtime, path)
    assert result.status == "completed"
    assert len(result.failures) == 1
    assert result.failures[0].startswith("answers.la_county was never asked: its question (la_county) only comes when")


def test_an_answer_for_a_question_the_screening_result_skipped_names_the_condition(db, runtime, tmp_path):
    path = scenario_file(tmp_path, answers={"age_range": {"choose": ["under_16"]}, "background": {"choose": ["none"]}})
    result = run(db, runtime, path)
    assert result.intake["eligibility"]["status"] == "ineligible"
    assert result.failures == ["answers.program_choice was never asked: its question (program_choice) only comes "
                               "when eligibility not in ['ineligible'], which this run did not meet"]


def test_an_answer_for_no_question_of_the_flow_fails_naming_the_key(db, runtime, tmp_path):
    result = run(db, runtime, scenario_file(tmp_path, answers={"background": {"choose": ["none"]}, "zip_code": "90011"}))
    assert result.failures == ["answers.zip_code was never asked: the flow has no field or question zip_code"]


def test_an_answer_after_the_run_ended_fails_naming_the_key(db, runtime, tmp_path):
    result = run(db, runtime, scenario_file(tmp_path, answers={"consent": {"choose": ["no"]}}))
    assert result.status == "declined"
    assert "answers.zip was never asked: the run ended (declined) before its question (zip)" in result.failures


def test_an_answer_set_without_asking_fails_naming_the_key(db, runtime, tmp_path):
    path = scenario_file(tmp_path, start="Hola, busco trabajo",
                         answers={"language": "español", "background": {"choose": ["none"]}})
    result = run(db, runtime, path)
    assert result.intake["language"] == "es"
    assert result.failures == ["answers.language was never asked: "
                               "the conversation set it without asking (from an earlier message)"]


# ---- many scenarios, one database --------------------------------------------------------
def outcome(result: SimResult) -> dict[str, Any]:
    return {**result.to_json(), "intake": {k: v for k, v in result.intake.items() if k != "id"}}


def test_every_shipped_scenario_has_the_same_outcome_in_one_shared_database_as_alone(runtime, tmp_path):
    alone = {}
    for path in SHIPPED:
        db = Database(fresh_sqlite(tmp_path / (path.stem + ".db")))
        try:
            alone[path.stem] = outcome(run(db, runtime, path))
        finally:
            db.dispose()
    shared = Database(fresh_sqlite(tmp_path / "shared.db"))
    try:
        together = {path.stem: outcome(run(shared, runtime, path)) for path in SHIPPED}
    finally:
        shared.dispose()
    assert all(o["ok"] for o in alone.values()), {k: o["failures"] for k, o in alone.items() if not o["ok"]}
    assert together == alone


def test_the_same_person_twice_in_one_database_starts_fresh_each_time(db, runtime, tmp_path):
    spanish = scenario_file(tmp_path, "spanish", start="Bonjour", answers={"language": "español", "consent": "si",
                                                          "background": {"choose": ["veteran"]}})
    english = scenario_file(tmp_path, "english", start="JOIN", answers={"language": {"choose": ["en"]},
                                                                        "background": {"choose": ["none"]}})
    first = run(db, runtime, spanish)
    second = run(db, runtime, english)
    again = run(db, runtime, spanish)
    assert first.ok and second.ok and again.ok, (first.failures, second.failures, again.failures)
    assert (first.intake["language"], second.intake["language"]) == ("es", "en")
    assert second.intake["answers"]["veteran"] == "no"
    assert outcome(again) == outcome(first)
    assert len({first.intake["id"], second.intake["id"], again.intake["id"]}) == 3


def test_the_cli_runs_many_files_into_one_database_each_as_alone(tmp_path):
    path = SHIPPED[0]
    url = f"sqlite:///{tmp_path / 'one.db'}"
    result = CliRunner().invoke(main, ["simulate", str(path), str(path), str(SHIPPED[1]), "--database", url],
                                env={"SECRET_KEY": "x", "DATABASE_URL": url}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.count("ok  ") == 3, result.output


def test_the_cli_names_a_malformed_file_before_running_any(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nanswrs: {}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["simulate", str(SHIPPED[0]), str(bad)], env={"SECRET_KEY": "x"})
    assert result.exit_code != 0 and "bad.yaml" in result.output
    assert "ok  " not in result.output
