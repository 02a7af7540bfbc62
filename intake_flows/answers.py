"""What typed answers mean: folding text, reading numbers in any script, matching option words."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

_CONTROL = {"Cc", "Cf", "Cs", "Co", "Cn"}
_PUNCT = re.compile(r"[\s\.,;:!¡\?¿\"'`´’‘“”«»()\[\]{}<>*_~〜～#|\\/。、，！？；：「」『』（）【】…\-–—·]+")
_LIST_SPLIT = re.compile(r"\s*(?:[,;/&+\n、，،؛]|\band\b|\by\b|\bat\b|\bva\b|\bet\b|\bи\b|\bو\b)\s*")


def clean(text: str | None, limit: int = 1600) -> str:
    """Drops control and format characters, trims, and caps the length of one message."""
    if not text:
        return ""
    kept = []
    for ch in text[: limit * 2]:
        cat = unicodedata.category(ch)
        if ch in "\n\t":
            kept.append(" " if ch == "\t" else ch)
        elif cat not in _CONTROL or ch in "\u200c\u200d":
            # ZWNJ/ZWJ stay: Persian and several Indic scripts spell words with them.
            kept.append(ch)
    return "".join(kept).strip()[:limit]


# Every option word is folded on every answer read: the few thousand distinct words of the flow
# (and recent answers) stay folded instead, a pure function of the text.
@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form used for every comparison."""
    text = unicodedata.normalize("NFKD", text.casefold())
    out: list[str] = []
    for ch in text:
        if unicodedata.combining(ch):
            # Removing a combining mark is harmless in Latin, Cyrillic and Greek, but in
            # abugidas (Devanagari, Thai, Khmer) the marks are the vowels themselves.
            base = out[-1] if out else ""
            if base and unicodedata.name(base, "").startswith(("LATIN", "CYRILLIC", "GREEK")):
                continue
        out.append(ch)
    folded = unicodedata.normalize("NFC", "".join(out)).translate(_SAME_LETTER)
    for typed, kept in _SAME_SPELLING:
        folded = folded.replace(typed, kept)
    folded = to_ascii_digits(_PUNCT.sub(" ", folded).strip())
    if "\u0627\u0644" in folded:
        # The Arabic article is part of the word as typed ("المواصلات") but not always of the label.
        folded = " ".join(w[2:] if len(w) > 3 and w.startswith("\u0627\u0644") else w for w in folded.split())
    return folded


# Spellings people type interchangeably: Arabic hamza seats, taa marbuta and alef maqsura, the
# Arabic and Persian forms of kaf and yeh, Devanagari nukta and candrabindu, zero-width joiners
# (Persian "نمی‌کنم" is typed with or without one), Arabic vowel marks and tatweel.
_SAME_LETTER = str.maketrans({
    "đ": "d", "ı": "i", "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ی": "ي", "ک": "ك",
    "\u093c": None, "\u0901": "\u0902", "\u200c": None, "\u200d": None, "\u0640": None,
    **{chr(c): None for c in range(0x064B, 0x0660)}, "\u0670": None,
})
# Letter pairs that look the same and are typed either way: Khmer subscript DA and subscript TA
# are drawn alike, so "ចាប់ផ្ដើម" and "ចាប់ផ្តើម" are one word to the reader.
_SAME_SPELLING = (("\u17d2\u178a", "\u17d2\u178f"),)


