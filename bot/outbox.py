"""The outbox: messages written with the change that caused them, then sent once each by the job queue."""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, Exists, and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from bot.db import Database
from bot.models import Contact, IntakeEvent, Message, Outbox
from bot.outbound import OPTED_OUT_CODES, STATUS_RANK, Sender, SendError, SendResult, TemplateSender
from bot.privacy import set_opted_out, unreachable
from bot.whatsapp import (
    OUTSIDE_WINDOW_CODE,
    REFUSED,
    Content,
    MissingVariable,
    OutsideWindow,
    WhatsAppTemplates,
    content_for_delivery,
)

log = logging.getLogger(__name__)

DONE = ("sent", "failed", "canceled")
OPEN = ("pending", "sending")
OPT_OUT_REASONS = {"21610": "carrier:21610", "blocked": "telegram: bot blocked"}


@dataclass(frozen=True)
class Policy:
    """How hard and how often to try."""

    max_attempts: int = 8
    backoff_base: float = 2.0  # seconds before the first retry; doubles each time
    backoff_cap: float = 600.0
    # A claimed row belongs to its worker this long; after it, the worker is taken for dead and another may send.
    lease: float = 120.0
    # A due row the queue has not run after this long is handed to the queue again (its job was lost).
    grace: float = 60.0
    # Rate-limit waits up to this long are slept in the job; longer ones go back to the queue's schedule.
    max_inline_wait: float = 1.0


@dataclass(frozen=True)
class Bucket:
    """A token bucket: `rate` sends a second, at most `burst` at once."""

    key: str
    rate: float
    burst: float = 1.0


class Limiter(Protocol):
    """Token buckets shared by every worker (in the queue's SQLite file, or in Redis)."""

    def acquire(self, buckets: Sequence[Bucket], now: float) -> float:
        """Takes one token from every bucket and returns 0, or takes none and returns the seconds to wait."""
        ...

    def penalise(self, bucket: Bucket, seconds: float, now: float) -> None:
        """Empties a bucket for `seconds` (the provider said 429, retry after)."""
        ...


@dataclass(frozen=True)
class Job:
    """A claimed row and the message it sends."""

    outbox_id: int
    channel: str
    address: str
    attempts: int
    group_key: str | None
    message: Message  # detached: text, language and question meta, to render buttons from
    content: Content | None = None  # WhatsApp outside the 24-hour window: the approved template it goes as


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def add(s: Session, message: Message, address: str, now: datetime, group_key: str | None = None) -> Outbox:
    """Puts a message in the outbox inside the caller's transaction: it is sent only if that commits."""
    row = Outbox(message=message, channel=message.channel, address=address, group_key=group_key, status="pending",
                 attempts=0, due_at=now, created_at=now)
    s.add(row)
    return row


def _open_before(row: type[Outbox] | Outbox) -> Exists:
    earlier = aliased(Outbox)
    return select(earlier.id).where(earlier.group_key == row.group_key, earlier.id < row.id,
                                    earlier.status.in_(OPEN)).exists()


def ready(db: Database, outbox_id: int, now: datetime) -> Outbox | None:
    """The row if a job may send it (now, or at its due_at if that is later): open, not someone else's, first of its group."""
    with db.session() as s:
        row = s.get(Outbox, outbox_id)
        if row is None or row.status in DONE:
            return None
        if row.status == "sending" and row.lease_until is not None and row.lease_until > now:
            return None
        if row.group_key and s.scalar(select(_open_before(row))):
            return None  # the earlier reply's job sends this one after it
        s.expunge(row)
        return row


