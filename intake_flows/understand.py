"""Reading an answer as a careful person would: numbers in words, negations, typos, several answers, names.

Everything a translator may extend is data, one file per language under data/understand/; this
module is pure: a reading depends only on the question, the text and the language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz.distance import Levenshtein

from intake_flows.answers import clean, fold, is_dense, parse_zip, to_ascii_digits

UNDERSTAND_DIR = Path(__file__).parent / "data" / "understand"


# ---- the per-language data ---------------------------------------------------------------------

@dataclass(frozen=True)
class LangData:
    """How people of one language write answers; English is merged in, since people mix it in."""

    lang: str
    numbers: Mapping[str, int]
    multipliers: Mapping[str, int]
    ordinals: Mapping[str, int]
    fillers: tuple[str, ...]
    separators: tuple[str, ...]
    negation: tuple[str, ...]
    negation_prefixes: tuple[str, ...]
    unsure: tuple[str, ...]
    name_intro: tuple[str, ...]
    name_after: tuple[str, ...]
    name_skip: tuple[str, ...]
    not_names: frozenset[str]
    answers: Mapping[str, Mapping[str, tuple[str, ...]]]
    decades: tuple[str, ...] = ()          # after a number, "a decade of it": 20대, 20代, 20多岁 (20 to 29)
    joined_separators: tuple[str, ...] = ()  # joining words written onto the next word: Arabic و in "والصحة"
    units_before_tens: bool = False
    label_words: bool = True


def _folded(words: Sequence[Any]) -> tuple[str, ...]:
    bad = [w for w in words or () if isinstance(w, bool) or not isinstance(w, (str, int))]
    if bad:
        # YAML reads an unquoted no, yes, on or off as true/false: the word must be quoted.
        raise ValueError(f"not words: {bad} (quote yes, no, on and off in the data files)")
    return tuple(dict.fromkeys(f for f in (fold(str(w)) for w in words or ()) if f))


def _read_file(lang: str) -> dict[str, Any]:
    path = UNDERSTAND_DIR / f"{lang}.yaml"
    if not path.exists():
        return {}
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping")
    return doc


@lru_cache(maxsize=32)
def load(lang: str) -> LangData:
    """The language's data with English merged in (English alone for English)."""
    docs = [_read_file(lang)] + ([_read_file("en")] if lang != "en" else [])

    def merged_map(key: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in reversed(docs):
            out.update({fold(str(k)): int(v) for k, v in (d.get(key) or {}).items()})
        return out

    def merged_list(key: str, sub: str | None = None) -> tuple[str, ...]:
        words: list[Any] = []
        for d in docs:
            node = d.get(key) or {}
            words += (node.get(sub) or []) if sub else node
        return _folded(words)

    answers: dict[str, dict[str, list[str]]] = {}
    for d in docs:
        for question, options in (d.get("answers") or {}).items():
            for option, words in (options or {}).items():
                answers.setdefault(str(question), {}).setdefault(str(option), []).extend(words or [])
    return LangData(
        lang=lang,
        numbers=merged_map("numbers"), multipliers=merged_map("multipliers"), ordinals=merged_map("ordinals"),
        fillers=merged_list("fillers"), separators=merged_list("separators"),
        negation=merged_list("negation", "words"), negation_prefixes=merged_list("negation", "prefixes"),
        unsure=merged_list("unsure"),
        name_intro=merged_list("names", "intro"),
        # A leading "-" marks an ending written onto the name itself (Persian "مریمه": Maryam is).
        name_after=tuple(("-" if str(w).startswith("-") else "") + fold(str(w))
                         for d in docs for w in ((d.get("names") or {}).get("after") or []) if fold(str(w))),
        name_skip=merged_list("names", "skip"), not_names=frozenset(merged_list("names", "not_names")),
        answers={q: {o: _folded(w) for o, w in opts.items()} for q, opts in answers.items()},
        decades=merged_list("decades"), joined_separators=_folded(docs[0].get("joined_separators") or ()),
        units_before_tens=bool(docs[0].get("units_before_tens")),
        label_words=docs[0].get("label_words", True) is not False,
    )


def languages_with_data() -> list[str]:
    """The languages that have a data file."""
    return sorted(p.stem for p in UNDERSTAND_DIR.glob("*.yaml"))


# ---- a question and a reading --------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    """What the reader needs to know about one question; built by the engine from the flow data."""

    id: str
    kind: str                                        # yesno | choice | multi | flags | language | program_choice
    numbered: tuple[tuple[int, str], ...]            # the options as shown: number -> value id
    vocab: Mapping[str, Sequence[str]]               # value id -> words that name it (labels, synonyms)
    negated: Mapping[str, str] = field(default_factory=dict)   # value id -> what "not <it>" means
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # value id -> numbers it covers
    exclusive: tuple[str, ...] = ()
    none: str | None = None                          # the "none of these" option, if any


@dataclass(frozen=True)
class Reading:
    """What an answer says: a value, or nothing, and how it was read."""

    value: Any = None
    how: str = ""            # "number" (an option's number), "exact" (an option's own words), "words" (read from words)
    negated: tuple[str, ...] = ()   # options the person said do NOT apply, when that alone settles nothing
    unsure: bool = False
    clash: bool = False      # answers that do not go together ("none" and something)

    @property
    def understood(self) -> bool:
        return self.value is not None


_SYMBOLS = {"So", "Sk", "Sm", "Cs", "Co"}
# A full stop ends a clause only before a space: "ม.6" (Thai grade 12) and "9.5" stay whole.
_CLAUSE = re.compile(r"[,;\n!\?，、；。！？،؛]+|\.+(?=\s|$)")


@lru_cache(maxsize=1 << 16)
def normalize(text: str) -> str:
    """The folded text without emoji and symbols, single-spaced."""
    kept = "".join(" " if unicodedata.category(ch) in _SYMBOLS or ch in "\ufe0f\u20e3" else ch for ch in text)
    return " ".join(fold(kept).split())


def _clauses(text: str, data: LangData, keep: Sequence[str] = (), known: Sequence[str] = ()) -> list[str]:
    """The answer cut at punctuation and at words that join separate answers ("y", "và", "和"),
    except inside a phrase of `keep` that holds such a word ("حمل و نقل", "salud y bienestar")."""
    out: list[str] = []
    for chunk in _CLAUSE.split(clean(text)):
        f = _unjoin(normalize(chunk), data, known)
        if not f:
            continue
        for phrase in keep:
            if phrase in f and phrase != f:
                f = f.replace(phrase, phrase.replace(" ", "\x00"))
            elif phrase == f:
                f = f.replace(" ", "\x00")
        parts = [f]
        if _only_number(f, data):
            out.append(f)  # "cincuenta y ocho" is one number, not two answers
            continue
        for sep in data.separators:
            if is_dense(sep) and any(sep in k and k in f for k in keep):
                continue  # "ちょっと" holds と but is one word
            nxt: list[str] = []
            for p in parts:
                nxt += _split_on(p, sep)
            parts = nxt
        out += [p.replace("\x00", " ").strip() for p in parts if p.strip()]
    return out


def _unjoin(f: str, data: LangData, known: Sequence[str]) -> str:
    """A joining word written onto the next one stands apart when the rest is an answer's word:
    "البناء والصحة" is "البناء و الصحة" (construction and health), not one unknown word after it."""
    if not data.joined_separators or not known:
        return f
    known_set = set(known)
    words = []
    for w in f.split():
        sep = next((j for j in data.joined_separators if w.startswith(j) and len(fold(w[len(j):])) >= 3
                    and w not in known_set and w not in data.negation and w not in data.numbers
                    and fold(w[len(j):]) in known_set), None)
        words += [sep, fold(w[len(sep):])] if sep else [w]
    return " ".join(words)


def _only_number(text: str, data: LangData) -> bool:
    words = [w for w in text.split() if w not in data.fillers]
    return len(words) > 1 and not any(ch.isdigit() for ch in text) and parse_number_words(" ".join(words), data) is not None


def _split_on(text: str, sep: str) -> list[str]:
    if is_dense(sep):
        # A joining character in a dense script splits only between two things ("1和3", "医疗和科技").
        return [p for p in text.split(sep)] if sep in text and not text.startswith(sep) and not text.endswith(sep) else [text]
    return re.split(rf"(?:^| ){re.escape(sep)}(?: |$)", text)


def _spans(text: str, phrase: str) -> list[tuple[int, int]]:
    """Where a folded phrase occurs in the folded text: as whole words, or anywhere in dense scripts."""
    if not phrase:
        return []
    out = []
    dense = is_dense(phrase)
    start = text.find(phrase)
    while start >= 0:
        end = start + len(phrase)
        # A Latin word inside Japanese or Thai text is bounded by that script ("CalFreshをもらっています").
        before_ok = start == 0 or text[start - 1] == " " or _dense_char(text[start - 1])
        after_ok = end == len(text) or text[end] == " " or _dense_char(text[end])
        if dense or (before_ok and after_ok):
            out.append((start, end))
        start = text.find(phrase, start + 1)
    return out


@dataclass
class _Clause:
    """One piece of an answer, as read: the options it names, its numbers, whether it is turned around."""

    text: str
    options: list[str] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)   # option numbers or a plain number
    ordinal: bool = False
    decade: bool = False       # "20대": the number is the start of a decade, not an age
    negated: bool = False
    unsure: bool = False
    leftover: str = ""


