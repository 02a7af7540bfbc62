"""Staff work in a real browser: sign in, filter, open, move an intake to placed, refer, message, export,
a partner's narrow view and the dashboard. Screenshots of the list, detail and dashboard go to test-artifacts/."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bot.models import Intake, User
from bot.workflow import refer
from tests.admin.helpers import PASSWORD, complete_intake, intake_id_of, make_user
from tests.browser.conftest import ARTIFACTS, LiveServer, submit
from tests.conftest import TWILIO_SID, TWILIO_TOKEN
from tests.transcript import Person

SID, TOKEN = TWILIO_SID, TWILIO_TOKEN


@pytest.fixture
def live(tmp_path, runtime, twilio) -> Iterator[LiveServer]:
    from bot.migrate import fresh_sqlite
    from webhook import create_app

    app = create_app({"DATABASE_URL": fresh_sqlite(tmp_path / "browser.db"), "SECRET_KEY": "browser-secret",
                      "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": "+12135550000",
                      "TWILIO_API_BASE_URL": twilio.url, "PUBLIC_BASE_URL": "", "RUNTIME": runtime,
                      "QUEUE_IMMEDIATE": True})  # staff messages go out within the request, as if a worker ran
    svc = app.extensions["hrtp"]
    make_user(svc, "sam", "staff", name="Sam Staff")
    make_user(svc, "pat", "partner", programs=("pcc_pre_apprenticeship",), name="Pat Partner")
    t0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    maria = complete_intake(svc, "+13235550101", "Maria", {"sectors": "1", "housing": "4"}, start=t0)
    complete_intake(svc, "+12135550102", "Kim", {"sectors": "2"}, start=t0.replace(day=3))
    luis = complete_intake(svc, "+13105550103", "Luis", {"sectors": "1", "background": "2"}, start=t0.replace(day=4))
    rosa = Person(svc, "+16265550104", start=t0.replace(day=5))
    rosa.says("Hola")
    rosa.answer_until("gender", {"consent": "sí", "first_name": "Rosa", "zip": "90011", "age_range": "4", "sectors": "1",
                                 "background": "4", "needs": "1"})
    with svc.db.writing() as s:
        sam = s.query(User).filter_by(username="sam").one()
        refer(s, s.get(Intake, intake_id_of(luis)), "pcc_pre_apprenticeship", sam, t0)
    server = LiveServer(app)
    server.ids = {"maria": intake_id_of(maria), "luis": intake_id_of(luis), "rosa": intake_id_of(rosa)}  # type: ignore[attr-defined]
    yield server
    server.close()
    svc.db.dispose()


def sign_in(page, live: LiveServer, username: str = "sam") -> None:
    page.goto(f"{live.url}/admin/intakes")
    assert "/admin/login" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/admin/intakes"))


def rows(page):
    """The names in the list, as a locator for expect(), which waits for the page a filter loads."""
    return page.locator("table.list tbody tr td:nth-child(3) a")


def test_sign_in_filter_and_open_an_intake(page, live, artifacts):
    sign_in(page, live)
    expect(rows(page)).to_have_text(["Rosa", "Luis", "Kim", "Maria"])
    assert page.locator("#total").inner_text() == "4 intakes match"
    page.screenshot(path=str(artifacts / "admin-list.png"), full_page=True)

    page.get_by_label("Sector").select_option("construction")
    page.get_by_label("Priority").select_option("justice_involved")
    submit(page, page.get_by_role("button", name="Filter"))
    expect(rows(page)).to_have_text(["Luis"])
    submit(page, page.get_by_role("link", name="Clear"))
    page.get_by_label("Name or phone").fill("555-0101")
    with page.expect_navigation(wait_until="load"):
        page.get_by_label("Name or phone").press("Enter")
    expect(rows(page)).to_have_text(["Maria"])
    page.get_by_label("Name or phone").fill("")
    page.get_by_label("Language").select_option("es")
    submit(page, page.get_by_role("button", name="Filter"))
    expect(rows(page)).to_have_text(["Rosa"])

    submit(page, page.get_by_role("link", name="Rosa"))
    assert page.get_by_role("heading", level=1).inner_text().startswith("Rosa")
    expect(page.get_by_role("cell", name="Español (es)")).to_be_visible()
    expect(page.locator("table.answers").get_by_text("25 to 54")).to_be_visible()
    expect(page.get_by_text("You live in LA County.")).to_be_visible()


def test_staff_take_an_intake_from_new_to_placed_refer_and_message(page, live, twilio, artifacts):
    sign_in(page, live)
    page.goto(f"{live.url}/admin/intakes/{live.ids['maria']}")
    for label in ("Contacted", "Enrolled", "Completed training"):
        page.get_by_label("Change status to").select_option(label=label)
        submit(page, page.get_by_role("button", name="Change status"))
        expect(page.get_by_text(re.compile("Status is now"))).to_be_visible()
    page.get_by_label("Change status to").select_option(label="Placed")
    page.get_by_label("Hourly wage ($)").fill("26.75")
    page.get_by_label("Yes", exact=True).check()
    submit(page, page.get_by_role("button", name="Change status"))
    expect(page.get_by_text("Status is now placed.")).to_be_visible()
    assert page.locator(".titlebar .badge.s-placed").inner_text() == "Placed"
    expect(page.get_by_text("$26.75/hr, apprenticeship").first).to_be_visible()

    page.get_by_label("Refer to program").select_option("pcc_pre_apprenticeship")
    page.get_by_role("button", name="Refer", exact=True).click()
    expect(page.get_by_text("Referred to PCC Pre-Apprenticeship Certificate.")).to_be_visible()

    page.get_by_label("Template").select_option(label="We will call you")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview").get_by_text("A staff member will call you")).to_be_visible()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_text("Message sent (queued).")).to_be_visible()
    assert twilio.sent[-1]["To"] == "+13235550101"
    expect(page.locator(".transcript li.staff").last.get_by_text("A staff member will call you")).to_be_visible()
    page.screenshot(path=str(artifacts / "admin-detail.png"), full_page=True)


def test_export_downloads_the_filtered_list(page, live):
    sign_in(page, live)
    page.get_by_label("Sector").select_option("healthcare")
    submit(page, page.get_by_role("button", name="Filter"))
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    data = list(csv.DictReader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert [r["answer_first_name"] for r in data] == ["Kim"]


def test_a_partner_sees_only_their_referrals(page, live):
    sign_in(page, live, "pat")
    expect(rows(page)).to_have_text(["Luis"])
    assert page.get_by_role("link", name="Metrics").count() == 0
    page.goto(f"{live.url}/admin/intakes/{live.ids['maria']}")
    expect(page.get_by_role("heading", name="Not Found")).to_be_visible()
    page.goto(f"{live.url}/admin/intakes/{live.ids['luis']}")
    assert page.get_by_role("button", name="Refer").count() == 0 and page.get_by_role("button", name="Send").count() == 0
    page.get_by_label("Change status to").select_option(label="Contacted")
    submit(page, page.get_by_role("button", name="Change status"))
    expect(page.get_by_text("Status is now contacted.")).to_be_visible()


def test_the_dashboard_shows_indicators_from_the_data(page, live, artifacts):
    sign_in(page, live)
    page.goto(f"{live.url}/admin/intakes/{live.ids['maria']}")
    for label in ("Contacted", "Enrolled", "Completed training"):
        page.get_by_label("Change status to").select_option(label=label)
        submit(page, page.get_by_role("button", name="Change status"))
    page.get_by_label("Change status to").select_option(label="Placed")
    page.get_by_label("Hourly wage ($)").fill("23")
    page.get_by_label("No", exact=True).check()
    submit(page, page.get_by_role("button", name="Change status"))

    submit(page, page.get_by_role("link", name="Metrics"))
    assert page.locator("#kpi-started").inner_text() == "4"
    assert page.locator("#kpi-completed").inner_text() == "4"
    assert page.locator("#kpi-placed").inner_text() == "1"
    assert page.locator("#kpi-wage").inner_text() == "$23.00"
    assert page.locator("svg.chart").count() >= 3
    expect(page.locator("#t-by_sector").get_by_text("Construction")).to_be_visible()
    page.screenshot(path=str(artifacts / "admin-dashboard.png"), full_page=True)
    with page.expect_download() as info:
        page.locator("#csv-summary").click()
    summary = dict(r[:2] for r in csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert summary["Placed"] == "1" and summary["Median wage at placement"] == "23.0"


# ---- on a phone, and in Arabic ----------------------------------------------------------------------

PHONE = {"width": 390, "height": 1600}

# The WCAG 2.x contrast of every visible text node against what is painted behind it: the text's
# colour with every ancestor's opacity applied, over the first opaque background up the tree
# (translucent layers blended in on the way). Reported as [ratio, font px, bold, text, selector].
CONTRAST_JS = r"""
() => {
  const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, under) => { const a = top[3] + under[3] * (1 - top[3]);
    if (!a) return [0, 0, 0, 0];
    return [0, 1, 2].map(i => (top[i] * top[3] + under[i] * under[3] * (1 - top[3])) / a).concat([a]); };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const background = (el) => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; } }
    let out = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) out = over(layers[i], out);
    return out; };
  const opacity = (el) => {
    let o = 1; for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement; if (!el || !n.textContent.trim()) continue;
    const r = el.getBoundingClientRect(); const st = getComputedStyle(el);
    if (!r.width || !r.height || st.visibility === 'hidden' || el.closest('.sr, .skip, option, select')) continue;
    const bg = background(el); const fg = parse(st.color); fg[3] *= opacity(el);
    const seen = over(fg, bg); const a = lum(seen), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    out.push([Math.round(ratio * 100) / 100, parseFloat(st.fontSize), Number(st.fontWeight) >= 700,
              n.textContent.trim().slice(0, 40), el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')]);
  }
  return out;
}
"""


def low_contrast(page) -> list:
    """Text under WCAG AA: 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold)."""
    return [t for t in page.evaluate(CONTRAST_JS)
            if t[0] < (3.0 if t[1] >= 24 or (t[2] and t[1] >= 18.66) else 4.5)]


def arabic_intake(live: LiveServer) -> int:
    """Amal writes in Arabic, so the bot answers in Arabic; her intake id."""
    svc = live.app.extensions["hrtp"]
    amal = Person(svc, "+13235550177", start=datetime(2026, 11, 6, 17, 0, tzinfo=UTC))
    amal.says("مرحبا")
    amal.answer_until("gender", {"consent": "1", "first_name": "أمل", "zip": "90011", "age_range": "3",
                                 "sectors": "2", "background": "4", "needs": "1"})
    return intake_id_of(amal)


@pytest.fixture
def phone(browser, request) -> Iterator:
    """A page on a 390 px wide phone screen; `bypass_csp` (indirect) lets a test inject axe-core."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                  bypass_csp=getattr(request, "param", False))
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def wider_than_the_phone(page) -> int:
    return max(0, page.evaluate("document.documentElement.scrollWidth") - PHONE["width"])


