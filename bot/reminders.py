"""Reminders for abandoned intakes: who is due a nudge, when it may go (never at night), and enqueueing it once only."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake_flows.text import N_, Msg

from bot.assisted import addressee, device_code, for_person
from bot.audit import audit
from bot.budget import segment_budget_status
from bot.callbacks import OPEN as OPEN_CALL_BACKS
from bot.messages import Reply
from bot.models import CallBack, Contact, Intake, Message, Reminder, User
from bot.outbox import add as add_to_outbox
from bot.privacy import unreachable
from bot.render import Rendered, render
from bot.service import IntakeService
from bot.whatsapp import WhatsAppTemplates, window

log = logging.getLogger(__name__)

# Says where the person stopped (the question itself, as they were asked it) and how to stop these messages.
# "Reply STOP", not "Text STOP": the same words fit Telegram, where nothing is texted.
REMINDER_TEXT = N_("LA County HRTP: your training intake is waiting where you stopped: %(question)s "
                   "Reply to go on from there. Reply STOP to end messages.")
# Staff statuses under which a person may still be nudged to finish: later ones (enrolled, placed) and the exits
# (not eligible, withdrawn, unreachable) close the intake for reminders (bot.workflow).
OPEN_REVIEW = ("new", "contacted")
# Channels a nudge can reach: the web chat only answers a page that asks.
PUSH_CHANNELS = frozenset({"sms", "whatsapp", "telegram"})
# Steps that are no question to go back to.
NOT_QUESTIONS = ("result", "end", "program_choice", "language")


class ReminderConfigError(ValueError):
    """A reminder setting that cannot be read; the message names the setting and what it should look like."""


@dataclass(frozen=True)
class ReminderConfig:
    """The schedule (hours of silence before each step), quiet hours, the people's time zone and how late a step may go."""

    after_hours: tuple[float, ...] = (24.0, 72.0)
    quiet_start: time = time(21)  # no nudge from this local time ...
    quiet_end: time = time(8)  # ... until this one (the next morning when start > end)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/Los_Angeles"))
    # A step that could not go within this many hours of its time is dropped, so a budget stop or a switch turned
    # back on never sends a pile of stale nudges.
    late_hours: float = 24.0

    @classmethod
    def parse(cls, after_hours: str | None = None, quiet_hours: str | None = None, tz: str | None = None,
              late_hours: str | float | None = None) -> ReminderConfig:
        """Reads REMINDER_AFTER_HOURS ("24,72", or "off"), REMINDER_QUIET_HOURS ("21:00-08:00"), REMINDER_TZ and
        REMINDER_LATE_HOURS; an unset one takes its default."""
        base = cls()
        return cls(parse_schedule(after_hours) if after_hours not in (None, "") else base.after_hours,
                   *(parse_quiet_hours(quiet_hours) if quiet_hours else (base.quiet_start, base.quiet_end)),
                   parse_tz(tz) if tz else base.tz,
                   parse_late(late_hours) if late_hours not in (None, "") else base.late_hours)

    def quiet(self, at: datetime) -> bool:
        """True when `at` falls in the quiet hours, in the people's time zone."""
        t = at.astimezone(self.tz).time()
        if self.quiet_start > self.quiet_end:
            return t >= self.quiet_start or t < self.quiet_end
        return self.quiet_start <= t < self.quiet_end

    def next_allowed(self, at: datetime) -> datetime:
        """`at`, or the end of the quiet hours it falls in (a nudge due at 23:00 goes at 8:00 the next morning)."""
        if not self.quiet(at):
            return at
        local = at.astimezone(self.tz)
        day: date = local.date()
        if self.quiet_start > self.quiet_end and local.time() >= self.quiet_start:
            day += timedelta(days=1)
        return datetime.combine(day, self.quiet_end, self.tz)


def parse_schedule(value: str) -> tuple[float, ...]:
    text = value.strip().lower()
    if text in ("off", "none", "0"):
        return ()
    try:
        hours = tuple(float(part) for part in re.split(r"[,\s]+", text) if part)
    except ValueError:
        raise ReminderConfigError(f"REMINDER_AFTER_HOURS must be hours of silence before each reminder, like 24,72 "
                                  f"(or off); got {value!r}") from None
    if not hours or any(not 0 < h <= 24 * 90 for h in hours) or list(hours) != sorted(set(hours)):
        raise ReminderConfigError(f"REMINDER_AFTER_HOURS must be increasing hours between 0 and 2160, like 24,72; "
                                  f"got {value!r}")
    return hours


