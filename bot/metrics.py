"""The dashboard's indicators: counts per referral code and sector, the funnel and where people stop."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, func, literal, or_, select, text
from sqlalchemy.engine import Result
from sqlalchemy.orm import Session, aliased

from intake_flows.schema import Flow

from bot.intake_list import day_bound, unindexed
from bot.models import Answer, CallBack, CaseFile, Intake, IntakeFacet, Message, Reminder, answer_skipped, json_text

WAGE_TARGET_CENTS = 2200  # the HRTP Fund's $22/hr target for the median wage at placement
PRIORITY_TARGET = 1.0  # the Fund's target: every person served is from a priority population


@dataclass
class Counts:
    """The program's indicators for one group of intakes."""

    started: int = 0
    completed: int = 0
    eligible: int = 0
    contacted: int = 0
    enrolled: int = 0
    trained: int = 0
    placed: int = 0
    apprenticeships: int = 0
    enrolled_priority: int = 0
    completed_priority: int = 0
    with_needs: int = 0
    median_wage_cents: int | None = None

    @property
    def placement_rate(self) -> float | None:
        return self.placed / self.trained if self.trained else None

    @property
    def priority_share(self) -> float | None:
        return self.enrolled_priority / self.enrolled if self.enrolled else None

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.started if self.started else None


@dataclass
class FunnelStage:
    key: str
    label: str
    count: int


@dataclass
class DropOff:
    step: str
    label: str
    question: str
    answered: int
    skipped: int
    stopped: int

    @property
    def reached(self) -> int:
        return self.answered + self.stopped

    @property
    def rate(self) -> float | None:
        return self.stopped / self.reached if self.reached else None


@dataclass(frozen=True)
class CallBackCounts:
    """Call-backs for the intakes of the period: people who asked, people called, and who completed after asking."""

    asked: int = 0
    made: int = 0
    completed_after: int = 0


@dataclass(frozen=True)
class ReminderStepCounts:
    """One reminder step (bot.reminders): how many went, and how many people answered and completed after it."""

    step: int
    label: str
    sent: int = 0
    answered: int = 0
    completed: int = 0

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.sent if self.sent else None

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.sent if self.sent else None


@dataclass
class Metrics:
    total: Counts
    by_sector: list[tuple[str, Counts]]
    by_referral: list[tuple[str, Counts]]
    funnel: list[FunnelStage]
    dropoff: list[DropOff]
    needs: list[tuple[str, int]]
    needs_base: int
    wage_target_cents: int = WAGE_TARGET_CENTS
    priority_target: float = PRIORITY_TARGET
    call_backs: CallBackCounts = field(default_factory=CallBackCounts)
    reminders: list[ReminderStepCounts] = field(default_factory=list)


# The Counts fields that are yes or no for one intake, as bits of a mask (bit i is MASK_FIELDS[i]).
MASK_FIELDS = ("completed", "eligible", "contacted", "enrolled", "trained", "placed", "apprenticeships",
               "enrolled_priority", "completed_priority", "with_needs")
SECTOR_SEP = "\x1f"  # between the sectors of one intake; no option id contains it


def _mask_conditions() -> list[ColumnElement[bool]]:
    """The conditions behind MASK_FIELDS, over an intake outer-joined to its case file."""
    done = Intake.completed_at.is_not(None)
    priority = Intake.is_priority.is_(True)
    return [done, Intake.eligibility == "eligible", CaseFile.contacted_at.is_not(None),
            CaseFile.enrolled_at.is_not(None), CaseFile.trained_at.is_not(None), CaseFile.placed_at.is_not(None),
            and_(CaseFile.placed_at.is_not(None), CaseFile.apprenticeship.is_(True)),
            and_(CaseFile.enrolled_at.is_not(None), priority), and_(done, priority),
            Intake.id.in_(select(IntakeFacet.intake_id).where(IntakeFacet.facet == "need"))]


