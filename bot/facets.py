"""Facets: an intake's multi-valued attributes (priority categories, sectors, matches, needs) as rows, for fast filters."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake_flows.profile import default_flow
from intake_flows.schema import Flow

from bot.models import Answer, FacetSync, Intake, IntakeEvent, IntakeFacet, utcnow

RESYNC_IDS = 200


def facet_fields(flow: Flow | None = None) -> dict[str, str]:
    """Facet name -> the answer field it reads: whichever questions have the sectors and needs roles."""
    f = flow or default_flow()
    return {facet: field for facet, role in (("sector", "sectors"), ("need", "needs"))
            if (field := f.role_field(role)) is not None}


def facets_of(screening: Mapping[str, Any] | None, answers: Mapping[str, Any],
              flow: Flow | None = None) -> set[tuple[str, str]]:
    """The facet rows one intake should have, from its screening and answers."""
    out: set[tuple[str, str]] = set()
    sc = screening or {}
    for cat in (sc.get("priority") or {}).get("categories", []):
        out.add(("priority", str(cat)[:64]))
    for m in sc.get("matches", []) or []:
        if m.get("program"):
            out.add(("match", str(m["program"])[:64]))
    for facet, fname in facet_fields(flow).items():
        value = answers.get(fname)
        for v in value if isinstance(value, list) else ([value] if isinstance(value, str) else []):
            if v and v not in ("none", "prefer_not"):
                out.add((facet, str(v)[:64]))
    return out


def refresh_facets(s: Session, intake_ids: Iterable[int]) -> int:
    """Recomputes the facet rows of these intakes from their current screening and answers."""
    ids = sorted(set(intake_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        answers: dict[int, dict[str, Any]] = defaultdict(dict)
        for iid, fname, value in s.execute(select(Answer.intake_id, Answer.field, Answer.value).where(
                Answer.intake_id.in_(chunk), Answer.field.in_(tuple(facet_fields().values())))):
            answers[iid][fname] = value
        s.execute(delete(IntakeFacet).where(IntakeFacet.intake_id.in_(chunk)))
        rows: list[dict[str, Any]] = []
        for iid, screening in s.execute(select(Intake.id, Intake.screening).where(Intake.id.in_(chunk))):
            rows.extend({"intake_id": iid, "facet": f, "value": v} for f, v in sorted(facets_of(screening, answers[iid])))
        if rows:
            s.execute(insert(IntakeFacet), rows)
    return len(ids)


def sync_facets(s: Session, now: datetime | None = None) -> int:
    """Brings facets up to date with the intake event log; cheap when nothing happened."""
    now = now or utcnow()
    state = s.get(FacetSync, 1, with_for_update=True)  # one sync at a time on PostgreSQL
    if state is None:
        try:
            with s.begin_nested():
                s.add(FacetSync(id=1, last_event_id=0))
        except IntegrityError:
            pass  # a concurrent first sync created it
        state = s.get(FacetSync, 1, with_for_update=True)
        assert state is not None
    # On PostgreSQL a transaction can commit an event whose id is lower than one already seen, so
    # the last few hundred ids are looked at again (recomputing is idempotent); SQLite commits in id order.
    lookback = 0 if s.get_bind().dialect.name == "sqlite" else RESYNC_IDS
    rows = s.execute(select(IntakeEvent.id, IntakeEvent.intake_id, IntakeEvent.contact_id)
                     .where(IntakeEvent.id > state.last_event_id - lookback)).all()
    if not rows:
        return 0
    ids = {r.intake_id for r in rows if r.intake_id is not None}
    contacts = {r.contact_id for r in rows if r.intake_id is None}
    if contacts:
        ids.update(s.scalars(select(Intake.id).where(Intake.contact_id.in_(contacts))))
    refresh_facets(s, ids)
    state.last_event_id = max(state.last_event_id, max(r.id for r in rows))
    state.synced_at = now
    return len(ids)