def _phrases(q: Question, data: LangData) -> list[tuple[str, str, str]]:
    """(folded phrase, kind, value) for everything the reader looks for, longest first."""
    out: list[tuple[str, str, str]] = []
    for value, words in q.vocab.items():
        for w in words:
            fw = normalize(str(w))
            if fw:
                out.append((fw, "opt", value))
    for value, words in data.answers.get(q.id, {}).items():
        out += [(w, "opt", value) for w in words]
    if q.kind == "yesno":
        for value, words in data.answers.get("yesno", {}).items():
            out += [(w, "opt", value) for w in words]
        out += [(w, "unsure", "") for w in data.unsure]
    out += [(w, "ord", str(n)) for w, n in data.ordinals.items()]
    out += [(w, "neg", "") for w in data.negation]
    out += [(w, "fill", "") for w in data.fillers]
    out.sort(key=lambda p: (-len(p[0]), {"opt": 0, "unsure": 1, "ord": 2, "neg": 3, "fill": 4}[p[1]]))
    return out


_DIGITS = re.compile(r"\d+")


def _numbers_in(text: str) -> list[tuple[int, int]]:
    """Spans of numbers standing on their own ("23", "23岁", "23살", "23yo"), not inside a word ("10th", "12वीं", "mc3")."""
    out = []
    for m in _DIGITS.finditer(text):
        before = text[m.start() - 1] if m.start() else " "
        after = text[m.end():]
        if (before.isalpha() or unicodedata.category(before).startswith("M")) and not _dense_char(before):
            continue
        if after and (after[0].isalpha() or unicodedata.category(after[0]).startswith("M")) and not _dense_char(after[0]) \
                and not re.match(r"(yo|yrs|y)\b", after):
            continue
        out.append(m.span())
    return out


