"""The dashboard's SMS budget: a warning at 80% of SMS_SEGMENT_BUDGET, and saying so when it is reached."""

from __future__ import annotations

import re

import pytest

from bot.models import Contact, Message, utcnow


@pytest.fixture
def app_config(app_config: dict) -> dict:
    return {**app_config, "SMS_SEGMENT_BUDGET": 1000}


def spend(svc, segments: int) -> None:
    with svc.db.writing() as s:
        contact = Contact(channel="sms", address="+13235550398")
        s.add(contact)
        s.flush()
        s.add(Message(contact_id=contact.id, direction="out", channel="sms", text="x", segments=segments,
                      encoding="GSM-7", status="delivered", created_at=utcnow()))


def banner(page: str) -> str | None:
    found = re.search(r'<p class="flash [^"]*" role="\w+" id="sms-budget">(.*?)</p>', page, re.S)
    return found.group(1) if found else None


def test_under_80_percent_says_nothing(staff, svc) -> None:
    spend(svc, 790)
    assert banner(staff.get("/admin/metrics").get_data(as_text=True)) is None


def test_at_80_percent_staff_are_warned(staff, svc) -> None:
    spend(svc, 800)
    text = banner(staff.get("/admin/metrics").get_data(as_text=True))
    assert text and "80% used: 800 of 1,000 segments" in text and "reminders stop" in text


def test_at_100_percent_it_says_reminders_stopped_and_replies_do_not(staff, svc) -> None:
    spend(svc, 1000)
    page = staff.get("/admin/metrics").get_data(as_text=True)
    text = banner(page)
    assert text and "SMS budget reached: 1,000 of 1,000 segments" in text and "replies to people who text still go out" in text
    assert 'role="alert" id="sms-budget"' in page


def test_without_a_budget_there_is_no_banner(app, staff, svc) -> None:
    svc.settings.sms_segment_budget = 0
    spend(svc, 10**6)
    assert banner(staff.get("/admin/metrics").get_data(as_text=True)) is None
