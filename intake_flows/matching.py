"""Ranks training programs for one person: catalog in, matches with score components and reasons out."""

# Pure: no I/O and no database. What matters follows the intake's promise: sector interest
# first; hard constraints (age, county) remove a program; then distance, language of
# instruction, supportive services that answer stated needs, and paid training. A prerequisite
# the person may not meet lowers the score and is said as something to talk through with
# staff, never hidden.
#
# Only facts a source confirms (a program's `real`) are told to a person or earn score: a
# placeholder is something we chose or inferred, so matching reads it as not known. A program
# whose very name is a placeholder is not offered at all until staff confirm it. Placeholder
# ages and residency still remove a program, which narrows an offer without telling anyone
# anything untrue; staff see every person either way.

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from intake_flows import geo
from intake_flows.catalog import Program, Sector, load_sectors
from intake_flows.profile import Profile, default_flow
from intake_flows.schema import Flow, Language, load_languages
from intake_flows.screening import Match, Matcher, county_residency
from intake_flows.text import N_, Msg

SHOWN = 3  # matches offered to a person: the SMS result shows three within its segment budget


@dataclass(frozen=True)
class Weights:
    """Score weights. Sector points dwarf the rest so that interest always ranks first."""

    sector_chosen: float = 10.0
    sector_related: float = 5.0
    paid: float = 1.0
    per_mile: float = 0.05
    max_penalty_miles: float = 60.0
    # Beyond this, "2,437 miles from 10001" helps nobody: a ZIP outside the region gets no distance reason.
    max_reason_miles: float = 75.0
    # A program with no site on file counts as this far, so it neither wins nor loses on distance.
    unknown_site_miles: float = 10.0
    language: float = 1.0
    per_need_met: float = 0.5
    needs_cap: float = 1.5
    prerequisite_missing: float = -1.0
    prerequisite_unknown: float = -0.5
    age_partly: float = -0.5
    focus: float = 0.5


WEIGHTS = Weights()


@dataclass(frozen=True)
class Wording:
    """What matching says of a sector, a need and a language: English msgids read from the data, never typed here."""

    sectors: Mapping[str, str]  # sector id -> what a program of it is (programs.yaml `sectors`)
    needs: Mapping[str, str]  # needs option id -> what a program answering it gives (intake.yaml `reason`)
    languages: Mapping[str, str]  # language id -> its English name (languages.yaml `english_name`)

    @classmethod
    def of(cls, flow: Flow, languages: Iterable[Language], sectors: Iterable[Sector]) -> Wording:
        info = flow.by_role.get("needs")
        return cls(sectors={s.id: s.reason for s in sectors},
                   needs={o.id: o.reason for o in (info.options if info else ()) if o.reason},
                   languages={lang.id: lang.english_name for lang in languages})


@cache
def default_wording() -> Wording:
    """The shipped data's wording, loaded on first use, for callers that pass none."""
    return Wording.of(default_flow(), load_languages(), load_sectors())


PAID = N_("paid training")
PAID_WAGE = N_("paid training, $%(wage)s an hour")
MILES = N_("%(miles)s miles from %(zip)s")
ONE_MILE = N_("about 1 mile from %(zip)s")
UNDER_A_MILE = N_("under a mile from %(zip)s")
TAUGHT_IN = N_("classes in %(language)s")
FOR_AGES = N_("for ages %(min)s to %(max)s")
# Things to talk through: the program may ask for something the person may not have.
NEEDS_LICENSE = N_("needs a driver's license; staff can help")
NEEDS_DIPLOMA = N_("needs a high school diploma or GED; staff can help")
AGES_TO_CHECK = N_("for ages %(min)s to %(max)s; staff will check the fit")
MIN_AGE_TO_CHECK = N_("for ages %(min)s and up; staff will check the fit")
BACKGROUND_CHECK = N_("has a background check; staff can talk it through")
ENGLISH_ONLY = N_("classes are in English; ask staff about language help")
CHECKS = frozenset({NEEDS_LICENSE, NEEDS_DIPLOMA, AGES_TO_CHECK, MIN_AGE_TO_CHECK, BACKGROUND_CHECK, ENGLISH_ONLY})


def is_check(reason: Msg) -> bool:
    """True for a reason that is something to talk through rather than a plus."""
    return reason.msgid in CHECKS


