"""Programs staff refer people to: list, add, edit, retire; changes apply to the next matches."""

from __future__ import annotations

import re
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from intake_flows import catalog
from intake_flows.schema import FlowError
from intake_flows.screening import minimum_age

from bot.audit import audit
from bot.labels import sector_labels
from bot.models import ProgramRecord, utcnow
from bot.programs import program_names, save_program, set_active
from webhook.admin import bp, client_ip, me, roles, service, tx

TRI = {"yes": True, "no": False, "": None}
TEXT_FIELDS = ("summary", "lead", "training", "credential", "length", "note")
FLAG_FIELDS = ("paid", "diploma_required", "drivers_license_required", "background_check", "work_authorization_required")
FACT_LABELS = {"la_county_resident_required": "LA County residency required", "diploma_required": "Diploma required",
               "drivers_license_required": "Driver's license required", "background_check": "Background check",
               "work_authorization_required": "Work authorization required", "wage_per_hour": "Wage per hour",
               "site_zips": "Site ZIP codes", "min_age": "Minimum age", "max_age": "Maximum age",
               "supportive_services": "Supportive services"}


def catalog_names() -> dict[str, str]:
    """Program id -> the name staff know it by, retired programs included."""
    with service().db.session() as s:
        return program_names(s)


def _split(raw: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,\n]", raw or "") if p.strip()]


def _in_order(before: Any, chosen: list[str]) -> list[str]:
    """Ticked boxes in the order the record had them, new ones after, so a plain save changes nothing."""
    old = [v for v in (before or []) if v in chosen]
    return old + [v for v in chosen if v not in old]


def _int(raw: str) -> int | None:
    raw = (raw or "").strip()
    digits = raw.removeprefix("-")
    return int(raw) if digits.isascii() and digits.isdigit() else None  # "²" is a digit to isdigit, not to int


def data_from_form(form: Any, base: dict[str, Any] | None) -> dict[str, Any]:
    """A program record from the edit form, on top of the stored one; the catalog schema validates it."""
    data = dict(base or {})
    if not base:
        data["id"] = (form.get("id") or "").strip().lower()
    name = (form.get("name") or "").strip()
    data.pop("name", None)
    data.pop("translated_name", None)
    data["translated_name" if form.get("name_kind") == "translated" else "name"] = name or None
    data["sector"] = form.get("sector") or ""
    data["related_sectors"] = _in_order(data.get("related_sectors"),
                                        [s for s in form.getlist("related_sectors") if s != data["sector"]])
    data["active"] = form.get("active") == "on"
    for f in TEXT_FIELDS:
        data[f] = (form.get(f) or "").strip() or None
    data["partners"] = _split(form.get("partners", ""))
    for f in FLAG_FIELDS:
        data[f] = TRI.get(form.get(f, ""), None)
    data["la_county_resident_required"] = form.get("la_county_resident_required") == "on"
    wage = (form.get("wage_per_hour") or "").strip().lstrip("$")
    try:
        data["wage_per_hour"] = float(wage) if wage else None
    except ValueError:
        data["wage_per_hour"] = wage  # the schema says what is wrong with it
    data["site_zips"] = _split(form.get("site_zips", "").replace(" ", ","))
    data["languages"] = _in_order(data.get("languages"), form.getlist("languages"))
    data["min_age"], data["max_age"] = _int(form.get("min_age", "")), _int(form.get("max_age", ""))
    data["supportive_services"] = _in_order(data.get("supportive_services"), form.getlist("supportive_services"))
    data["focus"] = _in_order(data.get("focus"), form.getlist("focus"))
    contact = {k: (form.get(f"contact_{k}") or "").strip() or None for k in ("name", "phone", "email", "url")}
    data["contact"] = {k: v for k, v in contact.items() if v}
    data["sources"] = [line.strip() for line in (form.get("sources") or "").splitlines() if line.strip()]
    data["real"] = _in_order(data.get("real"), form.getlist("real"))
    # A blank minimum age means the intake's own (rules.yaml); other blanks fall back to the schema's defaults.
    return {k: v for k, v in data.items() if v is not None or k == "min_age"}


