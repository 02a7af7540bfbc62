"""Production path: JSON logs without personal data, /healthz that checks the database, the SECRET_KEY guard,
and several `serve --workers` processes on a real PostgreSQL."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from twilio.request_validator import RequestValidator

from bot.db import Database
from bot.models import Intake, Message
from tests.test_twilio_webhook import form, post
from webhook.health import database_check
from webhook.logs import JsonFormatter

HRTP = str(Path(sys.executable).parent / "hrtp-intake")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Everything logged at INFO and above, formatted as `serve` formats it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_turns_log_lines_hold_neither_the_number_nor_what_was_said(client, json_logs):
    assert post(client, form("Hi", "SMlog1", sender="+13235550188")).status_code == 200
    assert post(client, form("yes my cousin Zelda said to text", "SMlog2", sender="+13235550188")).status_code == 200
    # A sender we refuse is logged as a warning that quotes it: the number is scrubbed there too.
    assert post(client, form("Hi", "SMlog3", sender="+1 (323) 555-01")).status_code == 400
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    requests = [r for r in lines if r["logger"] == "hrtp.request"]
    assert [r["status"] for r in requests] == [200, 200, 400] and all(r["path"] == "/webhooks/twilio" for r in requests)
    # One line a request: the turn it made rides on it, and writes no line of its own.
    turns = [r["turn"] for r in requests[:2]]
    assert turns[0]["channel"] == "sms" and turns[0]["contact_id"] == turns[1]["contact_id"]
    assert turns[1]["events"] and "turn" not in requests[2]
    assert not [r for r in lines if r["logger"] == "hrtp.turn"]
    assert any("malformed Twilio webhook" in r["msg"] and "[redacted]" in r["msg"] for r in lines)
    raw = json_logs.getvalue()
    for secret in ("3235550188", "555-0188", "555-01", "Zelda", "cousin"):
        assert secret not in raw, secret


def test_a_turn_outside_a_request_writes_its_own_line(service, json_logs):
    from bot.messages import InboundMessage

    service.handle(InboundMessage(channel="sms", sender="+13235550177", text="Hi", provider_id="CHATlog1"))
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    turns = [r for r in lines if r["logger"] == "hrtp.turn"]
    assert len(turns) == 1 and turns[0]["channel"] == "sms" and turns[0]["replies"] >= 1
    assert "3235550177" not in json_logs.getvalue()


def test_healthz_answers_ok_with_the_database_check(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json["status"] == "ok"
    assert resp.json["checks"] == {"database": "ok", "queue": "ok"} and resp.json["queue"]["ok"] is True


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_healthz_is_503_with_a_reason_when_the_database_is_down(app, client):
    down = Database(f"postgresql+psycopg://hrtp@127.0.0.1:{_closed_port()}/postgres")
    app.extensions["hrtp_health"]["database"] = database_check(down, 2)
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.json["status"] == "unavailable" and resp.json["checks"]["database"].startswith("database unreachable")
    down.dispose()


def test_a_database_that_accepts_but_never_answers_fails_the_check_in_time():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)  # connections queue in the backlog; nothing ever answers them
    db = Database(f"postgresql+psycopg://hrtp@127.0.0.1:{silent.getsockname()[1]}/postgres")
    started = time.monotonic()
    assert database_check(db, 0.5)() == "database did not answer within 0.5 s"
    assert time.monotonic() - started < 3
    silent.close()


def test_the_default_secret_key_is_refused_when_served_over_https(monkeypatch, tmp_path, runtime):
    from bot.migrate import fresh_sqlite
    from webhook import ConfigError, create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://intake.example.org")
    config = {"DATABASE_URL": fresh_sqlite(tmp_path / "a.db"), "RUNTIME": runtime}
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app(config)
    monkeypatch.setenv("SECRET_KEY", "a long random value set by the deployment")
    app = create_app(config)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    app.extensions["hrtp"].db.dispose()
    monkeypatch.delenv("SECRET_KEY")
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://localhost:8000")  # a first run on a laptop still just works
    create_app(config).extensions["hrtp"].db.dispose()


def test_the_command_says_why_it_will_not_start(tmp_path):
    env = {**os.environ, "PUBLIC_BASE_URL": "https://intake.example.org", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    env.pop("SECRET_KEY", None)
    done = subprocess.run([HRTP, "serve"], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode != 0 and "SECRET_KEY is not set" in done.stderr and "Traceback" not in done.stderr


# ---- several worker processes on PostgreSQL ---------------------------------------------------------------

def _free_port() -> int:
    return _closed_port()


def _fresh_database(server_url: str, name: str) -> str:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def _get(port: int, path: str = "/healthz") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Served:
    """`hrtp-intake serve --workers N` in its own process group, with its log lines."""

    def __init__(self, url: str, workers: int, log_path: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "test-secret", "TWILIO_AUTH_TOKEN": "test-auth-token",
               "PUBLIC_BASE_URL": self.base, "LOG_FORMAT": "json", "DB_POOL_SIZE": "4", "DB_MAX_OVERFLOW": "2"}
        self.log_path = log_path
        with log_path.open("wb") as out:
            self.proc = subprocess.Popen([HRTP, "serve", "--port", str(self.port), "--workers", str(workers),
                                          "--threads", "4"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                         start_new_session=True)

    def wait_up(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()
            try:
                if _get(self.port)[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("no worker answered:\n" + self.log_path.read_text())

    def records(self) -> list[dict]:
        out = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def children(self) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    found.append(int(entry))
        return found

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def served(postgres_url: str, tmp_path: Path, request) -> Iterator[Served]:
    workers = request.param
    url = _fresh_database(postgres_url, f"workers_{workers}_{os.getpid()}")
    subprocess.run([HRTP, "db", "upgrade"], env={**os.environ, "DATABASE_URL": url}, check=True, capture_output=True,
                   cwd=ROOT, timeout=120)
    server = Served(url, workers, tmp_path / "serve.log")
    server.url = url  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("served", [4], indirect=True)
def test_four_workers_start_together_on_a_freshly_upgraded_postgres(served):
    served.wait_up()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len([r for r in served.records() if r["msg"] == "worker ready"]) < 4:
        time.sleep(0.2)
    workers = set(served.children())
    assert len(workers) == 4
    seen: set[int] = set()
    for _ in range(400):  # every worker answers /healthz (the kernel hands each connection to one of them)
        status, body = _get(served.port)
        assert status == 200 and json.loads(body)["checks"] == {"database": "ok", "queue": "ok"}, body
        seen = {r["worker"] for r in served.records() if r.get("path") == "/healthz"}
        if seen == workers:
            break
    assert seen == workers
    logged = served.log_path.read_text()
    assert "worker failed" not in logged and "Traceback" not in logged and '"level": "error"' not in logged
    assert set(served.children()) == workers  # none died and was replaced


@pytest.mark.parametrize("served", [2], indirect=True)
def test_two_workers_take_many_peoples_turns_at_once_each_stored_once(served):
    served.wait_up()
    people, turns = 24, ["Hi", "yes", "Ana", "90011", "4", "1"]
    url = served.base + "/webhooks/twilio"
    validator = RequestValidator("test-auth-token")
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(people)

    def person(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
        barrier.wait()
        for t, body in enumerate(turns):
            data = form(body, f"SMw{n:03d}t{t}", sender=f"+1323555{n:04d}")
            # Twilio retries a slow delivery: every third message arrives twice.
            copies = 2 if (n + t) % 3 == 0 else 1
            for _ in range(copies):
                conn.request("POST", "/webhooks/twilio", urllib.parse.urlencode(data),
                             {"Content-Type": "application/x-www-form-urlencoded",
                              "X-Twilio-Signature": validator.compute_signature(url, data)})
                resp = conn.getresponse()
                resp.read()
                with lock:
                    statuses.append(resp.status)
        conn.close()

    threads = [threading.Thread(target=person, args=(n,)) for n in range(people)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert statuses and set(statuses) == {200}, sorted(set(statuses))
    db = Database(served.url)
    with db.session() as s:
        stored = dict(s.execute(select(Message.provider_id, func.count()).where(Message.direction == "in")
                                .group_by(Message.provider_id)).all())
        assert stored == {f"SMw{n:03d}t{t}": 1 for n in range(people) for t in range(len(turns))}
        assert s.scalar(select(func.count()).select_from(Intake)) == people
        steps = set(s.scalars(select(Intake.current_step)))
    db.dispose()
    assert len(steps) == 1  # every person reached the same question: no turn lost or taken twice
    # Both processes serve: the kernel may hand a busy burst to one of them, so ask until each has answered.
    workers = set(served.children())
    assert len(workers) == 2
    seen: set[int] = set()
    for _ in range(400):
        seen = {r["worker"] for r in served.records() if r.get("path") in ("/webhooks/twilio", "/healthz")}
        if seen == workers:
            break
        _get(served.port)
    assert seen == workers


def test_sqlite_writers_of_one_process_queue_in_the_process_not_on_the_file(tmp_path, runtime):
    from sqlalchemy import event

    from bot.messages import InboundMessage
    from bot.migrate import fresh_sqlite
    from bot.service import IntakeService

    db = Database(fresh_sqlite(tmp_path / "w.db"))

    @event.listens_for(db.engine, "connect")
    def _no_busy_wait(dbapi_conn, _record):  # runs after the store's own: SQLite may not wait at all
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    service = IntakeService(db, runtime)
    errors: list[BaseException] = []
    barrier = threading.Barrier(12)

    def person(n: int) -> None:
        barrier.wait()
        try:
            for t, text in enumerate(["Hi", "yes", "Ana", "90011", "4"]):
                service.handle(InboundMessage("sms", f"+1323555{n:04d}", text, f"SMq{n}t{t}"))
                # A twin delivery of every second message, from the same thread at once.
                if t % 2:
                    assert service.handle(InboundMessage("sms", f"+1323555{n:04d}", text, f"SMq{n}t{t}")).replayed
        except BaseException as exc:  # noqa: BLE001 (surfaced below: "database is locked" without the in-process queue)
            errors.append(exc)

    threads = [threading.Thread(target=person, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    with db.session() as s:
        counts = dict(s.execute(select(Message.provider_id, func.count()).where(Message.direction == "in")
                                .group_by(Message.provider_id)).all())
        assert counts == {f"SMq{n}t{t}": 1 for n in range(12) for t in range(5)}
        assert len(set(s.scalars(select(Intake.current_step)))) == 1  # everyone at the same question
    db.dispose()