def claim(db: Database, outbox_id: int, now: datetime, lease: float) -> Job | None:
    """Marks the row as this worker's (one UPDATE that only one worker can win) and loads its message."""
    with db.writing() as s:
        claimed = cast(CursorResult[Any], s.execute(
            update(Outbox).where(Outbox.id == outbox_id, Outbox.due_at <= now,
                                 or_(Outbox.status == "pending",
                                     and_(Outbox.status == "sending", Outbox.lease_until < now)),
                                 ~_open_before(Outbox))
            .values(status="sending", lease_until=now + timedelta(seconds=lease), attempts=Outbox.attempts + 1)
            .execution_options(synchronize_session=False))).rowcount
        if claimed != 1:
            return None
        row = s.get(Outbox, outbox_id)
        assert row is not None
        msg = s.get(Message, row.message_id)
        assert msg is not None
        s.expunge(msg)
        return Job(row.id, row.channel, row.address or "", row.attempts, row.group_key, msg)


def _finish(s: Session, row: Outbox, status: str, now: datetime, error: str | None) -> None:
    row.status, row.done_at, row.lease_until, row.last_error = status, now, None, error
    row.address = None  # the address is kept only while it is needed


def _next_in_group(s: Session, row: Outbox) -> int | None:
    if not row.group_key:
        return None
    return s.scalar(select(Outbox.id).where(Outbox.group_key == row.group_key, Outbox.id > row.id,
                                            Outbox.status == "pending").order_by(Outbox.id).limit(1))


def record_sent(db: Database, job: Job, result: SendResult, now: datetime) -> int | None:
    """Stores the provider's id and status; returns the next row of the group to send, if any."""
    with db.writing() as s:
        row, msg = s.get(Outbox, job.outbox_id), s.get(Message, job.message.id)
        assert row is not None and msg is not None
        contact = s.get(Contact, msg.contact_id)
        # The reply confirming an erasure must not bring the address back through its provider id.
        erased = contact is None or contact.erased_at is not None
        msg.provider_id = None if erased or not result.provider_id else result.provider_id[:64]
        status = result.status or "sent"
        # A status callback may have come back before this line; never move backwards.
        if STATUS_RANK.get(status, 0) >= STATUS_RANK.get(msg.status or "queued", 0):
            msg.status = status
        msg.error_code = None
        if job.content is not None:
            msg.meta = {**(msg.meta or {}), "sent_as": {"content_sid": job.content.sid, "lang": job.content.lang}}
        _finish(s, row, "sent", now, None)
        return _next_in_group(s, row)


def record_failed(db: Database, job: Job, code: str, text: str, now: datetime, status: str = "failed") -> int | None:
    """A send that will not be tried again; an opt-out code opts the person out and cancels what waits for them."""
    with db.writing() as s:
        row, msg = s.get(Outbox, job.outbox_id), s.get(Message, job.message.id)
        assert row is not None and msg is not None
        msg.status, msg.error_code = status, code[:16]
        _finish(s, row, "canceled" if status == "canceled" else "failed", now, f"{code}: {text}"[:200])
        if code in OPTED_OUT_CODES:
            contact = s.get(Contact, msg.contact_id)
            if contact is not None and contact.opted_out_at is None and contact.erased_at is None:
                reason = OPT_OUT_REASONS.get(code, f"carrier:{code}")
                set_opted_out(s, contact, True, reason, now)
                s.add(IntakeEvent(contact_id=contact.id, intake_id=contact.active_intake_id, kind="opted_out",
                                  data={"keyword": reason}, created_at=now))
            waiting = s.scalars(select(Outbox).join(Message, Message.id == Outbox.message_id)
                                .where(Message.contact_id == msg.contact_id, Outbox.status == "pending")).all()
            for other in waiting:
                _finish(s, other, "canceled", now, "opted out")
                s.execute(update(Message).where(Message.id == other.message_id).values(status="canceled",
                                                                                       error_code="opted_out"))
            return None
        return _next_in_group(s, row)


def record_retry(db: Database, job: Job, code: str, text: str, delay: float, now: datetime) -> datetime:
    """Puts the row back for a later attempt; the message shows the error meanwhile."""
    due = now + timedelta(seconds=delay)
    with db.writing() as s:
        row, msg = s.get(Outbox, job.outbox_id), s.get(Message, job.message.id)
        assert row is not None and msg is not None
        row.status, row.due_at, row.lease_until, row.last_error = "pending", due, None, f"{code}: {text}"[:200]
        msg.error_code = code[:16]
    return due


