"""The answer reader on its own: numbers in words, negation, several answers, typos, ZIPs and names, per language.

Most phrasings here are not in the utterance corpus, so they check that the data generalises.
"""

from __future__ import annotations

import pytest
import yaml

from intake_flows import understand as u
from intake_flows.schema import load_flow

FLOW = load_flow()
# The call-back questions are read with the same data (keyed by their step ids).
STEPS = {**FLOW.by_id, **load_flow(u.UNDERSTAND_DIR.parent / "callback.yaml").by_id}
LANGS = ("en", "es", "zh-Hant", "zh-Hans", "ko", "vi", "tl", "hy", "ru", "fa", "km", "ar", "ja", "hi", "th")


def question(step_id: str) -> u.Question:
    """A question as the engine builds it, with the English labels and words only."""
    step = STEPS[step_id]
    if step.kind == "yesno":
        return u.Question(step.id, "yesno", ((1, "yes"), (2, "no")), {"yes": ("Yes",), "no": ("No",)}, {"yes": "no"})
    vocab = {o.id: (o.label, *o.words) for o in step.options}
    ranges = {o.id: (o.min, o.max) for o in step.options if o.min is not None and o.max is not None}
    negated = {o.id: o.negated for o in step.options if o.negated}
    exclusive = tuple(step.exclusive) + (("none", "prefer_not") if step.kind == "flags" else ())
    none = "none" if step.option("none") else None
    return u.Question(step.id, step.kind, tuple((i, o.id) for i, o in enumerate(step.options, 1)), vocab,
                      negated, ranges, exclusive, none)


def read(step_id: str, text: str, lang: str = "en"):
    return u.read_choice(question(step_id), text, lang).value


# ---- the data files --------------------------------------------------------------------------------

def test_every_language_has_a_data_file_with_the_same_parts():
    assert u.languages_with_data() == sorted(LANGS)
    for lang in LANGS:
        doc = yaml.safe_load((u.UNDERSTAND_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))
        assert doc["lang"] == lang
        for part in ("numbers", "fillers", "negation", "names", "answers"):
            assert doc.get(part), f"{lang}.yaml has no {part}"
        for question_id in doc["answers"]:
            assert question_id == "yesno" or question_id in STEPS, f"{lang}.yaml: no question {question_id!r}"
        u.load(lang)  # every word is a word: an unquoted yes/no would be read as true/false and fail here


@pytest.mark.parametrize("lang", LANGS)
def test_every_option_of_the_data_exists(lang):
    doc = yaml.safe_load((u.UNDERSTAND_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))
    for question_id, options in doc["answers"].items():
        if question_id == "yesno":
            assert set(options) <= {"yes", "no"}
            continue
        step = STEPS[question_id]
        known = {"yes", "no"} if step.kind == "yesno" else {o.id for o in step.options} | {"none"}
        if step.kind == "program_choice":
            known = {"talk_to_someone"}
        assert set(options) <= known, f"{lang}.yaml {question_id}: {set(options) - known}"


@pytest.mark.parametrize(("text", "value"), [("el sábado en la tarde", "weekend_afternoon"),
                                             ("por la mañana", "weekday_morning"),
                                             ("entre semana en la noche", "weekday_evening"),
                                             ("el domingo por la mañana", "weekend_morning")])
def test_spanish_call_back_times_are_read_from_words(text, value):
    assert read("callback_window", text, "es") == value


def test_an_unquoted_no_in_the_data_is_an_error_not_a_silent_false(tmp_path, monkeypatch):
    (tmp_path / "xx.yaml").write_text("lang: xx\nnegation: {words: [no, not]}\n", encoding="utf-8")
    monkeypatch.setattr(u, "UNDERSTAND_DIR", tmp_path)
    u.load.cache_clear()
    try:
        with pytest.raises(ValueError, match="quote"):
            u.load("xx")
    finally:
        u.load.cache_clear()


