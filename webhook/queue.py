"""The job queue: huey sends what the outbox holds (SQLite storage beside the database, Redis when REDIS_URL is set).

There is no huey instance at import time. `make_queue` builds one from the app's settings and registers the
send task on it (`huey.task()(fn)`), so each app (a test's, the worker's, the web's) has its own storage and
its own database and senders closed over by the task, and nothing reads the environment on import.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import redis
from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

from bot.db import Database
from bot.outbound import Sender, SendError, SendResult
from bot.outbox import Bucket, Courier, Job, Policy, backlog, drain, send_template, utc
from bot.whatsapp import WhatsAppTemplates

log = logging.getLogger(__name__)

TASK_NAME = "hrtp.outbox.send"
_making = threading.RLock()
T = TypeVar("T")
BUCKET_TTL = 3600  # seconds: a bucket untouched this long is full again, so it need not be kept
# A bucket this close to a whole token has one: after sleeping exactly the wait, floating point can leave it
# a hair short, and a wait of 1e-16 s would never move a clock of 1.8e9.
EPSILON = 1e-6


def setting(config: Mapping[str, Any], name: str, default: Any = None) -> Any:
    value = config.get(name)
    if value is None or value == "":
        value = os.environ.get(name) or None
    return default if value is None else value


def queue_path(config: Mapping[str, Any], instance_path: str) -> Path:
    """QUEUE_PATH, or a file beside the SQLite database (hrtp.db -> hrtp.queue.db), or instance/queue.db."""
    if setting(config, "QUEUE_PATH"):
        return Path(str(setting(config, "QUEUE_PATH")))
    url = str(config.get("DATABASE_URL") or "")
    if url.startswith("sqlite:///") and url not in ("sqlite:///:memory:",):
        return Path(url.removeprefix("sqlite:///")).with_suffix(".queue.db")
    return Path(instance_path) / "queue.db"


def _hashed(address: str) -> str:
    # Bucket keys outlive an erasure in the queue's storage: they never hold the address itself.
    return hashlib.sha256(address.encode()).hexdigest()[:20]


def buckets_from_config(config: Mapping[str, Any]) -> Callable[[str, str], Sequence[Bucket]]:
    """Telegram: 30 a second in all and 1 a second per chat; Twilio: TWILIO_MPS per sending number."""
    tg_all = Bucket("tg:all", float(setting(config, "TELEGRAM_MPS", 30)), float(setting(config, "TELEGRAM_MPS", 30)))
    chat_rate = float(setting(config, "TELEGRAM_CHAT_MPS", 1))
    # Telegram allows a short burst in one chat; a turn's two or three replies go out together.
    chat_burst = float(setting(config, "TELEGRAM_CHAT_BURST", 3))
    mps, burst = float(setting(config, "TWILIO_MPS", 1)), float(setting(config, "TWILIO_BURST", 1))
    sms_from = str(setting(config, "TWILIO_MESSAGING_SERVICE_SID", "") or setting(config, "TWILIO_FROM_NUMBER", ""))
    whatsapp_from = str(setting(config, "TWILIO_WHATSAPP_FROM", "") or setting(config, "TWILIO_FROM_NUMBER", ""))

    def buckets(channel: str, address: str) -> Sequence[Bucket]:
        if channel == "telegram":
            return (tg_all, Bucket(f"tg:chat:{_hashed(address)}", chat_rate, chat_burst))
        if channel == "sms":
            return (Bucket(f"twilio:{sms_from}", mps, burst),)
        if channel == "whatsapp":
            return (Bucket(f"twilio:wa:{whatsapp_from}", mps, burst),)
        return ()

    return buckets


class SqliteLimiter:
    """Token buckets in a table of the queue's SQLite file: every worker on this machine shares them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS hrtp_rate_buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, "
                         "at REAL NOT NULL)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        return conn

    def _level(self, conn: sqlite3.Connection, bucket: Bucket, now: float) -> float:
        row = conn.execute("SELECT tokens, at FROM hrtp_rate_buckets WHERE key = ?", (bucket.key,)).fetchone()
        if row is None:
            return bucket.burst
        return min(bucket.burst, row[0] + max(0.0, now - row[1]) * bucket.rate)

    def acquire(self, buckets: Sequence[Bucket], now: float) -> float:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            levels = [self._level(conn, b, now) for b in buckets]
            wait = max([(1 - t) / b.rate for t, b in zip(levels, buckets, strict=True) if t < 1 - EPSILON], default=0.0)
            if wait == 0:
                conn.executemany("INSERT OR REPLACE INTO hrtp_rate_buckets (key, tokens, at) VALUES (?, ?, ?)",
                                 [(b.key, t - 1, now) for t, b in zip(levels, buckets, strict=True)])
                conn.execute("DELETE FROM hrtp_rate_buckets WHERE at < ?", (now - BUCKET_TTL,))
        finally:
            conn.execute("COMMIT")
        return wait

    def penalise(self, bucket: Bucket, seconds: float, now: float) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            level = min(self._level(conn, bucket, now), 1 - seconds * bucket.rate)
            conn.execute("INSERT OR REPLACE INTO hrtp_rate_buckets (key, tokens, at) VALUES (?, ?, ?)",
                         (bucket.key, level, now))
        finally:
            conn.execute("COMMIT")


