"""Catalog upkeep and checks: extract msgids, update and create catalogs, and find what is wrong in them."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gettext
import io
import re
import struct
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import PoFileError, read_po, write_po

from intake_flows.answers import fold
from intake_flows.schema import KeywordFile, Language

from bot.i18n import DOMAIN, LOCALES_DIR
from bot.sms import MAX_SEGMENTS, segment_info

ROOT = LOCALES_DIR.parent
POT_PATH = LOCALES_DIR / f"{DOMAIN}.pot"
SOURCE_LANGUAGE = "en"

# Every catalog's header says this until a qualified translator has reviewed it (issue 4).
REVIEW_NOTICE = "Drafted translations await review by a qualified translator."
REVIEW_MARK = "await review by a qualified translator"

# Upper-case words in msgids that people must type back; each maps to the words that act on it.
KEYWORD_TOKENS = {
    "STOP": "opt_out", "START": "opt_in", "HELP": "help", "RESTART": "restart", "LANGUAGE": "language",
    "BACK": "back", "NEW": "new", "DELETE": "delete", "PERSON": "person", "PEOPLE": "people",
    "SKIP": "skip", "NONE": "none", "YES": "yes", "NO": "no",
}
# Carriers act on the English STOP, and Twilio lifts a block only on START, UNSTOP or YES,
# whatever the language: so every translation keeps these two in English.
ALWAYS_ENGLISH = frozenset({"STOP", "START"})
# The only words that lift a carrier's block: a translation that offers another word as the way
# back leaves the person blocked while they believe they have come back.
CARRIER_OPT_IN = frozenset({"start", "unstop", "yes"})

_PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]*)\))?[-#0 +]*\d*(?:\.\d+)?(?P<type>[diouxXeEfFgGcrsa%])")

# Sample values for placeholders, about as long as real ones, to measure SMS segments.
SAMPLE_VALUES = {
    "name": "Maria", "first_name": "Maria", "phone": "211", "zip": "90011", "number": "3", "talk": "4",
    "min": "1", "max": "40", "count": "3", "n": "3", "miles": "12", "distance": "12 mi",
    "program": "Hospital Careers Pathway (Healthcare)", "sector": "Healthcare",
    "reasons": "near you, matches your interest and no diploma needed",
    "place": "East LA WorkSource Center, 2525 E Cesar Chavez Ave", "date": "Nov 2, 2026", "time": "10:00 AM",
    "url": "jobcenter.lacounty.gov", "locator": "ajcc.lacounty.gov", "office": "East Los Angeles AJCC",
    "city": "East Los Angeles", "statewide_hrtp_list": "cwdb.ca.gov/initiatives/high-road-training-partnerships",
    "check": "needs a high school diploma or GED; staff can help", "wage": "20", "language": "Spanish",
}
DEFAULT_SAMPLE = "sample text value"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a catalog; `kind` is a stable word, `detail` says what to do."""

    lang: str
    kind: str
    msgid: str
    detail: str

    def __str__(self) -> str:
        shown = self.msgid if len(self.msgid) <= 70 else self.msgid[:67] + "..."
        return f"[{self.lang}] {self.kind}: {self.detail}" + (f"\n    msgid: {shown!r}" if shown else "")


# ---- files ----------------------------------------------------------------------------------

def po_path(lang_id: str, locales_dir: Path = LOCALES_DIR) -> Path:
    return locales_dir / lang_id / "LC_MESSAGES" / f"{DOMAIN}.po"


def existing_catalogs(locales_dir: Path = LOCALES_DIR) -> dict[str, Path]:
    """Every catalog on disk, by folder name (our language id)."""
    return {p.parent.parent.name: p for p in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))}


# What Babel's and gettext's parsers raise on a damaged .po or .mo (bad bytes, syntax, headers, a file cut
# short); tests/test_i18n_damaged.py feeds them damaged catalogs so that this list stays complete.
DAMAGED_CATALOG_ERRORS = (OSError, ValueError, LookupError, IndexError, struct.error, PoFileError)


def read_catalog(path: Path, locale: str | None = None, strict: bool = False) -> Catalog:
    """Reads a .po; `strict` turns Babel's silently skipped syntax errors into an exception."""
    with path.open("rb") as fh:
        return read_po(fh, locale=locale, domain=DOMAIN, abort_invalid=strict)


