"""The web intake as a plain form: one question per page, POST then redirect, errors, BACK, CSRF, ref kept."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from bot.models import Answer, CallBack, Intake


@dataclass
class Page:
    """One form page as a person sees it: its question, options by label, and the hidden fields."""

    status: int
    html: str
    location: str = ""
    step: str | None = None
    turn: str = ""
    options: dict[str, str] = field(default_factory=dict)  # label -> value
    kind: str | None = None  # radio | checkbox | text

    @property
    def token(self) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.html).group(1)

    @property
    def text(self) -> str:
        main = self.html[self.html.find("<main"):self.html.find("</main>")]
        return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)))


def parse(resp) -> Page:
    body = resp.get_data(as_text=True)
    page = Page(resp.status_code, body, resp.headers.get("Location", ""))
    step = re.search(r'name="step" value="([^"]*)"', body)
    if step and "/apply/change" not in body:
        page.step = step.group(1)
        page.turn = re.search(r'name="turn" value="([^"]*)"', body).group(1)
    for kind, value, label in re.findall(
            r'<input type="(radio|checkbox)" id="answer-\d+" name="answer" value="(\d+)">\s*<label [^>]*>([^<]*)</label>',
            body):
        page.kind = kind
        page.options[html.unescape(label)] = value
    if page.step and page.kind is None and 'type="text" id="answer-1"' in body:
        page.kind = "text"
    return page


class Visitor:
    """A person on /apply with JavaScript off: reads a page, answers it, follows the redirect."""

    def __init__(self, client) -> None:
        self.client = client
        self.last = None
        self.page = parse(client.get("/apply"))

    def open(self, url: str) -> Page:
        self.page = parse(self.client.get(url))
        return self.page

    def post(self, url: str, data: dict, follow: bool = True) -> Page:
        resp = self.client.post(url, data={"csrf_token": self.page.token, **data})
        self.last = resp
        if follow:
            assert resp.status_code == 303, (resp.status_code, resp.get_data(as_text=True)[:300])
            return self.open(resp.headers["Location"])
        return parse(resp)

    def start(self, url: str = "/apply") -> Page:
        self.open(url)
        ref = re.search(r'name="ref" value="([^"]*)"', self.page.html).group(1)
        lang = re.search(r'type="hidden" name="lang" value="([^"]*)"', self.page.html).group(1)
        return self.post("/apply/start", {"ref": ref, "lang": lang})

    def answer(self, *said: str, action: str = "continue") -> Page:
        """Picks options by their labels, or types text into the box."""
        page = self.page
        if page.kind == "text" or not said:
            values = list(said)
        else:
            values = [page.options[s] for s in said]
        return self.post("/apply", {"step": page.step, "turn": page.turn, "answer": values, "action": action})

    def said_for(self, answers: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        """The answer to the question on the page, by its field; one the test does not name gets its first option."""
        said = answers.get(self.page.step or "")
        if said is None:
            said = (next(iter(self.page.options)),) if self.page.options else ("skip",)
        return said

    def until(self, step: str, answers: dict[str, tuple[str, ...]]) -> Page:
        if 'action="/apply/start"' in self.page.html:
            self.start()
        for _ in range(30):
            if self.page.step == step:
                return self.page
            if self.last is not None and "/apply/check" in self.last.headers.get("Location", ""):
                self.open("/apply")
                continue
            self.answer(*self.said_for(answers))
        raise AssertionError(f"never reached {step}; at {self.page.step}: {self.page.text[:300]}")

    def to_check(self, answers: dict[str, tuple[str, ...]]) -> Page:
        """Answers every question by its field until the "check your answers" page, whichever question is last."""
        if 'action="/apply/start"' in self.page.html:
            self.start()
        for _ in range(30):
            self.answer(*self.said_for(answers))
            if "/apply/check" in self.last.headers.get("Location", ""):
                return self.page
        raise AssertionError(f"never reached the check page; at {self.page.step}: {self.page.text[:300]}")


ENGLISH = {"consent": ("Yes",), "first_name": ("Ana",), "zip": ("90011",), "age_range": ("25 to 54",),
           "employment": ("Not working",), "sectors": ("Construction and trades", "Healthcare"),
           "education": ("High school diploma or GED",), "drivers_license": ("Yes",),
           "housing": ("Staying with friends or family for now",), "background": ("None of these",),
           "needs": ("Childcare", "Transportation")}


def answers_of(app) -> dict:
    with app.extensions["hrtp"].db.session() as s:
        return {a.field: a.value for a in s.scalars(select(Answer))}


@pytest.fixture
def visitor(client) -> Visitor:
    return Visitor(client)


def test_the_start_page_is_a_form_that_keeps_the_referral_code_and_needs_no_script(visitor, app):
    page = visitor.open("/apply?ref=EASTLA1")
    assert page.status == 200 and "<script" not in page.html
    assert '<form method="post" action="/apply/start">' in page.html and 'value="EASTLA1"' in page.html
    consent = visitor.start("/apply?ref=EASTLA1")
    assert consent.step == "consent" and consent.kind == "radio" and set(consent.options) == {"Yes", "No"}
    assert "Do you agree to answer a few questions?" in consent.text
    assert "You can stop at any time" in consent.text  # the notice came first, on the same page
    with app.extensions["hrtp"].db.session() as s:
        assert s.scalars(select(Intake.referral_code)).one() == "EASTLA1"


def test_each_answer_is_a_post_then_a_303_so_a_reload_never_answers_again(visitor, app):
    visitor.start()
    visitor.answer("Yes")
    assert visitor.last.status_code == 303 and visitor.last.headers["Location"] == "/apply"
    name = visitor.page
    assert name.step == "first_name" and name.kind == "text"
    assert 'autocomplete="given-name"' in name.html and "<label for=\"answer-1\">" in name.html
    visitor.answer("Ana")
    again = visitor.open("/apply")  # a reload is a GET of the same question
    assert again.step == "zip" and 'inputmode="numeric"' in again.html and 'autocomplete="postal-code"' in again.html
    assert answers_of(app)["first_name"] == "Ana"


def test_a_wrong_answer_is_shown_above_the_question_and_tied_to_the_field(visitor, app):
    visitor.until("zip", {**ENGLISH})
    page = visitor.answer("abc")
    assert page.step == "zip"
    assert '<div class="summary" role="alert"' in page.html and "There is a problem" in page.text
    assert page.html.index("There is a problem") < page.html.index("What is the ZIP code")
    assert 'id="answer-error"' in page.html and 'aria-describedby="answer-error"' in page.html
    assert 'aria-invalid="true"' in page.html and page.html.startswith("<!doctype html>")
    assert "<title>There is a problem: " in page.html
    page = visitor.answer("90011")
    assert page.step == "age_range" and "There is a problem" not in page.text


def test_a_choice_needs_an_option_and_several_options_are_checkboxes(visitor, app):
    visitor.until("age_range", ENGLISH)
    assert "There is a problem" in visitor.answer().text  # nothing picked
    sectors = visitor.until("sectors", ENGLISH)
    assert sectors.kind == "checkbox" and "<fieldset" in sectors.html and "<legend>" in sectors.html
    visitor.answer("Construction and trades", "Technology")
    assert answers_of(app)["sectors"] == ["construction", "technology"]


def test_back_goes_to_the_last_question_and_keeps_its_answer_until_replaced(visitor, app):
    visitor.until("employment", ENGLISH)
    page = visitor.answer(action="back")
    assert page.step == "age_range"
    visitor.answer("55 or older")
    assert visitor.page.step == "employment" and answers_of(app)["age_range"] == "55_plus"


def test_a_page_left_open_in_another_tab_cannot_answer_the_next_question(visitor, app):
    age = visitor.until("age_range", ENGLISH)
    visitor.answer("25 to 54")
    resp = visitor.client.post("/apply", data={"csrf_token": age.token, "step": age.step, "turn": age.turn,
                                                 "answer": age.options["Under 16"]})
    page = visitor.open(resp.headers["Location"])
    assert "That answer was for an earlier question" in page.text and page.step == "employment"
    assert answers_of(app)["age_range"] == "25_54" and "employment" not in answers_of(app)


def test_a_post_without_the_csrf_token_is_refused_kindly(visitor, client, app):
    visitor.start()
    resp = client.post("/apply", data={"step": "consent", "turn": "0", "answer": "1"})
    assert resp.status_code == 400 and "There is a problem" in resp.get_data(as_text=True)
    assert "consent" not in answers_of(app)
    assert client.post("/apply/start", data={}).status_code == 400


def test_malformed_posts_get_a_kind_400(visitor):
    visitor.start()
    assert visitor.post("/apply", {"step": "consent", "turn": "x"}, follow=False).status == 400
    assert visitor.post("/apply", {"step": "s" * 65, "turn": "1"}, follow=False).status == 400
    assert visitor.post("/apply/language", {"lang": "xx"}, follow=False).status == 400
    assert visitor.post("/apply/change", {"step": ""}, follow=False).status == 400


def test_keywords_typed_into_a_text_box_work_as_in_the_chat(visitor, app):
    visitor.until("first_name", ENGLISH)
    page = visitor.answer("HELP")
    assert page.step == "first_name" and "PERSON" in page.text
    page = visitor.answer("STOP")
    assert page.step is None and "You've stopped" in page.text
    page = visitor.post("/apply", {"answer": "START"})
    assert "You're back" in page.text


def test_the_language_comes_from_the_link_the_browser_or_a_button_on_every_page(client, app):
    page = Visitor(client).open("/apply?lang=ar&ref=EASTLA1")
    assert '<html lang="ar" dir="rtl">' in page.html and 'value="EASTLA1"' in page.html
    page = parse(client.get("/apply", headers={"Accept-Language": "es-MX,es;q=0.9"}))
    assert '<html lang="es" dir="ltr">' in page.html
    v = Visitor(client)
    v.start("/apply?lang=es")
    assert v.page.step == "consent" and "¿Aceptas responder unas preguntas?" in v.page.text
    page = v.post("/apply/language", {"lang": "fa"})
    assert '<html lang="fa" dir="rtl">' in page.html and page.step == "consent"
    assert 'lang="fa"' in page.html and "<button type=\"submit\" name=\"lang\" value=\"ar\"" in page.html


def test_a_language_button_before_starting_keeps_the_referral_code(visitor):
    visitor.open("/apply?ref=EASTLA1")
    resp = visitor.client.post("/apply/language", data={"csrf_token": visitor.page.token, "lang": "ar",
                                                         "ref": "EASTLA1"})
    assert resp.status_code == 303 and "ref=EASTLA1" in resp.headers["Location"] and "lang=ar" in resp.headers["Location"]


def test_check_your_answers_comes_before_the_result_and_change_goes_back_to_that_question(visitor, app):
    check = visitor.to_check({**ENGLISH, "needs": ("Childcare",)})
    assert visitor.last.headers["Location"] == "/apply/check"
    assert "Check your answers" in check.text and "Ana" in check.text and "Staying with friends or family for now" in check.text
    assert "Construction and trades, Healthcare" in check.text
    assert "Do you agree" not in check.text  # consent is how the intake runs, not an answer to check
    page = visitor.post("/apply/change", {"step": "housing"})
    assert page.step == "housing"
    page = visitor.answer("In a shelter or transitional housing")
    assert visitor.last.headers["Location"] == "/apply/check"  # all answered: checked again, then the result
    assert "In a shelter or transitional housing" in page.text
    result = visitor.open("/apply")
    assert "Good news, Ana" in result.text and "Trainings that fit you:" in result.text
    assert result.step == "program_choice" and "Talk with a person first" in result.options
    assert answers_of(app)["housing"] == "shelter"


def test_the_result_then_a_pick_and_the_optional_questions_can_be_skipped(visitor, app):
    visitor.to_check({**ENGLISH, "needs": ("Childcare",)})
    result = visitor.open("/apply")
    program = next(label for label in result.options if label != "Talk with a person first")
    gender = visitor.answer(program)
    assert gender.step == "gender" and "Great choice" in gender.text
    assert 'value="skip"' in gender.html
    race = visitor.answer(action="skip")
    assert race.step == "race_ethnicity"
    done = visitor.answer("Latino or Hispanic")
    assert done.step is None and "Thank you. Staff will review your answers." in done.text
    assert answers_of(app)["gender"] is None and answers_of(app)["race_ethnicity"] == ["latino"]


def test_a_call_back_request_from_the_result(visitor, app):
    visitor.to_check({**ENGLISH, "needs": ("Childcare",)})
    visitor.open("/apply")
    page = visitor.answer("Talk with a person first")
    assert page.step == "callback_window" and "When is a good time for a call?" in page.text
    page = visitor.answer("Weekday evening")
    assert page.step == "callback_phone" and 'autocomplete="off"' in page.html and "Skip" in page.text
    page = visitor.answer("(213) 555-0100")
    assert page.step == "gender"
    with app.extensions["hrtp"].db.session() as s:
        assert s.scalars(select(Intake.needs_contact)).one() is True
        assert s.execute(select(CallBack.days, CallBack.window, CallBack.phone)).one() == ("weekday", "evening", "+12135550100")


def test_an_arabic_intake_to_the_end_with_the_code_kept(visitor, app):
    visitor.start("/apply?lang=ar&ref=EASTLA1")
    arabic = {"consent": ("نعم",), "first_name": ("أمل",), "zip": ("90011",), "age_range": ("من 25 إلى 54",),
              "employment": ("لا أعمل",), "sectors": ("الرعاية الصحية",), "education": ("شهادة ثانوية أو GED",),
              "drivers_license": ("لا",), "housing": ("مسكني الخاص أو بيت العائلة",), "background": ("لا شيء",),
              "needs": ("رعاية الأطفال",)}
    check = visitor.to_check(arabic)
    assert '<html lang="ar" dir="rtl">' in check.html and "أمل" in check.text
    result = visitor.open("/apply")
    assert result.step == "program_choice" and 'dir="rtl"' in result.html
    with app.extensions["hrtp"].db.session() as s:
        intake = s.scalars(select(Intake)).one()
        assert (intake.referral_code, intake.language, intake.eligibility) == ("EASTLA1", "ar", "eligible")


def test_the_form_and_the_chat_are_one_intake_and_link_to_each_other(visitor, client):
    visitor.until("first_name", ENGLISH)
    chat = client.get("/chat").get_data(as_text=True)
    assert 'href="/apply"' in chat and "<noscript>" in chat
    reply = client.post("/chat/send", json={"text": "Ana"}).json
    assert reply["messages"][-1]["step"] == "zip"
    assert visitor.open("/apply").step == "zip" and 'href="/chat"' in visitor.page.html


def test_no_personal_data_in_urls(visitor):
    visitor.until("zip", ENGLISH)
    visitor.answer("90011")
    assert visitor.last.headers["Location"] == "/apply"
    assert "Ana" not in visitor.last.headers["Location"] and "90011" not in visitor.last.headers["Location"]


def test_the_form_words_its_questions_for_a_form_not_for_texting(visitor, app):
    consent = visitor.start()
    assert "You can stop at any time" in consent.text and "Type STOP" not in consent.text
    name = visitor.answer("Yes")
    assert "What is your first name? You can leave this blank." in name.text and "Reply SKIP" not in name.text
    assert 'value="skip">Skip this question</button>' in name.html
    zip_page = visitor.answer("")  # left blank: skipped, as the Skip button would
    assert zip_page.step == "zip" and answers_of(app)["first_name"] is None
    assert "What is the ZIP code where you live or stay?" in zip_page.text and "reply NONE" not in zip_page.text
    visitor.until("sectors", ENGLISH)
    assert "Choose all that fit." in visitor.page.text and "1,3" not in visitor.page.text
    assert "Please answer this question to go on." in visitor.answer().text  # nothing chosen
    check = visitor.to_check({**ENGLISH, "needs": ("Childcare",)})
    assert "What is your first name?" in check.text and "Reply SKIP" not in check.text
    result = visitor.open("/apply")
    assert "Choose the program you want, or talk with a person first." in result.text and "Reply with" not in result.text
    gender = visitor.answer(next(iter(result.options)))
    assert "Optional: you can skip this question." in gender.text and "reply SKIP" not in gender.text
    assert visitor.answer().step == "race_ethnicity"  # nothing chosen on an optional question skips it
    assert answers_of(app)["gender"] is None


def test_no_fixed_address_is_one_press_beside_the_zip_box(visitor, app):
    page = visitor.until("zip", ENGLISH)
    assert 'value="no_address">I don&#39;t have a fixed address</button>' in page.html
    assert page.html.index('value="continue"') < page.html.index('value="no_address"')  # Enter still continues
    page = visitor.answer(action="no_address")
    assert answers_of(app)["zip"] == "none" and page.step == "la_county"  # as NONE by text: is it LA County?
    visitor.answer("Yes")
    assert "No fixed address" in visitor.to_check(ENGLISH).text


def test_a_wrong_zip_on_the_form_points_to_the_no_address_choice(visitor):
    visitor.until("zip", ENGLISH)
    page = visitor.answer("abc")
    assert "or choose “I don't have a fixed address”" in page.text and "NONE" not in page.text
    page = visitor.answer("00000")
    assert "I couldn't find ZIP code 00000" in page.text and "send NONE" not in page.text


def test_a_whole_intake_leaves_no_personal_data_in_urls_or_logs(app_config, caplog):
    import logging

    from tests.test_twilio_webhook import form, post, replies
    from webhook import create_app

    app = create_app({**app_config, "SMS_NUMBER": "+12135550000"})
    client = app.test_client()
    seen: list[str] = []
    real_open = client.open

    def recording_open(*args, **kw):
        resp = real_open(*args, **kw)
        seen.append(str(args[0] if args else kw.get("path", "")))
        seen.append(resp.headers.get("Location", ""))
        return resp

    client.open = recording_open  # get and post both go through open
    caplog.set_level(logging.DEBUG)
    person = {**ENGLISH, "first_name": ("Zelphine",), "zip": ("91331",)}
    v = Visitor(client)
    v.start("/apply?ref=EASTLA1")
    v.to_check(person)
    v.open("/apply")
    page = v.post("/apply/text", {})
    code = re.search(r'<span aria-hidden="true">([A-Z0-9]{6})</span>', page.html).group(1)
    assert "Welcome!" in "\n".join(replies(post(client, form(code, "SM" + "7" * 32, sender="+13235557788"))))
    v.answer(next(iter(v.open("/apply").options)))
    assert len(seen) > 40 and any("/apply/check" in u for u in seen)
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    for secret in ("Zelphine", "91331", "3235557788", "+13235557788", code):
        assert not [u for u in seen if secret in u], secret
        assert secret not in logged, secret
    app.extensions["hrtp"].db.dispose()
