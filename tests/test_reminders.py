"""Reminders as transcripts: a person who stops at the ZIP question hears from us at 24 and 72 hours, by day only."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.accounts import create_user
from bot.db import Database
from bot.models import Contact, Intake, Message, Outbox, Reminder, User
from bot.outbound import SendResult
from bot.outbox import Courier, default_transport
from bot.reminders import ReminderConfig, ReminderConfigError, Reminders, due_step, set_reminders_off
from bot.service import IntakeService, Settings
from bot.whatsapp import WhatsAppTemplates
from bot.workflow import change_status
from tests.transcript import Person

LA = ZoneInfo("America/Los_Angeles")
ZIP_PROMPT = "What is the ZIP code where you live or stay? If you have no fixed address, reply NONE."
BEFORE_ZIP = {"language": "1", "consent": "1", "first_name": "Ana"}
AFTER_ZIP = {"age_range": "3", "employment": "1", "sectors": "2", "education": "2", "drivers_license": "1",
             "housing": "1", "background": "4", "needs": "7"}


class Phones:
    """A fake sender for every channel: what reached which address, in order."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str, str]] = []

    def send(self, channel: str, address: str, text: str) -> SendResult:
        self.got.append((channel, address, text))
        return SendResult(f"SM{len(self.got):06d}", "queued")


def local(y: int, m: int, d: int, h: int, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=LA).astimezone(UTC)


class Nudger:
    """The scan and the outbox's courier on a fake clock: `at(t)` scans at t and sends what it enqueued."""

    def __init__(self, service: IntakeService, config: ReminderConfig | None = None,
                 whatsapp: WhatsAppTemplates | None = None) -> None:
        self.phones = Phones()
        self.reminders = Reminders(service, config or ReminderConfig(), whatsapp=whatsapp)
        self.service = service
        self.now = datetime(2000, 1, 1, tzinfo=UTC)
        self.courier = Courier(service.db, default_transport({c: self.phones for c in ("sms", "whatsapp", "telegram")}),
                               clock=lambda: self.now.timestamp())

    def at(self, when: datetime, dry_run: bool = False) -> list[str]:
        """The texts that reached people from a scan at `when`."""
        self.now = when
        before = len(self.phones.got)
        report = self.reminders.scan(when, dry_run=dry_run)
        for outbox_id in report.outbox_ids:
            self.courier.deliver(outbox_id)
        return [text for _, _, text in self.phones.got[before:]]


def stopped_at_zip(service: IntakeService, phone: str = "+13235550101", start: datetime | None = None,
                   channel: str = "sms", answers: dict | None = None, first: str = "hi") -> Person:
    """Someone who answered up to the ZIP question and went quiet."""
    p = Person(service, phone, channel=channel, start=start or local(2026, 11, 2, 9))
    p.says(first)
    p.answer_until("zip", {**BEFORE_ZIP, **(answers or {})})
    return p


def reminders(service: IntakeService) -> list[tuple[int, int]]:
    with service.db.session() as s:
        return [(r.intake_id, r.step) for r in s.scalars(select(Reminder).order_by(Reminder.id))]


def test_stopped_at_zip_gets_a_nudge_at_24_and_72_hours_by_day(service: IntakeService) -> None:
    ana = stopped_at_zip(service)
    quiet_since = ana.now  # 9:02 in Los Angeles
    n = Nudger(service)
    assert n.at(quiet_since + timedelta(hours=23, minutes=59)) == []
    [first] = n.at(quiet_since + timedelta(hours=24, minutes=1))
    assert ZIP_PROMPT in first and "Reply STOP to end messages." in first
    assert n.at(quiet_since + timedelta(hours=24, minutes=6)) == []  # the scan runs again: step 1 went already
    assert n.at(quiet_since + timedelta(hours=50)) == []
    [second] = n.at(quiet_since + timedelta(hours=72, minutes=1))
    assert ZIP_PROMPT in second
    assert n.at(quiet_since + timedelta(hours=96)) == [] and n.at(quiet_since + timedelta(days=10)) == []
    assert [step for _, step in reminders(service)] == [1, 2]
    assert [(c, a) for c, a, _ in n.phones.got] == [("sms", "+13235550101")] * 2
    with service.db.session() as s:
        metas = [m.meta for m in s.scalars(select(Message).where(Message.direction == "out", Message.created_at > quiet_since))]
    # A later layer (WhatsApp templates) tells reminders apart by this.
    assert metas == [{"kind": "reminder", "step": 1}, {"kind": "reminder", "step": 2}]


