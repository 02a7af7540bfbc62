"""Guesses a person's language from a first message or a locale tag, and reads referral codes out of it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from intake_flows.answers import fold

# Script -> language, for scripts that only one supported language uses.
_SCRIPTS = {"HANGUL": "ko", "HIRAGANA": "ja", "KATAKANA": "ja", "ARMENIAN": "hy", "KHMER": "km",
            "THAI": "th", "DEVANAGARI": "hi", "CYRILLIC": "ru"}

# Letters only Persian uses among Arabic-script languages (pe, che, zhe, gaf, Farsi yeh, keheh),
# and letters a Persian keyboard never types (teh marbuta, Arabic yeh, Arabic kaf, alef maksura).
_PERSIAN = set("پچژگیک")
_ARABIC_ONLY = set("ةيكى")
_ARABIC_WORDS = ("مرحبا", "اهلا", "أهلا", "شكرا", "السلام", "أريد", "اريد", "عمل", "وظيفة", "نعم", "كيف")

# Common characters whose Simplified and Traditional forms differ (pairs in the same order);
# characters both scripts share (你好, 工作) say nothing.
_SIMPLIFIED = set("们这个说话请问语学习时间还没会对发为员业证医训开书东车长门见贝龙谢欢号码电脑网钱给让认识吗联络华国过进边写实现"
                  "经济简体页帮职练报岁儿亲爱办务区县难题应该关从众两点钟头买卖读听样种乐气场师术设计历资产处动劳选择负责专转换级"
                  "问厅馆图觉饭馈顾顺须领养师护药础条约纪线组织终结给绍续继赛货费资质购赞输辆达适选递释链销锁阅队际陆难验骑鱼")
_TRADITIONAL = set("們這個說話請問語學習時間還沒會對發為員業證醫訓開書東車長門見貝龍謝歡號碼電腦網錢給讓認識嗎聯絡華國過進邊寫實現"  # noqa: E501  lined up with _SIMPLIFIED
                   "經濟簡體頁幫職練報歲兒親愛辦務區縣難題應該關從眾兩點鐘頭買賣讀聽樣種樂氣場師術設計歷資產處動勞選擇負責專轉換級"
                   "問廳館圖覺飯饋顧順須領養師護藥礎條約紀線組織終結給紹續繼賽貨費資質購贊輸輛達適選遞釋鏈銷鎖閱隊際陸難驗騎魚")
# Han-only names a person may send to pick a language outright.
_HAN_NAMES = {"日本語": "ja", "日本": "ja", "にほんご": "ja", "繁體": "zh-Hant", "繁体": "zh-Hant", "繁體中文": "zh-Hant",
              "繁体中文": "zh-Hant", "廣東話": "zh-Hant", "广东话": "zh-Hant", "粵語": "zh-Hant", "粤语": "zh-Hant",
              "國語": "zh-Hant", "简体": "zh-Hans", "簡體": "zh-Hans", "简体中文": "zh-Hans", "普通话": "zh-Hans",
              "普通話": "zh-Hans"}
# Japanese-only kanji forms (shinjitai), for messages written without kana.
_JAPANESE_KANJI = set("気駅円様込売読働労覧圧縦払戻")

# Latin-script first messages: greetings and phrases that settle the language on their own...
_GREETINGS = {
    "es": ["hola", "buenos dias", "buenas tardes", "buenas noches", "buenas", "buen dia", "quiero informacion",
           "necesito trabajo", "espanol", "en espanol", "informacion", "ayudame", "gracias", "saludos", "que tal",
           "busco trabajo", "me interesa"],
    "vi": ["xin chao", "chao", "chao ban", "toi can viec lam", "tieng viet", "cam on", "alo", "toi muon tim viec"],
    "tl": ["kumusta", "kamusta", "magandang araw", "magandang umaga", "magandang hapon", "magandang gabi", "salamat",
           "tagalog", "filipino", "mabuhay", "hello po", "hi po", "good morning po"],
}
# ...and words that lean one way, counted against English ones (all folded: no accents).
_WORDS = {
    "es": {"quiero", "necesito", "trabajo", "busco", "buscando", "empleo", "estoy", "tengo", "hola", "gracias",
           "informacion", "ayuda", "capacitacion", "entrenamiento", "favor", "como", "que", "los", "las", "del",
           "soy", "puedo", "quisiera", "buenas", "buenos", "dias", "tardes", "noches", "usted", "interesa", "espanol",
           "senor", "senora", "donde", "cuando", "gusto", "necesitamos", "queremos", "hijo", "hija", "mucho",
           "llamo", "nombre", "hay", "esta"},
    "tl": {"tulong", "po", "opo", "ako", "ang", "ng", "mga", "kayo", "naman", "trabaho", "gusto", "kailangan", "salamat",
           "kumusta", "kamusta", "magandang", "paano", "ikaw", "akin", "nais", "naghahanap", "hanap", "pwede",
           "puwede", "umaga", "hapon", "gabi", "ninyo", "natin", "lang", "kasi", "ito", "yung"},
    "vi": {"xin", "chao", "toi", "khong", "duoc", "muon", "giup", "viec", "tieng", "viet", "ban", "cam",
           "lam", "nguoi", "nhe", "vay", "roi"},
    "en": {"hi", "hello", "hey", "i", "need", "job", "jobs", "want", "work", "the", "my", "is", "am", "looking",
           "for", "training", "please", "info", "yes", "thanks", "thank", "you", "good", "morning", "apply", "join",
           "interested", "in", "about", "how", "what", "can", "an", "on", "to", "help", "start"},
}
# Vietnamese marks that no other supported Latin-script language uses: breve, circumflex on
# a/e/o, horn, stroke d, hook above, dot below, and grave or tilde on a vowel.
_VI_LETTERS = set("ăâđêôơưĂÂĐÊÔƠƯ")
_VI_MARKS = {"\u0309", "\u0323", "\u031b", "\u0306", "\u0302"}

JOIN_WORDS = ("join", "code", "ref", "unirse", "unir", "codigo", "inscribir")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")


def _script_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ch in text:
        if not unicodedata.category(ch).startswith("L"):
            continue
        name = unicodedata.name(ch, "")
        if name.startswith("CJK") or name.startswith("IDEOGRAPHIC"):
            key = "HAN"
        elif name.startswith("ARABIC"):
            key = "ARABIC"
        elif name.startswith("HALFWIDTH KATAKANA"):
            key = "KATAKANA"
        else:
            key = name.split(" ")[0]
        counts[key] = counts.get(key, 0) + 1
    return counts


def _is_vietnamese(text: str) -> bool:
    if any(ch in _VI_LETTERS for ch in text):
        return True
    for ch in unicodedata.normalize("NFD", text):
        if ch in _VI_MARKS:
            return True
    # Grave or tilde on a vowel: Spanish writes neither (its only tilde is on ñ).
    return bool(re.search(r"[aeiouy][\u0300\u0303]", unicodedata.normalize("NFD", text.casefold())))


def _latin(text: str) -> str | None:
    if _is_vietnamese(text):
        return "vi"
    if any(ch in text for ch in "¿¡ñÑ"):
        return "es"
    f = fold(text)
    for lang, phrases in _GREETINGS.items():
        if any(f == p or f.startswith(p + " ") for p in phrases):
            return lang
    words = f.split()
    if any(ch in text for ch in "áéíóúÁÉÍÓÚ"):  # acute accents: Spanish, among our Latin-script languages
        return "es"
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _WORDS.items()}
    english = scores.pop("en")
    best = max(scores, key=lambda k: scores[k])
    if scores[best] >= 1 and scores[best] > english and list(scores.values()).count(scores[best]) == 1:
        return best
    return None


def _han(text: str, counts: dict[str, int]) -> str | None:
    stripped = re.sub(r"\s+", "", text)
    if stripped in _HAN_NAMES:
        return _HAN_NAMES[stripped]
    if counts.get("HIRAGANA") or counts.get("KATAKANA") or any(ch in _JAPANESE_KANJI for ch in text):
        return "ja"
    simp = sum(ch in _SIMPLIFIED for ch in text)
    trad = sum(ch in _TRADITIONAL for ch in text)
    if trad == simp:
        return None  # Nothing tells them apart ("你好"): the person is asked between the two.
    return "zh-Hant" if trad > simp else "zh-Hans"


def _arabic(text: str) -> str | None:
    if any(ch in _PERSIAN for ch in text):
        return "fa"
    if any(ch in _ARABIC_ONLY for ch in text) or re.search(r"(?:^|\s)ال", text):
        return "ar"
    words = set(re.findall(r"\w+", text))
    if words & set(_ARABIC_WORDS):
        return "ar"
    return None  # "سلام" is both Farsi and Arabic: the person is asked between the two.


# Scripts two of our languages write: when nothing else tells them apart, ask between just these.
SHARED_SCRIPTS = {"HAN": ("zh-Hant", "zh-Hans"), "ARABIC": ("fa", "ar")}
# Where nothing can be asked (a one-message opt-out confirmation): Simplified, which most
# Chinese-speaking newcomers in LA County write and Traditional readers read; Farsi, the larger
# community in LA County.
PAIR_DEFAULT: dict[tuple[str, ...], str] = {("zh-Hant", "zh-Hans"): "zh-Hans", ("fa", "ar"): "fa"}


def language_candidates(text: str) -> tuple[str, ...]:
    """One language when the message shows it, the two sharing its script when only that shows, else ()."""
    found = detect_language(text)
    if found:
        return (found,)
    counts = _script_counts(text)
    if counts and not counts.get("HIRAGANA") and not counts.get("KATAKANA"):
        script = max(counts, key=lambda k: counts[k])
        return SHARED_SCRIPTS.get(script, ())
    return ()


def main_script(text: str) -> str | None:
    """The script most of the text's letters are in ("LATIN", "ARABIC", "HAN", ...), or None."""
    counts = _script_counts(text)
    if not counts:
        return None
    script = max(counts, key=lambda k: counts[k])
    return "HAN" if script in ("HIRAGANA", "KATAKANA") else script


