"""Streams intakes out as CSV or JSON Lines in id order, a chunk at a time, never all in memory."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import defer

from intake_flows.profile import default_flow
from intake_flows.schema import Flow
from intake_flows.spreadsheet import safe_row

from bot.db import Database
from bot.models import Answer, Contact, Intake

CHUNK = 500
# Around the answers, which are one column per field of the flow in the order it asks them (bot.export_columns).
HEAD = ("intake_id", "started_at", "updated_at", "completed_at", "status", "review_status", "channel", "contact",
        "language", "referral_code", "referral_known")
TAIL = ("eligibility", "eligibility_reasons", "is_priority", "priority_categories", "matches", "top_match",
        "needs_contact", "last_step")


def export_columns(flow: Flow | None = None) -> tuple[str, ...]:
    """The CSV header: the intake's own columns around one column per answer field, named by the flow."""
    return (*HEAD, *(f.column for f in (flow or default_flow()).fields), *TAIL)


def iter_intakes(db: Database, since: datetime | None = None, chunk: int = CHUNK) -> Iterator[dict[str, Any]]:
    """Yields one dict per intake (complete and partial), fetching `chunk` intakes at a time."""
    last_id = 0
    while True:
        with db.session() as s:
            q = (select(Intake, Contact.address).join(Contact, Contact.id == Intake.contact_id)
                 .options(defer(Intake.state))
                 .where(Intake.id > last_id).order_by(Intake.id).limit(chunk))
            if since is not None:
                q = q.where(Intake.started_at >= since)
            rows = s.execute(q).all()
            if not rows:
                return
            ids = [r[0].id for r in rows]
            answers: dict[int, dict[str, Any]] = {i: {} for i in ids}
            for a in s.execute(select(Answer.intake_id, Answer.field, Answer.value).where(Answer.intake_id.in_(ids))):
                answers[a.intake_id][a.field] = a.value
            for intake, address in rows:
                yield record(intake, address, answers[intake.id])
            last_id = ids[-1]
            s.expunge_all()


def record(intake: Intake, address: str, answers: dict[str, Any]) -> dict[str, Any]:
    sc = intake.screening or {}
    elig = sc.get("eligibility") or {}
    prio = sc.get("priority") or {}
    return {
        "intake_id": intake.id,
        "started_at": intake.started_at.isoformat() if intake.started_at else None,
        "updated_at": intake.updated_at.isoformat() if intake.updated_at else None,
        "completed_at": intake.completed_at.isoformat() if intake.completed_at else None,
        "status": intake.status, "review_status": intake.review_status, "channel": intake.channel,
        "contact": address, "language": intake.language, "referral_code": intake.referral_code,
        "referral_known": intake.referral_known, "answers": answers,
        "eligibility": {"status": elig.get("status"),
                        "reasons": [{"rule": r["rule"], "result": r["result"], "text": r["text"]["msgid"]}
                                    for r in elig.get("reasons", [])]},
        "priority": {"is_priority": prio.get("is_priority"), "categories": prio.get("categories", []),
                     "unknown": prio.get("unknown", [])},
        "matches": [{"program": m["program"], "sector": m["sector"], "score": m["score"]} for m in sc.get("matches", [])],
        "needs_contact": intake.needs_contact, "last_step": intake.current_step,
    }


def csv_row(rec: dict[str, Any], flow: Flow | None = None) -> list[Any]:
    flow = flow or default_flow()
    answers = rec["answers"]
    matches = rec["matches"]
    flat = {
        **{k: rec[k] for k in (*HEAD, "needs_contact", "last_step")},
        **{f.column: answers.get(f.id) for f in flow.fields},
        "eligibility": rec["eligibility"]["status"],
        "eligibility_reasons": [f"{r['rule']}:{r['result']}" for r in rec["eligibility"]["reasons"]],
        "is_priority": rec["priority"]["is_priority"],
        "priority_categories": rec["priority"]["categories"],
        "matches": [m["program"] for m in matches],
        "top_match": matches[0]["program"] if matches else None,
    }
    # Free text such as a first name must not run as a spreadsheet formula (CSV injection).
    return safe_row(flat[c] for c in export_columns(flow))


def export_csv(db: Database, since: datetime | None = None, flow: Flow | None = None) -> Iterator[str]:
    """CSV text, a header then one line per intake, yielded line by line."""
    flow = flow or default_flow()
    buf = io.StringIO()
    writer = csv.writer(buf)

    def flush() -> str:
        out = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return out

    writer.writerow(export_columns(flow))
    yield flush()
    for rec in iter_intakes(db, since):
        writer.writerow(csv_row(rec, flow))
        yield flush()


def export_jsonl(db: Database, since: datetime | None = None) -> Iterator[str]:
    """One JSON object per line per intake."""
    for rec in iter_intakes(db, since):
        yield json.dumps(rec, ensure_ascii=False) + "\n"
