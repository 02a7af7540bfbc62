"""Guesses a person's language from a first message, and reads referral codes out of it."""

from __future__ import annotations

import re
import unicodedata

from intake_flows.answers import fold

# Script -> language, for scripts that only one supported language uses.
_SCRIPTS = {"HANGUL": "ko", "HIRAGANA": "ja", "KATAKANA": "ja", "ARMENIAN": "hy", "KHMER": "km",
            "THAI": "th", "DEVANAGARI": "hi", "CYRILLIC": "ru"}
# Letters only Persian uses among Arabic-script languages (pe, che, zhe, gaf, Farsi yeh, keheh).
_PERSIAN = set("پچژگیک")
# Common characters that differ between Simplified and Traditional Chinese.
_SIMPLIFIED = set("们这个说话请问语学习时间还没会对发么为员业证医训开书东车长门见贝龙")
_TRADITIONAL = set("們這個說話請問語學習時間還沒會對發麼為員業證醫訓開書東車長門見貝龍")

_GREETINGS = {
    "es": ["hola", "buenos dias", "buenas tardes", "buenas noches", "buenas", "quiero informacion", "necesito trabajo",
           "espanol", "informacion", "ayudame", "gracias"],
    "vi": ["xin chao", "chao", "toi can viec lam", "tieng viet"],
    "tl": ["kumusta", "magandang araw", "magandang umaga", "magandang hapon", "salamat", "tagalog"],
}

JOIN_WORDS = ("join", "code", "ref", "unirse", "unir", "codigo", "inscribir")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")


def detect_language(text: str) -> str | None:
    """A supported language id when the message plainly shows one, else None (then we ask)."""
    letters = [ch for ch in text if unicodedata.category(ch).startswith("L")]
    if not letters:
        return None
    counts: dict[str, int] = {}
    for ch in letters:
        name = unicodedata.name(ch, "")
        if name.startswith("CJK"):
            key = "HAN"
        elif name.startswith("ARABIC"):
            key = "ARABIC"
        else:
            key = name.split(" ")[0]
        counts[key] = counts.get(key, 0) + 1
    script = max(counts, key=lambda k: counts[k])
    if script in ("HIRAGANA", "KATAKANA") or (script == "HAN" and (counts.get("HIRAGANA") or counts.get("KATAKANA"))):
        return "ja"
    if script in _SCRIPTS:
        return _SCRIPTS[script]
    if script == "HAN":
        simp = sum(ch in _SIMPLIFIED for ch in text)
        trad = sum(ch in _TRADITIONAL for ch in text)
        return "zh-Hans" if simp > trad else "zh-Hant"
    if script == "ARABIC":
        return "fa" if any(ch in _PERSIAN for ch in text) else "ar"
    if script == "LATIN":
        f = fold(text)
        for lang, phrases in _GREETINGS.items():
            if any(f == p or f.startswith(p + " ") for p in phrases):
                return lang
        if any(ch in text for ch in "¿¡ñÑ"):
            return "es"
        # Vietnamese letters and tone marks (dot below, hook above, horn) that Spanish never uses.
        if any(ch in text for ch in "ăâđêôơưĂÂĐÊÔƠƯ") or any(c in "\u0323\u0309\u031b" for c in unicodedata.normalize("NFD", text)):
            return "vi"
    return None


def referral_code(text: str, known: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The code in "JOIN CODE" (or a known code sent alone), upper-cased; None otherwise."""
    words = text.strip().split()
    if len(words) == 2 and fold(words[0]) in JOIN_WORDS and _CODE.match(words[1]):
        return words[1].upper()
    if len(words) == 1 and words[0].upper() in known:
        return words[0].upper()
    return None