# One script, so reading and taking the tokens of every bucket is atomic across workers and machines.
# Numbers go back as strings: Redis would truncate a Lua float reply to an integer.
ACQUIRE = """
local now = tonumber(ARGV[1])
local levels, wait = {}, 0
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local v = redis.call('HMGET', KEYS[i], 't', 'at')
  local t = burst
  if v[1] then t = math.min(burst, tonumber(v[1]) + math.max(0, now - tonumber(v[2])) * rate) end
  levels[i] = t
  if t < 1 - 1e-6 then wait = math.max(wait, (1 - t) / rate) end
end
if wait > 0 then return tostring(wait) end
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 't', tostring(levels[i] - 1), 'at', tostring(now))
  redis.call('EXPIRE', KEYS[i], ARGV[#ARGV])
end
return '0'
"""
PENALISE = """
local now, rate, burst, floor = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local v = redis.call('HMGET', KEYS[1], 't', 'at')
local t = burst
if v[1] then t = math.min(burst, tonumber(v[1]) + math.max(0, now - tonumber(v[2])) * rate) end
redis.call('HSET', KEYS[1], 't', tostring(math.min(t, floor)), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisLimiter:
    """The same token buckets in Redis, shared by every worker on every machine."""

    def __init__(self, conn: redis.Redis, prefix: str) -> None:
        self.conn = conn
        self.prefix = prefix
        self._acquire = conn.register_script(ACQUIRE)
        self._penalise = conn.register_script(PENALISE)

    def acquire(self, buckets: Sequence[Bucket], now: float) -> float:
        args: list[Any] = [repr(now)]
        for b in buckets:
            args += [repr(b.rate), repr(b.burst)]
        return float(self._acquire(keys=[f"{self.prefix}:{b.key}" for b in buckets], args=[*args, BUCKET_TTL]))

    def penalise(self, bucket: Bucket, seconds: float, now: float) -> None:
        self._penalise(keys=[f"{self.prefix}:{bucket.key}"],
                       args=[repr(now), repr(bucket.rate), repr(bucket.burst), repr(1 - seconds * bucket.rate), BUCKET_TTL])


def transport(senders: Mapping[str, Sender]) -> Callable[[Job], SendResult]:
    """Sends a job's message through its channel's sender; Telegram questions keep their buttons."""
    from bot.service import rendered_from
    from webhook.telegram_channel import TelegramSender, telegram_text

    def send(job: Job) -> SendResult:
        sender = senders.get(job.channel)
        if sender is None:
            raise SendError("no_channel", f"messages cannot be sent on the {job.channel} channel from here")
        if job.content is not None:
            return send_template(sender, job)
        if isinstance(sender, TelegramSender):
            text, buttons = telegram_text(rendered_from(job.message))
            return sender.send(job.channel, job.address, text, buttons)
        return sender.send(job.channel, job.address, job.message.text or "")

    return send


class Queue:
    """A huey instance with the outbox's send task registered on it, and the courier that task runs."""

    def __init__(self, huey: Huey, db: Database, senders: Mapping[str, Sender], policy: Policy,
                 buckets: Callable[[str, str], Sequence[Bucket]], limiter: Any, backend: str,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 drain_every: float = 5.0, whatsapp: WhatsAppTemplates | None = None) -> None:
        self.huey, self.db, self.senders, self.policy, self.backend = huey, db, dict(senders), policy, backend
        self.clock = clock
        self.drain_every = drain_every
        self.whatsapp = whatsapp
        self.courier = Courier(db, transport(self.senders), policy, limiter, buckets, self.schedule, clock, sleep,
                               whatsapp=whatsapp)
        # Registered on this instance only: a consumer finds it by name in its own huey's registry.
        self.send_task = huey.task(name=TASK_NAME)(self.courier.deliver)

    def schedule(self, outbox_id: int, at: float) -> None:
        """A job for the row, now or at an epoch time (huey keeps the time in its storage's schedule)."""
        if at <= self.clock():
            self.send_task(outbox_id)
        else:
            self.send_task.schedule((outbox_id,), eta=utc(at))

    def nudge(self, outbox_ids: Sequence[int]) -> None:
        """Right after a commit: jobs for its outbox rows. If this is lost, the drain finds the rows later."""
        for outbox_id in outbox_ids:
            try:
                self.schedule(outbox_id, self.clock())
            except (redis.RedisError, sqlite3.Error, OSError) as exc:
                # The rows are committed; the drain hands them over once the storage is back.
                log.warning("could not enqueue outbox row %s: %s", outbox_id, exc)

    def drain_once(self) -> int:
        """Hands every row whose job seems lost back to the queue; returns how many."""
        rows = drain(self.db, utc(self.clock()), self.policy.grace, self.policy.lease)
        for outbox_id, _ in rows:
            self.schedule(outbox_id, self.clock())
        return len(rows)

    def drain_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                count = self.drain_once()
                if count:
                    log.info("drain: %s outbox rows handed to the queue again", count)
            except (redis.RedisError, sqlite3.Error, OSError) as exc:
                log.warning("drain failed, trying again in %s s: %s", self.drain_every, exc)
            except Exception:
                # Whatever a database raises must not end the drain for good: logged with its traceback, tried again.
                log.exception("drain failed")
            stop.wait(self.drain_every)

    def health(self) -> dict[str, Any]:
        """Whether the storage answers, how many jobs wait in it, and the outbox's backlog."""
        out: dict[str, Any] = {"backend": self.backend}
        try:
            out["jobs_waiting"] = self.huey.pending_count()
            out["jobs_scheduled"] = self.huey.scheduled_count()
            out["ok"] = True
        except (redis.RedisError, sqlite3.Error, OSError) as exc:
            out.update(ok=False, error=f"queue storage unreachable: {type(exc).__name__}")
        waiting = backlog(self.db)
        out["outbox_backlog"] = waiting.open
        out["oldest_pending_seconds"] = round(waiting.oldest_age(utc(self.clock())), 1)
        return out

    def every(self, name: str, seconds: float, job: Callable[[], object], stop: threading.Event) -> None:
        """Runs `job` now and then every `seconds` until `stop`; a failure is logged and the next run goes ahead."""
        while not stop.is_set():
            try:
                job()
            except (redis.RedisError, sqlite3.Error, OSError) as exc:
                log.warning("%s failed, trying again in %s s: %s", name, seconds, exc)
            except Exception:
                # As for the drain: whatever a database raises must not end the loop for good; logged with its traceback.
                log.exception("%s failed", name)
            stop.wait(seconds)

    def run_worker(self, workers: int, poll_max: float = 0.5,
                   also: Sequence[tuple[str, float, Callable[[], object]]] = ()) -> None:
        """Runs huey's consumer with `workers` threads, the drain beside it and each of `also` (name, every
        seconds, job: the reminder scan) on its own thread, until SIGINT or SIGTERM."""
        stop = threading.Event()
        drainer = threading.Thread(target=self.drain_forever, args=(stop,), name="outbox-drain", daemon=True)
        drainer.start()
        for name, seconds, job in also:
            threading.Thread(target=self.every, args=(name, seconds, job, stop), name=name, daemon=True).start()
        # Polling SQLite backs off to at most poll_max seconds idle; Redis blocks on the list instead.
        consumer = self.huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                             initial_delay=0.05, backoff=1.15, max_delay=poll_max,
                                             scheduler_interval=1)
        try:
            consumer.run()
        finally:
            stop.set()


