"""/healthz: 200 when every dependency answers in time, 503 naming the one that does not."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from flask import Flask, jsonify
from sqlalchemy.exc import SQLAlchemyError

from bot.db import Database

log = logging.getLogger(__name__)

# None when healthy, else why not (shown to whoever asks); or details with "ok" (and "error"), shown too.
Check = Callable[[], str | Mapping[str, Any] | None]


def database_check(db: Database, timeout: float) -> Check:
    """A SELECT 1 that must answer within `timeout` seconds (a server that hangs counts as down)."""
    # One thread per app: a check stuck on a hung server makes the next ones time out at once
    # instead of piling up threads.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz-db")

    def select_one() -> None:
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
            conn.exec_driver_sql("SELECT 1")

    def check() -> str | None:
        try:
            pool.submit(select_one).result(timeout=timeout)
        except FutureTimeout:
            log.error("healthz: the database did not answer within %.1f s", timeout)
            return f"database did not answer within {timeout:g} s"
        except SQLAlchemyError as exc:
            log.error("healthz: database unreachable: %s", exc)
            return f"database unreachable ({type(getattr(exc, 'orig', None) or exc).__name__})"
        return None

    return check


def init_app(app: Flask, db: Database) -> None:
    """Registers /healthz; other parts add their own checks to app.extensions["hrtp_health"]."""
    checks: dict[str, Check] = app.extensions.setdefault("hrtp_health", {})
    checks["database"] = database_check(db, float(app.config.get("HEALTHZ_TIMEOUT_SECONDS", 2)))

    @app.get("/healthz")
    def healthz() -> Any:
        results: dict[str, str | None] = {}
        details: dict[str, Mapping[str, Any]] = {}
        for name, check in checks.items():
            got = check()
            if isinstance(got, Mapping):
                details[name] = got
                got = None if got.get("ok") else str(got.get("error") or f"{name} unavailable")
            results[name] = got
        down = {name: why for name, why in results.items() if why}
        body: dict[str, Any] = {"status": "unavailable" if down else "ok",
                                "checks": {name: (why or "ok") for name, why in results.items()}, **details}
        return jsonify(body), 503 if down else 200
