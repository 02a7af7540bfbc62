"""Assisted enrolment and shared phones, as transcripts: an outreach worker enrols people on their own phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.assisted import DeviceError, register_device
from bot.models import Answer, Contact, Intake, Message, ReferralCode, utcnow
from bot.outbound import Outbound, OutboundError, SendResult
from tests.conftest import T0
from tests.transcript import Person

WORKER = "+12135550199"
ANA_OWN = "+13235550111"

# What the worker types for each of the two people, by field; anything else is "1".
ANA = {"language": "1", "consent": "yes", "first_name": "Ana", "own_phone": "(323) 555-0111", "zip": "90011",
       "age_range": "4", "sectors": "1", "background": "4", "needs": "1"}
BEN = {"language": "1", "consent": "yes", "first_name": "Ben", "own_phone": "SKIP", "zip": "90033",
       "age_range": "5", "sectors": "2", "background": "4", "needs": "2"}


class RecordingSender:
    """Records what a channel would deliver, to whom."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, channel: str, address: str, text: str) -> SendResult:
        self.sent.append((channel, address, text))
        return SendResult(f"SM{len(self.sent):06d}")


@pytest.fixture
def worker(service) -> Person:
    with service.db.writing() as s:
        s.add(ReferralCode(code="EASTLA1", organisation="East LA WorkSource", worker="Rosa"))
        s.flush()
        register_device(s, "sms", "213-555-0199", "EASTLA1", "Rosa's phone", None, utcnow())
    service.forget_referral_codes()
    return Person(service, WORKER, start=T0)


def answers_of(service, intake_id: int) -> dict:
    with service.db.session() as s:
        return {a.field: a.value for a in s.scalars(select(Answer).where(Answer.intake_id == intake_id))}


def intake(service, intake_id: int) -> Intake:
    with service.db.session() as s:
        row = s.get(Intake, intake_id)
        assert row is not None
        s.expunge(row)
        return row


def answer(p: Person, answers: dict, steps: int = 1) -> str:
    """Answers the question asked, by its field, `steps` times; returns the replies, joined."""
    said = []
    for _ in range(steps):
        said.append(p.says(answers.get(p.asked or "", "1")))
    return "\n".join(said)


def test_a_registered_phone_enrols_a_person_with_the_workers_code_and_asks_their_own_number(worker, service):
    first = worker.says("Hi")
    assert "New person" in first and "NEW" in first and "PEOPLE" in first
    worker.answer_until("own_phone", ANA)
    assert "Ana's own mobile number" in "\n".join(m.text for m in worker.last.messages)
    reply = worker.says(ANA["own_phone"])
    assert "ending 0111" in reply
    assert worker.asked == "zip"
    row = intake(service, worker.last.intake_id)
    assert row.referral_code == "EASTLA1" and row.referral_known
    with service.db.session() as s:
        own = s.get(Contact, row.contact_id)
        device = s.scalar(select(Contact).where(Contact.address == WORKER))
        assert own.channel == "sms" and own.address == ANA_OWN and own.active_intake_id == row.id
        assert row.enrolled_via_contact_id == device.id
    # The number itself is never in the event history.
    assert ANA_OWN not in str([e.stored() for e in worker.last.events])


def test_the_own_number_is_optional_and_read_kindly(worker, service):
    worker.says("Hi")
    worker.answer_until("own_phone", BEN)
    assert "US mobile number" in worker.says("my number is 12")
    assert worker.asked == "own_phone"
    assert "the number these messages come from" in worker.says("213 555 0199")
    assert worker.asked == "own_phone"
    worker.says("skip")
    assert worker.asked == "zip"
    row = intake(service, worker.last.intake_id)
    with service.db.session() as s:
        assert s.get(Contact, row.contact_id).address == WORKER
        assert row.enrolled_via_contact_id is None


