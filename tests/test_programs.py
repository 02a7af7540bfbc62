"""The program catalog: seed file, database table, cache, need-tier table, CLI, and the result a person sees."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake_flows import geo
from intake_flows.areas import AreaFileError, parse_area_csv, read_area_csv_bytes
from intake_flows.catalog import LANGUAGES, PRIORITY_SECTORS, PROGRAM_FACTS, by_sector, load_catalog, load_offices
from intake_flows.extract import extract_yaml
from intake_flows.schema import DATA_DIR, FlowError

from bot import programs
from bot.db import catalog_generation
from bot.migrate import fresh_sqlite
from bot.models import AreaTier, Intake, ProgramRecord
from bot.programs import CatalogCache
from bot.sms import MAX_SEGMENTS
from tests.transcript import Person
from webhook.cli import main

CATALOG = load_catalog()
SAMPLE = DATA_DIR / "zip_need_tiers_sample.csv"


# ---- the seed file ----------------------------------------------------------------------------------

def test_at_least_two_programs_in_each_priority_sector():
    grouped = by_sector(CATALOG)
    for sector in PRIORITY_SECTORS:
        own = [p for p in grouped[sector] if p.sector == sector]
        assert len(own) >= 2, sector


def test_the_real_la_county_programs_are_in_the_catalog():
    ids = {p.id for p in CATALOG}
    assert {"aerospace_lost_angels", "caring_workforce_pwc", "venice_arts_storytelling", "ece_assistant_teacher",
            "pcc_pre_apprenticeship", "hrcc_mc3", "upct_ladwp", "ame_hrtp", "hospitality_training_academy",
            "caregiver_advancement", "clean_transit_metro", "digital_navigators"} <= ids
    lost_angels = next(p for p in CATALOG if p.id == "aerospace_lost_angels")
    assert (lost_angels.paid, lost_angels.wage_per_hour, lost_angels.min_age, lost_angels.max_age) == (True, 18, 18, 24)
    assert lost_angels.is_real("wage_per_hour") and lost_angels.is_real("max_age")
    upct = next(p for p in CATALOG if p.id == "upct_ladwp")
    assert upct.drivers_license_required and upct.is_real("drivers_license_required")


def test_every_fact_is_marked_real_or_placeholder_and_real_ones_cite_a_source():
    for p in CATALOG:
        status = p.fact_status()
        assert set(status) == set(PROGRAM_FACTS)
        assert set(status.values()) <= {"real", "placeholder"}
        if p.real:
            assert p.sources, p.id
    unnamed = [p for p in CATALOG if p.placeholder_name]
    assert unnamed and all(p.translated_name for p in unnamed if p.lead and "to be named" in p.lead)


def test_program_sites_are_la_county_zips_and_languages_are_ours():
    for p in CATALOG:
        for z in p.site_zips:
            info = geo.lookup(z)
            assert info and info.in_la_county, (p.id, z)
        assert set(p.languages) <= set(LANGUAGES)


def test_translatable_program_text_goes_to_translators_but_proper_names_do_not():
    with (DATA_DIR / "programs.yaml").open("rb") as fh:
        msgids = {m for _, _, m, _ in extract_yaml(fh, None, None, {})}
    for p in CATALOG:
        assert p.summary in msgids
        for text in (p.training, p.credential, p.length, p.note, p.translated_name):
            assert text is None or text in msgids
        if p.name:
            assert p.name not in msgids
            assert p.display_name.translate is False


def write_catalog(tmp_path: Path, mutate) -> Path:
    doc = yaml.safe_load((DATA_DIR / "programs.yaml").read_text(encoding="utf-8"))
    mutate(doc["programs"])
    path = tmp_path / "programs.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("mutate, problem", [
    (lambda ps: ps.append(dict(ps[0])), "program id 'aerospace_lost_angels' appears twice"),
    (lambda ps: ps[0].update(sector="farming"), "aerospace_lost_angels"),
    (lambda ps: ps[0].update(real=["name", "salary"]), "unknown facts ['salary']"),
    (lambda ps: ps[0].update(translated_name="Aerospace"), "exactly one of `name`"),
    (lambda ps: ps[0].update(min_age=30), "min_age 30 is above max_age 24"),
    (lambda ps: ps[0].update(site_zips=["9353"]), "not 5 digits"),
    (lambda ps: ps[0].update(languages=["klingon"]), "languages"),
    (lambda ps: ps[0].update(supportive_services=["pony"]), "supportive_services"),
    (lambda ps: ps[0].update(sources=[]), "needs `sources`"),
    (lambda ps: ps[0].update(colour="blue"), "colour"),
])
def test_a_broken_catalog_is_refused_naming_file_program_and_problem(tmp_path, mutate, problem):
    path = write_catalog(tmp_path, mutate)
    with pytest.raises(FlowError) as err:
        load_catalog(path)
    message = str(err.value)
    assert str(path) in message and problem in message
    assert "aerospace_lost_angels" in message


def test_job_centres_are_in_the_county_and_only_real_facts_are_shown():
    offices = load_offices()
    assert len(offices.offices) >= 10
    for o in offices.offices:
        assert geo.lookup(o.zip) and geo.lookup(o.zip).in_la_county, o.id
        for fact in ("name", "city", "address", "phone", "url"):
            assert o.shown(fact) is None or fact in o.real
    santa_clarita = next(o for o in offices.offices if o.id == "santa_clarita")
    assert santa_clarita.address and santa_clarita.shown("address") is None  # a 2017 address is not told


# ---- the table and its cache ------------------------------------------------------------------------

def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_an_empty_table_is_seeded_on_first_read_and_never_again(db):
    assert count(db, ProgramRecord) == 0
    cache = CatalogCache()
    with db.writing() as s:
        snap = cache.snapshot(s)
    assert len(snap.programs) == len(CATALOG) == count(db, ProgramRecord)
    with db.writing() as s:
        programs.set_active(s, "ame_hrtp", False, by="staff@example.org")
    with db.writing() as s:
        snap = cache.snapshot(s)
    assert "ame_hrtp" not in {p.id for p in snap.programs}
    assert count(db, ProgramRecord) == len(CATALOG)  # deactivated, not deleted, not re-seeded


def test_seed_if_empty_only_seeds_an_empty_table(db):
    assert programs.seed_if_empty(db) == len(CATALOG)
    assert programs.seed_if_empty(db) == 0


def test_reseeding_keeps_staff_edits_unless_told_to_reset(db):
    programs.seed_if_empty(db)
    edited = next(p for p in CATALOG if p.id == "pcc_pre_apprenticeship").model_copy(update={"paid": True})
    with db.writing() as s:
        programs.save_program(s, edited, by="staff@example.org")
        s.delete(s.get(ProgramRecord, "ame_hrtp"))
    with db.writing() as s:
        report = programs.seed_programs(s)
    assert report.added == ["ame_hrtp"] and "pcc_pre_apprenticeship" in report.kept
    with db.session() as s:
        row = s.get(ProgramRecord, "pcc_pre_apprenticeship")
        assert row.to_program().paid is True and row.origin == "staff" and row.updated_by == "staff@example.org"
    with db.writing() as s:
        programs.seed_programs(s, replace=True)
    with db.session() as s:
        assert s.get(ProgramRecord, "pcc_pre_apprenticeship").to_program().paid is False


def test_staff_edits_are_validated_with_the_seed_schema(db):
    programs.seed_if_empty(db)
    with db.writing() as s, pytest.raises(FlowError) as err:
        programs.save_program(s, {"id": "new_one", "name": "New", "sector": "farming", "summary": "x"})
    assert "new_one" in str(err.value) and "sector" in str(err.value)


def test_a_row_that_no_longer_validates_is_skipped_not_fatal(db, caplog):
    programs.seed_if_empty(db)
    with db.writing() as s:
        row = s.get(ProgramRecord, "ame_hrtp")
        row.data = {**row.data, "min_age": "lots"}
    with db.session() as s:
        ids = {p.id for p in programs.load_programs(s)}
    assert "ame_hrtp" not in ids and len(ids) == len(CATALOG) - 1
    assert "ame_hrtp" in caplog.text


def test_a_commit_that_touches_programs_refreshes_every_cache_in_the_process(db):
    cache = CatalogCache(ttl_seconds=3600)
    with db.writing() as s:
        before = cache.snapshot(s)
    assert next(p for p in before.programs if p.id == "fund_it_support").paid is False
    changed = next(p for p in CATALOG if p.id == "fund_it_support").model_copy(update={"paid": True})
    with db.writing() as s:
        programs.save_program(s, changed)
    with db.writing() as s:
        after = cache.snapshot(s)
    assert next(p for p in after.programs if p.id == "fund_it_support").paid is True


def test_only_sessions_of_a_database_invalidate_the_catalog_caches(db):
    # The hooks once listened on every Session in the process, whatever it was connected to.
    before = catalog_generation()
    with Session(db.engine) as s, s.begin():
        s.add(AreaTier(zip="90001", tier="highest"))
    assert catalog_generation() == before
    with db.writing() as s:
        s.add(AreaTier(zip="90002", tier="highest"))
    assert catalog_generation() == before + 1


def test_the_service_matches_from_the_database_catalog(service, db):
    def result_for(phone: str) -> dict:
        p = Person(service, phone)
        p.says("Hi")
        p.answer_until("program_choice", {"consent": "yes", "first_name": "Ana", "zip": "93535", "age_range": "3",
                                          "employment": "1", "sectors": "5", "education": "2", "drivers_license": "1",
                                          "housing": "1", "background": "4", "needs": "2"})
        with db.session() as s:
            return s.scalars(select(Intake).order_by(Intake.id.desc())).first().screening

    first = result_for("+16615550301")
    assert first["matches"][0]["program"] == "aerospace_lost_angels"
    with db.writing() as s:
        programs.set_active(s, "aerospace_lost_angels", False)
    second = result_for("+16615550302")
    assert "aerospace_lost_angels" not in [m["program"] for m in second["matches"]]


# ---- the need-tier table ------------------------------------------------------------------------------

def test_area_csv_format():
    table = parse_area_csv("\ufeff# a comment\nzip,tier,source\n90011,highest,index 2021\n90272,5,\n91766, Moderate ,x\n")
    assert table.tiers == {"90011": "highest", "90272": "lowest", "91766": "moderate"}
    assert table.sources == {"90011": "index 2021", "91766": "x"}
    assert not table.sample and table.warnings == ()


@pytest.mark.parametrize("text, problem", [
    ("", "no header"),
    ("zipcode,tier\n90011,high\n", "missing zip"),
    ("zip,tier\n9001,high\n", "line 2: ZIP '9001' is not 5 digits"),
    ("zip,tier\n90011,urgent\n", "line 2: tier 'urgent'"),
    ("zip,tier\n90011,high\n90011,low\n", "line 3: ZIP 90011 appears again"),
    ("zip,tier\n", "no rows"),
    ("zip,tier\n90011\n", "expected at least 2 columns"),
])
def test_a_bad_area_file_names_the_line_and_problem(text, problem):
    with pytest.raises(AreaFileError) as err:
        parse_area_csv(text, "tiers.csv")
    assert str(err.value).startswith("tiers.csv") and problem in str(err.value)


def test_area_file_warns_about_zips_outside_the_county_and_rejects_non_utf8():
    assert "92101" in parse_area_csv("zip,tier\n92101,high\n").warnings[0]
    with pytest.raises(AreaFileError, match="not UTF-8"):
        read_area_csv_bytes("zip,tier\n90011,élevé\n".encode("latin-1"), "x.csv")


def test_the_shipped_sample_is_labelled_as_a_sample():
    text = SAMPLE.read_text(encoding="utf-8")
    assert "SAMPLE DATA" in text and "NOT THE COUNTY'S" in text
    table = parse_area_csv(text)
    assert table.sample and len(table.tiers) >= 20 and not table.warnings


def area_category(service, phone: str, zip5: str) -> tuple[list[str], list[str]]:
    p = Person(service, phone)
    p.says("Hi")
    p.answer_until("program_choice", {"consent": "yes", "first_name": "skip", "zip": zip5, "age_range": "4",
                                      "employment": "1", "sectors": "1", "education": "2", "drivers_license": "1",
                                      "housing": "1", "background": "4", "needs": "7"})
    with service.db.session() as s:
        sc = s.scalars(select(Intake).order_by(Intake.id.desc())).first().screening
    return sc["priority"]["categories"], sc["priority"]["unknown"]


def test_area_priority_comes_from_the_loaded_table(service, db):
    cats, unknown = area_category(service, "+13235550401", "90011")
    assert "priority_area" not in cats and "priority_area" in unknown  # nothing loaded: unknown, not false
    with db.writing() as s:
        programs.replace_areas(s, parse_area_csv(SAMPLE.read_text(encoding="utf-8")), source="sample")
    cats, unknown = area_category(service, "+13235550402", "90011")
    assert "priority_area" in cats
    cats, unknown = area_category(service, "+13235550403", "90272")
    assert "priority_area" not in cats and "priority_area" not in unknown
    with db.writing() as s:
        programs.clear_areas(s)
    cats, unknown = area_category(service, "+13235550404", "90011")
    assert "priority_area" in unknown


# ---- the commands staff run --------------------------------------------------------------------------------

def cli(tmp_path: Path, *args: str, input: str | None = None):
    path = tmp_path / "cli.db"
    env = {"DATABASE_URL": f"sqlite:///{path}" if path.exists() else fresh_sqlite(path), "SECRET_KEY": "x"}
    return CliRunner().invoke(main, list(args), env=env, input=input)


def test_load_areas_refuses_the_sample_unless_told_and_reports_what_it_loaded(tmp_path):
    refused = cli(tmp_path, "load-areas", str(SAMPLE))
    assert refused.exit_code != 0 and "sample" in refused.output
    dry = cli(tmp_path, "load-areas", str(SAMPLE), "--allow-sample", "--dry-run")
    assert dry.exit_code == 0 and "nothing loaded" in dry.output
    loaded = cli(tmp_path, "load-areas", str(SAMPLE), "--allow-sample")
    assert loaded.exit_code == 0, loaded.output
    assert "Loaded 24 ZIP codes" in loaded.output and "SAMPLE DATA" in loaded.output
    real = tmp_path / "tiers.csv"
    real.write_text("zip,tier,source\n90011,1,CVRI\n90044,2,CVRI\n", encoding="utf-8")
    replaced = cli(tmp_path, "load-areas", str(real))
    assert replaced.exit_code == 0 and "Loaded 2 ZIP codes" in replaced.output
    from bot.db import Database

    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    with db.session() as s:
        rows = {r.zip: (r.tier, r.sample, r.source) for r in s.scalars(select(AreaTier))}
    db.dispose()
    assert rows == {"90011": ("highest", False, "CVRI"), "90044": ("high", False, "CVRI")}
    cleared = cli(tmp_path, "load-areas", "--clear")
    assert cleared.exit_code == 0 and "unknown" in cleared.output


def test_load_areas_names_the_problem_in_a_bad_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("zip,tier\n900,high\n", encoding="utf-8")
    result = cli(tmp_path, "load-areas", str(bad))
    assert result.exit_code != 0 and "bad.csv" in result.output and "not 5 digits" in result.output


def test_seed_programs_and_list_programs(tmp_path):
    first = cli(tmp_path, "seed-programs")  # the app already seeded the empty table at start-up
    assert first.exit_code == 0 and f"0 added, 0 overwritten, {len(CATALOG)} kept" in first.output
    listed = cli(tmp_path, "list-programs")
    assert listed.exit_code == 0 and "aerospace_lost_angels" in listed.output and "facts placeholder" in listed.output
    lines = {line.split()[0]: line for line in listed.output.splitlines() if line.strip()}
    assert "(unconfirmed: not offered)  [22/22 facts placeholder]" in lines["fund_wildfire_rebuild"]
    assert "unconfirmed" not in lines["aerospace_lost_angels"]
    refused = cli(tmp_path, "seed-programs", "--reset", input="n\n")
    assert refused.exit_code != 0
    reset = cli(tmp_path, "seed-programs", "--reset", "--yes")
    assert reset.exit_code == 0 and f"{len(CATALOG)} overwritten" in reset.output


def test_the_app_seeds_programs_at_start(app):
    db = app.extensions["hrtp"].db
    assert count(db, ProgramRecord) == len(CATALOG)


# ---- what the person sees -------------------------------------------------------------------------------------

def finish(person: Person, answers: dict[str, str], default: str = "1") -> str:
    person.answer_until("program_choice", answers, default)
    return "\n".join(m.text for m in person.last.messages)


def test_the_result_shows_three_trainings_with_reasons_and_things_to_talk_through(person):
    person.says("Hi")
    said = finish(person, {"language": "1", "consent": "yes", "first_name": "Maria", "zip": "90011", "age_range": "4",
                           "sectors": "1", "education": "2", "drivers_license": "no", "housing": "1",
                           "background": "2", "needs": "1,4"})
    assert "Good news, Maria" in said
    assert "Trainings that fit you:\n1. " in said and "\n3. " in said
    assert "miles from" not in said  # no program's site is confirmed yet, so no distance is told as a fact
    assert "- needs a driver's license; staff can help" in said
    assert "4) Talk with a person first" in said
    assert all(m.segments <= MAX_SEGMENTS for m in person.last.messages)
    [listing] = [m for m in person.last.messages if m.text.startswith("Trainings that fit you:")]
    assert "\n3. " in listing.text and listing.text.count(":") >= 4  # one message, a reason for each
    person.says("2")
    with person.service.db.session() as s:
        intake = s.scalars(select(Intake)).one()
        chosen = intake.screening["matches"][1]["program"]
        assert intake.program_choice == chosen  # the referral staff see
        assert all(m["components"] for m in intake.screening["matches"])


@pytest.mark.parametrize("language", ["1", "2", "3", "5", "8", "10", "12"])  # en, es, zh-Hant, ko, hy, fa, ar
@pytest.mark.parametrize("zip5, sectors", [("90011", "7"), ("90033", "1,2")])
def test_the_result_stays_within_the_segment_budget_in_every_script(service, language, zip5, sectors):
    p = Person(service, f"+1323555{int(language):02d}{int(sectors[0]):02d}")
    p.says("Hi")
    p.answer_until("program_choice", {"language": language, "consent": "1", "first_name": "skip", "zip": zip5,
                                      "age_range": "4", "sectors": sectors, "education": "1", "drivers_license": "2",
                                      "housing": "4", "background": "2,3", "needs": "1,2,3,4,5,6"})
    for m in p.last.messages:
        assert m.segments <= MAX_SEGMENTS, m.text
        assert not m.text.startswith("- "), "a thing to talk through is sent apart from its training"
    result_texts = [m.text for m in p.last.messages]
    assert any("1." in t for t in result_texts) and any("3." in t for t in result_texts)


def test_an_ineligible_person_is_told_kindly_why_and_where_to_go_instead(person):
    person.says("Hi")
    person.answer_until("gender", {"language": "1", "consent": "yes", "first_name": "Ana", "zip": "93550",
                                   "age_range": "1", "sectors": "6", "drivers_license": "no", "background": "4",
                                   "needs": "7"})
    reply = "\n".join(m.text for m in person.last.messages)
    assert "These trainings are for people 16 and older." in reply
    assert "Antelope Valley AJCC in Palmdale" in reply and "ajcc.lacounty.gov" in reply and "211" in reply
    assert person.asked == "gender"  # no program to choose, straight to the optional questions


def test_someone_outside_la_county_hears_about_hrtps_statewide(person):
    person.says("Hi")
    # Ineligible, so no program to choose: the result is said just before the optional questions.
    person.answer_until("gender", {"consent": "yes", "first_name": "skip", "zip": "92101", "la_county": "no",
                                   "age_range": "4", "employment": "1", "sectors": "1", "education": "2",
                                   "drivers_license": "1", "housing": "1", "background": "4", "needs": "7"})
    reply = "\n".join(m.text for m in person.last.messages)
    assert "cwdb.ca.gov/initiatives/high-road-training-partnerships" in reply
    assert "caljobs.ca.gov" in reply


def test_a_full_time_worker_is_reviewed_but_still_sees_trainings(person):
    person.says("Hi")
    said = finish(person, {"language": "1", "consent": "yes", "first_name": "skip", "zip": "90010", "age_range": "4",
                           "employment": "3", "sectors": "2", "education": "4", "drivers_license": "yes",
                           "housing": "1", "background": "4", "needs": "7"})
    assert "Staff need to check" in said and "You work full time" in said
    assert "Trainings that fit you:" in said
