"""Reminders in the app: staff's switch (audited), the dashboard's table per step, the CLI's dry run, the worker's scan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.metrics import compute_metrics
from bot.models import AuditLog, Contact, Intake, Message, Outbox, Reminder, utcnow
from bot.reminders import ReminderConfig, Reminders
from tests.admin.helpers import make_user, post_form, sign_in
from tests.conftest import TWILIO_SID, TWILIO_TOKEN
from tests.transcript import Person

LA = ZoneInfo("America/Los_Angeles")
ROOT = Path(__file__).resolve().parents[2]
AFTER_ZIP = {"age_range": "3", "employment": "1", "sectors": "2", "education": "2", "drivers_license": "1",
             "housing": "1", "background": "4", "needs": "7"}


def local(y: int, m: int, d: int, h: int, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=LA).astimezone(UTC)


def at_zip(svc, phone: str, start: datetime) -> Person:
    p = Person(svc, phone, start=start)
    p.says("hi")
    p.answer_until("zip", {"language": "1", "consent": "1", "first_name": "Ana"})
    return p


def intake_of(svc, p: Person) -> int:
    with svc.db.session() as s:
        return s.scalar(select(Contact.active_intake_id).where(Contact.channel == p.channel, Contact.address == p.phone))


# ---- staff's switch --------------------------------------------------------------------------------

def test_staff_switch_reminders_off_and_on_and_it_is_audited(staff, svc) -> None:
    p = at_zip(svc, "+13235550121", local(2026, 11, 2, 9))
    iid = intake_of(svc, p)
    page = staff.get(f"/admin/intakes/{iid}").get_data(as_text=True)
    assert 'id="reminders-state">On:' in page and "Switch reminders off" in page
    r = post_form(staff, f"/admin/intakes/{iid}/reminders", {"reminders": "off"}, page=f"/admin/intakes/{iid}",
                  follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "Reminders are off for this intake" in page and 'id="reminders-state">Off:' in page
    assert Reminders(svc, ReminderConfig()).scan(local(2026, 11, 3, 10), dry_run=True).nudges == []
    post_form(staff, f"/admin/intakes/{iid}/reminders", {"reminders": "on"}, page=f"/admin/intakes/{iid}")
    with svc.db.session() as s:
        assert s.get(Intake, iid).reminders_off is False
        entries = s.scalars(select(AuditLog).where(AuditLog.action == "reminders").order_by(AuditLog.id)).all()
    assert [(e.username, e.target_id, e.detail) for e in entries] == [
        ("sam", str(iid), {"reminders": "off"}), ("sam", str(iid), {"reminders": "on"})]
    [nudge] = Reminders(svc, ReminderConfig()).scan(local(2026, 11, 3, 10), dry_run=True).nudges
    assert nudge.intake_id == iid


def test_the_switch_answers_nonsense_with_400_and_partners_cannot_use_it(app, staff, svc) -> None:
    p = at_zip(svc, "+13235550122", local(2026, 11, 2, 9))
    iid = intake_of(svc, p)
    assert post_form(staff, f"/admin/intakes/{iid}/reminders", {"reminders": "maybe"},
                     page=f"/admin/intakes/{iid}").status_code == 400
    assert post_form(staff, "/admin/intakes/999999/reminders", {"reminders": "off"},
                     page=f"/admin/intakes/{iid}").status_code == 404
    make_user(svc, "pat", "partner", programs=("x",))
    partner = app.test_client()
    sign_in(partner, "pat")
    assert post_form(partner, f"/admin/intakes/{iid}/reminders", {"reminders": "off"},
                     page="/admin/intakes").status_code in (403, 404)
    with svc.db.session() as s:
        assert s.get(Intake, iid).reminders_off is False


def test_the_intake_page_lists_the_reminders_sent(staff, svc) -> None:
    p = at_zip(svc, "+13235550123", local(2026, 11, 2, 9))
    Reminders(svc, ReminderConfig()).scan(local(2026, 11, 3, 10))
    page = staff.get(f"/admin/intakes/{intake_of(svc, p)}").get_data(as_text=True)
    assert "Sent so far: step 1 on" in page


# ---- the dashboard -----------------------------------------------------------------------------------

def test_the_dashboard_shows_per_step_sent_answered_and_completed(staff, svc) -> None:
    rem = Reminders(svc, ReminderConfig())
    start = local(2026, 11, 2, 9)
    ana, ben, cy = (at_zip(svc, phone, start) for phone in ("+13235550131", "+13235550132", "+13235550133"))
    assert len(rem.scan(local(2026, 11, 3, 10)).nudges) == 3
    for p in (ana, ben, cy):
        p.now = local(2026, 11, 3, 11)
    ana.says("90011")
    ana.answer_until("gender", AFTER_ZIP)  # answered and completed after step 1
    ben.says("90011")  # answered after step 1, then quiet again at the age question
    assert len(rem.scan(local(2026, 11, 5, 10)).nudges) == 1  # cy: 72 h
    assert len(rem.scan(local(2026, 11, 6, 12)).nudges) == 1  # ben: 72 h after his answer
    cy.now = local(2026, 11, 5, 12)
    cy.says("90011")  # answered after step 2
    with svc.db.session() as s:
        m = compute_metrics(s, svc.runtime.bundle.flow, reminder_hours=(24, 72))
    assert [(r.label, r.sent, r.answered, r.completed) for r in m.reminders] == [
        ("1: after 24 hours of silence", 3, 2, 1), ("2: after 72 hours of silence", 2, 1, 0)]
    page = staff.get("/admin/metrics").get_data(as_text=True)
    table = page[page.index('id="t-reminders"'):]
    table = table[:table.index("</table>")]
    assert "1: after 24 hours of silence</th><td>3</td><td>2 (67%)</td><td>1 (33%)</td>" in table, table
    assert "2: after 72 hours of silence</th><td>2</td><td>1 (50%)</td><td>0 (0%)</td>" in table
    csv = staff.get("/admin/metrics/reminders.csv").get_data(as_text=True).splitlines()
    assert csv[0] == "Reminder step,Sent,Answered after it,Completed after it,Answer rate,Completion rate"
    assert csv[1] == "1: after 24 hours of silence,3,2,1,0.6667,0.3333"


def test_dashboard_labels_follow_the_configured_schedule(svc) -> None:
    at_zip(svc, "+13235550141", local(2026, 11, 2, 9))
    Reminders(svc, ReminderConfig()).scan(local(2026, 11, 3, 10))
    with svc.db.session() as s:
        m = compute_metrics(s, svc.runtime.bundle.flow, reminder_hours=(6, 12, 48))
        none = compute_metrics(s, svc.runtime.bundle.flow, reminder_hours=())
    assert [(r.label, r.sent) for r in m.reminders] == [
        ("1: after 6 hours of silence", 1), ("2: after 12 hours of silence", 0), ("3: after 48 hours of silence", 0)]
    # A step sent under an older schedule is still shown, with the delay it went at.
    assert [(r.label, r.sent) for r in none.reminders] == [("1: after 24 hours (no longer in the schedule)", 1)]


def test_a_reminder_the_outbox_canceled_is_not_counted_as_sent(svc) -> None:
    p = at_zip(svc, "+13235550142", local(2026, 11, 2, 9))
    Reminders(svc, ReminderConfig()).scan(local(2026, 11, 3, 10))
    with svc.db.writing() as s:
        s.execute(Message.__table__.update().where(Message.intake_id == intake_of(svc, p), Message.direction == "out",
                                                   Message.meta.is_not(None)).values(status="canceled"))
    with svc.db.session() as s:
        m = compute_metrics(s, svc.runtime.bundle.flow, reminder_hours=(24, 72))
    assert m.reminders[0].sent == 0


# ---- the command line ------------------------------------------------------------------------------------

def test_dry_run_prints_one_json_line_per_intake_and_sends_nothing(app, svc, twilio) -> None:
    ana = at_zip(svc, "+13235550151", local(2026, 11, 2, 9))
    at_zip(svc, "+13235550152", local(2026, 11, 2, 20))  # due at 20:0x on the 3rd: not yet at 10:00
    result = app.test_cli_runner().invoke(args=["reminders", "--dry-run", "--now", "2026-11-03T10:00"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"intake_id"')]
    assert [(d["intake_id"], d["channel"], d["language"], d["step"]) for d in lines] == [(intake_of(svc, ana), "sms", "en", 1)]
    assert "What is the ZIP code" in lines[0]["text"] and "STOP" in lines[0]["text"]
    assert "1 reminder would be sent" in result.stderr
    with svc.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0
        assert s.scalar(select(func.count()).select_from(Reminder)) == 0
    assert twilio.sent == []
    # At 21:30 (quiet hours) nothing would go; an offset in --now is honoured.
    late = app.test_cli_runner().invoke(args=["reminders", "--dry-run", "--now", "2026-11-03T21:30-08:00"])
    assert late.exit_code == 0 and '"intake_id"' not in late.stdout and "0 reminders would be sent" in late.stderr


def test_without_dry_run_it_sends_through_twilio_once(app, svc, twilio) -> None:
    at_zip(svc, "+13235550153", local(2026, 11, 2, 9))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["reminders", "--now", "2026-11-03T10:00"])
    again = runner.invoke(args=["reminders", "--now", "2026-11-03T10:05"])
    assert first.exit_code == 0 and again.exit_code == 0, first.output
    assert [r["To"] for r in twilio.accepted] == ["+13235550153"]
    assert "What is the ZIP code" in twilio.accepted[0]["Body"]


def test_a_bad_now_gets_a_kind_answer(app) -> None:
    result = app.test_cli_runner().invoke(args=["reminders", "--dry-run", "--now", "tomorrow"])
    assert result.exit_code == 2 and "not an ISO 8601 time" in result.output


def test_a_mistyped_setting_is_named_at_start_up(app_config) -> None:
    from webhook import ConfigError, create_app

    with pytest.raises(ConfigError, match="REMINDER_AFTER_HOURS"):
        create_app({**app_config, "REMINDER_AFTER_HOURS": "24h,72h"})


# ---- the worker ------------------------------------------------------------------------------------------

def test_the_worker_sends_due_reminders_by_itself(app_config, tmp_path, twilio) -> None:
    from webhook import create_app

    now = utcnow()
    # Quiet hours that never include the test's own minutes, whatever time of day it runs.
    here = now.astimezone(LA)
    quiet = f"{(here.hour + 3) % 24:02d}:00-{(here.hour + 4) % 24:02d}:00"
    settings = {"QUEUE_PATH": str(tmp_path / "queue.db"), "TWILIO_FROM_NUMBER": "+12135550000",
                "TWILIO_API_BASE_URL": twilio.url, "REMINDER_QUIET_HOURS": quiet, "REMINDER_SCAN_SECONDS": "10",
                "QUEUE_DRAIN_SECONDS": "0.2"}
    app = create_app({**app_config, **settings, "QUEUE_IMMEDIATE": False})
    svc = app.extensions["hrtp"]
    try:
        at_zip(svc, "+13235550161", now - timedelta(hours=25))
        env = {**os.environ, **settings, "DATABASE_URL": app_config["DATABASE_URL"], "TWILIO_ACCOUNT_SID": TWILIO_SID,
               "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "SECRET_KEY": "test-secret"}
        env.pop("QUEUE_IMMEDIATE", None)
        worker = subprocess.Popen([str(Path(sys.executable).with_name("hrtp-intake")), "worker", "--workers", "1"],
                                  env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 60
            while not twilio.accepted and time.time() < deadline:
                assert worker.poll() is None, worker.stderr.read().decode()[-2000:] if worker.stderr else ""
                time.sleep(0.1)
            assert [r["To"] for r in twilio.accepted] == ["+13235550161"]
            assert "What is the ZIP code" in twilio.accepted[0]["Body"]
        finally:
            worker.terminate()
            worker.wait(10)
    finally:
        svc.db.dispose()
