"""The staff intake list: its filters, name and phone search, keyset pages and the ids an export walks."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from bot.accounts import visible
from bot.models import CaseFile, Contact, Intake, IntakeFacet, ReferralCode, User
from bot.workflow import STATUSES

PROGRAM_ROLES = ("any", "matched", "chosen", "referred")
# Query-string names that differ from the field names; the old names stay so bookmarked lists keep working.
PARAMS = {"case_status": "status", "intake_progress": "progress"}


@dataclass
class IntakeFilter:
    """What staff filter the intake list by; empty fields do not filter."""

    case_status: str = ""  # where staff have taken it (Intake.review_status: new, contacted, ... placed)
    intake_progress: str = ""  # how far the person got with the questions (Intake.status: incomplete, completed, ...)
    eligibility: str = ""
    priority: str = ""
    sector: str = ""
    program: str = ""
    program_role: str = "any"
    language: str = ""
    channel: str = ""
    referral_code: str = ""
    date_from: str = ""
    date_to: str = ""
    q: str = ""
    assignee: str = ""
    needs_contact: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> IntakeFilter:
        """The filter a query string asks for (the list's links and forms use `status` and `progress`)."""
        f = cls(**{fl.name: str(args.get(PARAMS.get(fl.name, fl.name)) or "").strip()[:80] for fl in fields(cls)})
        if f.program_role not in PROGRAM_ROLES:
            f.program_role = "any"
        return f

    def active(self) -> dict[str, str]:
        """The filters set, by query-string name, for links that keep them."""
        return {PARAMS.get(k, k): v for k, v in self.__dict__.items() if v and not (k == "program_role" and v == "any")}

    def audited(self) -> dict[str, str]:
        """The filters as the audit log keeps them: that a search happened and of which kind, never its words."""
        kept = self.active()
        if "q" in kept:
            kept["q"] = "(phone digits)" if search_digits(self.q) else "(name)"
        return kept


def day_bound(value: str, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD date as the UTC instant its day starts (or, with `end`, the next day starts); None if not a date."""
    try:
        d = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return None
    d = d.replace(tzinfo=UTC)
    try:
        return d + timedelta(days=1) if end else d
    except OverflowError:  # 9999-12-31: nothing starts after it
        return None


def _facet(facet: str, value: str, col: Any = None) -> ColumnElement[bool]:
    return (col or (lambda c: c))(Intake.id).in_(
        select(IntakeFacet.intake_id).where(IntakeFacet.facet == facet, IntakeFacet.value == value))


def unindexed(col: Any) -> Any:
    # SQLite's unary plus keeps a term from choosing an index, so a count scans the narrow
    # covering index ix_intakes_list instead of fetching every wide row a one-column index finds.
    return UnaryExpression(col, operator=operators.custom_op("+"), type_=col.type)


def filter_clauses(f: IntakeFilter, user: User, skip: Sequence[str] = (), covering: bool = False) -> list[ColumnElement[bool]]:
    """SQL conditions for a filter, always within what the user may see (`covering`: for SQLite counts)."""
    where: list[ColumnElement[bool]] = [visible(user)]
    col = unindexed if covering else (lambda c: c)
    if f.case_status and "case_status" not in skip:
        where.append(col(Intake.review_status) == f.case_status)
    if f.intake_progress:
        where.append(col(Intake.status) == f.intake_progress)
    if f.eligibility:
        where.append(col(Intake.eligibility) == f.eligibility)
    if f.priority == "any":
        where.append(col(Intake.is_priority).is_(True))
    elif f.priority == "none":
        where.append(col(Intake.is_priority).is_(False))
    elif f.priority:
        where.append(_facet("priority", f.priority, col))
    if f.sector:
        where.append(_facet("sector", f.sector, col))
    if f.program:
        referred = col(Intake.id).in_(select(CaseFile.intake_id).where(CaseFile.referred_program == f.program))
        chosen = col(Intake.program_choice) == f.program
        matched = _facet("match", f.program, col)
        where.append({"matched": matched, "chosen": chosen, "referred": referred}.get(
            f.program_role, or_(matched, chosen, referred)))
    if f.language:
        where.append(col(Intake.language) == f.language)
    if f.channel:
        where.append(col(Intake.channel) == f.channel)
    if f.referral_code == "(none)":
        where.append(col(Intake.referral_code).is_(None))
    elif f.referral_code:
        where.append(col(Intake.referral_code) == f.referral_code.upper())
    if (d := day_bound(f.date_from)) is not None:
        where.append(col(Intake.started_at) >= d)
    if (d := day_bound(f.date_to, end=True)) is not None:
        where.append(col(Intake.started_at) < d)
    if f.assignee == "none":
        where.append(~col(Intake.id).in_(select(CaseFile.intake_id).where(CaseFile.assignee_id.is_not(None))))
    elif f.assignee.isascii() and f.assignee.isdigit():
        where.append(col(Intake.id).in_(select(CaseFile.intake_id).where(CaseFile.assignee_id == int(f.assignee))))
    if f.needs_contact == "yes":
        where.append(col(Intake.needs_contact).is_(True))
    if f.q:
        where.append(search_clause(f.q))
    return where


def search_digits(q: str) -> str | None:
    """The digits of a search that is the end of a phone number (four or more digits and phone punctuation)."""
    q = q.strip()
    digits = re.sub(r"\D", "", q)
    return digits if len(digits) >= 4 and not re.search(r"[^\d\s()+.-]", q) else None


def search_clause(q: str) -> ColumnElement[bool]:
    """Phone digits match the end of a number; anything else matches the start of a first name."""
    q = q.strip()
    digits = search_digits(q)
    if digits:
        contact_ids = select(Contact.id).where(Contact.address.like(f"%{digits}"))
        return Intake.contact_id.in_(contact_ids)
    low = q.lower()
    # A range on lower(first_name) uses the expression index on every backend (LIKE would not).
    return and_(func.lower(Intake.first_name) >= low, func.lower(Intake.first_name) < low + "\U0010ffff")


@dataclass
class ListRow:
    id: int
    started_at: datetime
    first_name: str | None
    address: str
    channel: str
    language: str | None
    progress: str
    review_status: str
    eligibility: str | None
    is_priority: bool | None
    referral_code: str | None
    program_choice: str | None
    referred_program: str | None
    assignee: str | None
    needs_contact: bool
    current_step: str | None
    priority: list[str] = field(default_factory=list)


@dataclass
class Page:
    rows: list[ListRow]
    total: int
    counts: dict[str, int]
    older: int | None
    newer: int | None


def list_intakes(s: Session, user: User, f: IntakeFilter, before: int | None = None, after: int | None = None,
                 limit: int = 50) -> Page:
    """One page of intakes, newest first, by keyset (`before`/`after` an id) so deep pages stay fast."""
    where = filter_clauses(f, user)
    cols = (Intake.id, Intake.started_at, Intake.first_name, Contact.address, Intake.channel, Intake.language,
            Intake.status, Intake.review_status, Intake.eligibility, Intake.is_priority, Intake.referral_code,
            Intake.program_choice, CaseFile.referred_program, User.display_name, Intake.needs_contact,
            Intake.current_step)
    q = (select(*cols).join(Contact, Contact.id == Intake.contact_id)
         .outerjoin(CaseFile, CaseFile.intake_id == Intake.id).outerjoin(User, User.id == CaseFile.assignee_id)
         .where(*where))
    if after is not None:
        q = q.where(Intake.id > after).order_by(Intake.id.asc()).limit(limit + 1)
        rows = list(s.execute(q).all())
        more = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        newer = rows[0][0] if more and rows else None
        older = rows[-1][0] if rows else None
    else:
        if before is not None:
            q = q.where(Intake.id < before)
        q = q.order_by(Intake.id.desc()).limit(limit + 1)
        rows = list(s.execute(q).all())
        more = len(rows) > limit
        rows = rows[:limit]
        older = rows[-1][0] if more and rows else None
        newer = rows[0][0] if before is not None and rows else None
    out = [ListRow(*r) for r in rows]  # type: ignore[call-arg]  # one 16-column row spread into its fields
    if out:
        prio: dict[int, list[str]] = defaultdict(list)
        for iid, value in s.execute(select(IntakeFacet.intake_id, IntakeFacet.value).where(
                IntakeFacet.intake_id.in_([r.id for r in out]), IntakeFacet.facet == "priority")):
            prio[iid].append(value)
        for r in out:
            r.priority = sorted(prio.get(r.id, []))
    if newer is not None and after is None:
        # A page reached with `before`: there is a newer page only if some visible intake is newer.
        newer = newer if s.scalar(select(Intake.id).where(*where, Intake.id > newer).limit(1)) else None
    counts = {st: 0 for st in STATUSES}
    covering = s.get_bind().dialect.name == "sqlite" and not f.q
    for st, n in s.execute(select(Intake.review_status, func.count())
                           .where(*filter_clauses(f, user, skip=("case_status",), covering=covering))
                           .group_by(Intake.review_status)):
        counts[st or "new"] = counts.get(st or "new", 0) + n
    total = counts.get(f.case_status, 0) if f.case_status else sum(counts.values())
    return Page(out, total, counts, older, newer)


def iter_visible_ids(s: Session, user: User, f: IntakeFilter, chunk: int = 500) -> Iterator[list[int]]:
    """Ids of every intake matching a filter, oldest first, a chunk at a time (for exports)."""
    last = 0
    where = filter_clauses(f, user)
    while True:
        ids = list(s.scalars(select(Intake.id).where(*where, Intake.id > last).order_by(Intake.id).limit(chunk)))
        if not ids:
            return
        yield ids
        last = ids[-1]


def filter_choices(s: Session, user: User, programs: Iterable[str] = ()) -> dict[str, list[str]]:
    """Drop-down values: the catalog's programs and the registered referral codes (small tables, not a scan)."""
    codes = [] if user.is_partner else list(s.scalars(select(ReferralCode.code).order_by(ReferralCode.code)))
    shown = sorted(set(programs) & set(user.program_ids)) if user.is_partner else sorted(programs)
    return {"referral_codes": codes, "programs": shown}
