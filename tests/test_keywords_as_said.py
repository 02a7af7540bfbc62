"""Keywords as people say them, as transcripts: natural opt-outs, the "stop?" question, greetings, coming back."""

from __future__ import annotations

import zlib

import pytest
from sqlalchemy import select

from bot.models import Answer, Intake, IntakeEvent
from tests.transcript import Person


def phone_for(text: str) -> str:
    return f"+1323555{zlib.crc32(text.encode()) % 10000:04d}"


def events(service, kind: str) -> list[dict]:
    with service.db.session() as s:
        return [e.data or {} for e in s.scalars(select(IntakeEvent).where(IntakeEvent.kind == kind))]


def answers_of(service) -> dict:
    with service.db.session() as s:
        return {a.field: a.value for a in s.scalars(select(Answer))}


GOING = {"consent": "yes", "first_name": "Ana", "zip": "90011"}


# ---- opting out in one's own words -----------------------------------------------------------------

@pytest.mark.parametrize("start, typed, confirmation", [
    ("Hi", "stop pls", "unsubscribed"),
    ("Hi", "STOP 🙏", "unsubscribed"),
    ("Hi", "remove me from this list", "unsubscribed"),
    ("Hola", "no me escriban", "Cancelaste los mensajes"),
    ("Hola", "ya no quiero", "Cancelaste los mensajes"),
    ("你们好，请问", "TD", "退订"),
    ("안녕하세요", "그만 보내세요", "수신"),
    ("Здравствуйте", "хватит писать", "отпис"),
    ("مرحبا", "كفاية", "إلغاء"),
    ("こんにちは", "もう送らないで", "停止しました"),
    ("Kumusta po", "ayoko na po, wag na mag text", "Hindi na kayo makakatanggap"),
])
def test_a_plain_request_to_stop_mid_intake_opts_out_in_the_persons_language(service, start, typed, confirmation):
    p = Person(service, phone_for(start + typed))
    p.says(start)
    p.answer_until("zip", GOING)
    lang = p.last.messages[-1].lang
    reply = p.says(typed)
    assert confirmation in reply and "START" in reply, reply
    assert p.last.messages[-1].lang == lang
    assert p.says("90011") == ""  # nothing more until they opt back in
    assert events(service, "not_understood") == []


@pytest.mark.parametrize("typed, lang, words", [
    ("STOP", "en", "unsubscribed"),
    ("TD", "zh-Hans", "退订"),
    ("ya no quiero", "es", "Cancelaste los mensajes"),
    ("хватит писать", "ru", "отпис"),
    ("دیگه پیام نده", "fa", "لغو شد"),
    ("đừng nhắn nữa", "vi", "START"),
    ("停止", "zh-Hans", "退订"),
    ("STOP 🙏", "en", "unsubscribed"),
])
def test_stop_as_the_very_first_message_is_confirmed_in_the_language_it_was_said_in(service, typed, lang, words):
    p = Person(service, phone_for("first" + typed))
    reply = p.says(typed)
    assert words in reply and len(p.last.messages) == 1
    assert p.last.messages[0].lang == lang
    assert p.says("hello") == ""


def test_no_at_a_yes_no_question_is_an_answer_and_end_in_a_sentence_is_not_a_stop(person, service):
    person.says("Hi")
    person.answer_until("drivers_license", {**GOING, "age_range": "3", "employment": "1", "sectors": "1",
                                            "education": "2"})
    person.says("no")
    assert answers_of(service)["drivers_license"] == "no"
    person.says("BACK")
    assert person.asked == "drivers_license"
    assert "unsubscribed" not in person.says("I hope this ends with a job")
    assert person.asked == "drivers_license"


# ---- a stop word inside a longer message: one short question --------------------------------------

def test_a_stop_word_in_a_sentence_asks_once_and_1_goes_on_without_counting_a_wrong_answer(person, service):
    person.says("Hi")
    person.answer_until("zip", GOING)
    reply = person.says("how do i stop all these texts from you guys")
    assert "Do you want us to stop texting you? Reply STOP to stop, or 1 to go on." in reply
    assert "unsubscribed" not in reply
    assert "ZIP code" in person.says("1")
    assert person.asked == "zip"
    person.says("90011")
    assert person.asked == "age_range"
    assert events(service, "not_understood") == []
    assert len(events(service, "stop_asked")) == 1


def test_a_stop_word_in_a_sentence_then_stop_opts_out(person, service):
    person.says("Hola")
    person.answer_until("zip", {**GOING, "consent": "sí"})
    reply = person.says("quiero que dejen de mandar mensajes a este numero")
    assert "¿Quieres que dejemos de escribirte?" in reply
    assert "Cancelaste los mensajes" in person.says("STOP")
    assert person.says("90011") == ""


def test_stop_words_again_after_the_stop_question_opt_out_without_a_second_question(person, service):
    person.says("Hi")
    person.answer_until("zip", GOING)
    person.says("how do i stop these")
    assert "unsubscribed" in person.says("i said stop texting me already")
    assert len(events(service, "stop_asked")) == 1


def test_after_the_stop_question_an_ordinary_answer_is_read_as_the_answer(person, service):
    person.says("Hi")
    person.answer_until("zip", GOING)
    person.says("can you stop texting me so late at night")
    person.says("90011")
    assert answers_of(service)["zip"] == "90011" and person.asked == "age_range"


# ---- other keywords in people's words ---------------------------------------------------------------