@dataclass(frozen=True)
class Person:
    """What matching reads from one person's answers and derived facts."""

    zip: str | None
    age: tuple[int, int] | None
    sectors: tuple[str, ...]  # empty: no specific interest (not sure, or skipped)
    diploma: bool | None  # the education answer means a high school diploma or equivalent; None: not known
    drivers_license: str | None
    needs: tuple[str, ...]
    language: str
    categories: tuple[str, ...]
    residency: str | None
    justice_involved: bool
    minimum_age: int | None = None  # the intake's own, for a program that states none (rules.yaml)

    @classmethod
    def from_answers(cls, answers: Mapping[str, Any], known: Mapping[str, Any] | None = None,
                     flow: Flow | None = None) -> Person:
        known = known or {}
        # Screening hands over the profile it read with its own flow; called alone, the answers are read here.
        profile = known.get("profile")
        if not isinstance(profile, Profile):
            profile = Profile.of(answers, flow)
        residency = known.get("county_residency") if "county_residency" in known else county_residency(answers, flow)
        return cls(zip=profile.zip, age=profile.age, sectors=profile.sectors, diploma=profile.diploma,
                   drivers_license=profile.drivers_license, needs=profile.needs,
                   language=profile.language or known.get("language") or "en",
                   categories=tuple(known.get("priority_categories") or ()), residency=residency,
                   justice_involved=profile.justice_involved, minimum_age=known.get("minimum_age"))


@dataclass(frozen=True)
class Candidate:
    program: Program
    components: dict[str, float]
    reasons: tuple[Msg, ...]
    miles: float | None

    @property
    def score(self) -> float:
        return sum(self.components.values())

    def to_match(self) -> Match:
        return Match(self.program.id, self.program.sector, round(self.score, 3), self.program.display_name,
                     self.reasons, {k: round(v, 3) for k, v in self.components.items()})


def known(program: Program, fact: str) -> Any:
    """The fact's value when a source confirms it; None for a placeholder, which matching treats as not known."""
    return getattr(program, fact) if program.is_real(fact) else None


def min_age_of(program: Program, person: Person) -> int | None:
    """The program's minimum age, or the intake's own where the program states none."""
    return program.min_age if program.min_age is not None else person.minimum_age


def excluded(program: Program, person: Person) -> str | None:
    """Why a hard constraint removes the program for this person, or None when it may fit."""
    if not program.active:
        return "inactive"
    if program.placeholder_name:
        return "unconfirmed"  # nobody is offered a program that may not exist as named
    if person.age is not None:
        lo, hi = person.age
        min_age = min_age_of(program, person)
        if min_age is not None and hi < min_age:
            return "too_young"
        if program.max_age is not None and lo > program.max_age:
            return "too_old"
    if program.la_county_resident_required and person.residency == "outside":
        return "outside_county"
    return None


def nearest_site(program: Program, zip5: str | None) -> tuple[str, float] | None:
    """The confirmed program site closest to the ZIP and its miles, or None when either is unknown."""
    if not zip5:
        return None
    best: tuple[str, float] | None = None
    for site in known(program, "site_zips") or ():
        miles = geo.miles_between(zip5, site)
        if miles is not None and (best is None or miles < best[1]):
            best = (site, miles)
    return best


def _distance_reason(miles: float, zip5: str) -> Msg:
    if miles < 0.75:
        return Msg(UNDER_A_MILE, {"zip": zip5})
    if round(miles) <= 1:
        return Msg(ONE_MILE, {"zip": zip5})
    return Msg(MILES, {"miles": int(round(miles)), "zip": zip5})