def serialize(catalog: Catalog, template: bool = False) -> bytes:
    """PO text as the project keeps it: no wrapping, previous msgids kept on fuzzy entries."""
    buf = io.BytesIO()
    write_po(buf, catalog, width=0, ignore_obsolete=True, include_previous=not template)
    return buf.getvalue()


_VOLATILE = re.compile(rb'^"(?:POT-Creation-Date|PO-Revision-Date): .*\n', re.M)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Writes only when more than the dates changed, so untouched catalogs keep their .mo fresh."""
    if path.exists() and _VOLATILE.sub(b"", path.read_bytes()) == _VOLATILE.sub(b"", data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


# ---- extraction and update -------------------------------------------------------------------

def extract_template(root: Path = ROOT) -> Catalog:
    """Runs `pybabel extract` with the pyproject.toml mappings (code, templates, YAML data files)."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(root):
        out = Path(tmp) / f"{DOMAIN}.pot"
        CommandLineInterface().run([
            "pybabel", "-q", "extract", "-F", "pyproject.toml", "-o", str(out), "--no-wrap", "--add-location=file",
            "--add-comments=TRANSLATORS:", "--project=HRTP Intake", "--copyright-holder=LA County HRTP Intake",
            "--ignore-dirs=.* _* build dist instance locales tests", ".",
        ])
        return read_catalog(out)


def _babel_locale(lang: Language | None, lang_id: str) -> str:
    return lang.babel if lang else lang_id.replace("-", "_")


def header_comment(lang: Language | None, lang_id: str) -> str:
    name = lang.name if lang else lang_id
    return (f"# {name} ({lang_id}) translations for HRTP Intake.\n"
            f"# {REVIEW_NOTICE}\n"
            "# Keep every %(placeholder)s exactly as in the English text, and keep the upper-case\n"
            "# keywords (STOP, HELP, ...) in a form intake_flows/data/keywords.yaml accepts.")


def new_catalog(lang: Language | None, lang_id: str, template: Catalog) -> Catalog:
    """An empty catalog for a language, with the right plural forms and the review notice."""
    catalog = Catalog(locale=_babel_locale(lang, lang_id), domain=DOMAIN, project="HRTP Intake",
                      header_comment=header_comment(lang, lang_id), fuzzy=False,
                      language_team=f"{lang.name if lang else lang_id} <translators>")
    # Catalog.update adopts the template's Message objects: a copy keeps catalogs apart.
    catalog.update(copy.deepcopy(template), update_creation_date=True)
    catalog.fuzzy = False
    if lang_id == SOURCE_LANGUAGE:
        _fill_source(catalog)
    return catalog


def _fill_source(catalog: Catalog) -> None:
    """The English catalog says what the msgid says unless someone rewords it there on purpose."""
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy or not _translated(message):
            message.string = message.id
            message.flags.discard("fuzzy")
            message.previous_id = []


def _adopt_plural_forms(catalog: Catalog, locale: str) -> None:
    """Sets Plural-Forms to the installed Babel's table, so a CLDR change reaches every catalog."""
    # Catalogs have no plural messages yet; once they do, a changed count must be re-translated,
    # which the check reports entry by entry.
    headers = [(k, v) for k, v in catalog.mime_headers if k.lower() != "plural-forms"]
    catalog.mime_headers = [*headers, ("Plural-Forms", get_plural(locale).plural_forms)]


def update_catalog(path: Path, template: Catalog, lang: Language | None, lang_id: str) -> bool:
    """Merges new and changed msgids into one catalog (changed ones come back fuzzy); True if written."""
    catalog = read_catalog(path, _babel_locale(lang, lang_id))
    catalog.update(copy.deepcopy(template), update_creation_date=False)
    _adopt_plural_forms(catalog, _babel_locale(lang, lang_id))
    if REVIEW_MARK not in (catalog.header_comment or ""):
        catalog.header_comment = header_comment(lang, lang_id)
    if lang_id == SOURCE_LANGUAGE:
        _fill_source(catalog)
    return write_if_changed(path, serialize(catalog))


