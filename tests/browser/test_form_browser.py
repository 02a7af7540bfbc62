"""The web form in a real browser with JavaScript off, on a 390 px phone: a whole intake in English and
Arabic with the referral code kept, axe-core on every page in en, es and ar. Screenshots go to
test-artifacts/form-*.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.models import Intake
from tests.browser.conftest import ARTIFACTS, submit

PHONE = {"width": 390, "height": 844}

# What a person picks or types at each question, by step id, in each language (labels as shown).
ANSWERS = {
    "en": {"consent": ["Yes"], "first_name": "Ana", "zip": "90011", "age_range": ["25 to 54"],
           "employment": ["Not working"], "sectors": ["Construction and trades", "Healthcare"],
           "education": ["High school diploma or GED"], "drivers_license": ["No"],
           "housing": ["Staying with friends or family for now"], "background": ["None of these"],
           "needs": ["Childcare"], "gender": ["Woman"], "race_ethnicity": ["Latino or Hispanic"]},
    "es": {"consent": ["Sí"], "first_name": "Rosa", "zip": "90011", "age_range": ["25 a 54"],
           "employment": ["No trabajo"], "sectors": ["Salud"], "education": ["Diploma de high school o GED"],
           "drivers_license": ["Sí"], "housing": ["En mi casa o la casa de mi familia"],
           "background": ["Ninguno de estos"], "needs": ["Cuidado de niños"], "gender": ["Mujer"],
           "race_ethnicity": ["Latino o hispano"]},
    "ar": {"consent": ["نعم"], "first_name": "أمل", "zip": "90011", "age_range": ["من 25 إلى 54"],
           "employment": ["لا أعمل"], "sectors": ["الرعاية الصحية"], "education": ["شهادة ثانوية أو GED"],
           "drivers_license": ["لا"], "housing": ["مسكني الخاص أو بيت العائلة"], "background": ["لا شيء"],
           "needs": ["رعاية الأطفال"], "gender": ["امرأة"], "race_ethnicity": ["شرق أوسطي أو شمال أفريقي"]},
}



@pytest.fixture
def phone(browser, request) -> Iterator:
    """A phone with JavaScript disabled; `scripts` (indirect) turns it on so axe-core can be injected."""
    ctx = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=1,
                              java_script_enabled=getattr(request, "param", False), bypass_csp=True)
    ctx.set_default_timeout(15_000)
    yield ctx.new_page()
    ctx.close()


def axe_script():
    found = sorted(ARTIFACTS.parent.glob(".cache/axe-*/node_modules/axe-core/axe.min.js"))
    return found[-1] if found else None


def axe_violations(page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA findings (the form pages have no script of their own, so the page is the same)."""
    script = axe_script()
    assert script is not None
    page.add_script_tag(path=str(script))
    return page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag',"
        " values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}, resultTypes: ['violations']})).violations"
        ".flatMap(v => v.nodes.map(n => v.id + ' ' + n.target.join(' ') + ': ' + n.failureSummary))")


def fits_the_phone(page) -> int:
    return max(0, page.evaluate("document.documentElement.scrollWidth") - PHONE["width"])


def step_of(page) -> str | None:
    field = page.locator('input[name="step"]')
    return field.get_attribute("value") if field.count() else None


def complete(page, live, lang: str, check=None, shots: bool = False) -> None:
    """Starts at /apply?lang=..&ref=EASTLA1 and answers every question to the end, as a person would."""
    page.goto(f"{live.url}/apply?lang={lang}&ref=EASTLA1")
    check and check(page, "start")
    submit(page, page.locator("main button[type=submit]"))
    seen: set[str] = set()
    for _ in range(40):
        if "/apply/check" in page.url:
            check and check(page, "check")
            shots and page.screenshot(path=str(ARTIFACTS / f"form-{lang}-check.png"), full_page=True)
            submit(page, page.locator("main a.primary"))
            continue
        step = step_of(page)
        if step is None:
            assert page.locator('main form[action$="/apply/new"]').count() == 1, (
                f"a page with no question is not the end: {page.url} {page.locator('main').inner_text()[:300]!r}")
            check and check(page, "done")
            return
        if step == "program_choice":
            check and check(page, "result")
            shots and page.screenshot(path=str(ARTIFACTS / f"form-{lang}-result.png"), full_page=True)
            page.locator("main input[type=radio]").first.check()
        else:
            if step not in seen:
                check and check(page, step)
                if shots and step in ("consent", "zip", "sectors", "housing"):
                    page.screenshot(path=str(ARTIFACTS / f"form-{lang}-{step}.png"), full_page=True)
            said = ANSWERS[lang].get(step)
            if said is None:  # a question no answer here names (one added to the flow): its first option, or SKIP
                choices = page.locator("main input[type=radio], main input[type=checkbox]")
                if choices.count():
                    choices.first.check()
                else:
                    page.locator("#answer-1").fill("skip")
            elif isinstance(said, str):
                page.locator("#answer-1").fill(said)
            else:
                for label in said:
                    page.get_by_label(label, exact=True).check()
        seen.add(step)
        submit(page, page.get_by_role("button", name=page.locator("main button.primary").inner_text()))
    raise AssertionError("the intake did not end")


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_whole_intake_with_javascript_off_keeps_the_referral_code(phone, live, lang, artifacts, caplog):
    import logging

    caplog.set_level(logging.INFO)
    page = phone
    problems: list[str] = []
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))

    def look(pg, where: str) -> None:
        if fits_the_phone(pg):
            problems.append(f"{where} is wider than the phone")
        if pg.locator("html").get_attribute("dir") != ("rtl" if lang == "ar" else "ltr"):
            problems.append(f"{where} reads the wrong way")

    complete(page, live, lang, look, shots=True)
    page.screenshot(path=str(artifacts / f"form-{lang}-done.png"), full_page=True)
    assert problems == []
    # No personal data in the addresses visited or in the server's request log.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert len(urls) > 20 and "POST /apply" in logged
    for said in (ANSWERS[lang]["first_name"], ANSWERS[lang]["zip"]):
        assert not [u for u in urls if said in u] and said not in logged
    with live.app.extensions["hrtp"].db.session() as s:
        intake = s.scalars(select(Intake)).one()
        assert (intake.referral_code, intake.language, intake.status) == ("EASTLA1", lang, "completed")
        assert intake.eligibility == "eligible" and intake.program_choice


