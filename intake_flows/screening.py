"""Eligibility and priority screening: data-driven rules evaluated to pass, fail or unknown."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from intake_flows import geo
from intake_flows.catalog import Office, OfficeFile
from intake_flows.profile import Profile, default_flow, youngest_age
from intake_flows.schema import DATA_DIR, Flow, _load
from intake_flows.text import N_, Msg, verbatim

Result = Literal["pass", "fail", "unknown"]
UNKNOWN_VALUES = (None, "prefer_not", "")
# Never read by a rule: the HRTP Fund requires no work-authorization documents, and LA County's
# Sensitive Locations Policy (2017) bars County resources from serving immigration enforcement.
FORBIDDEN_SUBJECTS = frozenset({"immigration_status", "citizenship", "work_authorization", "ssn", "birth_date",
                                "offense", "conviction", "diagnosis"})
# An office farther than this from the person's ZIP is not "near you"; the statewide locator is.
NEAR_OFFICE_MILES = 30.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Instead(_Strict):
    """Where to go instead when a rule fails; `text` may use the locators of ajcc.yaml."""

    text: str


class Rule(_Strict):
    id: str
    field: str | None = None
    fact: str | None = None
    pass_if: tuple[Any, ...] = ()
    fail_if: tuple[Any, ...] = ()
    review_if: tuple[Any, ...] = ()
    # Msgids shown to the person and to staff for each result.
    pass_: str | None = None
    fail: str | None = None
    review: str | None = None
    unknown: str
    source: str
    placeholder: bool = False
    # A missing or withheld answer is unknown, never fail; this says whether that unknown
    # holds the person for staff review (age, residency) or is merely noted (work status).
    review_when_unknown: bool = True
    instead: tuple[Instead, ...] = ()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _rename_pass(cls, data: Any) -> Any:
        if isinstance(data, dict) and "pass" in data:
            data = dict(data)
            data["pass_"] = data.pop("pass")
        return data

    @model_validator(mode="after")
    def _subject(self) -> Rule:
        if (self.field is None) == (self.fact is None):
            raise ValueError("a rule reads exactly one of `field` or `fact`")
        if not self.pass_:
            raise ValueError("a rule needs a `pass` text")
        if self.review_if and not self.review:
            raise ValueError("a rule with `review_if` needs a `review` text")
        if self.fail_if and not self.fail:
            raise ValueError("a rule with `fail_if` needs a `fail` text")
        if self.instead and not self.fail_if:
            raise ValueError("`instead` is told when a rule fails, so the rule needs `fail_if`")
        if (self.field or self.fact) in FORBIDDEN_SUBJECTS:
            raise ValueError(f"a rule may not read {self.field or self.fact!r}: the intake never asks for it")
        overlap = set(self.pass_if) & (set(self.fail_if) | set(self.review_if)) | set(self.fail_if) & set(self.review_if)
        if overlap:
            raise ValueError(f"values {sorted(map(str, overlap))} appear in more than one of pass_if, fail_if, review_if")
        return self


class Category(_Strict):
    id: str
    field: str | None = None
    fact: str | None = None
    true_if: tuple[Any, ...]
    false_if: tuple[Any, ...] = ()
    source: str
    counts_toward_priority: bool = True
    # target (the seed's target populations), emphasis (groups the Fund emphasises),
    # wioa (priority of service) or reporting (kept for equity reporting only).
    group: Literal["target", "emphasis", "wioa", "reporting"] = "emphasis"
    # English for staff; a category read from the age range is shown with the ages it spans ("Youth (16-24)").
    staff_label: str | None = None

    @model_validator(mode="after")
    def _subject(self) -> Category:
        if (self.field is None) == (self.fact is None):
            raise ValueError("a category reads exactly one of `field` or `fact`")
        if (self.field or self.fact) in FORBIDDEN_SUBJECTS:
            raise ValueError(f"a category may not read {self.field or self.fact!r}: the intake never asks for it")
        return self


class ServiceLevel(_Strict):
    level: int
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()

    def holds(self, categories: set[str]) -> bool:
        return all(c in categories for c in self.all_of) and (not self.any_of or any(c in categories for c in self.any_of))


class PriorityOfService(_Strict):
    """WIOA priority of service: the first level whose categories hold; `otherwise` when none does."""

    source: str
    levels: tuple[ServiceLevel, ...]
    otherwise: int

    def level(self, categories: Sequence[str]) -> int:
        have = set(categories)
        return next((lv.level for lv in self.levels if lv.holds(have)), self.otherwise)


class RuleFile(_Strict):
    eligibility: tuple[Rule, ...]
    priority: tuple[Category, ...]
    priority_of_service: PriorityOfService | None = None

    @model_validator(mode="after")
    def _ids(self) -> RuleFile:
        for kind, items in (("rule", self.eligibility), ("category", self.priority)):
            ids = [i.id for i in items]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{kind} ids appear twice: {dupes}")
        if self.priority_of_service:
            known = {c.id for c in self.priority}
            named = {c for lv in self.priority_of_service.levels for c in (*lv.all_of, *lv.any_of)}
            if named - known:
                raise ValueError(f"priority_of_service names unknown categories {sorted(named - known)}")
        return self


def load_rules(path: Path | str | None = None) -> RuleFile:
    """Loads and validates the screening rules file."""
    return _load(Path(path) if path else DATA_DIR / "rules.yaml", RuleFile)


@dataclass(frozen=True)
class RuleResult:
    rule: str
    result: Result
    text: Msg
    source: str
    placeholder: bool = False
    review: bool = False  # this result holds the person for staff review

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "result": self.result, "text": self.text.to_json(), "source": self.source,
                "placeholder": self.placeholder, "review": self.review}


@dataclass(frozen=True)
class Match:
    program: str
    sector: str
    score: float
    name: Msg
    reasons: tuple[Msg, ...] = ()
    components: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "sector": self.sector, "score": round(self.score, 3),
                "name": self.name.to_json(), "reasons": [r.to_json() for r in self.reasons],
                "components": {k: round(v, 3) for k, v in self.components.items()}}


@dataclass(frozen=True)
class Screening:
    eligibility: str
    reasons: tuple[RuleResult, ...]
    categories: tuple[str, ...]
    unknown_categories: tuple[str, ...]
    is_priority: bool
    matches: tuple[Match, ...] = ()
    # For a person the trainings cannot take: where to go instead, and the nearest AJCC's id.
    instead: tuple[Msg, ...] = ()
    nearest_office: str | None = None
    service_level: int | None = None  # WIOA priority of service, 1 (first) to 5

    def to_json(self) -> dict[str, Any]:
        return {"eligibility": {"status": self.eligibility, "reasons": [r.to_json() for r in self.reasons],
                                "instead": [m.to_json() for m in self.instead], "nearest_office": self.nearest_office},
                "priority": {"is_priority": self.is_priority, "categories": list(self.categories),
                             "unknown": list(self.unknown_categories), "service_level": self.service_level},
                "matches": [m.to_json() for m in self.matches]}


def minimum_age(rules: RuleFile, flow: Flow | None = None) -> int | None:
    """The youngest age an eligibility rule on the age range lets in (16 under the HRTP Fund), or None."""
    age_field = (flow or default_flow()).role_field("age_range")
    passing = [v for r in rules.eligibility if r.field is not None and r.field == age_field and r.fail_if
               for v in r.pass_if if isinstance(v, str)]
    return youngest_age(tuple(passing), flow)


def county_residency(answers: Mapping[str, Any], flow: Flow | None = None) -> str | None:
    """How residency stands: zip_in_county, says_in_county, says_in_county_zip_outside, outside or None."""
    profile = Profile.of(answers, flow)
    zip_in = geo.in_la_county(profile.zip) if profile.zip else None
    says = profile.says_in_county
    if zip_in:
        return "zip_in_county"
    if says == "yes":
        return "says_in_county_zip_outside" if zip_in is False else "says_in_county"
    if says == "no":
        return "outside"
    return None


def facts(answers: Mapping[str, Any], area_tier: Callable[[str], str | None] | None = None,
          flow: Flow | None = None) -> dict[str, Any]:
    """Values derived from answers that flows and rules may read, recomputed on every use."""
    profile = Profile.of(answers, flow)
    return {
        "zip_in_la_county": geo.in_la_county(profile.zip) if profile.zip else None,
        "county_residency": county_residency(answers, flow),
        "area_need_tier": area_tier(profile.zip) if area_tier and profile.zip else None,
    }


def _value(subject_field: str | None, subject_fact: str | None, answers: Mapping[str, Any], known: Mapping[str, Any]) -> Any:
    return answers.get(subject_field) if subject_field else known.get(subject_fact or "")


def _withheld(value: Any) -> bool:
    """A missing answer, or one that says only "prefer not to say", in a single or multiple choice."""
    if isinstance(value, (list, tuple)):
        return all(v in UNKNOWN_VALUES for v in value)
    return value in UNKNOWN_VALUES


def _hits(value: Any, values: Sequence[Any]) -> bool:
    if isinstance(value, (list, tuple)):
        return any(v in values for v in value)
    return value in values


def evaluate_rule(rule: Rule, answers: Mapping[str, Any], known: Mapping[str, Any]) -> RuleResult:
    """One rule's pass, fail or unknown, with the reason to show; a missing answer is never a fail."""
    value = _value(rule.field, rule.fact, answers, known)
    if not _withheld(value):
        if _hits(value, rule.fail_if):
            return RuleResult(rule.id, "fail", Msg(rule.fail or ""), rule.source, rule.placeholder)
        if _hits(value, rule.review_if):
            return RuleResult(rule.id, "unknown", Msg(rule.review or rule.unknown), rule.source, rule.placeholder, True)
        if _hits(value, rule.pass_if):
            return RuleResult(rule.id, "pass", Msg(rule.pass_ or ""), rule.source, rule.placeholder)
    return RuleResult(rule.id, "unknown", Msg(rule.unknown), rule.source, rule.placeholder, rule.review_when_unknown)