def make_queue(config: Mapping[str, Any], instance_path: str, db: Database, senders: Mapping[str, Sender],
               clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
               whatsapp: WhatsAppTemplates | None = None) -> Queue:
    """The queue the settings ask for: RedisHuey on REDIS_URL, else SqliteHuey in QUEUE_PATH (or immediate)."""
    name = str(setting(config, "QUEUE_NAME", "hrtp-intake"))
    policy = Policy(max_attempts=int(setting(config, "QUEUE_MAX_ATTEMPTS", 8)),
                    backoff_base=float(setting(config, "QUEUE_BACKOFF_SECONDS", 2)),
                    backoff_cap=float(setting(config, "QUEUE_BACKOFF_CAP_SECONDS", 600)),
                    lease=float(setting(config, "QUEUE_LEASE_SECONDS", 120)),
                    grace=float(setting(config, "QUEUE_GRACE_SECONDS", 60)),
                    max_inline_wait=float(setting(config, "QUEUE_MAX_INLINE_WAIT", 1)))
    buckets = buckets_from_config(config)
    huey: Huey
    limiter: Any
    redis_url = str(setting(config, "REDIS_URL", "") or "")
    if str(setting(config, "QUEUE_IMMEDIATE", "")).lower() in ("1", "true", "yes"):
        # Jobs run inside the call that enqueues them (tests, a single process without a worker).
        huey, backend = MemoryHuey(name, immediate=True, results=False), "immediate"
        limiter = None
    elif redis_url:
        huey, backend = RedisHuey(name, url=redis_url, results=False), "redis"
        limiter = RedisLimiter(huey.storage.conn, f"{name}:rate")
    else:
        path = queue_path(config, instance_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        huey, backend = SqliteHuey(name, filename=str(path), results=False), "sqlite"
        limiter = SqliteLimiter(path)
    return Queue(huey, db, senders, policy, buckets, limiter, backend, clock, sleep,
                 drain_every=float(setting(config, "QUEUE_DRAIN_SECONDS", 5)), whatsapp=whatsapp)


def made_once(app: Flask, key: str, make: Callable[[], T]) -> T:
    """The app's `key` extension, made by `make` the first time any thread asks (re-entrant: one may need another)."""
    found = app.extensions.get(key)
    if found is not None:
        return cast(T, found)
    with _making:
        found = app.extensions.get(key)
        if found is None:
            found = app.extensions[key] = make()
    return cast(T, found)


def queue_of(app: Flask | None = None) -> Queue:
    """The app's queue, made on first use (the web process to enqueue, the worker to run jobs)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return made_once(app, "hrtp_queue", lambda: _app_queue(app))


def _app_queue(app: Flask) -> Queue:
    from webhook.channels import registry

    with app.app_context():
        senders = registry(app).senders(app.config)
        svc = app.extensions["hrtp"]
        return make_queue(app.config, app.instance_path, svc.db, senders,
                          clock=app.config.get("QUEUE_CLOCK") or time.time,
                          sleep=app.config.get("QUEUE_SLEEP") or time.sleep,
                          whatsapp=app.extensions.get("hrtp_whatsapp"))


def health(app: Flask) -> dict[str, Any]:
    """The queue's part of /healthz."""
    try:
        return queue_of(app).health()
    except (redis.RedisError, sqlite3.Error, OSError) as exc:
        return {"ok": False, "error": f"queue unavailable: {type(exc).__name__}"}
