"""Eligibility and priority screening: data-driven rules evaluated to pass, fail or unknown."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from intake_flows import geo
from intake_flows.schema import DATA_DIR, _load
from intake_flows.text import Msg

Result = Literal["pass", "fail", "unknown"]
UNKNOWN_VALUES = (None, "prefer_not", "")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    id: str
    field: str | None = None
    fact: str | None = None
    pass_if: tuple[Any, ...] = ()
    fail_if: tuple[Any, ...] = ()
    review_if: tuple[Any, ...] = ()
    # Msgids shown to the person and to staff for each result.
    pass_: str | None = None
    fail: str
    review: str | None = None
    unknown: str
    source: str
    placeholder: bool = False

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _rename_pass(cls, data: Any) -> Any:
        if isinstance(data, dict) and "pass" in data:
            data = dict(data)
            data["pass_"] = data.pop("pass")
        return data

    @model_validator(mode="after")
    def _subject(self) -> "Rule":
        if (self.field is None) == (self.fact is None):
            raise ValueError("a rule reads exactly one of `field` or `fact`")
        if not self.pass_:
            raise ValueError("a rule needs a `pass` text")
        if self.review_if and not self.review:
            raise ValueError("a rule with `review_if` needs a `review` text")
        return self


class Category(_Strict):
    id: str
    field: str | None = None
    fact: str | None = None
    true_if: tuple[Any, ...]
    false_if: tuple[Any, ...] = ()
    source: str
    counts_toward_priority: bool = True


class RuleFile(_Strict):
    eligibility: tuple[Rule, ...]
    priority: tuple[Category, ...]


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

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "result": self.result, "text": self.text.to_json(), "source": self.source,
                "placeholder": self.placeholder}


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

    def to_json(self) -> dict[str, Any]:
        return {"eligibility": {"status": self.eligibility, "reasons": [r.to_json() for r in self.reasons]},
                "priority": {"is_priority": self.is_priority, "categories": list(self.categories),
                             "unknown": list(self.unknown_categories)},
                "matches": [m.to_json() for m in self.matches]}


def county_residency(answers: Mapping[str, Any]) -> str | None:
    """How residency stands: zip_in_county, says_in_county, says_in_county_zip_outside, outside or None."""
    zip_in = geo.in_la_county(answers.get("zip"))
    says = answers.get("la_county")
    if zip_in:
        return "zip_in_county"
    if says == "yes":
        return "says_in_county_zip_outside" if zip_in is False else "says_in_county"
    if says == "no":
        return "outside"
    return None


def facts(answers: Mapping[str, Any], area_tier: Callable[[str], str | None] | None = None) -> dict[str, Any]:
    """Values derived from answers that flows and rules may read, recomputed on every use."""
    zip5 = answers.get("zip")
    return {
        "zip_in_la_county": geo.in_la_county(zip5),
        "county_residency": county_residency(answers),
        "area_need_tier": area_tier(zip5) if area_tier and zip5 and zip5 != "none" else None,
    }


def _value(subject_field: str | None, subject_fact: str | None, answers: Mapping[str, Any], known: Mapping[str, Any]) -> Any:
    return answers.get(subject_field) if subject_field else known.get(subject_fact or "")


def _hits(value: Any, values: Sequence[Any]) -> bool:
    if isinstance(value, (list, tuple)):
        return any(v in values for v in value)
    return value in values


def evaluate_rule(rule: Rule, answers: Mapping[str, Any], known: Mapping[str, Any]) -> RuleResult:
    """One rule's pass, fail or unknown, with the reason to show."""
    value = _value(rule.field, rule.fact, answers, known)
    if value not in UNKNOWN_VALUES and value != []:
        if _hits(value, rule.fail_if):
            return RuleResult(rule.id, "fail", Msg(rule.fail), rule.source, rule.placeholder)
        if _hits(value, rule.review_if):
            return RuleResult(rule.id, "unknown", Msg(rule.review or rule.unknown), rule.source, rule.placeholder)
        if _hits(value, rule.pass_if):
            return RuleResult(rule.id, "pass", Msg(rule.pass_ or ""), rule.source, rule.placeholder)
    return RuleResult(rule.id, "unknown", Msg(rule.unknown), rule.source, rule.placeholder)


def category_value(cat: Category, answers: Mapping[str, Any], known: Mapping[str, Any]) -> bool | None:
    """True, False, or None when the answer is missing or withheld."""
    value = _value(cat.field, cat.fact, answers, known)
    if value in UNKNOWN_VALUES or value == []:
        return None
    if _hits(value, cat.true_if):
        return True
    if _hits(value, cat.false_if) or isinstance(value, (list, tuple)):
        return False
    return None


Matcher = Callable[[Mapping[str, Any], Mapping[str, Any], str], Sequence[Match]]


def screen(answers: Mapping[str, Any], rules: RuleFile, known: Mapping[str, Any] | None = None,
           matcher: Matcher | None = None, language: str = "en") -> Screening:
    """Screens one person's answers: eligibility with reasons, priority categories, matches."""
    known = dict(known) if known is not None else facts(answers)
    results = tuple(evaluate_rule(r, answers, known) for r in rules.eligibility)
    if any(r.result == "fail" for r in results):
        status = "ineligible"
    elif any(r.result == "unknown" for r in results):
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
    matches = tuple(matcher(answers, known, status)) if matcher and status != "ineligible" else ()
    return Screening(status, results, tuple(cats), tuple(unknown), any(c in counting for c in cats), matches)
