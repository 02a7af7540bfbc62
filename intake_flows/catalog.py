"""The program catalog and the job-centre list: schemas and loaders, every fact marked real or placeholder."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from intake_flows.schema import DATA_DIR, Flow, FlowError, Language, _describe, _load
from intake_flows.text import Msg, verbatim

# The catalog's own vocabulary, which its schema validates programs against. Each list mirrors a data file
# (the intake's sectors and needs options, programs.yaml's sectors, languages.yaml, rules.yaml's categories);
# `check_against_data` and `load_sectors` refuse to start when they drift apart, naming the file and the entry.
# What is said of each (a sector's or a need's reason, a language's English name) lives in those files only.
# The six priority sectors people choose from in the intake (DESIGN.md `sectors`).
PRIORITY_SECTORS = ("construction", "healthcare", "technology", "ece", "aerospace", "creative_economy")
# Sectors of real LA County partnerships that the intake does not offer as a choice; such a program
# names the priority sectors it is close to in `related_sectors`.
OTHER_SECTORS = ("hospitality", "transportation", "utilities", "clean_energy", "building_services")
SECTORS = PRIORITY_SECTORS + OTHER_SECTORS
# Supportive services a program can offer; the first six are the intake's `needs` ids.
NEEDS = ("childcare", "transportation", "housing", "tools_clothing", "digital_access", "english_classes")
SERVICES = NEEDS + ("case_management", "stipend", "job_placement")
LANGUAGES = ("en", "es", "zh-Hant", "zh-Hans", "ko", "vi", "tl", "hy", "ru", "fa", "km", "ar", "ja", "hi", "th")
CATEGORIES = ("justice_involved", "experiencing_homelessness", "housing_insecure", "priority_area", "woman", "bipoc",
              "veteran", "public_assistance", "youth", "older_worker")
# Fields that state something about the world; each is either listed under `real` (a public
# source says so) or is a placeholder we chose or inferred, which staff must confirm.
PROGRAM_FACTS = ("name", "sector", "summary", "lead", "partners", "training", "credential", "length", "paid",
                 "wage_per_hour", "site_zips", "languages", "min_age", "max_age", "la_county_resident_required",
                 "diploma_required", "drivers_license_required", "background_check", "work_authorization_required",
                 "supportive_services", "focus", "contact")
OFFICE_FACTS = ("name", "city", "zip", "address", "phone", "url")

Zip = Field(pattern=r"^\d{5}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    url: str | None = None


class Program(_Strict):
    """One training partnership: what it teaches, who may join, where, and what helps people finish."""

    id: str = Field(pattern=r"^[a-z0-9_]+$", max_length=64)
    # A proper name is shown as is; a descriptive name goes under `translated_name` so that
    # translators get it. Exactly one of the two.
    name: str | None = Field(default=None, max_length=48)
    translated_name: str | None = Field(default=None, max_length=48)
    sector: Literal[SECTORS]  # type: ignore[valid-type]
    related_sectors: tuple[Literal[PRIORITY_SECTORS], ...] = ()  # type: ignore[valid-type]
    active: bool = True
    summary: str
    lead: str | None = None
    partners: tuple[str, ...] = ()
    training: str | None = None
    credential: str | None = None
    length: str | None = None
    paid: bool | None = None
    wage_per_hour: float | None = Field(default=None, gt=0)
    site_zips: tuple[str, ...] = ()
    languages: tuple[Literal[LANGUAGES], ...] = ("en",)  # type: ignore[valid-type]
    # Left out: the intake's own minimum age (rules.yaml's age rule), which matching applies.
    min_age: int | None = Field(default=None, ge=14, le=99)
    max_age: int | None = Field(default=None, ge=14, le=120)
    la_county_resident_required: bool = True
    diploma_required: bool | None = False
    drivers_license_required: bool | None = False
    background_check: bool | None = None
    # Kept for staff only: the intake never asks about immigration status, so matching never reads it.
    work_authorization_required: bool | None = None
    supportive_services: tuple[Literal[SERVICES], ...] = ()  # type: ignore[valid-type]
    focus: tuple[Literal[CATEGORIES], ...] = ()  # type: ignore[valid-type]
    contact: Contact = Contact()
    note: str | None = None
    sources: tuple[str, ...] = ()
    real: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Program:
        if (self.name is None) == (self.translated_name is None):
            raise ValueError("a program has exactly one of `name` (a proper name) or `translated_name`")
        for z in self.site_zips:
            if len(z) != 5 or not z.isdigit():
                raise ValueError(f"site ZIP {z!r} is not 5 digits")
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError(f"min_age {self.min_age} is above max_age {self.max_age}")
        if self.wage_per_hour is not None and self.paid is False:
            raise ValueError("an unpaid program has no `wage_per_hour`")
        if self.sector in PRIORITY_SECTORS and self.sector in self.related_sectors:
            raise ValueError("`related_sectors` repeats the program's own sector")
        unknown = [f for f in self.real if f not in PROGRAM_FACTS]
        if unknown:
            raise ValueError(f"`real` names unknown facts {unknown}; facts are {list(PROGRAM_FACTS)}")
        if len(set(self.real)) != len(self.real):
            raise ValueError("`real` lists a fact twice")
        if self.real and not self.sources:
            raise ValueError("a program with real facts needs `sources` that state them")
        if not self.languages:
            raise ValueError("a program needs at least one language of instruction")
        return self

    @property
    def display_name(self) -> Msg:
        """The name as shown to a person: proper names verbatim, descriptive names translated."""
        return verbatim(self.name) if self.name else Msg(self.translated_name or self.id)

    @property
    def staff_name(self) -> str:
        return self.name or self.translated_name or self.id

    @property
    def sectors(self) -> tuple[str, ...]:
        return (self.sector, *self.related_sectors)

    def fact_status(self) -> dict[str, str]:
        """Each fact field and whether it is `real` or a `placeholder`."""
        return {f: "real" if f in self.real else "placeholder" for f in PROGRAM_FACTS}

    def is_real(self, fact: str) -> bool:
        return fact in self.real

    @property
    def placeholder_name(self) -> bool:
        """True when even the program's identity is a placeholder (an unnamed Fund awardee)."""
        return "name" not in self.real

    def to_data(self) -> dict[str, Any]:
        """The program as plain JSON data, as stored in the database and re-read by `from_data`."""
        return self.model_dump(mode="json", exclude_defaults=True)