def _sector_labels() -> dict[str, str]:
    rt = service().runtime
    return sector_labels(rt.bundle.flow, rt.sectors)


@bp.get("/programs")
@roles("admin", "staff")
def programs() -> Any:
    with tx() as s:
        order = (ProgramRecord.active.desc(), ProgramRecord.sector, ProgramRecord.position)
        rows = list(s.scalars(select(ProgramRecord).order_by(*order)))
        s.expunge_all()
    unconfirmed = sum(1 for r in rows if r.active and "name" not in ((r.data or {}).get("real") or ()))
    return render_template("admin/programs.html", rows=rows, fact_count=len(catalog.PROGRAM_FACTS),
                           unconfirmed=unconfirmed, sector_labels=_sector_labels())


def _form_page(program: catalog.Program | None, data: dict[str, Any], error: str | None, is_new: bool) -> Any:
    return render_template("admin/program_form.html", program=program, data=data, error=error, is_new=is_new,
                           sectors=catalog.SECTORS, priority_sectors=catalog.PRIORITY_SECTORS, sector_labels=_sector_labels(),
                           languages=service().runtime.bundle.languages, services=catalog.SERVICES,
                           categories=catalog.CATEGORIES, facts=catalog.PROGRAM_FACTS, fact_labels=FACT_LABELS,
                           flag_fields=FLAG_FIELDS, text_fields=TEXT_FIELDS), (400 if error else 200)


@bp.route("/programs/new", methods=["GET", "POST"])
@roles("admin", "staff")
def program_new() -> Any:
    if request.method == "GET":
        rt = service().runtime
        return _form_page(None, {"active": True, "languages": ["en"], "la_county_resident_required": True,
                                 "min_age": minimum_age(rt.rules, rt.bundle.flow)}, None, True)
    return _save(None)


@bp.route("/programs/<program_id>", methods=["GET", "POST"])
@roles("admin", "staff")
def program_edit(program_id: str) -> Any:
    with tx() as s:
        row = s.get(ProgramRecord, program_id)
        if row is None:
            abort(404)
        data = dict(row.data or {}, id=row.id, active=row.active)
    if request.method == "GET":
        return _form_page(catalog.program_from_data(data), data, None, False)
    return _save(data)


def _save(base: dict[str, Any] | None) -> Any:
    data = data_from_form(request.form, base)
    is_new = base is None
    now = utcnow()
    try:
        program = catalog.program_from_data(data, where="this form")
        with tx() as s:
            if is_new and s.get(ProgramRecord, program.id) is not None:
                return _form_page(None, data, f"There is already a program with the id {program.id!r}.", True)
            save_program(s, program, by=me().username, now=now)
            before = set((base or {}).get("real") or ())
            detail = {"change": "added" if is_new else "edited", "active": program.active,
                      "confirmed": [f for f in program.real if f not in before],
                      "unconfirmed": [f for f in catalog.PROGRAM_FACTS if f in before and f not in program.real]}
            audit(s, me(), "program", "program", program.id, {k: v for k, v in detail.items() if v != []},
                  client_ip(), now)
    except FlowError as exc:
        return _form_page(None, data, str(exc).replace("this form: ", ""), is_new)
    service().forget_catalog()
    if program.placeholder_name:
        flash(f"{'Added' if is_new else 'Saved'} {program.staff_name}. Its name is not confirmed, so people are "
              "not offered it until staff confirm it.")
    else:
        flash(f"{'Added' if is_new else 'Saved'} {program.staff_name}. New matches use it from now on.")
    return redirect(url_for("admin.programs"))


@bp.post("/programs/<program_id>/active")
@roles("admin", "staff")
def program_active(program_id: str) -> Any:
    active = request.form.get("active") == "yes"
    now = utcnow()
    with tx() as s:
        try:
            row = set_active(s, program_id, active, by=me().username)
        except KeyError:
            abort(404)
        name = row.name
        audit(s, me(), "program", "program", program_id, {"change": "reactivated" if active else "retired"},
              client_ip(), now)
    service().forget_catalog()
    flash(f"{name} is {'active again' if active else 'retired: it is no longer matched'}.")
    return redirect(url_for("admin.programs"))