def test_a_nudge_due_at_23_00_goes_at_8_00_the_next_morning(service: IntakeService) -> None:
    night = stopped_at_zip(service, start=local(2026, 11, 3, 22, 59))
    assert night.now.astimezone(LA).hour == 23  # went quiet at 23:00 and a little
    n = Nudger(service)
    assert n.at(night.now + timedelta(hours=24, minutes=1)) == []  # 23:0x the next night: quiet hours
    assert n.at(local(2026, 11, 5, 3)) == []
    assert n.at(local(2026, 11, 5, 7, 59)) == []
    [text] = n.at(local(2026, 11, 5, 8, 0))
    assert ZIP_PROMPT in text


def test_nothing_goes_in_quiet_hours_even_when_long_due(service: IntakeService) -> None:
    stopped_at_zip(service, start=local(2026, 11, 2, 12))
    n = Nudger(service)
    assert n.at(local(2026, 11, 3, 21, 0)) == [] and n.at(local(2026, 11, 4, 2)) == []
    assert len(n.at(local(2026, 11, 4, 8, 30))) == 1


def test_replying_after_a_nudge_carries_on_at_the_zip_question(service: IntakeService) -> None:
    ana = stopped_at_zip(service)
    n = Nudger(service)
    ana.wait(hours=24, minutes=5)
    assert len(n.at(ana.now)) == 1
    said = ana.says("90011")
    assert ana.asked == "age_range", said
    ana.answer_until("gender", AFTER_ZIP)
    with service.db.session() as s:
        intake = s.scalar(select(Intake))
        assert intake.completed_at is not None and intake.state["answers"]["zip"] == "90011"


def test_replying_after_the_72_hour_nudge_keeps_the_answer_and_goes_on(service: IntakeService) -> None:
    ana = stopped_at_zip(service)
    n = Nudger(service)
    assert len(n.at(ana.now + timedelta(hours=24, minutes=1))) == 1
    ana.wait(hours=72, minutes=5)
    assert len(n.at(ana.now)) == 1
    said = ana.says("90011")
    assert "Welcome back! I kept that answer." in said and ana.asked == "age_range"


def test_a_spanish_speaker_on_whatsapp_is_nudged_only_through_an_approved_template(service: IntakeService) -> None:
    stopped_at_zip(service, "+13235550111", channel="whatsapp", first="español",
                   answers={"language": "español", "consent": "si"})
    # A day of silence closes WhatsApp's 24-hour window: without an approved reminder template a nudge could only fail.
    assert Nudger(service).reminders.scan(local(2026, 11, 3, 10), dry_run=True).nudges == []
    approved = WhatsAppTemplates(sids={"reminder": {"en": "HX" + "1" * 32, "es": "HX" + "2" * 32}})
    [nudge] = Nudger(service, whatsapp=approved).reminders.scan(local(2026, 11, 3, 10), dry_run=True).nudges
    assert (nudge.channel, nudge.language, nudge.step) == ("whatsapp", "es", 1)
    assert "STOP" in nudge.text and "código postal" in nudge.text and "HRTP del Condado de LA" in nudge.text
    # How it then goes as the template's ContentSid: tests/admin/test_whatsapp_window.py.


def test_telegram_people_get_their_nudge_too(service: IntakeService) -> None:
    stopped_at_zip(service, "555001", channel="telegram")
    n = Nudger(service)
    assert len(n.at(local(2026, 11, 3, 10))) == 1 and n.phones.got[0][:2] == ("telegram", "555001")


def test_web_visitors_get_none_there_is_no_way_to_reach_them(service: IntakeService) -> None:
    stopped_at_zip(service, "web-visitor-1", channel="web")
    assert Nudger(service).at(local(2026, 11, 3, 10)) == []


def _stop(p: Person, service: IntakeService) -> None:
    p.says("STOP")


def _delete_asked(p: Person, service: IntakeService) -> None:
    p.says("DELETE")  # asked to confirm, and silent since: nothing goes meanwhile


def _deleted(p: Person, service: IntakeService) -> None:
    p.says("DELETE")
    p.says("YES")


def _whatsapp_stop(p: Person, service: IntakeService) -> None:
    Person(service, p.phone, channel="whatsapp", start=p.now).says("STOP")


def _completed(p: Person, service: IntakeService) -> None:
    p.says("90011")
    p.answer_until("gender", AFTER_ZIP)


def _staff_closed(p: Person, service: IntakeService) -> None:
    with service.db.writing() as s:
        user = create_user(s, "sam", "correct horse battery", "staff", "Sam")
        intake = s.scalar(select(Intake))
        change_status(s, intake, "withdrawn", user, p.now)


def _switched_off(p: Person, service: IntakeService) -> None:
    with service.db.writing() as s:
        user = create_user(s, "sam", "correct horse battery", "staff", "Sam")
        assert set_reminders_off(s, s.scalar(select(Intake)), True, user, "127.0.0.1", p.now)


def _asked_for_a_call(p: Person, service: IntakeService) -> None:
    p.says("PERSON")
    p.says("weekday morning")