def _counts_something(after: str) -> bool:
    """True when a word follows a number, as in "2 kids" (in scripts written with spaces: 2号 and 2번 name options)."""
    first = after.lstrip()[:1]
    return after[:1].isspace() and first.isalpha() and not _dense_char(first)


def _dense_char(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(("CJK", "HANGUL", "HIRAGANA", "KATAKANA", "THAI", "KHMER"))


def parse_number_words(text: str, data: LangData) -> int | None:
    """A whole number written in words ("twenty three", "veintitrés", "二十三", "스물셋"), or None."""
    words = {**data.numbers, **data.multipliers}
    if not text or not words:
        return None
    tokens: list[int] = []
    if is_dense(text) or " " not in text:
        # Longest-first: number words are often written together ("veintitres", "քսաներեք", "ម្ភៃបី").
        compact = text.replace(" ", "")
        keys = sorted((k.replace(" ", "") for k in words), key=len, reverse=True)
        values = {k.replace(" ", ""): v for k, v in words.items()}
        i = 0
        while i < len(compact):
            hit = next((k for k in keys if k and compact.startswith(k, i)), None)
            if hit is None:
                return None
            tokens.append(values[hit])
            i += len(hit)
    else:
        names = text.split()
        i = 0
        while i < len(names):
            for n in (3, 2, 1):
                chunk = " ".join(names[i:i + n])
                if chunk in words:
                    tokens.append(words[chunk])
                    i += n
                    break
            else:
                return None
    multipliers = set(data.multipliers.values())
    spoken = [v for v in tokens if v]
    if (data.units_before_tens and len(spoken) == 2 and 0 < spoken[0] < 10 and spoken[1] % 10 == 0 and spoken[1] >= 10
            and not multipliers & {spoken[1]}):
        # Units before tens, as Arabic says them: "ثلاثة وعشرين" (three and twenty), "سبعة عشر" (seventeen).
        return spoken[0] + spoken[1]
    total, current, place = 0, 0, None
    for v in tokens:
        if v == 0 and len(tokens) > 1:
            continue  # "cincuenta y ocho": the joining word
        if v in multipliers:
            # "二十三", "hai mươi ba", "ยี่สิบสาม": what comes before a ten multiplies it.
            total += (current or 1) * v
            current, place = 0, v
            continue
        if place is not None and v >= place:
            return None  # "uno y dos" is two numbers, not three
        current += v
        place = _place(v)
    return total + current


def _place(v: int) -> int:
    """The smallest unit a number word leaves room for after it: 1 after "one", 10 after "twenty"."""
    p = 1
    while v and v % (p * 10) == 0:
        p *= 10
    return p


def _read_clause(clause: str, q: Question, data: LangData, phrases: list[tuple[str, str, str]]) -> _Clause:
    c = _Clause(clause)
    taken = [False] * len(clause)
    hits: list[tuple[int, str, str, str]] = []  # start, kind, value, phrase
    for phrase, kind, value in phrases:
        if phrase not in clause:
            continue  # most of a question's phrases (every language's words) are not there: skip the word search
        if kind == "opt" and len(phrase) <= 2 and not is_dense(phrase) and phrase != clause:
            continue  # "en", "f", "it": a word this short names an option only on its own
        for start, end in _spans(clause, phrase):
            if any(taken[start:end]):
                continue
            for i in range(start, end):
                taken[i] = True
            hits.append((start, kind, value, phrase))
    for prefix in data.negation_prefixes:
        for word in clause.split():
            if word.startswith(prefix) and len(word) > len(prefix) + 1:
                c.negated = True
    hits.sort()
    leftover = "".join(" " if taken[i] else ch for i, ch in enumerate(clause))
    c.leftover = " ".join(leftover.split())
    negations = set(data.negation)
    if len(hits) > 1 or c.leftover:
        # A negation that is also an option's word ("no", "không") names that option only when it is
        # the whole answer; beside other words it turns them around ("no calfresh", "no tengo").
        hits = [(st, "neg", "", ph) if k == "opt" and ph in negations else (st, k, v, ph) for st, k, v, ph in hits]
    for _, kind, value, _ in hits:
        if kind == "opt":
            c.options.append(value)
        elif kind == "ord":
            c.numbers.append(int(value))
            c.ordinal = True
        elif kind == "neg":
            c.negated = True
        elif kind == "unsure":
            c.unsure = True
    # A negation word that is itself an option's word ("no", "none", "không") names that option
    # only when it is the whole answer; otherwise it negates what it stands next to.
    if c.ordinal and (c.leftover or c.options):
        # "quiero hablar con una persona primero": "first" inside a sentence is no option's number.
        c.numbers, c.ordinal = [], False
    # Numbers: digits anywhere, or the words left over once the option words and fillers are gone.
    rest = c.leftover
    spans = _numbers_in(rest)
    if len(spans) == 1 and data.decades:
        after = rest[spans[0][1]:].lstrip()
        c.decade = any(after.startswith(d) for d in data.decades)
    # "I live with 4 roommates", "yes 3 days a week": a number before a word counts things; it is no option's
    # number, and taken as one it records a wrong answer (housing, needs) where asking again costs a message.
    counts = not q.ranges and any(_counts_something(rest[b:]) for _, b in spans)
    if spans:
        c.numbers += [] if counts else [int(rest[a:b]) for a, b in spans]
        for a, b in reversed(spans):
            rest = rest[:a] + " " + rest[b:]
        rest = " ".join(rest.split())
        if rest:
            n = parse_number_words(rest, data)
            if n is None:
                c.leftover = rest
            else:
                c.leftover = ""
        else:
            c.leftover = ""
    elif rest:
        n = parse_number_words(rest, data)
        if n is not None:
            c.numbers.append(n)
            c.leftover = ""
    if c.options and not q.ranges and c.numbers and all(1900 <= n <= 2100 for n in c.numbers) and not c.ordinal:
        c.numbers = []  # "got my GED in 2015": a year beside an option's words is when, not which
    return c


def _fuzzy(clause: str, q: Question, data: LangData, phrases: list[tuple[str, str, str]]) -> list[str]:
    """Options one of whose words is a typo away from a word of the clause: one edit in words of 6 to 8
    letters, two from 9; never for shorter words, phrases of several words, or scripts without spaces."""
    if is_dense(clause):
        return []
    found: set[str] = set()
    words = [w for w in clause.split() if len(w) >= 6 and w not in data.negation and w not in data.numbers]
    for phrase, kind, value in phrases:
        if kind != "opt" or is_dense(phrase) or len(phrase) < 6 or " " in phrase:
            continue
        limit = 1 if len(phrase) < 9 else 2
        for w in words:
            if w != phrase and w[0] == phrase[0] and Levenshtein.distance(w, phrase, score_cutoff=limit) <= limit:
                found.add(value)
    return sorted(found)


def _label_word(rest: str, q: Question, data: LangData) -> list[str]:
    """The one option whose label holds the word typed ("amigos" in "Me quedo con amigos o familia por ahora");
    in scripts without spaces, the one label that holds the text ("医疗" in "医疗保健")."""
    if not rest:
        return []
    skip = set(data.fillers) | set(data.negation) | set(data.separators)
    found: set[str] = set()
    for value, words in q.vocab.items():
        for w in words:
            fw = normalize(str(w))
            if not data.label_words:
                continue
            if is_dense(rest):
                if sum(ch.isalpha() for ch in rest) >= 2 and rest in fw:
                    found.add(value)
            else:
                tokens = [t for t in rest.split() if len(t) >= 5 and t not in skip]  # not "some", "have"
                # Every long word must be the label's: one shared word ("ուզում", want) in a sentence
                # about something else ("I want to talk with staff") does not name "I don't want to say".
                if tokens and all(t in fw.split() for t in tokens):
                    found.add(value)
    return sorted(found) if len(found) == 1 else []


@dataclass(frozen=True)
class _Prepared:
    """What reading any answer to one question in one language starts from: it depends on neither the text nor the turn."""

    data: LangData  # kept alive, so the id in the key is never another's
    phrases: list[tuple[str, str, str]]
    keep: list[str]
    known: list[str]
    folded: dict[str, frozenset[str]]  # value id -> its words, folded


_PREPARED: dict[tuple[Any, ...], _Prepared] = {}


def _prepared(q: Question, data: LangData) -> _Prepared:
    """The question's phrases and the phrases that hold a separator, worked out once per question and language."""
    key = (id(data), q.id, q.kind, tuple((v, tuple(map(str, words))) for v, words in q.vocab.items()))
    found = _PREPARED.get(key)
    if found is not None and found.data is data:
        return found
    phrases = _phrases(q, data)
    keep = [p for p, kind, _ in phrases if kind == "opt" and any(
        (sep in p and len(p) > len(sep)) if is_dense(sep) else f" {sep} " in f" {p} " for sep in data.separators)]
    known = [p for p, kind, _ in phrases if kind == "opt"]
    folded = {v: frozenset(normalize(str(w)) for w in words) for v, words in q.vocab.items()}
    if len(_PREPARED) > 4096:
        _PREPARED.clear()  # a flow edited many times over in one process: start again rather than grow
    _PREPARED[key] = found = _Prepared(data, phrases, keep, known, folded)
    return found


def read_choice(q: Question, text: str, lang: str) -> Reading:
    """Reads an answer to a question with options: one value, a list (multi), or fields (flags)."""
    data = load(lang)
    prep = _prepared(q, data)
    phrases = prep.phrases
    whole = normalize(text)
    if not whole:
        return Reading()
    by_number = dict(q.numbered)
    # The whole message equal to an option's words is that option, whatever words it holds.
    exact = {v for v, words in prep.folded.items() if whole in words}
    exact |= {v for v, words in data.answers.get(q.id, {}).items() if whole in words}
    if q.kind == "yesno":
        exact |= {v for v, words in data.answers.get("yesno", {}).items() if whole in words}
    if len(exact) == 1:
        value = exact.pop()
        how = "exact" if whole in prep.folded.get(value, ()) else "words"
        return _finish(q, [value], [], how)
    if q.kind == "yesno" and whole in data.unsure:
        return Reading(unsure=True)
    if any(mark in text for mark in "?？؟"):
        return Reading()  # "这是什么？" holds 是 (yes) but asks something: a question is not an answer

    clauses = [_read_clause(c, q, data, phrases) for c in _clauses(text, data, prep.keep, prep.known)]
    positives: list[str] = []
    negatives: list[str] = []
    how = "words"
    numbers_only = True
    for c in clauses:
        if c.unsure and not c.options:
            return Reading(unsure=True)
        picked: list[str] = []
        if c.numbers:
            if q.ranges and not c.ordinal and len(c.numbers) == 2:
                # "25-54": the range itself, as its label writes it.
                hit = [v for v, (lo, hi) in q.ranges.items() if (lo, hi) == tuple(c.numbers)]
                if len(hit) != 1:
                    return Reading()
                picked = hit
                numbers_only = False
            elif q.ranges and not c.ordinal and len(c.numbers) == 1 and (c.decade or c.numbers[0] not in by_number):
                if c.numbers[0] < 10 and not c.decade:
                    return Reading()  # "6" or "0" beside options 1 to 5 is a slip, not an age that rules them out
                # "20대" (in my twenties) is 20 to 29: one range only if it holds the whole decade.
                top = c.numbers[0] + (9 if c.decade else 0)
                hit = [v for v, (lo, hi) in q.ranges.items() if lo <= c.numbers[0] and top <= hi]
                if len(hit) != 1:
                    return Reading()
                picked = hit
                numbers_only = False
            else:
                if any(n not in by_number for n in c.numbers):
                    return Reading()
                if len(c.numbers) > 1 and q.kind not in ("multi", "flags") and len(set(c.numbers)) > 1:
                    return Reading()
                picked = [by_number[n] for n in c.numbers]
                if c.ordinal or c.text != " ".join(str(n) for n in c.numbers):
                    numbers_only = False
        opts = list(dict.fromkeys(c.options))
        if c.negated and picked and not opts:
            negatives += picked  # "not the first one", "1번 아니고": an option's number, turned around
            numbers_only = False
            continue
        if c.negated and opts and set(opts) <= {q.none, "no"}:
            c.negated = False  # "nope, none", "no, nothing": the negation agrees with the answer
        if c.negated and opts and not c.numbers:
            negatives += opts
            numbers_only = False
            continue
        if opts and picked and set(opts) != set(picked):
            return Reading()
        if not picked:
            if not opts:
                fuzzy = _label_word(c.leftover, q, data) or _fuzzy(c.text, q, data, phrases)
                if len(fuzzy) == 1 and c.negated and set(fuzzy) - {q.none, "no"}:
                    negatives += fuzzy
                    numbers_only = False
                    continue
                if len(fuzzy) == 1:
                    opts = fuzzy
                elif c.negated:
                    # "no thanks", "dont have one": a bare no.
                    if q.kind == "yesno":
                        opts = ["no"]
                    else:
                        return Reading()
                elif c.leftover and q.kind in ("multi", "flags"):
                    return Reading()  # one part of the answer is unclear: ask, never keep half of it
                elif not c.leftover:
                    continue  # only fillers ("si, de tiempo completo")
                else:
                    return Reading()
            picked = opts
            numbers_only = False
        positives += picked
    positives = list(dict.fromkeys(positives))
    negatives = list(dict.fromkeys(negatives))
    if numbers_only and positives:
        how = "number"
    return _finish(q, positives, negatives, how)


def _finish(q: Question, positives: list[str], negatives: list[str], how: str) -> Reading:
    if set(positives) & set(negatives):
        return Reading()
    if q.kind in ("multi", "flags"):
        if positives:
            exclusive = set(q.exclusive)
            if len(positives) > 1 and exclusive & set(positives):
                return Reading(clash=True)
            return Reading(positives, how)
        if negatives and q.kind == "flags" and q.none and set(negatives) >= {v for _, v in q.numbered} - {q.none, *q.exclusive}:
            return Reading([q.none], "words")
        return Reading(negated=tuple(negatives)) if negatives else Reading()
    values = set(positives)
    if not values and negatives:
        values = {q.negated.get(n, "") for n in negatives}
        if "" in values:
            return Reading(negated=tuple(negatives))
    if len(values) != 1:
        return Reading()
    return Reading(values.pop(), how)


# ---- ZIP codes ----------------------------------------------------------------------------------

_ZIP_WITH_O = re.compile(r"(?<![\w])([\doO]{5})(?![\w])")
_ZIP_SPLIT = re.compile(r"(?<![\d\w])(\d{3} \d{2}|\d{2} \d{3})(?![\d\w])")


def read_zip(text: str) -> str | None:
    """A 5-digit ZIP, also typed with the letter O for zero or a space inside ("90o11", "900 11")."""
    # In "12345 Vanowen St, North Hollywood 91605" the first five digits are the house.
    found = parse_zip(text)
    if found:
        return found
    t = to_ascii_digits(clean(text))
    for m in _ZIP_WITH_O.finditer(t):
        if sum(ch.isdigit() for ch in m.group(1)) >= 3:
            return re.sub(r"[oO]", "0", m.group(1))
    split = _ZIP_SPLIT.search(t)
    return split.group(1).replace(" ", "") if split else None


def says_no_address(text: str, lang: str, words: Sequence[str]) -> bool:
    """True for "homeless", "i live in my car", "no tengo casa": no fixed address."""
    data = load(lang)
    f = normalize(text)
    phrases = set(_folded(words)) | set(data.answers.get("zip", {}).get("none", ()))
    # Fillers carry nothing: "wala po akong tirahan" is "wala akong tirahan".
    bare = " ".join(w for w in f.split() if w not in data.fillers)
    return any(_spans(f, p) or _spans(bare, p) for p in phrases)


# ---- names --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NameReading:
    name: str | None = None
    skip: bool = False
    from_sentence: bool = False


# Around a name, sentence punctuation goes ("¡...Rosa!"); inside it, everything typed stays ("O'Brien", "J.R.").
_NAME_ENDS = ".,!¡?¿;:…。、，！？；：،؛\"'“”«»()[]"


def read_name(text: str, lang: str, skip_words: Sequence[str] = (), no_words: Sequence[str] = (),
              commands: Sequence[str] = ()) -> NameReading:
    """A first name from "Maria", "Hi my name is Maria", "me llamo Juan", "我叫李明"; skip; or nothing."""
    data = load(lang)
    raw = " ".join("".join(" " if unicodedata.category(ch) in ("So", "Sk") or ch in "\ufe0f\u20e3" else ch
                           for ch in clean(text)).split())
    whole = normalize(text)
    if not whole:
        return NameReading()
    skips = set(data.name_skip) | set(_folded(skip_words)) | set(_folded(no_words))
    if whole in skips or any(_spans(whole, s) for s in data.name_skip if len(s) > 3):
        return NameReading(skip=True)
    if "?" in text or "？" in text or "؟" in text:
        return NameReading()
    name, from_sentence = _strip_name(raw, data)
    name = " ".join(w for w in (w.strip(_NAME_ENDS) for w in name.split()) if w)
    if not name:
        return NameReading()
    words = name.split()
    folded_words = [fold(w) for w in words]
    blocked = data.not_names | set(_folded(commands))
    if len(words) > 3 or any(w in blocked for w in folded_words) or fold(name) in blocked:
        return NameReading()
    if any(ch.isdigit() for ch in name) or not any(ch.isalpha() for ch in name):
        return NameReading()
    return NameReading(name=name, from_sentence=from_sentence or name != " ".join(clean(text).split()))


def _strip_name(raw: str, data: LangData) -> tuple[str, bool]:
    """The name part of a sentence: what follows an introduction, without polite endings."""
    text = raw.strip()
    stripped = False
    f = fold(text)
    # The introduction may come after other words ("¡Buenas noticias, me llamo Rosa!"): the last one counts.
    best: tuple[int, int] | None = None
    for intro in data.name_intro:
        for start, end in _spans(f, intro):
            if best is None or end > best[1]:
                best = (start, end)
    if best is not None:
        text = _slice_like(text, f, best[1])
        stripped = True
    changed = True
    while changed and text:
        changed = False
        f = fold(text)
        for after in data.name_after:
            ending, attached = after.lstrip("-"), after.startswith("-")
            if attached and not stripped:
                continue  # "مریمه" is "Maryam is" only after "my name": a name may end in those letters
            if f.endswith(ending) and len(f) > len(ending) + (2 if attached else 0) and (
                    is_dense(ending) or attached or f[-len(ending) - 1] == " "):
                text = _cut_end_like(text, len(ending))
                stripped = changed = True
                break
    return " ".join(text.split()), stripped


def _slice_like(text: str, folded: str, folded_end: int) -> str:
    """The original text after the point that is `folded_end` into its folded form."""
    for i in range(len(text) + 1):
        if len(fold(text[:i])) >= folded_end and fold(text[:i]) == folded[:len(fold(text[:i]))]:
            return text[i:].strip()
    return ""


def _cut_end_like(text: str, folded_len: int) -> str:
    for i in range(len(text), -1, -1):
        if len(fold(text[i:])) >= folded_len:
            return text[:i].strip()
    return ""