def assess(program: Program, person: Person, w: Weights = WEIGHTS, wording: Wording | None = None) -> Candidate:
    """Scores one program for one person from its confirmed facts, with the reasons a person and staff can read."""
    words = wording or default_wording()
    c: dict[str, float] = {}
    pluses: list[Msg] = []
    checks: list[Msg] = []
    sector = known(program, "sector")

    # Sector interest first.
    if person.sectors and sector in person.sectors:
        c["sector"] = w.sector_chosen
    elif any(s in person.sectors for s in program.related_sectors):
        c["sector"] = w.sector_related
    else:
        c["sector"] = 0.0

    # What a program is, when the person did not name its sector.
    if sector and (not person.sectors or sector not in person.sectors):
        pluses.append(Msg(words.sectors.get(sector, sector)))

    # Paid training; the wage is said only when it too is confirmed.
    paid, wage = known(program, "paid"), known(program, "wage_per_hour")
    c["paid"] = w.paid if paid else 0.0
    if paid:
        pluses.append(Msg(PAID_WAGE, {"wage": wage}) if wage else Msg(PAID))

    # Distance: no ZIP means no penalty at all; a site that is only a placeholder counts as unknown.
    site = nearest_site(program, person.zip)
    miles: float | None = None
    if person.zip is None:
        c["distance"] = 0.0
    elif site is None:
        c["distance"] = -w.per_mile * w.unknown_site_miles
    else:
        miles = site[1]
        c["distance"] = -w.per_mile * min(miles, w.max_penalty_miles)
        if miles <= w.max_reason_miles:
            pluses.append(_distance_reason(miles, person.zip))

    # Supportive services that answer stated needs.
    services = known(program, "supportive_services") or ()
    met = [n for n in person.needs if n in services]
    c["services"] = min(w.per_need_met * len(met), w.needs_cap)
    service_reasons = [Msg(words.needs[n]) for n in met if n in words.needs]

    # Language of instruction: a plus in the person's own language, said out loud when only English.
    languages = known(program, "languages")
    if languages and person.language != "en" and person.language in languages:
        c["language"] = w.language
        pluses.append(Msg(TAUGHT_IN, {"language": Msg(words.languages.get(person.language, person.language))}))
    else:
        c["language"] = 0.0
        if person.language != "en" and languages == ("en",):
            checks.append(Msg(ENGLISH_ONLY))
    pluses.extend(service_reasons)

    # Ages: a youth program says so; a range the person only partly falls in is checked by staff.
    c["age"] = 0.0
    min_age = min_age_of(program, person) if program.is_real("min_age") else None
    max_age = known(program, "max_age")
    if max_age is not None and min_age is not None:
        lo, hi = person.age or (min_age, max_age)
        inside = min_age <= lo and hi <= max_age
        if person.age is None or not inside:
            c["age"] = w.age_partly
            checks.append(Msg(AGES_TO_CHECK, {"min": min_age, "max": max_age}))
        else:
            pluses.append(Msg(FOR_AGES, {"min": min_age, "max": max_age}))
    elif person.age is not None and min_age is not None and person.age[0] < min_age:
        c["age"] = w.age_partly
        checks.append(Msg(MIN_AGE_TO_CHECK, {"min": min_age}))

    # Prerequisites: lower the score and say so, never hide the program.
    c["prerequisites"] = 0.0
    if known(program, "drivers_license_required"):
        if person.drivers_license == "no":
            c["prerequisites"] += w.prerequisite_missing
            checks.append(Msg(NEEDS_LICENSE))
        elif person.drivers_license != "yes":
            c["prerequisites"] += w.prerequisite_unknown
            checks.append(Msg(NEEDS_LICENSE))
    if known(program, "diploma_required"):
        if person.diploma is False:
            c["prerequisites"] += w.prerequisite_missing
            checks.append(Msg(NEEDS_DIPLOMA))
        elif person.diploma is None:
            c["prerequisites"] += w.prerequisite_unknown
            checks.append(Msg(NEEDS_DIPLOMA))
    if known(program, "background_check") and person.justice_involved:
        # Said so that nobody is surprised later; not scored, since these programs take people with records.
        checks.append(Msg(BACKGROUND_CHECK))

    c["focus"] = w.focus if set(person.categories) & set(known(program, "focus") or ()) else 0.0
    if not pluses and sector and sector in person.sectors:
        # With every other plus still a placeholder, what the program is remains a true reason to offer it.
        pluses.append(Msg(words.sectors.get(sector, sector)))
    return Candidate(program, c, tuple(pluses) + tuple(checks), miles)


def rank(programs: Sequence[Program], answers: Mapping[str, Any], known: Mapping[str, Any] | None = None,
         weights: Weights = WEIGHTS, wording: Wording | None = None) -> list[Candidate]:
    """Every program that may fit, best first; outside the named sectors only when none of those fits."""
    # Falling back to every sector means nobody who can join is left with nothing.
    person = Person.from_answers(answers, known)
    fitting = [p for p in programs if excluded(p, person) is None]
    if person.sectors:
        wanted = [p for p in fitting if set(p.sectors) & set(person.sectors)]
        fitting = wanted or fitting
    scored = [assess(p, person, weights, wording) for p in fitting]
    scored.sort(key=lambda c: (-round(c.score, 6), c.miles if c.miles is not None else float("inf"), c.program.id))
    return scored


def match(programs: Sequence[Program], answers: Mapping[str, Any], known: Mapping[str, Any] | None = None,
          limit: int = SHOWN, weights: Weights = WEIGHTS, wording: Wording | None = None) -> tuple[Match, ...]:
    """The top matches for a person, each with its score components and reasons."""
    return tuple(c.to_match() for c in rank(programs, answers, known, weights, wording)[:limit])


def make_matcher(programs: Sequence[Program], limit: int = SHOWN, weights: Weights = WEIGHTS,
                 wording: Wording | None = None) -> Matcher:
    """A `screening.Matcher` over a fixed catalog snapshot, saying things in the wording of the loaded data."""
    catalog = tuple(programs)

    def matcher(answers: Mapping[str, Any], known: Mapping[str, Any], status: str) -> Sequence[Match]:
        return match(catalog, answers, known, limit, weights, wording)

    return matcher