def extract_and_update(languages: Sequence[Language], locales_dir: Path = LOCALES_DIR,
                       root: Path = ROOT) -> tuple[bool, list[str]]:
    """Regenerates messages.pot and updates every catalog that exists; returns what was written."""
    template = extract_template(root)
    pot_written = write_if_changed(locales_dir / f"{DOMAIN}.pot", serialize(template, template=True))
    by_id = {lang.id: lang for lang in languages}
    updated = [lang_id for lang_id, path in existing_catalogs(locales_dir).items()
               if update_catalog(path, template, by_id.get(lang_id), lang_id)]
    return pot_written, updated


# ---- checks ----------------------------------------------------------------------------------

def placeholders(text: str) -> Counter[str]:
    """Named and positional placeholders with their conversion, e.g. {'%(name)s': 1}; '%%' excluded."""
    found: Counter[str] = Counter()
    for m in _PLACEHOLDER.finditer(text):
        if m.group("type") == "%":
            continue
        found[f"%({m.group('name')}){m.group('type')}" if m.group("name") is not None else f"%{m.group('type')}"] += 1
    return found


def sample_params(msgid: str) -> dict[str, str]:
    return {m.group("name"): SAMPLE_VALUES.get(m.group("name"), DEFAULT_SAMPLE)
            for m in _PLACEHOLDER.finditer(msgid) if m.group("name")}


def _strings(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string or ""]


def _ids(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]


def _translated(message: Message) -> bool:
    return all(s.strip() for s in _strings(message))


def _render(text: str, msgid: str) -> str:
    params = sample_params(msgid)
    return text % params if params else text


_CASED_SCRIPTS = ("LATIN", "CYRILLIC", "ARMENIAN", "GREEK")


def _is_cased(word: str) -> bool:
    return any(unicodedata.name(ch, "").startswith(_CASED_SCRIPTS) for ch in word if ch.isalpha())


def _shouted_phrases(text: str) -> set[str]:
    """Folded runs of upper-case words ("Responde AYUDA" -> {"ayuda"}), and every sub-run."""
    words = re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", text)
    runs: list[list[str]] = [[]]
    for w in words:
        if _is_cased(w) and w == w.upper() and w != w.lower() and len(w) >= 2:
            runs[-1].append(w)
        elif runs[-1]:
            runs.append([])
    phrases = set()
    for run in runs:
        for i in range(len(run)):
            for j in range(i + 1, len(run) + 1):
                phrases.add(fold(" ".join(run[i:j])))
    return phrases


def accepted_words(keywords: KeywordFile, catalog: Catalog | None = None) -> dict[str, set[str]]:
    """Per keyword action, every folded word that acts on it (yes/no/skip include the translated labels)."""
    words: dict[str, set[str]] = {action: {fold(w) for w in ws} for action, ws in keywords.keywords.items()}
    for key, ws in keywords.answer_words.items():
        words[key] = {fold(w) for w in ws}
    if catalog is not None:
        for label, key in (("Yes", "yes"), ("No", "no"), ("Skip", "skip")):
            m = catalog.get(label)
            if m is not None and isinstance(m.string, str) and m.string and not m.fuzzy:
                words[key].add(fold(m.string))
    return words


def _has_token(text: str, token: str) -> bool:
    # Only Latin letters end the word: Korean and Japanese attach particles ("STOP을", "STOPと").
    return re.search(rf"(?<![A-Za-z]){token}(?![A-Za-z])", text) is not None


def _named(words: Iterable[str], shouted: set[str], plain: str) -> list[str]:
    """The words a translation names: upper case in cased scripts, anywhere in the others."""
    return sorted(w for w in words if w in shouted or (w and not _is_cased(w) and w in plain))


