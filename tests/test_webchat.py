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

    from bot.store import Intake

    assert 'var ref = "EASTLA1"' in client.get("/apply?ref=EASTLA1").get_data(as_text=True)
    send(client, "hi", ref="EASTLA1")
    with app.extensions["hrtp"].db.session() as s:
        assert s.scalars(select(Intake.referral_code)).one() == "EASTLA1"


def test_malformed_requests_get_400(client):
    assert client.post("/chat/send", data="text=hi").status_code == 400
    assert client.post("/chat/send", json={"text": 5}).status_code == 400
    assert client.post("/chat/send", json=["hi"]).status_code == 400
