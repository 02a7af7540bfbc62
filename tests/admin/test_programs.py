"""Staff add, edit and retire programs; the next person matched sees the change."""

from __future__ import annotations

from html.parser import HTMLParser

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from bot.programs import Program
from bot.staff import AuditLog
from bot.store import Intake
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


def stored(svc, program_id: str) -> Program | None:
    with svc.db.session() as s:
        return s.get(Program, program_id)


def matches_of(svc, intake_id: int) -> list[str]:
    with svc.db.session() as s:
        return [m["program"] for m in (s.get(Intake, intake_id).screening or {}).get("matches", [])]


def test_the_list_shows_the_catalog(staff):
    page = staff.get("/admin/programs").get_data(as_text=True)
    assert "PCC Pre-Apprenticeship Certificate" in page and "Retire" in page


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
                 "paid": "yes", "wage_per_hour": "25", "site_zips": "90011", "min_age": "18"}
    for key, value in new.items():
        form[key] = value  # replaces, where MultiDict.update would add a second value
    form.setlist("supportive_services", ["childcare", "transportation", "tools_clothing"])
    form.setlist("languages", ["en", "es"])
    r = staff.post("/admin/programs/new", data=form, follow_redirects=True)
    assert "Added South LA Trades Academy. New matches use it from now on." in r.get_data(as_text=True)
    assert stored(svc, "southla_trades").data["wage_per_hour"] == 25
    person = intake_id_of(complete_intake(svc, "+13235550103", "Luis", {"sectors": "1"}))
    assert "southla_trades" in matches_of(svc, person)
    again = staff.post("/admin/programs/new", data=form)
    assert again.status_code == 400 and "already a program" in again.get_data(as_text=True)
    with svc.db.session() as s:
        changes = [a.detail["change"] for a in s.scalars(select(AuditLog).where(AuditLog.action == "program"))]
    assert changes == ["added"]


def test_program_names_show_in_the_intake_list_filter(staff, svc):
    person = intake_id_of(complete_intake(svc, "+13235550101", "Maria", {"sectors": "1"}))
    page = staff.get("/admin/intakes").get_data(as_text=True)
    with svc.db.session() as s:
        for pid in matches_of(svc, person):
            assert f'<option value="{pid}" >{s.get(Program, pid).name}</option>' in page
