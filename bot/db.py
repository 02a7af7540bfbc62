"""The database connection: an engine per URL and the sessions the web app, CLI and jobs work in."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ClauseElement, Select

from bot.models import AreaTier, ProgramRecord


def make_engine(url: str, echo: bool = False, pool: dict[str, Any] | None = None) -> Engine:
    """Creates the engine; SQLite gets foreign keys, WAL, a busy timeout and write-locking BEGIN.

    `pool` (PostgreSQL): pool_size, max_overflow, pool_timeout, connect_timeout, statement_timeout_ms."""
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        # No ping on every checkout (a round trip, 8% of a PostgreSQL turn): a connection found dead instead fails
        # its first statement, is invalidated (wrapped_error), and the turn is tried again on a fresh pool.
        kwargs["pool_pre_ping"] = False
        if pool and url.startswith("postgresql"):
            kwargs.update(pool_size=pool["pool_size"], max_overflow=pool["max_overflow"], pool_timeout=pool["pool_timeout"])
            # A server that stops answering fails a turn in seconds, never holds a worker's thread for good.
            kwargs["connect_args"] = {"connect_timeout": pool["connect_timeout"], "application_name": "hrtp-intake",
                                      "options": f"-c statement_timeout={pool['statement_timeout_ms']}"}
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
            # On the DBAPI connection: exec_driver_sql's bookkeeping cost as much as the BEGIN itself.
            conn.connection.dbapi_connection.execute(
                "BEGIN IMMEDIATE" if conn.get_execution_options().get("write_lock") else "BEGIN")
    return engine


# One lock per SQLite file in this process: its writers queue here, woken the moment the last one
# commits, instead of in SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and
# made the p99 of 8 concurrent turns about a second. Other processes (the CLI) still meet busy_timeout.
_write_locks: dict[str, threading.RLock] = {}
_write_locks_guard = threading.Lock()


def _sqlite_write_lock(engine: Engine) -> threading.RLock | None:
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database or ""
    key = str(Path(path).resolve()) if path and path != ":memory:" else f"memory:{id(engine)}"
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.RLock())


class Prepared:
    """A Core statement compiled once per dialect and run on the DBAPI cursor, past SQLAlchemy's execution layer.

    A turn runs a handful of fixed INSERTs and UPDATEs; through Connection.execute each cost about 25 us of
    bookkeeping against 2 us in the driver. The SQL and the bind conversions are SQLAlchemy's own (the column
    types' bind processors), so what is stored is what Connection.execute would store. Only the columns named
    in `keys` are written: a column with a Python-side default must be given (compiling refuses otherwise)."""

    def __init__(self, stmt: ClauseElement, keys: Sequence[str]) -> None:
        self.stmt = stmt
        self.keys = tuple(keys)
        self._by_dialect: dict[int, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {}
        # Known from the statement: asking the cursor (its description) built psycopg's column objects every time.
        self.returns_rows = isinstance(stmt, Select) or bool(getattr(stmt, "returning_column_descriptions", ()))

    def compiled(self, dialect: Dialect) -> tuple[str, Callable[[Mapping[str, Any]], Any]]:
        found = self._by_dialect.get(id(dialect))
        if found is not None:
            return found
        compiled: Any = self.stmt.compile(dialect=dialect, column_keys=list(self.keys))
        if compiled.insert_prefetch or compiled.update_prefetch:
            missing = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(f"Prepared statement needs values for columns with defaults: {missing}")
        procs = {name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()}
        names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        literal = {name: bind.value for name, bind in compiled.binds.items() if name not in self.keys}

        def convert(values: Mapping[str, Any]) -> Any:
            out = []
            for name in names:
                value = values[name] if name in values else literal[name]
                proc = procs[name]
                out.append(proc(value) if proc is not None else value)
            return tuple(out) if compiled.positional else dict(zip(names, out, strict=True))

        found = self._by_dialect[id(dialect)] = (compiled.string, convert)
        return found

    def run(self, conn: Connection, values: Mapping[str, Any]) -> Any:
        """Runs the statement with one set of values; returns the first column of a RETURNING row, else None."""
        sql, convert = self.compiled(conn.dialect)
        params = convert(values)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            row = cursor.fetchone() if self.returns_rows else None
        except conn.dialect.loaded_dbapi.Error as exc:
            raise wrapped_error(conn, sql, params, exc) from exc
        finally:
            cursor.close()
        return row[0] if row else None

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Runs the statement once per set of values, in one executemany."""
        if not rows:
            return
        sql, convert = self.compiled(conn.dialect)
        params = [convert(r) for r in rows]
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, params)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise wrapped_error(conn, sql, params, exc) from exc
        finally:
            cursor.close()


def wrapped_error(conn: Connection, sql: str, params: Any, exc: Exception) -> StatementError:
    """The driver's error as SQLAlchemy raises it (IntegrityError for a twin delivery), so callers catch one kind.

    A lost connection (the server restarted, a failover) is invalidated here as Connection.execute would, and
    the error says so (`connection_invalidated`), so the caller knows trying again on a new one is safe."""
    dbapi_conn = conn.connection.dbapi_connection
    lost = conn.dialect.is_disconnect(exc, dbapi_conn, None)  # type: ignore[arg-type]
    error = DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect,
                                connection_invalidated=lost)
    if lost:
        conn.invalidate(error)
    return error


