"""The job queue on SQLite-huey and on Redis-huey: atomic enqueue, once-only sends, retries, rate limits, kills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.accounts import create_user
from bot.db import Database
from bot.models import Contact, Intake, Message, OptOut, Outbox, User
from bot.outbound import Outbound, SendResult
from bot.outbox import Bucket, add, utc
from tests.admin.fake_twilio import FakeTwilio
from tests.conftest import TWILIO_SID, TWILIO_TOKEN, migrated_postgres
from tests.fakes.telegram_api import FakeBotAPI
from tests.queue_helpers import FakeClock, run_due, run_until_idle
from tests.transcript import Person
from webhook.queue import Queue, make_queue, queue_of
from webhook.senders import TwilioSender
from webhook.telegram_channel import TelegramClient, TelegramSender

FROM = "+12135550000"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "redis"])
def storage(request, tmp_path) -> dict:
    """Where huey keeps the jobs: a SQLite file, or a private Redis server (a fresh queue name per test)."""
    if request.param == "redis":
        return {"REDIS_URL": request.getfixturevalue("redis_url"), "QUEUE_NAME": f"test-{uuid.uuid4().hex[:10]}"}
    return {"QUEUE_PATH": str(tmp_path / "queue.db")}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def twilio_senders(twilio: FakeTwilio) -> dict:
    sender = TwilioSender(TWILIO_SID, TWILIO_TOKEN, sms_from=FROM, base_url=twilio.url)
    return {"sms": sender, "whatsapp": sender}


def make(db: Database, storage: dict, tmp_path: Path, clock: FakeClock, senders: dict, **settings) -> Queue:
    return make_queue({**storage, **settings}, str(tmp_path), db, senders, clock=clock, sleep=clock.sleep)


def staff(db: Database) -> User:
    with db.writing() as s:
        return create_user(s, f"sam{uuid.uuid4().hex[:6]}", "a long password", "staff")


def intake_for(service, address: str, channel: str = "sms") -> int:
    p = Person(service, address, channel=channel)
    p.says("Hi")
    assert p.last is not None and p.last.intake_id is not None
    return p.last.intake_id


def outbound(queue: Queue, runtime, dispatch=None) -> Outbound:
    return Outbound(queue.db, runtime.i18n, queue.senders, dispatch=dispatch or queue.nudge)


def row_of(db: Database, message_id: int) -> Outbox:
    with db.session() as s:
        return s.scalars(select(Outbox).where(Outbox.message_id == message_id)).one()


def message(db: Database, message_id: int) -> Message:
    with db.session() as s:
        msg = s.get(Message, message_id)
        assert msg is not None
        return msg


class RecordingSender:
    """A sender that notes the (fake) time of each send."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str, str]] = []

    def send(self, channel: str, address: str, text: str) -> SendResult:
        self.sent.append((self.clock(), address, text))
        return SendResult(f"tg:{address}:{len(self.sent)}", "sent")


# ---- enqueued with the change that caused it ---------------------------------------------------------

def test_an_outbox_row_is_committed_with_its_message_or_not_at_all(service, runtime, storage, tmp_path, clock, twilio):
    q = make(service.db, storage, tmp_path, clock, twilio_senders(twilio))
    iid = intake_for(service, "+13235550101")
    with pytest.raises(RuntimeError), service.db.writing() as s:
        intake = s.get(Intake, iid)
        assert intake is not None
        msg = Message(contact_id=intake.contact_id, intake_id=iid, direction="out", channel="sms", text="Rolled back",
                      status="queued", meta={"staff": "sam"})
        s.add(msg)
        add(s, msg, "+13235550101", utc(clock()))
        s.flush()
        raise RuntimeError("the request failed after writing the message")
    with service.db.session() as s:
        assert s.scalar(select(func.count(Outbox.id))) == 0
    clock.sleep(3600)
    assert q.drain_once() == 0 and run_until_idle(q, clock) == 0 and twilio.sent == []

    sent = outbound(q, runtime).send(iid, staff(service.db), text="Committed", now=utc(clock()))
    assert q.huey.pending_count() == 1 and twilio.sent == []  # the nudge: a job in the storage, not yet run
    run_until_idle(q, clock)
    assert [r["Body"] for r in twilio.accepted] == ["Committed"]
    assert message(service.db, sent.id).provider_id.startswith("SM") and row_of(service.db, sent.id).address is None


