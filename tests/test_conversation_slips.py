"""Transcripts of what a tester typed and the bot got wrong: everyday answers read as a stop, a link code, a house
number or an option's number, and a GED still to come read as one held. Each reads as the tester's session did."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import Contact
from tests.test_conversation_understanding import answers_of, start
from tests.transcript import Person

SPANISH_START = {"consent": "si", "first_name": "Juan", "zip": "90011", "age_range": "30"}


def spanish(person: Person, until: str) -> None:
    person.says("hola")
    person.answer_until(until, SPANISH_START)


def opted_out(person: Person) -> bool:
    with person.service.db.session() as s:
        return s.scalar(select(Contact.opted_out_at).where(Contact.address == person.phone)) is not None


def test_ya_no_at_are_you_working_is_not_working_and_not_a_stop(person):
    spanish(person, "employment")
    reply = person.says("ya no 😔")
    assert "Cancelaste" not in reply and reply.startswith("Entendido: No trabajo.")
    assert answers_of(person)["employment"] == "unemployed" and not opted_out(person)


def test_ya_no_at_the_licence_question_is_no(person):
    spanish(person, "drivers_license")
    person.says("ya no")
    assert answers_of(person)["drivers_license"] == "no" and not opted_out(person)


def test_no_more_where_it_answers_nothing_still_stops(person):
    start(person)
    person.says("Ana")
    assert person.asked == "zip"
    assert person.says("no more").startswith("You're unsubscribed")
    assert opted_out(person)


def test_no_more_at_are_you_working_is_not_working(person):
    start(person)
    person.answer_until("employment", {"first_name": "Ana", "zip": "90011", "age_range": "30"})
    assert person.says("no more").startswith("Got it: Not working.")
    assert not opted_out(person)


def test_an_age_said_loosely_is_no_link_code(person):
    spanish(person, "age_range")
    # The person never asked for a code: "unos 30" is about 30.
    assert person.says("unos 30").startswith("Entendido: 25 a 54.")
    assert answers_of(person)["age_range"] == "25_54"


def test_maybe_4_is_an_answer_not_a_code(person):
    start(person)
    person.answer_until("age_range", {"first_name": "Ana", "zip": "90011"})
    reply = person.says("maybe 4")
    assert "code" not in reply


def test_a_whole_street_address_gives_the_zip_at_its_end(person):
    start(person)
    person.says("Ana")
    person.says("12345 Vanowen St North Hollywood 91605")
    assert answers_of(person)["zip"] == "91605" and person.asked == "age_range"


def test_a_count_in_a_sentence_is_never_an_options_number(person):
    start(person)
    person.answer_until("housing", {"first_name": "Ana", "zip": "90011", "age_range": "30"})
    reply = person.says("I live with 4 roommates")
    assert person.asked == "housing" and "housing" not in answers_of(person), reply
    person.says("with my family")
    person.answer_until("needs", {"background": "4"})
    person.says("I have 2 kids")
    assert person.asked == "needs" and "needs" not in answers_of(person)
    person.says("childcare")
    assert answers_of(person)["needs"] == ["childcare"]


def test_an_options_number_in_a_few_words_still_counts(person):
    start(person)
    person.answer_until("employment", {"first_name": "Ana", "zip": "90011", "age_range": "30"})
    person.says("option 1 please")
    assert answers_of(person)["employment"] == "unemployed"


def test_yes_3_days_a_week_asks_again_rather_than_full_time(person):
    start(person)
    person.answer_until("employment", {"first_name": "Ana", "zip": "90011", "age_range": "30"})
    person.says("yes 3 days a week")
    assert person.asked == "employment" and "employment" not in answers_of(person)


def test_a_ged_still_being_worked_on_is_no_diploma_yet(person):
    start(person)
    person.answer_until("education", {"first_name": "Ana", "zip": "90011", "age_range": "30", "sectors": "1"})
    assert person.says("working on my GED").startswith("Got it: No high school diploma yet.")
    assert answers_of(person)["education"] == "no_diploma"


def test_estudiando_para_el_ged_is_no_diploma_yet(person):
    spanish(person, "education")
    person.says("estoy estudiando para el GED")
    assert answers_of(person)["education"] == "no_diploma"


def test_a_learners_permit_is_not_a_licence(person):
    start(person)
    person.answer_until("drivers_license", {"first_name": "Ana", "zip": "90011", "age_range": "30", "sectors": "1",
                                            "education": "2"})
    person.says("I have a permit")
    assert answers_of(person)["drivers_license"] == "no"


def test_a_slip_of_the_thumb_at_the_age_question_rules_no_one_out(person):
    start(person)
    person.answer_until("age_range", {"first_name": "Ana", "zip": "90011"})
    person.says("6")
    assert person.asked == "age_range" and "age_range" not in answers_of(person)
    assert person.says("15").startswith("Got it: Under 16.")


def test_going_on_after_the_end_says_where_things_stand(person):
    start(person)
    person.answer_until("program_choice", {"first_name": "Ana", "zip": "90011", "age_range": "30"})
    for _ in range(12):
        if person.asked is None:
            break
        person.says("1")
    assert person.says("how do i stop these texts").startswith("Do you want us to stop texting you?")
    assert person.says("1").startswith("Your intake is complete")
    assert not opted_out(person)