def test_on_a_phone_the_list_and_an_arabic_conversation_read_right(phone, live, artifacts):
    page = phone
    amal = arabic_intake(live)
    sign_in(page, live)
    assert wider_than_the_phone(page) == 0, "the intake list widens the page"
    assert page.locator("table.list").evaluate("t => t.closest('.scroll') !== null")  # it scrolls in its own box
    assert low_contrast(page) == []
    page.screenshot(path=str(artifacts / "admin-list-390.png"), full_page=True)

    for name, intake_id in (("amal", amal), ("maria", live.ids["maria"])):
        page.goto(f"{live.url}/admin/intakes/{intake_id}")
        assert wider_than_the_phone(page) == 0, f"{name}'s page widens the phone screen"
        texts = page.locator(".transcript li .text")
        assert texts.count() > 5
        assert set(texts.evaluate_all("els => els.map(e => e.getAttribute('dir'))")) == {"auto"}
        assert low_contrast(page) == [], f"text under WCAG AA contrast on {name}'s page"
        page.screenshot(path=str(artifacts / f"admin-detail-390-{name}.png"), full_page=True)
        page.screenshot(path=str(artifacts / f"admin-detail-top-390-{name}.png"))
        box = page.locator("#conversation").bounding_box()
        page.screenshot(path=str(artifacts / f"admin-conversation-390-{name}.png"), full_page=True,
                        clip={"x": 0, "y": box["y"], "width": PHONE["width"], "height": min(box["height"], 1400)})

    # Staff see which programs are unconfirmed and which facts are placeholders, on a phone too.
    page.goto(f"{live.url}/admin/programs")
    assert wider_than_the_phone(page) == 0, "the program list widens the page"
    row = page.locator("#programs tr", has_text="Wildfire rebuild training (HRTP Fund)")
    assert row.get_by_text("Unconfirmed: not offered").is_visible() and row.get_by_text("22 placeholders").is_visible()
    assert low_contrast(page) == []
    page.screenshot(path=str(artifacts / "admin-programs-390.png"), full_page=True)
    page.goto(f"{live.url}/admin/programs/fund_wildfire_rebuild")
    assert wider_than_the_phone(page) == 0, "the program form widens the page"
    expect(page.get_by_text("Unconfirmed program: not offered to job seekers.")).to_be_visible()
    assert page.get_by_label("Wage per hour while training ($) placeholder").input_value() == "20"
    assert low_contrast(page) == []
    page.screenshot(path=str(artifacts / "admin-program-form-390.png"))

    # Amal's Arabic replies read right to left as the browser resolves dir="auto", and say their language.
    page.goto(f"{live.url}/admin/intakes/{amal}")
    bot = page.locator(".transcript li.out .text")
    directions = bot.evaluate_all("els => els.map(e => getComputedStyle(e).direction)")
    assert directions.count("rtl") >= len(directions) - 1, directions  # the first, the language prompt, may be English
    assert page.locator(".transcript li.out .text[lang='ar']").count() >= len(directions) - 1
    assert page.locator(".transcript li.in .text").filter(has_text="أمل").evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert page.locator("h1 bdi").inner_text() == "أمل"


