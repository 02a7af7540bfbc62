"""The metrics dashboard with a CSV per table, and the audit log admins read."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, abort, current_app, render_template, request
from sqlalchemy import select

from intake_flows.spreadsheet import safe_row

from bot.audit import audit
from bot.budget import segment_budget_status
from bot.facets import sync_facets
from bot.labels import option_labels
from bot.metrics import Counts, Metrics, compute_metrics
from bot.models import AuditLog, ReferralCode, User, utcnow
from webhook.admin import bp, client_ip, me, roles, service, tx
from webhook.reminders import reminder_config

TABLES = ("summary", "by_sector", "by_referral", "funnel", "dropoff", "needs", "reminders")

COUNT_COLUMNS = (("started", "Intakes started"), ("completed", "Completed"), ("eligible", "Eligible"),
                 ("enrolled", "Enrolled"), ("trained", "Completed training"), ("placed", "Placed"),
                 ("placement_rate", "Placement rate"), ("median_wage", "Median wage at placement"),
                 ("apprenticeships", "Apprenticeships"), ("priority_share", "Priority population share of enrolled"),
                 ("with_needs", "Need supportive services"))


def count_cells(c: Counts) -> dict[str, Any]:
    return {"started": c.started, "completed": c.completed, "eligible": c.eligible, "enrolled": c.enrolled,
            "trained": c.trained, "placed": c.placed,
            "placement_rate": None if c.placement_rate is None else round(c.placement_rate, 4),
            "median_wage": None if c.median_wage_cents is None else round(c.median_wage_cents / 100, 2),
            "apprenticeships": c.apprenticeships,
            "priority_share": None if c.priority_share is None else round(c.priority_share, 4),
            "with_needs": c.with_needs}


def sector_labels() -> dict[str, str]:
    """The dashboard's names for sectors of interest, from the flow's sectors question."""
    return {**option_labels(service().runtime.bundle.flow, "sectors"), "(none)": "(none)"}


def code_owners() -> dict[str, tuple[str, str]]:
    """Referral code -> (organisation, outreach worker), the worker's account name when no worker is written."""
    with service().db.session() as s:
        accounts = {uid: name for uid, name in s.execute(select(User.id, User.display_name).where(User.role == "outreach"))}
        return {r.code: (r.organisation or "", r.worker or accounts.get(r.outreach_user_id or -1, ""))
                for r in s.scalars(select(ReferralCode))}


def _period() -> tuple[str, str]:
    return (request.args.get("from", "")[:10], request.args.get("to", "")[:10])


def _metrics() -> Metrics:
    date_from, date_to = _period()
    with tx() as s:
        sync_facets(s)
    # Counting needs no write lock; on SQLite a reader does not hold up the bot's messages while it counts.
    with service().db.session() as s:
        return compute_metrics(s, service().runtime.bundle.flow, date_from, date_to,
                               reminder_hours=reminder_config(current_app.config).after_hours)


@bp.get("/metrics")
@roles("admin", "staff")
def metrics() -> Any:
    m = _metrics()
    date_from, date_to = _period()
    need_labels = option_labels(service().runtime.bundle.flow, "needs")
    top = m.funnel[0].count if m.funnel else 0
    funnel_items = [(st.label, st.count, f"{st.count:,}" + (f" ({st.count / top:.0%})" if top else ""))
                    for st in m.funnel]
    needs_items = [(need_labels.get(k, k), n, f"{n:,}") for k, n in m.needs]
    with service().db.session() as s:
        budget = segment_budget_status(s, service().settings, utcnow())
    return render_template("admin/metrics.html", m=m, date_from=date_from, date_to=date_to, columns=COUNT_COLUMNS,
                           budget=budget, cells=count_cells, sector_labels=sector_labels(), funnel_items=funnel_items,
                           needs_items=needs_items, owners=code_owners(),
                           period_args={k: v for k, v in (("from", date_from), ("to", date_to)) if v})