def parse_quiet_hours(value: str) -> tuple[time, time]:
    found = re.fullmatch(r"\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*", value)
    try:
        if not found:
            raise ValueError(value)
        start = time(int(found.group(1)) % 24, int(found.group(2) or 0))
        end = time(int(found.group(3)) % 24, int(found.group(4) or 0))
    except ValueError:
        raise ReminderConfigError(f"REMINDER_QUIET_HOURS must be a local time range with no reminders, like "
                                  f"21:00-08:00; got {value!r}") from None
    if start == end:
        raise ReminderConfigError(f"REMINDER_QUIET_HOURS must start and end at different times; got {value!r}")
    return start, end


def parse_tz(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ReminderConfigError(f"REMINDER_TZ must be an IANA time zone, like America/Los_Angeles; got {value!r}") from None


def parse_late(value: str | float) -> float:
    try:
        late = float(value)
    except ValueError:
        raise ReminderConfigError(f"REMINDER_LATE_HOURS must be a number of hours, like 24; got {value!r}") from None
    if not 0 < late <= 24 * 30:
        raise ReminderConfigError(f"REMINDER_LATE_HOURS must be between 0 and 720 hours; got {value!r}")
    return late


def due_step(cfg: ReminderConfig, last_activity: datetime, sent: dict[int, datetime],
             now: datetime) -> tuple[int, datetime] | None:
    """The step to send now and when it fell due, or None.

    Steps only go forward: the latest step whose time has come is the one, and any earlier one not sent is passed
    over. After a nudge, the next waits the schedule's gap from that nudge too, so a late first step is never
    followed at once by the second."""
    done = max(sent, default=0)
    last_sent = sent.get(done)
    found: tuple[int, datetime] | None = None
    for k, hours in enumerate(cfg.after_hours, 1):
        if k <= done:
            continue
        at = last_activity + timedelta(hours=hours)
        if last_sent is not None and last_sent > last_activity:
            at = max(at, last_sent + timedelta(hours=hours - cfg.after_hours[done - 1]))
        at = cfg.next_allowed(at)
        if at <= now:
            found = (k, at)
    if found is None or cfg.quiet(now) or now - found[1] > timedelta(hours=cfg.late_hours):
        return None
    return found


@dataclass(frozen=True)
class Nudge:
    """One reminder that is due: what goes, to whom, on which channel."""

    intake_id: int
    contact_id: int
    channel: str
    address: str
    language: str
    step: int
    hours: float
    due_at: datetime
    question: str  # the step id the person stopped at
    parts: tuple[Rendered, ...]

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.parts)

    @property
    def segments(self) -> int:
        return sum(p.segments for p in self.parts)

    def to_json(self) -> dict[str, Any]:
        return {"intake_id": self.intake_id, "channel": self.channel, "language": self.language, "step": self.step,
                "after_hours": self.hours, "stopped_at": self.question, "due_at": self.due_at.astimezone(UTC).isoformat(),
                "segments": self.segments, "text": self.text}


@dataclass
class ScanReport:
    """What one scan did: the nudges enqueued (or, on a dry run, that would be), and why others did not go."""

    nudges: list[Nudge] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)
    budget_stopped: bool = False
    lost_races: int = 0