def keyword_problems(lang_id: str, msgid: str, msgstr: str, accepted: Mapping[str, set[str]]) -> list[Problem]:
    """Each upper-case keyword in the msgid must appear in the translation in a form people can type back."""
    problems = []
    shouted = _shouted_phrases(msgstr)
    plain = fold(msgstr)
    for token in re.findall(r"\b[A-Z]{2,}\b", msgid):
        action = KEYWORD_TOKENS.get(token)
        if action is None:
            continue
        if token in ALWAYS_ENGLISH:
            if not _has_token(msgstr, token):
                problems.append(Problem(lang_id, "keyword", msgid, f"keep the English keyword {token} (carriers act on it)"))
            elif token == "START" and (others := _named(accepted.get(action, set()) - CARRIER_OPT_IN, shouted, plain)):
                problems.append(Problem(lang_id, "keyword", msgid,
                                        f"offer START alone: carriers lift their block on START, UNSTOP or YES, "
                                        f"not on {', '.join(others)}"))
            continue
        if _has_token(msgstr, token):
            continue
        if not _named(accepted.get(action, set()), shouted, plain):
            problems.append(Problem(lang_id, "keyword", msgid,
                                    f"{token} has no word people can type back: keep {token}, or write a word "
                                    f"keywords.yaml accepts for {action} (upper case in cased scripts)"))
    return problems


# 以下/以上 (Korean 이하/이상) count the number itself: "16 歲以下" takes in 16-year-olds, so an
# English bound that leaves the number out ("Under 16") needs 未滿/不满/未満/미만 instead.
_INCLUSIVE_BOUNDS = {"zh": ("以下", "以上"), "ja": ("以下", "以上"), "ko": ("이하", "이상")}
_EXCLUSIVE_BOUND = re.compile(r"\b(?:(?P<below>under|below|less than|younger than|fewer than)"
                              r"|(?P<above>over|above|more than|older than))\s+(?P<n>\d+)(?!\d)", re.I)


def boundary_problems(lang_id: str, msgid: str, msgstr: str) -> list[Problem]:
    """An English bound that leaves its number out must not become one that takes it in."""
    words = _INCLUSIVE_BOUNDS.get(lang_id.split("-")[0])
    if words is None:
        return []
    problems = []
    for m in _EXCLUSIVE_BOUND.finditer(msgid):
        n, word = m.group("n"), words[0] if m.group("below") else words[1]
        if re.search(rf"(?<!\d){n}\s*[^\d\s]{{0,2}}\s*{word}", msgstr):
            problems.append(Problem(lang_id, "boundary", msgid,
                                    f"{word} includes {n}, which {m.group(0)!r} leaves out: say it the exclusive way"))
    return problems


def allowed_plural_counts(locale: str) -> set[int]:
    """Babel's gettext table (what `pybabel init` writes) or CLDR's categories plus "other"."""
    # They differ for a few languages (Persian, Armenian: one form in gettext use, two in CLDR);
    # either makes a correct catalog, anything else makes ngettext pick the wrong string.
    return {get_plural(locale).num_plurals, len(Locale.parse(locale).plural_form.tags) + 1}


def check_catalog(lang_id: str, path: Path | None, template: Catalog, keywords: KeywordFile,
                  lang: Language | None = None, max_segments: int = MAX_SEGMENTS) -> list[Problem]:
    """Everything wrong with one language's catalog against the freshly extracted template."""
    if path is None or not path.exists():
        return [Problem(lang_id, "no_catalog", "", f"no catalog at locales/{lang_id}/LC_MESSAGES/{DOMAIN}.po "
                                                   f"(create it with `hrtp-intake i18n init {lang_id}`)")]
    try:
        catalog = read_catalog(path, strict=True)
    except DAMAGED_CATALOG_ERRORS as exc:  # a broken file is reported, not a traceback
        return [Problem(lang_id, "load", "", f"{path} does not load: {exc}")]
    problems: list[Problem] = []

    if REVIEW_MARK not in (catalog.header_comment or ""):
        problems.append(Problem(lang_id, "header", "", f"the header comment must say: {REVIEW_NOTICE}"))
    if catalog.fuzzy:
        problems.append(Problem(lang_id, "fuzzy", "", "the catalog header is marked fuzzy"))
    expected = get_plural(_babel_locale(lang, lang_id))
    if catalog.num_plurals not in allowed_plural_counts(_babel_locale(lang, lang_id)):
        problems.append(Problem(lang_id, "plural", "", f"Plural-Forms says nplurals={catalog.num_plurals}, "
                                                       f"the language has {expected.num_plurals} ({expected.plural_forms})"))
    try:
        translations = gettext.GNUTranslations(io.BytesIO(compiled(catalog)))
    except DAMAGED_CATALOG_ERRORS as exc:  # a catalog gettext cannot load would silently fall back to English
        problems.append(Problem(lang_id, "load", "", f"the compiled catalog does not load: {exc}"))
        translations = None
    yes = catalog.get("Yes")
    if translations is not None and lang_id != SOURCE_LANGUAGE and yes is not None:
        if translations.gettext("Yes") == "Yes" and isinstance(yes.string, str) and yes.string not in ("", "Yes"):
            problems.append(Problem(lang_id, "load", "Yes", "the compiled catalog does not return translations"))

    accepted = accepted_words(keywords, catalog)
    for message in template:
        if not message.id:
            continue
        key = message.id
        mine = catalog.get(key, context=message.context)
        if mine is None:
            problems.append(Problem(lang_id, "missing", _ids(message)[0], "not in the catalog: run `hrtp-intake i18n extract`"))
            continue
        if mine.fuzzy:
            problems.append(Problem(lang_id, "fuzzy", _ids(message)[0],
                                    "marked fuzzy: review the translation and remove the flag"))
        if not _translated(mine):
            problems.append(Problem(lang_id, "untranslated", _ids(message)[0], "no translation"))
            continue
        problems.extend(_message_problems(lang_id, mine, catalog, accepted, max_segments))

    known = {m.id if not isinstance(m.id, list) else tuple(m.id) for m in template if m.id}
    for message in catalog:
        if message.id and (message.id if not isinstance(message.id, list) else tuple(message.id)) not in known:
            problems.append(Problem(lang_id, "obsolete", _ids(message)[0],
                                    "no longer in the code: run `hrtp-intake i18n extract`"))
    problems.extend(check_compiled(lang_id, path, catalog))
    problems.extend(answer_data_problems(lang_id))
    return problems