def test_a_row_whose_nudge_was_lost_is_found_by_the_drain(service, runtime, storage, tmp_path, clock, twilio):
    q = make(service.db, storage, tmp_path, clock, twilio_senders(twilio), QUEUE_GRACE_SECONDS=30)
    iid = intake_for(service, "+13235550102")
    sent = outbound(q, runtime, dispatch=lambda ids: None).send(iid, staff(service.db), text="Hello", now=utc(clock()))
    assert q.huey.pending_count() == 0 and q.drain_once() == 0  # not yet: its job may just be slow
    clock.sleep(31)
    assert q.drain_once() == 1 and q.drain_once() == 0  # handed over once per grace period
    run_until_idle(q, clock)
    assert len(twilio.accepted) == 1 and row_of(service.db, sent.id).status == "sent"


# ---- exactly once -----------------------------------------------------------------------------------

def test_a_job_delivered_twice_sends_once(service, runtime, storage, tmp_path, clock, twilio):
    q = make(service.db, storage, tmp_path, clock, twilio_senders(twilio))
    ids: list[int] = []
    sent = outbound(q, runtime, dispatch=ids.extend).send(intake_for(service, "+13235550103"), staff(service.db),
                                                          text="Once", now=utc(clock()))
    q.nudge(ids)
    q.nudge(ids)  # the same job twice: a nudge and a drain, or a storage that redelivered
    assert q.huey.pending_count() == 2
    run_until_idle(q, clock)
    assert len(twilio.sent) == 1 and q.courier.deliver(ids[0]) == "skipped"
    assert row_of(service.db, sent.id).attempts == 1


