"""SMS segment arithmetic: GSM-7 or UCS-2, segments per message, and splitting on word boundaries."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from intake_flows.schema import Language

# GSM 03.38 default alphabet and its extension table (extension characters cost two septets).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

# Single-message and per-segment capacities (a concatenated segment loses room to its UDH).
GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_SEGMENTS = 3  # our own ceiling per message: longer replies are split into separate messages


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def encoding_of(text: str) -> str:
    """GSM-7 when every character is in the GSM alphabet; one other character makes it UCS-2."""
    return "GSM-7" if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text) else "UCS-2"


def _unit_sizes(text: str, encoding: str) -> list[int]:
    if encoding == "GSM-7":
        return [2 if ch in GSM_EXTENDED else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


@functools.lru_cache(maxsize=4096)  # the bot sends the same few hundred texts all day
def segment_info(text: str) -> SegmentInfo:
    """How many segments the text costs, packing characters so none is split across segments."""
    encoding = encoding_of(text)
    sizes = _unit_sizes(text, encoding)
    units = sum(sizes)
    single, part = (GSM_SINGLE, GSM_PART) if encoding == "GSM-7" else (UCS2_SINGLE, UCS2_PART)
    if units == 0:
        return SegmentInfo(encoding, 0, 1)
    if units <= single:
        return SegmentInfo(encoding, units, 1)
    segments, used = 1, 0
    for size in sizes:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return SegmentInfo(encoding, units, segments)


def split_message(text: str, max_segments: int = MAX_SEGMENTS) -> list[str]:
    """Splits text into messages of at most `max_segments` each, at line breaks, then words."""
    text = text.strip()
    if segment_info(text).segments <= max_segments:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if segment_info(candidate).segments <= max_segments:
            current = candidate
            continue
        if current:
            parts.append(current)
        if segment_info(line).segments <= max_segments:
            current = line
            continue
        current = ""
        for word in line.split(" "):
            candidate = f"{current} {word}" if current else word
            if segment_info(candidate).segments <= max_segments:
                current = candidate
                continue
            if current:
                parts.append(current)
            current = word
            while segment_info(current).segments > max_segments:  # one "word" longer than a message
                cut = _longest_prefix(current, max_segments)
                parts.append(current[:cut])
                current = current[cut:]
    if current:
        parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _longest_prefix(text: str, max_segments: int) -> int:
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if segment_info(text[:mid]).segments <= max_segments:
            lo = mid
        else:
            hi = mid - 1
    if lo < len(text) and 0xDC00 <= ord(text[lo]) <= 0xDFFF:  # never split a surrogate pair
        lo -= 1
    return max(lo, 1)


PlainTable = dict[int, str]


def plain_tables(languages: Iterable[Language], enabled: Iterable[str]) -> dict[str, PlainTable]:
    """Each enabled language's plain-letter table for str.translate; ValueError names a language that has none."""
    by_id = {lang.id: lang for lang in languages}
    out: dict[str, PlainTable] = {}
    for lang_id in enabled:
        lang = by_id.get(lang_id)
        if lang is None:
            raise ValueError(f"SMS_PLAIN_LANGUAGES: unknown language {lang_id!r}; known: {', '.join(by_id)}")
        if not lang.sms_plain:
            with_map = [lang.id for lang in by_id.values() if lang.sms_plain]
            raise ValueError(f"SMS_PLAIN_LANGUAGES: {lang_id!r} has no sms_plain letters in languages.yaml "
                             f"(languages that have: {', '.join(with_map) or 'none'})")
        out[lang_id] = plain_table(lang)
    return out


def plain_table(lang: Language) -> PlainTable:
    """The language's sms_plain letters as a str.translate table; ValueError if one would not save anything."""
    table: PlainTable = {}
    for letter, plain in lang.sms_plain.items():
        if len(letter) != 1 or encoding_of(letter) == "GSM-7" or encoding_of(plain) != "GSM-7":
            raise ValueError(f"languages.yaml: {lang.id} sms_plain {letter!r}: {plain!r} must map one letter outside "
                             "GSM-7 to GSM-7 text")
        table[ord(letter)] = plain
    return table
