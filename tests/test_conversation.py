"""The intake conversation as transcripts: what a person types and what the bot answers."""

from __future__ import annotations

import zlib

from sqlalchemy import func, select

from bot.models import Answer, Contact, Intake, Message, OptOut
from tests.transcript import Person


def answers_of(service, intake_id: int) -> dict:
    with service.db.session() as s:
        return {a.field: a.value for a in s.scalars(select(Answer).where(Answer.intake_id == intake_id))}


def start_english(person: Person) -> None:
    assert "Do you agree" in person.says("Hi")  # an English greeting starts in English
    assert "first name" in person.says("yes")


# ---- starting, language, consent ---------------------------------------------------------------

def test_first_message_offers_languages_each_in_its_own_script(person):
    reply = person.says("Bonjour")  # no language of ours shows: every language, in its own script
    for name in ("1) English", "2) Español", "中文 (繁體)", "한국어", "Tiếng Việt", "Հայերեն", "Русский", "فارسی",
                 "ខ្មែរ", "العربية", "日本語", "हिन्दी", "ไทย"):
        assert name in reply
    assert person.asked == "language"


def test_a_spanish_greeting_settles_the_language_and_goes_straight_to_consent(person):
    reply = person.says("Hola, buenas tardes")
    assert person.asked == "consent"
    assert "LANGUAGE" in reply or "IDIOMA" in reply
    assert person.last.messages[-1].lang == "es"


def test_hangul_settles_korean(person):
    person.says("안녕하세요")
    assert person.asked == "consent"
    assert person.last.messages[-1].lang == "ko"


def test_language_by_name_number_or_code(service):
    for typed, lang in (("espanol", "es"), ("ESPAÑOL", "es"), ("10", "fa"), ("vietnamese", "vi"), ("Tagalog", "tl")):
        p = Person(service, f"+1213555{zlib.crc32(typed.encode()) % 10000:04d}")
        p.says("Bonjour")
        p.says(typed)
        assert p.asked == "consent", typed
        assert p.last.messages[-1].lang == lang, typed


def test_consent_notice_is_plain_and_complete(person):
    notice = person.says("Hi")
    for words in ("voluntary", "only County and training-partner staff", "screening, not a final decision",
                  "STOP", "DELETE", "Msg & data rates may apply"):
        assert words in notice


def test_declining_consent_keeps_nothing(person, service):
    person.says("Hi")
    assert "We won't keep your answers" in person.says("no")
    with service.db.session() as s:
        intake = s.scalars(select(Intake)).one()
        assert intake.status == "declined"
        texts = s.scalars(select(Message.text).where(Message.direction == "in")).all()
        assert texts == [None, None]
        assert set(answers_of(service, intake.id)) <= {"language", "consent"}
    assert "complete" in person.says("hello") or person.asked is None


def test_going_back_to_consent_and_declining_keeps_nothing_typed(person, service):
    from tests.privacy_scan import left_behind, traces

    start_english(person)
    before = traces(service.db, ("Zelda", "90744"))  # after the first message seeded the catalog
    assert "ZIP" in person.says("Zelda")
    person.says("90744")
    while person.asked != "consent":
        person.says("BACK")
    assert "We won't keep your answers" in person.says("no")
    assert left_behind(service.db, ("Zelda", "90744"), before) == {}
    with service.db.session() as s:
        intake = s.scalars(select(Intake)).one()
        assert (intake.status, intake.first_name) == ("declined", None)
        assert set(intake.state["answers"]) == {"language", "consent"}
        assert answers_of(service, intake.id) == {"language": "en", "consent": "no"}
    # Changing their mind starts the questions again from nothing.
    person.says("RESTART")
    assert person.asked == "consent"


# ---- answers in many forms ---------------------------------------------------------------------

def test_yes_no_understood_as_number_word_or_accented_synonym(service):
    for typed in ("1", "yes", "Y", "sí", "SI", "Yeah", "ok"):
        p = Person(service, f"+1310555{zlib.crc32(typed.encode()) % 10000:04d}")
        p.says("Hi")
        p.says(typed)
        assert p.asked == "first_name", typed


def test_multiple_choice_as_numbers_or_words(service):
    for typed, expected in (("1,3", ["construction", "technology"]), ("1 3", ["construction", "technology"]),
                            ("2 and 5", ["healthcare", "aerospace"]), ("healthcare, tech", ["healthcare", "technology"]),
                            ("Construction", ["construction"]), ("7", ["not_sure"])):
        p = Person(service, f"+1626555{zlib.crc32(typed.encode()) % 10000:04d}")
        p.says("Hi")
        p.answer_until("sectors", {"zip": "90011", "first_name": "Ana"})
        p.says(typed)
        assert p.asked == "education", typed
        assert answers_of(service, p.last.intake_id)["sectors"] == expected, typed


