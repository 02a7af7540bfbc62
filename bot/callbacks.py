"""The call-back list: who asked to be called, ordered by when their window next opens, and how the calls went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.engine import CALLBACK
from bot.models import CallBack, Contact, Intake, User

LOCAL_TZ = ZoneInfo("America/Los_Angeles")
# Local hours of each window; the weekday/weekend half says which days.
WINDOWS: dict[str, tuple[time, time]] = {"morning": (time(9), time(12)), "afternoon": (time(12), time(17)),
                                         "evening": (time(17), time(20))}
WINDOW_LABELS = {"morning": "Morning (9-12)", "afternoon": "Afternoon (12-5)", "evening": "Evening (5-8)"}
DAYS_LABELS = {"weekday": "Weekday", "weekend": "Weekend"}
OPEN = ("requested", "no_answer")
OUTCOMES = ("called", "no_answer", "reached")
STATUS_LABELS = {"requested": "Requested", "called": "Called", "no_answer": "No answer", "reached": "Reached"}
NEW_WINDOW_TEMPLATE = "callback_new_window"


class CallBackError(ValueError):
    """A call-back that is not there, or an outcome staff cannot set."""


@dataclass(frozen=True)
class CallBackRow:
    id: int
    intake_id: int
    first_name: str | None
    channel: str
    phone: str | None
    window: str
    days: str
    status: str
    attempts: int
    requested_at: datetime
    last_attempt_at: datetime | None
    opens_at: datetime  # when the window next opens (now, if it is open), in LA time


def next_opening(days: str, window: str, now: datetime) -> datetime:
    """The start of the next time this window is open in LA time, or `now` while it is open."""
    local = now.astimezone(LOCAL_TZ)
    start, end = WINDOWS.get(window, (time(9), time(20)))
    for ahead in range(8):
        day = (local + timedelta(days=ahead)).date()
        if (day.weekday() >= 5) != (days == "weekend"):
            continue
        opens = datetime.combine(day, start, LOCAL_TZ)
        closes = datetime.combine(day, end, LOCAL_TZ)
        if local < closes:
            return max(opens, local)
    raise AssertionError("every window opens within a week")


def call_back_list(s: Session, now: datetime) -> list[CallBackRow]:
    """Open call-backs, the window that opens next first, then the longest waiting."""
    rows = s.execute(select(CallBack, Intake, Contact).join(Intake, Intake.id == CallBack.intake_id)
                     .join(Contact, Contact.id == Intake.contact_id).where(CallBack.status.in_(OPEN))).all()
    out = [CallBackRow(cb.id, cb.intake_id, intake.first_name, contact.channel, cb.phone, cb.window, cb.days, cb.status,
                       cb.attempts, cb.requested_at, cb.last_attempt_at, next_opening(cb.days, cb.window, now))
           for cb, intake, contact in rows]
    return sorted(out, key=lambda r: (r.opens_at, r.requested_at, r.id))


def record_outcome(s: Session, call_back_id: int, outcome: str, user: User, ip: str | None, now: datetime) -> CallBack:
    """Records how a call went; "no answer" counts an attempt and waits for the person's new window."""
    if outcome not in OUTCOMES:
        raise CallBackError(f"unknown outcome {outcome!r}")
    cb = s.get(CallBack, call_back_id)
    if cb is None:
        raise CallBackError("there is no such call-back")
    cb.status = outcome
    cb.attempts += 1
    cb.last_attempt_at = now
    cb.updated_at = now
    if outcome == "no_answer":
        ask_for_new_window(s, cb.intake_id)
    audit(s, user, "call_back", "intake", cb.intake_id, {"call_back_id": cb.id, "outcome": outcome, "attempts": cb.attempts},
          ip, now)
    return cb


def ask_for_new_window(s: Session, intake_id: int) -> None:
    """The person's next reply answers the call-back time question, then they carry on where they were."""
    intake = s.get(Intake, intake_id)
    if intake is None:
        return
    state = dict(intake.state or {})
    if not state.get("pending"):
        # Another question waiting (stop?, resume) keeps its turn: the reply answers that one first.
        state["pending"] = f"{CALLBACK}callback_window||"
        intake.state = state