def why_not_send(db: Database, job: Job) -> str | None:
    """Why a message written earlier must not go now (erased since; for staff messages and reminders, STOP since), or None."""
    if job.message.text is None:
        return "erased"
    if (job.message.meta or {}).get("kind") == "reminder":
        from bot.reminders import why_not_send as why_not_remind  # bot.reminders builds on this module

        with db.session() as s:
            return why_not_remind(s, job.message)
    if not (job.message.meta or {}).get("staff"):
        return None  # the bot's own replies: the reply to STOP or to an erasure must still go
    with db.session() as s:
        return unreachable(s, s.get(Contact, job.message.contact_id))


def drain(db: Database, now: datetime, grace: float, lease: float, limit: int = 500) -> list[tuple[int, datetime]]:
    """Rows whose job seems lost (due for longer than `grace`, or claimed by a worker whose lease ran out).

    Each is marked as handed over (due_at moves to now), so the next drain waits another `grace` for it."""
    stale = now - timedelta(seconds=grace)
    with db.writing() as s:
        rows = s.scalars(select(Outbox).where(or_(and_(Outbox.status == "pending", Outbox.due_at <= stale),
                                                  and_(Outbox.status == "sending", Outbox.lease_until < now)),
                                              ~_open_before(Outbox))
                         .order_by(Outbox.id).limit(limit)).all()
        for row in rows:
            row.status, row.lease_until, row.due_at = "pending", None, now
        return [(row.id, now) for row in rows]


@dataclass(frozen=True)
class Backlog:
    open: int
    oldest_due: datetime | None

    def oldest_age(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_due).total_seconds()) if self.oldest_due else 0.0


def backlog(db: Database) -> Backlog:
    """How many rows are not yet sent, and since when the oldest has been due."""
    with db.session() as s:
        count, oldest = s.execute(select(func.count(Outbox.id), func.min(Outbox.due_at))
                                  .where(Outbox.status.in_(OPEN))).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)  # SQLite's MIN() bypasses the column type
    return Backlog(int(count or 0), oldest)


def whatsapp_content(db: Database, job: Job, templates: WhatsAppTemplates | None, now: datetime) -> Job:
    """The job as it may go on WhatsApp now (free-form, or as its template); raises OutsideWindow."""
    with db.session() as s:
        return dataclasses.replace(job, content=content_for_delivery(s, job.message, templates, now))


def send_template(sender: Sender, job: Job) -> SendResult:
    """Sends the job's approved template, on a sender that can (Twilio's)."""
    assert job.content is not None
    if not isinstance(sender, TemplateSender):
        raise SendError("no_templates", f"the {job.channel} sender cannot send approved templates")
    return sender.send_template(job.channel, job.address, job.content.sid, job.content.variables_json)


def default_transport(senders: Mapping[str, Sender]) -> Callable[[Job], SendResult]:
    def send(job: Job) -> SendResult:
        sender = senders.get(job.channel)
        if sender is None:
            raise SendError("no_channel", f"messages cannot be sent on the {job.channel} channel from here")
        if job.content is not None:
            return send_template(sender, job)
        return sender.send(job.channel, job.address, job.message.text or "")

    return send