def best_guess(text: str) -> str | None:
    """The language shown, or the usual one of the two sharing its script; None when nothing shows."""
    found = language_candidates(text)
    return found[0] if len(found) == 1 else PAIR_DEFAULT.get(found) if found else None


def looks_english(text: str) -> bool:
    """True for a Latin-script message mostly of common English words ("I need a job", "hello there")."""
    counts = _script_counts(text)
    if not counts or max(counts, key=lambda k: counts[k]) != "LATIN" or _latin(text):
        return False
    words = fold(text).split()
    english = sum(w in _WORDS["en"] for w in words)
    return english >= 2 and english * 2 >= len(words)


def detect_language(text: str) -> str | None:
    """A supported language id when the message plainly shows one, else None (then we ask)."""
    counts = _script_counts(text)
    if not counts:
        return None
    script = max(counts, key=lambda k: counts[k])
    if script in ("HIRAGANA", "KATAKANA"):
        return "ja"
    if script == "HAN":
        return _han(text, counts)
    if script in _SCRIPTS:
        return _SCRIPTS[script]
    if script == "ARABIC":
        return _arabic(text)
    if script == "LATIN":
        return _latin(text)
    return None


def from_locale_tag(tag: str | None, supported: Iterable[str]) -> str | None:
    """Our language id for a BCP-47 tag such as Telegram's language_code ("es-MX", "zh-hant", "fil")."""
    if not tag:
        return None
    known = {s.casefold(): s for s in supported}
    parts = [p.casefold() for p in re.split(r"[-_]", tag.strip()) if p]
    if not parts:
        return None
    base = {"fil": "tl", "pes": "fa", "prs": "fa", "cmn": "zh", "yue": "zh", "arb": "ar"}.get(parts[0], parts[0])
    if base == "zh":
        rest = set(parts[1:])
        traditional = "hant" in rest or bool(rest & {"tw", "hk", "mo"}) or parts[0] == "yue"
        base = "zh-hant" if traditional and "hans" not in rest else "zh-hans"
    return known.get(base)