@pytest.mark.parametrize("what", [_stop, _delete_asked, _deleted, _whatsapp_stop, _completed, _staff_closed,
                                  _switched_off, _asked_for_a_call])
def test_no_nudge_after(service: IntakeService, what) -> None:
    p = stopped_at_zip(service)
    what(p, service)
    n = Nudger(service)
    for hours in (24.5, 30, 72.5, 80):
        assert n.at(p.now + timedelta(hours=hours)) == [], what.__name__
    assert reminders(service) == []


def test_no_nudge_after_declining_or_before_agreeing(service: IntakeService) -> None:
    no = Person(service, "+13235550102", start=local(2026, 11, 2, 9))
    no.says("hi")
    no.answer_until("consent", BEFORE_ZIP)
    no.says("no")
    unsure = Person(service, "+13235550103", start=local(2026, 11, 2, 9))
    unsure.says("hi")
    unsure.answer_until("consent", BEFORE_ZIP)
    with service.db.session() as s:
        assert sorted(s.scalars(select(Intake.status))) == ["declined", "incomplete"]
    n = Nudger(service)
    assert n.at(local(2026, 11, 3, 10)) == [] and n.at(local(2026, 11, 5, 10)) == []


def test_switched_back_on_it_picks_up_the_schedule_without_stale_nudges(service: IntakeService) -> None:
    p = stopped_at_zip(service)
    _switched_off(p, service)
    n = Nudger(service)
    assert n.at(p.now + timedelta(hours=25)) == []
    with service.db.writing() as s:
        user = s.scalar(select(User))
        assert set_reminders_off(s, s.scalar(select(Intake)), False, user, None, p.now)
    # Step 1's time passed more than REMINDER_LATE_HOURS ago: it is passed over, and step 2 goes in its turn.
    assert n.at(p.now + timedelta(hours=60)) == []
    assert len(n.at(p.now + timedelta(hours=72, minutes=1))) == 1
    assert [step for _, step in reminders(service)] == [2]


def test_a_nudge_waiting_in_the_outbox_is_not_sent_once_the_person_answered(service: IntakeService) -> None:
    ana = stopped_at_zip(service)
    n = Nudger(service)
    ana.wait(hours=24, minutes=5)
    report = n.reminders.scan(ana.now)
    assert len(report.outbox_ids) == 1
    ana.says("90011")
    n.now = ana.now
    assert n.courier.deliver(report.outbox_ids[0]) == "canceled" and n.phones.got == []


def test_a_nudge_waiting_in_the_outbox_is_not_sent_after_stop(service: IntakeService) -> None:
    ana = stopped_at_zip(service)
    n = Nudger(service)
    ana.wait(hours=24, minutes=5)
    report = n.reminders.scan(ana.now)
    Person(service, ana.phone, channel="whatsapp", start=ana.now).says("STOP")
    n.now = ana.now + timedelta(minutes=1)
    assert n.courier.deliver(report.outbox_ids[0]) == "canceled" and n.phones.got == []


def test_a_dry_run_lists_and_sends_nothing(service: IntakeService) -> None:
    ana = stopped_at_zip(service)
    n = Nudger(service)
    at = ana.now + timedelta(hours=24, minutes=1)
    report = n.reminders.scan(at, dry_run=True)
    [nudge] = report.nudges
    with service.db.session() as s:
        intake_id = s.scalar(select(Intake.id))
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0
    assert nudge.to_json() | {"text": "", "due_at": ""} == {
        "intake_id": intake_id, "channel": "sms", "language": "en", "step": 1, "after_hours": 24.0, "stopped_at": "zip",
        "due_at": "", "segments": nudge.segments, "text": ""}
    assert ZIP_PROMPT in nudge.text and reminders(service) == [] and report.outbox_ids == []
    assert len(n.at(at)) == 1  # and the real scan still sends it


def test_a_budget_reached_exactly_stops_telegram_reminders_too(db: Database, runtime) -> None:
    service = IntakeService(db, runtime, Settings(idle_timeout=timedelta(hours=48), sms_segment_budget=500))
    stopped_at_zip(service, "555002", channel="telegram")
    at = local(2026, 11, 3, 10)
    _spend(service, 500, at - timedelta(hours=1))
    report = Reminders(service, ReminderConfig()).scan(at)
    assert report.budget_stopped and report.nudges == [] and reminders(service) == []


def _spend(service: IntakeService, segments: int, now: datetime) -> None:
    with service.db.writing() as s:
        contact = Contact(channel="sms", address="+13235550398")
        s.add(contact)
        s.flush()
        s.add(Message(contact_id=contact.id, direction="out", channel="sms", text="x", segments=segments,
                      encoding="GSM-7", status="delivered", created_at=now))


