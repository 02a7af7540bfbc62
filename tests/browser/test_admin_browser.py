"""Staff work in a real browser: sign in, filter, open, move an intake to placed, refer, message, export,
a partner's narrow view and the dashboard. Screenshots of the list, detail and dashboard go to test-artifacts/."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from bot.staff import User, refer
from bot.store import Intake
from tests.conftest import TWILIO_SID, TWILIO_TOKEN
from tests.admin.helpers import PASSWORD, complete_intake, intake_id_of, make_user
from tests.browser.conftest import LiveServer
from tests.transcript import Person

SID, TOKEN = TWILIO_SID, TWILIO_TOKEN


@pytest.fixture
def live(tmp_path, runtime, twilio) -> Iterator[LiveServer]:
    from webhook import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'browser.db'}", "SECRET_KEY": "browser-secret",
                      "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": "+12135550000",
                      "TWILIO_API_BASE_URL": twilio.url, "PUBLIC_BASE_URL": "", "RUNTIME": runtime})
    svc = app.extensions["hrtp"]
    make_user(svc, "sam", "staff", name="Sam Staff")
    make_user(svc, "pat", "partner", programs=("pcc_pre_apprenticeship",), name="Pat Partner")
    t0 = datetime(2026, 11, 2, 17, 0, tzinfo=timezone.utc)
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


def rows(page) -> list[str]:
    return page.locator("table.list tbody tr td:nth-child(3) a").all_inner_texts()


def test_sign_in_filter_and_open_an_intake(page, live, artifacts):
    sign_in(page, live)
    assert rows(page) == ["Rosa", "Luis", "Kim", "Maria"]
    assert page.locator("#total").inner_text() == "4 intakes match"
    page.screenshot(path=str(artifacts / "admin-list.png"), full_page=True)

    page.get_by_label("Sector").select_option("construction")
    page.get_by_label("Priority").select_option("justice_involved")
    page.get_by_role("button", name="Filter").click()
    assert rows(page) == ["Luis"]
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Name or phone").fill("555-0101")
    page.get_by_label("Name or phone").press("Enter")
    assert rows(page) == ["Maria"]
    page.get_by_label("Name or phone").fill("")
    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Filter").click()
    assert rows(page) == ["Rosa"]

    page.get_by_role("link", name="Rosa").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Rosa")
    assert page.get_by_role("cell", name="Español (es)").is_visible()
    assert page.locator("table.answers").get_by_text("25 to 54").is_visible()
    assert page.get_by_text("You live in LA County.").is_visible()


def test_staff_take_an_intake_from_new_to_placed_refer_and_message(page, live, twilio, artifacts):
    sign_in(page, live)
    page.goto(f"{live.url}/admin/intakes/{live.ids['maria']}")
    for label in ("Contacted", "Enrolled", "Completed training"):
        page.get_by_label("Change status to").select_option(label=label)
        page.get_by_role("button", name="Change status").click()
        assert page.get_by_text(re.compile("Status is now")).is_visible()
    page.get_by_label("Change status to").select_option(label="Placed")
    page.get_by_label("Hourly wage ($)").fill("26.75")
    page.get_by_label("Yes", exact=True).check()
    page.get_by_role("button", name="Change status").click()
    assert page.get_by_text("Status is now placed.").is_visible()
    assert page.locator(".titlebar .badge.s-placed").inner_text() == "Placed"
    assert page.get_by_text("$26.75/hr, apprenticeship").first.is_visible()

    page.get_by_label("Refer to program").select_option("pcc_pre_apprenticeship")
    page.get_by_role("button", name="Refer", exact=True).click()
    assert page.get_by_text("Referred to PCC Pre-Apprenticeship Certificate.").is_visible()

    page.get_by_label("Template").select_option(label="We will call you")
    page.get_by_role("button", name="Preview").click()
    assert page.locator("#preview").get_by_text("A staff member will call you").is_visible()
    page.get_by_role("button", name="Send", exact=True).click()
    assert page.get_by_text("Message sent (queued).").is_visible()
    assert twilio.sent[-1]["To"] == "+13235550101"
    assert page.locator(".transcript li.staff").last.get_by_text("A staff member will call you").is_visible()
    page.screenshot(path=str(artifacts / "admin-detail.png"), full_page=True)


def test_export_downloads_the_filtered_list(page, live):
    sign_in(page, live)
    page.get_by_label("Sector").select_option("healthcare")
    page.get_by_role("button", name="Filter").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    data = list(csv.DictReader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert [r["answer_first_name"] for r in data] == ["Kim"]


def test_a_partner_sees_only_their_referrals(page, live):
    sign_in(page, live, "pat")
    assert rows(page) == ["Luis"]
    assert page.get_by_role("link", name="Metrics").count() == 0
    page.goto(f"{live.url}/admin/intakes/{live.ids['maria']}")
    assert page.get_by_role("heading", name="Not Found").is_visible()
    page.goto(f"{live.url}/admin/intakes/{live.ids['luis']}")
    assert page.get_by_role("button", name="Refer").count() == 0 and page.get_by_role("button", name="Send").count() == 0
    page.get_by_label("Change status to").select_option(label="Contacted")
    page.get_by_role("button", name="Change status").click()
    assert page.get_by_text("Status is now contacted.").is_visible()


def test_the_dashboard_shows_indicators_from_the_data(page, live, artifacts):
    sign_in(page, live)
    page.goto(f"{live.url}/admin/intakes/{live.ids['maria']}")
    for label in ("Contacted", "Enrolled", "Completed training"):
        page.get_by_label("Change status to").select_option(label=label)
        page.get_by_role("button", name="Change status").click()
    page.get_by_label("Change status to").select_option(label="Placed")
    page.get_by_label("Hourly wage ($)").fill("23")
    page.get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Change status").click()

    page.get_by_role("link", name="Metrics").click()
    assert page.locator("#kpi-started").inner_text() == "4"
    assert page.locator("#kpi-completed").inner_text() == "4"
    assert page.locator("#kpi-placed").inner_text() == "1"
    assert page.locator("#kpi-wage").inner_text() == "$23.00"
    assert page.locator("svg.chart").count() >= 3
    assert page.locator("#t-by_sector").get_by_text("Construction").is_visible()
    page.screenshot(path=str(artifacts / "admin-dashboard.png"), full_page=True)
    with page.expect_download() as info:
        page.locator("#csv-summary").click()
    summary = dict(r[:2] for r in csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert summary["Placed"] == "1" and summary["Median wage at placement"] == "23.0"
