"""The staff side of an intake: accounts, audit log, workflow, referrals, notes, the list and the metrics."""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (JSON, Boolean, ColumnElement, ForeignKey, Index, Integer, String, Text, and_, case, cast, delete,
                        false, func, insert, literal, or_, select, text, true)
from sqlalchemy.engine import Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression
from werkzeug.security import check_password_hash, generate_password_hash

from intake_flows.schema import Flow, Language
from intake_flows.text import Msg

from bot.store import Answer, Base, Contact, Intake, IntakeEvent, ReferralCode, utcnow

ROLES = ("admin", "staff", "partner")

# Workflow: a person moves along the pipeline one step at a time, or leaves it; a closed case can be reopened.
PIPELINE = ("new", "contacted", "enrolled", "training_completed", "placed")
EXITS = ("not_eligible", "withdrawn", "unreachable")
STATUSES = PIPELINE + EXITS
STATUS_LABELS = {"new": "New", "contacted": "Contacted", "enrolled": "Enrolled",
                 "training_completed": "Completed training", "placed": "Placed", "not_eligible": "Not eligible",
                 "withdrawn": "Withdrawn", "unreachable": "Unreachable"}
MILESTONES = {"contacted": "contacted_at", "enrolled": "enrolled_at", "training_completed": "trained_at",
              "placed": "placed_at"}

WAGE_TARGET_CENTS = 2200  # the HRTP Fund's $22/hr target for the median wage at placement
PRIORITY_TARGET = 1.0  # the Fund's target: every person served is from a priority population
MAX_WAGE_CENTS = 50_000

LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_IP = 20

# English labels staff read; the person's own answers keep the ids the flow defines.
FIELD_LABELS = {"language": "Language", "consent": "Consent", "first_name": "First name", "zip": "ZIP code",
                "la_county": "Lives in LA County", "age_range": "Age range", "employment": "Work status",
                "sectors": "Sectors of interest", "education": "Education", "drivers_license": "Driver's license",
                "housing": "Housing", "justice_involved": "Justice involved", "veteran": "Veteran",
                "public_assistance": "Public assistance", "needs": "Supportive services needed", "gender": "Gender",
                "race_ethnicity": "Race or ethnicity", "program_choice": "Program chosen"}
YES_NO_LABELS = {"yes": "Yes", "no": "No", "prefer_not": "Prefer not to say", "none": "None of these"}
PRIORITY_LABELS = {"justice_involved": "Justice involved", "experiencing_homelessness": "Experiencing homelessness",
                   "housing_insecure": "Housing insecure", "priority_area": "High-need area", "woman": "Woman",
                   "bipoc": "BIPOC", "veteran": "Veteran", "public_assistance": "Public assistance",
                   "youth": "Youth (16-24)", "older_worker": "Older worker (55+)"}
CHANNEL_LABELS = {"sms": "SMS", "whatsapp": "WhatsApp", "telegram": "Telegram", "web": "Web"}
ELIGIBILITY_LABELS = {"eligible": "Eligible", "needs_review": "Needs review", "ineligible": "Not eligible"}
PROGRESS_LABELS = {"incomplete": "In progress", "completed": "Completed", "declined": "Declined consent",
                   "erased": "Erased by the person"}


class WorkflowError(ValueError):
    """A change staff asked for that the workflow does not allow; the message says why."""


# ---- models ------------------------------------------------------------------------------------

