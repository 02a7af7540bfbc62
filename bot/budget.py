"""The monthly SMS segment budget (SMS_SEGMENT_BUDGET): what this month has cost and whether proactive sends may go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Message

# The county's months: a budget renews at midnight on the 1st in Los Angeles, not in UTC.
COUNTY_TZ = ZoneInfo("America/Los_Angeles")
WARN_SHARE = 0.8


class BudgetConfig(Protocol):
    sms_segment_budget: int


@dataclass(frozen=True)
class BudgetStatus:
    """This month's outbound SMS segments against the budget; share is None when no budget is set."""

    used: int
    budget: int
    share: float | None
    warn: bool
    exhausted: bool
    month_start: datetime  # in COUNTY_TZ


def month_bounds(now: datetime, tz: ZoneInfo = COUNTY_TZ) -> tuple[datetime, datetime]:
    """The calendar month around `now` in the county's time zone, as aware datetimes there."""
    local = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(tz)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def segments_this_month(session: Session, now: datetime) -> int:
    """Segments of every outbound SMS stored this county month (replies and proactive sends alike)."""
    start, end = month_bounds(now)
    total = session.scalar(select(func.coalesce(func.sum(Message.segments), 0)).where(
        Message.direction == "out", Message.channel == "sms",
        Message.created_at >= start.astimezone(UTC), Message.created_at < end.astimezone(UTC)))
    return int(total or 0)


def segment_budget_status(session: Session, config: BudgetConfig, now: datetime) -> BudgetStatus:
    """Where this month stands; reminders and every other proactive SMS must check `exhausted` first (replies never)."""
    budget = max(0, int(config.sms_segment_budget or 0))
    used = segments_this_month(session, now)
    if not budget:
        return BudgetStatus(used, 0, None, False, False, month_bounds(now)[0])
    share = used / budget
    return BudgetStatus(used, budget, share, share >= WARN_SHARE, used >= budget, month_bounds(now)[0])