def has_letters(text: str) -> bool:
    """True when the text holds at least one letter or digit in any script."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def to_ascii_digits(text: str) -> str:
    """Maps digits of any script (Arabic-Indic, Devanagari, Thai, Khmer, full-width) to 0-9."""
    out = []
    for ch in text:
        d = unicodedata.digit(ch, None) if not ch.isascii() else None
        out.append(str(d) if d is not None else ch)
    return "".join(out)


def parse_int(text: str) -> int | None:
    """The whole message as a whole number, if it is one."""
    t = to_ascii_digits(fold(text))
    return int(t) if re.fullmatch(r"\d{1,9}", t) else None


def parse_number(text: str) -> float | None:
    """A decimal number anywhere in a short answer ("about 25", "25.5")."""
    t = to_ascii_digits(clean(text)).replace(",", "")
    m = re.search(r"-?\d+(?:\.\d+)?", t)
    return float(m.group()) if m else None


def match_word(text: str, vocab: Mapping[str, Iterable[str]]) -> str | None:
    """The key whose folded words equal the folded text, if exactly one does."""
    f = fold(text)
    if not f:
        return None
    hits = {key for key, words in vocab.items() if any(fold(w) == f for w in words)}
    return hits.pop() if len(hits) == 1 else None


def _match_piece(piece: str, numbered: Sequence[tuple[int, str]], vocab: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Option ids for one piece of an answer: a number, several numbers, or an option's words."""
    digits = to_ascii_digits(fold(piece))
    if re.fullmatch(r"\d+(?:\s+\d+)*", digits):
        by_number = dict(numbered)
        ids = [by_number.get(int(n)) for n in digits.split()]
        return None if None in ids else [i for i in ids if i]
    exact = match_word(piece, vocab)
    if exact:
        return [exact]
    f = fold(piece)
    if _NUMBER.search(f):
        # A number among words is most often the person's own age or count ("16 лет", "16세"),
        # and "Under 16" holds those words too: only the option's number or its exact words pick it.
        return None
    dense = is_dense(f)
    shortest = 2 if dense else 3
    if len(f) < shortest:
        return None
    # Loose match: the piece is a whole word of exactly one option's words ("nursing" in
    # "Healthcare, nursing"), or one option's word is contained in the piece. Scripts written
    # without spaces (Chinese, Japanese, Thai, Khmer) match inside a label instead ("医疗"
    # in "医疗保健"); there two characters are already a word ("건설", "쉼터").
    contained = set()
    for k, words in vocab.items():
        for w in words:
            fw = fold(w)
            if len(fw) >= shortest and (f" {f} " in f" {fw} " or fw in f or (dense and f in fw)):
                contained.add(k)
    return [contained.pop()] if len(contained) == 1 else None


_DENSE_SCRIPTS = ("CJK", "HANGUL", "HIRAGANA", "KATAKANA", "THAI", "KHMER")
# A number of its own; "mc3" and "a+" name things instead.
_NUMBER = re.compile(r"(?<![a-z])\d+(?![a-z])")


@lru_cache(maxsize=1 << 16)
def is_dense(text: str) -> bool:
    """True when the text is mostly in a script where one or two characters make a word."""
    letters = [ch for ch in text if ch.isalpha()]
    dense = sum(1 for ch in letters if unicodedata.name(ch, "").startswith(_DENSE_SCRIPTS))
    return bool(letters) and dense * 2 >= len(letters)


def parse_choice(text: str, numbered: Sequence[tuple[int, str]], vocab: Mapping[str, Sequence[str]]) -> str | None:
    """One option id from a number or option words, or None when the answer is unclear."""
    ids = _match_piece(text, numbered, vocab)
    return ids[0] if ids and len(set(ids)) == 1 else None


def parse_multi(text: str, numbered: Sequence[tuple[int, str]], vocab: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Option ids from "1,3", "1 3", "1 and 3" or option words; None when any part is unclear."""
    exact = match_word(text, vocab)
    if exact:
        return [exact]
    pieces = [p for p in _LIST_SPLIT.split(clean(text)) if p and p.strip()]
    if len(pieces) < 2:
        whole = _match_piece(text, numbered, vocab)
        if whole:
            return list(dict.fromkeys(whole))
        # Thai and others often separate choices with a space alone ("สุขภาพ เทคโนโลยี").
        pieces = fold(text).split()
        if len(pieces) < 2:
            return None
    chosen: list[str] = []
    for piece in pieces:
        ids = _match_piece(piece, numbered, vocab)
        if not ids:
            return None
        chosen.extend(ids)
    return list(dict.fromkeys(chosen))


_ZIP = re.compile(r"(?<!\d)(\d{5})(?:[-\s]?\d{4})?(?!\d)")


def parse_zip(text: str) -> str | None:
    """A 5-digit ZIP from the answer ("90011", "90011-1234", "my zip is 90011"); the last, as an address ends with it."""
    found = _ZIP.findall(to_ascii_digits(clean(text)))
    return str(found[-1]) if found else None