class User(Base):
    """A staff, admin or partner account; partners see only intakes referred to their programs."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    program_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Part of every session's id: a new one (at sign-out, a password reset) ends every session of the account.
    session_token: Mapped[str | None] = mapped_column(String(32))

    # Flask-Login reads these; defined here so `bot` stays free of Flask.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token or ''}"

    def end_sessions(self) -> None:
        """Makes every session signed in as this account invalid, including copies of its cookie."""
        self.session_token = secrets.token_hex(16)

    @property
    def is_partner(self) -> bool:
        return self.role == "partner"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class LoginAttempt(Base):
    """Each sign-in try, so repeated failures can be slowed down across processes."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_username_created", "username", "created_at"),
                      Index("ix_login_attempts_ip_created", "ip", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    """Who viewed, changed or exported personal data, when, from where; admins read it."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"), Index("ix_audit_log_user_id", "user_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    target_type: Mapped[str | None] = mapped_column(String(24))
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseFile(Base):
    """Where staff have taken an intake: assignee, referral, milestones and the placement."""

    __tablename__ = "intake_cases"
    __table_args__ = (Index("ix_intake_cases_referred_program", "referred_program", "intake_id"),
                      Index("ix_intake_cases_assignee_id", "assignee_id", "intake_id"))

    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id", ondelete="CASCADE"), primary_key=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    referred_program: Mapped[str | None] = mapped_column(String(64))
    referred_at: Mapped[datetime | None]
    contacted_at: Mapped[datetime | None]
    enrolled_at: Mapped[datetime | None]
    trained_at: Mapped[datetime | None]
    placed_at: Mapped[datetime | None]
    hourly_wage_cents: Mapped[int | None] = mapped_column(Integer)
    apprenticeship: Mapped[bool | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatusChange(Base):
    """One move in the workflow, with the wage and apprenticeship when it is a placement."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    hourly_wage_cents: Mapped[int | None] = mapped_column(Integer)
    apprenticeship: Mapped[bool | None]
    reason: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    """An intake handed to a staff member (or unassigned, when assignee is null)."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Referral(Base):
    """An intake referred to a program (its partner then sees it); a null program withdraws the referral."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id", ondelete="CASCADE"), index=True)
    program: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Note(Base):
    """A staff note on an intake."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeFacet(Base):
    """Multi-valued facts of an intake (priority categories, sectors, matches, needs) as rows, for fast filters."""

    __tablename__ = "intake_facets"
    __table_args__ = (Index("ix_intake_facets_facet_value", "facet", "value", "intake_id"),)

    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id", ondelete="CASCADE"), primary_key=True)
    facet: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)


class FacetSync(Base):
    """How far the facets have followed the intake event log."""

    __tablename__ = "facet_sync"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    synced_at: Mapped[datetime | None]


# ---- accounts ----------------------------------------------------------------------------------

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


def create_user(s: Session, username: str, password: str, role: str, display_name: str | None = None,
                program_ids: Sequence[str] = ()) -> User:
    """Creates or updates an account; the password is stored only as a salted scrypt hash."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise ValueError("usernames are 2-64 lowercase letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise ValueError("passwords need at least 10 characters")
    if role == "partner" and not program_ids:
        raise ValueError("a partner account needs at least one program id")
    user = s.scalar(select(User).where(User.username == username)) or User(username=username)
    user.display_name = (display_name or user.display_name or username).strip()[:120]
    user.role = role
    user.program_ids = sorted({p.strip() for p in program_ids if p.strip()}) if role == "partner" else []
    user.active = True
    user.set_password(password)
    user.end_sessions()
    s.add(user)
    s.flush()
    return user


def login_blocked(s: Session, username: str, ip: str, now: datetime) -> bool:
    """True while recent failures for this username or address exceed the limits."""
    since = now - LOGIN_WINDOW
    by_user = s.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.created_at >= since, LoginAttempt.ok.is_(False))) or 0
    by_ip = s.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.ip == ip, LoginAttempt.created_at >= since, LoginAttempt.ok.is_(False))) or 0
    return by_user >= MAX_FAILURES_PER_USER or by_ip >= MAX_FAILURES_PER_IP


def authenticate(s: Session, username: str, password: str, ip: str, now: datetime) -> User | None:
    """Checks a password and records the attempt; None when wrong, unknown or inactive."""
    username = username.strip().lower()[:64]
    user = s.scalar(select(User).where(User.username == username))
    ok = user is not None and user.active and user.check_password(password)
    if user is None:
        # Spend the same time as a real check so response times do not reveal which usernames exist.
        check_password_hash(_DUMMY_HASH, password)
    s.add(LoginAttempt(username=username, ip=ip[:64], ok=ok, created_at=now))
    if ok and user is not None:
        user.last_login_at = now
        if not user.session_token:
            user.end_sessions()  # an account made before session tokens existed
        return user
    return None


_DUMMY_HASH = generate_password_hash("not-a-real-password")


def audit(s: Session, user: User | None, action: str, target_type: str | None = None, target_id: Any = None,
          detail: Mapping[str, Any] | None = None, ip: str | None = None, now: datetime | None = None) -> AuditLog:
    """Writes one audit entry in the caller's transaction."""
    entry = AuditLog(user_id=user.id if user else None, username=user.username if user else None, action=action,
                     target_type=target_type, target_id=None if target_id is None else str(target_id),
                     detail=dict(detail) if detail else None, ip=(ip or "")[:64] or None, created_at=now or utcnow())
    s.add(entry)
    return entry


# ---- who sees what -----------------------------------------------------------------------------