def _sectors() -> Any:
    """The intake's sectors of interest as one string, so intakes can be grouped by the set they picked."""
    return (select(func.aggregate_strings(IntakeFacet.value, SECTOR_SEP))
            .where(IntakeFacet.intake_id == Intake.id, IntakeFacet.facet == "sector").scalar_subquery())


def _median(values: list[int]) -> int | None:
    if not values:
        return None
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) // 2


def _period(date_from: str, date_to: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if (d := day_bound(date_from)) is not None:
        where.append(Intake.started_at >= d)
    if (d := day_bound(date_to, end=True)) is not None:
        where.append(Intake.started_at < d)
    return where


IdFilter = Callable[[Any], list[ColumnElement[bool]]]


def _period_ids(s: Session, period: Sequence[ColumnElement[bool]]) -> IdFilter:
    """Keeps an intake-id column (of answers, facets) to the intakes started in the period.

    Ids grow with time, so a period's intakes are usually exactly the intakes of one id range; the range is then
    the filter, which an index ending in intake_id reads directly instead of testing each row for membership."""
    if not period:
        return lambda col: []
    lo, hi, n = s.execute(select(func.min(Intake.id), func.max(Intake.id), func.count()).where(*period)).one()
    if not n:
        return lambda col: [false()]
    if s.scalar(select(func.count()).select_from(Intake).where(unindexed(Intake.id).between(lo, hi))) == n:
        return lambda col: [col.between(lo, hi)]
    ids = select(Intake.id).where(*period)
    return lambda col: [col.in_(ids)]


@dataclass
class _Group:
    """The intakes of one dashboard row: how many share each mask of MASK_FIELDS, and their wages at placement."""

    masks: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    wages: list[int] = field(default_factory=list)

    def add(self, mask: int, wage: int | None, n: int) -> None:
        self.masks[mask] += n
        if wage is not None:
            self.wages.extend([wage] * n)

    def merge(self, other: _Group) -> None:
        for mask, n in other.masks.items():
            self.masks[mask] += n
        self.wages.extend(other.wages)

    def counts(self) -> Counts:
        c = Counts(started=sum(self.masks.values()), median_wage_cents=_median(self.wages))
        for bit, name in enumerate(MASK_FIELDS):
            setattr(c, name, sum(n for mask, n in self.masks.items() if mask >> bit & 1))
        return c


def _intake_groups(s: Session, period: Sequence[ColumnElement[bool]]) -> Result[Any]:
    """Intakes counted by referral code, set of sectors, mask of MASK_FIELDS and wage at placement, in one pass.

    Every count on the dashboard's tables is a sum over these few thousand rows, so each intake is read once, from
    narrow indexes (ix_intakes_metrics and the keys of the case files and facets), never from its wide row."""
    mask = sum((case((cond, 1 << bit), else_=0) for bit, cond in enumerate(_mask_conditions())), literal(0))
    wage = case((CaseFile.placed_at.is_not(None), CaseFile.hourly_wage_cents))
    per_intake = (select(Intake.referral_code.label("code"), _sectors().label("sectors"), mask.label("mask"),
                         wage.label("wage"))
                  .outerjoin(CaseFile, CaseFile.intake_id == Intake.id).where(*period))
    if s.get_bind().dialect.name == "sqlite":
        # A LIMIT keeps SQLite from merging this into the grouping, which would run the per-intake lookups twice.
        per_intake = per_intake.limit(-1)
    t = per_intake.subquery()
    keys = (t.c.code, t.c.sectors, t.c.mask, t.c.wage)
    return s.execute(select(*keys, func.count()).group_by(*keys))


def compute_metrics(s: Session, flow: Flow, date_from: str = "", date_to: str = "",
                    reminder_hours: Sequence[float] = ()) -> Metrics:
    """Every indicator from the data: the tables sum intakes grouped in SQL by what tells them apart."""
    if s.get_bind().dialect.name == "postgresql":
        # JIT-compiling these one-off aggregates takes PostgreSQL longer than running them at this size.
        s.execute(text("SET LOCAL jit = off"))
    period = _period(date_from, date_to)
    of_period = _period_ids(s, period)
    cells: dict[tuple[str, str | None], _Group] = defaultdict(_Group)
    groups: Any = _intake_groups(s, period)
    for code, sectors, mask, wage, n in groups:
        cells[code if code is not None else "(none)", sectors].add(mask, wage, n)
    everyone = _Group()
    by_code: dict[str, _Group] = defaultdict(_Group)
    by_sector: dict[str, _Group] = defaultdict(_Group)
    for (code, sectors), cell in cells.items():
        for g in (everyone, by_code[code], *(by_sector[v] for v in (sectors.split(SECTOR_SEP) if sectors else ()))):
            g.merge(cell)
    total = everyone.counts()
    sectors_info = flow.by_role.get("sectors")
    order = [o.id for o in sectors_info.options] if sectors_info else []
    sectors = sorted(((k, g.counts()) for k, g in by_sector.items()),
                     key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0]))
    by_referral = sorted(((k, g.counts()) for k, g in by_code.items()),
                         key=lambda kv: (kv[0] == "(none)", -kv[1].started, kv[0]))

    consented = s.scalar(select(func.count()).select_from(Answer).where(
        Answer.field == (flow.role_field("consent") or ""), json_text(Answer.value) == '"yes"',
        *of_period(Answer.intake_id)))
    funnel = [FunnelStage("started", "Started", total.started),
              FunnelStage("consented", "Agreed to answer", int(consented or 0)),
              FunnelStage("completed", "Completed the questions", total.completed),
              FunnelStage("eligible", "Screened eligible", total.eligible),
              FunnelStage("contacted", "Contacted by staff", total.contacted),
              FunnelStage("enrolled", "Enrolled", total.enrolled),
              FunnelStage("trained", "Completed training", total.trained),
              FunnelStage("placed", "Placed in a job", total.placed)]

    needs_counts = dict(s.execute(select(IntakeFacet.value, func.count()).where(
        IntakeFacet.facet == "need", *of_period(IntakeFacet.intake_id)).group_by(IntakeFacet.value)).all())
    needs_info = flow.by_role.get("needs")
    # "None of these" (an exclusive option) is no need to count.
    exclusive = flow.by_id[needs_info.step].exclusive if needs_info else ()
    needs = [(o.id, int(needs_counts.get(o.id, 0))) for o in (needs_info.options if needs_info else ())
             if o.id not in exclusive]
    needs_base = s.scalar(select(func.count()).select_from(Answer).where(
        Answer.field == (needs_info.id if needs_info else ""), *of_period(Answer.intake_id)))
    return Metrics(total, sectors, by_referral, funnel, dropoff(s, flow, period, of_period), needs,
                   int(needs_base or 0), call_backs=call_back_counts(s, period),
                   reminders=reminder_counts(s, period, reminder_hours))


