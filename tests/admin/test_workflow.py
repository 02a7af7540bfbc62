"""Taking an intake from new to placed, assignment, referral to a partner, notes, all attributed."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.models import AuditLog, CaseFile, Intake, StatusChange
from bot.workflow import allowed_transitions
from tests.admin.helpers import complete_intake, intake_id_of, make_user, post_form, sign_in


def status(svc, intake_id: int) -> str:
    with svc.db.session() as s:
        return s.get(Intake, intake_id).review_status


def move(client, intake_id: int, to: str, **extra):
    page = f"/admin/intakes/{intake_id}"
    return post_form(client, f"/admin/intakes/{intake_id}/status", {"status": to, **extra}, page=page,
                     follow_redirects=True)


def test_a_staff_member_takes_an_intake_from_new_to_placed(staff, svc):
    iid = intake_id_of(complete_intake(svc, "+13235550101", "Maria"))
    for to in ("contacted", "enrolled", "training_completed"):
        r = move(staff, iid, to)
        assert r.status_code == 200 and status(svc, iid) == to
    r = move(staff, iid, "placed", hourly_wage="24.50", apprenticeship="yes", reason="Hired by IBEW Local 11")
    assert "Status is now placed" in r.get_data(as_text=True)
    with svc.db.session() as s:
        cf = s.get(CaseFile, iid)
        changes = list(s.scalars(select(StatusChange).where(StatusChange.intake_id == iid).order_by(StatusChange.id)))
    assert (cf.hourly_wage_cents, cf.apprenticeship) == (2450, True)
    assert all((cf.contacted_at, cf.enrolled_at, cf.trained_at, cf.placed_at))
    assert [(c.from_status, c.to_status) for c in changes] == [
        ("new", "contacted"), ("contacted", "enrolled"), ("enrolled", "training_completed"), ("training_completed", "placed")]
    page = r.get_data(as_text=True)
    assert "Completed training → Placed" in page and "$24.50/hr, apprenticeship" in page and "Sam Staff" in page
    assert "Hired by IBEW Local 11" in page


def test_the_workflow_refuses_skips_and_placements_without_a_wage(staff, svc):
    iid = intake_id_of(complete_intake(svc, "+13235550101", "Maria"))
    r = move(staff, iid, "placed", hourly_wage="30", apprenticeship="no")
    assert "cannot become placed" in r.get_data(as_text=True) and status(svc, iid) == "new"
    for to in ("contacted", "enrolled", "training_completed"):
        move(staff, iid, to)
    assert "needs the hourly wage" in move(staff, iid, "placed", apprenticeship="no").get_data(as_text=True)
    assert "whether it is an apprenticeship" in move(staff, iid, "placed", hourly_wage="30").get_data(as_text=True)
    assert "must be a number" in move(staff, iid, "placed", hourly_wage="lots").get_data(as_text=True)
    assert status(svc, iid) == "training_completed"


def test_closed_cases_can_be_reopened():
    assert allowed_transitions("new") == ("contacted", "not_eligible", "withdrawn", "unreachable")
    assert allowed_transitions("enrolled") == ("training_completed", "withdrawn", "unreachable")
    assert allowed_transitions("unreachable") == ("contacted",)
    assert allowed_transitions("placed") == ()


def test_assign_and_refer_are_recorded_with_who_and_when(staff, svc):
    iid = intake_id_of(complete_intake(svc, "+13235550101", "Maria"))
    kim = make_user(svc, "kim", "staff", name="Kim Caseworker")
    page = f"/admin/intakes/{iid}"
    post_form(staff, f"/admin/intakes/{iid}/assign", {"assignee": str(kim)}, page=page)
    r = post_form(staff, f"/admin/intakes/{iid}/refer", {"program": "pcc_pre_apprenticeship"}, page=page,
                  follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "Assigned to Kim Caseworker" in html and "Referred to PCC Pre-Apprenticeship Certificate" in html
    with svc.db.session() as s:
        cf = s.get(CaseFile, iid)
        actions = [(a.action, a.detail) for a in s.scalars(select(AuditLog).where(AuditLog.action.in_(("assign", "refer"))))]
    assert cf.assignee_id == kim and cf.referred_program == "pcc_pre_apprenticeship"
    assert actions == [("assign", {"assignee": "kim"}), ("refer", {"program": "pcc_pre_apprenticeship"})]
    mine = staff.get(f"/admin/intakes?assignee={kim}").get_data(as_text=True)
    assert f'href="/admin/intakes/{iid}"' in mine


def test_notes_are_kept_with_their_author(staff, svc):
    iid = intake_id_of(complete_intake(svc, "+13235550101", "Maria"))
    r = post_form(staff, f"/admin/intakes/{iid}/notes", {"text": "Prefers calls after 5pm."},
                  page=f"/admin/intakes/{iid}", follow_redirects=True)
    assert re.search(r'Sam Staff</small><br><span dir="auto">Prefers calls after 5pm.</span>', r.get_data(as_text=True))
    r = post_form(staff, f"/admin/intakes/{iid}/notes", {"text": "   "}, page=f"/admin/intakes/{iid}", follow_redirects=True)
    assert "cannot be empty" in r.get_data(as_text=True)


def test_a_partner_sees_only_intakes_referred_to_their_programs(app, staff, svc):
    referred = intake_id_of(complete_intake(svc, "+13235550101", "Maria"))
    other = intake_id_of(complete_intake(svc, "+13235550102", "Kim"))
    elsewhere = intake_id_of(complete_intake(svc, "+13235550103", "Luis"))
    post_form(staff, f"/admin/intakes/{referred}/refer", {"program": "pcc_pre_apprenticeship"}, page=f"/admin/intakes/{referred}")
    post_form(staff, f"/admin/intakes/{elsewhere}/refer", {"program": "caregiver_advancement"},
              page=f"/admin/intakes/{elsewhere}")
    make_user(svc, "pat", "partner", programs=("pcc_pre_apprenticeship",), name="Pat Partner")
    pat = app.test_client()
    sign_in(pat, "pat")
    page = pat.get("/admin/intakes").get_data(as_text=True)
    assert f'href="/admin/intakes/{referred}"' in page
    assert f'href="/admin/intakes/{other}"' not in page and f'href="/admin/intakes/{elsewhere}"' not in page
    assert ">1</strong> intake match" in page
    assert pat.get(f"/admin/intakes/{referred}").status_code == 200
    assert pat.get(f"/admin/intakes/{other}").status_code == 404
    assert pat.get(f"/admin/intakes/{elsewhere}").status_code == 404
    csv_lines = pat.get("/admin/intakes/export.csv").get_data(as_text=True).strip().splitlines()
    assert [line.split(",")[0] for line in csv_lines[1:]] == [str(referred)]
    # Partners record progress on their referrals, but do not refer, assign, message or see county reports.
    assert move(pat, referred, "contacted").status_code == 200 and status(svc, referred) == "contacted"
    assert post_form(pat, f"/admin/intakes/{other}/status", {"status": "contacted"}).status_code == 404
    for path in (f"/admin/intakes/{referred}/refer", f"/admin/intakes/{referred}/assign", f"/admin/intakes/{referred}/messages"):
        assert post_form(pat, path, {"program": "x"}, page=f"/admin/intakes/{referred}").status_code == 403
    assert pat.get("/admin/metrics").status_code == 403
    assert pat.get("/admin/programs").status_code == 403
    # Withdrawing the referral takes it out of the partner's view again.
    post_form(staff, f"/admin/intakes/{referred}/refer", {"program": ""}, page=f"/admin/intakes/{referred}")
    assert pat.get(f"/admin/intakes/{referred}").status_code == 404
