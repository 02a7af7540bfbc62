"""English labels staff read, derived from the loaded flow and rules so a new question or category needs no code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from intake_flows.catalog import Sector
from intake_flows.profile import NO_ADDRESS, age_ranges
from intake_flows.schema import Flow, Language
from intake_flows.screening import RuleFile
from intake_flows.text import Msg

STATUS_LABELS = {"new": "New", "contacted": "Contacted", "enrolled": "Enrolled",
                 "training_completed": "Completed training", "placed": "Placed", "not_eligible": "Not eligible",
                 "withdrawn": "Withdrawn", "unreachable": "Unreachable"}

# The person's own answers keep the ids the flow defines; field and priority labels come from the flow and rules.
YES_NO_LABELS = {"yes": "Yes", "no": "No", "prefer_not": "Prefer not to say", "none": "None of these"}
ELIGIBILITY_LABELS = {"eligible": "Eligible", "needs_review": "Needs review", "ineligible": "Not eligible"}
PROGRESS_LABELS = {"incomplete": "In progress", "completed": "Completed", "declined": "Declined consent",
                   "erased": "Erased by the person"}

TALK = "talk_to_someone"


def field_label(flow: Flow, field_id: str) -> str:
    """What staff call a field: its `staff_label`, or the id said plainly for a field the flow no longer asks."""
    info = flow.field_info.get(field_id)
    return info.label if info else field_id.replace("_", " ").capitalize()


def answer_label(flow: Flow, languages: Mapping[str, Language], field_id: str, value: Any,
                 program_names: Mapping[str, str] | None = None) -> str:
    """An answer as staff read it: option labels in English, lists joined, skips said plainly."""
    if value is None or value == []:
        return "(skipped)"
    if isinstance(value, list):
        return ", ".join(answer_label(flow, languages, field_id, v, program_names) for v in value)
    value = str(value)
    info = flow.field_info.get(field_id)
    kind = info.kind if info else None
    if kind == "language":
        lang = languages.get(value)
        return f"{lang.name} ({value})" if lang else value
    if kind == "program_choice":
        if value == TALK:
            return "Wants to talk to someone first"
        return (program_names or {}).get(value, value)
    if info is not None:
        if kind == "flag":
            return YES_NO_LABELS.get(value, value)
        opt = info.option(value)
        if opt is not None:
            return opt.label  # the option as the person saw it, in English; reports use the shorter `staff`
    if kind == "zip" and value == NO_ADDRESS:
        return "No fixed address"
    return YES_NO_LABELS.get(value, value) if value in ("yes", "no", "prefer_not") else value


def option_labels(flow: Flow, role: str) -> dict[str, str]:
    """Each option's short staff label for reports (sectors, needs), in the flow's order."""
    info = flow.by_role.get(role)
    return {o.id: o.staff for o in info.options} if info else {}


def sector_labels(flow: Flow, sectors: Iterable[Sector]) -> dict[str, str]:
    """Staff's name for each sector a program may have: the intake's option for one it offers, else programs.yaml's."""
    offered = option_labels(flow, "sectors")
    return {s.id: offered.get(s.id) or s.staff_label or s.id.replace("_", " ").capitalize() for s in sectors}


def _span(lo: int, hi: int) -> str:
    return f"{lo}+" if hi >= 120 else f"{lo}-{hi}"


def priority_labels(rules: RuleFile, flow: Flow) -> dict[str, str]:
    """Each priority category's staff label, in rules.yaml's order; one read from the age range says its ages."""
    age_field = flow.role_field("age_range")
    spans = age_ranges(flow)
    out: dict[str, str] = {}
    for cat in rules.priority:
        label = cat.staff_label or cat.id.replace("_", " ").capitalize()
        ranges = [spans[v] for v in cat.true_if if isinstance(v, str) and v in spans]
        if cat.field is not None and cat.field == age_field and ranges:
            label = f"{label} ({_span(min(r[0] for r in ranges), max(r[1] for r in ranges))})"
        out[cat.id] = label
    return out


def english(msg_json: Mapping[str, Any] | None, translator: Any) -> str:
    """A stored Msg (JSON) rendered in English for staff."""
    if not msg_json:
        return ""
    return translator.render(Msg.from_json(dict(msg_json)))