def visible(user: User) -> ColumnElement[bool]:
    """The intakes a user may see: all for staff and admins, only their programs' referrals for partners."""
    if user.role in ("admin", "staff"):
        return true()
    if user.role == "partner" and user.program_ids:
        return Intake.id.in_(select(CaseFile.intake_id).where(CaseFile.referred_program.in_(list(user.program_ids))))
    return false()


def can_see(s: Session, user: User, intake_id: int) -> bool:
    return s.scalar(select(Intake.id).where(Intake.id == intake_id, visible(user))) is not None


# ---- workflow ----------------------------------------------------------------------------------

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
            apprenticeship = "apprenticeship" if c.apprenticeship else "not an apprenticeship"
            detail = f"${c.hourly_wage_cents / 100:,.2f}/hr, {apprenticeship}"
        if c.reason:
            detail = f"{detail}. {c.reason}" if detail else c.reason
        items.append(HistoryItem(c.created_at, "status", who(c.user_id),
                                 f"{STATUS_LABELS.get(c.from_status, c.from_status)} → "
                                 f"{STATUS_LABELS.get(c.to_status, c.to_status)}",
                                 detail))
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


# ---- facets: multi-valued facts kept as rows so filters and metrics stay fast ------------------------

FACETS = ("priority", "sector", "match", "need")
RESYNC_IDS = 200


