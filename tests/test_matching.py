"""Matching: sector first, hard constraints, distance, language, services, pay, and reasons people read."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake_flows import matching
from intake_flows.catalog import PRIORITY_SECTORS, PROGRAM_FACTS, Program, load_catalog
from intake_flows.matching import (
    AGES_TO_CHECK,
    BACKGROUND_CHECK,
    ENGLISH_ONLY,
    FOR_AGES,
    MILES,
    MIN_AGE_TO_CHECK,
    NEEDS_DIPLOMA,
    NEEDS_LICENSE,
    ONE_MILE,
    PAID,
    PAID_WAGE,
    TAUGHT_IN,
    UNDER_A_MILE,
    WEIGHTS,
    excluded,
    is_check,
    match,
    rank,
)
from intake_flows.profile import age_ranges
from intake_flows.screening import facts, load_rules, screen

CATALOG = load_catalog()
WORDING = matching.default_wording()


def prog(pid: str, real: tuple[str, ...] | None = None, **kw) -> Program:
    """A test program whose every fact is confirmed by a source, unless `real` says which are."""
    data = {"id": pid, "name": pid.replace("_", " ").title(), "sector": "construction", "summary": "A program.",
            "site_zips": ["90012"], "real": list(PROGRAM_FACTS if real is None else real), "sources": ["test"], **kw}
    return Program.model_validate(data)


def person(**kw) -> dict:
    return {"zip": "90011", "age_range": "25_54", "sectors": ["construction"], "education": "hs_ged",
            "drivers_license": "yes", "needs": ["none"], "language": "en", **kw}


def msgids(m) -> list[str]:
    return [r.msgid for r in m.reasons]


# ---- each sector against the real catalog ---------------------------------------------------------

@pytest.mark.parametrize("sector, zip5, age, language, top", [
    # Only confirmed facts score, so where two named programs differ only in placeholders the id breaks the tie.
    ("construction", "90003", "25_54", "en", "hrcc_mc3"),
    ("construction", "91106", "25_54", "es", "hrcc_mc3"),  # not the unconfirmed wildfire programme and its invented pay
    ("healthcare", "90026", "25_54", "tl", "caregiver_advancement"),
    ("technology", "90012", "25_54", "en", "digital_navigators"),
    ("ece", "90230", "25_54", "en", "ece_assistant_teacher"),
    ("aerospace", "93534", "18_24", "en", "aerospace_lost_angels"),  # paid, $18 an hour, ages 18 to 24: all confirmed
    ("creative_economy", "90291", "18_24", "en", "venice_arts_storytelling"),  # paid, for youth: confirmed
])
def test_each_sector_ranks_its_own_programs_first(sector, zip5, age, language, top):
    answers = person(sectors=[sector], zip=zip5, age_range=age, language=language)
    matches = match(CATALOG, answers, facts(answers))
    assert matches[0].program == top
    assert matches[0].sector == sector
    for m in matches:
        program = next(p for p in CATALOG if p.id == m.program)
        assert sector in program.sectors
        assert m.components["sector"] > 0


@pytest.mark.parametrize("sector", PRIORITY_SECTORS)
def test_every_sector_has_a_match_for_an_adult_anywhere_in_the_county(sector):
    for zip5 in ("90011", "93535", "91766", "90813", "91331"):
        answers = person(sectors=[sector], zip=zip5)
        assert match(CATALOG, answers, facts(answers)), (sector, zip5)


def test_sector_interest_beats_everything_else():
    near_unpaid = prog("near_unpaid", sector="healthcare", site_zips=["90011"], paid=False)
    far_paid = prog("far_paid", sector="construction", site_zips=["93534"], paid=True, supportive_services=["childcare"])
    ranked = match([near_unpaid, far_paid], person(needs=["childcare"], sectors=["construction"]))
    assert [m.program for m in ranked] == ["far_paid"]  # the other sector is not even offered


def test_a_related_sector_ranks_after_the_chosen_one_but_is_offered():
    own = prog("own", site_zips=["93534"])
    related = prog("related", sector="utilities", related_sectors=["construction"], site_zips=["90011"])
    ranked = match([related, own], person())
    assert [m.program for m in ranked] == ["own", "related"]
    assert ranked[1].components["sector"] == WEIGHTS.sector_related
    assert "water and power utility work" in msgids(ranked[1])  # says what it is


def test_not_sure_ranks_every_sector_and_names_each_programs_sector():
    answers = person(sectors=["not_sure"])
    ranked = rank(CATALOG, answers, facts(answers))
    assert len({c.program.sector for c in ranked}) >= 6
    top = match(CATALOG, answers, facts(answers))
    assert all(m.components["sector"] == 0 for m in top)
    assert all(m.reasons[0].msgid in WORDING.sectors.values() for m in top)


def test_when_nothing_in_the_chosen_sector_fits_other_programs_are_offered():
    answers = person(sectors=["construction"], age_range="16_17", zip=None)
    ranked = match(CATALOG, answers, facts(answers))
    assert ranked, "nobody is left with nothing"
    assert all(next(p for p in CATALOG if p.id == m.program).min_age <= 16 for m in ranked)
    assert ranked[0].program == "digital_navigators"


# ---- hard constraints --------------------------------------------------------------------------------

@pytest.mark.parametrize("age, allowed", [
    ("16_17", {"teen_ok"}),
    ("18_24", {"teen_ok", "adults", "youth"}),
    ("25_54", {"teen_ok", "adults"}),
    ("55_plus", {"teen_ok", "adults"}),
    (None, {"teen_ok", "adults", "youth"}),
])
def test_age_is_a_hard_constraint(age, allowed):
    programs = [prog("teen_ok", min_age=16), prog("adults", min_age=18), prog("youth", min_age=18, max_age=24)]
    assert {m.program for m in match(programs, person(age_range=age), limit=9)} == allowed


def test_an_unknown_age_keeps_a_youth_program_but_asks_staff_to_check():
    [m] = match([prog("youth", min_age=18, max_age=24)], person(age_range=None))
    assert AGES_TO_CHECK in msgids(m) and m.components["age"] < 0


def test_inactive_programs_and_county_only_programs_for_outsiders_are_left_out():
    programs = [prog("off", active=False), prog("county", la_county_resident_required=True),
                prog("anyone", la_county_resident_required=False)]
    assert {m.program for m in match(programs, person())} == {"county", "anyone"}
    outsider = person(zip="92101", la_county="no")
    assert [m.program for m in match(programs, outsider, facts(outsider))] == ["anyone"]


# ---- distance ---------------------------------------------------------------------------------------

def test_closer_ranks_higher_and_says_how_far():
    near, far = prog("near", site_zips=["90003"]), prog("far", site_zips=["91106"])
    ranked = match([far, near], person())
    assert [m.program for m in ranked] == ["near", "far"]
    reason = next(r for r in ranked[1].reasons if r.msgid == MILES)
    assert reason.params["zip"] == "90011" and 10 <= reason.params["miles"] <= 16
    assert ranked[1].components["distance"] < ranked[0].components["distance"] < 0


def test_a_zip_across_the_country_gets_no_distance_reason():
    """10001 (New York) once read "2,437 miles from 10001"; it still ranks last on distance, quietly."""
    [m] = match([prog("la", site_zips=["90011"])], person(zip="10001"))
    assert not [r for r in m.reasons if r.msgid in (MILES, UNDER_A_MILE)]
    assert m.components["distance"] == pytest.approx(-WEIGHTS.per_mile * WEIGHTS.max_penalty_miles)


def test_the_nearest_of_several_sites_counts():
    [m] = match([prog("two_sites", site_zips=["93534", "90011"])], person())
    assert UNDER_A_MILE in msgids(m)


def test_no_zip_means_no_distance_penalty_and_no_distance_reason():
    programs = [prog("a", site_zips=["90003"]), prog("b", site_zips=["93534"]), prog("c", site_zips=[])]
    for zip5 in (None, "none"):
        for m in match(programs, person(zip=zip5)):
            assert m.components["distance"] == 0
            assert not any("mile" in r.msgid for r in m.reasons)


def test_a_program_without_a_known_site_counts_as_middling_distance():
    [m] = match([prog("nowhere", site_zips=[])], person())
    assert m.components["distance"] == pytest.approx(-WEIGHTS.per_mile * WEIGHTS.unknown_site_miles)


# ---- language, services, pay ---------------------------------------------------------------------------

def test_classes_in_the_persons_language_count_and_are_said():
    spanish, english = prog("spanish", languages=["en", "es"]), prog("english", languages=["en"])
    ranked = match([english, spanish], person(language="es"))
    assert ranked[0].program == "spanish" and ranked[0].components["language"] == WEIGHTS.language
    said = next(r for r in ranked[0].reasons if r.msgid == TAUGHT_IN)
    assert said.params["language"].msgid == "Spanish"
    assert ENGLISH_ONLY in msgids(ranked[1])  # not hidden: talk it through


def test_english_speakers_get_no_language_bonus():
    [m] = match([prog("x", languages=["en", "es"])], person(language="en"))
    assert m.components["language"] == 0 and TAUGHT_IN not in msgids(m)


def test_supportive_services_that_answer_stated_needs():
    helps = prog("helps", supportive_services=["childcare", "transportation", "case_management"])
    ranked = match([prog("plain"), helps], person(needs=["childcare", "transportation", "housing"]))
    assert ranked[0].program == "helps"
    assert ranked[0].components["services"] == 2 * WEIGHTS.per_need_met
    assert {"childcare support", "help with transportation"} <= set(msgids(ranked[0]))
    assert "housing help" not in msgids(ranked[0])


def test_paid_training_counts_and_shows_the_wage_when_known():
    ranked = match([prog("unpaid", paid=False), prog("paid", paid=True), prog("wage", paid=True, wage_per_hour=18)],
                   person(zip=None), limit=3)
    assert [m.program for m in ranked][-1] == "unpaid"
    wage = next(m for m in ranked if m.program == "wage")
    assert next(r for r in wage.reasons if r.msgid == PAID_WAGE).params["wage"] == 18
    assert PAID in msgids(next(m for m in ranked if m.program == "paid"))


# ---- prerequisites are talked through, never hidden ----------------------------------------------------

@pytest.mark.parametrize("license_, penalty", [("no", WEIGHTS.prerequisite_missing), (None, WEIGHTS.prerequisite_unknown),
                                              ("yes", 0.0)])
def test_drivers_license(license_, penalty):
    [m] = match([prog("drive", drivers_license_required=True)], person(drivers_license=license_))
    assert m.components["prerequisites"] == penalty
    assert (NEEDS_LICENSE in msgids(m)) == (license_ != "yes")


@pytest.mark.parametrize("education, flagged", [("no_diploma", True), (None, True), ("hs_ged", False), ("degree", False)])
def test_diploma_or_ged(education, flagged):
    [m] = match([prog("diploma", diploma_required=True)], person(education=education))
    assert (NEEDS_DIPLOMA in msgids(m)) == flagged


def test_a_background_check_is_mentioned_only_to_someone_who_said_they_have_a_record():
    program = prog("checked", background_check=True)
    [with_record] = match([program], person(justice_involved="yes"))
    [without] = match([program], person(justice_involved="no"))
    assert BACKGROUND_CHECK in msgids(with_record) and BACKGROUND_CHECK not in msgids(without)
    assert with_record.score == without.score  # said, never held against them


def test_checks_come_after_the_pluses_and_are_recognisable():
    [m] = match([prog("p", paid=True, drivers_license_required=True)], person(drivers_license="no"))
    kinds = [is_check(r) for r in m.reasons]
    assert kinds == sorted(kinds) and kinds[-1] is True and kinds[0] is False


# ---- scores and explanations ------------------------------------------------------------------------------

def test_components_add_up_to_the_score_and_are_stored_for_staff():
    answers = person(needs=["childcare"], language="es", drivers_license="no")
    rules = load_rules()
    sc = screen(answers, rules, facts(answers), matching.make_matcher(CATALOG))
    assert len(sc.matches) == 3
    for m in sc.to_json()["matches"]:
        assert set(m["components"]) >= {"sector", "paid", "distance", "language", "services", "prerequisites"}
        assert sum(m["components"].values()) == pytest.approx(m["score"], abs=0.01)
        assert m["reasons"] and all("msgid" in r for r in m["reasons"])


def test_ranking_is_deterministic():
    answers = person(sectors=["not_sure"], zip=None)
    first = [m.program for m in match(CATALOG, answers, facts(answers), limit=22)]
    assert first == [m.program for m in match(tuple(reversed(CATALOG)), answers, facts(answers), limit=22)]


def test_reasons_render_in_the_persons_language(runtime):
    answers = person(language="es", needs=["childcare"])
    [m] = match([prog("x", site_zips=["90003"], supportive_services=["childcare"], languages=["es"])], answers)
    es = runtime.i18n("es")
    rendered = [es.render(r) for r in m.reasons]
    en = [runtime.i18n("en").render(r) for r in m.reasons]
    assert en[0] == "3 miles from 90011"
    assert rendered[0].endswith("90011") and "3" in rendered[0]
    assert len(rendered) == len(en)


# ---- placeholders are never told to a person as facts -------------------------------------------------

# The catalog facts each person-facing reason states (written out here, apart from the code that builds them).
STATED = {PAID: {"paid"}, PAID_WAGE: {"paid", "wage_per_hour"}, MILES: {"site_zips"}, ONE_MILE: {"site_zips"},
          UNDER_A_MILE: {"site_zips"}, TAUGHT_IN: {"languages"}, ENGLISH_ONLY: {"languages"},
          FOR_AGES: {"min_age", "max_age"}, AGES_TO_CHECK: {"min_age", "max_age"}, MIN_AGE_TO_CHECK: {"min_age"},
          NEEDS_LICENSE: {"drivers_license_required"}, NEEDS_DIPLOMA: {"diploma_required"},
          BACKGROUND_CHECK: {"background_check"},
          **{m: {"supportive_services"} for m in WORDING.needs.values()},
          **{m: {"sector"} for m in WORDING.sectors.values()}}
BY_ID = {p.id: p for p in CATALOG}

people = st.fixed_dictionaries({
    "zip": st.sampled_from(["90011", "93534", "91106", "90026", "90805", "90744", "91001", "90012", "none", None]),
    "age_range": st.sampled_from([*age_ranges(), None]),
    "sectors": st.one_of(st.just(["not_sure"]), st.lists(st.sampled_from(PRIORITY_SECTORS), min_size=1, max_size=3, unique=True)),
    "education": st.sampled_from(["no_diploma", "hs_ged", "some_college", "degree", None]),
    "drivers_license": st.sampled_from(["yes", "no", None]),
    "needs": st.one_of(st.just(["none"]), st.lists(st.sampled_from(list(WORDING.needs)), min_size=1, unique=True)),
    "language": st.sampled_from(["en", "es", "tl", "ko", "zh-Hans", "ar", "fa", "hy", "ru", "vi"]),
    "justice_involved": st.sampled_from(["yes", "no", "prefer_not"]),
    "housing": st.sampled_from(["stable", "shelter", "at_risk"]),
    "public_assistance": st.sampled_from(["yes", "no"]),
})


@settings(max_examples=300, deadline=None)
@given(people)
def test_no_reason_a_person_reads_comes_from_a_placeholder_fact(answers):
    for m in match(CATALOG, answers, facts(answers), limit=len(CATALOG)):
        program = BY_ID[m.program]
        assert not program.placeholder_name, f"{m.program}: an unconfirmed program was offered"
        for r in m.reasons:
            assert r.msgid in STATED, f"a reason nobody has said which facts it states: {r.msgid!r}"
            guesses = STATED[r.msgid] - set(program.real)
            assert not guesses, f"{m.program} tells the person {r.msgid!r} from placeholder {sorted(guesses)}"


PERTURB = {"paid": [True, False, None], "wage_per_hour": [None, 31.0], "site_zips": [[], ["90011"], ["93534"]],
           "languages": [["en"], ["en", "es", "tl", "ko", "zh-Hans", "ar", "fa"]],
           "supportive_services": [[], list(WORDING.needs)], "focus": [[], ["youth", "public_assistance", "woman"]],
           "diploma_required": [True, False], "drivers_license_required": [True, False], "background_check": [True, False]}


@settings(max_examples=60, deadline=None)
@given(people)
def test_a_placeholder_fact_earns_no_score(answers):
    """Changing what a placeholder says changes neither a program's score nor what the person reads."""
    known = facts(answers)
    person = matching.Person.from_answers(answers, known)
    for program in CATALOG:
        if program.placeholder_name or excluded(program, person):
            continue
        base = matching.assess(program, person)
        for fact, values in PERTURB.items():
            if program.is_real(fact):
                continue
            for value in values:
                update = {fact: value, **({"paid": True} if fact == "wage_per_hour" and value else {})}
                if "paid" in update and program.is_real("paid"):
                    continue
                other = matching.assess(program.model_copy(update=update), person)
                assert other.components == base.components, (program.id, fact, value)
                assert other.reasons == base.reasons, (program.id, fact, value)