def category_value(cat: Category, answers: Mapping[str, Any], known: Mapping[str, Any]) -> bool | None:
    """True, False, or None when the answer is missing or withheld."""
    value = _value(cat.field, cat.fact, answers, known)
    if _withheld(value):
        return None
    if _hits(value, cat.true_if):
        return True
    if _hits(value, cat.false_if):
        return False
    return None  # an answer the category does not speak to ("other") is unknown, not false


Matcher = Callable[[Mapping[str, Any], Mapping[str, Any], str], Sequence[Match]]


def nearest_office(offices: Sequence[Office], zip5: str | None) -> tuple[Office, float] | None:
    """The AJCC closest to the ZIP and its distance in miles, or None without a usable ZIP."""
    if not zip5 or zip5 == "none":
        return None
    best: tuple[Office, float] | None = None
    for office in offices:
        miles = geo.miles_between(zip5, office.zip)
        if miles is not None and (best is None or miles < best[1]):
            best = (office, miles)
    return best


def instead_messages(failed: Sequence[Rule], answers: Mapping[str, Any],
                     offices: OfficeFile | None, flow: Flow | None = None) -> tuple[tuple[Msg, ...], str | None]:
    """What to tell a person the trainings cannot take: the failed rules' pointers, then a job centre."""
    params: dict[str, Any] = {}
    if offices is not None:
        params = {"county_locator": verbatim(offices.county_locator),
                  "statewide_locator": verbatim(offices.statewide_locator),
                  "statewide_hrtp_list": verbatim(offices.statewide_hrtp_list)}
    out: list[Msg] = []
    for rule in failed:
        for item in rule.instead:
            msg = Msg(item.text, {k: v for k, v in params.items() if f"%({k})s" in item.text})
            if msg not in out:
                out.append(msg)
    if offices is None:
        out.append(Msg(N_("You can still get free job help at an America's Job Center of California. "
                          "Call 211 to find the nearest one.")))
        return tuple(out), None
    near = nearest_office(offices.offices, Profile.of(answers, flow).zip)
    office = near[0] if near and near[1] <= NEAR_OFFICE_MILES else None
    if office is None and county_residency(answers, flow) == "outside":
        out.append(Msg(N_("You can still get free job help at an America's Job Center of California near you: %(locator)s or call 211."),  # noqa: E501 (a msgid is one string, for translators)
                       {"locator": params["statewide_locator"]}))
    elif office is not None and office.shown("name") and office.shown("city"):
        # Only facts a source states are told to a person; staff see the office id either way.
        out.append(Msg(N_("You can still get free job help near you at the %(office)s in %(city)s. "
                          "Find it and others at %(locator)s or call 211."),
                       {"office": verbatim(office.name), "city": verbatim(office.city),
                        "locator": params["county_locator"]}))
    else:
        out.append(Msg(N_("You can still get free job help at your nearest America's Job Center of California: "
                          "%(locator)s or call 211."),
                       {"locator": params["county_locator"]}))
    return tuple(out), office.id if office else None


