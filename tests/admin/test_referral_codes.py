"""Staff add, edit and retire referral codes in the admin; each shows its links; late use is attributed and flagged."""

from __future__ import annotations

from datetime import UTC, date, datetime

from click.testing import CliRunner
from sqlalchemy import select

from bot.models import AuditLog, Intake, ReferralCode
from tests.admin.helpers import complete_intake, intake_id_of, later, make_user, post_form, sign_in

NEW = "/admin/referral-codes/new"


def add_code(client, code: str = "eastla1", **fields):
    data = {"code": code, "organisation": "East LA Library", "worker": "Rosa", "site": "Job fair",
            "active_from": "", "active_to": "", "channels": ["sms", "web"], "note": "", **fields}
    return post_form(client, NEW, data, page=NEW)


def test_staff_add_a_code_normalised_to_upper_case_and_see_its_three_links(staff, svc, app):
    app.config["TELEGRAM_BOT_USERNAME"] = "hrtp_la_bot"
    resp = add_code(staff, " eastla1 ")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/referral-codes/EASTLA1")
    page = staff.get("/admin/referral-codes/EASTLA1").get_data(as_text=True)
    assert "JOIN EASTLA1 to +12135550000" in page
    assert "https://intake.example.org/apply?ref=EASTLA1" in page
    assert "https://t.me/hrtp_la_bot?start=EASTLA1" in page
    listing = staff.get("/admin/referral-codes").get_data(as_text=True)
    assert "EASTLA1" in listing and "East LA Library" in listing and "Rosa" in listing
    with svc.db.session() as s:
        row = s.get(ReferralCode, "EASTLA1")
        assert row is not None and row.channels == ["sms", "web"] and row.site == "Job fair"
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "referral_code_saved"))
        assert entry is not None and entry.username == "sam" and entry.target_id == "EASTLA1"


def test_a_bad_code_gets_a_clear_error_on_the_form_and_nothing_is_saved(staff, svc):
    for bad, words in (("EAST LA", "characters it cannot have"), ("ÉCOLE", "characters it cannot have"),
                       ("A" * 33, "at most 32 characters"), ("", "Enter a code"), ("-X1", "Start the code")):
        resp = add_code(staff, bad)
        assert resp.status_code == 400
        assert words in resp.get_data(as_text=True), bad
    resp = add_code(staff, "OK1", active_from="2026-12-10", active_to="2026-12-01")
    assert "The end date is before the start date." in resp.get_data(as_text=True)
    resp = add_code(staff, "OK1", active_to="12/01/2026")
    assert "Enter a date like 2026-12-01." in resp.get_data(as_text=True)
    with svc.db.session() as s:
        assert s.scalars(select(ReferralCode)).all() == []


def test_a_code_that_exists_is_not_overwritten_by_add(staff, svc):
    add_code(staff, "EASTLA1")
    resp = add_code(staff, "EASTLA1", organisation="Someone else")
    assert resp.status_code == 400 and "already exists" in resp.get_data(as_text=True)
    with svc.db.session() as s:
        assert s.get(ReferralCode, "EASTLA1").organisation == "East LA Library"


def test_the_form_needs_its_csrf_token(staff, svc):
    resp = staff.post(NEW, data={"code": "EASTLA1"})
    assert resp.status_code == 400
    with svc.db.session() as s:
        assert s.get(ReferralCode, "EASTLA1") is None


def test_staff_edit_a_code_and_the_edit_is_audited(staff, svc):
    add_code(staff)
    page = "/admin/referral-codes/EASTLA1"
    resp = post_form(staff, page, {"organisation": "Union Rescue Mission", "worker": "Dee", "site": "",
                                   "active_from": "2026-11-01", "active_to": "2026-11-30", "channels": ["telegram"],
                                   "note": "Dec drive"}, page=page)
    assert resp.status_code == 302
    with svc.db.session() as s:
        row = s.get(ReferralCode, "EASTLA1")
        assert (row.organisation, row.worker, row.active_to, row.channels) == ("Union Rescue Mission", "Dee",
                                                                                date(2026, 11, 30), ["telegram"])
        assert [e.detail["how"] for e in s.scalars(select(AuditLog).where(AuditLog.target_type == "referral_code"))] == [
            "created", "edited"]


