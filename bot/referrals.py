"""Referral codes outreach workers hand out: their rules, links, expiry flag and per-worker weekly counts."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import CaseFile, Intake, ReferralCode, User

CODE = re.compile(r"^[A-Z0-9_-]{1,32}$")
CODE_RULE = "use 2 to 32 letters, digits, _ or -, starting with a letter or digit, like EASTLA1"
CHANNELS = (("sms", "SMS"), ("whatsapp", "WhatsApp"), ("telegram", "Telegram"), ("web", "Web form"))
JOIN_KEYWORD = "JOIN"  # intake_flows.detect.JOIN_WORDS: the English word people text before a code
SMALL_COUNT = 5  # counts under this show as "<5" to outreach workers, as county dashboards suppress them
LOCAL_TZ = ZoneInfo("America/Los_Angeles")


def normalise_code(raw: str) -> str:
    """A code as stored: trimmed and upper case."""
    return (raw or "").strip().upper()


def code_error(code: str) -> str | None:
    """Why a (normalised) code cannot be used, or None."""
    if not code:
        return "Enter a code."
    if len(code) > 32:
        return "Use at most 32 characters."
    if not CODE.match(code):  # "É" upper-cases but no one can type it on every phone
        return f"That code has characters it cannot have: {CODE_RULE}."
    if code[0] in "_-":
        return "Start the code with a letter or digit, so people can text it."
    if len(code) < 2:
        return "Use at least 2 characters, so a code is not mistaken for an answer."
    return None


@dataclass
class CodeForm:
    """What a referral code form (or the CLI) says about a code, checked before it is saved."""

    code: str
    organisation: str = ""
    worker: str = ""
    site: str = ""
    active_from: str = ""
    active_to: str = ""
    channels: list[str] = field(default_factory=list)
    note: str = ""
    outreach_user_id: int | None = None

    def errors(self) -> dict[str, str]:
        errs: dict[str, str] = {}
        why = code_error(self.code)
        if why:
            errs["code"] = why
        for name, limit in (("organisation", 120), ("worker", 120), ("site", 120), ("note", 255)):
            if len(getattr(self, name)) > limit:
                errs[name] = f"Keep this to {limit} characters."
        days: dict[str, date | None] = {}
        for name in ("active_from", "active_to"):
            raw = getattr(self, name)
            try:
                days[name] = datetime.strptime(raw, "%Y-%m-%d").date() if raw else None
            except ValueError:
                errs[name] = "Enter a date like 2026-12-01."
        start, end = days.get("active_from"), days.get("active_to")
        if start and end and end < start:
            errs["active_to"] = "The end date is before the start date."
        unknown = set(self.channels) - {k for k, _ in CHANNELS}
        if unknown:
            errs["channels"] = "Choose channels from the list."
        return errs

    def day(self, name: str) -> date | None:
        raw = getattr(self, name)
        return datetime.strptime(raw, "%Y-%m-%d").date() if raw else None


def save_code(s: Session, form: CodeForm, new: bool) -> ReferralCode:
    """Creates or updates a code from a checked form; ValueError when a new code's name is taken."""
    row = s.get(ReferralCode, form.code)
    if new and row is not None:
        raise ValueError(f"The code {form.code} already exists. Choose another, or edit that one.")
    row = row or ReferralCode(code=form.code, active=True)
    row.organisation = form.organisation or None
    row.worker = form.worker or None
    row.site = form.site or None
    row.note = form.note or None
    row.active_from, row.active_to = form.day("active_from"), form.day("active_to")
    row.channels = [k for k, _ in CHANNELS if k in form.channels]
    row.outreach_user_id = form.outreach_user_id
    s.add(row)
    s.flush()
    return row


def code_links(code: str, public_base_url: str, telegram_bot: str, sms_number: str) -> dict[str, str]:
    """The ways in a code is printed with: the text to send, the web link and the Telegram deep link."""
    links = {"sms": f"{JOIN_KEYWORD} {code}" + (f" to {sms_number}" if sms_number else "")}
    if public_base_url:
        links["web"] = f"{public_base_url.rstrip('/')}/apply?ref={quote(code)}"
    if telegram_bot:
        links["telegram"] = f"https://t.me/{telegram_bot.lstrip('@')}?start={quote(code)}"
    return links


def used_out_of_dates(code: ReferralCode | None, when: datetime) -> str | None:
    """Why an intake started at `when` used its code outside the code's life (retired, before or after), or None."""
    if code is None:
        return None
    if code.retired_at is not None and when >= code.retired_at:
        return "used after the code was retired"
    day = when.astimezone(LOCAL_TZ).date()
    if code.active_to is not None and day > code.active_to:
        return f"used after the code's end date ({code.active_to:%b %-d, %Y})"
    if code.active_from is not None and day < code.active_from:
        return f"used before the code's start date ({code.active_from:%b %-d, %Y})"
    return None


# ---- outreach workers' own counts -----------------------------------------------------------------

WEEK_COLUMNS = (("started", "Started"), ("completed", "Completed"), ("eligible", "Eligible"),
                ("referred", "Referred to a program"), ("enrolled", "Enrolled"))


@dataclass
class WeekRow:
    code: str
    week: date  # the Monday the week starts, LA County time
    counts: dict[str, int]

    def shown(self, key: str) -> str:
        """A count as an outreach worker sees it: small numbers (but not zero) hidden so no one is singled out."""
        n = self.counts.get(key, 0)
        return f"<{SMALL_COUNT}" if 0 < n < SMALL_COUNT else str(n)


def codes_of(s: Session, user: User) -> list[ReferralCode]:
    return list(s.scalars(select(ReferralCode).where(ReferralCode.outreach_user_id == user.id)
                          .order_by(ReferralCode.code)))


def weekly_counts(s: Session, codes: Sequence[str]) -> list[WeekRow]:
    """Per code and week: started, completed, eligible, referred to a program, enrolled (counts only, no rows)."""
    if not codes:
        return []
    q = (select(Intake.referral_code, Intake.started_at, Intake.completed_at, Intake.eligibility,
                CaseFile.referred_program, CaseFile.enrolled_at)
         .outerjoin(CaseFile, CaseFile.intake_id == Intake.id)
         .where(Intake.referral_code.in_(list(codes))))
    cells: dict[tuple[str, date], dict[str, int]] = defaultdict(lambda: {k: 0 for k, _ in WEEK_COLUMNS})
    for code, started, completed, eligibility, was_referred, enrolled in s.execute(q):
        day = started.astimezone(LOCAL_TZ).date()
        c = cells[str(code), day - timedelta(days=day.weekday())]
        c["started"] += 1
        c["completed"] += completed is not None
        c["eligible"] += eligibility == "eligible"
        c["referred"] += was_referred is not None
        c["enrolled"] += enrolled is not None
    return [WeekRow(code, week, counts) for (code, week), counts in sorted(cells.items(), key=_newest_first)]


def _newest_first(item: tuple[tuple[str, date], Any]) -> tuple[str, int]:
    (code, week), _ = item
    return (code, -week.toordinal())


def outreach_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).where(User.role == "outreach").order_by(User.display_name)))


def channel_labels(keys: Iterable[str]) -> str:
    names = dict(CHANNELS)
    return ", ".join(names.get(k, k) for k in keys)
