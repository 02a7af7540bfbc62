"""The schema comes from migrations only: they make exactly the models' schema, go down and up, and take turns."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Column, Integer, String, Table, func, inspect, select, text

from bot import migrate
from bot.db import Database, make_engine
from bot.models import Base
from tests.conftest import empty_postgres
from tests.schema_snapshot import differences as snapshot_differences
from tests.schema_snapshot import snapshot
from webhook.cli import main

MISSING_MIGRATION = ("the models and the migrations disagree: a model changed without a migration. "
                     "Write one with `hrtp-intake db revision -m \"...\"`, read it, and commit it with the model")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path) -> str:
    """An empty database on each backend (PostgreSQL: the throwaway server, emptied)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    url = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def model_snapshot(url: str) -> dict:
    """The schema create_all makes from the models, on the same backend (in a scratch database there)."""
    engine = make_engine(url)
    try:
        migrate.model_metadata().create_all(engine)
        return snapshot(engine)
    finally:
        engine.dispose()


# ---- the guard: migrations == models ---------------------------------------------------------------

def test_upgrade_head_makes_exactly_the_models_schema(empty_url, tmp_path):
    migrate.upgrade(empty_url)
    assert migrate.differences(empty_url) == [], MISSING_MIGRATION
    engine = make_engine(empty_url)
    migrated = snapshot(engine)
    engine.dispose()
    # The backend's own account of both schemas, which also covers what autogenerate cannot compare
    # (expression and partial indexes on SQLite, constraint names, sequences).
    if empty_url.startswith("sqlite"):
        made = model_snapshot(f"sqlite:///{tmp_path / 'create_all.db'}")
    else:
        empty_postgres(empty_url)
        made = model_snapshot(empty_url)
    assert snapshot_differences(made, migrated) == [], MISSING_MIGRATION
    assert len(migrated["tables"]) == len(migrate.model_metadata().tables)


def test_the_models_module_alone_declares_every_table_and_index(tmp_path):
    # Tables and indexes were once declared in whichever module used them, so a schema made after
    # importing only the store lacked them; bot.models is now the whole schema, whatever else is imported.
    alone_url, migrated = f"sqlite:///{tmp_path / 'alone.db'}", f"sqlite:///{tmp_path / 'migrated.db'}"
    code = f"from bot.db import make_engine; from bot.models import Base; Base.metadata.create_all(make_engine({alone_url!r}))"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    migrate.upgrade(migrated)
    engine, alone = make_engine(migrated), make_engine(alone_url)
    try:
        assert snapshot_differences(snapshot(alone), snapshot(engine)) == []
    finally:
        engine.dispose()
        alone.dispose()


def test_downgrade_base_then_upgrade_head(empty_url):
    migrate.upgrade(empty_url)
    before, after = migrate.downgrade(empty_url, "base")
    assert (before, after) == ((migrate.head(),), ())
    assert tables(empty_url) <= {"alembic_version"}
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == (migrate.head(),)
    assert migrate.differences(empty_url) == []


def test_the_migrations_form_one_line_and_files_are_named_by_revision():
    migrate.head()  # raises when two migrations follow the same one (two branches each added one)
    for script in migrate.scripts().walk_revisions():
        assert Path(script.path).name.startswith(f"{script.revision}_"), script.path
        assert "from bot" not in Path(script.path).read_text(encoding="utf-8"), "a migration must not import the models"


def next_number(revision: str) -> str:
    """The number `db revision` gives the migration after `revision` ("0006" or a branch's "0006_reminders")."""
    digits = re.match(r"\d+", revision)
    assert digits, revision
    return f"{int(digits.group()) + 1:04d}"