def facets_of(screening: Mapping[str, Any] | None, answers: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The facet rows one intake should have, from its screening and answers."""
    out: set[tuple[str, str]] = set()
    sc = screening or {}
    for cat in (sc.get("priority") or {}).get("categories", []):
        out.add(("priority", str(cat)[:64]))
    for m in sc.get("matches", []) or []:
        if m.get("program"):
            out.add(("match", str(m["program"])[:64]))
    for facet, fname in (("sector", "sectors"), ("need", "needs")):
        value = answers.get(fname)
        for v in value if isinstance(value, list) else ([value] if isinstance(value, str) else []):
            if v and v not in ("none", "prefer_not"):
                out.add((facet, str(v)[:64]))
    return out


def refresh_facets(s: Session, intake_ids: Iterable[int]) -> int:
    """Recomputes the facet rows of these intakes from their current screening and answers."""
    ids = sorted(set(intake_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        answers: dict[int, dict[str, Any]] = defaultdict(dict)
        for iid, fname, value in s.execute(select(Answer.intake_id, Answer.field, Answer.value).where(
                Answer.intake_id.in_(chunk), Answer.field.in_(("sectors", "needs")))):
            answers[iid][fname] = value
        s.execute(delete(IntakeFacet).where(IntakeFacet.intake_id.in_(chunk)))
        rows: list[dict[str, Any]] = []
        for iid, screening in s.execute(select(Intake.id, Intake.screening).where(Intake.id.in_(chunk))):
            rows.extend({"intake_id": iid, "facet": f, "value": v} for f, v in sorted(facets_of(screening, answers[iid])))
        if rows:
            s.execute(insert(IntakeFacet), rows)
    return len(ids)


def sync_facets(s: Session, now: datetime | None = None) -> int:
    """Brings facets up to date with the intake event log; cheap when nothing happened."""
    now = now or utcnow()
    state = s.get(FacetSync, 1, with_for_update=True)  # one sync at a time on PostgreSQL
    if state is None:
        try:
            with s.begin_nested():
                s.add(FacetSync(id=1, last_event_id=0))
        except IntegrityError:
            pass  # a concurrent first sync created it
        state = s.get(FacetSync, 1, with_for_update=True)
        assert state is not None
    # On PostgreSQL a transaction can commit an event whose id is lower than one already seen, so
    # the last few hundred ids are looked at again (recomputing is idempotent); SQLite commits in id order.
    lookback = 0 if s.get_bind().dialect.name == "sqlite" else RESYNC_IDS
    rows = s.execute(select(IntakeEvent.id, IntakeEvent.intake_id, IntakeEvent.contact_id)
                     .where(IntakeEvent.id > state.last_event_id - lookback)).all()
    if not rows:
        return 0
    ids = {r.intake_id for r in rows if r.intake_id is not None}
    contacts = {r.contact_id for r in rows if r.intake_id is None}
    if contacts:
        ids.update(s.scalars(select(Intake.id).where(Intake.contact_id.in_(contacts))))
    refresh_facets(s, ids)
    state.last_event_id = max(state.last_event_id, max(r.id for r in rows))
    state.synced_at = now
    return len(ids)


# ---- the intake list ---------------------------------------------------------------------------

PROGRAM_ROLES = ("any", "matched", "chosen", "referred")


@dataclass
class IntakeFilter:
    """What staff filter the intake list by; empty fields do not filter."""

    status: str = ""
    progress: str = ""
    eligibility: str = ""
    priority: str = ""
    sector: str = ""
    program: str = ""
    program_role: str = "any"
    language: str = ""
    channel: str = ""
    referral_code: str = ""
    date_from: str = ""
    date_to: str = ""
    q: str = ""
    assignee: str = ""
    needs_contact: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> "IntakeFilter":
        f = cls(**{fl.name: str(args.get(fl.name) or "").strip()[:80] for fl in fields(cls)})
        if f.program_role not in PROGRAM_ROLES:
            f.program_role = "any"
        return f

    def active(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v and not (k == "program_role" and v == "any")}

    def audited(self) -> dict[str, str]:
        """The filters as the audit log keeps them: that a search happened and of which kind, never its words."""
        kept = self.active()
        if "q" in kept:
            kept["q"] = "(phone digits)" if search_digits(self.q) else "(name)"
        return kept


def _date(value: str, end: bool = False) -> datetime | None:
    try:
        d = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return None
    d = d.replace(tzinfo=timezone.utc)
    try:
        return d + timedelta(days=1) if end else d
    except OverflowError:  # 9999-12-31: nothing starts after it
        return None


def _facet(facet: str, value: str, col: Any = None) -> ColumnElement[bool]:
    return (col or (lambda c: c))(Intake.id).in_(
        select(IntakeFacet.intake_id).where(IntakeFacet.facet == facet, IntakeFacet.value == value))


def _unindexed(col: Any) -> Any:
    # SQLite's unary plus keeps a term from choosing an index, so a count scans the narrow
    # covering index ix_intakes_list instead of fetching every wide row a one-column index finds.
    return UnaryExpression(col, operator=operators.custom_op("+"), type_=col.type)


def filter_clauses(f: IntakeFilter, user: User, skip: Sequence[str] = (), covering: bool = False) -> list[ColumnElement[bool]]:
    """SQL conditions for a filter, always within what the user may see (`covering`: for SQLite counts)."""
    where: list[ColumnElement[bool]] = [visible(user)]
    col = _unindexed if covering else (lambda c: c)
    if f.status and "status" not in skip:
        where.append(col(Intake.review_status) == f.status)
    if f.progress:
        where.append(col(Intake.status) == f.progress)
    if f.eligibility:
        where.append(col(Intake.eligibility) == f.eligibility)
    if f.priority == "any":
        where.append(col(Intake.is_priority).is_(True))
    elif f.priority == "none":
        where.append(col(Intake.is_priority).is_(False))
    elif f.priority:
        where.append(_facet("priority", f.priority, col))
    if f.sector:
        where.append(_facet("sector", f.sector, col))
    if f.program:
        referred = col(Intake.id).in_(select(CaseFile.intake_id).where(CaseFile.referred_program == f.program))
        chosen = col(Intake.program_choice) == f.program
        matched = _facet("match", f.program, col)
        where.append({"matched": matched, "chosen": chosen, "referred": referred}.get(
            f.program_role, or_(matched, chosen, referred)))
    if f.language:
        where.append(col(Intake.language) == f.language)
    if f.channel:
        where.append(col(Intake.channel) == f.channel)
    if f.referral_code == "(none)":
        where.append(col(Intake.referral_code).is_(None))
    elif f.referral_code:
        where.append(col(Intake.referral_code) == f.referral_code.upper())
    if (d := _date(f.date_from)) is not None:
        where.append(col(Intake.started_at) >= d)
    if (d := _date(f.date_to, end=True)) is not None:
        where.append(col(Intake.started_at) < d)
    if f.assignee == "none":
        where.append(~col(Intake.id).in_(select(CaseFile.intake_id).where(CaseFile.assignee_id.is_not(None))))
    elif f.assignee.isascii() and f.assignee.isdigit():
        where.append(col(Intake.id).in_(select(CaseFile.intake_id).where(CaseFile.assignee_id == int(f.assignee))))
    if f.needs_contact == "yes":
        where.append(col(Intake.needs_contact).is_(True))
    if f.q:
        where.append(search_clause(f.q))
    return where


def search_digits(q: str) -> str | None:
    """The digits of a search that is the end of a phone number (four or more digits and phone punctuation)."""
    q = q.strip()
    digits = re.sub(r"\D", "", q)
    return digits if len(digits) >= 4 and not re.search(r"[^\d\s()+.-]", q) else None


def search_clause(q: str) -> ColumnElement[bool]:
    """Phone digits match the end of a number; anything else matches the start of a first name."""
    q = q.strip()
    digits = search_digits(q)
    if digits:
        contact_ids = select(Contact.id).where(Contact.address.like(f"%{digits}"))
        return Intake.contact_id.in_(contact_ids)
    low = q.lower()
    # A range on lower(first_name) uses the expression index on every backend (LIKE would not).
    return and_(func.lower(Intake.first_name) >= low, func.lower(Intake.first_name) < low + "\U0010ffff")


@dataclass
class ListRow:
    id: int
    started_at: datetime
    first_name: str | None
    address: str
    channel: str
    language: str | None
    progress: str
    review_status: str
    eligibility: str | None
    is_priority: bool | None
    referral_code: str | None
    program_choice: str | None
    referred_program: str | None
    assignee: str | None
    needs_contact: bool
    current_step: str | None
    priority: list[str] = field(default_factory=list)


@dataclass
class Page:
    rows: list[ListRow]
    total: int
    counts: dict[str, int]
    older: int | None
    newer: int | None


def list_intakes(s: Session, user: User, f: IntakeFilter, before: int | None = None, after: int | None = None,
                 limit: int = 50) -> Page:
    """One page of intakes, newest first, by keyset (`before`/`after` an id) so deep pages stay fast."""
    where = filter_clauses(f, user)
    cols = (Intake.id, Intake.started_at, Intake.first_name, Contact.address, Intake.channel, Intake.language,
            Intake.status, Intake.review_status, Intake.eligibility, Intake.is_priority, Intake.referral_code,
            Intake.program_choice, CaseFile.referred_program, User.display_name, Intake.needs_contact,
            Intake.current_step)
    q = (select(*cols).join(Contact, Contact.id == Intake.contact_id)
         .outerjoin(CaseFile, CaseFile.intake_id == Intake.id).outerjoin(User, User.id == CaseFile.assignee_id)
         .where(*where))
    if after is not None:
        q = q.where(Intake.id > after).order_by(Intake.id.asc()).limit(limit + 1)
        rows = list(s.execute(q).all())
        more = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        newer = rows[0][0] if more and rows else None
        older = rows[-1][0] if rows else None
    else:
        if before is not None:
            q = q.where(Intake.id < before)
        q = q.order_by(Intake.id.desc()).limit(limit + 1)
        rows = list(s.execute(q).all())
        more = len(rows) > limit
        rows = rows[:limit]
        older = rows[-1][0] if more and rows else None
        newer = rows[0][0] if before is not None and rows else None
    out = [ListRow(*r) for r in rows]  # type: ignore[call-arg]  # mypy cannot spread a row of 16 columns
    if out:
        prio: dict[int, list[str]] = defaultdict(list)
        for iid, value in s.execute(select(IntakeFacet.intake_id, IntakeFacet.value).where(
                IntakeFacet.intake_id.in_([r.id for r in out]), IntakeFacet.facet == "priority")):
            prio[iid].append(value)
        for r in out:
            r.priority = sorted(prio.get(r.id, []))
    if newer is not None and after is None:
        # A page reached with `before`: there is a newer page only if some visible intake is newer.
        newer = newer if s.scalar(select(Intake.id).where(*where, Intake.id > newer).limit(1)) else None
    counts = {st: 0 for st in STATUSES}
    covering = s.get_bind().dialect.name == "sqlite" and not f.q
    for st, n in s.execute(select(Intake.review_status, func.count())
                           .where(*filter_clauses(f, user, skip=("status",), covering=covering))
                           .group_by(Intake.review_status)):
        counts[st or "new"] = counts.get(st or "new", 0) + n
    total = counts.get(f.status, 0) if f.status else sum(counts.values())
    return Page(out, total, counts, older, newer)


def iter_visible_ids(s: Session, user: User, f: IntakeFilter, chunk: int = 500) -> Iterator[list[int]]:
    """Ids of every intake matching a filter, oldest first, a chunk at a time (for exports)."""
    last = 0
    where = filter_clauses(f, user)
    while True:
        ids = list(s.scalars(select(Intake.id).where(*where, Intake.id > last).order_by(Intake.id).limit(chunk)))
        if not ids:
            return
        yield ids
        last = ids[-1]


def filter_choices(s: Session, user: User, programs: Iterable[str] = ()) -> dict[str, list[str]]:
    """Drop-down values: the catalog's programs and the registered referral codes (small tables, not a scan)."""
    codes = [] if user.is_partner else list(s.scalars(select(ReferralCode.code).order_by(ReferralCode.code)))
    shown = sorted(set(programs) & set(user.program_ids)) if user.is_partner else sorted(programs)
    return {"referral_codes": codes, "programs": shown}


# ---- answers in English for staff --------------------------------------------------------------

def answer_label(flow: Flow, languages: Mapping[str, Language], field_id: str, value: Any,
                 program_names: Mapping[str, str] | None = None) -> str:
    """An answer as staff read it: option labels in English, lists joined, skips said plainly."""
    if value is None or value == []:
        return "(skipped)"
    if isinstance(value, list):
        return ", ".join(answer_label(flow, languages, field_id, v, program_names) for v in value)
    value = str(value)
    if field_id == "language":
        lang = languages.get(value)
        return f"{lang.name} ({value})" if lang else value
    if field_id == "program_choice":
        if value == "talk_to_someone":
            return "Wants to talk to someone first"
        return (program_names or {}).get(value, value)
    step = flow.by_field.get(field_id)
    if step is not None:
        if step.kind == "flags":
            return YES_NO_LABELS.get(value, value)
        opt = step.option(value)
        if opt is not None:
            return opt.label
    if field_id == "zip" and value == "none":
        return "No fixed address"
    return YES_NO_LABELS.get(value, value) if value in ("yes", "no", "prefer_not") else value


def english(msg_json: Mapping[str, Any] | None, translator: Any) -> str:
    """A stored Msg (JSON) rendered in English for staff."""
    if not msg_json:
        return ""
    return translator.render(Msg.from_json(dict(msg_json)))


# ---- metrics -----------------------------------------------------------------------------------

@dataclass
class Counts:
    """The program's indicators for one group of intakes."""

    started: int = 0
    completed: int = 0
    eligible: int = 0
    contacted: int = 0
    enrolled: int = 0
    trained: int = 0
    placed: int = 0
    apprenticeships: int = 0
    enrolled_priority: int = 0
    completed_priority: int = 0
    with_needs: int = 0
    median_wage_cents: int | None = None

    @property
    def placement_rate(self) -> float | None:
        return self.placed / self.trained if self.trained else None

    @property
    def priority_share(self) -> float | None:
        return self.enrolled_priority / self.enrolled if self.enrolled else None

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.started if self.started else None


@dataclass
class FunnelStage:
    key: str
    label: str
    count: int


@dataclass
class DropOff:
    step: str
    label: str
    question: str
    answered: int
    skipped: int
    stopped: int

    @property
    def reached(self) -> int:
        return self.answered + self.stopped

    @property
    def rate(self) -> float | None:
        return self.stopped / self.reached if self.reached else None


@dataclass
class Metrics:
    total: Counts
    by_sector: list[tuple[str, Counts]]
    by_referral: list[tuple[str, Counts]]
    funnel: list[FunnelStage]
    dropoff: list[DropOff]
    needs: list[tuple[str, int]]
    needs_base: int
    wage_target_cents: int = WAGE_TARGET_CENTS
    priority_target: float = PRIORITY_TARGET


def _json_text(col: Any) -> ColumnElement[str]:
    """A JSON value as its serialised text, comparable on SQLite and PostgreSQL alike."""
    return cast(col, Text)


def _skipped() -> ColumnElement[bool]:
    """An answer the person skipped: SQL NULL or JSON null."""
    return or_(Answer.value.is_(None), _json_text(Answer.value) == "null")


# The dashboard counts every intake of a period and every answer; these narrow indexes let SQLite count from an
# index alone and never read the wide intake rows (their JSON state and screening).
Index("ix_intakes_metrics", Intake.started_at, Intake.referral_code, Intake.eligibility, Intake.is_priority,
      Intake.completed_at)
Index("ix_intakes_status_step", Intake.status, Intake.current_step, Intake.started_at)
Index("ix_answers_step_intake", Answer.step, Answer.intake_id)
# On the answer's text: PostgreSQL's json type has no btree ordering of its own.
Index("ix_answers_field_value", Answer.field, _json_text(Answer.value), Answer.intake_id)
Index("ix_answers_skipped", Answer.step, Answer.intake_id, sqlite_where=_skipped(), postgresql_where=_skipped())

# The Counts fields that are a yes/no fact about one intake, as bits of a mask (bit i is FACTS[i]).
FACTS = ("completed", "eligible", "contacted", "enrolled", "trained", "placed", "apprenticeships", "enrolled_priority",
         "completed_priority", "with_needs")
SECTOR_SEP = "\x1f"  # between the sectors of one intake; no option id contains it


def _facts() -> list[ColumnElement[bool]]:
    """The conditions behind FACTS, over an intake outer-joined to its case file."""
    done = Intake.completed_at.is_not(None)
    priority = Intake.is_priority.is_(True)
    return [done, Intake.eligibility == "eligible", CaseFile.contacted_at.is_not(None),
            CaseFile.enrolled_at.is_not(None), CaseFile.trained_at.is_not(None), CaseFile.placed_at.is_not(None),
            and_(CaseFile.placed_at.is_not(None), CaseFile.apprenticeship.is_(True)),
            and_(CaseFile.enrolled_at.is_not(None), priority), and_(done, priority),
            Intake.id.in_(select(IntakeFacet.intake_id).where(IntakeFacet.facet == "need"))]


def _sectors() -> Any:
    """The intake's sectors of interest as one string, so intakes can be grouped by the set they picked."""
    return (select(func.aggregate_strings(IntakeFacet.value, SECTOR_SEP))
            .where(IntakeFacet.intake_id == Intake.id, IntakeFacet.facet == "sector").scalar_subquery())


def _median(values: list[int]) -> int | None:
    if not values:
        return None
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) // 2


