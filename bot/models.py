"""The database schema: every SQLAlchemy model and index, so one import (`bot.models`) sees every table."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    cast,
    false,
    func,
    or_,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator
from werkzeug.security import check_password_hash, generate_password_hash

from intake_flows import catalog

NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
          "pk": "pk_%(table_name)s"}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Contact(Base):
    """A channel address (phone number, Telegram chat, web session): not a person."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_contacts_channel_address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    opted_out_at: Mapped[datetime | None]
    # Set when the person's data was erased: the address is then a placeholder, never the number.
    erased_at: Mapped[datetime | None]
    pending_delete: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(16))
    active_intake_id: Mapped[int | None] = mapped_column(ForeignKey("intakes.id", use_alter=True, ondelete="SET NULL"))
    # Several people's intakes go through this address (NEW, an outreach worker's phone): only then does a turn
    # read the others (bot.assisted), so everyone else's turn pays nothing for it.
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # "Which person is this for?" was asked on a shared phone and waits for its answer.
    picking_person: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    intakes: Mapped[list[Intake]] = relationship(back_populates="contact", foreign_keys="Intake.contact_id",
                                                   order_by="Intake.id")


class Intake(Base):
    """One person's intake: answers, screening, conversation state and where staff have taken it."""

    __tablename__ = "intakes"
    __table_args__ = (Index("ix_intakes_started_at", "started_at"), Index("ix_intakes_status", "status"),
                      # The staff list filters on these and pages newest first: (column, id) serves both.
                      Index("ix_intakes_review_status_id", "review_status", "id"),
                      Index("ix_intakes_eligibility_id", "eligibility", "id"),
                      Index("ix_intakes_language_id", "language", "id"),
                      Index("ix_intakes_channel_id", "channel", "id"),
                      Index("ix_intakes_program_choice_id", "program_choice", "id"),
                      # Counting matches per status reads only this narrow index, never the wide rows
                      # (their JSON state makes a scan of 100,000 rows slow).
                      Index("ix_intakes_list", "review_status", "eligibility", "language", "channel", "is_priority",
                            "needs_contact", "status", "referral_code", "program_choice", "started_at", "contact_id",
                            "completed_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default="incomplete")
    review_status: Mapped[str] = mapped_column(String(24), default="new")
    referral_code: Mapped[str | None] = mapped_column(String(32), index=True)
    referral_known: Mapped[bool | None]
    first_name: Mapped[str | None] = mapped_column(String(80))
    eligibility: Mapped[str | None] = mapped_column(String(16))
    is_priority: Mapped[bool | None]
    program_choice: Mapped[str | None] = mapped_column(String(64))
    needs_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    current_step: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    screening: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Staff switched reminders off for this intake (bot.reminders). Its migration adds it at the end.
    reminders_off: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The outreach worker's phone this intake was enrolled on, once the intake moved to the person's own number.
    enrolled_via_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"),
                                                                 index=True)

    contact: Mapped[Contact] = relationship(back_populates="intakes", foreign_keys=[contact_id])
    answers: Mapped[list[Answer]] = relationship(back_populates="intake", cascade="all, delete-orphan",
                                                   order_by="Answer.id")


# Name search is a prefix range on lower(first_name), which this expression index serves.
Index("ix_intakes_first_name_lower", func.lower(Intake.first_name))


class Answer(Base):
    """One canonical field's answer; `value` is an id, a list of ids, free text, or null (skipped)."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("intake_id", "field", name="uq_answers_intake_field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(40))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    step: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)

    intake: Mapped[Intake] = relationship(back_populates="answers")


class Message(Base):
    """Every message in or out, with the provider's id and, for SMS, its cost in segments."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("channel", "provider_id", name="uq_messages_channel_provider_id"),
                      Index("ix_messages_intake_id_id", "intake_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    intake_id: Mapped[int | None] = mapped_column(ForeignKey("intakes.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    channel: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    in_reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    segments: Mapped[int | None] = mapped_column(Integer)
    encoding: Mapped[str | None] = mapped_column(String(8))
    media_count: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Outbox(Base):
    """A message waiting to be sent by the job queue, written in the same transaction as the message itself."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due_at", "status", "due_at"), Index("ix_outbox_group_key", "group_key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # One row per message: the message id is the job's idempotency key.
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    # Where it goes, kept here because an erasure in the same turn replaces the contact's address; cleared when done.
    address: Mapped[str | None] = mapped_column(String(64))
    # Rows of one group (the replies to one inbound message) go out one after another, in id order.
    group_key: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | sending | sent | failed | canceled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))

    message: Mapped[Message] = relationship()


class IntakeEvent(Base):
    """What happened in an intake and when: answers, opt-outs, hand-offs; feeds staff and metrics."""

    __tablename__ = "intake_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    intake_id: Mapped[int | None] = mapped_column(ForeignKey("intakes.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OptOut(Base):
    """Each opt-out and opt-in, kept for compliance (FCC 24-24 asks that opt-outs be honoured and provable)."""

    __tablename__ = "opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "out" | "in"
    keyword: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkCode(Base):
    """A short code a web visitor texts us to carry their intake on by phone; only its keyed hash is kept."""

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # The phone (or chat) that used it: the contact the intake moved to.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))


class CallBack(Base):
    """A person asked to be called: when suits them, the number to call, and how staff's calls went."""

    __tablename__ = "call_backs"

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id", ondelete="CASCADE"), index=True)
    window: Mapped[str] = mapped_column(String(16))  # morning / afternoon / evening
    days: Mapped[str] = mapped_column(String(16))  # weekday / weekend
    # The contact's own number on SMS/WhatsApp, the one given on Telegram and the web; None when skipped.
    phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="requested")  # requested / called / no_answer / reached
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]


