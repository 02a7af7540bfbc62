"""One turn's contact and intake as plain rows on the turn's connection, with the ORM only where a rare step needs it.

A turn reads one contact and its intake and writes back a few columns. Loaded as ORM objects in a Session, that
cost more than the conversation engine: the loader, the identity map, attribute events and the unit of work.
Here the two rows come from one prebuilt SELECT on the DBAPI cursor (their values converted by the column types'
own result processors), changes are plain attribute sets, and one UPDATE per row writes what changed. A step
that needs an ORM object (an opt-out, an erasure, a link code) asks `Turn.orm`, which writes the
turn's changes first and reads the ORM's changes back at `Turn.sync`, so both views stay one row."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, cast

from sqlalchemy import Table, bindparam, insert, select, true, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from bot.db import Prepared, wrapped_error
from bot.models import Base, Contact, Intake

_CONTACTS = cast(Table, Contact.__table__)
_INTAKES = cast(Table, Intake.__table__)


class Row:
    """A row read by the turn: its columns as attributes, and the columns changed since it was read or written."""

    model: ClassVar[type[Base]]
    table: ClassVar[Table]
    columns: ClassVar[tuple[str, ...]]

    def __init__(self, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_saved", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._values:
            raise AttributeError(f"{type(self).__name__} has no column {name!r}")
        self._values[name] = value

    def changes(self) -> dict[str, Any]:
        """The columns whose value differs from what the database holds."""
        saved = self._saved
        return {k: v for k, v in self._values.items() if v != saved[k]}

    def mark_saved(self, values: dict[str, Any] | None = None) -> None:
        self._saved.update(self._values if values is None else values)

    @classmethod
    def of(cls, obj: Any) -> Row:
        """The row of an ORM object, as the database now holds it (the object flushed)."""
        return cls({c: getattr(obj, c) for c in cls.columns})


class ContactRow(Row):
    model = Contact
    table = _CONTACTS
    columns = tuple(c.key for c in _CONTACTS.columns)


class IntakeRow(Row):
    model = Intake
    table = _INTAKES
    columns = tuple(c.key for c in _INTAKES.columns)


class Fetch:
    """A SELECT compiled once per dialect, run on the DBAPI cursor, each column converted by its type's result processor."""

    def __init__(self, stmt: Any, keys: tuple[str, ...]) -> None:
        self.prepared = Prepared(stmt, keys)
        self.types = [c.type for c in stmt.selected_columns]
        self._procs: dict[int, list[Callable[[Any], Any] | None]] = {}

    def _processors(self, dialect: Dialect) -> list[Callable[[Any], Any] | None]:
        procs = self._procs.get(id(dialect))
        if procs is None:
            procs = self._procs[id(dialect)] = [t.dialect_impl(dialect).result_processor(dialect, None) for t in self.types]
        return procs

    def one_or_none(self, conn: Connection, values: dict[str, Any]) -> list[Any] | None:
        rows = self._rows(conn, values, many=False)
        return rows[0] if rows else None

    def all(self, conn: Connection, values: dict[str, Any]) -> list[list[Any]]:
        return self._rows(conn, values, many=True)

    def _rows(self, conn: Connection, values: dict[str, Any], many: bool) -> list[list[Any]]:
        sql, convert = self.prepared.compiled(conn.dialect)
        params = convert(values)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            raw = cursor.fetchall() if many else [r for r in (cursor.fetchone(),) if r is not None]
        except conn.dialect.loaded_dbapi.Error as exc:
            raise wrapped_error(conn, sql, params, exc) from exc
        finally:
            cursor.close()
        procs = self._processors(conn.dialect)
        return [[p(v) if p is not None else v for p, v in zip(procs, row, strict=True)] for row in raw]


def _contact_and_intake(lock: bool) -> Fetch:
    where = (_CONTACTS.c.channel == bindparam("channel"), _CONTACTS.c.address == bindparam("address"))
    if not lock:
        stmt = select(_CONTACTS, _INTAKES).outerjoin(_INTAKES, _INTAKES.c.id == _CONTACTS.c.active_intake_id).where(*where)
        return Fetch(stmt, ("channel", "address"))
    # Where rows are locked (PostgreSQL), the contact and then its intake, in one round trip: the nullable side
    # of an outer join cannot be locked, and a second SELECT for the intake was a round trip every turn.
    contact = select(_CONTACTS).where(*where).with_for_update().cte("c")
    intake = (select(_INTAKES).where(_INTAKES.c.id == select(contact.c.active_intake_id).scalar_subquery())
              .with_for_update().cte("i"))
    return Fetch(select(*contact.c, *intake.c).select_from(contact.outerjoin(intake, true())), ("channel", "address"))


_CONTACT_AND_INTAKE = {False: _contact_and_intake(False), True: _contact_and_intake(True)}
_INTAKE_BY_ID = {lock: Fetch(select(_INTAKES).where(_INTAKES.c.id == bindparam("id")).with_for_update(of=_INTAKES)
                             if lock else select(_INTAKES).where(_INTAKES.c.id == bindparam("id")), ("id",))
                 for lock in (False, True)}
def _defaults(table: Table) -> dict[str, Any]:
    # Columns whose model default is a plain value (status, reminders_off, shared, ...): a new row takes it unless
    # the turn gives one, so a column added with such a default needs no change here.
    return {c.key: c.default.arg for c in table.columns if isinstance(c.default, ScalarElementColumnDefault)}


