"""Erase means erased: after DELETE, YES (or an admin's erase), no table holds the person or their answers."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.facets import sync_facets
from bot.metrics import compute_metrics
from bot.models import AuditLog, Contact, Intake, IntakeEvent, Note, StatusChange
from tests.admin.helpers import complete_intake, intake_id_of, post_form
from tests.admin.test_workflow import move
from tests.privacy_scan import left_behind, traces

PHONE = "+13105550042"
# Her name, ZIP, number and what she answered: shelter, veteran and justice-involved, Black.
NEEDLES = ("Zelda", "90744", "3105550042", "555-0042", "shelter", "veteran", "justice_involved",
           "experiencing_homelessness", "black")
ANSWERS = {"first_name": "Zelda", "zip": "90744", "housing": "4", "background": "1,2"}


def zelda(svc):
    p = complete_intake(svc, PHONE, "Zelda", ANSWERS)
    p.says("1")  # gender: woman
    p.says("2")  # race or ethnicity: Black
    return p


def worked_on_by_staff(client, iid: int) -> None:
    """Staff search for her by name and number, take notes and move her case with a reason."""
    assert "Zelda" in client.get("/admin/intakes?q=Zelda").get_data(as_text=True)
    client.get("/admin/intakes?q=(310) 555-0042")
    client.get(f"/admin/intakes/{iid}")
    post_form(client, f"/admin/intakes/{iid}/notes", {"text": "Zelda is at the shelter on 5th, 310-555-0042"},
              page=f"/admin/intakes/{iid}")
    move(client, iid, "contacted", reason="Called Zelda at the shelter")


def test_delete_then_yes_leaves_nothing_that_identifies_her_anywhere(staff, svc, runtime):
    before = traces(svc.db, NEEDLES)
    p = zelda(svc)
    iid = intake_id_of(p)
    worked_on_by_staff(staff, iid)
    with svc.db.writing() as s:
        sync_facets(s)
    assert left_behind(svc.db, NEEDLES, before)  # the scan does see her before the erasure

    assert "Reply YES to erase" in p.says("DELETE")
    assert "erased" in p.says("YES")

    assert left_behind(svc.db, NEEDLES, before) == {}
    with svc.db.session() as s:
        intake = s.get(Intake, iid)
        assert (intake.status, intake.eligibility, intake.is_priority, intake.first_name) == ("erased", None, None, None)
        contact = s.get(Contact, intake.contact_id)
        assert contact.erased_at is not None and "555" not in contact.address
        assert s.scalar(select(func.count()).select_from(Note)) == 0
        assert s.scalars(select(StatusChange.reason)).all() == [None]
        erasures = s.scalars(select(AuditLog).where(AuditLog.action == "erase")).all()
        assert [(e.username, e.detail["by"], e.detail["intakes"]) for e in erasures] == [(None, "person", 1)]
        assert s.scalars(select(IntakeEvent.kind).where(IntakeEvent.kind == "erased")).all() == ["erased"]
        # What stays is a count: she still started an intake this period.
        assert compute_metrics(s, runtime.bundle.flow).total.started == 1
    assert "Zelda" not in staff.get("/admin/intakes").get_data(as_text=True)
    # The same number can start afresh, as the bot promised.
    assert "Do you agree to answer a few questions?" in p.says("hi again")  # a fresh intake, from consent


def test_an_admin_erases_an_intake_and_it_is_audited(admin_client, staff, svc):
    before = traces(svc.db, NEEDLES)
    iid = intake_id_of(zelda(svc))
    worked_on_by_staff(staff, iid)
    page = f"/admin/intakes/{iid}"
    assert "Erase this intake" not in staff.get(page).get_data(as_text=True)
    assert post_form(staff, f"{page}/erase", {"confirm": "erase"}, page=page).status_code == 403
    assert "Erase this intake" in admin_client.get(page).get_data(as_text=True)
    r = post_form(admin_client, f"{page}/erase", {}, page=page, follow_redirects=True)
    assert "tick the box" in r.get_data(as_text=True)
    r = post_form(admin_client, f"{page}/erase", {"confirm": "erase"}, page=page, follow_redirects=True)
    assert "The intake is erased" in r.get_data(as_text=True)

    assert left_behind(svc.db, NEEDLES, before) == {}
    with svc.db.session() as s:
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "erase")).one()
        assert (entry.username, entry.target_id, entry.detail) == ("ada", str(iid), {"by": "staff", "intakes": 1,
                                                                                     "contacts": 1})


def test_erasing_one_intake_of_a_shared_phone_keeps_the_other_person(admin_client, svc):
    p = zelda(svc)
    first = intake_id_of(p)
    p.says("NEW")
    p.answer_until("zip", {"language": "1", "consent": "yes", "first_name": "Beto"})
    second = intake_id_of(p)
    page = f"/admin/intakes/{second}"
    post_form(admin_client, f"{page}/erase", {"confirm": "erase"}, page=page)
    with svc.db.session() as s:
        assert s.get(Intake, second).first_name is None
        assert s.get(Intake, first).first_name == "Zelda"
        assert s.get(Contact, s.get(Intake, first).contact_id).address == PHONE
    # The phone's next message starts afresh; the erased intake stays erased.
    p.says("hi")
    assert p.last.intake_id not in (first, second)
    with svc.db.session() as s:
        assert s.get(Intake, second).status == "erased"


def test_delete_by_sms_also_erases_the_same_number_on_whatsapp(svc):
    before = traces(svc.db, NEEDLES)
    on_whatsapp = complete_intake(svc, PHONE, "Zelda", ANSWERS, channel="whatsapp")
    by_sms = complete_intake(svc, PHONE, "Zelda", ANSWERS)
    by_sms.says("DELETE")
    assert "erased" in by_sms.says("YES")
    assert left_behind(svc.db, NEEDLES, before) == {}
    with svc.db.session() as s:
        assert s.scalars(select(Intake.status).order_by(Intake.id)).all() == ["erased", "erased"]
    assert "Do you agree to answer a few questions?" in on_whatsapp.says("hi")
