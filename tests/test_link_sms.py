"""Carrying a web intake on by text: the result page gives a code, texting it attaches the phone to that intake."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from bot.models import Contact, Intake, IntakeEvent, LinkCode, Message, utcnow
from tests.test_twilio_webhook import form, post, replies
from tests.test_webform import ENGLISH, Visitor

PHONE = "+13235550101"
OTHER_PHONE = "+13235550188"


@pytest.fixture
def app(backend):
    """On SQLite and PostgreSQL: a linked intake is the one carried on from two contacts, and locked (bot.turnrows)."""
    from webhook import create_app

    application = create_app({**backend, "SMS_NUMBER": "+12135550000"})
    yield application
    application.extensions["hrtp"].db.dispose()


class Phone:
    """Someone texting the Twilio number, through the signed webhook."""

    def __init__(self, client, number: str = PHONE) -> None:
        self.client, self.number, self.n = client, number, 0

    def says(self, body: str) -> str:
        self.n += 1
        return "\n".join(replies(post(self.client, form(body, f"SM{self.number[-4:]}{self.n:028d}", sender=self.number))))


def to_the_result(visitor: Visitor, answers: dict | None = None, url: str = "/apply") -> None:
    visitor.start(url)
    visitor.to_check(answers or ENGLISH)
    visitor.open("/apply")


def code_on(visitor: Visitor) -> str:
    assert "Continue by text message" in visitor.page.text
    page = visitor.post("/apply/text", {})
    assert visitor.last.headers["Location"] == "/apply#text"
    assert "Text this code to \u2066(213) 555-0000\u2069:" in page.text  # isolated, so RTL keeps its digits
    return re.search(r'<span aria-hidden="true">([A-Z0-9]{6})</span>', page.html).group(1)


def intakes(app) -> list[Intake]:
    with app.extensions["hrtp"].db.session() as s:
        return list(s.scalars(select(Intake).order_by(Intake.id)))


def test_a_code_from_the_result_page_carries_the_intake_on_by_text(client, app):
    web = Visitor(client)
    to_the_result(web)
    assert web.page.step == "program_choice"
    code = code_on(web)
    assert f'href="sms:+12135550000?&amp;body={code}"' in web.page.html

    phone = Phone(client)
    said = phone.says(code)
    assert "Welcome! You can carry on here." in said
    assert "Reply with the number of the program you want" in said and "1) " in said  # the pick, not a new start
    said = phone.says("1")
    assert "Great choice" in said and "What is your gender?" in said

    [intake] = intakes(app)  # the same intake, not a new one
    with app.extensions["hrtp"].db.session() as s:
        row = s.get(Intake, intake.id)
        assert row.contact.address == PHONE and row.contact.channel == "sms"  # what staff see and text
        assert row.program_choice and row.channel == "web" and row.first_name == "Ana"
        assert s.scalar(select(IntakeEvent.kind).where(IntakeEvent.kind == "channel_linked")) == "channel_linked"
    # Back on the web page, the person sees that their phone carries it on, and could go on here too.
    page = web.open("/apply")
    assert "Your phone is connected to this intake." in page.text and page.step == "gender"


def test_the_code_is_kept_only_as_a_keyed_hash_and_never_in_urls_or_messages(client, app):
    web = Visitor(client)
    to_the_result(web)
    code = code_on(web)
    Phone(client).says(f"my code is {code.lower()}")
    with app.extensions["hrtp"].db.session() as s:
        row = s.scalars(select(LinkCode)).one()
        assert row.used_at is not None and code not in row.code_hash and len(row.code_hash) == 64
        texts = [m.text or "" for m in s.scalars(select(Message))]
        assert "(link code)" in texts and not any(code in t or code.lower() in t for t in texts)
        dump = "\n".join(str(r) for r in s.execute(text("SELECT * FROM intake_events")).all())
        assert code not in dump
    assert code not in web.last.headers["Location"]


def test_a_wrong_code_gets_a_kind_answer_and_nothing_starts_or_is_lost(client, app):
    web = Visitor(client)
    to_the_result(web)
    code = code_on(web)
    phone = Phone(client)
    said = phone.says("ZZ2ZZ2" if code != "ZZ2ZZ2" else "ZZ3ZZ3")
    assert "Sorry, that code didn't work. A code works once, for 7 days." in said
    assert "To start a screening here instead, send any message." in said
    assert len(intakes(app)) == 1  # no intake was started for the phone
    assert "Welcome!" in phone.says(code)  # the right code still works


def test_an_expired_or_used_code_is_refused_in_the_intakes_language(client, app):
    web = Visitor(client)
    spanish = {"consent": ("Sí",), "first_name": ("Rosa",), "zip": ("90011",), "age_range": ("25 a 54",),
               "employment": ("No trabajo",), "sectors": ("Salud",), "education": ("Diploma de high school o GED",),
               "drivers_license": ("Sí",), "housing": ("En mi casa o la casa de mi familia",),
               "background": ("Ninguno de estos",), "needs": ("Cuidado de niños",)}
    to_the_result(web, spanish, "/apply?lang=es")
    web.post("/apply/text", {})
    code = re.search(r'<span aria-hidden="true">([A-Z0-9]{6})</span>', web.page.html).group(1)
    with app.extensions["hrtp"].db.writing() as s:
        s.execute(update(LinkCode).values(expires_at=utcnow() - timedelta(minutes=1)))
    phone = Phone(client)
    said = phone.says(code)
    assert "ese código no funcionó" in said
    with app.extensions["hrtp"].db.session() as s:
        assert s.scalars(select(Intake)).one().contact.channel == "web"  # nothing moved
    # A fresh code works once; a second phone sending it is refused.
    web.post("/apply/text", {})
    code = re.search(r'<span aria-hidden="true">([A-Z0-9]{6})</span>', web.page.html).group(1)
    assert "programa" in phone.says(code)
    assert "ese código no funcionó" in Phone(client, OTHER_PHONE).says(code)


def test_a_phone_with_an_intake_in_progress_takes_the_web_one_and_keeps_the_other(client, app):
    phone = Phone(client)
    phone.says("hi")
    phone.says("yes")
    assert "ZIP code" in phone.says("Marco")  # someone else's intake on this shared phone, at the ZIP
    web = Visitor(client)
    to_the_result(web)
    code = code_on(web)
    said = phone.says(code)
    assert "The other intake that was open here is kept apart for staff." in said
    assert "Reply with the number of the program you want" in said
    assert "Great choice" in phone.says("1")
    first, second = intakes(app)
    assert (first.first_name, first.status, first.current_step) == ("Marco", "incomplete", "zip")
    assert second.first_name == "Ana" and second.program_choice


def test_an_opted_out_phone_hears_nothing_until_start_and_the_code_keeps(client, app):
    phone = Phone(client)
    phone.says("STOP")
    web = Visitor(client)
    to_the_result(web)
    code = code_on(web)
    assert phone.says(code) == ""  # a number that said STOP gets no text from us
    with app.extensions["hrtp"].db.session() as s:
        assert s.scalars(select(LinkCode.used_at)).one() is None
    assert "START" in web.page.text  # the page says to text START first
    assert "subscribed again" in phone.says("START")
    assert "Welcome!" in phone.says(code)


def test_wrong_codes_are_not_looked_up_for_ever(client, app):
    web = Visitor(client)
    to_the_result(web)
    code = code_on(web)
    phone = Phone(client)
    for wrong in ("AB2CD3", "AB2CD4", "AB2CD5", "AB2CD6", "AB2CD7"):
        assert "didn't work" in phone.says(wrong if wrong != code else "AB2CD8")
    assert "didn't work" in phone.says(code)  # five wrong ones a day, then even the right one waits
    assert "Welcome!" in Phone(client, OTHER_PHONE).says(code)


def test_erasing_from_either_side_erases_the_linked_intake(client, app):
    web = Visitor(client)
    to_the_result(web)
    code = code_on(web)
    phone = Phone(client)
    phone.says(code)
    phone.says("DELETE")
    assert "erased" in phone.says("YES")
    with app.extensions["hrtp"].db.session() as s:
        assert s.scalars(select(Intake.status)).one() == "erased"
        assert s.scalars(select(LinkCode)).all() == []
        assert s.scalar(select(Contact).where(Contact.channel == "sms")).address.startswith("erased:")


def test_no_offer_without_a_number_to_text(app_config):
    from webhook import create_app

    application = create_app({**app_config, "SMS_NUMBER": ""})
    web = Visitor(application.test_client())
    to_the_result(web)
    assert "Continue by text message" not in web.page.text
    application.extensions["hrtp"].db.dispose()
