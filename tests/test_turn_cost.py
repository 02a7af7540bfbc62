"""What a turn costs, counted in statements and never timed: the regressions bench/turns.py would show as turns/s."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, insert, select, text

from bot.db import Database, Prepared
from bot.models import Intake, IntakeEvent, Message
from bot.service import IntakeService
from tests.transcript import Person

# BEGIN, the contact and intake, the inbound message, the turn's answers and events, the intake's UPDATE, the
# replies, COMMIT: 8 for one answer and one reply; the turn that screens records three answers and sends three.
MOST_PER_TURN = 14
# What else an ordinary turn may run (SQLite's trace shows each row of an executemany as a statement of its own).
ROW_WRITES = ("INSERT INTO messages ", "INSERT INTO answers ", "INSERT INTO intake_events ")
ANSWERS = {"language": "1", "consent": "1", "first_name": "Ana", "zip": "90011"}


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement the database's connections run meanwhile, as SQLite sees them (the driver's too)."""
    seen: list[str] = []
    db.dispose()  # new connections (the turns' own one too), each with the trace below

    def trace(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_trace_callback(seen.append)

    event.listen(db.engine, "connect", trace)
    try:
        yield seen
    finally:
        event.remove(db.engine, "connect", trace)
        db.dispose()


def test_a_turn_of_an_intake_runs_a_handful_of_statements(service: IntakeService, db: Database) -> None:
    person = Person(service, "+13235550177")
    person.says("hi")  # the first turn makes the contact and its intake (and seeds the catalog): more work, once
    person.says("1")  # and the next checks the seeded catalog once
    counts = []
    for _ in range(12):
        step = person.asked
        if step is None:
            break
        with statements(db) as seen:
            person.says(ANSWERS.get(step, "1"))
        counts.append(len(seen))
        assert len(seen) <= MOST_PER_TURN, (step, seen)
        fixed = [s.split(" SET ")[0].split(" FROM ")[0] for s in seen if not s.startswith(ROW_WRITES)]
        assert fixed[:2] == ["BEGIN IMMEDIATE", fixed[1]] and fixed[1].startswith("SELECT") and fixed[-1] == "COMMIT", seen
        assert len(fixed) - len(set(fixed)) == 0 and len(fixed) <= 5, (step, fixed)  # one UPDATE per row at most
    assert len(counts) >= 8 and counts.count(8) >= 6, counts  # the trace saw the turns; most are the plain 8


def test_an_ordinary_turn_reads_the_contact_and_intake_in_one_select(service: IntakeService, db: Database) -> None:
    person = Person(service, "+13235550178")
    person.says("hi")
    person.says("1")
    with statements(db) as seen:
        person.says("1")
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "JOIN intakes" in reads[0], seen


def test_prepared_statements_store_what_core_stores(db: Database) -> None:
    """Prepared runs below SQLAlchemy's execution layer; the bind conversions must still be the column types' own."""
    now = datetime(2026, 11, 2, 17, 0, 1, 250, tzinfo=UTC)
    meta: dict[str, Any] = {"asks": "zip", "buttons": [{"value": "a", "number": 1, "label": "Ñandú 東京"}]}
    row = {"contact_id": 1, "intake_id": None, "kind": "answer_recorded", "created_at": now}
    cols = ("contact_id", "intake_id", "kind", "data", "created_at")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO contacts (id, channel, address, created_at, pending_delete) "
                          "VALUES (1, 'sms', '+13235550100', '2026-11-02 17:00:00', 0)"))
        for data in (meta, None):
            conn.execute(insert(IntakeEvent), {**row, "data": data})
            Prepared(insert(IntakeEvent.__table__), cols).run(conn, {**row, "data": data})
        stored = conn.execute(text("SELECT data, created_at FROM intake_events ORDER BY id")).all()
    assert stored[0] == stored[1] and stored[2] == stored[3], stored
    assert json.loads(stored[0][0]) == meta and stored[2][0] == "null"  # what JSON(none_as_null=False) keeps


def test_a_prepared_statement_knows_whether_it_returns_a_row(db: Database) -> None:
    """Read from the statement, not the cursor: the id of a RETURNING insert comes back, a plain one returns None."""
    from bot.models import Contact

    table = Contact.__table__
    values = {"channel": "sms", "address": "+13235550190", "created_at": datetime(2026, 11, 2, 17, 0, tzinfo=UTC),
              "pending_delete": False, "shared": False, "picking_person": False}
    returning = Prepared(insert(table).returning(table.c.id), tuple(values))
    plain = Prepared(insert(table), tuple(values))
    assert returning.returns_rows and not plain.returns_rows
    with db.write_connection() as conn:
        first = returning.run(conn, values)
        assert plain.run(conn, {**values, "address": "+13235550191"}) is None
        assert returning.run(conn, {**values, "address": "+13235550192"}) == first + 2


