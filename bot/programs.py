"""The program catalog and the ZIP need-tier table in the database, and the cache the service reads."""

# The YAML catalog (intake_flows/data/programs.yaml) only seeds the `programs` table: on first
# start, or whenever the table is empty, its programs are copied in; after that staff edit rows.
# Each row keeps the whole validated program as JSON, so the admin edits the schema the seed uses.

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake_flows import catalog
from intake_flows.areas import AreaTable
from intake_flows.matching import SHOWN, Wording, make_matcher
from intake_flows.schema import FlowError
from intake_flows.screening import Matcher

from bot.db import Database, catalog_generation, mark_catalog_changed
from bot.models import AreaTier, ProgramRecord, utcnow

log = logging.getLogger(__name__)


# ---- programs ---------------------------------------------------------------------------------
@dataclass
class SeedReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _row_values(program: catalog.Program) -> dict[str, Any]:
    return {"name": program.staff_name[:120], "sector": program.sector, "active": program.active,
            "data": program.to_data()}


def seed_programs(session: Session, programs: Sequence[catalog.Program] | None = None,
                  replace: bool = False, now: datetime | None = None) -> SeedReport:
    """Adds catalog programs missing from the table; with `replace`, overwrites existing rows too."""
    # Without `replace` a row staff edited is never touched: re-seeding after an upgrade only
    # brings in programs new to the file.
    programs = catalog.load_catalog() if programs is None else programs
    now = now or utcnow()
    existing = {p.id: p for p in session.scalars(select(ProgramRecord))}
    report = SeedReport()
    for position, program in enumerate(programs):
        row = existing.get(program.id)
        if row is None:
            session.add(ProgramRecord(id=program.id, position=position, origin="seed", created_at=now, updated_at=now,
                                **_row_values(program)))
            report.added.append(program.id)
        elif replace:
            for k, v in _row_values(program).items():
                setattr(row, k, v)
            row.position, row.origin, row.updated_at, row.updated_by = position, "seed", now, None
            report.updated.append(program.id)
        else:
            report.kept.append(program.id)
    mark_catalog_changed(session)
    session.flush()
    return report


def seed_if_empty(db: Database) -> int:
    """Seeds the programs table from the YAML when it has no rows; returns how many were added."""
    try:
        with db.writing() as s:
            if s.scalar(select(func.count()).select_from(ProgramRecord)):
                return 0
            return len(seed_programs(s).added)
    except IntegrityError:
        return 0  # another worker starting at the same moment seeded it first


def save_program(session: Session, program: catalog.Program | dict[str, Any], by: str | None = None,
                 now: datetime | None = None) -> ProgramRecord:
    """Creates or updates a program from staff input, validated against the catalog schema."""
    if not isinstance(program, catalog.Program):
        program = catalog.program_from_data(program, where="staff edit")
    now = now or utcnow()
    row = session.get(ProgramRecord, program.id)
    if row is None:
        position = (session.scalar(select(func.max(ProgramRecord.position))) or 0) + 1
        row = ProgramRecord(id=program.id, position=position, created_at=now)
        session.add(row)
    for k, v in _row_values(program).items():
        setattr(row, k, v)
    row.origin, row.updated_at, row.updated_by = "staff", now, by
    mark_catalog_changed(session)
    session.flush()
    return row


def set_active(session: Session, program_id: str, active: bool, by: str | None = None) -> ProgramRecord:
    """Turns a program on or off for matching without losing its record."""
    row = session.get(ProgramRecord, program_id)
    if row is None:
        raise KeyError(program_id)
    row.active, row.updated_at, row.updated_by = active, utcnow(), by
    mark_catalog_changed(session)
    return row


def load_programs(session: Session, active_only: bool = True) -> tuple[catalog.Program, ...]:
    """The catalog as stored, in staff order; a row that no longer validates is logged and skipped."""
    query = select(ProgramRecord).order_by(ProgramRecord.position, ProgramRecord.id)
    if active_only:
        query = query.where(ProgramRecord.active)
    out = []
    for row in session.scalars(query):
        try:
            out.append(row.to_program())
        except FlowError as exc:
            # One bad edit must not stop every intake; staff see the error in the log and admin.
            log.error("skipping program: %s", exc)
    return tuple(out)


