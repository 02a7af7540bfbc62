"""Shared helpers for admin tests: accounts, signing in with CSRF tokens, people who finish an intake."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.accounts import create_user
from bot.service import IntakeService
from tests.transcript import Person

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(service: IntakeService, username: str, role: str = "staff", programs: tuple[str, ...] = (),
              name: str | None = None) -> int:
    with service.db.writing() as s:
        return create_user(s, username, PASSWORD, role, name or username.title(), programs).id


def csrf_token(client, path: str = "/admin/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, username: str, password: str = PASSWORD):
    token = csrf_token(client)
    return client.post("/admin/login", data={"username": username, "password": password, "csrf_token": token})


def post_form(client, path: str, data: dict, page: str | None = None, **kw):
    """Posts a form the way a browser would: with the CSRF token from the page it sits on."""
    token = csrf_token(client, page or "/admin/intakes")
    return client.post(path, data={**data, "csrf_token": token}, **kw)


def complete_intake(service: IntakeService, phone: str, name: str = "Maria", answers: dict | None = None,
                    start: datetime | None = None, code: str | None = None, channel: str = "sms") -> Person:
    """A person who finishes the questions (English, consent, the given answers, "1" otherwise)."""
    p = Person(service, phone, channel=channel, start=start or datetime(2026, 11, 2, 17, 0, tzinfo=UTC))
    p.says(f"JOIN {code}" if code else "Hi")
    defaults = {"language": "1", "consent": "yes", "first_name": name, "zip": "90011", "age_range": "3",
                "sectors": "1,2", "background": "4", "needs": "1,2"}
    p.answer_until("gender", {**defaults, **(answers or {})})
    return p


def intake_id_of(person: Person) -> int:
    assert person.last is not None and person.last.intake_id is not None
    return person.last.intake_id


def later(minutes: int = 5) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def seed_intakes(service: IntakeService, n: int, start: datetime | None = None, **fields) -> list[int]:
    """Intake rows written straight to the store (for paging and counting; no conversation)."""
    from bot.models import Contact, Intake

    t0 = start or datetime(2026, 10, 1, tzinfo=UTC)
    ids = []
    with service.db.writing() as s:
        for i in range(n):
            c = Contact(channel="sms", address=f"+1626555{i:04d}", created_at=t0)
            s.add(c)
            s.flush()
            it = Intake(contact_id=c.id, channel="sms", language="en", status="completed", started_at=t0 + timedelta(minutes=i),
                        updated_at=t0, first_name=f"Person{i}", state={}, **fields)
            s.add(it)
            s.flush()
            ids.append(it.id)
    return ids
