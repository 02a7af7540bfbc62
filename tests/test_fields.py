"""The field layer: what each flow field tells staff, exports and code, derived from the data and checked at load."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from intake_flows.catalog import check_against_data
from intake_flows.profile import Profile, age_ranges
from intake_flows.schema import DATA_DIR, FlowBundle, FlowError, load_flow
from intake_flows.screening import load_rules, minimum_age

from bot.export import export_columns
from bot.labels import answer_label, field_label, option_labels, priority_labels
from bot.service import Runtime

FLOW = load_flow()
RULES = load_rules()
TESTS = Path(__file__).parent


def write(tmp_path: Path, text: str, name: str = "intake.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def data_copy(tmp_path: Path, edit_flow=None, edit_rules=None) -> Path:
    for path in DATA_DIR.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if path.name == "intake.yaml" and edit_flow:
            text = edit_flow(text)
        if path.name == "rules.yaml" and edit_rules:
            text = edit_rules(text)
        write(tmp_path, text, path.name)
    return tmp_path


def test_every_field_of_the_shipped_flow_has_a_staff_label_a_column_and_the_roles_code_reads():
    assert [f.column for f in FLOW.fields] == [f"answer_{f.id}" for f in FLOW.fields]
    assert field_label(FLOW, "zip") == "ZIP code" and field_label(FLOW, "justice_involved") == "Justice involved"
    assert {role: FLOW.role_field(role) for role in ("first_name", "residence_zip", "age_range", "sectors", "needs")} == {
        "first_name": "first_name", "residence_zip": "zip", "age_range": "age_range", "sectors": "sectors",
        "needs": "needs"}
    assert {f.id for f in FLOW.fields if f.sensitive} == {"housing", "veteran", "justice_involved", "public_assistance",
                                                          "gender", "race_ethnicity"}
    background = FLOW.by_id["background"]
    assert FLOW.step_label(background) == "Background (veteran, justice involved, public assistance)"


def test_export_columns_follow_the_flow():
    columns = export_columns(FLOW)
    assert columns[:2] == ("intake_id", "started_at") and columns[-1] == "last_step"
    assert [c for c in columns if c.startswith("answer_")] == [f.column for f in FLOW.fields]


def test_staff_labels_for_answers_come_from_the_options():
    langs = {lang.id: lang for lang in FlowBundle.load().languages}
    assert answer_label(FLOW, langs, "sectors", ["construction", "ece"]) == "Construction and trades, Early care and education"
    assert answer_label(FLOW, langs, "zip", "none") == "No fixed address"
    assert answer_label(FLOW, langs, "veteran", "prefer_not") == "Prefer not to say"
    assert answer_label(FLOW, langs, "language", "es") == "Español (es)"
    assert answer_label(FLOW, langs, "age_range", None) == "(skipped)"
    assert option_labels(FLOW, "sectors")["construction"] == "Construction"  # the dashboard's short name


def test_age_labels_and_the_minimum_age_follow_the_flow_and_rules(tmp_path):
    labels = priority_labels(RULES, FLOW)
    assert labels["youth"] == "Youth (16-24)" and labels["older_worker"] == "Older worker (55+)"
    assert minimum_age(RULES, FLOW) == 16
    assert age_ranges(FLOW)["under_16"] == (14, 15)  # the youngest age a program may take
    # The county raises the minimum to 18 and splits the youngest adults: labels and the minimum follow.
    folder = data_copy(
        tmp_path,
        edit_flow=lambda t: t.replace('{id: "18_24", label: "18 to 24", min: 18, max: 24}',
                                      '{id: "18_24", label: "18 to 21", min: 18, max: 21}'),
        edit_rules=lambda t: t.replace('pass_if: ["16_17", "18_24", "25_54", "55_plus"]\n    fail_if: [under_16]',
                                       'pass_if: ["18_24", "25_54", "55_plus"]\n    fail_if: [under_16, "16_17"]'))
    flow, rules = load_flow(folder / "intake.yaml"), load_rules(folder / "rules.yaml")
    assert priority_labels(rules, flow)["youth"] == "Youth (16-21)" and minimum_age(rules, flow) == 18


def test_the_profile_reads_answers_by_role_whatever_the_field_is_called(tmp_path):
    renamed = load_flow(write(tmp_path, (DATA_DIR / "intake.yaml").read_text(encoding="utf-8")
                              .replace("    field: zip\n", "    field: home_zip\n")))
    profile = Profile.of({"home_zip": "90011", "age_range": "18_24", "sectors": ["not_sure"], "needs": ["none"]}, renamed)
    assert (profile.zip, profile.age, profile.sectors, profile.needs) == ("90011", (18, 24), (), ())
    assert Profile.of({"zip": "none"}).no_fixed_address and Profile.of({"zip": "none"}).zip is None


@pytest.mark.parametrize("extra, problem", [
    ("    role: age_range\n", "role 'age_range' is given to two fields"),
    ("    column: answer_zip\n", "export column 'answer_zip' is given to two fields"),
    ("    reprompt: Again?\n", "only a text step takes a `reprompt`"),
    ("    sensitive: true\n", "a sensitive question offers `prefer_not`"),
])
def test_field_attributes_that_contradict_each_other_are_refused_naming_the_step(tmp_path, extra, problem):
    text = (DATA_DIR / "intake.yaml").read_text(encoding="utf-8").replace(
        "    field: employment\n", "    field: employment\n" + extra)
    with pytest.raises(FlowError) as err:
        load_flow(write(tmp_path, text))
    assert "intake.yaml" in str(err.value) and problem in str(err.value) and "employment" in str(err.value)


def test_a_role_code_does_not_know_is_refused(tmp_path):
    text = (DATA_DIR / "intake.yaml").read_text(encoding="utf-8").replace(
        "    field: employment\n", "    field: employment\n    role: shoe_size\n")
    with pytest.raises(FlowError, match=r"employment.*role"):
        load_flow(write(tmp_path, text))


def test_the_catalogs_enumerations_are_checked_against_the_data_at_start_up(tmp_path):
    folder = data_copy(tmp_path, edit_flow=lambda t: t.replace(
        '      - {id: not_sure, label: "Not sure yet"',
        '      - {id: mining, label: "Mining"}\n      - {id: not_sure, label: "Not sure yet"'))
    with pytest.raises(FlowError) as err:
        Runtime.load(folder)
    message = str(err.value)
    assert str(folder / "intake.yaml") in message and "step 'sectors'" in message and "'mining'" in message
    assert "PRIORITY_SECTORS" in message
    bundle = FlowBundle.load()
    with pytest.raises(FlowError, match=r"rules.yaml: priority: category 'parent' is not in .*CATEGORIES"):
        check_against_data(bundle.flow, bundle.languages, [*(c.id for c in RULES.priority), "parent"])


def test_no_test_depends_on_the_per_process_hash_of_a_string():
    calls = [f"{path.relative_to(TESTS)}:{node.lineno}" for path in TESTS.rglob("*.py")
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hash"]
    assert calls == []


def test_matchings_reasons_cover_every_sector_need_and_language_the_catalog_knows():
    from intake_flows import catalog, matching

    wording = Runtime.load().wording
    assert wording is not None and wording == matching.default_wording()
    assert set(wording.sectors) == set(catalog.SECTORS)
    assert set(wording.needs) == set(catalog.NEEDS)
    assert set(wording.languages) == set(catalog.LANGUAGES)
