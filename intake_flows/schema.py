"""Schemas for the flow, language and keyword data files, and loaders that name what is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

if TYPE_CHECKING:
    from intake_flows.intents import Intents

DATA_DIR = Path(__file__).parent / "data"

STEP_KINDS = ("language", "yesno", "choice", "multi", "flags", "text", "number", "zip", "result",
              "program_choice", "end")
QUESTION_KINDS = frozenset(STEP_KINDS) - {"result", "end"}
# How `stop_when` may end an intake; each has its own engine event (bot.events), so a new one is code too.
StopOutcome = Literal["declined"]
KEYWORD_ACTIONS = ("opt_out", "opt_in", "help", "restart", "language", "back", "new", "delete", "person", "people")
# What code reads a field for: code asks a flow for "the field with role age_range", never for a field id. A
# role is given where a code path depends on it; every other field is data that flows through untouched.
ROLES = ("consent", "first_name", "residence_zip", "in_county", "age_range", "sectors", "needs", "education",
         "drivers_license", "justice_involved", "veteran", "public_assistance")


class FlowError(ValueError):
    """A data file is malformed; the message names the file, the item and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    words: tuple[str, ...] = ()
    # A number answer ("I'm 23") picks the option whose range holds it.
    min: float | None = None
    max: float | None = None
    # What "not <this option>" means ("no diploma" is no_diploma); without it, a negated option is asked about.
    negated: str | None = None
    # Short English for staff's reports and dashboards ("Construction"); the person's `label` when left out. In
    # a flags step each option is a field of its own: this is the field's label, and the option may also carry
    # that field's column, sensitivity and role.
    staff_label: str | None = None
    column: str | None = Field(default=None, pattern=r"^[a-z0-9_]+$")
    sensitive: bool = False
    role: Literal[ROLES] | None = None  # type: ignore[valid-type]
    # What a program that answers this option is said to give, an English msgid: a needs option's "childcare
    # support", shown on a program whose supportive services include the option's id.
    reason: str | None = None
    # An education option's meaning for a program that requires a high school diploma: true for a diploma or its
    # equivalent, false for none; left out, matching treats the answer as not known (staff check it).
    diploma: bool | None = None

    @property
    def staff(self) -> str:
        return self.staff_label or self.label


class Condition(_Strict):
    """`field` or `fact` must (not) be one of the listed values; a missing value is None."""

    field: str | None = None
    fact: str | None = None
    in_: tuple[Any, ...] | None = Field(default=None, alias="in")
    not_in: tuple[Any, ...] | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> Condition:
        if (self.field is None) == (self.fact is None):
            raise ValueError("a condition names exactly one of `field` or `fact`")
        if (self.in_ is None) == (self.not_in is None):
            raise ValueError("a condition has exactly one of `in` or `not_in`")
        return self

    @property
    def subject(self) -> str:
        return self.field or self.fact or ""

    def holds(self, value: Any) -> bool:
        if self.in_ is not None:
            return value in self.in_
        return value not in (self.not_in or ())