# ---- numbers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang,words,n", [
    ("en", "twenty three", 23), ("en", "thirty", 30), ("en", "forty one", 41),
    ("es", "veintitres", 23), ("es", "cincuenta y ocho", 58), ("es", "treinta y uno", 31), ("es", "dieciseis", 16),
    ("zh-Hans", "二十三", 23), ("zh-Hant", "四十五", 45), ("zh-Hans", "十七", 17), ("zh-Hans", "十", 10),
    ("ja", "六十", 60), ("ko", "스물셋", 23), ("ko", "이십삼", 23), ("ko", "마흔다섯", 45), ("ko", "열일곱", 17),
    ("vi", "hai muoi ba", 23), ("vi", "muoi bay", 17), ("vi", "sau muoi", 60),
    ("tl", "dalawampu t tatlo", 23), ("tl", "beinte tres", 23), ("tl", "labing pito", 17),
    ("hy", "քսաներեք", 23), ("hy", "տասնյոթ", 17), ("ru", "двадцать три", 23), ("ru", "сорок пять", 45),
    ("fa", "بیست و سه", 23), ("km", "ម្ភៃបី", 23), ("km", "ដប់ប្រាំពីរ", 17),
    ("ar", "ثلاثه وعشرين", 23), ("ar", "سبعه عشر", 17), ("hi", "तेईस", 23), ("hi", "पैंतालीस", 45),
    ("th", "ยี่สิบสาม", 23), ("th", "สี่สิบห้า", 45), ("th", "สิบเจ็ด", 17),
])
def test_number_words(lang, words, n):
    assert u.parse_number_words(u.normalize(words), u.load(lang)) == n


@pytest.mark.parametrize("lang,words", [("es", "uno y dos"), ("en", "one two"), ("en", "three twenty"), ("en", "banana")])
def test_words_that_are_not_one_number(lang, words):
    assert u.parse_number_words(u.normalize(words), u.load(lang)) is None


@pytest.mark.parametrize("lang,text,age", [
    ("en", "i'm 19", "18_24"), ("en", "fifty six", "55_plus"), ("en", "I am 16 years old", "16_17"),
    ("en", "age 14", "under_16"), ("en", "18-24", "18_24"),
    ("es", "tengo treinta y dos años", "25_54"), ("es", "diecisiete", "16_17"), ("es", "la segunda", "16_17"),
    ("zh-Hans", "我今年十九岁", "18_24"), ("zh-Hant", "五十五歲", "55_plus"), ("ja", "三十歳です", "25_54"),
    ("ko", "서른두 살", "25_54"), ("ko", "19살이에요", "18_24"), ("vi", "toi hai muoi tuoi", "18_24"),
    ("tl", "trenta po", "25_54"), ("hy", "քառասուն տարեկան", "25_54"), ("ru", "мне тридцать", "25_54"),
    ("fa", "سی سالمه", "25_54"), ("km", "អាយុ សែសិប ឆ្នាំ", "25_54"), ("ar", "عمري عشرين", "18_24"),
    ("hi", "मैं बीस साल का हूँ", "18_24"), ("hi", "३० साल", "25_54"), ("th", "อายุ ๕๐ ปี", "25_54"),
    ("en", "2", "16_17"),  # a number up to the count of options is the option's number
])
def test_an_age_records_the_range_that_holds_it(lang, text, age):
    assert read("age_range", text, lang) == age


@pytest.mark.parametrize("text", ["200", "i have 2 kids and im 30", "old enough", "17 or 18", "not 23"])
def test_an_age_that_is_not_one_plain_age_is_asked_again(text):
    assert read("age_range", text) is None


@pytest.mark.parametrize("lang,text,ids", [
    ("en", "two and three", ["healthcare", "technology"]), ("es", "el segundo", ["healthcare"]),
    ("vi", "1 va 3", ["construction", "technology"]), ("zh-Hans", "2和3", ["healthcare", "technology"]),
    ("ja", "2と5", ["healthcare", "aerospace"]), ("hi", "2 और 3", ["healthcare", "technology"]),
    ("th", "2 และ 3", ["healthcare", "technology"]), ("km", "2 និង 3", ["healthcare", "technology"]),
    ("hy", "2 և 3", ["healthcare", "technology"]), ("ko", "2이랑 3", ["healthcare", "technology"]),
    ("ar", "2 و 3", ["healthcare", "technology"]), ("ru", "2, 3 и 5", ["healthcare", "technology", "aerospace"]),
])
def test_several_choice_numbers_in_each_language(lang, text, ids):
    assert read("sectors", text, lang) == ids