def test_an_error_is_announced_and_fits_the_phone(phone, live, artifacts):
    page = phone
    page.goto(f"{live.url}/apply?lang=ar")
    page.locator("main button[type=submit]").click()
    page.get_by_label("نعم", exact=True).check()
    page.locator("main button.primary").click()
    page.locator("#answer-1").fill("أمل")
    page.locator("main button.primary").click()
    page.locator("#answer-1").fill("abc")
    page.locator("main button.primary").click()
    assert page.locator(".summary[role=alert]").is_visible()
    assert page.locator("#answer-1").get_attribute("aria-describedby") == "answer-error"
    assert fits_the_phone(page) == 0
    page.screenshot(path=str(artifacts / "form-ar-error.png"), full_page=True)


@pytest.mark.parametrize("phone", [True], indirect=True)
@pytest.mark.parametrize("lang", ["en", "es", "ar"])
def test_axe_finds_nothing_on_any_form_page(phone, live, lang):
    if axe_script() is None:
        pytest.skip("axe-core is not installed (test.sh installs it with npm)")
    found: dict[str, list[str]] = {}

    def look(pg, where: str) -> None:
        bad = axe_violations(pg)
        if bad:
            found[where] = bad
        if where == "result":
            # The offer to carry on by text, then the code it gives.
            pg.locator("#text button[type=submit]").click()
            pg.locator("#text .code").wait_for()
            bad = axe_violations(pg)
            if bad:
                found["text code"] = bad

    complete(phone, live, lang, look)
    assert found == {}


def test_axe_finds_nothing_on_the_error_page(browser, live):
    if axe_script() is None:
        pytest.skip("axe-core is not installed (test.sh installs it with npm)")
    ctx = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = ctx.new_page()
    try:
        page.goto(f"{live.url}/apply?lang=es")
        page.locator("main button[type=submit]").click()
        page.locator("main button.primary").click()  # nothing chosen
        assert page.locator(".summary").is_visible()
        assert axe_violations(page) == []
    finally:
        ctx.close()


CHAT_STEPS = {"en": ("hello", "Yes"), "es": ("hola", "Sí"), "ar": ("مرحبا", "نعم")}


@pytest.mark.parametrize("lang", ["en", "es", "ar"])
def test_axe_finds_nothing_on_the_chat(browser, live, lang, artifacts):
    if axe_script() is None:
        pytest.skip("axe-core is not installed (test.sh installs it with npm)")
    ctx = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, bypass_csp=True, locale=lang,
                              extra_http_headers={"Accept-Language": lang})
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    found: dict[str, list[str]] = {}
    try:
        page.goto(f"{live.url}/chat")
        found["empty"] = axe_violations(page)
        hello, yes = CHAT_STEPS[lang]
        page.locator("#text").fill(hello)
        page.locator("#send").click()
        page.locator(".buttons button:enabled", has_text=yes).last.wait_for()
        found["consent"] = axe_violations(page)
        page.locator(".buttons button:enabled", has_text=yes).last.click()
        page.locator(".msg.bot").nth(2).wait_for()  # the next question, with the consent buttons retired
        assert page.locator(".buttons button:disabled").count() >= 2
        found["answered"] = axe_violations(page)
        page.screenshot(path=str(artifacts / f"chat-axe-{lang}.png"), full_page=True)
    finally:
        ctx.close()
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("lang", ["en", "es", "ar"])
def test_axe_finds_nothing_after_no_fixed_address_nor_on_the_please_wait_page(browser, tmp_path, runtime, lang):
    if axe_script() is None:
        pytest.skip("axe-core is not installed (test.sh installs it with npm)")
    from bot.migrate import fresh_sqlite
    from tests.browser.conftest import LiveServer
    from webhook import create_app

    app = create_app({"DATABASE_URL": fresh_sqlite(tmp_path / "wait.db"), "SECRET_KEY": "browser-secret",
                      "PUBLIC_BASE_URL": "", "RUNTIME": runtime, "RATE_LIMIT": "12 per minute"})
    server = LiveServer(app)
    ctx = browser.new_context(viewport=PHONE, bypass_csp=True)
    ctx.set_default_timeout(15_000)
    found: dict[str, list[str]] = {}
    try:
        page = ctx.new_page()
        page.goto(f"{server.url}/apply?lang={lang}")
        page.locator("main button[type=submit]").click()
        page.locator("main input[type=radio]").first.check()
        page.locator("main button.primary").click()
        page.locator('input[name="step"][value="first_name"]').wait_for(state="attached")
        page.locator("main button.primary").click()  # left blank: skipped
        page.locator("main button[value=no_address]").click()
        page.locator('input[name="step"][value="la_county"]').wait_for(state="attached")
        found["la_county"] = axe_violations(page)
        statuses = [page.goto(f"{server.url}/apply").status for _ in range(6)]
        assert statuses[-1] == 429 and page.locator("html").get_attribute("lang") == lang
        found["please wait"] = axe_violations(page)
        assert fits_the_phone(page) == 0
    finally:
        ctx.close()
        server.close()
        app.extensions["hrtp"].db.dispose()
    assert {k: v for k, v in found.items() if v} == {}
