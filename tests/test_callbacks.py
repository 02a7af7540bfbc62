"""Call-backs as transcripts: PERSON, "talk with a person" and three misses ask when to call, then carry on."""

from __future__ import annotations

from sqlalchemy import select

from bot.engine import us_phone
from bot.models import CallBack, Intake
from bot.service import IntakeService
from tests.transcript import Person

ANSWERS = {"language": "1", "consent": "1", "first_name": "Ana", "zip": "90011", "age_range": "3",
           "employment": "1", "sectors": "2", "education": "2", "drivers_license": "1", "housing": "1",
           "background": "4", "needs": "7"}


def call_backs(service: IntakeService) -> list[CallBack]:
    with service.db.session() as s:
        return list(s.scalars(select(CallBack).order_by(CallBack.id)))


def test_person_mid_intake_on_sms_asks_the_time_then_returns_where_they_were(service: IntakeService) -> None:
    ana = Person(service, "+12135550101")
    ana.says("hi")
    ana.answer_until("zip", ANSWERS)
    said = ana.says("PERSON")
    assert "When is a good time for a call?" in said
    assert ana.asked == "callback_window"
    said = ana.says("weekend evening")
    assert "We'll call you: Weekend evening." in said
    assert ana.asked == "zip"
    [row] = call_backs(service)
    assert (row.window, row.days, row.phone, row.status, row.attempts) == ("evening", "weekend", "+12135550101", "requested", 0)
    assert ana.says("90011") and ana.asked == "age_range"


def test_web_asks_for_a_number_with_a_kind_reprompt(service: IntakeService) -> None:
    web = Person(service, "web-visitor-1", channel="web")
    web.says("hi")
    web.answer_until("employment", ANSWERS)
    web.says("person")
    assert web.asked == "callback_window"
    assert "What number should we call?" in web.says("2")
    assert web.asked == "callback_phone"
    assert "like 213-555-0100" in web.says("12345")
    assert web.asked == "callback_phone"
    assert "We'll call you: Weekday afternoon." in web.says("(323) 555-0123")
    assert web.asked == "employment"
    [row] = call_backs(service)
    assert (row.window, row.days, row.phone) == ("afternoon", "weekday", "+13235550123")


def test_telegram_skips_the_number_and_hears_where_to_call(service: IntakeService) -> None:
    tg = Person(service, "777001", channel="telegram")
    tg.says("hi")
    tg.answer_until("age_range", ANSWERS)
    tg.says("PERSON")
    tg.says("1")
    assert tg.asked == "callback_phone"
    said = tg.says("SKIP")
    assert "call us at" in said
    assert tg.asked == "age_range"
    [row] = call_backs(service)
    assert (row.window, row.days, row.phone) == ("morning", "weekday", None)


def test_three_misses_offer_a_call_then_the_next_question(service: IntakeService) -> None:
    ana = Person(service, "+12135550102")
    ana.says("hi")
    ana.answer_until("age_range", ANSWERS)
    for _ in range(3):
        said = ana.says("purple")
    assert "Staff can call you to help with it." in said
    assert ana.asked == "callback_window"
    ana.says("3")
    assert ana.asked == "employment"
    [row] = call_backs(service)
    assert (row.window, row.days) == ("evening", "weekday")


def test_skip_at_the_time_question_records_no_call_and_goes_on(service: IntakeService) -> None:
    ana = Person(service, "+12135550103")
    ana.says("hi")
    ana.answer_until("zip", ANSWERS)
    ana.says("PERSON")
    assert "no call for now" in ana.says("skip")
    assert ana.asked == "zip"
    assert call_backs(service) == []


def test_talk_with_a_person_asks_the_time_then_the_next_question(service: IntakeService) -> None:
    ana = Person(service, "+12135550104")
    ana.says("hi")
    ana.answer_until("program_choice", ANSWERS)
    talk = ana.last.messages[-1].buttons[-1].number if ana.last.messages[-1].buttons else None
    said = ana.says(str(talk) if talk else "talk with a person first")
    assert ana.asked == "callback_window", said
    ana.says("Weekday morning")
    assert ana.asked == "gender"
    with service.db.session() as s:
        intake = s.scalar(select(Intake))
        assert intake.needs_contact and intake.program_choice is None
    assert len(call_backs(service)) == 1


def test_us_phone_numbers() -> None:
    assert us_phone("213-555-0100") == "+12135550100"
    assert us_phone("+1 (213) 555 0100") == "+12135550100"
    assert us_phone("555-0100") is None
    assert us_phone("113-555-0100") is None
    assert us_phone("213-155-0100") is None


def test_help_while_the_time_is_asked_asks_the_time_again(service: IntakeService) -> None:
    ana = Person(service, "+12135550105")
    ana.says("hi")
    ana.answer_until("zip", ANSWERS)
    ana.says("PERSON")
    assert "Reply PERSON to reach staff" in ana.says("HELP")
    assert ana.asked == "callback_window"
    ana.says("weekday evening")
    assert ana.asked == "zip"