def table_rows(m: Metrics, table: str) -> tuple[list[str], list[list[Any]]]:
    """One dashboard table as a header and rows, exactly as the CSV download has it."""
    heads = [label for _, label in COUNT_COLUMNS]
    if table == "summary":
        cells = count_cells(m.total)
        return ["Indicator", "Value", "Target"], [
            *[[label, cells[key], {"median_wage": m.wage_target_cents / 100,
                                   "priority_share": m.priority_target}.get(key, "")] for key, label in COUNT_COLUMNS]]
    if table == "by_sector":
        labels = sector_labels()
        return ["Sector of interest", *heads], [[labels.get(k, k), *count_cells(c).values()] for k, c in m.by_sector]
    if table == "by_referral":
        owners = code_owners()
        return ["Referral code", "Organisation", "Outreach worker", *heads], [
            [k, *owners.get(k, ("", "")), *count_cells(c).values()] for k, c in m.by_referral]
    if table == "funnel":
        top = m.funnel[0].count if m.funnel else 0
        return ["Stage", "People", "Share of started"], [
            [st.label, st.count, round(st.count / top, 4) if top else None] for st in m.funnel]
    if table == "dropoff":
        return ["Step", "Question", "Answered", "Skipped", "Stopped here", "Drop-off rate"], [
            [d.label, d.question, d.answered, d.skipped, d.stopped, None if d.rate is None else round(d.rate, 4)]
            for d in m.dropoff]
    if table == "needs":
        labels = option_labels(service().runtime.bundle.flow, "needs")
        return ["Supportive service", "People who need it", "Share of those asked"], [
            [labels.get(k, k), n, round(n / m.needs_base, 4) if m.needs_base else None] for k, n in m.needs]
    if table == "reminders":
        return ["Reminder step", "Sent", "Answered after it", "Completed after it", "Answer rate", "Completion rate"], [
            [r.label, r.sent, r.answered, r.completed, None if r.answer_rate is None else round(r.answer_rate, 4),
             None if r.completion_rate is None else round(r.completion_rate, 4)] for r in m.reminders]
    abort(404)


@bp.get("/metrics/<table>.csv")
@roles("admin", "staff")
def metrics_csv(table: str) -> Response:
    if table not in TABLES:
        abort(404)
    m = _metrics()
    head, rows = table_rows(m, table)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(head)
    # A referral code reaches this table from a link anyone can open: no cell may run as a formula.
    writer.writerows(safe_row(row) for row in rows)
    date_from, date_to = _period()
    with tx() as s:
        audit_export(s, table, date_from, date_to)
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="hrtp-metrics-{table}.csv"'})


def audit_export(s: Any, table: str, date_from: str, date_to: str) -> None:
    audit(s, me(), "export", "metrics", table, {"from": date_from, "to": date_to}, client_ip(), utcnow())


@bp.get("/audit")
@roles("admin")
def audit_log() -> Any:
    before = request.args.get("before", "")
    who = (request.args.get("user") or "").strip().lower()[:64]
    action = (request.args.get("action") or "").strip()[:24]
    target = (request.args.get("intake") or "").strip()[:12]
    q = select(AuditLog).order_by(AuditLog.id.desc()).limit(101)
    if before.isascii() and before.isdigit():
        q = q.where(AuditLog.id < int(before))
    if who:
        q = q.where(AuditLog.username == who)
    if action:
        q = q.where(AuditLog.action == action)
    if target.isascii() and target.isdigit():
        q = q.where(AuditLog.target_type == "intake", AuditLog.target_id == target)
    with tx() as s:
        rows = list(s.scalars(q))
        s.expunge_all()
    more = len(rows) > 100
    rows = rows[:100]
    return render_template("admin/audit.html", rows=rows, older=rows[-1].id if more and rows else None,
                           who=who, action=action, target=target)