def test_the_sms_budget_reached_stops_reminders_but_never_replies(db: Database, runtime) -> None:
    service = IntakeService(db, runtime, Settings(idle_timeout=timedelta(hours=48), sms_segment_budget=200))
    ana = stopped_at_zip(service, "+13235550101")
    ben = stopped_at_zip(service, "+13235550104")
    n = Nudger(service)
    at = local(2026, 11, 3, 10)
    [one] = n.reminders.scan(at, dry_run=True).nudges[:1]
    with service.db.session() as s:
        used = s.scalar(select(func.sum(Message.segments)).where(Message.direction == "out"))
    # Room for exactly one nudge: the first goes, the second waits for next month's budget.
    _spend(service, 200 - used - one.segments, at - timedelta(hours=1))
    report = n.reminders.scan(at)
    assert len(report.outbox_ids) == 1 and report.budget_stopped
    assert n.at(at + timedelta(minutes=5)) == []
    # The person still gets every answer.
    assert ben.says("90011") and ben.asked == "age_range"
    assert ana is not None


def test_two_workers_scanning_at_once_send_each_step_once(tmp_path, runtime) -> None:
    from bot.migrate import fresh_sqlite

    db = Database(fresh_sqlite(tmp_path / "race.db"))
    try:
        service = IntakeService(db, runtime, Settings(idle_timeout=timedelta(hours=48)))
        for i in range(6):
            stopped_at_zip(service, f"+1323555020{i}")
        at = local(2026, 11, 3, 10)
        _race(service, at)
        _race(service, at + timedelta(minutes=5))
        assert sorted(reminders(service)) == [(i, 1) for i in range(1, 7)]
        with service.db.session() as s:
            assert s.scalar(select(func.count()).select_from(Outbox)) == 6
    finally:
        db.dispose()


def test_two_workers_on_postgresql_send_each_step_once(pg_db: Database, runtime) -> None:
    service = IntakeService(pg_db, runtime, Settings(idle_timeout=timedelta(hours=48)))
    for i in range(6):
        stopped_at_zip(service, f"+1323555030{i}")
    _race(service, local(2026, 11, 3, 10))
    assert len(reminders(service)) == 6 and {step for _, step in reminders(service)} == {1}
    with service.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Outbox)) == 6


def _race(service: IntakeService, at: datetime) -> None:
    """Four scanners, each its own Reminders as in separate worker processes, started together."""
    go = threading.Barrier(4)

    def scan() -> None:
        go.wait()
        Reminders(service, ReminderConfig()).scan(at)

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(scan) for _ in range(4)]:
            future.result()  # a scan's exception fails the test here


# ---- the schedule itself ------------------------------------------------------------------------

def test_settings_are_read_and_bad_ones_named() -> None:
    cfg = ReminderConfig.parse("12, 48,96", "22-7", "America/New_York", "6")
    assert cfg.after_hours == (12.0, 48.0, 96.0) and cfg.late_hours == 6.0 and str(cfg.tz) == "America/New_York"
    assert ReminderConfig.parse("off").after_hours == ()
    assert ReminderConfig.parse().after_hours == (24.0, 72.0)
    for bad, name in (("72,24", "REMINDER_AFTER_HOURS"), ("soon", "REMINDER_AFTER_HOURS")):
        with pytest.raises(ReminderConfigError, match=name):
            ReminderConfig.parse(bad)
    with pytest.raises(ReminderConfigError, match="REMINDER_QUIET_HOURS"):
        ReminderConfig.parse(quiet_hours="late")
    with pytest.raises(ReminderConfigError, match="REMINDER_TZ"):
        ReminderConfig.parse(tz="Mars/Olympus")


def test_quiet_hours_move_a_nudge_to_the_morning_across_a_clock_change() -> None:
    cfg = ReminderConfig()
    # 2027-03-14: clocks go forward in Los Angeles at 2:00.
    assert cfg.next_allowed(local(2027, 3, 13, 23, 30)) == datetime(2027, 3, 14, 8, tzinfo=LA)
    assert cfg.next_allowed(local(2027, 3, 14, 1, 30)) == datetime(2027, 3, 14, 8, tzinfo=LA)
    assert cfg.next_allowed(local(2027, 3, 14, 20, 59)) == local(2027, 3, 14, 20, 59)


def test_a_late_first_step_is_never_followed_at_once_by_the_second() -> None:
    cfg = ReminderConfig()
    quiet = local(2026, 11, 2, 9)
    # Step 1 went late (at 30 h); step 2 waits its 48-hour gap from it, not 72 h from the silence alone.
    sent = {1: quiet + timedelta(hours=30)}
    assert due_step(cfg, quiet, sent, quiet + timedelta(hours=73)) is None
    assert due_step(cfg, quiet, sent, quiet + timedelta(hours=78, minutes=1)) == (2, quiet + timedelta(hours=78))