def test_prepared_refuses_a_column_whose_default_it_would_skip() -> None:
    from sqlalchemy.dialects import sqlite

    stmt = Prepared(insert(Message.__table__), ("contact_id", "direction", "channel"))
    try:
        stmt.compiled(sqlite.dialect())
    except ValueError as exc:
        assert "media_count" in str(exc) and "created_at" in str(exc)
    else:
        raise AssertionError("a Prepared INSERT left Message's Python-side defaults unset")


def test_the_turns_rows_follow_what_the_orm_changed(service: IntakeService, db: Database) -> None:
    """STOP changes the contact through the ORM (bot.privacy), START lifts it: the plain rows carry both."""
    person = Person(service, "+13235550179")
    person.says("hi")
    person.says("1")
    person.says("STOP")
    with db.session() as s:
        intake = s.scalar(select(Intake))
        assert intake is not None and intake.contact.opted_out_at is not None
    assert "subscribed again" in person.says("START")
    with db.session() as s:
        intake = s.scalar(select(Intake))
        assert intake is not None and intake.contact.opted_out_at is None and intake.contact.language == "en"


def test_the_log_is_checkpointed_after_the_write_lock_is_let_go(db: Database) -> None:
    """SQLite's own checkpoint ran inside a commit, fsyncs and all, while every other turn waited for the lock."""
    assert db.checkpoints is not None and db.write_lock is not None
    with db.write_connection() as conn:
        assert conn.connection.dbapi_connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    held = _watch_checkpoints(db, every=3)
    for n in range(4):
        with db.write_connection() if n % 2 else db.writing() as conn:  # a turn's writes, or a Session's
            _insert_contact(conn, n)
    assert held == [False] and db.checkpoints.writes == 1  # the third write checkpointed, unlocked, and started the count again
    with sqlite3.connect(db.engine.url.database or "") as raw:
        busy, logged, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and logged == copied


def test_a_checkpoint_due_while_a_webhook_holds_the_lock_waits_until_it_is_let_go(db: Database) -> None:
    """A webhook holds the write lock for its whole request (webhook/turnlock.py): its writes must not checkpoint inside."""
    held = _watch_checkpoints(db, every=2)
    assert db.checkpoints is not None
    with db.holding_writes():
        for n in range(3):
            with db.write_connection() as conn:
                _insert_contact(conn, n)
        assert held == [] and db.checkpoints.writes == 3
    assert held == [False] and db.checkpoints.writes == 0


def _watch_checkpoints(db: Database, every: int) -> list[bool]:
    """Whether the write lock was held each time a due checkpoint was about to run."""
    assert db.checkpoints is not None and db.write_lock is not None
    held: list[bool] = []
    checkpoints = db.checkpoints
    checkpoints.every, checkpoints.writes = every, 0
    real = checkpoints.run_if_due

    def run_if_due() -> None:
        if checkpoints.writes >= checkpoints.every:
            held.append(db.write_lock._is_owned())  # type: ignore[union-attr]
        real()

    checkpoints.run_if_due = run_if_due  # type: ignore[method-assign]
    return held


def _insert_contact(conn: Any, n: int) -> None:
    conn.execute(text("INSERT INTO contacts (channel, address, created_at, pending_delete) "
                      "VALUES ('sms', :a, '2026-11-02 17:00:00', 0)"), {"a": f"+1323555020{n}"})


def test_a_turn_flushes_its_session_when_it_ends_and_drops_it_when_it_fails(db: Database) -> None:
    from bot.models import Contact
    from bot.turnrows import Turn

    when = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    with db.write_connection() as conn, Turn(conn, db.sessions) as t:
        t.session.add(Contact(channel="sms", address="+13235550301", created_at=when))  # left for the end to flush
    try:
        with db.write_connection() as conn, Turn(conn, db.sessions) as t:
            t.session.add(Contact(channel="sms", address="+13235550302", created_at=when))
            raise LookupError("the turn failed")
    except LookupError:
        pass
    assert t._session is None  # closed, not flushed
    with db.session() as s:
        assert list(s.scalars(select(Contact.address).order_by(Contact.address))) == ["+13235550301"]