def test_workers_racing_for_one_job_send_it_once(service, runtime, storage, tmp_path, clock, twilio):
    q = make(service.db, storage, tmp_path, clock, twilio_senders(twilio))
    ids: list[int] = []
    outbound(q, runtime, dispatch=ids.extend).send(intake_for(service, "+13235550104"), staff(service.db), text="Race",
                                                   now=utc(clock()))
    outcomes: list[str] = []
    threads = [threading.Thread(target=lambda: outcomes.append(q.courier.deliver(ids[0]))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes).count("sent") == 1 and len(twilio.sent) == 1, outcomes


# ---- retries ---------------------------------------------------------------------------------------

def test_a_500_is_retried_with_growing_backoff_then_sent(service, runtime, storage, tmp_path, clock, twilio):
    q = make(service.db, storage, tmp_path, clock, twilio_senders(twilio), QUEUE_BACKOFF_SECONDS=2)
    twilio.script = [(500, 20500, {}), (500, 20500, {})]
    start = clock()
    sent = outbound(q, runtime).send(intake_for(service, "+13235550105"), staff(service.db), text="Hi", now=utc(start))
    run_due(q, clock())
    assert message(service.db, sent.id).error_code == "20500"  # staff see it is being retried
    run_until_idle(q, clock)
    assert len(twilio.sent) == 3 and len(twilio.accepted) == 1
    # 1-2 s after the first failure, 2-4 s after the second (half fixed, half random).
    assert 3 <= clock() - start <= 6
    msg, row = message(service.db, sent.id), row_of(service.db, sent.id)
    assert (msg.status, msg.error_code, row.status, row.attempts) == ("queued", None, "sent", 3)


def test_retries_stop_after_the_last_attempt(service, runtime, storage, tmp_path, clock, twilio):
    q = make(service.db, storage, tmp_path, clock, twilio_senders(twilio), QUEUE_MAX_ATTEMPTS=3)
    twilio.script = [(503, 20503, {})] * 5
    sent = outbound(q, runtime).send(intake_for(service, "+13235550106"), staff(service.db), text="Hi", now=utc(clock()))
    run_until_idle(q, clock)
    assert len(twilio.sent) == 3 and twilio.accepted == []
    msg, row = message(service.db, sent.id), row_of(service.db, sent.id)
    assert (msg.status, msg.error_code, row.status) == ("failed", "20503", "failed")


def test_a_twilio_429_waits_as_long_as_retry_after_says(service, runtime, storage, tmp_path, clock, twilio):
    q = make(service.db, storage, tmp_path, clock, twilio_senders(twilio))
    twilio.script = [(429, 20429, {"Retry-After": "30"})]
    start = clock()
    outbound(q, runtime).send(intake_for(service, "+13235550107"), staff(service.db), text="Hi", now=utc(start))
    run_until_idle(q, clock)
    assert len(twilio.sent) == 2 and len(twilio.accepted) == 1
    assert 30 <= clock() - start <= 32


def test_a_telegram_429_waits_for_its_retry_after(service, runtime, storage, tmp_path, clock):
    with FakeBotAPI() as api:
        api.flood = [7]
        senders = {"telegram": TelegramSender(TelegramClient("123:ABC", api.base_url))}
        q = make(service.db, storage, tmp_path, clock, senders)
        start = clock()
        outbound(q, runtime).send(intake_for(service, "555001", "telegram"), staff(service.db), text="Hello Rosa",
                                  now=utc(start))
        run_until_idle(q, clock)
        assert [m["text"] for m in api.sent(555001)] == ["Hello Rosa"]
        assert [m for m, _ in api.calls].count("sendMessage:429") == 1 and 7 <= clock() - start <= 8


@pytest.mark.parametrize("code, opted_out", [(21211, False), (21610, True)])
def test_a_permanent_twilio_error_is_recorded_and_not_retried(service, runtime, storage, tmp_path, clock, twilio,
                                                               code, opted_out):
    q = make(service.db, storage, tmp_path, clock, twilio_senders(twilio))
    twilio.refuse["+13235550108"] = code
    ob = outbound(q, runtime, dispatch=lambda ids: None)
    iid, sam = intake_for(service, "+13235550108"), staff(service.db)
    first = ob.send(iid, sam, text="First", now=utc(clock()))
    second = ob.send(iid, sam, text="Second", now=utc(clock()))
    q.nudge([row_of(service.db, first.id).id])
    run_until_idle(q, clock)
    assert len(twilio.sent) == 1
    msg, row = message(service.db, first.id), row_of(service.db, first.id)
    assert (msg.status, msg.error_code, row.status, row.attempts) == ("failed", str(code), "failed", 1)
    with service.db.session() as s:
        assert (s.scalar(select(Contact.opted_out_at)) is not None) == opted_out
        assert s.scalars(select(OptOut.keyword)).all() == (["carrier:21610"] if opted_out else [])
    # After an opt-out, what still waited for the person is canceled, never sent.
    assert row_of(service.db, second.id).status == ("canceled" if opted_out else "pending")


def test_a_blocked_telegram_bot_is_an_opt_out_and_not_retried(service, runtime, storage, tmp_path, clock):
    with FakeBotAPI() as api:
        api.blocked.add(555002)
        q = make(service.db, storage, tmp_path, clock, {"telegram": TelegramSender(TelegramClient("1:A", api.base_url))})
        sent = outbound(q, runtime).send(intake_for(service, "555002", "telegram"), staff(service.db), text="Hi",
                                         now=utc(clock()))
        run_until_idle(q, clock)
        assert len(api.sent(555002)) == 1
        assert (message(service.db, sent.id).status, row_of(service.db, sent.id).attempts) == ("failed", 1)
        with service.db.session() as s:
            assert s.scalars(select(OptOut.keyword)).all() == ["telegram: bot blocked"]


# ---- rate limits -----------------------------------------------------------------------------------

def test_one_message_a_second_per_telegram_chat_and_others_do_not_wait(service, runtime, storage, tmp_path, clock):
    sender = RecordingSender(clock)
    # Waits go back to the schedule instead of being slept through, as a worker with many threads would let
    # the other chat's job run meanwhile (this test runs the jobs one at a time).
    q = make(service.db, storage, tmp_path, clock, {"telegram": sender}, TELEGRAM_CHAT_BURST=1, QUEUE_MAX_INLINE_WAIT=0)
    ob, sam = outbound(q, runtime, dispatch=lambda ids: None), staff(service.db)
    busy, other = intake_for(service, "555010", "telegram"), intake_for(service, "555011", "telegram")
    rows = [row_of(service.db, ob.send(busy, sam, text=f"Busy {n}", now=utc(clock())).id).id for n in range(4)]
    rows.append(row_of(service.db, ob.send(other, sam, text="Other", now=utc(clock())).id).id)
    start = clock()
    q.nudge(rows)
    run_until_idle(q, clock)
    busy_times = [t for t, address, _ in sender.sent if address == "555010"]
    assert sorted(text for _, _, text in sender.sent if text.startswith("Busy")) == [f"Busy {n}" for n in range(4)]
    assert all(b - a >= 0.999 for a, b in zip(busy_times, busy_times[1:], strict=False)), busy_times
    assert busy_times[-1] - start <= 3.5
    [other_time] = [t for t, address, _ in sender.sent if address == "555011"]
    assert other_time - start < 0.01


def test_telegram_keeps_to_its_global_rate(service, runtime, storage, tmp_path, clock):
    sender = RecordingSender(clock)
    q = make(service.db, storage, tmp_path, clock, {"telegram": sender}, TELEGRAM_MPS=5)
    ob, sam = outbound(q, runtime, dispatch=lambda ids: None), staff(service.db)
    rows = [row_of(service.db, ob.send(intake_for(service, f"5551{n:02d}", "telegram"), sam, text="Hi",
                                       now=utc(clock())).id).id for n in range(8)]
    start = clock()
    q.nudge(rows)
    run_until_idle(q, clock)
    times = sorted(t - start for t, _, _ in sender.sent)
    assert len(times) == 8 and times[4] < 0.01 and times[5] >= 0.199 and times[7] >= 0.599  # a burst of 5, then 5/s


def test_workers_share_the_buckets(service, storage, tmp_path, clock):
    one, two = (make(service.db, storage, tmp_path, clock, {}) for _ in range(2))
    bucket = [Bucket(f"twilio:{FROM}", 1, 1)]
    assert one.courier.limiter.acquire(bucket, clock()) == 0
    assert two.courier.limiter.acquire(bucket, clock()) == pytest.approx(1.0)
    clock.sleep(0.5)
    assert one.courier.limiter.acquire(bucket, clock()) == pytest.approx(0.5)
    clock.sleep(0.5)
    assert two.courier.limiter.acquire(bucket, clock()) == 0
    two.courier.limiter.penalise(bucket[0], 10, clock())  # a 429 with Retry-After: 10
    assert one.courier.limiter.acquire(bucket, clock()) == pytest.approx(10.0)


# ---- /healthz --------------------------------------------------------------------------------------

def test_healthz_reports_the_queue_and_its_backlog(app_config, storage, tmp_path):
    from webhook import create_app

    app = create_app({**app_config, **storage, "QUEUE_IMMEDIATE": False})
    try:
        body = app.test_client().get("/healthz").get_json()
        assert body["status"] == "ok" and body["queue"]["ok"] is True
        assert body["queue"]["backend"] == ("redis" if "REDIS_URL" in storage else "sqlite")
        assert (body["queue"]["outbox_backlog"], body["queue"]["oldest_pending_seconds"]) == (0, 0)
        svc = app.extensions["hrtp"]
        intake = intake_for(svc, "+13235550109")
        with app.app_context():
            from webhook.admin import outbound as admin_outbound

            admin_outbound().send(intake, staff(svc.db), text="Waiting for a worker",
                                  now=utc(time.time() - 90))
        queue = app.test_client().get("/healthz").get_json()["queue"]
        assert queue["outbox_backlog"] == 1 and queue["jobs_waiting"] == 1 and queue["oldest_pending_seconds"] >= 90
    finally:
        app.extensions["hrtp"].db.dispose()


def test_healthz_is_503_when_the_queue_storage_is_unreachable(app_config):
    from tests.redis_server import _free_port
    from webhook import create_app

    app = create_app({**app_config, "QUEUE_IMMEDIATE": False, "REDIS_URL": f"redis://127.0.0.1:{_free_port()}/0"})
    try:
        r = app.test_client().get("/healthz")
        assert r.status_code == 503 and r.get_json()["queue"]["ok"] is False
        assert "unreachable" in r.get_json()["queue"]["error"]
    finally:
        app.extensions["hrtp"].db.dispose()


# ---- a worker killed mid-run -------------------------------------------------------------------------

def _worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen([str(Path(sys.executable).with_name("hrtp-intake")), "worker", "--workers", "2"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _sent(db: Database, ids: list[int]) -> int:
    with db.session() as s:
        return s.scalar(select(func.count(Outbox.id)).where(Outbox.message_id.in_(ids), Outbox.status == "sent")) or 0


def _wait(predicate, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the worker exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_worker_killed_mid_run_sends_each_message_once_after_a_restart(app_config, storage, tmp_path, twilio,
                                                                         database, request):
    from webhook import create_app

    url = app_config["DATABASE_URL"]
    if database == "postgresql":
        url = request.getfixturevalue("postgres_url")
        migrated_postgres(url)
    settings = {**storage, "DATABASE_URL": url, "TWILIO_FROM_NUMBER": FROM, "TWILIO_API_BASE_URL": twilio.url,
                "TWILIO_MPS": "1", "QUEUE_GRACE_SECONDS": "1", "QUEUE_LEASE_SECONDS": "3", "QUEUE_DRAIN_SECONDS": "0.2"}
    app = create_app({**app_config, **settings, "QUEUE_IMMEDIATE": False})
    svc = app.extensions["hrtp"]
    ob = outbound(queue_of(app), svc.runtime)
    iid, sam = intake_for(svc, "+13235550110"), staff(svc.db)
    ids = [ob.send(iid, sam, text=f"Message {n}").id for n in range(4)]
    env = {**os.environ, **{k: str(v) for k, v in settings.items()}, "TWILIO_ACCOUNT_SID": TWILIO_SID,
           "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "SECRET_KEY": "test-secret"}
    env.pop("QUEUE_IMMEDIATE", None)
    first = _worker(env)
    try:
        # Twilio takes one a second from our number: after two, the worker is waiting its turn for the third.
        _wait(lambda: _sent(svc.db, ids) >= 2, 60, first)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert len(twilio.accepted) < 4, "the worker finished before it was killed; the test proves nothing"
    finally:
        first.kill()
    second = _worker(env)
    try:
        _wait(lambda: _sent(svc.db, ids) == 4, 60, second)
        bodies = sorted(r["Body"] for r in twilio.accepted)
        assert bodies == [f"Message {n}" for n in range(4)], bodies
    finally:
        second.terminate()
        second.wait(10)
        svc.db.dispose()


def test_an_erasure_cancels_what_still_waits_and_takes_the_address_out_of_the_outbox(service, runtime, storage,
                                                                                     tmp_path, clock, twilio):
    from bot.privacy import erase_contact

    q = make(service.db, storage, tmp_path, clock, twilio_senders(twilio))
    iid = intake_for(service, "+13235550111")
    sent = outbound(q, runtime).send(iid, staff(service.db), text="Your orientation is on Friday", now=utc(clock()))
    with service.db.writing() as s:
        intake = s.get(Intake, iid)
        contact = s.get(Contact, intake.contact_id)
        erase_contact(s, contact, utc(clock()))
    run_until_idle(q, clock)
    row = row_of(service.db, sent.id)
    assert twilio.sent == [] and (row.status, row.address) == ("canceled", None)
