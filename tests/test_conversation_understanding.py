"""Transcripts of people answering as they write: numbers in words, negations, names in sentences, read-backs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import Answer
from bot.sms import MAX_SEGMENTS
from tests.transcript import Person

LANGUAGE_NUMBER = {"en": "1", "es": "2", "zh-Hant": "3", "zh-Hans": "4", "ko": "5", "vi": "6", "tl": "7", "hy": "8",
                   "ru": "9", "fa": "10", "km": "11", "ar": "12", "ja": "13", "hi": "14", "th": "15"}


def answers_of(person: Person) -> dict:
    with person.service.db.session() as s:
        return {a.field: a.value for a in s.scalars(select(Answer).where(Answer.intake_id == person.last.intake_id))}


def start(person: Person, lang: str = "en") -> None:
    """Up to the name question in `lang`, whether or not the first message already settles the language."""
    person.says("Hi")
    if person.asked == "language":
        person.says(LANGUAGE_NUMBER[lang])
    assert person.asked == "consent"
    person.says("1")
    assert person.asked == "first_name"


def test_answers_read_from_words_are_said_back_and_kept(person):
    start(person)
    assert person.says("Hi my name is Maria").startswith("Got it: Maria.\nWhat is the ZIP code")
    assert person.says("90o11").startswith("Got it: 90011.")
    assert person.says("twenty three").startswith("Got it: 18 to 24.")
    assert person.says("i got laid off").startswith("Got it: Not working.")
    assert person.says("construcion and welding").startswith("Got it: Construction and trades and Aerospace and manufacturing.")
    assert person.says("didnt finish high school").startswith("Got it: No high school diploma yet.")
    reply = person.says("2")  # an option's number is plain: nothing to say back
    assert not reply.startswith("Got it") and person.asked == "housing"
    assert answers_of(person) == {"language": "en", "consent": "yes", "first_name": "Maria", "zip": "90011",
                                  "age_range": "18_24", "employment": "unemployed",
                                  "sectors": ["construction", "aerospace"], "education": "no_diploma",
                                  "drivers_license": "no"}


def test_back_fixes_a_misreading_the_read_back_showed(person):
    start(person)
    person.answer_until("age_range", {"first_name": "Ana", "zip": "90011"})
    assert person.says("15").startswith("Got it: Under 16.")
    assert answers_of(person)["age_range"] == "under_16"
    person.says("BACK")
    assert person.asked == "age_range"
    person.says("51")
    assert answers_of(person)["age_range"] == "25_54"


def test_a_negated_answer_is_never_recorded_as_its_opposite(person):
    start(person)
    person.answer_until("background", {"first_name": "Ana", "zip": "90011", "age_range": "3", "sectors": "1",
                                       "education": "no GED", "drivers_license": "dont have one"})
    assert answers_of(person)["education"] == "no_diploma" and answers_of(person)["drivers_license"] == "no"
    reply = person.says("not a veteran")
    assert reply.startswith("OK, this one does not apply: I served in the US military. Which of these do?")
    assert person.asked == "background" and "veteran" not in answers_of(person)
    person.says("not a veteran, no record, no calfresh")
    assert {k: answers_of(person)[k] for k in ("veteran", "justice_involved", "public_assistance")} == \
        {"veteran": "no", "justice_involved": "no", "public_assistance": "no"}
    assert person.says("dont need transportation").startswith("OK, this one does not apply: Transportation.")
    assert "needs" not in answers_of(person)
    person.says("a bus pass, no childcare")
    assert answers_of(person)["needs"] == ["transportation"]


def test_spanish_numbers_in_words_negations_and_a_name_in_a_sentence(person):
    person.says("Hola")
    assert person.asked == "consent"
    person.says("sí, está bien")
    assert person.says("¡Buenas noticias, me llamo Rosa!").startswith("Entendido: Rosa.")
    person.answer_until("age_range", {"zip": "no tengo casa", "la_county": "si"})
    assert person.says("veintitrés").startswith("Entendido: 18 a 24.")
    person.answer_until("background", {"employment": "me despidieron", "sectors": "uno y dos",
                                       "education": "no tengo diploma", "drivers_license": "no tengo",
                                       "housing": "en la calle"})
    reply = person.says("no soy veterana")
    assert reply.startswith("OK, esto no aplica:") and person.asked == "background"
    person.says("no soy veterana, nunca estuve presa y no recibo ayuda")
    got = answers_of(person)
    assert {k: got[k] for k in ("first_name", "zip", "la_county", "age_range", "employment", "sectors", "education",
                                "drivers_license", "housing", "veteran", "justice_involved", "public_assistance")} == {
        "first_name": "Rosa", "zip": "none", "la_county": "yes", "age_range": "18_24", "employment": "unemployed",
        "sectors": ["construction", "healthcare"], "education": "no_diploma", "drivers_license": "no",
        "housing": "unsheltered", "veteran": "no", "justice_involved": "no", "public_assistance": "no"}


@pytest.mark.parametrize("lang,text", [("tl", "ayoko"), ("ar", "مش موافق"), ("km", "មិនយល់ព្រម"), ("en", "i dont agree")])
def test_consent_refused_in_words_is_a_refusal(service, lang, text):
    p = Person(service, "+1323555" + str(1000 + len(text)) + str(len(lang)))
    p.says("Bonjour")  # no language of ours: the list, where the person picks theirs
    if p.asked == "language":
        p.says(LANGUAGE_NUMBER[lang])
    p.says(text)
    assert answers_of(p).get("consent") != "yes"
    assert p.last.messages and p.asked is None  # declined: nothing more is asked


@pytest.mark.parametrize("text", ["مش موافق", "ما بدي", "동의 안 해요", "不同意"])
def test_a_refusal_typed_in_another_script_is_never_read_as_yes(service, text):
    """Bug fix: "مش موافق" at an English consent question was recorded as yes (its own negation unread)."""
    p = Person(service, "+1323555" + str(2000 + len(text)))
    p.says("Hi")
    assert p.asked == "consent"
    p.says(text)
    assert answers_of(p).get("consent") != "yes"


@pytest.mark.parametrize("text", ["wrong number", "why do you need my name", "STOP NOW"])
def test_what_is_plainly_not_a_name_is_never_kept_as_one(person, text):
    start(person)
    person.says(text)
    assert answers_of(person).get("first_name") in (None,)


@pytest.mark.parametrize("lang", list(LANGUAGE_NUMBER))
def test_a_read_back_keeps_every_message_within_the_segment_budget(service, lang):
    p = Person(service, "+1213555" + f"{int(LANGUAGE_NUMBER[lang]):04d}")
    start(p, lang)
    p.answer_until("background", {"first_name": "Ana", "zip": "90011", "age_range": "3", "sectors": "1"})
    result = p.send("veteran, probation, calfresh")  # the three longest labels, read back in full
    assert answers_of(p)["veteran"] == "yes" and answers_of(p)["public_assistance"] == "yes"
    assert all(m.segments <= MAX_SEGMENTS for m in result.messages)
    assert p.asked == "needs"


def test_a_program_chosen_in_words_is_confirmed_once(person):
    start(person)
    person.answer_until("program_choice", {"first_name": "Ana", "zip": "90011", "age_range": "3", "sectors": "1",
                                           "background": "4", "needs": "7"})
    reply = person.says("the first one")
    assert reply.startswith("Great choice.") and "Got it" not in reply
