"""The utterance corpora (tests/data/utterances/ and the held-out utterances_heldout/) stay valid against the flow."""

from __future__ import annotations

import pytest

from intake_flows.schema import DATA_DIR, load_flow, load_languages

from bench import understanding as bench

FLOW = load_flow(DATA_DIR / "intake.yaml")
LANGUAGE_IDS = [lang.id for lang in load_languages(DATA_DIR / "languages.yaml")]
# Each corpus and the entries it needs per language.
CORPORA = {"utterances": (bench.CORPUS_DIR, bench.MIN_ENTRIES),
           "utterances_heldout": (bench.HELDOUT_DIR, bench.HELDOUT_MIN_ENTRIES)}


@pytest.mark.parametrize("corpus", CORPORA)
def test_there_is_one_corpus_file_per_supported_language(corpus: str) -> None:
    files = {p.stem for p in CORPORA[corpus][0].glob("*.yaml")}
    assert files == set(LANGUAGE_IDS) == set(bench.LANGUAGES)


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("lang", LANGUAGE_IDS)
def test_every_entry_names_a_real_question_and_real_values(corpus: str, lang: str) -> None:
    directory, minimum = CORPORA[corpus]
    found = bench.load_corpus(directory, languages=[lang])
    assert bench.problems(found, FLOW, LANGUAGE_IDS, minimum=minimum) == []


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("lang", LANGUAGE_IDS)
def test_every_question_kind_is_covered_with_opt_outs_and_keywords(corpus: str, lang: str) -> None:
    entries = bench.load_corpus(CORPORA[corpus][0], languages=[lang])[lang]
    # By kind, not by question: a question added in YAML alone is read by its kind's machinery, which is what
    # the corpus measures (issue 11: a new question must not need Python or corpus entries to pass the suite).
    covered = {e.at if e.at in bench.MOMENTS else bench.step_for(FLOW, e.at).kind for e in entries}
    needed = {s.kind for s in FLOW.steps if s.kind not in ("result", "end")} | set(bench.MOMENTS)
    assert needed - covered == set(), f"{lang}: no entries for {sorted(needed - covered)}"
    expects = [e.expect for e in entries if isinstance(e.expect, str)]
    for needed in ("opt-out", "help", "back", "person", "ask"):
        assert needed in expects, f"{lang}: no entry expects {needed}"
    assert any(x.startswith("language:") for x in expects), f"{lang}: no entry switches language"


def test_the_checker_names_what_is_wrong() -> None:
    entries = [
        bench.Entry("en", "veteran", "no", ["none"], line=3),             # a flags field, not its step
        bench.Entry("en", "housing", "car", "in_a_car", line=4),          # not an option id
        bench.Entry("en", "needs", "bus", "transportation", line=5),      # a multi answer needs a list
        bench.Entry("en", "consent", "yes", True, line=6),                # YAML read an unquoted yes
        bench.Entry("en", "zip", "9001", "9001", line=7),                 # not a ZIP
        bench.Entry("en", "sectors", "1,2", [], line=8),                  # an empty list
        bench.Entry("en", "nowhere", "hi", "ask", line=9),                # no such field or step
        bench.Entry("en", "zip", "french", "language:xx", line=10),         # no such language
        bench.Entry("en", "zip", "STOP", "opt-out", line=11),
        bench.Entry("en", "zip", "STOP", "opt-out", line=12),             # the same entry twice
        bench.Entry("en", "resume", "yes", "yes", line=13),               # continue or restart, not yes
        bench.Entry("en", "start", "hi", "en", line=14),                  # a language is language:<id>
    ]
    found = bench.problems({"en": entries}, FLOW, LANGUAGE_IDS, minimum=60)
    lines = sorted(int(p.split(":")[1]) for p in found if p.split(":")[1].isdigit())
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14]
    assert any("12 entries, at least 60" in p for p in found)


def test_the_bench_reads_an_outcome_for_every_kind_of_expectation() -> None:
    """A small slice through the real engine: a value, a list, flags, ask, opt-out, a keyword."""
    entries = [
        bench.Entry("en", "consent", "yes", "yes"),
        bench.Entry("en", "sectors", "1,2", ["construction", "healthcare"]),
        bench.Entry("en", "background", "4", ["none"]),
        bench.Entry("en", "background", "1", ["justice_involved"]),       # recorded, but not what is expected
        bench.Entry("en", "zip", "lots", "ask"),
        bench.Entry("en", "zip", "STOP", "opt-out"),
        bench.Entry("en", "zip", "HELP", "help"),
        bench.Entry("en", "age_range", "BACK", "back"),
        bench.Entry("en", "first_name", "SKIP", "skip"),
        bench.Entry("en", "program_choice", "1", "shown:1"),
        bench.Entry("en", "start", "STOP", "opt-out"),
        bench.Entry("en", "start", "hola", "language:es"),
        bench.Entry("en", "resume", "1", "continue"),
        bench.Entry("en", "resume", "2", "restart"),
    ]
    results = bench.run(bench.Bench(), {"en": entries})
    assert [r.outcome for r in results] == ["understood"] * 3 + ["misread"] + ["understood"] * 10
    assert bench.summary(results)["en"]["misread"] == 1