@pytest.mark.parametrize("text", ["not the first one", "not 1", "never 2"])
def test_a_negated_option_number_is_never_that_option(text):
    reading = u.read_choice(question("employment"), text, "en")
    assert reading.value is None and reading.negated


def test_a_number_that_is_not_an_option_is_not_guessed():
    assert read("sectors", "1 and 9") is None
    assert read("employment", "7") is None


# ---- negation --------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang,text", [
    ("en", "i was never in the military"), ("es", "nunca fui militar"), ("zh-Hans", "没当过兵"),
    ("vi", "khong phai linh"), ("ru", "не служил в армии"), ("ko", "군인 아니에요"), ("ja", "軍人ではない"),
    ("hi", "सेना में नहीं"), ("th", "ไม่เคยเป็นทหาร"), ("ar", "مش عسكري"), ("fa", "نظامی نیستم"), ("tl", "hindi sundalo"),
])
def test_a_negated_background_option_is_never_recorded_as_yes(lang, text):
    reading = u.read_choice(question("background"), text, lang)
    assert reading.value is None and reading.negated == ("veteran",)


def test_every_background_option_negated_means_none_of_these():
    assert read("background", "not a veteran, never on probation and no ssi") == ["none"]
    assert read("background", "no soy veterana, nunca estuve en la carcel, no recibo calfresh", "es") == ["none"]


def test_positives_beside_negations_are_what_applies():
    assert read("background", "not a veteran but on probation") == ["justice_involved"]
    assert read("background", "I get SSI, never been to jail") == ["public_assistance"]


@pytest.mark.parametrize("lang,text", [
    ("en", "no high school diploma"), ("en", "i dont have a ged"), ("es", "no tengo prepa"), ("vi", "khong co bang trung hoc"),
    ("tl", "wala akong diploma"), ("ru", "без аттестата"), ("hi", "डिप्लोमा नहीं"), ("ja", "高校を出ていない"),
    ("ar", "ما عندي توجيهي"), ("fa", "دیپلم نگرفتم"),
])
def test_no_diploma_is_no_diploma_never_a_diploma(lang, text):
    assert read("education", text, lang) == "no_diploma"


@pytest.mark.parametrize("text", ["no degree", "never went to college"])
def test_a_negation_with_no_single_meaning_is_asked_about(text):
    reading = u.read_choice(question("education"), text, "en")
    assert reading.value is None


@pytest.mark.parametrize("lang,text", [
    ("en", "i dont need a laptop"), ("es", "no necesito computadora"), ("zh-Hant", "唔需要電腦"), ("ko", "노트북 필요 없어요"),
    ("ru", "не нужен ноутбук"), ("ar", "ما بحتاج لابتوب"), ("th", "ไม่ต้องการคอมพิวเตอร์"), ("vi", "khong can may tinh"),
])
def test_a_need_said_not_to_be_needed_is_not_recorded(lang, text):
    reading = u.read_choice(question("needs"), text, lang)
    assert reading.value is None and reading.negated == ("digital_access",)


def test_a_need_beside_one_not_needed_is_kept_alone():
    assert read("needs", "bus pass, but i dont need childcare") == ["transportation"]


@pytest.mark.parametrize("lang,text,value", [
    ("en", "i dont agree", "no"), ("es", "no estoy de acuerdo", "no"), ("ar", "مش موافقة", "no"), ("km", "ខ្ញុំមិនយល់ព្រមទេ", "no"),
    ("tl", "ayoko po", "no"), ("ja", "同意しません", "no"), ("ru", "не согласна", "no"), ("zh-Hans", "我不同意", "no"),
    ("en", "yes i agree", "yes"), ("es", "si, de acuerdo", "yes"),
])
def test_consent_negated_is_no(lang, text, value):
    assert read("consent", text, lang) == value


@pytest.mark.parametrize("lang,text", [("en", "not sure"), ("en", "maybe"), ("es", "no se"), ("ru", "не знаю"),
                                       ("zh-Hans", "不知道"), ("th", "ไม่แน่ใจ")])
def test_unsure_at_a_yes_no_question_is_asked_again(lang, text):
    reading = u.read_choice(question("la_county"), text, lang)
    assert reading.value is None and reading.unsure


