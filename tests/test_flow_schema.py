"""Flow files are validated at load time with errors naming the file, the step and the problem."""

from pathlib import Path

import pytest

from intake_flows.schema import FlowBundle, FlowError, load_flow


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_flow_loads_and_asks_every_canonical_field():
    bundle = FlowBundle.load()
    fields = set(bundle.flow.by_field)
    assert fields >= {"language", "consent", "first_name", "zip", "la_county", "age_range", "employment", "sectors",
                      "education", "drivers_license", "housing", "veteran", "justice_involved", "public_assistance",
                      "needs", "program_choice", "gender", "race_ethnicity"}
    for step in bundle.flow.steps:
        if step.field in ("housing", "gender", "race_ethnicity") or step.kind == "flags":
            assert "prefer_not" in {o.id for o in step.options}, step.id
            assert step.why or step.id == "race_ethnicity", f"{step.id} must say why it asks"


def test_a_choice_without_options_names_file_step_and_problem(tmp_path):
    path = write(tmp_path, "id: t\nsteps:\n  - id: colour\n    kind: choice\n    field: colour\n    prompt: Pick one\n")
    with pytest.raises(FlowError) as err:
        load_flow(path)
    message = str(err.value)
    assert str(path) in message and "'colour'" in message and "needs `options`" in message


def test_an_unknown_kind_is_named(tmp_path):
    path = write(tmp_path, "id: t\nsteps:\n  - id: q1\n    kind: essay\n    field: x\n    prompt: Write\n")
    with pytest.raises(FlowError, match=r"q1.*kind"):
        load_flow(path)


def test_duplicate_step_ids_and_fields_are_refused(tmp_path):
    step = "  - id: q\n    kind: text\n    field: x\n    prompt: P\n"
    with pytest.raises(FlowError, match="appears twice"):
        load_flow(write(tmp_path, "id: t\nsteps:\n" + step + step))


def test_a_condition_on_a_later_field_is_refused(tmp_path):
    text = ("id: t\nsteps:\n  - id: a\n    kind: text\n    field: a\n    prompt: P\n"
            "    when: [{field: b, in: [x]}]\n  - id: b\n    kind: text\n    field: b\n    prompt: Q\n")
    with pytest.raises(FlowError, match="which no earlier step asks"):
        load_flow(write(tmp_path, text))


def test_invalid_yaml_is_reported_with_the_file(tmp_path):
    with pytest.raises(FlowError, match="not valid YAML"):
        load_flow(write(tmp_path, "id: [unclosed\n"))