class Courier:
    """Sends one outbox row: checks it is due, waits for the rate limits, claims it, sends, records the outcome."""

    def __init__(self, db: Database, transport: Callable[[Job], SendResult], policy: Policy | None = None,
                 limiter: Limiter | None = None, buckets: Callable[[str, str], Sequence[Bucket]] | None = None,
                 schedule: Callable[[int, float], None] | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, rng: Callable[[], float] = random.random,
                 whatsapp: WhatsAppTemplates | None = None) -> None:
        self.db = db
        self.whatsapp = whatsapp
        self.transport = transport
        self.policy = policy or Policy()
        self.limiter = limiter
        self.buckets = buckets or (lambda channel, address: ())
        # Runs `deliver(outbox_id)` at an epoch time: a queue's schedule; without one, the drain finds the row later.
        self.schedule = schedule or (lambda outbox_id, at: None)
        self.clock, self.sleep, self.rng = clock, sleep, rng

    def now(self) -> datetime:
        return utc(self.clock())

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        """Exponential with jitter (half fixed, half random), or the provider's Retry-After plus a little."""
        if retry_after is not None:
            return retry_after + self.rng() * min(1.0, retry_after / 10)
        step = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** max(0, attempts - 1))
        return step / 2 + self.rng() * step / 2

    def deliver(self, outbox_id: int) -> str:
        """One attempt at one row; returns what happened (sent, retry, failed, canceled, deferred, skipped)."""
        row = ready(self.db, outbox_id, self.now())
        if row is None:
            return "skipped"  # done, someone else's, or waiting behind an earlier reply
        if row.due_at > self.now():
            # Early (a clock a little behind another machine's, or a twin job): come back when it is due.
            self.schedule(outbox_id, row.due_at.timestamp())
            return "early"
        buckets = list(self.buckets(row.channel, row.address or ""))
        if self.limiter is not None and buckets:
            while (wait := self.limiter.acquire(buckets, self.clock())) > 0:
                if wait > self.policy.max_inline_wait:
                    self.schedule(outbox_id, self.clock() + wait)
                    return "deferred"
                self.sleep(max(wait, 0.001))
        job = claim(self.db, outbox_id, self.now(), self.policy.lease)
        if job is None:
            return "skipped"  # a twin of this job got there first
        if job.attempts > self.policy.max_attempts:
            self._then(record_failed(self.db, job, "gave_up", "no attempt finished", self.now()))
            return "failed"
        refused = why_not_send(self.db, job)
        if refused:
            self._then(record_failed(self.db, job, refused, "not sent", self.now(), status="canceled"))
            return "canceled"
        if job.channel == "whatsapp":
            try:
                job = whatsapp_content(self.db, job, self.whatsapp, self.now())
            except OutsideWindow as exc:
                log.info("outbox %s not sent: %s", outbox_id, exc)
                self._then(record_failed(self.db, job, REFUSED, str(exc), self.now()))
                return "failed"
        try:
            job, result = self._send(job)
        except SendError as exc:
            code = exc.code or "send_error"
            if exc.transient and job.attempts < self.policy.max_attempts:
                delay = self.backoff(job.attempts, exc.retry_after)
                if exc.retry_after is not None and self.limiter is not None and buckets:
                    self.limiter.penalise(buckets[-1], exc.retry_after, self.clock())
                due = record_retry(self.db, job, code, str(exc), delay, self.now())
                log.info("outbox %s: %s (%s), attempt %s, again in %.1f s", outbox_id, exc, code, job.attempts, delay)
                self.schedule(outbox_id, due.timestamp())
                return "retry"
            log.warning("outbox %s failed for good: %s (%s)", outbox_id, exc, code)
            self._then(record_failed(self.db, job, code, str(exc), self.now()))
            return "failed"
        self._then(record_sent(self.db, job, result, self.now()))
        return "sent"

    def _send(self, job: Job) -> tuple[Job, SendResult]:
        """Sends the job; when WhatsApp says the window has closed (63016: its clock, not ours), sends its template."""
        try:
            return job, self.transport(job)
        except SendError as exc:
            if exc.code != OUTSIDE_WINDOW_CODE or job.channel != "whatsapp" or job.content is not None:
                raise
            try:
                content = (self.whatsapp or WhatsAppTemplates()).for_message(job.message.meta, job.message.language)
            except MissingVariable:
                raise exc from None
            if content is None:
                raise
            log.info("outbox %s: outside WhatsApp's window by Twilio's clock, sent as its template", job.outbox_id)
            job = dataclasses.replace(job, content=content)
            return job, self.transport(job)

    def _then(self, next_id: int | None) -> None:
        if next_id is not None:
            self.schedule(next_id, self.clock())