def test_not_sure_cannot_be_mixed_with_a_sector(person):
    start_english(person)
    person.answer_until("sectors", {"zip": "90011"})
    assert "don't go together" in person.says("1,7")
    assert person.asked == "sectors"


def test_a_wrong_answer_gets_a_kind_reprompt_that_says_what_is_expected(person):
    start_english(person)
    person.says("Ana")
    reply = person.says("my house")
    assert "5-digit ZIP code like 90011" in reply
    assert person.asked == "zip"
    assert "couldn't find ZIP code 00000" in person.says("00000")


def test_after_three_misses_the_person_is_offered_a_call_and_the_flow_moves_on(person, service):
    start_english(person)
    person.answer_until("age_range", {"zip": "90011", "first_name": "Ana"})
    person.says("banana")
    person.says("purple")
    reply = person.says("whatever")
    assert "Let's skip this question for now" in reply and "When is a good time for a call?" in reply
    assert person.asked == "callback_window"
    person.says("skip")
    assert person.asked == "employment"
    assert answers_of(service, person.last.intake_id)["age_range"] is None


def test_skip_leaves_a_question_unanswered(person, service):
    start_english(person)
    person.says("skip")
    assert person.asked == "zip"
    assert answers_of(service, person.last.intake_id)["first_name"] is None


# ---- conditional steps, BACK --------------------------------------------------------------------

def test_a_zip_outside_the_county_asks_whether_they_live_in_la_county(person):
    start_english(person)
    person.says("Ana")
    assert "Los Angeles County" in person.says("91361")  # Westlake Village: Ventura County in the dataset
    assert person.asked == "la_county"


def test_an_la_zip_does_not_ask_about_the_county(person):
    start_english(person)
    person.says("Ana")
    person.says("90704")  # Avalon: a PO-box-only ZIP, still LA County
    assert person.asked == "age_range"


def test_back_changes_the_previous_answer_and_returns_where_they_were(person, service):
    start_english(person)
    person.says("Ana")
    person.says("91361")
    assert person.asked == "la_county"
    assert "ZIP code" in person.says("BACK")
    person.says("90011")
    assert person.asked == "age_range"
    answers = answers_of(service, person.last.intake_id)
    assert answers["zip"] == "90011" and "la_county" not in answers


def test_back_on_the_first_question_says_so(person):
    person.says("Bonjour")
    assert "This is the first question" in person.says("back")
    assert person.asked == "language"


# ---- keywords at any point ----------------------------------------------------------------------

def test_help_answers_and_repeats_the_question(person):
    start_english(person)
    reply = person.says("HELP")
    assert "Msg & data rates may apply" in reply and "STOP" in reply and "PERSON" in reply
    assert person.asked == "first_name"


def test_stop_in_the_middle_of_a_question_confirms_once_then_silence_until_start(person, service):
    start_english(person)
    person.says("Ana")
    reply = person.says("STOP")
    assert "unsubscribed" in reply and len(person.last.messages) == 1
    assert person.says("90011") == ""
    assert person.says("HELP") == ""
    reply = person.says("START")
    assert "subscribed again" in reply and person.asked == "zip"
    with service.db.session() as s:
        assert [o.kind for o in s.scalars(select(OptOut).order_by(OptOut.id))] == ["out", "in"]
        inbound = s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
        assert inbound == 7  # what an opted-out person sent is still kept


def test_plain_language_opt_outs_count(service):
    for typed in ("No más", "stop please", "Cancel", "OPT OUT", "停止"):
        p = Person(service, f"+1818555{zlib.crc32(typed.encode()) % 10000:04d}")
        p.says("Hi")
        assert "unsubscribed" in p.says(typed), typed


def test_yes_after_stop_opts_back_in(person):
    start_english(person)
    person.says("stop")
    assert "subscribed again" in person.says("yes")


def test_restart_starts_over_keeping_the_language(person, service):
    start_english(person)
    person.says("Ana")
    assert "Starting over" in person.says("RESTART")
    assert person.asked == "consent"
    assert answers_of(service, person.last.intake_id) == {"language": "en"}


