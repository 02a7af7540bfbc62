"""A first message in another language or script picks it; the language can change at any point."""

from __future__ import annotations

import pytest

from intake_flows.detect import (
    detect_language,
    from_locale_tag,
    language_candidates,
    looks_english,
    referral_code,
    without_referral,
)
from intake_flows.schema import load_languages

SUPPORTED = [lang.id for lang in load_languages()]


@pytest.mark.parametrize("text, lang", [
    # Latin-script Spanish, with or without accents
    ("Hola", "es"), ("hola, quiero información", "es"), ("Buenos días", "es"), ("buenas tardes", "es"),
    ("¿Hay trabajo?", "es"), ("Necesito trabajo por favor", "es"), ("Me llamo Juan", "es"), ("Información", "es"),
    # Vietnamese: tone marks settle it; without them, greetings and common words do
    ("Xin chào", "vi"), ("xin chao", "vi"), ("Tôi cần việc làm", "vi"), ("cảm ơn", "vi"), ("Chào bạn", "vi"),
    ("toi muon tim viec", "vi"),
    # Tagalog
    ("Kumusta po", "tl"), ("Magandang umaga po", "tl"), ("Gusto ko po ng trabaho", "tl"), ("Salamat", "tl"),
    ("kailangan ko ng trabaho", "tl"),
    # scripts only one supported language uses
    ("안녕하세요", "ko"), ("일자리 찾고 있어요", "ko"), ("Բարեւ Ձեզ", "hy"), ("Здравствуйте", "ru"), ("привет", "ru"),
    ("សួស្តី", "km"), ("नमस्ते", "hi"), ("मुझे नौकरी चाहिए", "hi"), ("สวัสดีครับ", "th"),
    # Japanese: kana, or kanji forms Chinese does not use
    ("こんにちは", "ja"), ("仕事を探しています", "ja"), ("日本語", "ja"), ("駅の近く", "ja"),
    # Chinese: forms that differ settle Simplified or Traditional (shared ones settle nothing, below)
    ("你们好，请问", "zh-Hans"), ("我想找工作，請問", "zh-Hant"), ("謝謝你們", "zh-Hant"),
    ("繁體中文", "zh-Hant"), ("廣東話", "zh-Hant"),
    # Arabic script: Persian letters, Arabic letters, then common words
    ("سلام، من کار می‌خواهم", "fa"), ("چطوری", "fa"), ("مرحبا", "ar"), ("السلام عليكم", "ar"),
    ("أريد عمل", "ar"), ("شكرا", "ar"),
    # mixed: the script with most letters wins
    ("Hi 안녕하세요", "ko"),
])
def test_first_messages_pick_a_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


@pytest.mark.parametrize("text, pair", [
    ("你好", ("zh-Hant", "zh-Hans")), ("您好，我想找工作", ("zh-Hant", "zh-Hans")), ("سلام", ("fa", "ar")),
])
def test_a_script_two_of_our_languages_share_offers_just_those_two(text: str, pair: tuple[str, str]) -> None:
    assert detect_language(text) is None
    assert language_candidates(text) == pair


@pytest.mark.parametrize("text, english", [
    ("Hello, I need a job", True), ("I want training in construction", True), ("looking for work", True),
    ("Maria", False), ("ok", False), ("JOIN EASTLA1", False), ("Hola necesito trabajo", False),
])
def test_an_english_sentence_reads_as_english(text: str, english: bool) -> None:
    assert looks_english(text) is english


@pytest.mark.parametrize("text, code, rest", [
    ("hola JOIN EASTLA1", "EASTLA1", "hola"), ("JOIN eastla1", "EASTLA1", ""), ("hi join EASTLA1 thanks", "EASTLA1", "hi thanks"),
    ("I want to join the program", None, "I want to join the program"),
])
def test_a_referral_code_anywhere_in_the_first_message_is_kept(text: str, code: str | None, rest: str) -> None:
    assert referral_code(text) == code
    assert without_referral(text) == rest


@pytest.mark.parametrize("text", ["Hi", "Hello, I need a job", "hello", "JOIN EASTLA1", "90011", "12345", "😀", "?", "",
                                  "ok", "Maria", "I want training in construction"])
def test_english_or_unclear_messages_ask_instead(text: str) -> None:
    assert detect_language(text) is None


@pytest.mark.parametrize("tag, lang", [
    ("es", "es"), ("es-MX", "es"), ("es_419", "es"), ("zh-hans", "zh-Hans"), ("zh-CN", "zh-Hans"), ("zh", "zh-Hans"),
    ("zh-hant", "zh-Hant"), ("zh-TW", "zh-Hant"), ("zh-HK", "zh-Hant"), ("yue", "zh-Hant"), ("fil", "tl"), ("tl", "tl"),
    ("fa-IR", "fa"), ("pes", "fa"), ("ko", "ko"), ("hy-AM", "hy"), ("ru", "ru"), ("ar-EG", "ar"), ("km", "km"),
    ("en-US", "en"), ("pt-BR", None), ("uk", None), ("", None), (None, None),
])
def test_locale_tags_such_as_telegrams_language_code_map_to_our_ids(tag: str | None, lang: str | None) -> None:
    assert from_locale_tag(tag, SUPPORTED) == lang


# ---- in the conversation --------------------------------------------------------------------

def test_the_first_message_offers_every_language_in_its_own_script(person) -> None:
    said = person.says("Bonjour")
    for name in ("English", "Español", "中文 (繁體)", "中文 (简体)", "한국어", "Tiếng Việt", "Tagalog", "Հայերեն",
                 "Русский", "فارسی", "ខ្មែរ", "العربية", "日本語", "हिन्दी", "ไทย"):
        assert name in said
    assert "1) English" in said and "15) ไทย" in said


def test_hola_starts_in_spanish(person) -> None:
    said = person.says("Hola")
    assert "IDIOMA" in said and "¿Aceptas responder" in said
    assert "Sí" in said
    said = person.says("sí")
    assert "nombre" in said


def test_hangul_starts_in_korean(person) -> None:
    said = person.says("안녕하세요")
    assert "언어" in said and "네" in said
    assert "이름" in person.says("네")


def test_telegram_language_code_is_a_default_when_the_text_says_nothing(person) -> None:
    said = person.says("/start", language_hint="vi")
    assert "NGÔN NGỮ" in said


def test_language_keyword_switches_at_any_point(person) -> None:
    person.says("Hola")
    person.says("sí")
    said = person.says("LANGUAGE")
    assert "1) English" in said and "7) Tagalog" in said
    said = person.says("tiếng việt")
    assert "tên" in said.lower()  # back to the first-name question, now in Vietnamese
    said = person.says("IDIOMA")
    assert "2) Español" in said
    assert "nombre" in person.says("2")


def test_option_words_typed_in_ones_language_are_understood(person) -> None:
    person.says("Hola")
    person.answer_until("age_range", {"consent": "sí", "first_name": "Ana", "zip": "90011"})
    person.says("25 a 54")
    assert person.asked == "employment"
    person.says("no trabajo")
    assert person.asked == "sectors"
    person.says("construcción y salud")
    assert person.asked == "education"