def test_a_question_is_never_an_answer():
    assert read("consent", "这是什么？", "zh-Hans") is None
    assert read("consent", "yes?") is None or read("consent", "yes?") == "yes"  # the option's own word still counts
    assert read("employment", "is part time ok?") is None


# ---- everyday words, typos ---------------------------------------------------------------------------

@pytest.mark.parametrize("lang,step,text,value", [
    ("en", "housing", "sleeping in my truck at the park", "unsheltered"),
    ("en", "employment", "looking for work", "unemployed"),
    ("es", "housing", "vivo con mis papas", "stable"),
    ("es", "employment", "trabajo medio tiempo", "part_time"),
    ("vi", "employment", "dang tim viec", "unemployed"),
    ("ko", "drivers_license", "운전면허 있어요", "yes"),
    ("ru", "housing", "живу у друга", "staying_with_others"),
    ("ar", "drivers_license", "ما عندي رخصة قيادة", "no"),
])
def test_everyday_phrasings(lang, step, text, value):
    assert read(step, text, lang) == value


@pytest.mark.parametrize("text,ids", [("helthcare", ["healthcare"]), ("tecnology", ["technology"]),
                                      ("manufacturng", ["aerospace"]), ("weldng and nursng", ["aerospace", "healthcare"])])
def test_a_typo_in_a_longer_word_is_forgiven(text, ids):
    assert read("sectors", text) == ids


@pytest.mark.parametrize("text", ["ti", "nun", "care"])
def test_short_words_are_not_stretched_to_fit(text):
    assert read("sectors", text) is None


def test_accents_and_case_are_optional():
    assert read("employment", "DESEMPLEADO", "es") == "unemployed"
    assert read("sectors", "CONSTRUCCIÓN", "es") == ["construction"]
    assert read("employment", "thất nghiệp", "vi") == read("employment", "THAT NGHIEP", "vi") == "unemployed"


def test_none_of_these_cannot_be_mixed_with_an_option():
    reading = u.read_choice(question("needs"), "nothing, and a laptop", "en")
    assert reading.value is None and reading.clash


# ---- ZIPs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,zip5", [("90o11", "90011"), ("9OO46", "90046"), ("900 11", "90011"), ("917 70", "91770"),
                                       ("zip: 90011-1234", "90011"), ("٩٠٠١١", "90011"), ("９０５０１", "90501")])
def test_zip_with_the_letter_o_or_a_space(text, zip5):
    assert u.read_zip(text) == zip5


@pytest.mark.parametrize("text", ["9001", "call 323 555 0101", "1 2 3 4 5 6", "i have 2 kids"])
def test_not_a_zip(text):
    assert u.read_zip(text) is None


@pytest.mark.parametrize("lang,text", [("en", "i sleep in my car"), ("en", "im homeless rn"), ("es", "estoy sin hogar"),
                                       ("ko", "집이 없어요"), ("ru", "живу в машине"), ("tl", "wala akong bahay")])
def test_no_fixed_address_in_words(lang, text):
    assert u.says_no_address(text, lang, ())


def test_dont_know_is_not_no_address():
    assert not u.says_no_address("no se", "es", ())
    assert not u.says_no_address("idk", "en", ())


# ---- names -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang,text,name", [
    ("en", "Hi my name is Maria", "Maria"), ("en", "hey its Tasha", "Tasha"), ("en", "I'm Ana Lucia", "Ana Lucia"),
    ("es", "me llamo Juan", "Juan"), ("es", "¡Buenas noticias, me llamo Rosa!", "Rosa"), ("es", "Soy Lupe", "Lupe"),
    ("zh-Hans", "我叫王小明", "王小明"), ("zh-Hant", "我係阿欣", "阿欣"), ("ko", "저는 수진이에요", "수진"),
    ("vi", "ten toi la Thao", "Thao"), ("tl", "ako po si Liza", "Liza"), ("hy", "Անունս Գոհար է", "Գոհար"),
    ("ru", "меня зовут Ирина", "Ирина"), ("fa", "اسم من رضا است", "رضا"), ("km", "ខ្ញុំឈ្មោះ ស្រីមុំ", "ស្រីមុំ"),
    ("ar", "اسمي ليلى", "ليلى"), ("ja", "名前は花子です", "花子"), ("hi", "मेरा नाम अमित है", "अमित"),
    ("th", "ฉันชื่อมาลี", "มาลี"), ("en", "DeShawn", "DeShawn"), ("en", "Mary-Jo", "Mary-Jo"),
])
def test_a_name_from_a_sentence(lang, text, name):
    reading = u.read_name(text, lang)
    assert reading.name == name
    assert reading.from_sentence == (name != text)