_INTAKE_DEFAULTS = _defaults(_INTAKES)
_NEW_INTAKE_KEYS = tuple(dict.fromkeys(("contact_id", "channel", "status", "review_status", "referral_code",
                                        "referral_known", "needs_contact", "started_at", "updated_at", "state",
                                        *_INTAKE_DEFAULTS)))
_INSERT_INTAKE = Prepared(insert(_INTAKES).returning(_INTAKES.c.id), _NEW_INTAKE_KEYS)
_CONTACT_DEFAULTS = _defaults(_CONTACTS)
_NEW_CONTACT_KEYS = tuple(dict.fromkeys(("channel", "address", "created_at", *_CONTACT_DEFAULTS)))
_INSERT_CONTACT = Prepared(insert(_CONTACTS).returning(_CONTACTS.c.id), _NEW_CONTACT_KEYS)


@functools.cache
def _update(table: Table, columns: tuple[str, ...]) -> Prepared:
    return Prepared(update(table).where(table.c.id == bindparam("pk_")), (*columns, "pk_"))


class Turn:
    """One turn's connection (in its transaction), the rows it read, and a Session made only when a step needs one.

    Used as a context manager inside the transaction: leaving it flushes what the Session still holds."""

    def __init__(self, conn: Connection, sessions: sessionmaker[Session]) -> None:
        self.conn = conn
        self._sessions = sessions
        self._session: Session | None = None
        # Rows handed to the ORM: the ORM object, and the values both views shared when it was handed over.
        self._twins: dict[tuple[type[Row], int], tuple[Row, Any, dict[str, Any]]] = {}
        # SQLite's writers are serialised already (bot.db); elsewhere the turn locks what it reads.
        self.locks = conn.dialect.name != "sqlite"
        self._locked: set[int] = set()

    @property
    def session(self) -> Session:
        """An ORM Session in the turn's transaction, made on first use (most turns never need one)."""
        if self._session is None:
            self._session = self._sessions(bind=self.conn)
        return self._session

    # ---- reading ------------------------------------------------------------------------------------
    def contact_and_intake(self, channel: str, address: str) -> tuple[ContactRow, IntakeRow | None] | None:
        """The contact (locked for the turn where the database locks rows) and its active intake, in one query."""
        values = _CONTACT_AND_INTAKE[self.locks].one_or_none(self.conn, {"channel": channel, "address": address})
        if values is None:
            return None
        n = len(ContactRow.columns)
        contact = ContactRow(dict(zip(ContactRow.columns, values[:n], strict=True)))
        intake = IntakeRow(dict(zip(IntakeRow.columns, values[n:], strict=True))) if values[n] is not None else None
        if intake is not None and self.locks:
            self._locked.add(intake.id)
        return contact, intake

    def intake(self, intake_id: int, lock: bool = False) -> IntakeRow | None:
        values = _INTAKE_BY_ID[lock and self.locks].one_or_none(self.conn, {"id": intake_id})
        if values is not None and lock and self.locks:
            self._locked.add(intake_id)
        return IntakeRow(dict(zip(IntakeRow.columns, values, strict=True))) if values is not None else None

    def locked(self, intake_id: int) -> bool:
        """Whether this turn holds the intake's row lock (read with it), or needs none (SQLite)."""
        return not self.locks or intake_id in self._locked

    # ---- writing ------------------------------------------------------------------------------------
    def new_contact(self, channel: str, address: str, created_at: Any) -> ContactRow:
        """Inserts a contact (a twin's first message committed first: IntegrityError) and returns its row."""
        values = {**_CONTACT_DEFAULTS, "channel": channel, "address": address, "created_at": created_at}
        new_id = _INSERT_CONTACT.run(self.conn, {k: values[k] for k in _NEW_CONTACT_KEYS})
        return ContactRow({**dict.fromkeys(ContactRow.columns), **values, "id": new_id})

    def new_intake(self, values: dict[str, Any]) -> IntakeRow:
        """Inserts an intake with these columns (the others NULL) and returns its row."""
        values = {**_INTAKE_DEFAULTS, **values}
        new_id = _INSERT_INTAKE.run(self.conn, {k: values[k] for k in _NEW_INTAKE_KEYS})
        return IntakeRow({**dict.fromkeys(IntakeRow.columns), **values, "id": new_id})

    def write(self, row: Row) -> None:
        """One UPDATE of the columns the turn changed (none: no statement)."""
        changed = row.changes()
        if changed:
            _update(row.table, tuple(sorted(changed))).run(self.conn, {**changed, "pk_": row.id})
            row.mark_saved(changed)

    # ---- the ORM, for the steps that need it -------------------------------------------------------
    def orm(self, row: Row) -> Any:
        """The row's ORM object in the turn's Session, with the turn's changes written first; `sync` reads its back."""
        key = (type(row), row.id)
        if key in self._twins:
            return self._twins[key][1]
        self.write(row)
        obj = self.session.get(row.model, row.id, populate_existing=True)
        self._twins[key] = (row, obj, dict(row._values))
        return obj

    def sync(self) -> None:
        """Flushes the ORM's pending work and reads what it changed in the turn's rows back into them."""
        if self._session is None:
            return
        self._session.flush()
        for key, (row, obj, shared) in list(self._twins.items()):
            changed = {c: getattr(obj, c) for c in row.columns if getattr(obj, c) != shared[c]}
            row._values.update(changed)
            row.mark_saved(changed)
            self._twins[key] = (row, obj, {**shared, **changed})

    def __enter__(self) -> Turn:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_exc: object) -> None:
        """The ORM's last writes, before the turn's transaction commits; on an error, the Session only closes."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if kind is None:
                session.flush()
        finally:
            session.close()
