"""The web chat: the same conversation in a browser, its own words in the person's language."""

from __future__ import annotations


def send(client, text: str, **extra):
    return client.post("/chat/send", json={"text": text, **extra})


def test_the_page_speaks_the_browsers_language_and_reads_rtl_for_farsi(client):
    page = client.get("/chat", headers={"Accept-Language": "es-MX,es;q=0.9"}).get_data(as_text=True)
    assert '<html lang="es" dir="ltr">' in page and "Enviar" in page
    page = client.get("/chat", headers={"Accept-Language": "fa-IR"}).get_data(as_text=True)
    assert 'dir="rtl"' in page and "ارسال" in page


def test_a_conversation_with_buttons_and_the_page_follows_its_language(client):
    first = send(client, "Bonjour").json  # no language of ours shows: a button for each
    buttons = first["messages"][-1]["buttons"]
    assert buttons[0] == {"number": 1, "label": "English"} and len(buttons) == 15
    reply = send(client, "12").json  # العربية
    assert reply["ui"]["lang"] == "ar" and reply["ui"]["dir"] == "rtl"
    assert all(m["rtl"] for m in reply["messages"])
    # The visitor comes back: the page opens in their conversation's language.
    assert 'lang="ar" dir="rtl"' in client.get("/chat").get_data(as_text=True)


def test_a_referral_link_attaches_its_code(client, app):
    from sqlalchemy import select

    from bot.models import Intake

    assert 'var ref = "EASTLA1"' in client.get("/chat?ref=EASTLA1").get_data(as_text=True)
    send(client, "hi", ref="EASTLA1")
    with app.extensions["hrtp"].db.session() as s:
        assert s.scalars(select(Intake.referral_code)).one() == "EASTLA1"


def test_malformed_requests_get_400(client):
    assert client.post("/chat/send", data="text=hi").status_code == 400
    assert client.post("/chat/send", json={"text": 5}).status_code == 400
    assert client.post("/chat/send", json=["hi"]).status_code == 400


# ---- buttons belong to the question they were shown under ----------------------------------------

def asked(reply) -> dict:
    """The last message of a reply that asks a question (it carries the buttons' step and turn)."""
    return next(m for m in reversed(reply["messages"]) if m["step"])


def tap(client, question: dict, label: str):
    """Presses the button with this label, as the page does: its number, step and turn."""
    number = next(b["number"] for b in question["buttons"] if b["label"] == label)
    return send(client, str(number), step=question["step"], turn=question["turn"]).json


def reach(client, step: str, answers: dict[str, str]) -> dict:
    """Types answers by step id until `step` is asked; returns the question."""
    # Not an English greeting, which would skip the language question these tests start from.
    reply = send(client, "Bonjour").json
    for _ in range(30):
        question = asked(reply)
        if question["step"] == step:
            return question
        reply = send(client, answers[question["step"]]).json
    raise AssertionError(f"never reached {step}")


START = {"language": "English", "consent": "yes", "first_name": "Ana", "zip": "90011", "age_range": "25 to 54"}


def answers_of(app) -> dict:
    from sqlalchemy import select

    from bot.models import Answer

    with app.extensions["hrtp"].db.session() as s:
        return {a.field: a.value for a in s.scalars(select(Answer))}


def test_a_button_left_under_an_answered_question_does_not_answer_the_next(client, app):
    age = reach(client, "age_range", START)
    employment = asked(tap(client, age, "25 to 54"))
    assert employment["step"] == "employment"
    # "2) 16 to 17", still on the page under the age question, must not mean "Working part time".
    reply = tap(client, age, "16 to 17")
    texts = [m["text"] for m in reply["messages"]]
    assert texts[0] == "That button belongs to an earlier question, so I didn't use it."
    assert asked(reply)["step"] == "employment" and "Are you working right now?" in texts[-1]
    assert answers_of(app)["age_range"] == "25_54" and "employment" not in answers_of(app)
    assert asked(tap(client, asked(reply), "Working part time"))["step"] == "sectors"
    assert answers_of(app)["employment"] == "part_time"


def test_a_button_from_before_back_is_stale_though_the_same_question_is_asked_again(client, app):
    age = reach(client, "age_range", START)
    tap(client, age, "25 to 54")
    again = asked(send(client, "BACK").json)
    assert again["step"] == "age_range" and again["turn"] != age["turn"]
    assert "earlier question" in tap(client, age, "55 or older")["messages"][0]["text"]
    assert answers_of(app)["age_range"] == "25_54"
    tap(client, again, "55 or older")
    assert answers_of(app)["age_range"] == "55_plus"


def test_an_old_yes_button_cannot_confirm_erasing_everything(client, app):
    consent = reach(client, "consent", {"language": "English"})
    tap(client, consent, "Yes")
    assert "Erase all your answers" in send(client, "DELETE").json["messages"][0]["text"]
    reply = tap(client, consent, "Yes")
    assert [m["text"] for m in reply["messages"]] == [
        "That button belongs to an earlier question, so I didn't use it.",
        "Erase all your answers and messages with us? Reply YES to erase, or NO to keep them."]
    assert answers_of(app)["consent"] == "yes"


