"""The English labels staff read for statuses, fields, answers and channels; the person's answers keep their ids."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from intake_flows.schema import Flow, Language
from intake_flows.text import Msg


STATUS_LABELS = {"new": "New", "contacted": "Contacted", "enrolled": "Enrolled",
                 "training_completed": "Completed training", "placed": "Placed", "not_eligible": "Not eligible",
                 "withdrawn": "Withdrawn", "unreachable": "Unreachable"}

# English labels staff read; the person's own answers keep the ids the flow defines.
FIELD_LABELS = {"language": "Language", "consent": "Consent", "first_name": "First name", "zip": "ZIP code",
                "la_county": "Lives in LA County", "age_range": "Age range", "employment": "Work status",
                "sectors": "Sectors of interest", "education": "Education", "drivers_license": "Driver's license",
                "housing": "Housing", "justice_involved": "Justice involved", "veteran": "Veteran",
                "public_assistance": "Public assistance", "needs": "Supportive services needed", "gender": "Gender",
                "race_ethnicity": "Race or ethnicity", "program_choice": "Program chosen"}
YES_NO_LABELS = {"yes": "Yes", "no": "No", "prefer_not": "Prefer not to say", "none": "None of these"}
PRIORITY_LABELS = {"justice_involved": "Justice involved", "experiencing_homelessness": "Experiencing homelessness",
                   "housing_insecure": "Housing insecure", "priority_area": "High-need area", "woman": "Woman",
                   "bipoc": "BIPOC", "veteran": "Veteran", "public_assistance": "Public assistance",
                   "youth": "Youth (16-24)", "older_worker": "Older worker (55+)"}
ELIGIBILITY_LABELS = {"eligible": "Eligible", "needs_review": "Needs review", "ineligible": "Not eligible"}
PROGRESS_LABELS = {"incomplete": "In progress", "completed": "Completed", "declined": "Declined consent",
                   "erased": "Erased by the person"}


def answer_label(flow: Flow, languages: Mapping[str, Language], field_id: str, value: Any,
                 program_names: Mapping[str, str] | None = None) -> str:
    """An answer as staff read it: option labels in English, lists joined, skips said plainly."""
    if value is None or value == []:
        return "(skipped)"
    if isinstance(value, list):
        return ", ".join(answer_label(flow, languages, field_id, v, program_names) for v in value)
    value = str(value)
    if field_id == "language":
        lang = languages.get(value)
        return f"{lang.name} ({value})" if lang else value
    if field_id == "program_choice":
        if value == "talk_to_someone":
            return "Wants to talk to someone first"
        return (program_names or {}).get(value, value)
    step = flow.by_field.get(field_id)
    if step is not None:
        if step.kind == "flags":
            return YES_NO_LABELS.get(value, value)
        opt = step.option(value)
        if opt is not None:
            return opt.label
    if field_id == "zip" and value == "none":
        return "No fixed address"
    return YES_NO_LABELS.get(value, value) if value in ("yes", "no", "prefer_not") else value


def english(msg_json: Mapping[str, Any] | None, translator: Any) -> str:
    """A stored Msg (JSON) rendered in English for staff."""
    if not msg_json:
        return ""
    return translator.render(Msg.from_json(dict(msg_json)))