def test_the_guard_sees_a_model_change_and_db_revision_writes_its_migration(tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS", copy)
    migrate.scripts.cache_clear()
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    migrate.upgrade(url)
    # The next number after whatever head is today, so a new migration in the tree does not break this test.
    before = migrate.head()
    after = next_number(before)
    nothing = CliRunner().invoke(main, ["db", "revision", "-m", "nothing"])
    assert nothing.exit_code != 0 and "nothing to write" in nothing.output
    widgets = Table("test_widgets", Base.metadata, Column("id", Integer, primary_key=True),
                    Column("label", String(40), nullable=False, index=True))
    last = migrate.head()
    after = next_number(last)  # the next number, whichever migrations came before
    try:
        assert [d[0] for d in migrate.differences(url)] == ["add_table", "add_index"]
        result = CliRunner().invoke(main, ["db", "revision", "-m", "add test widgets"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        written = copy / "versions" / f"{after}_add_test_widgets.py"
        source = written.read_text(encoding="utf-8")
        assert f'down_revision: str | Sequence[str] | None = "{last}"' in source or f"= '{last}'" in source
        assert "create_table('test_widgets'" in source and "batch_alter_table('test_widgets'" in source
        assert migrate.upgrade(url).after == (after,)
        assert migrate.differences(url) == []
        migrate.downgrade(url, "-1")
        assert "test_widgets" not in tables(url)
    finally:
        Base.metadata.remove(widgets)
        migrate.scripts.cache_clear()
        migrate._templates.pop(after, None)


# ---- the commands ----------------------------------------------------------------------------------

def test_db_commands_upgrade_show_and_downgrade_a_fresh_database(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}", "SECRET_KEY": "x"}

    def db(*args: str):
        result = CliRunner().invoke(main, ["db", *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout  # a log line (alembic's, once a test has configured logging) goes to stderr

    assert "no tables yet" in db("current")
    assert f"Upgraded the database from (none) to {migrate.head()}" in db("upgrade")
    assert "already at" in db("upgrade")
    assert db("current").startswith(f"{migrate.head()}: ")
    assert "The database matches the models." in db("check")
    assert f"from {migrate.head()} to (none)" in db("downgrade", "base", "--yes")
    assert tables(env["DATABASE_URL"]) <= {"alembic_version"}


def test_flask_cli_upgrades_a_fresh_database_too(tmp_path):
    url = f"sqlite:///{tmp_path / 'flask.db'}"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "x"}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "webhook", "db", "upgrade"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert migrate.current(url) == (migrate.head(),)


def test_a_database_made_before_migrations_is_adopted_with_its_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, migrate.INITIAL)  # the schema create_all made before migrations (proven equal above)
    db = Database(url)
    with db.writing() as s:
        s.execute(text("DROP TABLE alembic_version"))
        s.execute(text("INSERT INTO referral_codes (code, active, created_at) VALUES ('EASTLA1', 1, '2026-01-01')"))
    db.dispose()
    result = CliRunner().invoke(main, ["db", "upgrade"], env={"DATABASE_URL": url, "SECRET_KEY": "x"})
    assert result.exit_code == 0, result.output
    assert "predates migrations" in result.output
    assert migrate.current(url) == (migrate.head(),)
    db = Database(url)
    with db.session() as s:
        assert s.scalars(text("SELECT code FROM referral_codes")).all() == ["EASTLA1"]
    db.dispose()


def test_a_database_with_only_some_of_our_tables_is_refused_with_what_to_do(tmp_path):
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE contacts (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    result = CliRunner().invoke(main, ["db", "upgrade"], env={"DATABASE_URL": url, "SECRET_KEY": "x"})
    assert result.exit_code != 0
    assert "no migration history" in result.output and "backup" in result.output


# ---- the app never makes tables ----------------------------------------------------------------

def test_the_app_on_an_unmigrated_database_makes_no_tables_and_answers_503_until_upgraded(tmp_path, runtime):
    from webhook import create_app

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x", "RUNTIME": runtime, "SCHEMA_RECHECK_SECONDS": 0})
    client = app.test_client()
    refused = client.post("/webhooks/twilio", data={"From": "+13235550101", "Body": "Hi"})
    assert refused.status_code == 503 and "try again" in refused.get_data(as_text=True)
    assert client.get("/healthz").status_code == 503
    assert tables(url) == set()
    migrate.upgrade(url)
    assert client.get("/healthz").status_code == 200
    with app.extensions["hrtp"].db.session() as s:
        from bot.models import ProgramRecord

        assert s.scalar(select(func.count()).select_from(ProgramRecord)) > 0  # the catalog seeded once it could be
    app.extensions["hrtp"].db.dispose()


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["chat"], ["export"]])
def test_commands_refuse_an_unmigrated_database_saying_how_to_upgrade(tmp_path, command):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "SECRET_KEY": "x"}
    result = CliRunner().invoke(main, command, env=env, input="")
    assert result.exit_code != 0
    assert "hrtp-intake db upgrade" in result.output


# ---- many processes at once ----------------------------------------------------------------------

def _cli(args: list[str], url: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "x"}
    code = "from webhook.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_upgrades_at_once_on_postgres_take_turns(postgres_url):
    empty_postgres(postgres_url)
    engine = make_engine(postgres_url)
    with engine.connect() as holder:
        # Hold the migration lock ourselves, so both upgrades are surely waiting at the same moment.
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": migrate.LOCK_KEY})
        holder.commit()
        procs = [_cli(["db", "upgrade"], postgres_url) for _ in range(2)]
        deadline = time.time() + 60
        waiting = 0
        while time.time() < deadline and waiting < 2:
            with engine.connect() as conn:
                waiting = conn.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))
            time.sleep(0.1)
        assert waiting == 2, [p.communicate() for p in procs]
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": migrate.LOCK_KEY})
        holder.commit()
        outputs = [p.communicate(timeout=120) for p in procs]
    engine.dispose()
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = sorted(out for out, _ in outputs)
    assert "already at" in said[0] and "Upgraded the database from (none)" in said[1], said
    assert migrate.current(postgres_url) == (migrate.head(),)
    assert migrate.differences(postgres_url) == []


def test_four_workers_starting_at_once_on_a_migrated_postgres_do_not_race(postgres_url):
    empty_postgres(postgres_url)
    migrate.upgrade(postgres_url)
    env = {**os.environ, "DATABASE_URL": postgres_url, "SECRET_KEY": "x"}
    code = ("from webhook import create_app; app = create_app(); "
            "assert app.test_client().get('/healthz').status_code == 200")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    from intake_flows.catalog import load_catalog

    db = Database(postgres_url)
    with db.session() as s:
        from bot.models import ProgramRecord

        assert s.scalar(select(func.count()).select_from(ProgramRecord)) == len(load_catalog())
    db.dispose()
    assert migrate.differences(postgres_url) == []  # nobody altered anything


def test_two_upgrades_at_once_on_sqlite_take_turns(tmp_path):
    url = f"sqlite:///{tmp_path / 'both.db'}"
    reports, errors = [], []
    barrier = threading.Barrier(2)

    def go() -> None:
        barrier.wait()
        try:
            reports.append(migrate.upgrade(url))
        except BaseException as exc:  # noqa: BLE001  a thread's failure, whatever it is, is surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(r.before for r in reports) == [(), (migrate.head(),)]
    assert migrate.differences(url) == []
