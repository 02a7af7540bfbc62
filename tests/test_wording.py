"""What matching says of a sector, a need, a language and a diploma comes from the data files, never from Python."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from intake_flows.catalog import PROGRAM_FACTS, SECTORS, Program, load_sectors
from intake_flows.matching import NEEDS_DIPLOMA, TAUGHT_IN, WEIGHTS, Wording, make_matcher
from intake_flows.schema import DATA_DIR, FlowError, load_flow, load_languages
from intake_flows.screening import facts, load_rules, screen
from intake_flows.text import Msg

from bot.labels import sector_labels
from bot.service import Runtime

RULES = load_rules()


def data_copy(folder: Path, edits: dict[str, Callable[[str], str]]) -> Path:
    """The shipped data files in `folder`, each named in `edits` changed by its function."""
    for path in DATA_DIR.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        (folder / path.name).write_text(edits.get(path.name, lambda t: t)(text), encoding="utf-8")
    return folder


def replace_once(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert text.count(old) == 1, old
        return text.replace(old, new)
    return edit


def program(**kw) -> Program:
    """A program whose every fact a source confirms, near the person's ZIP."""
    return Program.model_validate({"id": "p", "name": "P", "sector": "construction", "summary": "A program.",
                                   "site_zips": ["90012"], "real": list(PROGRAM_FACTS), "sources": ["test"], **kw})


def answers(**kw) -> dict:
    return {"zip": "90011", "age_range": "25_54", "sectors": ["construction"], "education": "hs_ged",
            "drivers_license": "yes", "needs": ["none"], "language": "en", **kw}


def reasons(folder: Path, prog: Program, person: dict) -> tuple[Msg, ...]:
    """The reasons screening gives for the one program, with the flow and wording of the data in `folder`."""
    flow = load_flow(folder / "intake.yaml")
    wording = Wording.of(flow, load_languages(folder / "languages.yaml"), load_sectors(folder / "programs.yaml"))
    sc = screen(person, RULES, facts(person, flow=flow), make_matcher([prog], wording=wording), flow=flow)
    [m] = sc.matches
    return m.reasons


NEEDS_NONE = '      - {id: none, label: "None of these", words: ["none", "no", "nothing"]}\n'


def test_a_new_need_option_with_its_own_reason_is_said_on_a_program_that_offers_it(tmp_path):
    # The county asks about a service programs already list; its reason is written beside the option, in YAML.
    folder = data_copy(tmp_path, {"intake.yaml": replace_once(NEEDS_NONE, '      - {id: job_placement, label: '
                                                              '"Help finding a job after", reason: "help finding a job"}\n'
                                                              + NEEDS_NONE)})
    offers = program(supportive_services=["job_placement", "childcare"])
    said = [r.msgid for r in reasons(folder, offers, answers(needs=["job_placement", "childcare"]))]
    assert "help finding a job" in said and "childcare support" in said
    # The shipped flow does not ask it, so nothing there says it.
    assert "help finding a job" not in [r.msgid for r in reasons(DATA_DIR, offers, answers(needs=["job_placement"]))]


def test_an_education_option_says_whether_it_means_a_diploma_and_one_that_does_not_say_is_asked_about(tmp_path):
    folder = data_copy(tmp_path, {"intake.yaml": replace_once(
        '      - {id: degree,',
        '      - {id: hiset, label: "HiSET or other equivalency", diploma: true}\n'
        '      - {id: abroad, label: "School outside the US"}\n'
        '      - {id: degree,')})
    needs_one = program(diploma_required=True)
    flow = load_flow(folder / "intake.yaml")
    wording = Wording.of(flow, load_languages(), load_sectors())

    def prerequisites(education: str) -> tuple[float, bool]:
        person = answers(education=education)
        [m] = screen(person, RULES, facts(person, flow=flow), make_matcher([needs_one], wording=wording), flow=flow).matches
        return m.components["prerequisites"], NEEDS_DIPLOMA in [r.msgid for r in m.reasons]

    assert prerequisites("hiset") == (0.0, False)
    assert prerequisites("abroad") == (WEIGHTS.prerequisite_unknown, True)
    assert prerequisites("no_diploma") == (WEIGHTS.prerequisite_missing, True)


def test_a_language_is_named_by_its_english_name_in_languages_yaml_and_said_in_the_persons_language(tmp_path, runtime):
    folder = data_copy(tmp_path, {"languages.yaml": replace_once('english_name: "Tagalog"', 'english_name: "Filipino"')})
    taught = program(languages=["en", "tl"])
    [shipped] = [r for r in reasons(DATA_DIR, taught, answers(language="tl")) if r.msgid == TAUGHT_IN]
    [edited] = [r for r in reasons(folder, taught, answers(language="tl")) if r.msgid == TAUGHT_IN]
    assert shipped.params["language"] == Msg("Tagalog") and edited.params["language"] == Msg("Filipino")
    assert runtime.i18n("es").render(Msg(TAUGHT_IN, {"language": Msg("Spanish")})) == "clases en español"


def test_every_sector_has_its_reason_in_programs_yaml_and_staff_a_name_for_it(runtime):
    assert [s.id for s in runtime.sectors] == list(SECTORS)
    assert runtime.wording is not None and runtime.wording.sectors["utilities"] == "water and power utility work"
    labels = sector_labels(runtime.bundle.flow, runtime.sectors)
    # The intake names a sector it offers; programs.yaml names one it does not.
    assert labels["construction"] == "Construction" and labels["ece"] == "Early care and education"
    assert labels["transportation"] == "Public transit" and labels["building_services"] == "Building services"


HOSPITALITY = '  - {id: hospitality, staff_label: Hospitality, reason: "hotel and food service work"}\n'


@pytest.mark.parametrize("edit, problem", [
    (replace_once(HOSPITALITY, "  - {id: hospitality, staff_label: Hospitality}\n"),
     "sectors/#6 ('hospitality')/reason: Field required"),
    (replace_once(HOSPITALITY, ""), "sectors: no sector 'hospitality', which intake_flows/catalog.py SECTORS lists"),
    (replace_once(HOSPITALITY, HOSPITALITY + '  - {id: mining, reason: "mining work"}\n'),
     "sectors: sector 'mining' is not in intake_flows/catalog.py SECTORS"),
    (replace_once(HOSPITALITY, HOSPITALITY + HOSPITALITY), "sector id 'hospitality' appears twice"),
])
def test_the_start_up_check_names_the_file_and_the_sector_whose_reason_is_missing_or_unknown(tmp_path, edit, problem):
    folder = data_copy(tmp_path, {"programs.yaml": edit})
    with pytest.raises(FlowError) as err:
        Runtime.load(folder)
    assert str(folder / "programs.yaml") in str(err.value) and problem in str(err.value)


def test_a_needs_option_without_its_reason_is_refused_at_start_up_naming_the_file_and_option(tmp_path):
    folder = data_copy(tmp_path, {"intake.yaml": replace_once(
        '{id: childcare, label: "Childcare", reason: "childcare support"}', '{id: childcare, label: "Childcare"}')})
    with pytest.raises(FlowError) as err:
        Runtime.load(folder)
    assert f"{folder / 'intake.yaml'}: step 'needs': option 'childcare' has no `reason`" in str(err.value)
