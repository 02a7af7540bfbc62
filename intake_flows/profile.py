"""A person's stored answers as one typed profile, read through the flow's roles so code never names a field id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from intake_flows.schema import Flow, load_flow

# The youngest age a program may take (WIOA youth, Program.min_age's floor): "under 16" spans 14 and 15.
YOUNGEST = 14
NO_ADDRESS = "none"  # what a zip step records for "no fixed address"


@cache
def default_flow() -> Flow:
    """The shipped intake flow, loaded on first use (never at import time), for callers that pass no flow."""
    return load_flow()


# Per flow (kept alive beside its spans, so an id is never reused): every turn's screening facts read them.
_AGE_SPANS: dict[int, tuple[Flow, dict[str, tuple[int, int]]]] = {}


def age_ranges(flow: Flow | None = None) -> dict[str, tuple[int, int]]:
    """The years each option of the age-range question spans, from the options' `min` and `max`."""
    f = flow or default_flow()
    known = _AGE_SPANS.get(id(f))
    if known is not None and known[0] is f:
        return known[1]
    info = f.by_role.get("age_range")
    spans = {} if info is None else {o.id: (max(int(o.min), YOUNGEST), int(o.max)) for o in info.options
                                     if o.min is not None and o.max is not None}
    _AGE_SPANS[id(f)] = (f, spans)
    return spans


def first_name(answers: Mapping[str, Any], flow: Flow | None = None) -> str | None:
    """The first name among these answers, whatever the flow calls its field."""
    info = (flow or default_flow()).by_role.get("first_name")
    name = answers.get(info.id) if info else None
    return str(name) if name else None


def youngest_age(eligible_ranges: tuple[str, ...], flow: Flow | None = None) -> int | None:
    """The youngest age in the given age ranges (the ones an eligibility rule passes), or None."""
    spans = age_ranges(flow)
    lows = [spans[r][0] for r in eligible_ranges if r in spans]
    return min(lows) if lows else None


def _values(value: Any, leave_out: tuple[str, ...]) -> tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else ([value] if isinstance(value, str) else [])
    return tuple(str(v) for v in items if v and v not in leave_out)


@dataclass(frozen=True)
class Profile:
    """What screening, matching and the engine read of one person, whatever the flow calls each field."""

    first_name: str | None = None
    zip: str | None = None  # a ZIP code as given; None without one or with no fixed address
    no_fixed_address: bool = False
    says_in_county: str | None = None  # "yes", "no" or None: asked when the ZIP does not settle residency
    age_range: str | None = None
    age: tuple[int, int] | None = None  # the years the age range spans
    sectors: tuple[str, ...] = ()  # empty: no specific interest (not sure, or skipped)
    needs: tuple[str, ...] = ()
    education: str | None = None
    diploma: bool | None = None  # whether the education answer means a high school diploma or equivalent; None: not known
    drivers_license: str | None = None
    justice_involved: bool = False
    language: str | None = None

    @classmethod
    def of(cls, answers: Mapping[str, Any], flow: Flow | None = None) -> Profile:
        """The profile of these answers under the flow's roles (the shipped flow when none is given)."""
        f: Flow = flow or default_flow()

        def get(role: str) -> Any:
            info = f.by_role.get(role)
            return answers.get(info.id) if info else None

        def chosen(role: str) -> tuple[str, ...]:
            # An exclusive option ("not sure", "none of these") says there is no specific answer.
            info = f.by_role.get(role)
            if info is None:
                return ()
            return _values(answers.get(info.id), (*f.by_id[info.step].exclusive, "prefer_not"))

        zip5 = get("residence_zip")
        age_range = get("age_range")
        language_step = next((s for s in f.steps if s.kind == "language"), None)
        education = get("education")
        education_info = f.by_role.get("education")
        education_option = education_info.option(education) if education_info and isinstance(education, str) else None
        return cls(first_name=first_name(answers, f),
                   zip=zip5 if zip5 and zip5 != NO_ADDRESS else None, no_fixed_address=zip5 == NO_ADDRESS,
                   says_in_county=get("in_county"), age_range=age_range,
                   age=age_ranges(f).get(age_range) if isinstance(age_range, str) else None,
                   sectors=chosen("sectors"), needs=chosen("needs"), education=education,
                   diploma=education_option.diploma if education_option else None,
                   drivers_license=get("drivers_license"), justice_involved=get("justice_involved") == "yes",
                   language=answers.get(language_step.field or "") if language_step else None)