class Step(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    kind: Literal[STEP_KINDS]  # type: ignore[valid-type]
    field: str | None = None
    fields: tuple[str, ...] = ()
    prompt: str | None = None
    text: str | None = None
    why: str | None = None
    before: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    exclusive: tuple[str, ...] = ()
    when: tuple[Condition, ...] = ()
    stop_when: dict[str, StopOutcome] = {}
    skippable: bool = True
    optional: bool = False
    max_length: int = 200
    min: float | None = None
    max: float | None = None
    # What staff read for the field (English), its export column (`answer_<field>` when left out), whether the
    # answer is sensitive (justice involvement, public assistance: never in a partner's or a report's view), and
    # its role where code depends on it.
    staff_label: str | None = None
    column: str | None = Field(default=None, pattern=r"^[a-z0-9_]+$")
    sensitive: bool = False
    role: Literal[ROLES] | None = None  # type: ignore[valid-type]
    # A text step's own "please answer again" msgid; without it the question is asked again after a generic sorry.
    reprompt: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Step:
        kind = self.kind
        if self.reprompt and kind != "text":
            raise ValueError("only a text step takes a `reprompt`")
        if kind != "flags" and any(o.column or o.role or o.sensitive for o in self.options):
            raise ValueError("only a flags step's options (each a field) take `column`, `role` or `sensitive`")
        if kind == "flags" and any(o.reason or o.diploma is not None for o in self.options):
            raise ValueError("a flags step's options are fields of their own: `reason` and `diploma` go on choices")
        if kind == "flags" and (self.column or self.role):
            raise ValueError("a flags step's fields are its options: give `column` and `role` to each option")
        sensitive = self.sensitive or any(o.sensitive for o in self.options)
        if sensitive and self.options and not any(o.id == "prefer_not" for o in self.options):
            raise ValueError("a sensitive question offers `prefer_not` (DESIGN.md: every sensitive question does)")
        if kind in ("choice", "multi", "flags") and not self.options:
            raise ValueError(f"a {kind} step needs `options`")
        if kind not in ("choice", "multi", "flags") and self.options:
            raise ValueError(f"a {kind} step takes no `options`")
        if kind == "flags":
            if not self.fields:
                raise ValueError("a flags step needs `fields`")
            ids = {o.id for o in self.options}
            missing = [f for f in self.fields if f not in ids]
            if missing:
                raise ValueError(f"every field of a flags step needs an option of the same id; missing {missing}")
        elif kind in QUESTION_KINDS and not self.field:
            raise ValueError(f"a {kind} step needs a `field`")
        if kind in QUESTION_KINDS and kind != "program_choice" and not self.prompt:
            raise ValueError(f"a {kind} step needs a `prompt`")
        if kind == "end" and not self.text:
            raise ValueError("an end step needs `text`")
        seen: set[str] = set()
        for o in self.options:
            if o.id in seen:
                raise ValueError(f"option id {o.id!r} appears twice")
            seen.add(o.id)
        wrong = [f"{o.id} -> {o.negated}" for o in self.options if o.negated and o.negated not in seen]
        if wrong:
            raise ValueError(f"`negated` names unknown options: {wrong}")
        unknown = [e for e in self.exclusive if e not in seen]
        if unknown:
            raise ValueError(f"`exclusive` names unknown options {unknown}")
        return self

    @property
    def answer_fields(self) -> tuple[str, ...]:
        if self.kind == "flags":
            return self.fields
        return (self.field,) if self.field else ()

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(frozen=True)
class FieldInfo:
    """One answer field as every consumer sees it: its step, staff label, export column, sensitivity and role."""

    id: str
    step: str
    kind: str  # the asking step's kind; "flag" for one field of a flags step (yes / no / prefer_not)
    label: str
    column: str
    sensitive: bool
    role: str | None
    options: tuple[Option, ...] = ()
    prompt: str = ""

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


def _humanise(ident: str) -> str:
    return ident.replace("_", " ").capitalize()


class Flow(_Strict):
    id: str
    steps: tuple[Step, ...]

    @model_validator(mode="after")
    def _unique(self) -> Flow:
        ids: set[str] = set()
        fields: set[str] = set()
        for step in self.steps:
            if step.id in ids:
                raise ValueError(f"step id {step.id!r} appears twice")
            ids.add(step.id)
            for f in step.answer_fields:
                if f in fields:
                    raise ValueError(f"field {f!r} is asked by two steps (second: {step.id!r})")
                fields.add(f)
        roles: dict[str, str] = {}
        columns: dict[str, str] = {}
        for info in self.fields:
            if info.role and roles.setdefault(info.role, info.id) != info.id:
                raise ValueError(f"role {info.role!r} is given to two fields: {roles[info.role]!r} and {info.id!r}")
            if columns.setdefault(info.column, info.id) != info.id:
                raise ValueError(f"export column {info.column!r} is given to two fields: "
                                 f"{columns[info.column]!r} and {info.id!r}")
        earlier: set[str] = set()
        for step in self.steps:
            for cond in step.when:
                if cond.field and cond.field not in earlier:
                    raise ValueError(f"step {step.id!r} depends on field {cond.field!r}, which no earlier step asks")
            earlier.update(step.answer_fields)
        return self

    @cached_property
    def by_id(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}

    @cached_property
    def by_field(self) -> dict[str, Step]:
        return {f: s for s in self.steps for f in s.answer_fields}

    def index(self, step_id: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s.id == step_id)

    @cached_property
    def fields(self) -> tuple[FieldInfo, ...]:
        """Every answer field in the order the flow asks it, with what staff, exports and code read of it."""
        out: list[FieldInfo] = []
        for step in self.steps:
            if step.kind == "flags":
                for f in step.fields:
                    opt = step.option(f)
                    assert opt is not None  # the step's validator checked it
                    out.append(FieldInfo(f, step.id, "flag", opt.staff_label or _humanise(f), opt.column or f"answer_{f}",
                                         opt.sensitive or step.sensitive, opt.role, (), step.prompt or ""))
            elif step.field:
                out.append(FieldInfo(step.field, step.id, step.kind, step.staff_label or _humanise(step.field),
                                     step.column or f"answer_{step.field}", step.sensitive, step.role, step.options,
                                     step.prompt or ""))
        return tuple(out)

    @cached_property
    def field_info(self) -> dict[str, FieldInfo]:
        return {f.id: f for f in self.fields}

    @cached_property
    def by_role(self) -> dict[str, FieldInfo]:
        return {f.role: f for f in self.fields if f.role}

    def role_field(self, role: str) -> str | None:
        """The id of the field that has this role, or None when the flow asks nothing with it."""
        info = self.by_role.get(role)
        return info.id if info else None

    def step_label(self, step: Step) -> str:
        """What staff call a question: its field's label; a flags step's own label with its fields'."""
        if step.kind == "flags":
            parts = ", ".join(self.field_info[f].label.lower() for f in step.fields)
            return f"{step.staff_label or _humanise(step.id)} ({parts})"
        if step.field:
            return self.field_info[step.field].label
        return step.staff_label or _humanise(step.id)


class Language(_Strict):
    id: str
    name: str
    # The language's name in English, a msgid translated for the person reading it ("classes in %(language)s").
    english_name: str
    babel: str
    words: tuple[str, ...] = ()
    # Letters SMS may send plain (é is GSM-7, á is not) when SMS_PLAIN_LANGUAGES switches the language on.
    sms_plain: dict[str, str] = {}


class LanguageList(_Strict):
    languages: tuple[Language, ...]


class KeywordFile(_Strict):
    keywords: dict[Literal[KEYWORD_ACTIONS], tuple[str, ...]]  # type: ignore[valid-type]
    answer_words: dict[Literal["yes", "no", "skip", "none"], tuple[str, ...]]


class LanguagePhrases(_Strict):
    """One language's own ways of saying the keywords, naming languages, greeting and going on."""

    opt_out: tuple[str, ...] = ()
    opt_out_unless_answer: tuple[str, ...] = ()
    maybe_stop: tuple[str, ...] = ()
    help: tuple[str, ...] = ()
    back: tuple[str, ...] = ()
    person: tuple[str, ...] = ()
    languages: dict[str, tuple[str, ...]] = {}
    greetings: tuple[str, ...] = ()
    resume: tuple[str, ...] = ()
    link: tuple[str, ...] = ()
    filler: tuple[str, ...] = ()


class PhraseFile(_Strict):
    phrases: dict[str, LanguagePhrases]


def _describe(exc: ValidationError, doc: Any) -> str:
    """Turns pydantic's error locations into 'step <id>' wording a flow author can find."""
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = []
        node = doc
        for part in loc:
            if isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
                ident = node.get("id") if isinstance(node, dict) else None
                where.append(f"#{part}" + (f" ({ident!r})" if ident else ""))
            elif isinstance(node, dict) and part in node:
                node = node[part]
                where.append(str(part))
            else:
                where.append(str(part))
        problems.append(f"{'/'.join(where) or 'top level'}: {err['msg']}")
    return "; ".join(problems)


def _load(path: Path, model: type[BaseModel]) -> Any:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FlowError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise FlowError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise FlowError(f"{path}: {_describe(exc, doc)}") from exc


def load_flow(path: Path | str | None = None) -> Flow:
    """Loads and validates a flow file (the intake flow by default)."""
    return _load(Path(path) if path else DATA_DIR / "intake.yaml", Flow)


def load_languages(path: Path | str | None = None) -> tuple[Language, ...]:
    """Loads the supported languages in the order they are offered."""
    return _load(Path(path) if path else DATA_DIR / "languages.yaml", LanguageList).languages


def load_keywords(path: Path | str | None = None) -> KeywordFile:
    """Loads the global keywords and the yes/no/skip answer words."""
    return _load(Path(path) if path else DATA_DIR / "keywords.yaml", KeywordFile)


def load_phrases(path: Path | str | None = None) -> PhraseFile:
    """Loads the per-language keyword phrasings (phrases.yaml)."""
    return _load(Path(path) if path else DATA_DIR / "phrases.yaml", PhraseFile)


@dataclass(frozen=True)
class FlowBundle:
    """Everything the engine needs from the data files, loaded once."""

    flow: Flow
    languages: tuple[Language, ...]
    keywords: KeywordFile
    phrases: PhraseFile | None = None
    # The call-back questions (callback.yaml); a flow folder without one offers no call-back questions.
    callback: Flow | None = None

    @classmethod
    def load(cls, data_dir: Path | str | None = None) -> FlowBundle:
        d = Path(data_dir) if data_dir else DATA_DIR
        phrases = load_phrases(d / "phrases.yaml") if (d / "phrases.yaml").exists() else None
        callback = load_flow(d / "callback.yaml") if (d / "callback.yaml").exists() else None
        return cls(load_flow(d / "intake.yaml"), load_languages(d / "languages.yaml"), load_keywords(d / "keywords.yaml"),
                   phrases, callback)

    @cached_property
    def intents(self) -> Intents:
        """The keyword reader built from keywords.yaml and phrases.yaml, once per bundle."""
        from intake_flows.intents import Intents

        return Intents(self.keywords, self.phrases, self.languages)

    @cached_property
    def keyword_index(self) -> dict[str, frozenset[str]]:
        """Per keyword action, its words folded once, so matching a message is a set lookup."""
        from intake_flows.answers import fold

        return {action: frozenset(fold(w) for w in words) for action, words in self.keywords.keywords.items()}

    @cached_property
    def language_vocab(self) -> dict[str, tuple[str, ...]]:
        """Per language id, what a person may type to choose it: the id, its own name, other names."""
        return {lang.id: (lang.id, lang.name, *lang.words) for lang in self.languages}