def _period(date_from: str, date_to: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if (d := _date(date_from)) is not None:
        where.append(Intake.started_at >= d)
    if (d := _date(date_to, end=True)) is not None:
        where.append(Intake.started_at < d)
    return where


IdFilter = Callable[[Any], list[ColumnElement[bool]]]


def _period_ids(s: Session, period: Sequence[ColumnElement[bool]]) -> IdFilter:
    """Keeps an intake-id column (of answers, facets) to the intakes started in the period.

    Ids grow with time, so a period's intakes are usually exactly the intakes of one id range; the range is then
    the filter, which an index ending in intake_id reads directly instead of testing each row for membership."""
    if not period:
        return lambda col: []
    lo, hi, n = s.execute(select(func.min(Intake.id), func.max(Intake.id), func.count()).where(*period)).one()
    if not n:
        return lambda col: [false()]
    if s.scalar(select(func.count()).select_from(Intake).where(_unindexed(Intake.id).between(lo, hi))) == n:
        return lambda col: [col.between(lo, hi)]
    ids = select(Intake.id).where(*period)
    return lambda col: [col.in_(ids)]


@dataclass
class _Group:
    """The intakes of one dashboard row: how many share each mask of FACTS, and their wages at placement."""

    masks: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    wages: list[int] = field(default_factory=list)

    def add(self, mask: int, wage: int | None, n: int) -> None:
        self.masks[mask] += n
        if wage is not None:
            self.wages.extend([wage] * n)

    def merge(self, other: "_Group") -> None:
        for mask, n in other.masks.items():
            self.masks[mask] += n
        self.wages.extend(other.wages)

    def counts(self) -> Counts:
        c = Counts(started=sum(self.masks.values()), median_wage_cents=_median(self.wages))
        for bit, name in enumerate(FACTS):
            setattr(c, name, sum(n for mask, n in self.masks.items() if mask >> bit & 1))
        return c


def _intake_groups(s: Session, period: Sequence[ColumnElement[bool]]) -> Result[str | None, str | None, int, int | None, int]:
    """Intakes counted by referral code, set of sectors, mask of FACTS and wage at placement, in one pass.

    Every count on the dashboard's tables is a sum over these few thousand rows, so each intake is read once, from
    narrow indexes (ix_intakes_metrics and the keys of the case files and facets), never from its wide row."""
    mask = sum((case((cond, 1 << bit), else_=0) for bit, cond in enumerate(_facts())), literal(0))
    wage = case((CaseFile.placed_at.is_not(None), CaseFile.hourly_wage_cents))
    per_intake = (select(Intake.referral_code.label("code"), _sectors().label("sectors"), mask.label("mask"),
                         wage.label("wage"))
                  .outerjoin(CaseFile, CaseFile.intake_id == Intake.id).where(*period))
    if s.get_bind().dialect.name == "sqlite":
        # A LIMIT keeps SQLite from merging this into the grouping, which would run the per-intake lookups twice.
        per_intake = per_intake.limit(-1)
    t = per_intake.subquery()
    keys = (t.c.code, t.c.sectors, t.c.mask, t.c.wage)
    return s.execute(select(*keys, func.count()).group_by(*keys))


def compute_metrics(s: Session, flow: Flow, date_from: str = "", date_to: str = "") -> Metrics:
    """Every indicator from the data: the tables sum intakes grouped in SQL by what tells them apart."""
    if s.get_bind().dialect.name == "postgresql":
        # JIT-compiling these one-off aggregates takes PostgreSQL longer than running them at this size.
        s.execute(text("SET LOCAL jit = off"))
    period = _period(date_from, date_to)
    of_period = _period_ids(s, period)
    cells: dict[tuple[str, str | None], _Group] = defaultdict(_Group)
    for code, sectors, mask, wage, n in _intake_groups(s, period):
        cells[code if code is not None else "(none)", sectors].add(mask, wage, n)
    everyone = _Group()
    by_code: dict[str, _Group] = defaultdict(_Group)
    by_sector: dict[str, _Group] = defaultdict(_Group)
    for (code, sectors), cell in cells.items():
        for g in (everyone, by_code[code], *(by_sector[v] for v in (sectors.split(SECTOR_SEP) if sectors else ()))):
            g.merge(cell)
    total = everyone.counts()
    step = flow.by_field.get("sectors")
    order = [o.id for o in step.options] if step else []
    sector_counts = sorted(((k, g.counts()) for k, g in by_sector.items()),
                           key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0]))
    by_referral = sorted(((k, g.counts()) for k, g in by_code.items()),
                         key=lambda kv: (kv[0] == "(none)", -kv[1].started, kv[0]))

    consented = s.scalar(select(func.count()).select_from(Answer).where(
        Answer.field == "consent", _json_text(Answer.value) == '"yes"', *of_period(Answer.intake_id)))
    funnel = [FunnelStage("started", "Started", total.started),
              FunnelStage("consented", "Agreed to answer", int(consented or 0)),
              FunnelStage("completed", "Completed the questions", total.completed),
              FunnelStage("eligible", "Screened eligible", total.eligible),
              FunnelStage("contacted", "Contacted by staff", total.contacted),
              FunnelStage("enrolled", "Enrolled", total.enrolled),
              FunnelStage("trained", "Completed training", total.trained),
              FunnelStage("placed", "Placed in a job", total.placed)]

    needs_counts = dict(s.execute(select(IntakeFacet.value, func.count()).where(
        IntakeFacet.facet == "need", *of_period(IntakeFacet.intake_id)).group_by(IntakeFacet.value)).all())
    needs_step = flow.by_field.get("needs")
    needs = [(o.id, int(needs_counts.get(o.id, 0))) for o in (needs_step.options if needs_step else ()) if o.id != "none"]
    needs_base = s.scalar(select(func.count()).select_from(Answer).where(
        Answer.field == "needs", *of_period(Answer.intake_id)))
    return Metrics(total, sector_counts, by_referral, funnel, dropoff(s, flow, period, of_period), needs,
                   int(needs_base or 0))