class Checkpoints:
    """Copies a SQLite file's write-ahead log into the database every `every` writes, outside the write lock.

    SQLite's own checkpoint runs inside the commit that takes the log past 1,000 pages, two fsyncs and
    all: that commit held the write lock for 10 to 25 ms while every other turn waited, one turn in
    seventy (a third of the time turns spent committing, and the p99). Here the thread that has just
    committed and let go of the lock copies the log (PASSIVE: it waits for no writer and none waits for it)."""

    def __init__(self, engine: Engine, every: int = 50) -> None:
        self.engine = engine
        self.every = every
        self.writes = 0
        self._running = threading.Lock()
        event.listen(engine, "connect", self._no_automatic_checkpoint)

    @staticmethod
    def _no_automatic_checkpoint(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

    def after_write(self, run: bool = True) -> None:
        """Counts a committed write; copies the log when one is due, unless `run` is False (the lock is still held)."""
        self.writes += 1  # unlocked: a count off by one now and then only moves a checkpoint by a write
        if run:
            self.run_if_due()

    def run_if_due(self) -> None:
        if self.writes < self.every or not self._running.acquire(blocking=False):
            return
        try:
            self.writes = 0
            with self.engine.connect() as conn:
                conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
        finally:
            self._running.release()


class Database:
    """An engine and its session factory, created from a URL; the tables come from migrations (bot/migrate.py)."""

    def __init__(self, url: str, echo: bool = False, pool: dict[str, Any] | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, echo, pool)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.write_lock = _sqlite_write_lock(self.engine)
        file = self.engine.dialect.name == "sqlite" and (self.engine.url.database or ":memory:") != ":memory:"
        self.checkpoints = Checkpoints(self.engine) if file else None
        self._held = threading.local()
        self._writer: Connection | None = None
        _track_catalog_writes(self.sessions)

    def session(self) -> Session:
        return self.sessions()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session in one write transaction; on SQLite it takes the database's write lock at BEGIN."""
        if self.write_lock is None:
            with self.sessions() as session, session.begin():
                yield session
            return
        with self._writing(), self.write_lock, self.sessions() as session, session.begin():
            session.connection(execution_options={"write_lock": True})
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A connection in one write transaction, without a Session (a turn's); on SQLite under the write lock."""
        if self.write_lock is None:
            with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        with self._writing(), self.write_lock:
            shared = self._writer
            if shared is not None and (shared.closed or shared.invalidated):
                shared.close()
                shared = self._writer = None
            if shared is None:
                # One connection per file for every turn: under the write lock only one turn uses it at a time,
                # and a pool checkout, return and reset cost a turn twice what its BEGIN and COMMIT do.
                shared = self._writer = self.engine.connect()
                shared.execution_options(write_lock=True)
            # A write opened inside another on this file would wait for SQLite's lock its own turn holds; on the
            # shared connection it fails at once (a transaction is already begun) instead of after busy_timeout.
            with shared.begin():
                yield shared

    @contextmanager
    def holding_writes(self) -> Iterator[None]:
        """Holds SQLite's write lock across everything inside (a whole webhook request); elsewhere does nothing.

        A checkpoint that falls due inside waits until the lock is let go, as it would after one transaction."""
        if self.write_lock is None:
            yield
            return
        with self.write_lock:
            self._held.depth = getattr(self._held, "depth", 0) + 1
            try:
                yield
            finally:
                self._held.depth -= 1
        if self.checkpoints is not None and not self._held.depth:
            self.checkpoints.run_if_due()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Around a write transaction and its lock: once both are let go, the log may be checkpointed."""
        yield
        if self.checkpoints is not None:
            self.checkpoints.after_write(run=not getattr(self._held, "depth", 0))

    def dispose(self) -> None:
        with self.write_lock or contextlib.nullcontext():
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        self.engine.dispose()

    def after_fork(self) -> None:
        """In a forked worker: forget the parent's connections without closing them (they are the parent's)."""
        self._writer = None
        self.engine.dispose(close=False)


# ---- catalog invalidation -----------------------------------------------------------------------
# Any commit that touched a program or area row bumps the generation; every catalog cache in this process
# (bot.programs.CatalogCache) reloads on its next read. Other processes (the CLI, other workers) are caught
# by the cache's TTL check. Only sessions of a Database are watched, never every Session in the process.
_generation = 0
_gen_lock = threading.Lock()
_CHANGED = "hrtp_catalog_changed"


def catalog_generation() -> int:
    """How many commits in this process have changed the catalog or the area table."""
    return _generation


def mark_catalog_changed(session: Session) -> None:
    """Marks the session so that its commit invalidates every catalog cache in this process."""
    session.info[_CHANGED] = True


def _note_catalog_writes(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, (ProgramRecord, AreaTier)):
            session.info[_CHANGED] = True
            return


def _bump_generation(session: Session) -> None:
    global _generation
    if session.info.pop(_CHANGED, False):
        with _gen_lock:
            _generation += 1


def _forget_pending(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def _track_catalog_writes(sessions: sessionmaker[Session]) -> None:
    event.listen(sessions, "before_flush", _note_catalog_writes)
    event.listen(sessions, "after_commit", _bump_generation)
    event.listen(sessions, "after_rollback", _forget_pending)
