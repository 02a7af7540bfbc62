"""Shared fixtures: one loaded runtime per test session, a fresh migrated database per test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.db import Database
from bot.migrate import fresh_sqlite
from bot.service import IntakeService, Runtime, Settings
from tests.transcript import Person

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "test-auth-token"


@pytest.fixture(scope="session")
def runtime() -> Runtime:
    return Runtime.load()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    # The migrations run once per session into a template; each test gets a copy (bot.migrate.fresh_sqlite).
    database = Database(fresh_sqlite(tmp_path / "test.db"))
    yield database
    database.dispose()


@pytest.fixture
def service(db: Database, runtime: Runtime) -> IntakeService:
    return IntakeService(db, runtime, Settings(idle_timeout=timedelta(hours=48)))


@pytest.fixture
def person(service: IntakeService) -> Person:
    return Person(service, "+13235550101", start=T0)


@pytest.fixture
def app_config(tmp_path: Path, runtime: Runtime) -> dict:
    return {"TESTING": True, "DATABASE_URL": fresh_sqlite(tmp_path / "app.db"), "SECRET_KEY": "test-secret",
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "PUBLIC_BASE_URL": "", "RUNTIME": runtime,
            # Jobs run inside the request that enqueues them; tests/test_queue.py runs real storage and workers.
            "QUEUE_IMMEDIATE": True}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, app_config: dict) -> dict:
    """The app's settings on each database (PostgreSQL starts a throwaway server, or the case is skipped)."""
    if request.param == "sqlite":
        return app_config
    url = request.getfixturevalue("postgres_url")
    migrated_postgres(url)
    return {**app_config, "DATABASE_URL": url}


@pytest.fixture
def app(app_config: dict):
    from webhook import create_app

    application = create_app(app_config)
    yield application
    application.extensions["hrtp"].db.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    from tests.postgres import postgres_server

    with postgres_server() as url:
        if url is None:
            pytest.skip("no PostgreSQL server could be started (needs Debian's postgresql and psycopg)")
        yield url


def empty_postgres(url: str) -> None:
    """Drops everything an earlier test made, migration history included."""
    from sqlalchemy import text

    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()


def migrated_postgres(url: str) -> None:
    """The throwaway server's database emptied and migrated to head, as a deployment would be."""
    from bot.migrate import upgrade

    empty_postgres(url)
    upgrade(url)


@pytest.fixture
def pg_db(postgres_url: str) -> Iterator[Database]:
    migrated_postgres(postgres_url)
    database = Database(postgres_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A private redis-server for the session; missing, the Redis cases skip, except in CI, where they fail."""
    import os

    from tests.redis_server import redis_server

    with redis_server() as url:
        if url is None:
            if os.environ.get("CI"):
                pytest.fail("redis-server is not installed, and CI runs the queue tests on Redis (test.sh installs it)")
            pytest.skip("redis-server is not installed (Debian's redis-server; ./test.sh installs it)")
        yield url


@pytest.fixture
def twilio():
    """A fake Twilio REST API on loopback that records the messages sent through it."""
    from tests.admin.fake_twilio import FakeTwilio

    fake = FakeTwilio(TWILIO_SID, TWILIO_TOKEN)
    yield fake
    fake.close()
