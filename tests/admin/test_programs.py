"""Staff add, edit and retire programs; the next person matched sees the change."""

from __future__ import annotations

from html.parser import HTMLParser

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from bot.models import AuditLog, Intake, ProgramRecord
from tests.admin.helpers import complete_intake, intake_id_of, post_form


class FormFields(HTMLParser):
    """What a browser would submit for the page's program form, as it stands."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            else:
                self.fields.append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields.append((a["name"], ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data)


def form_of(client, path: str) -> MultiDict:
    parser = FormFields()
    parser.feed(client.get(path).get_data(as_text=True))
    return MultiDict(parser.fields)


def stored(svc, program_id: str) -> ProgramRecord | None:
    with svc.db.session() as s:
        return s.get(ProgramRecord, program_id)


def matches_of(svc, intake_id: int) -> list[str]:
    with svc.db.session() as s:
        return [m["program"] for m in (s.get(Intake, intake_id).screening or {}).get("matches", [])]


def test_the_list_shows_the_catalog(staff):
    page = staff.get("/admin/programs").get_data(as_text=True)
    assert "PCC Pre-Apprenticeship Certificate" in page and "Retire" in page


def test_sectors_are_named_as_staff_know_them_also_those_the_intake_does_not_offer(staff):
    page = staff.get("/admin/programs").get_data(as_text=True)
    assert "<td>Public transit</td>" in page and "<td>Early care and education</td>" in page  # programs.yaml, intake.yaml
    form = staff.get("/admin/programs/clean_transit_metro").get_data(as_text=True)
    assert '<option value="transportation" selected>Public transit</option>' in form
    assert ">Building services</option>" in form and ">Hotel and food service work<" not in form  # a label, not a reason


def test_saving_a_program_unchanged_keeps_its_record(staff, svc):
    before = dict(stored(svc, "pcc_pre_apprenticeship").data)
    r = staff.post("/admin/programs/pcc_pre_apprenticeship", data=form_of(staff, "/admin/programs/pcc_pre_apprenticeship"))
    assert r.status_code == 302
    after = stored(svc, "pcc_pre_apprenticeship")
    assert after.data == before and after.updated_by == "sam" and after.origin == "staff"


def test_editing_a_field_and_a_bad_edit(staff, svc):
    form = form_of(staff, "/admin/programs/pcc_pre_apprenticeship")
    form["length"] = "18 weeks"
    staff.post("/admin/programs/pcc_pre_apprenticeship", data=form)
    assert stored(svc, "pcc_pre_apprenticeship").data["length"] == "18 weeks"
    form["min_age"], form["max_age"] = "30", "20"
    r = staff.post("/admin/programs/pcc_pre_apprenticeship", data=form)
    assert r.status_code == 400 and "min_age 30 is above max_age 20" in r.get_data(as_text=True)
    assert stored(svc, "pcc_pre_apprenticeship").data.get("max_age") != 20


def test_a_retired_program_is_not_matched_to_the_next_person(staff, svc):
    first = intake_id_of(complete_intake(svc, "+13235550101", "Maria", {"sectors": "2"}))
    top = matches_of(svc, first)[0]
    r = post_form(staff, f"/admin/programs/{top}/active", {"active": "no"}, page="/admin/programs", follow_redirects=True)
    assert "retired: it is no longer matched" in r.get_data(as_text=True)
    second = intake_id_of(complete_intake(svc, "+13235550102", "Kim", {"sectors": "2"}))
    assert top not in matches_of(svc, second)
    assert top in matches_of(svc, first)  # what the first person was shown stays on record
    post_form(staff, f"/admin/programs/{top}/active", {"active": "yes"}, page="/admin/programs")
    assert stored(svc, top).active


def test_a_new_program_is_matched_from_now_on(staff, svc):
    form = form_of(staff, "/admin/programs/new")
    new = {"id": "southla_trades", "name": "South LA Trades Academy", "name_kind": "proper",
                 "sector": "construction", "summary": "Paid pre-apprenticeship in the building trades, in South LA.",
                 "paid": "yes", "wage_per_hour": "25", "site_zips": "90011", "min_age": "18",
                 "sources": "Call with the academy's director, 2026-11-01"}
    for key, value in new.items():
        form[key] = value  # replaces, where MultiDict.update would add a second value
    form.setlist("supportive_services", ["childcare", "transportation", "tools_clothing"])
    form.setlist("languages", ["en", "es"])
    form.setlist("real", ["name", "sector", "paid", "wage_per_hour", "site_zips", "supportive_services"])
    r = staff.post("/admin/programs/new", data=form, follow_redirects=True)
    assert "Added South LA Trades Academy. New matches use it from now on." in r.get_data(as_text=True)
    assert stored(svc, "southla_trades").data["wage_per_hour"] == 25
    person = intake_id_of(complete_intake(svc, "+13235550103", "Luis", {"sectors": "1"}))
    assert "southla_trades" in matches_of(svc, person)
    said = reasons_of(svc, person, "southla_trades")
    assert {"paid training, $%(wage)s an hour", "under a mile from %(zip)s", "childcare support"} <= said
    again = staff.post("/admin/programs/new", data=form)
    assert again.status_code == 400 and "already a program" in again.get_data(as_text=True)
    with svc.db.session() as s:
        changes = [a.detail for a in s.scalars(select(AuditLog).where(AuditLog.action == "program"))]
    assert [c["change"] for c in changes] == ["added"]
    assert changes[0]["confirmed"] == ["name", "sector", "paid", "wage_per_hour", "site_zips", "supportive_services"]


def reasons_of(svc, intake_id: int, program_id: str) -> set[str]:
    """The msgids of the reasons the person was shown for one matched program."""
    with svc.db.session() as s:
        matches = (s.get(Intake, intake_id).screening or {}).get("matches", [])
    return {r["msgid"] for m in matches if m["program"] == program_id for r in m["reasons"]}


def test_staff_see_which_programs_are_unconfirmed_and_which_facts_are_placeholders(staff):
    listing = staff.get("/admin/programs").get_data(as_text=True)
    wildfire = listing[listing.index("Wildfire rebuild training (HRTP Fund)"):]
    wildfire = wildfire[:wildfire.index("</tr>")]
    assert "0 of 22" in wildfire and "22 placeholders" in wildfire and "Unconfirmed: not offered" in wildfire
    lost_angels = listing[listing.index("Aerospace HRTP (Lost Angels)"):]
    lost_angels = lost_angels[:lost_angels.index("</tr>")]
    assert "12 of 22" in lost_angels and "Unconfirmed" not in lost_angels and ">Active<" in lost_angels
    assert '<strong id="unconfirmed-count">10 active programs are unconfirmed</strong>' in listing

    form = staff.get("/admin/programs/fund_wildfire_rebuild").get_data(as_text=True)
    assert "Unconfirmed program: not offered to job seekers." in form
    assert "0 of 22 facts confirmed." in form
    assert 'Wage per hour while training ($) <span class="tag ph">placeholder</span></label>' in form
    confirmed = staff.get("/admin/programs/aerospace_lost_angels").get_data(as_text=True)
    assert "Unconfirmed program" not in confirmed and "12 of 22 facts confirmed." in confirmed
    assert 'Wage per hour while training ($)</label>' in confirmed  # a sourced fact carries no mark
    assert 'Site ZIP codes <span class="tag ph">placeholder</span></label>' in confirmed


def test_confirming_a_program_and_then_its_pay_reaches_the_next_person_and_is_audited(staff, svc):
    first = intake_id_of(complete_intake(svc, "+13235550101", "Maria", {"sectors": "1", "zip": "91106"}))
    assert "fund_wildfire_rebuild" not in matches_of(svc, first)

    form = form_of(staff, "/admin/programs/fund_wildfire_rebuild")
    form.setlist("real", ["name", "sector"])
    r = staff.post("/admin/programs/fund_wildfire_rebuild", data=form, follow_redirects=True)
    assert "New matches use it from now on." in r.get_data(as_text=True)
    second = intake_id_of(complete_intake(svc, "+13235550102", "Kim", {"sectors": "1", "zip": "91106"}))
    assert "fund_wildfire_rebuild" in matches_of(svc, second)
    assert reasons_of(svc, second, "fund_wildfire_rebuild") == {"construction and trades"}  # pay is still a guess

    form = form_of(staff, "/admin/programs/fund_wildfire_rebuild")
    form.setlist("real", ["name", "sector", "paid", "wage_per_hour"])
    staff.post("/admin/programs/fund_wildfire_rebuild", data=form)
    third = intake_id_of(complete_intake(svc, "+13235550103", "Luis", {"sectors": "1", "zip": "91106"}))
    assert "paid training, $%(wage)s an hour" in reasons_of(svc, third, "fund_wildfire_rebuild")

    form = form_of(staff, "/admin/programs/fund_wildfire_rebuild")
    form.setlist("real", ["sector", "paid", "wage_per_hour"])  # staff learn the name was wrong after all
    r = staff.post("/admin/programs/fund_wildfire_rebuild", data=form, follow_redirects=True)
    assert "people are not offered it until staff confirm it" in r.get_data(as_text=True)
    fourth = intake_id_of(complete_intake(svc, "+13235550104", "Rosa", {"sectors": "1", "zip": "91106"}))
    assert "fund_wildfire_rebuild" not in matches_of(svc, fourth)
    with svc.db.session() as s:
        trail = [(a.username, a.detail)
                 for a in s.scalars(select(AuditLog).where(AuditLog.action == "program").order_by(AuditLog.id))]
    assert {who for who, _ in trail} == {"sam"}
    assert [d.get("confirmed", []) for _, d in trail] == [["name", "sector"], ["paid", "wage_per_hour"], []]
    assert [d.get("unconfirmed", []) for _, d in trail] == [[], [], ["name"]]


def test_program_names_show_in_the_intake_list_filter(staff, svc):
    person = intake_id_of(complete_intake(svc, "+13235550101", "Maria", {"sectors": "1"}))
    page = staff.get("/admin/intakes").get_data(as_text=True)
    with svc.db.session() as s:
        for pid in matches_of(svc, person):
            assert f'<option value="{pid}" >{s.get(ProgramRecord, pid).name}</option>' in page