def test_two_people_interleaved_on_one_phone_never_see_each_others_answers(worker, service):
    worker.says("Hi")
    worker.answer_until("own_phone", ANA)
    worker.says(ANA["own_phone"])
    ana_id = worker.last.intake_id
    assert "New person" in worker.says("NEW")
    worker.answer_until("own_phone", BEN)
    assert "Ana" not in "\n".join(m.text for m in worker.last.messages)
    worker.says("skip")
    ben_id = worker.last.intake_id
    assert ben_id != ana_id
    transcript: list[tuple[str, str]] = []  # (whose turn it was, what the bot said)
    for turn in range(12):
        # Alternate: two answers for one person, then "which person?" and the other.
        who, answers, target = (("Ana", ANA, ana_id) if turn % 2 == 0 else ("Ben", BEN, ben_id))
        pick = worker.says("PEOPLE")
        assert worker.asked == "pick"
        assert "Ana" in pick and "Ben" in pick and "Enrol another person" in pick
        switched = worker.says(who)
        assert f"Now with {who}" in switched
        assert worker.last.intake_id == target
        transcript.append((who, switched + "\n" + answer(worker, answers, steps=2)))
        if worker.asked in (None, "gender", "program_choice"):
            break
    for who, said in transcript:
        other = "Ben" if who == "Ana" else "Ana"
        assert other not in said, (who, said)
    ana, ben = answers_of(service, ana_id), answers_of(service, ben_id)
    assert ana["first_name"] == "Ana" and ana["zip"] == "90011" and ana["age_range"] == "25_54"
    assert ben["first_name"] == "Ben" and ben["zip"] == "90033" and ben["age_range"] == "55_plus"
    assert ana["sectors"] != ben["sectors"]
    # Each person's inbound messages belong to their own intake alone.
    with service.db.session() as s:
        ana_texts = set(s.scalars(select(Message.text).where(Message.intake_id == ana_id, Message.direction == "in")))
        ben_texts = set(s.scalars(select(Message.text).where(Message.intake_id == ben_id, Message.direction == "in")))
    assert "Ana" in ana_texts and "Ben" not in ana_texts and "90033" not in ana_texts
    assert "Ben" in ben_texts and "90011" not in ben_texts


def test_the_person_texts_from_their_own_phone_and_their_intake_carries_on(worker, service):
    worker.says("Hi")
    worker.answer_until("own_phone", ANA)
    worker.says(ANA["own_phone"])
    ana_id = worker.last.intake_id
    worker.says(ANA["zip"])
    asked = worker.asked
    worker.says("NEW")
    ana = Person(service, ANA_OWN, start=T0 + timedelta(hours=2))
    welcome = ana.says("hello")
    assert "Hello Ana! This is your own intake" in welcome
    assert ana.asked == asked and ana.last.intake_id == ana_id
    ana.says(ANA[asked])
    assert ana.last.intake_id == ana_id
    assert answers_of(service, ana_id)["age_range"] == "25_54"


def test_staff_messages_go_to_the_persons_own_number_and_name_the_person_on_the_workers_phone(worker, service):
    worker.says("Hi")
    worker.answer_until("own_phone", ANA)
    worker.says(ANA["own_phone"])
    ana_id = worker.last.intake_id
    worker.says("NEW")
    worker.answer_until("own_phone", BEN)
    worker.says("SKIP")
    ben_id = worker.last.intake_id
    sender = RecordingSender()
    outbound = Outbound(service.db, service.runtime.i18n, {"sms": sender})
    from bot.models import User

    with service.db.writing() as s:
        staff = User(username="sam", display_name="Sam", password_hash="x", role="staff")
        s.add(staff)
        s.flush()
        s.expunge(staff)
    outbound.send(ana_id, staff, text="Your orientation is Monday.")
    outbound.send(ben_id, staff, text="Your orientation is Tuesday.")
    assert sender.sent[0] == ("sms", ANA_OWN, "Your orientation is Monday.")
    assert sender.sent[1] == ("sms", WORKER, "Message for Ben: Your orientation is Tuesday.")


def test_delete_on_a_shared_phone_says_whose_intake_and_erases_only_that_one(worker, service):
    worker.says("Hi")
    worker.answer_until("own_phone", ANA)
    worker.says(ANA["own_phone"])
    ana_id = worker.last.intake_id
    worker.says("NEW")
    worker.answer_until("zip", {**BEN, "own_phone": "SKIP"})
    ben_id = worker.last.intake_id
    asked = worker.says("DELETE")
    assert "Erase Ben's answers" in asked and "The other people's intakes are kept" in asked
    done = worker.says("YES")
    assert "Ben's answers and messages were erased" in done
    assert intake(service, ben_id).status == "erased"
    assert answers_of(service, ben_id) == {}
    assert answers_of(service, ana_id)["first_name"] == "Ana"
    with service.db.session() as s:
        device = s.scalar(select(Contact).where(Contact.address == WORKER))
        assert device is not None and device.erased_at is None
    # The worker carries on with Ana.
    pick = worker.says("PEOPLE")
    assert "Ana" in pick and "Ben" not in pick