def test_retired_codes_leave_the_active_list_and_stay_known_to_the_bot(staff, svc):
    add_code(staff)
    assert 'id="retire"' in staff.get("/admin/referral-codes/EASTLA1").get_data(as_text=True)
    resp = post_form(staff, "/admin/referral-codes/EASTLA1/retire", {}, page="/admin/referral-codes/EASTLA1")
    assert resp.status_code == 302
    staff.get("/admin/referral-codes")  # shows the flash
    assert "<code>EASTLA1</code>" not in staff.get("/admin/referral-codes").get_data(as_text=True)
    assert "<code>EASTLA1</code>" in staff.get("/admin/referral-codes?show=retired").get_data(as_text=True)
    retired = staff.get("/admin/referral-codes/EASTLA1")
    assert retired.status_code == 200 and "Referral code EASTLA1 (retired)" in retired.get_data(as_text=True)
    assert post_form(staff, "/admin/referral-codes/EASTLA1", {"organisation": "x"}).status_code == 409
    svc.forget_referral_codes()
    person = complete_intake(svc, "+13235550101", code="EASTLA1", start=later(1))
    with svc.db.session() as s:
        intake = s.get(Intake, intake_id_of(person))
        assert (intake.referral_code, intake.referral_known) == ("EASTLA1", True)
        assert s.scalar(select(AuditLog).where(AuditLog.action == "referral_code_retired")) is not None
    page = staff.get(f"/admin/intakes/{intake_id_of(person)}").get_data(as_text=True)
    assert 'id="referral-flag"' in page and "used after the code was retired" in page


def test_a_code_used_after_its_end_date_is_attributed_and_flagged_and_one_in_its_dates_is_not(staff, svc):
    add_code(staff, "FAIR1", active_from="2026-11-01", active_to="2026-11-15")
    svc.forget_referral_codes()
    late = complete_intake(svc, "+13235550102", code="FAIR1", start=datetime(2026, 11, 20, 18, tzinfo=UTC))
    on_time = complete_intake(svc, "+13235550103", code="FAIR1", start=datetime(2026, 11, 10, 18, tzinfo=UTC))
    with svc.db.session() as s:
        assert s.get(Intake, intake_id_of(late)).referral_known is True
    page = staff.get(f"/admin/intakes/{intake_id_of(late)}").get_data(as_text=True)
    assert "used after the code&#39;s end date (Nov 15, 2026)" in page
    assert 'id="referral-flag"' not in staff.get(f"/admin/intakes/{intake_id_of(on_time)}").get_data(as_text=True)


def test_partners_cannot_open_or_change_referral_codes(app, svc, staff):
    add_code(staff)
    make_user(svc, "pat", "partner", programs=("x",))
    c = app.test_client()
    sign_in(c, "pat")
    assert c.get("/admin/referral-codes").status_code == 403
    assert c.get(NEW).status_code == 403
    assert c.get("/admin/referral-codes/EASTLA1").status_code == 403


def test_the_cli_uses_the_same_rule_and_upper_cases(app, svc):
    runner = CliRunner()
    from webhook.cli import add_referral_code_command

    with app.app_context():
        bad = runner.invoke(add_referral_code_command, ["EAST LA"])
        assert bad.exit_code != 0 and "characters it cannot have" in bad.output
        ok = runner.invoke(add_referral_code_command, ["shelter7", "--org", "Union Rescue Mission"])
    assert ok.exit_code == 0, ok.output
    assert "JOIN SHELTER7" in ok.output
    with svc.db.session() as s:
        assert s.get(ReferralCode, "SHELTER7").organisation == "Union Rescue Mission"


def test_the_dashboard_and_its_csv_name_each_codes_organisation_and_worker(staff, svc):
    import csv
    import io

    add_code(staff, "EASTLA1", organisation="East LA Library", worker="Rosa")
    rosa = make_user(svc, "rosa", "outreach", name="Rosa Account")
    add_code(staff, "SHELTER7", organisation="Union Rescue Mission", worker="", outreach_user_id=str(rosa))
    svc.forget_referral_codes()
    complete_intake(svc, "+13235550101", code="EASTLA1")
    complete_intake(svc, "+13235550102", code="EASTLA1")
    complete_intake(svc, "+13235550103", code="SHELTER7")
    complete_intake(svc, "+13235550104")
    page = staff.get("/admin/metrics").get_data(as_text=True)
    table = page.split('id="t-by_referral"')[1].split("</table>")[0]
    assert "<th scope=\"col\">Organisation</th><th scope=\"col\">Outreach worker</th>" in table
    assert "East LA Library" in table and "Rosa Account" in table
    rows = list(csv.reader(io.StringIO(staff.get("/admin/metrics/by_referral.csv").get_data(as_text=True))))
    assert rows[0][:4] == ["Referral code", "Organisation", "Outreach worker", "Intakes started"]
    assert [r[:4] for r in rows[1:]] == [["EASTLA1", "East LA Library", "Rosa", "2"],
                                         ["SHELTER7", "Union Rescue Mission", "Rosa Account", "1"],
                                         ["(none)", "", "", "1"]]