# The least a language's answer data (intake_flows/data/understand/) needs for people to be read well.
ANSWER_DATA_MINIMUM = {"numbers": 9, "negation": 3, "fillers": 3, "name_intro": 1, "name_skip": 1, "answers": 8}


def answer_data_problems(lang_id: str) -> list[Problem]:
    """A language whose answer data is missing or thin: numbers, negation words, names, everyday words."""
    from intake_flows import understand

    path = understand.UNDERSTAND_DIR / f"{lang_id}.yaml"
    if not path.exists():
        return [Problem(lang_id, "answer_data", "", f"no answer data at {path.relative_to(path.parents[3])}: "
                                                    "copy en.yaml's parts and fill them for the language")]
    try:
        doc = understand._read_file(lang_id)
        understand.load(lang_id)
    except ValueError as exc:
        return [Problem(lang_id, "answer_data", "", f"{path.name}: {exc}")]
    names = doc.get("names") or {}
    have = {"numbers": len(doc.get("numbers") or {}) + len(doc.get("multipliers") or {}),
            "negation": len((doc.get("negation") or {}).get("words") or []), "fillers": len(doc.get("fillers") or []),
            "name_intro": len(names.get("intro") or []), "name_skip": len(names.get("skip") or []),
            "answers": len(doc.get("answers") or {})}
    return [Problem(lang_id, "answer_data", "", f"{path.name}: only {have[k]} {k.replace('_', ' ')} (at least {n}); "
                                                "people in this language will be read poorly")
            for k, n in ANSWER_DATA_MINIMUM.items() if have[k] < n]


def _message_problems(lang_id: str, message: Message, catalog: Catalog, accepted: Mapping[str, set[str]],
                      max_segments: int) -> list[Problem]:
    problems = []
    ids, strings = _ids(message), _strings(message)
    first = ids[0]
    if isinstance(message.id, (list, tuple)) and len(strings) != catalog.num_plurals:
        problems.append(Problem(lang_id, "plural", first,
                                f"{len(strings)} plural forms, the catalog needs {catalog.num_plurals}"))
    want = placeholders(ids[-1])
    for s in strings:
        got = placeholders(s)
        # A plural form may leave out the count ("one message"); nothing may be added or renamed.
        if got != want and not (len(ids) > 1 and set(got) <= set(want)):
            problems.append(Problem(lang_id, "placeholder", first, f"placeholders {sorted(got)} differ from {sorted(want)}"))
            continue
        try:
            rendered = _render(s, first)
        except (KeyError, ValueError, TypeError) as exc:
            problems.append(Problem(lang_id, "placeholder", first, f"the translation does not format: {exc!r}"))
            continue
        info = segment_info(rendered)
        if info.segments > max_segments:
            problems.append(Problem(lang_id, "too_long", first,
                                    f"{info.segments} SMS segments ({info.units} {info.encoding} units) with sample values; "
                                    f"the limit is {max_segments}: shorten it"))
        problems.extend(keyword_problems(lang_id, first, s, accepted))
        problems.extend(boundary_problems(lang_id, first, s))
    return problems