class Sector(_Strict):
    """One sector a program may have: what it is told to a person as (a msgid), and staff's name for it."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    reason: str = Field(min_length=1)
    # For a sector the intake offers, the intake's option names it; this names one it does not offer.
    staff_label: str | None = None


class Catalog(_Strict):
    # Every sector a program may have; a catalog file only seeding programs (`seed-programs --path`) may leave it out.
    sectors: tuple[Sector, ...] = ()
    programs: tuple[Program, ...]

    @model_validator(mode="after")
    def _unique(self) -> Catalog:
        for what, ids in (("sector", [s.id for s in self.sectors]), ("program", [p.id for p in self.programs])):
            seen: set[str] = set()
            for ident in ids:
                if ident in seen:
                    raise ValueError(f"{what} id {ident!r} appears twice")
                seen.add(ident)
        return self


class Office(_Strict):
    """An America's Job Center of California (AJCC) where anyone can get free job help."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    city: str
    zip: str = Zip
    address: str | None = None
    phone: str | None = None
    url: str | None = None
    sources: tuple[str, ...] = ()
    real: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _marked(self) -> Office:
        unknown = [f for f in self.real if f not in OFFICE_FACTS]
        if unknown:
            raise ValueError(f"`real` names unknown facts {unknown}; facts are {list(OFFICE_FACTS)}")
        if self.real and not self.sources:
            raise ValueError("an office with real facts needs `sources`")
        return self

    def fact_status(self) -> dict[str, str]:
        return {f: "real" if f in self.real else "placeholder" for f in OFFICE_FACTS}

    def shown(self, fact: str) -> str | None:
        """A fact fit to tell a person: only real ones, so nobody is sent to an invented address."""
        value = getattr(self, fact)
        return value if value and fact in self.real else None


