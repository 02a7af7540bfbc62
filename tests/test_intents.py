"""The keyword phrasings (intake_flows/data/phrases.yaml) stay unambiguous and read as people type them."""

from __future__ import annotations

import pytest

from intake_flows.intents import PHRASE_ACTIONS, core
from intake_flows.schema import FlowBundle, LanguagePhrases, PhraseFile, load_languages

from devtools.i18n_check import phrase_warnings

BUNDLE = FlowBundle.load()
INTENTS = BUNDLE.intents
PHRASES = BUNDLE.phrases
LANGUAGES = load_languages()


def test_every_language_has_its_own_phrasings_and_none_is_thin() -> None:
    assert PHRASES is not None and set(PHRASES.phrases) == {lang.id for lang in LANGUAGES}
    assert phrase_warnings(LANGUAGES, PHRASES) == []


def test_thin_or_missing_phrasings_are_warned_about() -> None:
    thin = PhraseFile(phrases={"en": LanguagePhrases(opt_out=("stop texting me",))})
    warnings = phrase_warnings(LANGUAGES[:2], thin)
    assert "en: thin" in warnings[0] and "opt_out (1 < 5)" in warnings[0]
    assert warnings[1].startswith("es: no phrases.yaml block")


def test_no_phrase_means_two_things_or_is_also_an_everyday_answer() -> None:
    answers = {core(w) for words in BUNDLE.keywords.answer_words.values() for w in words}
    for phrase, actions in INTENTS.phrases.items():
        assert len(actions) == 1, f"{phrase!r} is {sorted(actions)}"
        assert phrase not in answers, f"{phrase!r} is also an answer word in keywords.yaml"
        assert not (INTENTS.keywords.get(phrase, set()) - actions), f"{phrase!r} is another keyword too"
    assert set(a for acts in INTENTS.phrases.values() for a in acts) <= set(PHRASE_ACTIONS)


@pytest.mark.parametrize("typed, action", [
    ("STOP 🙏", "opt_out"), ("stop pls", "opt_out"), ("STOP NOW", "opt_out"), ("Stop.", "opt_out"),
    ("don't text me", "opt_out"), ("Stop! Don't text me.", "opt_out"), ("TD", "opt_out"), ("别再发了", "opt_out"),
    ("ไม่ต้องส่งมาอีกครับ", "opt_out"), ("tama na po", "opt_out"),
    ("how do i stop these texts", "maybe_stop"), ("can you stop texting me at night", "maybe_stop"),
    ("?", "help"), ("¿?", "help"), ("huh", "help"), ("咩意思？", "help"),
    ("oops go back", "back"), ("can i talk to a real person", "person"),
    ("en español", "switch"), ("英文", "switch"), ("tiếng anh", "switch"),
])
def test_keywords_as_people_type_them(typed: str, action: str) -> None:
    intent = INTENTS.read(typed)
    assert intent is not None and intent.action == action, (typed, intent)


@pytest.mark.parametrize("typed", ["no", "no thanks", "nope", "end of the month", "i quit my job", "Ana", "hi",
                                   "stopped working last year", "no more school", "ya", "para mi hijo", "bago na",
                                   "ulitin", "wala po", "нет", "لا", "いいえ", "ไม่มี", "아니요"])
def test_ordinary_answers_are_no_keyword(typed: str) -> None:
    assert INTENTS.read(typed) is None, typed


def test_a_language_name_switches_to_every_language_it_names_and_never_by_its_id() -> None:
    assert INTENTS.read("中文").langs == ("zh-Hans", "zh-Hant")
    assert INTENTS.read("hi") is None and INTENTS.read("ja") is None


@pytest.mark.parametrize("typed", [
    "พอแล้ว ไม่ต้องส่งมา", "ไม่ต้องส่งข้อความมาอีก", "मुझे मैसेज मत भेजो", "अब मैसेज मत करो", "もうメッセージ送らないでください",
    "不要再傳訊息給我", "لا ترسلوا لي رسائل", "no quiero mensajes", "BAJA", "դադարեցրեք", "កុំផ្ញើមកទៀត",
])
def test_requests_to_stop_found_by_the_held_out_corpus_opt_out(typed: str) -> None:
    found = INTENTS.read(typed)
    assert found is not None and found.action == "opt_out", typed


@pytest.mark.parametrize("typed", ["ไม่ต้องส่ง เอกสาร", "สวัสดี ครับ", "我 想 找 工作"])
def test_a_space_in_a_dense_script_splits_clauses_but_only_all_stops_opt_out(typed: str) -> None:
    found = INTENTS.read(typed)
    assert found is None or found.action != "opt_out", typed
