"""Persistence: SQLAlchemy 2 models and the database set-up shared by the web app, CLI and jobs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, MetaData, String, Text,
                        UniqueConstraint, create_engine, event, func)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
          "pk": "pk_%(table_name)s"}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
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

    intakes: Mapped[list["Intake"]] = relationship(back_populates="contact", foreign_keys="Intake.contact_id",
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

    contact: Mapped[Contact] = relationship(back_populates="intakes", foreign_keys=[contact_id])
    answers: Mapped[list["Answer"]] = relationship(back_populates="intake", cascade="all, delete-orphan",
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


class ReferralCode(Base):
    """A code outreach workers hand out ("JOIN EASTLA1"), so intakes can be traced to them."""

    __tablename__ = "referral_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    organisation: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def make_engine(url: str, echo: bool = False) -> Engine:
    """Creates the engine; SQLite gets foreign keys, WAL, a busy timeout and write-locking BEGIN."""
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        memory = url in ("sqlite://", "sqlite:///:memory:")

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling defers BEGIN; take it over so BEGIN IMMEDIATE
            # below holds the write lock for the whole message and concurrent writers queue.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the lock up front so two messages from one person queue instead of
            # failing on lock upgrade; readers (admin pages, exports) never block each other.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write_lock") else "BEGIN")
    return engine


class Database:
    """An engine and its session factory, created from a URL; the tables come from migrations (bot/migrate.py)."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session in one write transaction; on SQLite it takes the database's write lock at BEGIN."""
        with self.sessions() as session, session.begin():
            session.connection(execution_options={"write_lock": True})
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