def screen(answers: Mapping[str, Any], rules: RuleFile, known: Mapping[str, Any] | None = None,
           matcher: Matcher | None = None, language: str = "en", offices: OfficeFile | None = None,
           flow: Flow | None = None) -> Screening:
    """Screens one person's answers: eligibility with reasons, priority categories, matches."""
    known = dict(known) if known is not None else facts(answers, flow=flow)
    results = tuple(evaluate_rule(r, answers, known) for r in rules.eligibility)
    if any(r.result == "fail" for r in results):
        status = "ineligible"
    elif any(r.review for r in results):
        status = "needs_review"
    else:
        status = "eligible"
    cats, unknown = [], []
    for cat in rules.priority:
        v = category_value(cat, answers, known)
        if v:
            cats.append(cat.id)
        elif v is None:
            unknown.append(cat.id)
    counting = {c.id for c in rules.priority if c.counts_toward_priority}
    level = rules.priority_of_service.level(cats) if rules.priority_of_service else None
    matches: tuple[Match, ...] = ()
    instead: tuple[Msg, ...] = ()
    office: str | None = None
    if status == "ineligible":
        failed = [rule for rule, r in zip(rules.eligibility, results, strict=True) if r.result == "fail"]
        instead, office = instead_messages(failed, answers, offices, flow)
    elif matcher:
        # The matcher reads the person as the flow's roles say, so it is given the profile, not only the answers.
        seen = {**known, "priority_categories": tuple(cats), "language": language, "profile": Profile.of(answers, flow),
                "minimum_age": minimum_age(rules, flow)}
        matches = tuple(matcher(answers, seen, status))
    return Screening(status, results, tuple(cats), tuple(unknown), any(c in counting for c in cats), matches,
                     instead, office, level)