def axe_script() -> Path | None:
    """axe-core as test.sh installs it from npm (under .cache/, never committed); None without it."""
    found = sorted(ARTIFACTS.parent.glob(".cache/axe-*/node_modules/axe-core/axe.min.js"))
    return found[-1] if found else None


@pytest.mark.parametrize("phone", [True], indirect=True)
def test_axe_finds_no_colour_contrast_problem_on_a_phone(phone, live):
    script = axe_script()
    if script is None:
        pytest.skip("axe-core is not installed (test.sh installs it with npm); the contrast test above still ran")
    page = phone
    amal = arabic_intake(live)
    sign_in(page, live)
    paths = ["/admin/intakes", *(f"/admin/intakes/{i}" for i in (amal, *live.ids.values())), "/admin/programs",
             "/admin/programs/fund_wildfire_rebuild"]
    for path in paths:
        page.goto(f"{live.url}{path}")
        page.add_script_tag(path=str(script))
        result = page.evaluate("async () => (await axe.run(document, {runOnly: {type: 'rule', values: ['color-contrast']},"
                               " resultTypes: ['violations']})).violations"
                               ".flatMap(v => v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary))")
        assert result == [], (path, result)


@pytest.mark.parametrize("phone", [True], indirect=True)
def test_on_a_phone_referral_codes_workers_phones_call_backs_and_the_dashboard_fit_and_read(phone, live, artifacts):
    from bot.assisted import register_device
    from bot.models import ReferralCode, utcnow

    svc = live.app.extensions["hrtp"]
    rosa = make_user(svc, "rosa", "outreach", name="Rosa Outreach")
    with svc.db.writing() as s:
        s.add(ReferralCode(code="EASTLA1", organisation="East LA Public Library", worker="Rosa", site="Job fair, 1st St",
                           channels=["sms", "web", "telegram"], outreach_user_id=rosa))
    with svc.db.writing() as s:
        register_device(s, "sms", "213-555-0199", "EASTLA1", "Rosa's phone at the library desk", None, utcnow())
    live.app.config["TELEGRAM_BOT_USERNAME"] = "hrtp_la_bot"
    page = phone
    script = axe_script()
    sign_in(page, live)
    for path, name in (("/admin/referral-codes", "list"), ("/admin/referral-codes/EASTLA1", "form"),
                       ("/admin/referral-codes/new", "new"), ("/admin/devices", "devices"),
                       ("/admin/callbacks", "callbacks"), ("/admin/metrics", "metrics")):
        page.goto(f"{live.url}{path}")
        page.screenshot(path=str(artifacts / f"admin-referral-{name}-390.png"), full_page=True)
        assert wider_than_the_phone(page) == 0, f"the referral code {name} widens the page"
        assert low_contrast(page) == [], path
        if script is not None:
            page.add_script_tag(path=str(script))
            result = page.evaluate("async () => (await axe.run(document, {runOnly: {type: 'rule',"
                                   " values: ['color-contrast']}, resultTypes: ['violations']}))"
                                   ".violations.flatMap(v => v.nodes.map(n => n.target.join(' ')))")
            assert result == [], (path, result)
    page.goto(f"{live.url}/admin/referral-codes")
    assert page.locator("#referral-codes").evaluate("t => t.closest('.scroll') !== null")
    page.get_by_role("button", name="Sign out").click()

    page.goto(f"{live.url}/admin/login")
    page.get_by_label("Username").fill("rosa")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/admin/outreach"))
    expect(page.get_by_role("heading", name="My referral codes")).to_be_visible()
    assert wider_than_the_phone(page) == 0, "the outreach page widens the page"
    assert low_contrast(page) == []
    page.screenshot(path=str(artifacts / "admin-outreach-390.png"), full_page=True)
