"""The database schema: Alembic migrations in bot/migrations, run from code so an installed package upgrades itself."""

# Only migrations make or change tables: the app factory never does (workers starting together on a
# fresh PostgreSQL raced on CREATE TABLE). `upgrade` holds a lock while it runs, so two deploy scripts
# upgrading at once take turns: the second finds the schema at head and does nothing.

from __future__ import annotations

import atexit
import re
import shutil
import sqlite3
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, Engine

from bot.db import make_engine
from bot.models import Base, UTCDateTime

MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_lock key for `upgrade` and `downgrade`: any fixed number no other lock user picks ("hrtp").
LOCK_KEY = 0x68727470
INITIAL = "0001"


class SchemaError(RuntimeError):
    """The database cannot be migrated as asked; the message says what to do."""


# ---- the models and how autogenerate sees them -------------------------------------------------

def model_metadata() -> MetaData:
    """The models' MetaData: every table and index is declared in bot.models."""
    return Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Migrations must not import the models (they change; a migration is frozen), so our UTC
    # column type is written as the plain column type it stores.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


COMPARE_OPTIONS: dict[str, Any] = {"compare_type": True, "compare_server_default": True}


def run_migrations(context: Any) -> None:
    """The body of env.py: runs Alembic on the connection that `_migrating` opened and locked."""
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        raise SchemaError("run migrations with `hrtp-intake db ...` (bot.migrate), which opens and locks the database")
    context.configure(connection=connection, target_metadata=model_metadata(), render_as_batch=True,
                      render_item=_render_item, transactional_ddl=True, **COMPARE_OPTIONS)
    with context.begin_transaction(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*expression-based index")  # see differences()
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Batch mode copied tables with foreign keys off; refuse to commit a copy that broke them.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise SchemaError(f"the migration left rows whose foreign keys point nowhere: {broken[:5]}")


# ---- running Alembic ----------------------------------------------------------------------------

@lru_cache(maxsize=1)
def scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def head() -> str:
    """The newest revision; a fork (two migrations after one) is an error to fix before anything runs."""
    heads = scripts().get_heads()
    if len(heads) != 1:
        raise SchemaError(f"the migrations fork into {len(heads)} heads ({', '.join(sorted(heads))}): "
                          "make one follow the other (its down_revision) or merge them")
    return heads[0]


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    return cfg


@contextmanager
def _migrating(url: str) -> Iterator[Connection]:
    """A connection that only one migrating process holds at a time."""
    # Alembic's `op` and `context` are module-wide proxies, so two threads of one process must take
    # turns before the database's own lock even comes into play.
    with _IN_PROCESS:
        yield from _migrating_locked(url)


_IN_PROCESS = threading.RLock()


def _migrating_locked(url: str) -> Iterator[Connection]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                # Batch mode rebuilds a table by copy and rename, which foreign keys would block; SQLite
                # only changes this outside a transaction, so before SQLAlchemy begins one.
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
                # BEGIN IMMEDIATE: a second upgrade waits for the first, then finds nothing to do.
                conn.execution_options(write_lock=True)
            elif engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
                conn.commit()  # the lock is the session's: it outlives this transaction
            try:
                yield conn
            finally:
                if conn.in_transaction():
                    conn.rollback()
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                    conn.commit()
    finally:
        engine.dispose()


def _current(conn: Connection) -> tuple[str, ...]:
    heads = MigrationContext.configure(conn).get_current_heads()
    if conn.in_transaction():
        conn.commit()  # reading the version began a transaction; the migration begins its own
    return tuple(heads)


def _initial_tables() -> tuple[str, ...]:
    return tuple(scripts().get_revision(INITIAL).module.TABLES)


def _adopt_legacy(conn: Connection) -> bool:
    """Stamps a database made by create_all before migrations existed as the initial revision."""
    tables = set(inspect(conn).get_table_names())
    if conn.in_transaction():
        conn.commit()
    ours = set(_initial_tables())
    if not tables & ours:
        return False
    missing = sorted(ours - tables)
    if missing:
        raise SchemaError(f"the database has some of this service's tables but not {', '.join(missing)}, and no "
                          "migration history (alembic_version): restore it from a backup, or point DATABASE_URL "
                          "at an empty database")
    command.stamp(_config(conn), INITIAL)
    return True


@dataclass(frozen=True)
class UpgradeReport:
    before: tuple[str, ...]
    after: tuple[str, ...]
    adopted: bool  # the database predates migrations and was stamped as the initial revision


def upgrade(url: str, revision: str = "head") -> UpgradeReport:
    """Migrates the database at `url` up to `revision`, holding the migration lock; safe to run twice at once."""
    if revision == "head":
        head()  # a fork is named before anything is locked
    with _migrating(url) as conn:
        before = _current(conn)
        adopted = not before and _adopt_legacy(conn)
        if adopted:
            before = _current(conn)
        command.upgrade(_config(conn), revision)
        return UpgradeReport(before, _current(conn), adopted)


def downgrade(url: str, revision: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Migrates the database down to `revision` ("base" drops every table); returns the revisions before and after."""
    with _migrating(url) as conn:
        before = _current(conn)
        command.downgrade(_config(conn), revision)
        return before, _current(conn)


def current(url: str) -> tuple[str, ...]:
    """The revisions the database at `url` is at: () when it has no migration history."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return _current(conn)
    finally:
        engine.dispose()


def differences(url_or_engine: str | Engine) -> list[Any]:
    """What autogenerate would change to make the database match the models; [] when they match."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite cannot reflect expression indexes, so autogenerate skips them there (and says so);
            # PostgreSQL compares them, and the tests compare both backends' own DDL.
            warnings.filterwarnings("ignore", ".*expression-based index")
            ctx = MigrationContext.configure(conn, opts={**COMPARE_OPTIONS, "render_item": _render_item})
            return list(compare_metadata(ctx, model_metadata()))
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def revision(message: str, autogenerate: bool = True) -> Path:
    """Writes the next migration into bot/migrations/versions: the models' changes since head, or an empty one."""
    previous = head()
    # A branch's revision may name its work after the number ("0006_reminders"): the next is numbered from its digits.
    digits = re.match(r"\d+", previous)
    number = f"{int(digits.group()) + 1:04d}" if digits else None
    with tempfile.TemporaryDirectory(prefix="hrtp-revision-") as tmp:
        # Compared with a scratch database at head, so a developer's own data never shapes a migration.
        url = fresh_sqlite(Path(tmp) / "head.db")
        engine = make_engine(url)
        try:
            if autogenerate and not differences(engine):
                raise SchemaError("the models match the newest migration: nothing to write "
                                  "(--empty writes one to fill by hand)")
            with engine.connect() as conn, warnings.catch_warnings():
                warnings.filterwarnings("ignore", ".*expression-based index")
                script = command.revision(_config(conn), message=message, autogenerate=autogenerate, rev_id=number)
        finally:
            engine.dispose()
    scripts.cache_clear()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


# ---- whether a database can be served ---------------------------------------------------------------

@dataclass(frozen=True)
class SchemaStatus:
    current: tuple[str, ...]
    head: str
    known: frozenset[str]
    has_tables: bool

    @property
    def state(self) -> str:
        if not self.current:
            return "legacy" if self.has_tables else "empty"
        if self.current == (self.head,):
            return "current"
        if any(rev not in self.known for rev in self.current):
            return "ahead"  # a newer release migrated it (a rolling deploy); its changes add to ours
        return "behind"

    @property
    def usable(self) -> bool:
        return self.state in ("current", "ahead")

    @property
    def advice(self) -> str:
        return {"empty": "the database has no tables yet: run `hrtp-intake db upgrade` (DATABASE_URL is the one to upgrade)",
                "legacy": "the database predates migrations: run `hrtp-intake db upgrade` once (it keeps the data)",
                "behind": f"the database is at {', '.join(self.current)} but this release needs {self.head}: "
                          "back it up, run `hrtp-intake db upgrade`, then restart the workers",
                "ahead": f"the database is at {', '.join(self.current)}, newer than this release ({self.head})",
                "current": f"the database is at {self.head}, this release's newest migration"}[self.state]


def status(engine: Engine) -> SchemaStatus:
    """Where the database stands against this release's migrations (one small read)."""
    with engine.connect() as conn:
        current_revs = tuple(MigrationContext.configure(conn).get_current_heads())
        has_tables = not current_revs and inspect(conn).has_table(_initial_tables()[0])
    return SchemaStatus(current_revs, head(), frozenset(s.revision for s in scripts().walk_revisions()), has_tables)


# ---- fresh SQLite files at head, fast ------------------------------------------------------------

_templates: dict[str, Path] = {}
_template_lock = threading.Lock()


def fresh_sqlite(path: Path) -> str:
    """Makes a new SQLite file at `path` with the schema at head; returns its URL.

    The migrations run once per process into a template that is then copied, so the simulator
    and the tests get migrated databases without paying for the migrations each time.
    """
    with _template_lock:
        key = head()
        template = _templates.get(key)
        if template is None:
            folder = Path(tempfile.mkdtemp(prefix="hrtp-schema-"))
            atexit.register(shutil.rmtree, folder, True)
            template = folder / "head.db"
            upgrade(f"sqlite:///{template}")
            # A rollback journal keeps every page in the one file, so a plain copy is the whole database.
            with sqlite3.connect(template) as raw:
                raw.execute("PRAGMA journal_mode=DELETE")
            raw.close()
            _templates[key] = template
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"
