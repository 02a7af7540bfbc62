"""The web chat on a phone (390x844, touch) in a real browser: no sideways scroll in any direction,
buttons that can be tapped and only answer their own question, a reload that keeps the conversation.
Screenshots go to test-artifacts/chat-*.png."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import Answer

PHONE = {"width": 390, "height": 844}



@pytest.fixture
def phone(browser):
    """Opens a touch phone context in one browser language; closes them all at the end."""
    contexts = []

    def open_(lang: str = "en"):
        ctx = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2, locale=lang,
                                  extra_http_headers={"Accept-Language": lang})
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield open_
    for ctx in contexts:
        ctx.close()


def bot_count(page) -> int:
    return page.locator(".msg.bot").count()


def type_(page, text: str) -> None:
    """Types a message and waits for the bot's answer."""
    n = bot_count(page)
    page.locator("#text").fill(text)
    page.locator("#send").tap()
    page.locator(".msg.bot").nth(n).wait_for()  # a locator, since the page's CSP forbids eval


def tap(page, label: str) -> None:
    """Taps the live button whose label ends with this text and waits for the bot's answer."""
    n = bot_count(page)
    page.locator(".buttons button:enabled", has_text=label).last.tap()
    page.locator(".msg.bot").nth(n).wait_for()  # a locator, since the page's CSP forbids eval


def last_bot(page) -> str:
    return page.locator(".msg.bot").last.inner_text()


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"


def answers(live) -> dict:
    with live.app.extensions["hrtp"].db.session() as s:
        return {a.field: a.value for a in s.scalars(select(Answer))}


@pytest.mark.parametrize("lang,yes", [("en", "Yes"), ("ar", "نعم"), ("fa", "بله")])
def test_the_page_fits_a_phone_and_its_buttons_can_be_tapped(live, phone, artifacts, lang, yes):
    page = phone(lang)
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    page.goto(f"{live.url}/chat")
    assert page.evaluate("document.documentElement.dir") == ("ltr" if lang == "en" else "rtl")
    fits(page)
    type_(page, "hello" if lang == "en" else {"ar": "مرحبا", "fa": "سلام"}[lang])
    # "سلام" is Persian and Arabic both; the browser's Accept-Language settles which.
    fits(page)
    tap(page, yes)
    fits(page)
    assert page.locator(".msg.me").last.inner_text() == yes
    page.screenshot(path=str(artifacts / f"chat-phone-{lang}.png"))
    assert missing == []  # no 404 for the favicon or anything else


def test_old_buttons_are_retired_and_the_server_refuses_a_stale_one(live, phone, artifacts):
    page = phone()
    page.goto(f"{live.url}/chat")
    type_(page, "hi")
    tap(page, "Yes")
    type_(page, "Ana")
    type_(page, "90011")
    tap(page, "25 to 54")
    assert "Are you working right now?" in last_bot(page)
    assert page.locator(".msg.me").last.inner_text() == "25 to 54"  # the label, not "4"
    old = page.locator(".buttons button", has_text="16 to 17")
    assert old.is_disabled() and page.locator(".buttons button:enabled").count() == 3
    # A page that kept its old buttons (an old tab, a slow network) sends the age button anyway.
    status = page.evaluate("""async () => {
        const r = await fetch('/chat/send', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                             body: JSON.stringify({text: '2', step: 'age_range', turn: 3})});
        return (await r.json()).messages[0].text; }""")
    assert status == "That button belongs to an earlier question, so I didn't use it."
    assert "employment" not in answers(live)
    tap(page, "Working part time")
    assert answers(live)["employment"] == "part_time" and answers(live)["age_range"] == "25_54"
    page.screenshot(path=str(artifacts / "chat-retired-buttons.png"), full_page=True)


def test_a_reload_keeps_the_conversation_and_the_current_buttons_work(live, phone, artifacts):
    page = phone()
    page.goto(f"{live.url}/chat")
    type_(page, "hello")
    tap(page, "Yes")
    type_(page, "Ana")
    type_(page, "90011")
    before = page.locator(".msg").all_inner_texts()
    page.reload()
    page.wait_for_selector(".msg.bot")
    assert page.locator(".msg").all_inner_texts() == before
    assert page.locator(".msg.me").all_inner_texts() == ["hello", "Yes", "Ana", "90011"]
    assert page.locator(".buttons button:enabled").count() == 5  # the age question's, and only those
    fits(page)
    page.screenshot(path=str(artifacts / "chat-after-reload.png"), full_page=True)
    tap(page, "18 to 24")
    assert "Are you working right now?" in last_bot(page)


def test_several_at_once_are_tapped_then_sent_and_read_back_as_labels(live, phone):
    page = phone()
    page.goto(f"{live.url}/chat")
    type_(page, "hello")
    tap(page, "Yes")
    type_(page, "skip")
    type_(page, "90011")
    tap(page, "25 to 54")
    tap(page, "Not working")
    assert "Tap all that fit, then Send." in last_bot(page)
    page.locator(".buttons button:enabled", has_text="Healthcare").tap()
    page.locator(".buttons button:enabled", has_text="Technology").tap()
    assert page.locator("#text").input_value() == "Healthcare and Technology"
    type_(page, "Healthcare and Technology")
    assert page.locator(".msg.me").last.inner_text() == "Healthcare and Technology"
    assert answers(live)["sectors"] == ["healthcare", "technology"]


def test_a_person_switches_to_arabic_and_the_page_follows(live, phone, artifacts):
    page = phone()
    page.goto(f"{live.url}/chat")
    type_(page, "hello")
    tap(page, "Yes")
    type_(page, "LANGUAGE")
    tap(page, "العربية")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
    assert page.locator("#send").inner_text() == "إرسال"
    type_(page, "سارة")
    type_(page, "90011")
    fits(page)
    tap(page, "25")
    fits(page)
    page.screenshot(path=str(artifacts / "chat-arabic.png"), full_page=True)
    type_(page, "مساعدة")
    said = "\n".join(page.locator(".msg.bot").all_inner_texts()[-3:])
    assert "في هذه المحادثة" in said and "رسوم الرسائل" not in said
    page.screenshot(path=str(artifacts / "chat-arabic-help.png"), full_page=True)


def test_over_the_rate_limit_the_chat_says_so_kindly_and_the_buttons_still_work(tmp_path, runtime, browser):
    from bot.migrate import fresh_sqlite
    from tests.browser.conftest import LiveServer
    from webhook import create_app

    app = create_app({"DATABASE_URL": fresh_sqlite(tmp_path / "limited.db"), "SECRET_KEY": "browser-secret",
                      "PUBLIC_BASE_URL": "", "RUNTIME": runtime, "RATE_LIMIT": "2 per minute"})
    server = LiveServer(app)
    ctx = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, locale="es",
                              extra_http_headers={"Accept-Language": "es"})
    ctx.set_default_timeout(15_000)
    try:
        page = ctx.new_page()
        page.goto(f"{server.url}/chat")
        type_(page, "hola")
        tap(page, "Sí")  # the third request in a minute
        assert last_bot(page).startswith("Demasiadas solicitudes") and "segundos" in last_bot(page)
        assert page.locator(".buttons button:enabled", has_text="Sí").count() == 1  # still there to tap again
        fits(page)
    finally:
        ctx.close()
        server.close()
        app.extensions["hrtp"].db.dispose()