@pytest.mark.parametrize("lang,text", [("en", "rather not"), ("en", "prefer not to say"), ("es", "prefiero no decir"),
                                       ("zh-Hans", "不想说"), ("ko", "말하기 싫어요"), ("ru", "не скажу"),
                                       ("ja", "言いたくない")])
def test_a_name_can_be_declined_in_words(lang, text):
    assert u.read_name(text, lang).skip


@pytest.mark.parametrize("text", ["STOP NOW", "wrong number", "why do you need my name", "what is this for",
                                  "i need a job asap please", "12345", "🙂", "help me"])
def test_sentences_and_commands_are_not_names(text):
    assert u.read_name(text, "en", commands=["stop", "help"]).name is None


def test_no_at_the_name_question_skips_it():
    assert u.read_name("no", "en", no_words=["no"]).skip
    assert u.read_name("нет", "ru", no_words=["нет"]).skip


@pytest.mark.parametrize("lang,step,text", [
    ("en", "employment", "some college"),          # "some" is in "some hours", but is no answer to this question
    ("en", "sectors", "ok sure"),                  # "sure" is in "not sure"
    ("en", "age_range", "dropped out in 10th grade"),  # a number inside a word is not an age
    ("hi", "age_range", "12वीं पास"),
    ("en", "sectors", "9oo26"),
    ("vi", "housing", "nam"),                      # năm (five), nam (man): never an option's number
    ("vi", "housing", "điều dưỡng"),               # folds like đường (street), but is nursing
    ("th", "housing", "มี"),                       # one Thai letter inside a label is no answer
    ("ar", "housing", "بلا مأوى"),                 # "without shelter" is not the shelter
    ("es", "needs", "estoy en libertad condicional"),
    ("es", "sectors", "medio tiempo"),             # one letter from "medios", but another word
])
def test_answers_to_another_question_are_not_stretched_to_fit_this_one(lang, step, text):
    assert read(step, text, lang) is None


# ---- found by the held-out corpus (tests/data/utterances_heldout/) -----------------------------------

@pytest.mark.parametrize("lang,text,age", [
    ("ko", "20대", None), ("ko", "20대요", None), ("ja", "20代です", None), ("zh-Hans", "20多岁", None),
    ("ko", "30대", "25_54"), ("ja", "40代", "25_54"), ("zh-Hant", "30多歲", "25_54"), ("ko", "20살", "18_24"),
])
def test_a_decade_is_an_age_range_only_when_one_option_holds_all_of_it(lang, text, age):
    assert read("age_range", text, lang) == age


@pytest.mark.parametrize("step,text,ids", [
    ("sectors", "البناء والصحة", ["construction", "healthcare"]),
    ("needs", "مواصلات وحضانة", ["transportation", "childcare"]),
    ("needs", "رعاية الاطفال والمواصلات", ["childcare", "transportation"]),
    ("background", "ولا واحد", ["none"]),
])
def test_the_arabic_and_written_onto_the_next_word_joins_two_answers(step, text, ids):
    assert sorted(read(step, text, "ar") or []) == sorted(ids)


def test_one_shared_word_of_a_sentence_does_not_name_an_option_by_its_label():
    # Armenian "I want to talk with staff" shares only "want" with the label "I don't want to say".
    q = u.Question("housing", "choice", ((1, "stable"), (2, "prefer_not")),
                   {"stable": ("Իմ սեփական տունը",), "prefer_not": ("Չեմ ուզում ասել",)})
    assert u.read_choice(q, "ուզում եմ խոսել աշխատակցի հետ", "hy").value is None
    assert u.read_choice(q, "ուզում", "hy").value == "prefer_not"


def test_a_year_beside_an_option_is_not_an_option_number():
    assert read("education", "got my GED in 2015") == "hs_ged"
    assert read("education", "2015") is None


def test_fillers_do_not_hide_having_no_address():
    assert u.says_no_address("wala po akong tirahan", "tl", ())
    assert not u.says_no_address("90011 po", "tl", ())