def test_delete_on_a_phone_shared_by_new_names_the_person_too(person, service):
    person.says("Hi")
    person.says("yes")
    person.says("Ana")
    ana_id = person.last.intake_id
    person.says("NEW")
    person.answer_until("first_name", {"language": "1", "consent": "yes"})
    person.says("Beto")
    assert "Erase Beto's answers" in person.says("DELETE")
    person.says("yes")
    assert answers_of(service, ana_id)["first_name"] == "Ana"


def test_stop_on_the_workers_phone_stops_that_phone_but_not_the_peoples_own_numbers(worker, service):
    worker.says("Hi")
    worker.answer_until("own_phone", ANA)
    worker.says(ANA["own_phone"])
    ana_id = worker.last.intake_id
    worker.says("NEW")
    worker.answer_until("own_phone", BEN)
    worker.says("SKIP")
    ben_id = worker.last.intake_id
    assert "unsubscribed" in worker.says("STOP")
    sender = RecordingSender()
    outbound = Outbound(service.db, service.runtime.i18n, {"sms": sender})
    from bot.models import User

    with service.db.writing() as s:
        staff = User(username="sam", display_name="Sam", password_hash="x", role="staff")
        s.add(staff)
        s.flush()
        s.expunge(staff)
    outbound.send(ana_id, staff, text="Hello Ana.")
    assert sender.sent == [("sms", ANA_OWN, "Hello Ana.")]
    with pytest.raises(OutboundError) as refused:
        outbound.send(ben_id, staff, text="Hello Ben.")
    assert refused.value.reason == "opted_out"
    with service.db.session() as s:
        own = s.scalar(select(Contact).where(Contact.address == ANA_OWN))
        assert own.opted_out_at is None


def test_a_device_needs_a_phone_number_and_an_active_code(service):
    with service.db.writing() as s:
        s.add(ReferralCode(code="EASTLA1"))
        s.flush()
        with pytest.raises(DeviceError):
            register_device(s, "sms", "12", "EASTLA1", "", None, utcnow())
        with pytest.raises(DeviceError):
            register_device(s, "sms", "213-555-0199", "NOPE", "", None, utcnow())
        row = register_device(s, "telegram", "123456789", "EASTLA1", "Rosa", None, utcnow())
        assert row.address == "123456789"


def staff_user(service):
    from bot.models import User

    with service.db.writing() as s:
        staff = User(username="sam", display_name="Sam", password_hash="x", role="staff")
        s.add(staff)
        s.flush()
        s.expunge(staff)
    return staff


def test_on_a_phone_shared_by_new_staff_messages_name_the_person_in_their_language(person, service):
    person.says("Hola")
    person.says("si")
    person.says("Ana")
    ana_id = person.last.intake_id
    person.says("NUEVO")
    person.answer_until("first_name", {"language": "2", "consent": "si"})
    sender = RecordingSender()
    outbound = Outbound(service.db, service.runtime.i18n, {"sms": sender})
    outbound.send(ana_id, staff_user(service), text="¿Puede venir el martes?")
    assert sender.sent == [("sms", "+13235550101", "Mensaje para Ana: ¿Puede venir el martes?")]


def test_a_phone_with_one_persons_intake_gets_staff_messages_as_they_are(person, service):
    person.says("Hi")
    person.says("yes")
    person.says("Ana")
    sender = RecordingSender()
    Outbound(service.db, service.runtime.i18n, {"sms": sender}).send(person.last.intake_id, staff_user(service), text="Hi Ana.")
    assert sender.sent == [("sms", "+13235550101", "Hi Ana.")]


def test_which_person_offers_a_new_one_by_number_and_understands_a_keyword_instead(worker, service):
    worker.says("Hi")
    worker.answer_until("own_phone", ANA)
    worker.says("SKIP")
    ana_id = worker.last.intake_id
    pick = worker.says("PEOPLE")
    assert "1) Ana" in pick and "2) Enrol another person" in pick
    assert "New person" in worker.says("2")
    assert worker.asked == "language" and worker.last.intake_id != ana_id
    worker.says("PEOPLE")
    assert "Reply BACK" in worker.says("HELP")  # a keyword at "which person?" acts as usual
    worker.says("PEOPLE")
    assert "Sorry, I didn't understand" in worker.says("Zed")
    assert worker.asked == "pick"
    worker.says("Ana")
    assert worker.last.intake_id == ana_id and worker.asked == "zip"