def test_language_switches_at_any_point_and_returns_to_the_question(person):
    start_english(person)
    person.says("Ana")
    person.says("idioma")
    assert person.asked == "language"
    person.says("2")
    assert person.asked == "zip"
    assert person.last.messages[-1].lang == "es"


def test_person_keyword_flags_the_intake_for_staff(person, service):
    start_english(person)
    assert "staff member will contact you" in person.says("person")
    with service.db.session() as s:
        assert s.get(Intake, person.last.intake_id).needs_contact


def test_new_starts_a_separate_intake_for_another_person_on_the_same_phone(person, service):
    start_english(person)
    person.says("Ana")
    first_id = person.last.intake_id
    reply = person.says("NEW")
    assert "new intake for another person" in reply
    assert person.asked == "language"
    assert "Ana" not in reply
    person.answer_until("first_name", {"language": "1", "consent": "yes"})
    second = person.says("Beto")
    assert "Ana" not in second
    assert person.last.intake_id != first_id
    assert answers_of(service, first_id)["first_name"] == "Ana"
    assert answers_of(service, person.last.intake_id)["first_name"] == "Beto"
    with service.db.session() as s:
        contact = s.scalars(select(Contact)).one()
        assert [i.id for i in contact.intakes] == [first_id, person.last.intake_id]


def test_delete_erases_answers_and_messages_after_confirmation(person, service):
    start_english(person)
    person.says("Ana")
    assert "Reply YES to erase" in person.says("DELETE")
    assert "erased" in person.says("yes")
    with service.db.session() as s:
        assert s.scalars(select(Answer)).all() == []
        assert all(m.text is None for m in s.scalars(select(Message)) if m.direction == "in")
        assert s.scalars(select(Intake)).one().status == "erased"
    assert "Do you agree" in person.says("hi again")  # a fresh start


def test_delete_then_no_keeps_everything(person, service):
    start_english(person)
    person.says("DELETE")
    assert "nothing was erased" in person.says("no")
    assert person.asked == "first_name"


# ---- coming back --------------------------------------------------------------------------------

def test_a_short_gap_resumes_where_they_left_off(person):
    start_english(person)
    person.wait(hours=3)
    person.says("Ana")
    assert person.asked == "zip"


def test_after_the_idle_time_a_returning_person_chooses_to_continue_or_start_over(person, service):
    start_english(person)
    person.says("Ana")
    person.wait(days=3)
    assert "Welcome back" in person.says("hi")
    person.says("1")
    assert person.asked == "zip"
    person.wait(days=3)
    person.says("hello?")
    person.says("start over")
    assert person.asked == "consent"
    assert answers_of(service, person.last.intake_id) == {"language": "en"}


# ---- referral codes -----------------------------------------------------------------------------

def test_join_with_an_unknown_code_keeps_it_flagged(person, service):
    person.says("JOIN eastla1")
    with service.db.session() as s:
        intake = s.get(Intake, person.last.intake_id)
        assert (intake.referral_code, intake.referral_known) == ("EASTLA1", False)


def test_a_known_code_alone_is_attached(service):
    from bot.models import ReferralCode

    with service.db.session() as s, s.begin():
        s.add(ReferralCode(code="SHELTER7", organisation="Union Rescue Mission"))
    p = Person(service, "+13235550177")
    p.says("shelter7")
    with service.db.session() as s:
        intake = s.get(Intake, p.last.intake_id)
        assert (intake.referral_code, intake.referral_known) == ("SHELTER7", True)


# ---- bad input ----------------------------------------------------------------------------------

def test_bad_input_gets_a_kind_answer_and_the_same_question(person, service):
    start_english(person)
    for text, media, expected in (("", 0, "couldn't read that"), ("🙂🙂🙂", 0, "couldn't read that"),
                                  ("", 1, "only read text"), ("\x00\x07\x1b", 0, "couldn't read that")):
        reply = person.says(text, media=media)
        assert expected in reply, repr(text)
        assert person.asked == "first_name"
    assert "too long" in person.says("a" * 5000)
    assert person.asked == "first_name"
    person.says("Ana María 李")  # mixed scripts are a fine name
    assert person.asked == "zip"
    with service.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 8


def test_a_finished_intake_answers_kindly_when_texted_again(person):
    person.says("Hi")
    person.answer_until("gender", {"consent": "yes", "first_name": "Ana", "zip": "90011", "age_range": "3",
                                   "sectors": "2", "background": "4", "needs": "7"})
    person.says("skip")
    person.says("skip")
    assert person.asked is None
    assert "intake is complete" in person.says("hello?")