def call_back_counts(s: Session, period: Sequence[ColumnElement[bool]]) -> CallBackCounts:
    """Intakes (started in the period) whose person asked for a call, were called, and completed after asking."""
    def count(*where: ColumnElement[bool]) -> int:
        return int(s.scalar(select(func.count(func.distinct(CallBack.intake_id))).join(Intake, Intake.id == CallBack.intake_id)
                            .where(*period, *where)) or 0)

    return CallBackCounts(asked=count(), made=count(CallBack.status.in_(("called", "reached"))),
                          completed_after=count(Intake.completed_at.is_not(None), Intake.completed_at >= CallBack.requested_at))


def reminder_counts(s: Session, period: Sequence[ColumnElement[bool]], schedule: Sequence[float]) -> list[ReminderStepCounts]:
    """Per step of the schedule (and any step sent under an older one): reminders sent for intakes of the period, and of
    those, how many people answered and completed before the intake's next reminder (each reply counts for one step)."""
    later = aliased(Reminder)
    next_at = (select(func.min(later.sent_at)).where(later.intake_id == Reminder.intake_id, later.step > Reminder.step)
               .scalar_subquery())
    rows = (select(Reminder.step, Reminder.hours, Reminder.intake_id, Reminder.sent_at, next_at.label("next_at"),
                   Intake.completed_at, Message.status)
            .join(Intake, Intake.id == Reminder.intake_id).outerjoin(Message, Message.id == Reminder.message_id)
            .where(*period).subquery())
    before_next = lambda col: or_(rows.c.next_at.is_(None), col < rows.c.next_at)  # noqa: E731
    answered = exists().where(Message.intake_id == rows.c.intake_id, Message.direction == "in",
                              Message.created_at > rows.c.sent_at, before_next(Message.created_at))
    completed = and_(rows.c.completed_at.is_not(None), rows.c.completed_at > rows.c.sent_at, before_next(rows.c.completed_at))
    # A reminder the outbox canceled (the person answered or texted STOP first) or could not deliver was not sent.
    went = or_(rows.c.status.is_(None), rows.c.status.not_in(("canceled", "failed", "undelivered")))
    found = {int(step): (float(hours or 0), int(sent or 0), int(ans or 0), int(done or 0))
             for step, hours, sent, ans, done in s.execute(
                 select(rows.c.step, func.max(rows.c.hours), func.sum(case((went, 1), else_=0)),
                        func.sum(case((and_(went, answered), 1), else_=0)),
                        func.sum(case((and_(went, completed), 1), else_=0)))
                 .group_by(rows.c.step))}
    out = []
    for k in sorted(set(range(1, len(schedule) + 1)) | set(found)):
        hours, sent, ans, done = found.get(k, (0.0, 0, 0, 0))
        if k <= len(schedule):
            label = f"{k}: after {schedule[k - 1]:g} hours of silence"
        else:
            label = f"{k}: after {hours:g} hours (no longer in the schedule)"
        out.append(ReminderStepCounts(k, label, sent, ans, done))
    return out