class Reminders:
    """Finds the intakes due a nudge and enqueues each nudge with its message, outbox row and step record at once."""

    def __init__(self, service: IntakeService, config: ReminderConfig, channels: Iterable[str] = PUSH_CHANNELS,
                 dispatch: Callable[[Sequence[int]], None] | None = None,
                 whatsapp: WhatsAppTemplates | None = None) -> None:
        self.service = service
        self.config = config
        self.whatsapp = whatsapp
        # The channels this process can send on (those with a sender); a nudge for another would only fail.
        self.channels = frozenset(channels) & PUSH_CHANNELS
        self.dispatch = dispatch

    # ---- who is due ----------------------------------------------------------------------------
    def candidates(self, s: Session, now: datetime) -> list[tuple[Intake, Contact]]:
        """Incomplete intakes silent long enough, on a channel that can be reached, not stopped by anyone."""
        hours = self.config.after_hours
        if not hours or not self.channels:
            return []
        # Silent at least the first delay, and not so long that even the last step (moved past a night) is too late.
        oldest = now - timedelta(hours=hours[-1] + self.config.late_hours + 24)
        newest = now - timedelta(hours=hours[0])
        # The intake's own contact: a worker's phone that enrolled it may still point at it, and must not be nudged.
        q = (select(Intake, Contact).join(Contact, and_(Contact.active_intake_id == Intake.id,
                                                        Contact.id == Intake.contact_id))
             .where(Intake.status == "incomplete", Intake.completed_at.is_(None), Intake.reminders_off.is_(False),
                    Intake.review_status.in_(OPEN_REVIEW), Intake.current_step.is_not(None),
                    Intake.updated_at <= newest, Intake.updated_at >= oldest,
                    Contact.channel.in_(sorted(self.channels)), Contact.opted_out_at.is_(None),
                    Contact.erased_at.is_(None), Contact.pending_delete.is_(False),
                    ~exists().where(CallBack.intake_id == Intake.id, CallBack.status.in_(OPEN_CALL_BACKS)))
             .order_by(Intake.id))
        return [(i, c) for i, c in s.execute(q).all()]

    def why_not(self, s: Session, intake: Intake, contact: Contact) -> str | None:
        """Why this intake gets no nudge even though its row looks due, or None."""
        state = intake.state or {}
        flow = self.service.runtime.bundle.flow
        consent = flow.role_field("consent")
        if consent and (state.get("answers") or {}).get(consent) != "yes":
            return "no_consent"  # stopped before agreeing to anything: nothing is kept, nothing is sent
        if state.get("pending") not in (None, "", "resume"):
            return "other_question"  # asked whether to stop, or for a call-back time: no nudge over that
        step = flow.by_id.get(intake.current_step or "")
        if step is None or step.kind in NOT_QUESTIONS or not step.prompt:
            return "no_question"
        why = unreachable(s, contact)
        if why:
            return why
        if device_code(s, contact.channel, contact.address) is not None:
            return "worker_phone"  # issue 14: follow-up goes to the person's own number, never the outreach worker's
        return None

    def compose(self, intake: Intake, contact: Contact, step: int, due_at: datetime, whom: str | None = None) -> Nudge:
        svc = self.service
        question = svc.runtime.bundle.flow.by_id[intake.current_step or ""]
        t = svc.runtime.i18n(intake.language or contact.language)
        lang = t.lang
        text = Msg(REMINDER_TEXT, {"question": Msg(question.prompt or "")})
        if whom is not None:
            text = for_person(text, whom, intake.started_at, t)  # a phone shared by NEW: say whose intake waits
        reply = Reply(text=(text,), lang=lang)
        parts = tuple(render([reply], svc.runtime.i18n, contact.channel, plain=svc.sms_plain))
        return Nudge(intake.id, contact.id, contact.channel, contact.address, lang, step,
                     self.config.after_hours[step - 1], due_at, question.id, parts)

    def due(self, s: Session, now: datetime) -> list[Nudge]:
        """Every nudge that would go at `now`, before the SMS budget is applied."""
        out: list[Nudge] = []
        for intake, contact in self.candidates(s, now):
            if self.why_not(s, intake, contact):
                continue
            sent = dict(s.execute(select(Reminder.step, Reminder.sent_at).where(Reminder.intake_id == intake.id)).all())
            found = due_step(self.config, intake.updated_at, sent, now)
            if found is not None and not self.closed_whatsapp(s, contact, found[0], now):
                out.append(self.compose(intake, contact, *found, whom=addressee(s, intake, contact)))
        return out

    def closed_whatsapp(self, s: Session, contact: Contact, step: int, now: datetime) -> bool:
        """True when a WhatsApp nudge could only fail: outside the 24-hour window with no approved reminder template."""
        if contact.channel != "whatsapp" or window(s, contact.id, now).open:
            return False
        # Meta delivers only approved templates outside the window; a free-form nudge would fail (63016).
        return not (self.whatsapp and self.whatsapp.reminder_template(step))

    # ---- sending --------------------------------------------------------------------------------
    def scan(self, now: datetime, dry_run: bool = False) -> ScanReport:
        """Enqueues every due nudge (each in its own transaction), or on a dry run only lists them."""
        svc = self.service
        report = ScanReport()
        with svc.db.session() as s:
            nudges = self.due(s, now)
            budget = segment_budget_status(s, svc.settings, now)
        used = budget.used
        for nudge in nudges:
            cost = nudge.segments if nudge.channel == "sms" else 0
            if budget.budget and (used >= budget.budget or used + cost > budget.budget):
                # The monthly SMS budget stops every reminder, on every channel (replies to people still go).
                report.budget_stopped = True
                break
            if dry_run:
                report.nudges.append(nudge)
                used += cost
                continue
            try:
                ids = self.enqueue(nudge, now)
            except IntegrityError:
                ids = None  # another worker recorded this step first; its transaction carries the message
            if ids is None:
                report.lost_races += 1
                continue
            report.nudges.append(nudge)
            report.outbox_ids.extend(ids)
            used += cost
        if report.budget_stopped:
            log.warning("reminders stopped: the SMS segment budget (%s) is reached", budget.budget)
        if report.outbox_ids and self.dispatch is not None:
            # After the commits: a lost hand-over is found by the outbox's drain.
            self.dispatch(report.outbox_ids)
        return report

    def enqueue(self, nudge: Nudge, now: datetime) -> list[int] | None:
        """The step record, the message and its outbox row in one transaction; None when it must not go after all."""
        with self.service.db.writing() as s:
            # Locked and read again: an inbound message or another worker may have moved on since the scan.
            contact = s.scalar(select(Contact).where(Contact.id == nudge.contact_id).with_for_update())
            intake = s.get(Intake, nudge.intake_id, populate_existing=True)
            if contact is None or intake is None or contact.active_intake_id != intake.id:
                return None
            # why_not covers an opt-out or erasure since the scan (bot.privacy.unreachable).
            if intake.current_step != nudge.question or intake.status != "incomplete" or intake.reminders_off \
                    or intake.review_status not in OPEN_REVIEW or contact.pending_delete or self.why_not(s, intake, contact):
                return None
            sent = dict(s.execute(select(Reminder.step, Reminder.sent_at).where(Reminder.intake_id == intake.id)).all())
            if due_step(self.config, intake.updated_at, sent, now) != (nudge.step, nudge.due_at):
                return None
            record = Reminder(intake_id=intake.id, step=nudge.step, hours=nudge.hours, sent_at=now)
            s.add(record)
            s.flush()  # a twin scan that committed this step first fails here, on the unique (intake, step)
            rows = []
            for part in nudge.parts:
                msg = Message(contact_id=contact.id, intake_id=intake.id, direction="out", channel=contact.channel,
                              text=part.text, language=part.lang, segments=part.segments, encoding=part.encoding,
                              status="queued", created_at=now, meta={"kind": "reminder", "step": nudge.step})
                s.add(msg)
                rows.append(add_to_outbox(s, msg, contact.address, now, group_key=f"reminder:{intake.id}:{nudge.step}"))
            s.flush()
            record.message_id = rows[0].message_id
        return [row.id for row in rows]


def why_not_send(s: Session, message: Message) -> str | None:
    """At sending time: a reminder waiting in the outbox goes only while the person is still silent and reachable."""
    why = unreachable(s, s.get(Contact, message.contact_id))
    if why:
        return why
    intake = s.get(Intake, message.intake_id) if message.intake_id else None
    if intake is None or intake.status != "incomplete" or intake.reminders_off:
        return "closed"
    answered = s.scalar(select(exists().where(Message.intake_id == intake.id, Message.direction == "in",
                                              Message.created_at > message.created_at)))
    return "answered" if answered else None


def set_reminders_off(s: Session, intake: Intake, off: bool, user: User, ip: str | None, now: datetime) -> bool:
    """Staff switch reminders off (or back on) for one intake, audited; True when that changed anything."""
    if bool(intake.reminders_off) == off:
        return False
    intake.reminders_off = off
    audit(s, user, "reminders", "intake", intake.id, {"reminders": "off" if off else "on"}, ip, now)
    return True