class Reminder(Base):
    """One reminder step for an intake, written with its message and outbox row: the unique pair makes it once only."""

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("intake_id", "step", name="uq_reminders_intake_id_step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)  # 1 = the first delay of REMINDER_AFTER_HOURS
    hours: Mapped[float] = mapped_column()  # that delay as it was configured when this was sent
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)  # enqueued; the outbox sends it right after


class ReferralCode(Base):
    """A code outreach workers hand out ("JOIN EASTLA1"), so intakes can be traced to them."""

    __tablename__ = "referral_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    organisation: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    worker: Mapped[str | None] = mapped_column(String(120))
    site: Mapped[str | None] = mapped_column(String(120))
    active_from: Mapped[date | None] = mapped_column(Date)
    active_to: Mapped[date | None] = mapped_column(Date)
    channels: Mapped[list[Any] | None] = mapped_column(JSON, default=list)  # null on codes made before channels
    # Retired codes stay known: a flyer still on a wall attributes the intake, which staff see flagged.
    retired_at: Mapped[datetime | None]
    # The outreach-worker account that sees this code's weekly counts.
    outreach_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)


class OutreachDevice(Base):
    """A phone or Telegram chat staff registered as an outreach worker's: each person it enrols is their own intake."""

    __tablename__ = "outreach_devices"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_outreach_devices_channel_address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    referral_code: Mapped[str] = mapped_column(ForeignKey("referral_codes.code", ondelete="CASCADE"), index=True)
    label: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    retired_at: Mapped[datetime | None]


# ---- staff: accounts, audit log, case files and their history -----------------------------------

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
    """Multi-valued attributes of an intake (priority categories, sectors, matches, needs) as rows, for fast filters."""

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


# ---- the program catalog and need tiers staff edit ------------------------------------------------

class ProgramRecord(Base):
    """One training program as staff see and edit it; `data` is the full catalog record."""

    __tablename__ = "programs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    sector: Mapped[str] = mapped_column(String(32), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    origin: Mapped[str] = mapped_column(String(16), default="seed")  # "seed" | "staff"
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(120))

    def to_program(self) -> catalog.Program:
        """The validated catalog program; the row's `active` flag wins over the stored JSON."""
        data = dict(self.data or {})
        data["id"] = self.id
        data["active"] = self.active
        return catalog.program_from_data(data, where=f"programs table row {self.id!r}")


class AreaTier(Base):
    """One ZIP's COVID-19 Vulnerability and Recovery Index need tier, loaded by staff from CSV."""

    __tablename__ = "area_tiers"

    zip: Mapped[str] = mapped_column(String(5), primary_key=True)
    tier: Mapped[str] = mapped_column(String(16))
    sample: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(String(255))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---- privacy -------------------------------------------------------------------------------------

class PrivacyKey(Base):
    """The key behind suppression hashes when PRIVACY_KEY is not set (one row, made on first use)."""

    __tablename__ = "privacy_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))


class Suppression(Base):
    """An opt-out that outlived its contact's erasure: a keyed hash of the address, never the address."""

    __tablename__ = "suppressions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---- indexes for the dashboard ------------------------------------------------------------------

def json_text(col: Any) -> ColumnElement[str]:
    """A JSON value as its serialised text, comparable on SQLite and PostgreSQL alike."""
    return cast(col, Text)


def answer_skipped() -> ColumnElement[bool]:
    """An answer the person skipped: SQL NULL or JSON null."""
    return or_(Answer.value.is_(None), json_text(Answer.value) == "null")


# The dashboard counts every intake of a period and every answer; these narrow indexes let SQLite count from an
# index alone and never read the wide intake rows (their JSON state and screening).
Index("ix_intakes_metrics", Intake.started_at, Intake.referral_code, Intake.eligibility, Intake.is_priority,
      Intake.completed_at)
Index("ix_intakes_status_step", Intake.status, Intake.current_step, Intake.started_at)
Index("ix_answers_step_intake", Answer.step, Answer.intake_id)
# On the answer's text: PostgreSQL's json type has no btree ordering of its own.
Index("ix_answers_field_value", Answer.field, json_text(Answer.value), Answer.intake_id)
Index("ix_answers_skipped", Answer.step, Answer.intake_id, sqlite_where=answer_skipped(), postgresql_where=answer_skipped())