def test_the_wildfire_programme_is_not_offered_with_its_invented_pay():
    # Testers were told "paid training, $20 an hour" about it as their first match: all 22 facts are placeholders.
    answers = person(sectors=["construction"], zip="91106", language="es")
    ranked = match(CATALOG, answers, facts(answers), limit=len(CATALOG))
    assert "fund_wildfire_rebuild" not in [m.program for m in ranked]
    assert all(PAID_WAGE not in msgids(m) or BY_ID[m.program].is_real("wage_per_hour") for m in ranked)


def test_an_unconfirmed_programme_is_matched_once_staff_confirm_its_name():
    unnamed = prog("fund_awardee", real=("sector",), name=None, translated_name="Solar training (HRTP Fund)",
                   paid=True, wage_per_hour=22, site_zips=["90011"], languages=["en", "es"])
    named = prog("named", real=("name", "sector"), site_zips=["93534"])
    answers = person(language="es")
    assert excluded(unnamed, matching.Person.from_answers(answers)) == "unconfirmed"
    assert [m.program for m in match([unnamed, named], answers)] == ["named"]
    confirmed = unnamed.model_copy(update={"real": ("sector", "name")})
    assert [m.program for m in match([confirmed, named], answers)] == ["fund_awardee", "named"]
    top = match([confirmed], answers)[0]
    # Its name is now a fact; pay, distance and language are still placeholders, so they are not said or scored.
    assert msgids(top) == ["construction and trades"] and top.components["paid"] == 0 and top.components["language"] == 0
    assert top.components["distance"] == pytest.approx(-WEIGHTS.per_mile * WEIGHTS.unknown_site_miles)
    everything = confirmed.model_copy(update={"real": tuple(PROGRAM_FACTS)})
    assert {PAID_WAGE, UNDER_A_MILE, TAUGHT_IN} <= set(msgids(match([everything], answers)[0]))


def test_every_priority_sector_still_has_a_confirmed_programme():
    for sector in PRIORITY_SECTORS:
        assert any(sector in p.sectors and not p.placeholder_name for p in CATALOG), sector
