"""Eligibility and priority rules as data: each rule, each category and each outcome, unknowns included."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from intake_flows.catalog import load_offices
from intake_flows.extract import extract_yaml
from intake_flows.schema import DATA_DIR, FlowError, load_flow
from intake_flows.screening import FORBIDDEN_SUBJECTS, evaluate_rule, facts, load_rules, screen

RULES = load_rules()
OFFICES = load_offices()
BY_ID = {r.id: r for r in RULES.eligibility}


def result(rule_id: str, answers: dict) -> tuple[str, bool]:
    r = evaluate_rule(BY_ID[rule_id], answers, facts(answers))
    return r.result, r.review


# ---- each rule -----------------------------------------------------------------------------------

@pytest.mark.parametrize("age, expected", [
    ("under_16", ("fail", False)),
    ("16_17", ("pass", False)),
    ("18_24", ("pass", False)),
    ("25_54", ("pass", False)),
    ("55_plus", ("pass", False)),
    (None, ("unknown", True)),          # skipped: staff must learn the age, but it is never a fail
    ("prefer_not", ("unknown", True)),
])
def test_age_rule(age, expected):
    assert result("age_16_plus", {"age_range": age}) == expected


@pytest.mark.parametrize("answers, expected", [
    ({"zip": "90011"}, ("pass", False)),                                  # an LA County ZIP settles it
    ({"zip": "90011", "la_county": "no"}, ("pass", False)),               # the flow does not ask then
    ({"zip": "none", "la_county": "yes"}, ("pass", False)),               # no fixed address, says LA County
    ({"zip": "91361", "la_county": "yes"}, ("unknown", True)),            # border ZIP in Ventura: staff check
    ({"zip": "92101", "la_county": "no"}, ("fail", False)),               # San Diego
    ({"zip": "none", "la_county": "no"}, ("fail", False)),
    ({"zip": "none"}, ("unknown", True)),                                 # county question skipped
    ({"zip": "none", "la_county": None}, ("unknown", True)),
    ({}, ("unknown", True)),
])
def test_county_rule(answers, expected):
    assert result("lives_in_la_county", answers) == expected


@pytest.mark.parametrize("employment, expected", [
    ("unemployed", ("pass", False)),
    ("part_time", ("pass", False)),
    ("full_time", ("unknown", True)),     # needs_review, per the county's placeholder policy
    (None, ("unknown", False)),           # not knowing someone's work status holds nobody back
])
def test_work_status_rule(employment, expected):
    assert result("looking_for_work", {"employment": employment}) == expected


@pytest.mark.parametrize("rule", RULES.eligibility, ids=lambda r: r.id)
@pytest.mark.parametrize("missing", [None, "prefer_not", "", []])
def test_a_missing_or_withheld_answer_is_never_a_fail(rule, missing):
    answers = {rule.field: missing} if rule.field else {"zip": missing or None, "la_county": missing or None}
    r = evaluate_rule(rule, answers, facts(answers))
    assert r.result == "unknown"
    assert r.text.msgid == rule.unknown


def test_every_rule_carries_reasons_a_source_and_a_placeholder_flag():
    for rule in RULES.eligibility:
        assert rule.pass_ and rule.unknown and rule.source
        assert isinstance(rule.placeholder, bool)
    assert BY_ID["looking_for_work"].placeholder is True
    assert BY_ID["age_16_plus"].placeholder is False


# ---- outcomes --------------------------------------------------------------------------------------

EVERYTHING_FINE = {"zip": "90011", "age_range": "25_54", "employment": "unemployed"}


@pytest.mark.parametrize("change, status", [
    ({}, "eligible"),
    ({"employment": None}, "eligible"),
    ({"employment": "full_time"}, "needs_review"),
    ({"zip": "91361", "la_county": "yes"}, "needs_review"),
    ({"age_range": None}, "needs_review"),
    ({"age_range": "prefer_not"}, "needs_review"),
    ({"age_range": "under_16"}, "ineligible"),
    ({"zip": "92101", "la_county": "no"}, "ineligible"),
    ({"age_range": "under_16", "employment": "full_time"}, "ineligible"),
])
def test_outcome(change, status):
    answers = {**EVERYTHING_FINE, **change}
    sc = screen(answers, RULES, offices=OFFICES)
    assert sc.eligibility == status
    stored = sc.to_json()["eligibility"]
    assert [r["rule"] for r in stored["reasons"]] == [r.id for r in RULES.eligibility]  # every rule, for staff
    assert all(r["source"] for r in stored["reasons"])


def test_no_work_authorization_or_immigration_question_anywhere():
    flow = load_flow()
    asked = {f for step in flow.steps for f in step.answer_fields}
    assert not asked & FORBIDDEN_SUBJECTS
    texts = " ".join(str(v) for step in flow.steps
                     for v in (step.prompt, step.text, *step.before, *(o.label for o in step.options)))
    for word in ("immigra", "citizen", "green card", "visa", "social security", "work permit"):
        assert word not in texts.lower()
    for item in (*RULES.eligibility, *RULES.priority):
        assert (item.field or item.fact) not in FORBIDDEN_SUBJECTS


# ---- where to go instead -----------------------------------------------------------------------------

def texts(msgs) -> list[str]:
    return [m.msgid for m in msgs]


def test_under_16_in_palmdale_hears_about_youth_help_and_the_named_job_centre_near_them():
    sc = screen({"zip": "93550", "age_range": "under_16"}, RULES, offices=OFFICES)
    assert sc.eligibility == "ineligible"
    assert "help young people" in sc.instead[0].msgid
    last = sc.instead[-1]
    assert last.params["office"].msgid == "Antelope Valley AJCC" and last.params["city"].msgid == "Palmdale"
    assert sc.nearest_office == "antelope_valley"
    assert sc.matches == ()


def test_a_placeholder_office_is_never_told_to_a_person():
    sc = screen({"zip": "90011", "age_range": "under_16"}, RULES, offices=OFFICES)
    assert sc.nearest_office is not None  # staff still see which AJCC is nearest
    office = next(o for o in OFFICES.offices if o.id == sc.nearest_office)
    assert "name" not in office.real
    last = sc.instead[-1]
    assert "office" not in last.params and last.params["locator"].msgid == OFFICES.county_locator


def test_someone_outside_the_county_gets_the_statewide_hrtp_list_and_a_statewide_job_centre_finder():
    sc = screen({"zip": "92101", "la_county": "no", "age_range": "25_54"}, RULES, offices=OFFICES)
    assert sc.eligibility == "ineligible"
    assert sc.instead[0].params["statewide_hrtp_list"].msgid == OFFICES.statewide_hrtp_list
    assert sc.instead[-1].params["locator"].msgid == OFFICES.statewide_locator
    assert sc.nearest_office is None


def test_without_an_office_list_there_is_still_somewhere_to_go():
    sc = screen({"zip": "92101", "la_county": "no", "age_range": "25_54"}, RULES)
    assert "211" in sc.instead[-1].msgid


# ---- priority categories ------------------------------------------------------------------------------

@pytest.mark.parametrize("answers, true, unknown", [
    ({"housing": "shelter"}, {"experiencing_homelessness"}, set()),
    ({"housing": "unsheltered"}, {"experiencing_homelessness"}, set()),
    ({"housing": "at_risk"}, {"housing_insecure"}, set()),
    ({"housing": "staying_with_others"}, {"housing_insecure"}, set()),
    ({"housing": "stable"}, set(), set()),
    ({"housing": "prefer_not"}, set(), {"experiencing_homelessness", "housing_insecure"}),
    ({"justice_involved": "yes"}, {"justice_involved"}, set()),
    ({"justice_involved": "prefer_not"}, set(), {"justice_involved"}),
    ({"veteran": "yes"}, {"veteran"}, set()),
    ({"public_assistance": "yes"}, {"public_assistance"}, set()),
    ({"gender": "woman"}, {"woman"}, set()),
    ({"gender": "nonbinary"}, set(), set()),
    ({"gender": "prefer_not"}, set(), {"woman"}),
    ({"race_ethnicity": ["white", "latino"]}, {"bipoc"}, set()),
    ({"race_ethnicity": ["white"]}, set(), set()),
    ({"race_ethnicity": ["other"]}, set(), {"bipoc"}),          # says nothing either way: unknown, not false
    ({"race_ethnicity": ["prefer_not"]}, set(), {"bipoc"}),
    ({"age_range": "16_17"}, {"youth"}, set()),
    ({"age_range": "55_plus"}, {"older_worker"}, set()),
])
def test_priority_category(answers, true, unknown):
    base = {"zip": "90011", "age_range": "25_54", "housing": "stable", "justice_involved": "no", "veteran": "no",
            "public_assistance": "no", "gender": "man", "race_ethnicity": ["white"]}
    sc = screen({**base, **answers}, RULES)
    assert set(sc.categories) == true
    assert set(sc.unknown_categories) - {"priority_area"} == unknown


def test_youth_alone_is_recorded_but_does_not_make_someone_a_priority():
    sc = screen({"age_range": "18_24", "housing": "stable"}, RULES)
    assert "youth" in sc.categories and not sc.is_priority


def test_area_priority_is_unknown_until_a_table_is_loaded_never_false():
    answers = {"zip": "90011"}
    assert "priority_area" in screen(answers, RULES, facts(answers)).unknown_categories
    table = {"90011": "highest", "90272": "lowest"}
    assert "priority_area" in screen(answers, RULES, facts(answers, table.get)).categories
    rich = {"zip": "90272"}
    sc = screen(rich, RULES, facts(rich, table.get))
    assert "priority_area" not in sc.categories and "priority_area" not in sc.unknown_categories
    elsewhere = {"zip": "91001"}  # loaded table without this ZIP: still unknown
    assert "priority_area" in screen(elsewhere, RULES, facts(elsewhere, table.get)).unknown_categories
    nowhere = {"zip": "none"}
    assert "priority_area" in screen(nowhere, RULES, facts(nowhere, table.get)).unknown_categories


@pytest.mark.parametrize("categories, level", [
    (["veteran", "public_assistance"], 1),
    (["veteran", "experiencing_homelessness"], 1),
    (["public_assistance"], 2),
    (["experiencing_homelessness", "justice_involved"], 2),
    (["veteran"], 3),
    (["justice_involved"], 4),
    (["woman"], 4),
    (["youth"], 5),
    ([], 5),
])
def test_wioa_priority_of_service(categories, level):
    assert RULES.priority_of_service.level(categories) == level


def test_service_level_is_stored_with_the_priority():
    answers = {"zip": "90011", "veteran": "yes", "public_assistance": "yes"}
    assert screen(answers, RULES).to_json()["priority"]["service_level"] == 1


# ---- the rules file itself --------------------------------------------------------------------------------

def write_rules(tmp_path: Path, mutate) -> Path:
    doc = yaml.safe_load((DATA_DIR / "rules.yaml").read_text(encoding="utf-8"))
    mutate(doc)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("mutate, problem", [
    (lambda d: d["eligibility"].append({**d["eligibility"][0]}), "rule ids appear twice"),
    (lambda d: d["eligibility"][0].update(field="immigration_status"), "may not read 'immigration_status'"),
    (lambda d: d["eligibility"][0].pop("fail"), "needs a `fail` text"),
    (lambda d: d["eligibility"][2].update(instead=[{"text": "Go elsewhere."}]), "needs `fail_if`"),
    (lambda d: d["eligibility"][0].update(pass_if=["under_16"]), "more than one of"),
    (lambda d: d["priority"].append({"id": "x", "field": "citizenship", "true_if": ["yes"], "source": "s"}), "citizenship"),
    (lambda d: d["priority_of_service"]["levels"][0].update(any_of=["martian"]), "unknown categories ['martian']"),
])
def test_a_broken_rules_file_is_refused_with_the_file_item_and_problem(tmp_path, mutate, problem):
    path = write_rules(tmp_path, mutate)
    with pytest.raises(FlowError) as err:
        load_rules(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_rule_texts_are_extracted_for_translators():
    with (DATA_DIR / "rules.yaml").open("rb") as fh:
        msgids = {m for _, _, m, _ in extract_yaml(fh, None, None, {})}
    for rule in RULES.eligibility:
        assert {rule.pass_, rule.unknown} <= msgids
        for text in (rule.fail, rule.review, *(i.text for i in rule.instead)):
            assert text is None or text in msgids