def test_help_back_and_person_in_everyday_words(person, service):
    person.says("Hola")
    person.answer_until("age_range", {**GOING, "consent": "sí"})
    reply = person.says("no entiendo")
    assert "ATRÁS" in reply and "IDIOMA" in reply and person.asked == "age_range"  # HELP, in Spanish
    assert "código postal" in person.says("me equivoqué").lower()
    assert person.asked == "zip"
    person.says("90011")
    person.says("quiero hablar con una persona")
    assert len(events(service, "handoff_requested")) == 1 and person.asked == "callback_window"
    assert "Te llamaremos" in person.says("por la tarde") and person.asked == "age_range"
    assert "PERSONA" in person.says("?") and person.asked == "age_range"  # a lone "?" is HELP too


def test_naming_a_language_mid_intake_switches_to_it(person, service):
    person.says("Hi")
    person.answer_until("zip", GOING)
    reply = person.says("en español")
    assert "IDIOMA" in reply and person.last.messages[-1].lang == "es" and person.asked == "zip"
    person.says("tiếng anh")
    assert person.last.messages[-1].lang == "en" and person.asked == "zip"
    with service.db.session() as s:
        assert s.scalars(select(Intake)).one().language == "en"


def test_a_language_name_that_answers_the_question_is_kept_as_the_answer(person, service):
    person.says("Hi")
    person.answer_until("race_ethnicity", {**GOING, "age_range": "3", "sectors": "1", "background": "4", "needs": "7",
                                           "gender": "1"})
    person.says("arabic")  # at the race/ethnicity question, an answer rather than a language
    assert person.last.messages[-1].lang == "en"
    assert answers_of(service)["race_ethnicity"] == ["middle_eastern"]


# ---- the first message --------------------------------------------------------------------------------

def test_an_english_greeting_starts_in_english_and_language_still_switches(person):
    reply = person.says("hi")
    assert "Reply with the number of your language" not in reply
    assert reply.startswith("Text LANGUAGE any time to change the language.")
    assert person.asked == "consent"
    assert "1) English" in person.says("LANGUAGE") and person.asked == "language"
    person.says("2")
    assert person.last.messages[-1].lang == "es"


def test_a_help_word_as_the_first_message_keeps_its_language(service):
    for typed, lang in (("ayuda", "es"), ("帮助", "zh-Hans"), ("помощь", "ru"), ("tulong", "tl")):
        p = Person(service, phone_for("help" + typed))
        p.says(typed)
        assert p.asked == "consent", typed
        assert {m.lang for m in p.last.messages} == {lang}, typed


@pytest.mark.parametrize("typed, pair, pick, lang", [
    ("سلام", ("فارسی", "العربية"), "2", "ar"),
    ("سلام", ("فارسی", "العربية"), "فارسی", "fa"),
    ("你好", ("中文 (繁體)", "中文 (简体)"), "1", "zh-Hant"),
])
def test_a_script_two_languages_share_asks_between_just_those_two_in_their_own_scripts(service, typed, pair, pick, lang):
    p = Person(service, phone_for(typed + pick))
    reply = p.says(typed)
    assert f"1) {pair[0]}" in reply and f"2) {pair[1]}" in reply and "3)" not in reply
    assert "English" not in reply and p.asked == "language"
    p.says(pick)
    assert p.asked == "consent" and p.last.messages[-1].lang == lang


def test_asking_for_a_person_in_the_first_message_reaches_staff_and_the_intake_still_starts(person, service):
    reply = person.says("quiero hablar con una persona")
    assert "personal" in reply.lower() and person.asked == "callback_window" and person.last.messages[-1].lang == "es"
    assert len(events(service, "handoff_requested")) == 1
    assert "Te llamaremos" in person.says("el sábado en la mañana") and person.asked == "consent"


def test_at_the_two_language_question_another_language_by_name_or_anything_else_gets_the_whole_list(service):
    p = Person(service, "+13235550188")
    p.says("سلام")
    p.says("english")
    assert p.asked == "consent" and p.last.messages[-1].lang == "en"
    q = Person(service, "+13235550189")
    q.says("你好")
    assert "15) ไทย" in q.says("hi") and q.asked == "language"


def test_a_referral_code_inside_a_greeting_is_kept(person, service):
    person.says("hola JOIN EASTLA1")
    assert person.asked == "consent" and person.last.messages[-1].lang == "es"
    with service.db.session() as s:
        assert s.scalars(select(Intake)).one().referral_code == "EASTLA1"


# ---- coming back later ------------------------------------------------------------------------------------

def test_after_a_long_gap_an_answer_to_the_waiting_question_is_kept_then_welcomed_back(person, service):
    person.says("Hi")
    person.answer_until("age_range", GOING)
    person.wait(days=3)
    reply = person.says("3")
    assert reply.startswith("Welcome back! I kept that answer.")
    assert answers_of(service)["age_range"] == "18_24" and person.asked == "employment"


@pytest.mark.parametrize("start, yes, lang", [("Hi", "yes", "en"), ("Hola", "sí", "es"), ("Xin chào", "có", "vi")])
def test_yes_at_continue_where_you_left_off_continues(service, start, yes, lang):
    p = Person(service, phone_for("resume" + yes))
    p.says(start)
    p.answer_until("zip", {"consent": "1", "first_name": "Ana"})
    p.wait(days=3)
    p.says("hello?")
    assert p.asked == "resume"
    p.says(yes)
    assert p.asked == "zip" and p.last.messages[-1].lang == lang
