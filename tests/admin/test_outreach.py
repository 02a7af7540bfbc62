"""An outreach worker signs in and sees weekly counts for their own codes only: no record, name or phone number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bot.models import CaseFile, Intake, ReferralCode
from bot.referrals import SMALL_COUNT
from tests.admin.helpers import PASSWORD, complete_intake, intake_id_of, make_user, sign_in

MONDAY = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)  # 9 am in LA, a Monday


def seed(svc, n: int, start: datetime, first: int, **fields) -> list[int]:
    """Intake rows on their own phones (numbers from `first` on), written straight to the store."""
    from bot.models import Contact

    ids = []
    with svc.db.writing() as s:
        for i in range(first, first + n):
            c = Contact(channel="sms", address=f"+1626555{i:04d}", created_at=start)
            s.add(c)
            s.flush()
            it = Intake(contact_id=c.id, channel="sms", language="en", started_at=start, updated_at=start,
                        first_name=f"Person{i}", state={}, **fields)
            s.add(it)
            s.flush()
            ids.append(it.id)
    return ids


@pytest.fixture
def rosa(app, svc):
    """Rosa, an outreach worker whose account is linked to EASTLA1; Dee's code SHELTER7 is not hers."""
    rosa_id = make_user(svc, "rosa", "outreach", name="Rosa Outreach")
    dee_id = make_user(svc, "dee", "outreach", name="Dee Outreach")
    with svc.db.writing() as s:
        s.add(ReferralCode(code="EASTLA1", organisation="East LA Library", outreach_user_id=rosa_id))
        s.add(ReferralCode(code="SHELTER7", organisation="Union Rescue Mission", outreach_user_id=dee_id))
    svc.forget_referral_codes()
    c = app.test_client()
    resp = sign_in(c, "rosa")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/outreach")
    return c


def test_counts_by_week_for_her_codes_with_small_numbers_hidden(rosa, svc):
    # Week of Nov 2: 6 started, 6 completed, 5 referred, 2 enrolled. Week of Nov 9: 1 started.
    ids = seed(svc, 6, MONDAY, 0, referral_code="EASTLA1", referral_known=True, eligibility="eligible",
               completed_at=MONDAY, status="completed")
    seed(svc, 1, MONDAY + timedelta(days=7), 10, referral_code="EASTLA1", referral_known=True)
    seed(svc, 9, MONDAY, 20, referral_code="SHELTER7", referral_known=True)
    with svc.db.writing() as s:
        for i, intake_id in enumerate(ids[:5]):
            s.add(CaseFile(intake_id=intake_id, referred_program="pcc_pre_apprenticeship", referred_at=MONDAY,
                           enrolled_at=MONDAY if i < 2 else None))
    page = rosa.get("/admin/outreach").get_data(as_text=True)
    week1 = page.split("Nov 2, 2026</th>")[1].split("</tr>")[0]
    assert [c.split("</td>")[0] for c in week1.split("<td>")[1:]] == ["6", "6", "6", "5", f"&lt;{SMALL_COUNT}"]
    week2 = page.split("Nov 9, 2026</th>")[1].split("</tr>")[0]
    assert [c.split("</td>")[0] for c in week2.split("<td>")[1:]] == [f"&lt;{SMALL_COUNT}", "0", "0", "0", "0"]
    assert "SHELTER7" not in page and "Person" not in page and "+1626555" not in page


def test_a_real_intake_on_her_code_shows_as_a_count_never_as_the_person(rosa, svc):
    person = complete_intake(svc, "+13235550101", name="Maria", code="EASTLA1", start=MONDAY)
    page = rosa.get("/admin/outreach").get_data(as_text=True)
    assert "EASTLA1" in page and "Nov 2, 2026" in page
    assert "Maria" not in page and "3235550101" not in page and f"/admin/intakes/{intake_id_of(person)}" not in page


def test_every_other_admin_page_is_refused_to_her(rosa, svc):
    person = complete_intake(svc, "+13235550101", code="SHELTER7", start=MONDAY)
    for path in ("/admin/intakes", f"/admin/intakes/{intake_id_of(person)}", "/admin/intakes/export.csv",
                 "/admin/metrics", "/admin/metrics/by_referral.csv", "/admin/referral-codes",
                 "/admin/referral-codes/SHELTER7", "/admin/referral-codes/new", "/admin/programs", "/admin/audit"):
        assert rosa.get(path).status_code == 403, path
    assert rosa.get("/admin/").headers["Location"].endswith("/admin/outreach")


def test_staff_cannot_open_the_outreach_page_and_she_has_no_codes_until_linked(app, svc, staff):
    assert staff.get("/admin/outreach").status_code == 403
    make_user(svc, "noel", "outreach")
    c = app.test_client()
    sign_in(c, "noel")
    assert 'id="no-codes"' in c.get("/admin/outreach").get_data(as_text=True)


def test_staff_link_a_code_to_her_account_in_the_code_form(staff, svc, rosa):
    from tests.admin.helpers import post_form

    with svc.db.session() as s:
        from sqlalchemy import select

        from bot.models import User
        noel = make_user(svc, "noel", "outreach", name="Noel")
        assert s.scalar(select(User.role).where(User.id == noel)) == "outreach"
    resp = post_form(staff, "/admin/referral-codes/new", {"code": "LIB9", "outreach_user_id": str(noel)},
                     page="/admin/referral-codes/new")
    assert resp.status_code == 302
    staff_id = make_user(svc, "tess", "staff")
    resp = post_form(staff, "/admin/referral-codes/new", {"code": "LIB10", "outreach_user_id": str(staff_id)},
                     page="/admin/referral-codes/new")
    assert resp.status_code == 400 and "Choose an outreach-worker account" in resp.get_data(as_text=True)
    with svc.db.session() as s:
        assert s.get(ReferralCode, "LIB9").outreach_user_id == noel


def test_the_cli_makes_an_outreach_account_linked_to_its_codes(app, svc):
    from webhook.cli import create_user_command

    with svc.db.writing() as s:
        s.add(ReferralCode(code="EASTLA1"))
    with app.app_context():
        out = CliRunner().invoke(create_user_command, ["rosa", "--role", "outreach", "--code", "eastla1", "--password-stdin"],
                                 input=PASSWORD + "\n")
        assert out.exit_code == 0, out.output
        bad = CliRunner().invoke(create_user_command, ["sam", "--role", "staff", "--code", "EASTLA1", "--password-stdin"],
                                 input=PASSWORD + "\n")
        assert bad.exit_code != 0 and "outreach accounts" in bad.output
    with svc.db.session() as s:
        code = s.get(ReferralCode, "EASTLA1")
        assert code.outreach_user_id is not None and s.get(Intake, 1) is None