def test_the_person_erases_their_own_intake_from_their_own_phone_and_the_workers_others_stay(worker, service):
    worker.says("Hi")
    worker.answer_until("own_phone", ANA)
    worker.says(ANA["own_phone"])
    ana_id = worker.last.intake_id
    worker.says("NEW")
    worker.answer_until("own_phone", BEN)
    worker.says("SKIP")
    ben_id = worker.last.intake_id
    ana = Person(service, ANA_OWN, start=T0 + timedelta(hours=1))
    ana.says("hi")
    assert "Reply YES to erase" in ana.says("DELETE")
    ana.says("YES")
    assert intake(service, ana_id).status == "erased"
    assert answers_of(service, ben_id)["first_name"] == "Ben"
    with service.db.session() as s:
        assert s.scalar(select(Contact).where(Contact.address == WORKER)) is not None
        texts = s.scalars(select(Message.text).where(Message.intake_id == ana_id)).all()
        assert set(texts) == {None}  # what the worker typed for her is erased too
    pick = worker.says("PEOPLE")
    assert "Ben" in pick and "Ana" not in pick


def test_a_registered_telegram_chat_enrols_people_too(service):
    with service.db.writing() as s:
        s.add(ReferralCode(code="LIB7"))
        s.flush()
        register_device(s, "telegram", "5550001", "LIB7", "Library desk", None, utcnow())
    service.forget_referral_codes()
    desk = Person(service, "5550001", channel="telegram", start=T0)
    assert "New person" in desk.says("/start")
    desk.answer_until("own_phone", {"language": "1", "consent": "yes", "first_name": "Chao"})
    desk.says("213-555-0142")
    iid = desk.last.intake_id
    row = intake(service, iid)
    assert row.referral_code == "LIB7" and row.channel == "telegram"
    with service.db.session() as s:
        own = s.get(Contact, row.contact_id)
        assert (own.channel, own.address) == ("sms", "+12135550142")


def test_stop_at_which_person_leaves_no_question_waiting_after_start(worker, service):
    worker.says("Hi")
    worker.answer_until("own_phone", ANA)
    worker.says("SKIP")
    worker.says("PEOPLE")
    worker.says("STOP")
    worker.says("START")
    assert worker.asked == "zip"
    worker.says("90011")
    assert answers_of(service, worker.last.intake_id)["zip"] == "90011"


def test_people_on_a_phone_with_one_intake_offers_a_new_person(person, service):
    person.says("Hi")
    person.says("yes")
    person.says("Ana")
    ana_id = person.last.intake_id
    pick = person.says("PEOPLE")
    assert "1) Ana" in pick and "2) Enrol another person" in pick
    assert "new intake for another person" in person.says("2")
    assert person.asked == "language" and person.last.intake_id != ana_id


def test_reminders_go_to_the_persons_own_number_and_never_to_the_workers_phone(worker, service):
    from bot.reminders import ReminderConfig, Reminders

    worker.says("Hi")
    worker.answer_until("zip", ANA)  # Ana gave her own number, then the worker stopped at her ZIP question
    ana = worker.last.intake_id
    worker.says("NEW")
    worker.answer_until("zip", BEN)  # Ben gave none: his intake stays on the worker's phone
    a_day_later = T0 + timedelta(hours=30)  # 15:00 in Los Angeles
    nudges = Reminders(service, ReminderConfig()).scan(a_day_later, dry_run=True).nudges
    assert [(n.intake_id, n.address) for n in nudges] == [(ana, ANA_OWN)]
    assert not nudges[0].text.startswith("Message for")  # her own phone: nobody else's intake is on it


def test_a_reminder_on_a_phone_shared_by_new_says_whose_intake_is_waiting(service):
    from bot.reminders import ReminderConfig, Reminders

    p = Person(service, "+13235550150", start=T0)
    p.says("Hi")
    p.answer_until("zip", {"language": "1", "consent": "yes", "first_name": "Ana"})
    p.says("NEW")
    p.answer_until("zip", {"language": "1", "consent": "yes", "first_name": "Ben"})
    [nudge] = Reminders(service, ReminderConfig()).scan(T0 + timedelta(hours=30), dry_run=True).nudges
    assert nudge.text.startswith("Message for Ben: LA County HRTP: your training intake is waiting")
