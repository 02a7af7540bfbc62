"""Where staff take an intake: the status pipeline, assignment, referral, notes and the history of it all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.labels import STATUS_LABELS
from bot.models import Assignment, CaseFile, Intake, Note, Referral, StatusChange, User, utcnow

# A person moves along the pipeline one step at a time, or leaves it; a closed case can be reopened.
PIPELINE = ("new", "contacted", "enrolled", "training_completed", "placed")
EXITS = ("not_eligible", "withdrawn", "unreachable")
STATUSES = PIPELINE + EXITS
MILESTONES = {"contacted": "contacted_at", "enrolled": "enrolled_at", "training_completed": "trained_at",
              "placed": "placed_at"}

MAX_WAGE_CENTS = 50_000


class WorkflowError(ValueError):
    """A change staff asked for that the workflow does not allow; the message says why."""


def allowed_transitions(current: str) -> tuple[str, ...]:
    """Where an intake can go next from its current status."""
    if current in EXITS:
        return ("contacted",)
    if current not in PIPELINE:
        return ("contacted", *EXITS)
    i = PIPELINE.index(current)
    nxt = PIPELINE[i + 1:i + 2]
    exits = tuple(e for e in EXITS if not (e == "not_eligible" and i >= PIPELINE.index("enrolled")))
    return nxt + exits if current != "placed" else ()


def case_file(s: Session, intake_id: int, create: bool = True) -> CaseFile | None:
    row = s.get(CaseFile, intake_id)
    if row is None and create:
        row = CaseFile(intake_id=intake_id, updated_at=utcnow())
        s.add(row)
        s.flush()
    return row


def change_status(s: Session, intake: Intake, to: str, user: User, now: datetime, wage_cents: int | None = None,
                  apprenticeship: bool | None = None, reason: str | None = None) -> StatusChange:
    """Moves an intake along the workflow; a placement needs the hourly wage and whether it is an apprenticeship."""
    current = intake.review_status or "new"
    if to not in STATUSES:
        raise WorkflowError(f"unknown status {to!r}")
    if to not in allowed_transitions(current):
        raise WorkflowError(f"an intake that is {STATUS_LABELS.get(current, current).lower()} cannot become "
                            f"{STATUS_LABELS[to].lower()}")
    if to == "placed":
        if wage_cents is None or not 100 <= wage_cents <= MAX_WAGE_CENTS:
            raise WorkflowError("a placement needs the hourly wage, between $1 and $500")
        if apprenticeship is None:
            raise WorkflowError("a placement needs to say whether it is an apprenticeship")
    else:
        wage_cents, apprenticeship = None, None
    cf = case_file(s, intake.id)
    assert cf is not None
    milestone = MILESTONES.get(to)
    if milestone and getattr(cf, milestone) is None:
        setattr(cf, milestone, now)
    if to == "placed":
        cf.hourly_wage_cents, cf.apprenticeship = wage_cents, apprenticeship
    cf.updated_at = now
    intake.review_status = to
    change = StatusChange(intake_id=intake.id, from_status=current, to_status=to, hourly_wage_cents=wage_cents,
                          apprenticeship=apprenticeship, reason=(reason or "").strip()[:2000] or None, user_id=user.id,
                          created_at=now)
    s.add(change)
    return change


def assign(s: Session, intake: Intake, assignee: User | None, user: User, now: datetime) -> Assignment:
    """Hands an intake to a staff member, or takes it off everyone's list."""
    if assignee is not None and assignee.role not in ("admin", "staff"):
        raise WorkflowError("intakes are assigned to staff members")
    cf = case_file(s, intake.id)
    assert cf is not None
    cf.assignee_id = assignee.id if assignee else None
    cf.updated_at = now
    row = Assignment(intake_id=intake.id, assignee_id=cf.assignee_id, user_id=user.id, created_at=now)
    s.add(row)
    return row


def refer(s: Session, intake: Intake, program: str | None, user: User, now: datetime) -> Referral:
    """Refers an intake to a program, whose partner staff then see it; None withdraws the referral."""
    cf = case_file(s, intake.id)
    assert cf is not None
    cf.referred_program = program
    cf.referred_at = now if program else None
    cf.updated_at = now
    row = Referral(intake_id=intake.id, program=program, user_id=user.id, created_at=now)
    s.add(row)
    return row


def add_note(s: Session, intake: Intake, user: User, text: str, now: datetime) -> Note:
    text = text.strip()
    if not text:
        raise WorkflowError("a note cannot be empty")
    note = Note(intake_id=intake.id, user_id=user.id, text=text[:5000], created_at=now)
    s.add(note)
    return note


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    kind: str  # status | assignment | referral | note
    who: str
    text: str
    detail: str = ""


def history(s: Session, intake_id: int, program_names: Mapping[str, str] | None = None) -> list[HistoryItem]:
    """Every staff change and note on an intake, oldest first, each with who and when."""
    names = dict(s.execute(select(User.id, User.display_name)).all())
    who = lambda uid: names.get(uid, "(deleted user)") if uid else "(system)"  # noqa: E731
    pn = program_names or {}
    items: list[HistoryItem] = []
    for c in s.scalars(select(StatusChange).where(StatusChange.intake_id == intake_id)):
        detail = ""
        if c.to_status == "placed" and c.hourly_wage_cents is not None:
            kind = ", apprenticeship" if c.apprenticeship else ", not an apprenticeship"
            detail = f"${c.hourly_wage_cents / 100:,.2f}/hr" + kind
        if c.reason:
            detail = f"{detail}. {c.reason}" if detail else c.reason
        change = f"{STATUS_LABELS.get(c.from_status, c.from_status)} → {STATUS_LABELS.get(c.to_status, c.to_status)}"
        items.append(HistoryItem(c.created_at, "status", who(c.user_id), change, detail))
    for a in s.scalars(select(Assignment).where(Assignment.intake_id == intake_id)):
        items.append(HistoryItem(a.created_at, "assignment", who(a.user_id),
                                 f"Assigned to {names.get(a.assignee_id, '?')}" if a.assignee_id else "Unassigned"))
    for r in s.scalars(select(Referral).where(Referral.intake_id == intake_id)):
        items.append(HistoryItem(r.created_at, "referral", who(r.user_id),
                                 f"Referred to {pn.get(r.program, r.program)}" if r.program else "Referral withdrawn"))
    for n in s.scalars(select(Note).where(Note.intake_id == intake_id)):
        items.append(HistoryItem(n.created_at, "note", who(n.user_id), n.text))
    items.sort(key=lambda i: i.at)
    return items