def dropoff(s: Session, flow: Flow, period: Sequence[ColumnElement[bool]] = (),
            of_period: IdFilter | None = None) -> list[DropOff]:
    """Per question: how many answered, skipped, and stopped there without finishing (still at that step)."""
    where = (of_period or _period_ids(s, period))(Answer.intake_id)
    if where:
        # Within a period, naming the steps lets SQLite read each step's slice of the (step, intake_id) index
        # instead of sorting the period's answers; for all time a plain scan of that index is quicker.
        where.append(Answer.step.in_([st.id for st in flow.steps if st.kind not in ("result", "end")]))
    counts = dict(s.execute(select(Answer.step, func.count()).where(*where).group_by(Answer.step)).all())
    skips = dict(s.execute(select(Answer.step, func.count()).where(answer_skipped(), *where).group_by(Answer.step)).all())
    answered = {step: (int(n), int(skips.get(step, 0))) for step, n in counts.items()}
    # Flags steps store one answer per field: count intakes, not answers.
    for st in flow.steps:
        if st.kind == "flags":
            at_step = select(func.count(func.distinct(Answer.intake_id))).where(Answer.step == st.id, *where)
            answered[st.id] = (int(s.scalar(at_step) or 0), int(s.scalar(at_step.where(answer_skipped())) or 0))
    sq = select(Intake.current_step, func.count()).where(Intake.status == "incomplete", Intake.current_step.is_not(None),
                                                          *period).group_by(Intake.current_step)
    stopped = {k: int(n) for k, n in s.execute(sq)}
    out = []
    for st in flow.steps:
        if st.kind in ("result", "end"):
            continue
        label = flow.step_label(st)
        a, sk = answered.get(st.id, (0, 0))
        out.append(DropOff(st.id, label, st.prompt or "", a, sk, stopped.get(st.id, 0)))
    return out