def is_referral_code(code: str) -> bool:
    """The documented form: 2 to 32 of A-Z, 0-9, _ and -, starting with a letter or digit (any case)."""
    return _CODE.fullmatch(code) is not None


def link_referral_code(payload: str | None) -> str | None:
    """The code a link carried (web ?ref=, Telegram /start), upper-cased; anything else is no code at all."""
    code = (payload or "").strip()
    return code.upper() if is_referral_code(code) else None


def _code_at(words: list[str], known: frozenset[str] | set[str]) -> int | None:
    """Where the referral code stands among the words: after a join word, or a known code anywhere."""
    for i, w in enumerate(words[:-1]):
        code = words[i + 1]
        # Inside a sentence only a code-like word counts ("join EASTLA1", not "join the program").
        plain = len(words) == 2 or code.isupper() or any(ch.isdigit() for ch in code)
        if fold(w) in JOIN_WORDS and is_referral_code(code.strip(".,!?")) and plain:
            return i + 1
    for i, w in enumerate(words):
        if w.strip(".,!?").upper() in known:
            return i
    return None


def referral_code(text: str, known: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The code in "JOIN CODE" anywhere in the message ("hola JOIN EASTLA1"), or a known code; upper-cased."""
    words = text.strip().split()
    at = _code_at(words, known)
    return words[at].strip(".,!?").upper() if at is not None else None


def without_referral(text: str, known: frozenset[str] | set[str] = frozenset()) -> str:
    """The message without its "JOIN CODE" part, so the code says nothing about the language."""
    words = text.strip().split()
    at = _code_at(words, known)
    if at is None:
        return text.strip()
    start = at - 1 if at > 0 and fold(words[at - 1]) in JOIN_WORDS else at
    return " ".join(words[:start] + words[at + 1:])