def program_names(session: Session) -> dict[str, str]:
    """Program id -> the name staff know it by, active or not (for admin lists and exports)."""
    return {pid: name for pid, name in session.execute(select(ProgramRecord.id, ProgramRecord.name))}


# ---- areas --------------------------------------------------------------------------------------
def replace_areas(session: Session, table: AreaTable, source: str | None = None, now: datetime | None = None) -> int:
    """Replaces the whole need-tier table with `table`; returns the number of ZIPs loaded."""
    now = now or utcnow()
    session.execute(delete(AreaTier))
    session.add_all(AreaTier(zip=z, tier=t, sample=table.sample, source=(table.sources.get(z) or source or None),
                             loaded_at=now) for z, t in table.tiers.items())
    mark_catalog_changed(session)
    session.flush()
    return len(table.tiers)


def clear_areas(session: Session) -> None:
    """Removes the need-tier table, so `priority_area` goes back to unknown for everyone."""
    session.execute(delete(AreaTier))
    mark_catalog_changed(session)


def load_area_tiers(session: Session) -> dict[str, str]:
    return {z: t for z, t in session.execute(select(AreaTier.zip, AreaTier.tier))}


# ---- the cache the service reads ------------------------------------------------------------------
@dataclass(frozen=True)
class CatalogSnapshot:
    """The active catalog and the area table as of one read."""

    programs: tuple[catalog.Program, ...]
    areas: dict[str, str]
    limit: int = SHOWN
    wording: Wording | None = field(default=None, compare=False, repr=False)
    matcher: Matcher = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matcher", make_matcher(self.programs, self.limit, wording=self.wording))

    def area_tier(self, zip5: str) -> str | None:
        """The ZIP's need tier; None (unknown) for every ZIP until a table is loaded."""
        return self.areas.get(zip5)


class CatalogCache:
    """An in-process copy of the catalog and area table, refreshed when staff change them."""

    def __init__(self, ttl_seconds: float = 30.0, seed: bool = True, limit: int = SHOWN,
                 wording: Wording | None = None) -> None:
        self.ttl = ttl_seconds
        self.seed = seed
        self.limit = limit
        self.wording = wording
        self._snap: CatalogSnapshot | None = None
        self._fingerprint: tuple[Any, ...] | None = None
        self._generation = -1
        self._checked_at = -1e18
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._generation = -1

    def _fingerprint_of(self, session: Session) -> tuple[Any, ...]:
        programs = session.execute(select(func.count(), func.max(ProgramRecord.updated_at))).one()
        areas = session.execute(select(func.count(), func.max(AreaTier.loaded_at))).one()
        return (*programs, *areas)

    def fresh(self) -> CatalogSnapshot | None:
        """The snapshot when no reload is due, without a database read; else None (then call `snapshot`)."""
        with self._lock:
            if self._snap is not None and self._generation == catalog_generation() \
                    and time.monotonic() - self._checked_at < self.ttl:
                return self._snap
        return None

    def snapshot(self, session: Session) -> CatalogSnapshot:
        """The current snapshot, read through `session` (inside the caller's transaction) when stale."""
        now = time.monotonic()
        with self._lock:
            fresh = self._snap is not None and self._generation == catalog_generation() and now - self._checked_at < self.ttl
            if fresh:
                assert self._snap is not None
                return self._snap
            generation = catalog_generation()
            fingerprint = self._fingerprint_of(session)
            seeded = False
            if self.seed and fingerprint[0] == 0:
                # An empty table (a new database) gets the seed catalog, in this same transaction.
                seed_programs(session)
                fingerprint = self._fingerprint_of(session)
                seeded = True
            if self._snap is None or fingerprint != self._fingerprint or generation != self._generation:
                self._snap = CatalogSnapshot(load_programs(session), load_area_tiers(session), self.limit, self.wording)
                self._fingerprint = fingerprint
            self._generation = generation
            # A seed is only real once the caller commits, so the next read checks again.
            self._checked_at = -1e18 if seeded else now
            return self._snap

