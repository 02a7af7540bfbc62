"""The call-back list: next window first in LA time, and "called", "no answer" (asks for a new time) and "reached"."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.callbacks import call_back_list, next_opening
from bot.models import AuditLog, CallBack
from tests.admin.helpers import post_form
from tests.transcript import Person

# Monday 2026-11-02, 10:00 in Los Angeles (18:00 UTC): a weekday morning.
MONDAY_10AM = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)
ANSWERS = {"language": "1", "consent": "1", "first_name": "Ana"}


def ask_for_call(svc, phone: str, name: str, window: str) -> Person:
    p = Person(svc, phone, start=datetime(2026, 11, 1, 17, 0, tzinfo=UTC))
    p.says("hi")
    p.answer_until("zip", {**ANSWERS, "first_name": name})
    p.says("PERSON")
    assert "We'll call you" in p.says(window)
    assert p.asked == "zip"
    return p


def rows(svc) -> list[CallBack]:
    with svc.db.session() as s:
        return list(s.scalars(select(CallBack).order_by(CallBack.id)))


def test_the_next_window_opens_now_later_today_or_on_the_right_days() -> None:
    local = lambda dt: dt.astimezone(next_opening.__globals__["LOCAL_TZ"]).strftime("%a %H:%M")  # noqa: E731
    assert local(next_opening("weekday", "morning", MONDAY_10AM)) == "Mon 10:00"  # open now
    assert local(next_opening("weekday", "evening", MONDAY_10AM)) == "Mon 17:00"
    assert local(next_opening("weekend", "morning", MONDAY_10AM)) == "Sat 09:00"
    friday_9pm = datetime(2026, 11, 7, 5, 0, tzinfo=UTC)
    assert local(next_opening("weekday", "morning", friday_9pm)) == "Mon 09:00"


def test_the_list_puts_the_next_window_first(svc) -> None:
    ask_for_call(svc, "+13235550111", "Wendy", "weekend morning")
    ask_for_call(svc, "+13235550112", "Eve", "weekday evening")
    ask_for_call(svc, "+13235550113", "Mo", "weekday morning")
    with svc.db.session() as s:
        order = [r.first_name for r in call_back_list(s, MONDAY_10AM)]
    assert order == ["Mo", "Eve", "Wendy"]


def test_staff_see_the_list_and_record_called_and_reached_with_an_audit_entry(staff, svc, twilio) -> None:
    ask_for_call(svc, "+13235550121", "Rosa", "2")
    page = staff.get("/admin/callbacks").get_data(as_text=True)
    assert "Rosa" in page and "+13235550121" in page and "Weekday afternoon" in page
    [cb] = rows(svc)
    r = post_form(staff, f"/admin/callbacks/{cb.id}", {"outcome": "called"}, page="/admin/callbacks", follow_redirects=True)
    assert "Call recorded." in r.get_data(as_text=True)
    [cb] = rows(svc)
    assert (cb.status, cb.attempts) == ("called", 1)
    assert "Rosa" not in staff.get("/admin/callbacks").get_data(as_text=True)  # made: off the open list
    post_form(staff, f"/admin/callbacks/{cb.id}", {"outcome": "reached"}, page="/admin/intakes")
    [cb] = rows(svc)
    assert (cb.status, cb.attempts) == ("reached", 2)
    with svc.db.session() as s:
        details = [a.detail["outcome"] for a in s.scalars(select(AuditLog).where(AuditLog.action == "call_back"))]
    assert details == ["called", "reached"] and twilio.sent == []


def test_no_answer_counts_the_attempt_and_asks_for_a_new_time_by_text(staff, svc, twilio) -> None:
    p = ask_for_call(svc, "+13235550131", "Lupe", "weekday morning")
    [cb] = rows(svc)
    r = post_form(staff, f"/admin/callbacks/{cb.id}", {"outcome": "no_answer"}, page="/admin/callbacks", follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "the person was asked for a new time" in page
    [sent] = twilio.sent
    assert sent["To"] == "+13235550131" and sent["Body"].startswith("Sorry we missed you")
    [cb] = rows(svc)
    assert (cb.status, cb.attempts) == ("no_answer", 1)
    assert ">1</td>" in page and "No answer" in page  # still listed, with its attempt
    # The reply is read as the time question, then the intake carries on where it was.
    assert "We'll call you: Weekend evening." in p.says("weekend evening")
    assert p.asked == "zip"
    assert [(c.days, c.window, c.status) for c in rows(svc)] == [("weekday", "morning", "no_answer"),
                                                                  ("weekend", "evening", "requested")]


def test_a_bad_outcome_or_call_back_is_refused_kindly(staff, svc) -> None:
    ask_for_call(svc, "+13235550141", "Ida", "1")
    [cb] = rows(svc)
    r = post_form(staff, f"/admin/callbacks/{cb.id}", {"outcome": "lunch"}, page="/admin/callbacks", follow_redirects=True)
    assert r.status_code == 200 and "Not recorded" in r.get_data(as_text=True)
    r = post_form(staff, "/admin/callbacks/999", {"outcome": "called"}, page="/admin/callbacks", follow_redirects=True)
    assert r.status_code == 200 and "no such call-back" in r.get_data(as_text=True)


def test_the_dashboard_counts_call_backs_asked_made_and_the_completion_that_followed(staff, svc) -> None:
    from bot.metrics import compute_metrics

    done = ask_for_call(svc, "+13235550151", "Flor", "1")  # asks at ZIP, then finishes the questions
    done.answer_until("gender", {"zip": "90011", "age_range": "3", "sectors": "1", "background": "4", "needs": "7"})
    ask_for_call(svc, "+13235550152", "Gil", "2")  # asks, never finishes
    twice = ask_for_call(svc, "+13235550153", "Hal", "3")
    twice.says("PERSON")
    twice.says("4")  # asked twice: one person
    with svc.db.session() as s:
        called = s.scalars(select(CallBack).where(CallBack.intake_id == done.last.intake_id)).one().id
    post_form(staff, f"/admin/callbacks/{called}", {"outcome": "reached"}, page="/admin/callbacks")
    with svc.db.session() as s:
        counts = compute_metrics(s, svc.runtime.bundle.flow).call_backs
    assert (counts.asked, counts.made, counts.completed_after) == (3, 1, 1)
    page = staff.get("/admin/metrics").get_data(as_text=True)
    assert 'id="t-callbacks"' in page and "Asked for a call</th><td>3</td>" in page