def test_a_stale_button_in_arabic_is_answered_in_arabic(client):
    language = reach(client, "language", {})
    consent = asked(tap(client, language, "العربية"))
    asked(send(client, "نعم").json)
    reply = tap(client, consent, "نعم")
    assert reply["messages"][0]["text"] == "ذلك الزر كان لسؤال سابق، لذلك لم أستخدمه."


def test_step_and_turn_must_be_what_a_button_sends(client):
    assert send(client, "1", step=5).status_code == 400
    assert send(client, "1", step="x" * 65).status_code == 400
    assert send(client, "1", step="consent", turn="3").status_code == 400
    assert send(client, "1", step="consent", turn=True).status_code == 400


# ---- a reload shows the conversation so far -------------------------------------------------------

def test_a_reload_shows_the_conversation_with_tapped_labels_and_only_the_current_buttons(client):
    age = reach(client, "age_range", START)
    employment = asked(tap(client, age, "25 to 54"))
    shown = client.get("/chat/history").json["messages"]
    people = [m["text"] for m in shown if m["from"] == "person"]
    assert people == ["Bonjour", "English", "yes", "Ana", "90011", "25 to 54"]
    bots = [m for m in shown if m["from"] == "bot"]
    assert bots[-1]["text"] == "Are you working right now?" and bots[-1]["step"] == "employment"
    assert [m["step"] for m in bots if m["live"]] == ["employment"]
    assert bots[-1]["turn"] == employment["turn"]
    assert [b["label"] for b in bots[-1]["buttons"]] == ["Not working", "Working part time", "Working full time"]
    page = client.get("/chat").get_data(as_text=True)
    assert "Are you working right now?" in page and '"25 to 54"' in page


def test_a_tapped_multi_answer_reads_back_as_its_labels(client):
    sectors = reach(client, "sectors", {**START, "employment": "Not working"})
    send(client, "2,3", step=sectors["step"], turn=sectors["turn"])
    people = [m["text"] for m in client.get("/chat/history").json["messages"] if m["from"] == "person"]
    assert people[-1] == "Healthcare and Technology"


def test_a_new_visitor_and_an_erased_one_see_an_empty_conversation(client, app):
    assert client.get("/chat/history").json["messages"] == []
    consent = reach(client, "consent", {"language": "English"})
    tap(client, consent, "Yes")
    send(client, "DELETE")
    send(client, "YES")
    assert client.get("/chat/history").json["messages"] == []


def test_a_conversation_quiet_for_hours_is_not_shown_to_whoever_opens_the_page_next(client, app):
    from datetime import timedelta

    from bot.models import Intake
    from webhook.webchat import HISTORY_WINDOW

    reach(client, "age_range", START)
    assert client.get("/chat/history").json["messages"]
    with app.extensions["hrtp"].db.writing() as s:
        intake = s.query(Intake).one()
        intake.updated_at = intake.updated_at - HISTORY_WINDOW - timedelta(minutes=1)
    assert client.get("/chat/history").json["messages"] == []
    assert "Ana" not in client.get("/chat").get_data(as_text=True)
    assert asked(send(client, "25 to 54").json)["step"] == "employment"  # the intake itself carries on


# ---- the web speaks of the web ----------------------------------------------------------------

def test_the_web_chat_never_says_text_or_rates(client):
    consent = reach(client, "consent", {"language": "English"})
    notice = client.get("/chat/history").json["messages"]
    said = "\n".join(m["text"] for m in notice if m["from"] == "bot")
    assert "Type STOP to stop, HELP for help, DELETE to erase your answers." in said
    help_ = "\n".join(m["text"] for m in send(client, "HELP").json["messages"])
    person = send(client, "PERSON").json["messages"][0]["text"]
    for text in (said, help_, person):
        assert "Text " not in text and "Msg & data" not in text and "this phone" not in text and "this number" not in text
    assert "in this chat" in help_ and "this device" in help_
    assert person.startswith("Thanks. Staff can't call you back through this web chat, so please call 211")
    assert consent["step"] == "consent"


def test_the_web_wording_is_translated(client):
    language = reach(client, "language", {})
    tap(client, language, "فارسی")
    said = "\n".join(m["text"] for m in client.get("/chat/history").json["messages"] if m["from"] == "bot")
    assert "برای توقف STOP یا توقف، برای راهنما HELP یا کمک، برای پاک کردن پاسخ‌ها DELETE یا حذف بنویسید." in said
    assert "هزینه پیامک" not in said


# ---- the favicon ----------------------------------------------------------------------------------

def test_the_favicon_is_a_real_icon_browsers_may_cache(client):
    for path, kind in (("/favicon.ico", "image/vnd.microsoft.icon"), ("/icon.svg", "image/svg+xml")):
        resp = client.get(path)
        assert resp.status_code == 200 and resp.mimetype == kind
        assert resp.cache_control.max_age == 7 * 24 * 3600 and resp.cache_control.public
    ico = client.get("/favicon.ico").data
    assert ico[:4] == b"\0\0\1\0" and b"PNG" in ico[:40]


def test_the_two_language_question_takes_a_tapped_button(client):
    """Bug fix: the Persian-or-Arabic question's buttons carried no turn, so a tap was refused."""
    pair = asked(send(client, "سلام").json)
    assert [b["label"] for b in pair["buttons"]] == ["فارسی", "العربية"] and pair["turn"] is not None
    reply = tap(client, pair, "العربية")
    assert reply["ui"]["lang"] == "ar" and asked(reply)["step"] == "consent"