class OfficeFile(_Strict):
    # Where anyone in LA County can find every AJCC, and where people elsewhere find theirs.
    county_locator: str
    statewide_locator: str
    statewide_hrtp_list: str
    offices: tuple[Office, ...]

    @model_validator(mode="after")
    def _unique(self) -> OfficeFile:
        ids = [o.id for o in self.offices]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"office ids appear twice: {dupes}")
        return self


def load_catalog(path: Path | str | None = None) -> tuple[Program, ...]:
    """Loads and validates the seed catalog; errors name the file, the program and the problem."""
    return _load(Path(path) if path else DATA_DIR / "programs.yaml", Catalog).programs


def load_sectors(path: Path | str | None = None) -> tuple[Sector, ...]:
    """The catalog file's sectors, one for each of SECTORS; errors name the file and the sector."""
    where = Path(path) if path else DATA_DIR / "programs.yaml"
    sectors = _load(where, Catalog).sectors
    problems = _differences([s.id for s in sectors], SECTORS, f"{where}: sectors", "sector", "SECTORS")
    if problems:
        raise FlowError("; ".join(problems))
    return sectors


def load_offices(path: Path | str | None = None) -> OfficeFile:
    """Loads and validates the AJCC list."""
    return _load(Path(path) if path else DATA_DIR / "ajcc.yaml", OfficeFile)


def _differences(have: Iterable[str], want: Iterable[str], where: str, what: str, listed: str) -> list[str]:
    have_set, want_set = set(have), set(want)
    return ([f"{where}: {what} {x!r} is not in intake_flows/catalog.py {listed}" for x in sorted(have_set - want_set)]
            + [f"{where}: no {what} {x!r}, which intake_flows/catalog.py {listed} lists" for x in sorted(want_set - have_set)])


def check_against_data(flow: Flow, languages: Iterable[Language], categories: Iterable[str],
                       data_dir: Path | str | None = None) -> None:
    """Refuses data that the catalog's enumerations no longer describe (sectors, needs, languages, categories)."""
    d = Path(data_dir) if data_dir else DATA_DIR
    problems: list[str] = []
    for role, listed, name in (("sectors", PRIORITY_SECTORS, "PRIORITY_SECTORS"), ("needs", NEEDS, "NEEDS")):
        info = flow.by_role.get(role)
        if info is None:
            continue  # a flow that does not ask (a pilot's short flow) gives matching no interest or need
        exclusive = flow.by_id[info.step].exclusive
        offered = [o for o in info.options if o.id not in exclusive]
        where = f"{d / 'intake.yaml'}: step {info.step!r}"
        problems += _differences([o.id for o in offered], listed, where, "option", name)
        if role == "needs":
            problems += [f"{where}: option {o.id!r} has no `reason`, which a program offering it is said to give"
                         for o in offered if not o.reason]
    problems += _differences([lang.id for lang in languages], LANGUAGES, str(d / "languages.yaml"), "language",
                             "LANGUAGES")
    problems += _differences(categories, CATEGORIES, f"{d / 'rules.yaml'}: priority", "category", "CATEGORIES")
    if problems:
        raise FlowError("; ".join(problems))


def program_from_data(data: Mapping[str, Any], where: str = "database") -> Program:
    """A program from stored JSON (a database row), with the same validation as the seed file."""
    try:
        return Program.model_validate(dict(data))
    except ValidationError as exc:
        ident = data.get("id") if isinstance(data, Mapping) else None
        raise FlowError(f"{where}: program {ident!r}: {_describe(exc, dict(data))}") from exc


def by_sector(programs: Iterable[Program]) -> dict[str, list[Program]]:
    """Active programs grouped by their own sector and every related priority sector."""
    out: dict[str, list[Program]] = {s: [] for s in SECTORS}
    for p in programs:
        if p.active:
            for s in p.sectors:
                out[s].append(p)
    return out