def compiled(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def _mo_messages(data: bytes) -> dict[Any, str]:
    t = gettext.GNUTranslations(io.BytesIO(data))
    return {k: v for k, v in t._catalog.items() if k != ""}  # type: ignore[attr-defined]


def check_compiled(lang_id: str, path: Path, catalog: Catalog | None = None) -> list[Problem]:
    """A .mo beside the .po must hold exactly what the .po says; a missing one is compiled at start-up."""
    mo = path.with_suffix(".mo")
    if not mo.exists():
        return []
    catalog = catalog or read_catalog(path)
    try:
        on_disk = _mo_messages(mo.read_bytes())
    except DAMAGED_CATALOG_ERRORS as exc:  # a corrupt .mo is as bad as a stale one
        return [Problem(lang_id, "stale_mo", "", f"{mo} does not load ({exc}): run `hrtp-intake i18n compile`")]
    if on_disk != _mo_messages(compiled(catalog)):
        return [Problem(lang_id, "stale_mo", "", f"{mo} is older than its .po: run `hrtp-intake i18n compile`")]
    return []


def check_template(template: Catalog, pot_path: Path = POT_PATH) -> list[Problem]:
    """messages.pot must hold exactly the msgids the code and data files have now."""
    if not pot_path.exists():
        return [Problem("pot", "stale_pot", "", f"{pot_path} is missing: run `hrtp-intake i18n extract`")]
    current = read_catalog(pot_path)
    fresh = {m.id if not isinstance(m.id, list) else tuple(m.id) for m in template if m.id}
    kept = {m.id if not isinstance(m.id, list) else tuple(m.id) for m in current if m.id}
    problems = [Problem("pot", "stale_pot", str(i if isinstance(i, str) else i[0]),
                        "new in the code, not in messages.pot: run `hrtp-intake i18n extract`")
                for i in sorted(fresh - kept, key=str)]
    problems += [Problem("pot", "stale_pot", str(i if isinstance(i, str) else i[0]),
                         "in messages.pot but gone from the code: run `hrtp-intake i18n extract`")
                 for i in sorted(kept - fresh, key=str)]
    return problems


def check_all(languages: Iterable[Language], keywords: KeywordFile, locales_dir: Path = LOCALES_DIR,
              template: Catalog | None = None, root: Path = ROOT) -> list[Problem]:
    """Every problem in every supported language's catalog, plus a stale messages.pot."""
    template = template if template is not None else extract_template(root)
    problems = check_template(template, locales_dir / f"{DOMAIN}.pot")
    on_disk = existing_catalogs(locales_dir)
    for lang in languages:
        problems += check_catalog(lang.id, on_disk.get(lang.id), template, keywords, lang)
    return problems


# Below these, a language's own ways of saying the keywords (phrases.yaml) are thin: people who
# write "stop texting me" in it may be read as answering instead.
THIN_PHRASES = {"opt_out": 5, "maybe_stop": 1, "help": 3, "back": 1, "person": 2, "greetings": 1}


def phrase_warnings(languages: Iterable[Language], phrases: Any) -> list[str]:
    """Warnings (not failures) for a language whose keyword phrasings in phrases.yaml are missing or thin."""
    blocks = phrases.phrases if phrases is not None else {}
    out = []
    for lang in languages:
        block = blocks.get(lang.id)
        if block is None:
            out.append(f"{lang.id}: no phrases.yaml block: only the one-word keywords act in this language")
            continue
        thin = [f"{kind} ({len(getattr(block, kind))} < {n})" for kind, n in THIN_PHRASES.items()
                if len(getattr(block, kind)) < n]
        if lang.id != "en" and "en" not in block.languages:
            thin.append("no way to name English")
        if thin:
            out.append(f"{lang.id}: thin keyword phrasings in phrases.yaml: {', '.join(thin)}")
    return out


def summary(problems: Sequence[Problem]) -> dict[str, Counter[str]]:
    """Problem counts per language and kind, for a short report."""
    out: dict[str, Counter[str]] = {}
    for p in problems:
        out.setdefault(p.lang, Counter())[p.kind] += 1
    return out


# ---- SMS cost of a full intake -----------------------------------------------------------------

# One person's answers for a full intake that passes every question (the longest path): the
# language is picked from the list, everything else by option id or typed as on SMS.
FULL_INTAKE = {
    "first_name": "Maria", "zip": "90011",
    "age_range": {"choose": ["25_54"]}, "employment": {"choose": ["unemployed"]},
    "sectors": {"choose": ["construction", "healthcare"]}, "education": {"choose": ["hs_ged"]},
    "housing": {"choose": ["staying_with_others"]},
    "background": {"choose": ["justice_involved", "public_assistance"]},
    "needs": {"choose": ["childcare", "transportation"]},
    "gender": {"choose": ["woman"]}, "race_ethnicity": {"choose": ["latino"]},
}


@dataclass(frozen=True)
class SegmentRow:
    """What a full SMS intake costs in one language."""

    lang: str
    status: str
    messages: int
    max_segments: int
    total_segments: int
    encoding: str
    longest: str
    failures: tuple[str, ...] = ()
    plain_segments: int | None = None  # the same intake with the language's sms_plain letters; None: it has none


def segment_report(runtime: Any, languages: Sequence[Language], channel: str = "sms") -> list[SegmentRow]:
    """Runs a full simulated intake in each language and counts the bot's SMS segments, as written and plain."""
    rows = []
    for lang in languages:
        row = _segment_row(runtime, lang, channel, plain=False)
        if lang.sms_plain:
            p = _segment_row(runtime, lang, channel, plain=True)
            problems = [*p.failures, *([f"plain: {p.status}"] if p.status != "completed" else []),
                        *([f"plain: a message of {p.max_segments} segments"] if p.max_segments > 3 else [])]
            row = dataclasses.replace(row, plain_segments=p.total_segments, failures=row.failures + tuple(problems))
        rows.append(row)
    return rows


def _segment_row(runtime: Any, lang: Language, channel: str, plain: bool) -> SegmentRow:
    from bot.db import Database
    from bot.migrate import fresh_sqlite
    from bot.service import IntakeService, Settings
    from bot.simulate import Runner, Scenario

    settings = Settings(sms_plain_languages=frozenset({lang.id}) if plain else frozenset())
    scenario = Scenario.model_validate({
        "name": f"segment report ({lang.id})", "channel": channel, "from": "+13235550199", "start": "JOIN",
        # "JOIN" (from a flyer) says no language, so the run shows the list and picks from it.
        "answers": {"language": {"choose": [lang.id]}, **FULL_INTAKE}, "otherwise": "1",
    })
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(fresh_sqlite(Path(tmp) / "segments.db"))
        try:
            result = Runner(IntakeService(db, runtime, settings), scenario).run()
        finally:
            db.dispose()
    bot = [t for t in result.transcript if t["from"] == "bot"]
    encodings = Counter(t["encoding"] for t in bot)
    longest = max(bot, key=lambda t: (t["segments"], len(t["text"])), default={"text": ""})
    return SegmentRow(lang.id, result.status, len(bot), max((t["segments"] for t in bot), default=0),
                      sum(t["segments"] for t in bot),
                      ", ".join(f"{e} x{n}" for e, n in sorted(encodings.items())) or "-",
                      longest["text"], tuple(result.failures))


def segment_table(rows: Sequence[SegmentRow]) -> str:
    """The report as a Markdown table (the README keeps a copy)."""
    lines = ["| language | bot messages | max segments per message | total segments "
             "| plain (SMS_PLAIN_LANGUAGES) | messages by encoding |",
             "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        failures = ": " + "; ".join(r.failures) if r.failures else ""
        flag = "" if r.status == "completed" and not r.failures else f" ({r.status}{failures})"
        plain = "–" if r.plain_segments is None else r.plain_segments
        lines.append(f"| {r.lang}{flag} | {r.messages} | {r.max_segments} | {r.total_segments} | {plain} | {r.encoding} |")
    return "\n".join(lines)