def dropoff(s: Session, flow: Flow, period: Sequence[ColumnElement[bool]] = (),
            of_period: IdFilter | None = None) -> list[DropOff]:
    """Per question: how many answered, skipped, and stopped there without finishing (still at that step)."""
    where = (of_period or _period_ids(s, period))(Answer.intake_id)
    if where:
        # Within a period, naming the steps lets SQLite read each step's slice of the (step, intake_id) index
        # instead of sorting the period's answers; for all time a plain scan of that index is quicker.
        where.append(Answer.step.in_([st.id for st in flow.steps if st.kind not in ("result", "end")]))
    counts = dict(s.execute(select(Answer.step, func.count()).where(*where).group_by(Answer.step)).all())
    skips = dict(s.execute(select(Answer.step, func.count()).where(_skipped(), *where).group_by(Answer.step)).all())
    answered = {step: (int(n), int(skips.get(step, 0))) for step, n in counts.items()}
    # Flags steps store one answer per field: count intakes, not answers.
    for st in flow.steps:
        if st.kind == "flags":
            at_step = select(func.count(func.distinct(Answer.intake_id))).where(Answer.step == st.id, *where)
            answered[st.id] = (int(s.scalar(at_step) or 0), int(s.scalar(at_step.where(_skipped())) or 0))
    sq = select(Intake.current_step, func.count()).where(Intake.status == "incomplete", Intake.current_step.is_not(None),
                                                          *period).group_by(Intake.current_step)
    stopped = {k: int(n) for k, n in s.execute(sq)}
    out = []
    for st in flow.steps:
        if st.kind in ("result", "end"):
            continue
        label = FIELD_LABELS.get(st.field or "", st.id.replace("_", " ").capitalize()) if st.kind != "flags" \
            else "Background (veteran, justice, public assistance)"
        a, sk = answered.get(st.id, (0, 0))
        out.append(DropOff(st.id, label, st.prompt or "", a, sk, stopped.get(st.id, 0)))
    return out
