"""Catalogs: every language complete and correct, the checker catches what it should, fallbacks hold."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from click.testing import CliRunner

from intake_flows import answers as parse
from intake_flows.schema import load_keywords, load_languages
from intake_flows.text import Msg, verbatim

from bot.i18n import I18n, compile_catalogs
from devtools import i18n_check as ic
from webhook.cli_i18n import i18n_group

LANGUAGES = load_languages()
LANG_IDS = [lang.id for lang in LANGUAGES]
KEYWORDS = load_keywords()


@pytest.fixture(scope="module")
def template(runtime) -> Catalog:
    # `runtime` first: loading it compiles every catalog, as start-up does, so .mo files are fresh.
    return ic.extract_template()


# ---- the real catalogs -----------------------------------------------------------------------

def test_messages_pot_holds_exactly_the_msgids_of_the_code_and_data(template: Catalog) -> None:
    problems = ic.check_template(template)
    assert not problems, "\n".join(map(str, problems))


def test_the_pot_has_the_flow_rules_and_engine_texts(template: Catalog) -> None:
    ids = {m.id for m in template}
    assert "Do you agree to answer a few questions?" in ids  # intake.yaml
    assert "You live in LA County." in ids  # rules.yaml
    assert "Sorry, please reply 1 for yes or 2 for no." in ids  # bot/engine.py


@pytest.mark.parametrize("lang_id", LANG_IDS)
def test_catalog_is_complete_and_correct(lang_id: str, template: Catalog) -> None:
    lang = next(lang for lang in LANGUAGES if lang.id == lang_id)
    problems = ic.check_catalog(lang_id, ic.existing_catalogs().get(lang_id), template, KEYWORDS, lang)
    assert not problems, f"{len(problems)} problem(s) in {lang_id}:\n" + "\n".join(map(str, problems[:40]))


@pytest.mark.parametrize("lang_id", [i for i in LANG_IDS if i != "en"])
def test_each_language_actually_translates(lang_id: str, runtime) -> None:
    t = runtime.i18n(lang_id)
    assert t.lang == lang_id
    assert t.gettext("Do you agree to answer a few questions?") != "Do you agree to answer a few questions?"


@pytest.mark.parametrize("lang_id", LANG_IDS)
def test_translated_option_labels_are_distinct_and_understood(lang_id: str, runtime) -> None:
    """Typing an option's words in one's own language picks that option, and nothing else."""
    t = runtime.i18n(lang_id)
    keywords = {parse.fold(w) for words in KEYWORDS.keywords.values() for w in words}
    for step in runtime.bundle.flow.steps:
        if not step.options:
            continue
        labels = {o.id: t.render(Msg(o.label)) for o in step.options}
        folded = [parse.fold(label) for label in labels.values()]
        assert len(set(folded)) == len(folded), f"{lang_id} {step.id}: two options read the same: {labels}"
        vocab = {o.id: (o.label, *o.words, labels[o.id]) for o in step.options}
        numbered = [(i, o.id) for i, o in enumerate(step.options, 1)]
        for o in step.options:
            assert parse.parse_choice(labels[o.id], numbered, vocab) == o.id, f"{lang_id} {step.id}: {labels[o.id]!r}"
            assert parse.fold(labels[o.id]) not in keywords, f"{lang_id} {step.id}: {labels[o.id]!r} is a global keyword"
    for label in ("Yes", "No", "Skip"):
        assert parse.fold(t.gettext(label)) not in keywords - {"si", "yes"}, f"{lang_id}: {label!r} is a global keyword"


def test_no_word_acts_for_two_keywords() -> None:
    owner: dict[str, str] = {}
    for action, words in KEYWORDS.keywords.items():
        for w in words:
            f = parse.fold(w)
            assert owner.setdefault(f, action) == action, f"{w!r} is both {owner[f]} and {action}"
    answers = {parse.fold(w): key for key, words in KEYWORDS.answer_words.items() for w in words}
    clash = {w: (owner[w], answers[w]) for w in answers if w in owner and owner[w] != "opt_in"}
    assert not clash, f"keywords that are also answers: {clash}"


def test_yes_no_and_skip_words_do_not_overlap() -> None:
    seen: dict[str, str] = {}
    for key, words in KEYWORDS.answer_words.items():
        if key == "none":
            continue  # read only by the ZIP question, where "no" rightly means no address
        for w in words:
            f = parse.fold(w)
            assert seen.setdefault(f, key) == key, f"{w!r} is both {seen[f]} and {key}"


@pytest.mark.parametrize("word, action", [
    ("AYUDA", "help"), ("Idioma", "language"), ("幫助", "help"), ("语言", "language"), ("상담원", "person"),
    ("Xóa", "delete"), ("Ngôn ngữ", "language"), ("TULONG", "help"), ("Լեզու", "language"), ("Помощь", "help"),
    ("زبان", "language"), ("ភាសា", "language"), ("مساعدة", "help"), ("言語", "language"), ("मदद", "help"),
    ("ภาษา", "language"), ("STOP", "opt_out"), ("Dừng lại", "opt_out"), ("no más", "opt_out"),
    ("menu", "help"), ("BORRAR", "delete"), ("atrás", "back"), ("뒤로", "back"),
])
def test_keywords_work_in_every_language(word: str, action: str, runtime) -> None:
    from bot.engine import EngineContext

    ctx = EngineContext(runtime.bundle, runtime.i18n, runtime.screen, runtime.facts)
    assert ctx.keyword_action(word) == action


@pytest.mark.parametrize("word", ["đúng", "Huy", "Tao", "sí", "네", "có", "да", "oo", "այո"])
def test_answers_and_names_are_not_keywords(word: str, runtime) -> None:
    from bot.engine import EngineContext

    ctx = EngineContext(runtime.bundle, runtime.i18n, runtime.screen, runtime.facts)
    assert ctx.keyword_action(word) in (None, "opt_in")



def test_ulitin_repeats_nothing_and_restarts_nothing(runtime) -> None:
    """Tagalog "ulitin" means "repeat": someone typing it to see a question again must keep their answers."""
    from bot.engine import EngineContext

    ctx = EngineContext(runtime.bundle, runtime.i18n, runtime.screen, runtime.facts)
    assert ctx.keyword_action("ulitin") is None
    assert ctx.keyword_action("Ulitin!") is None
    assert ctx.keyword_action("SIMULA ULIT") == "restart"


def test_texting_ulitin_mid_intake_keeps_the_answers(service) -> None:
    from sqlalchemy import select

    from bot.models import Answer
    from tests.transcript import Person

    p = Person(service, "+13235550177")
    p.says("Hi")
    p.says("Tagalog")  # a language named at the consent question switches to it
    p.answer_until("age_range", {"consent": "oo", "first_name": "Maria", "zip": "90011"})
    reply = p.says("ulitin")
    assert p.asked == "age_range"
    assert service.runtime.i18n("tl").gettext("Starting over.") not in reply
    with service.db.session() as s:
        kept = {a.field: a.value for a in s.scalars(select(Answer))}
    assert kept["first_name"] == "Maria" and kept["zip"] == "90011"


def test_start_typed_with_either_khmer_subscript_comes_back(service) -> None:
    from tests.transcript import Person

    again = service.runtime.i18n("km").gettext("You're subscribed again to LA County HRTP messages. Text STOP to stop.")
    assert again != "You're subscribed again to LA County HRTP messages. Text STOP to stop."
    for n, start in enumerate(("ចាប់ផ្តើម", "ចាប់ផ្ដើម")):  # subscript TA, then subscript DA
        p = Person(service, f"+1323555018{n}")
        p.says("Hi")
        p.says("ខ្មែរ")
        assert "START" in p.says("STOP")
        assert p.says(start).startswith(again), start


# ---- what the translations say (a bilingual review's findings, kept from coming back) ----------

def _msgstr(lang_id: str, msgid: str) -> str:
    message = ic.read_catalog(ic.po_path(lang_id)).get(msgid)
    assert message is not None and message.string, (lang_id, msgid)
    return message.string


JUSTICE = "I have been arrested, on probation or parole, or in jail or prison"
# Each language's words for arrest, probation, parole and jail or prison: leaving one out keeps
# people in that situation from claiming the priority the option gives.
JUSTICE_TERMS = {
    "es": ("arrestado", "probatoria", "condicional", "cárcel"),
    "zh-Hant": ("逮捕", "緩刑", "假釋", "坐過牢"), "zh-Hans": ("逮捕", "缓刑", "假释", "坐过牢"),
    "ko": ("체포", "보호관찰", "가석방", "교도소"), "vi": ("bị bắt", "quản chế", "tạm tha", "ở tù"),
    "tl": ("aresto", "probation", "parole", "kulong"),
    "hy": ("Ձերբակալ", "փորձաշրջան", "պայմանական ազատ", "բանտ"),
    "ru": ("Арест", "пробация", "УДО", "заключение"), "fa": ("بازداشت", "تعلیق مراقبتی", "آزادی مشروط", "زندان"),
    "km": ("ចាប់ខ្លួន", "សាកល្បង", "ដោះលែងមានលក្ខខណ្ឌ", "គុក"),
    "ar": ("اعتقال", "المراقبة القضائية", "الإفراج المشروط", "السجن"),
    "ja": ("逮捕", "保護観察", "仮釈放", "刑務所"), "hi": ("गिरफ़्तारी", "प्रोबेशन", "पैरोल", "जेल"),
    "th": ("จับกุม", "คุมประพฤติ", "พักโทษ", "คุก"),
}


JUSTICE_NOW_ONLY = {"zh-Hant": ("中",), "zh-Hans": ("中",), "ko": ("중이",), "vi": ("đang",), "tl": ("naka-",),
                    "hy": ("տակ եմ",)}


@pytest.mark.parametrize("lang_id", sorted(JUSTICE_TERMS))
def test_the_justice_option_names_arrest_probation_parole_and_prison(lang_id: str) -> None:
    label = _msgstr(lang_id, JUSTICE)
    missing = [term for term in JUSTICE_TERMS[lang_id] if term not in label]
    assert not missing, f"{lang_id}: {label!r} lacks {missing}"
    # "Have been ... on probation or parole" is past or present: "now on probation" leaves out the rest.
    now_only = [w for w in JUSTICE_NOW_ONLY.get(lang_id, ()) if w in label]
    assert not now_only, f"{lang_id}: {label!r} says {now_only}"


@pytest.mark.parametrize("lang_id", ["zh-Hant", "zh-Hans"])
def test_chinese_age_bounds_and_words_say_what_the_english_says(lang_id: str) -> None:
    catalog = ic.read_catalog(ic.po_path(lang_id))
    texts = {m.id: m.string for m in catalog if m.id}
    # 以下 counts the number itself: "16 歲以下" takes in 16-year-olds, who then screen themselves out.
    inclusive_below = {i: s for i, s in texts.items() if re.search(r"\d\s*(?:歲|岁)?\s*以下", s)}
    assert not inclusive_below, inclusive_below
    assert texts["Under 16"] in ("未滿 16 歲", "不满 16 岁")
    # 收容所 reads as detention, 篩檢/筛查 as a medical test.
    for word in ("收容所", "篩檢", "筛查", "筛检"):
        assert not [i for i, s in texts.items() if word in s], (lang_id, word)


@pytest.mark.parametrize("lang_id, typed, option", [
    ("zh-Hant", "庇護所", "shelter"), ("zh-Hans", "庇护所", "shelter"), ("zh-Hant", "收容所", "shelter"),
    ("zh-Hans", "收容所", "shelter"), ("zh-Hant", "未滿 16 歲", "under_16"), ("zh-Hans", "不满 16 岁", "under_16"),
])
def test_chinese_answers_still_pick_their_option(lang_id: str, typed: str, option: str, runtime) -> None:
    step = next(s for s in runtime.bundle.flow.steps if option in {o.id for o in s.options})
    t = runtime.i18n(lang_id)
    vocab = {o.id: (o.label, *o.words, t.render(Msg(o.label))) for o in step.options}
    assert parse.parse_choice(typed, list(enumerate(vocab, 1)), vocab) == option


@pytest.mark.parametrize("lang_id, typed", [("zh-Hant", "16 歲"), ("zh-Hans", "16岁"), ("ko", "16세"), ("ja", "16歳"),
                                            ("ru", "16 лет"), ("th", "16 ปี"), ("km", "16 ឆ្នាំ"), ("en", "16")])
def test_typing_ones_age_never_picks_under_16(lang_id: str, typed: str, runtime) -> None:
    """A 16-year-old who types their age must be asked again, not screened out by "Under 16"'s words."""
    step = next(s for s in runtime.bundle.flow.steps if s.id == "age_range")
    t = runtime.i18n(lang_id)
    vocab = {o.id: (o.label, *o.words, t.render(Msg(o.label))) for o in step.options}
    assert parse.parse_choice(typed, list(enumerate(vocab, 1)), vocab) != "under_16"


def test_no_translation_promises_high_wages() -> None:
    # "High Road" names the partnership model; 고임금 ("high-wage") promises pay the English does not.
    offending = {m.id: m.string for m in ic.read_catalog(ic.po_path("ko")) if m.id and "고임금" in (m.string or "")}
    assert not offending, offending
    assert "동의" in _msgstr("ko", "Do you agree to answer a few questions?")


def test_armenian_names_la_county_in_armenian() -> None:
    catalog = ic.read_catalog(ic.po_path("hy"))
    latin = {m.id: m.string for m in catalog if m.id and re.search(r"\bCounty\b", m.string or "")}
    assert not latin, latin
    assert "Training Partnerships" not in _msgstr("hy", "Welcome to LA County High Road Training Partnerships. "
                                                       "Reply with the number of your language:")
    assert "մոտակա կենտրոնը" in _msgstr("hy", "You can still get free job help at an America's Job Center of "
                                             "California. Call 211 to find the nearest one.")


def test_khmer_consent_notice_and_decline_say_what_the_english_says() -> None:
    notice = _msgstr("km", "LA County's free job-training screener. It's voluntary. We keep your answers and only "
                           "County and training-partner staff see them. Your result is a screening, not a final decision.")
    assert "រក្សាទុកចម្លើយ" in notice  # "we keep your answers": the retention disclosure
    # "OK" after a No must not open with យល់ព្រម ("I agree").
    agreeing = {m.id: m.string for m in ic.read_catalog(ic.po_path("km"))
                if m.id and m.id.startswith("OK") and m.string.startswith("យល់ព្រម")}
    assert not agreeing, agreeing


RESTART_MSGIDS = ("Reply BACK to change your last answer, LANGUAGE to change language, RESTART to start over, "
                  "NEW for another person on this phone, DELETE to erase your answers, STOP to stop.",
                  "OK. We won't keep your answers. If you change your mind, text RESTART.")


@pytest.mark.parametrize("msgid", RESTART_MSGIDS)
def test_tagalog_offers_a_restart_word_that_means_start_over(msgid: str) -> None:
    text = _msgstr("tl", msgid)
    assert "SIMULA ULIT" in text and "ULITIN" not in text


# Keywords whose English word no language shares: each language has its own words for them.
OWN_WORD_KEYWORDS = ("HELP", "BACK", "LANGUAGE", "RESTART", "NEW", "DELETE", "SKIP")


@pytest.mark.parametrize("lang_id", [i for i in LANG_IDS if i != "en"])
def test_translations_name_each_languages_own_keywords(lang_id: str) -> None:
    """Where a language has its own word for a keyword, the translation names it, not only the English one."""
    catalog = ic.read_catalog(ic.po_path(lang_id))
    accepted = ic.accepted_words(KEYWORDS, catalog)
    english_only = []
    for message in catalog:
        if not message.id:
            continue
        shouted, plain = ic._shouted_phrases(message.string), parse.fold(message.string)
        for token in set(re.findall(r"\b[A-Z]{2,}\b", message.id)) & set(OWN_WORD_KEYWORDS):
            action = ic.KEYWORD_TOKENS[token]
            if not ic._named(accepted[action] - {parse.fold(token), "start over"}, shouted, plain):
                english_only.append(f"{token} in {message.string!r}")
    assert not english_only, f"{lang_id} offers only the English word: " + "; ".join(english_only)


# ---- the checker catches what it should ------------------------------------------------------

def _template(*msgids: str | tuple[str, str]) -> Catalog:
    cat = Catalog(project="HRTP Intake")
    for m in msgids:
        cat.add(m)
    return cat


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


PO_HEAD = '''# Test catalog.
# Drafted translations await review by a qualified translator.
msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\\n"
"Language: {locale}\\n"
"Plural-Forms: {plural}\\n"

'''


def _po(tmp_path: Path, lang_id: str, body: str, locale: str = "es_US",
        plural: str | None = None, head: str = PO_HEAD) -> Path:
    # The right Plural-Forms is whatever the pinned Babel's CLDR data says (Spanish gained a third form in 2.19).
    plural = plural or get_plural(locale).plural_forms
    return _write(tmp_path / lang_id / "LC_MESSAGES" / "messages.po", head.format(locale=locale, plural=plural) + body)


def _kinds(problems: list[ic.Problem]) -> list[str]:
    return sorted(p.kind for p in problems)


def test_a_good_catalog_passes(tmp_path: Path) -> None:
    path = _po(tmp_path, "es", 'msgid "Hello %(name)s."\nmsgstr "Hola %(name)s."\n\n'
                               'msgid "Reply HELP for help."\nmsgstr "Responde AYUDA para recibir ayuda."\n')
    assert ic.check_catalog("es", path, _template("Hello %(name)s.", "Reply HELP for help."), KEYWORDS) == []


def test_untranslated_fuzzy_and_missing_entries_fail(tmp_path: Path) -> None:
    path = _po(tmp_path, "es", 'msgid "One"\nmsgstr ""\n\n#, fuzzy\nmsgid "Two"\nmsgstr "Dos"\n')
    problems = ic.check_catalog("es", path, _template("One", "Two", "Three"), KEYWORDS)
    assert _kinds(problems) == ["fuzzy", "missing", "untranslated"]


def test_a_placeholder_mismatch_fails(tmp_path: Path) -> None:
    path = _po(tmp_path, "es", 'msgid "Hello %(name)s."\nmsgstr "Hola %(nombre)s."\n\n'
                               'msgid "Up to %(max)s letters."\nmsgstr "Hasta %(max)s letras, 100%."\n')
    problems = ic.check_catalog("es", path, _template("Hello %(name)s.", "Up to %(max)s letters."), KEYWORDS)
    assert _kinds(problems) == ["placeholder", "placeholder"]
    assert "%(nombre)s" in str(problems[0]) or "%(nombre)s" in str(problems[1])


def test_wrong_plural_forms_fail(tmp_path: Path) -> None:
    body = ('msgid "%(n)s message"\nmsgid_plural "%(n)s messages"\nmsgstr[0] "%(n)s сообщение"\n'
            'msgstr[1] "%(n)s сообщения"\n')
    path = _po(tmp_path, "ru", body, locale="ru_RU", plural="nplurals=2; plural=(n != 1);")
    cat = Catalog()
    cat.add(("%(n)s message", "%(n)s messages"))
    problems = ic.check_catalog("ru", path, cat, KEYWORDS, next(lang for lang in LANGUAGES if lang.id == "ru"))
    assert "plural" in _kinds(problems)
    assert any("nplurals=2" in p.detail and "3" in p.detail for p in problems)


def test_a_plural_count_the_pinned_babel_disagrees_with_fails(tmp_path: Path) -> None:
    path = _po(tmp_path, "es", 'msgid "One"\nmsgstr "Uno"\n', plural="nplurals=2; plural=(n != 1);")
    problems = ic.check_catalog("es", path, _template("One"), KEYWORDS)
    assert _kinds(problems) == ["plural"]
    assert f"has {get_plural('es_US').num_plurals}" in problems[0].detail


def test_update_takes_plural_forms_from_babel(tmp_path: Path) -> None:
    path = _po(tmp_path, "es", 'msgid "One"\nmsgstr "Uno"\n', plural="nplurals=2; plural=(n != 1);")
    ic.update_catalog(path, _template("One"), next(lang for lang in LANGUAGES if lang.id == "es"), "es")
    assert ic.read_catalog(path).num_plurals == get_plural("es_US").num_plurals
    assert ic.check_catalog("es", path, _template("One"), KEYWORDS) == []


def test_extract_on_a_clean_tree_changes_nothing(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(ic.LOCALES_DIR, locales, ignore=shutil.ignore_patterns("*.mo"))
    pot_written, updated = ic.extract_and_update(LANGUAGES, locales_dir=locales)
    assert (pot_written, updated) == (False, []), "run `hrtp-intake i18n extract` and commit locales/"


def test_a_catalog_that_does_not_load_fails(tmp_path: Path) -> None:
    path = _write(tmp_path / "es" / "LC_MESSAGES" / "messages.po", 'msgid "One"\nmsgstr "Uno\nbroken')
    assert _kinds(ic.check_catalog("es", path, _template("One"), KEYWORDS)) == ["load"]


def test_a_missing_catalog_and_a_missing_review_notice_fail(tmp_path: Path) -> None:
    assert _kinds(ic.check_catalog("ko", None, _template("One"), KEYWORDS)) == ["no_catalog"]
    path = _po(tmp_path, "es", 'msgid "One"\nmsgstr "Uno"\n', head=PO_HEAD.replace("Drafted", "Reviewed").replace("await", "had"))
    assert _kinds(ic.check_catalog("es", path, _template("One"), KEYWORDS)) == ["header"]


def test_a_stale_mo_fails(tmp_path: Path) -> None:
    path = _po(tmp_path, "es", 'msgid "One"\nmsgstr "Uno"\n')
    compile_catalogs(tmp_path)
    assert ic.check_catalog("es", path, _template("One"), KEYWORDS) == []
    path.write_text(path.read_text(encoding="utf-8").replace('"Uno"', '"Una"'), encoding="utf-8")
    assert _kinds(ic.check_catalog("es", path, _template("One"), KEYWORDS)) == ["stale_mo"]
    compile_catalogs(tmp_path)
    assert ic.check_catalog("es", path, _template("One"), KEYWORDS) == []


def test_keywords_must_stay_typeable(tmp_path: Path) -> None:
    body = ('msgid "Text STOP to stop."\nmsgstr "Envía PARAR para dejar de recibir."\n\n'
            'msgid "Reply HELP for help."\nmsgstr "Responde SOCORRO para ayuda."\n\n'
            'msgid "Reply PERSON to talk."\nmsgstr "Responde PERSONA para hablar."\n\n'
            'msgid "Reply BACK to go back."\nmsgstr "Responde BACK para volver."\n')
    template = _template("Text STOP to stop.", "Reply HELP for help.", "Reply PERSON to talk.", "Reply BACK to go back.")
    problems = ic.check_catalog("es", _po(tmp_path, "es", body), template, KEYWORDS)
    assert [(p.kind, p.msgid) for p in problems] == [("keyword", "Text STOP to stop."), ("keyword", "Reply HELP for help.")]


def test_the_way_back_after_stop_is_start_alone(tmp_path: Path) -> None:
    msgid = "Text START to come back."
    template = _template(msgid)
    offered = _po(tmp_path / "a", "es", f'msgid "{msgid}"\nmsgstr "Envía START o COMENZAR para volver."\n')
    problems = ic.check_catalog("es", offered, template, KEYWORDS)
    assert [p.kind for p in problems] == ["keyword"] and "comenzar" in problems[0].detail
    caseless = _po(tmp_path / "b", "th", f'msgid "{msgid}"\nmsgstr "ส่ง START หรือ เริ่ม เพื่อกลับมา"\n',
                   locale="th_TH", plural="nplurals=1; plural=0;")
    assert _kinds(ic.check_catalog("th", caseless, template, KEYWORDS)) == ["keyword"]
    alone = _po(tmp_path / "c", "es", f'msgid "{msgid}"\nmsgstr "Envía START para volver."\n')
    assert ic.check_catalog("es", alone, template, KEYWORDS) == []


@pytest.mark.parametrize("lang_id, locale, under, older, flagged", [
    ("zh-Hant", "zh_Hant_TW", "16 歲以下", "55 歲以上", True), ("zh-Hant", "zh_Hant_TW", "未滿 16 歲", "55 歲以上", False),
    ("zh-Hans", "zh_Hans_CN", "16岁以下", "55 岁及以上", True), ("ja", "ja_JP", "16歳未満", "55歳以上", False),
    ("ko", "ko_KR", "16세 이하", "55세 이상", True), ("ko", "ko_KR", "16세 미만", "55세 이상", False),
])
def test_an_exclusive_bound_must_not_become_an_inclusive_one(tmp_path: Path, lang_id: str, locale: str, under: str,
                                                            older: str, flagged: bool) -> None:
    body = f'msgid "Under 16"\nmsgstr "{under}"\n\nmsgid "55 or older"\nmsgstr "{older}"\n'
    path = _po(tmp_path, lang_id, body, locale=locale, plural="nplurals=1; plural=0;")
    problems = ic.check_catalog(lang_id, path, _template("Under 16", "55 or older"), KEYWORDS)
    assert [(p.kind, p.msgid) for p in problems] == ([("boundary", "Under 16")] if flagged else [])

def test_caseless_scripts_need_the_word_anywhere(tmp_path: Path) -> None:
    body = 'msgid "Reply HELP for help."\nmsgstr "需要帮助请回复“帮助”。"\n'
    path = _po(tmp_path, "zh-Hans", body, locale="zh_Hans_CN", plural="nplurals=1; plural=0;")
    assert ic.check_catalog("zh-Hans", path, _template("Reply HELP for help."), KEYWORDS,
                            next(lang for lang in LANGUAGES if lang.id == "zh-Hans")) == []


def test_a_message_over_three_segments_fails(tmp_path: Path) -> None:
    long = "Это очень длинное сообщение. " * 8
    path = _po(tmp_path, "ru", f'msgid "Short."\nmsgstr "{long}"\n', locale="ru_RU",
               plural="nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);")
    assert _kinds(ic.check_catalog("ru", path, _template("Short."), KEYWORDS)) == ["too_long"]


def test_update_adds_new_msgids_everywhere_and_english_fills_itself(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    for lang_id in ("en", "es"):
        shutil.copytree(ic.po_path(lang_id).parent.parent, locales / lang_id)
    template = ic.extract_template()
    template.add("A brand new question?")
    by_id = {lang.id: lang for lang in LANGUAGES}
    assert ic.update_catalog(ic.po_path("es", locales), template, by_id["es"], "es")
    assert ic.update_catalog(ic.po_path("en", locales), template, by_id["en"], "en")
    es = ic.read_catalog(ic.po_path("es", locales))
    en = ic.read_catalog(ic.po_path("en", locales))
    assert es.get("A brand new question?").string == ""
    assert en.get("A brand new question?").string == "A brand new question?"
    assert es.get("Yes").string == "Sí"
    assert ic.existing_catalogs(locales).keys() == {"en", "es"}
    # A second update with nothing new leaves the files alone, so their .mo stays fresh.
    assert not ic.update_catalog(ic.po_path("es", locales), template, by_id["es"], "es")


def test_a_new_catalog_has_the_notice_and_the_plural_forms(template: Catalog) -> None:
    ar = next(lang for lang in LANGUAGES if lang.id == "ar")
    cat = ic.new_catalog(ar, "ar", template)
    assert ic.REVIEW_NOTICE in cat.header_comment
    assert cat.num_plurals == 6
    assert not cat.fuzzy


# ---- rendering: fallback, direction, formatting ---------------------------------------------

def test_a_missing_or_broken_translation_falls_back_to_english(tmp_path: Path) -> None:
    _po(tmp_path, "es", 'msgid "Hello %(name)s."\nmsgstr "Hola %(nombre)s."\n\nmsgid "One"\nmsgstr "Uno"\n')
    i18n = I18n(LANGUAGES, tmp_path)
    es = i18n("es")
    assert es.render(Msg("One")) == "Uno"
    assert es.render(Msg("Not in any catalog")) == "Not in any catalog"
    assert es.render(Msg("Hello %(name)s.", {"name": verbatim("Ana")})) == "Hello Ana."
    assert i18n("xx").lang == "en"
    assert i18n("ko").render(Msg("One")) == "One"  # no catalog at all: English, never an error


@pytest.mark.parametrize("lang_id, rtl", [("fa", True), ("ar", True), ("en", False), ("es", False), ("hy", False)])
def test_right_to_left_languages_are_marked(lang_id: str, rtl: bool, runtime) -> None:
    assert runtime.i18n(lang_id).rtl is rtl


def test_numbers_and_dates_follow_the_locale(runtime) -> None:
    assert runtime.i18n("en").format_value(1234.5) == "1,234.5"
    assert runtime.i18n("ru").format_value(1234.5) in ("1 234,5", "1\u00a0234,5")
    assert "2026" in runtime.i18n("ko").format_value(date(2026, 11, 2))
    assert runtime.i18n("es").format_value(date(2026, 11, 2)) != runtime.i18n("en").format_value(date(2026, 11, 2))


# ---- commands and the segment report --------------------------------------------------------

def test_segment_report_covers_every_language_within_three_segments(runtime) -> None:
    rows = ic.segment_report(runtime, LANGUAGES)
    assert [r.lang for r in rows] == LANG_IDS
    for r in rows:
        assert r.status == "completed" and not r.failures, (r.lang, r.status, r.failures)
        assert 1 <= r.max_segments <= 3, (r.lang, r.max_segments, r.longest)
        assert r.total_segments >= r.messages
    table = ic.segment_table(rows)
    assert table.count("\n") == len(rows) + 1


def test_i18n_commands(runtime) -> None:
    runner = CliRunner()
    result = runner.invoke(i18n_group, ["check", "--lang", "en", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Every catalog is complete" in result.output
    result = runner.invoke(i18n_group, ["segments", "--lang", "es", "--markdown"])
    assert result.exit_code == 0, result.output
    # Lines by how they start: a log handler left by an earlier test may write into the captured output.
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| language |") and any(line.startswith("| es |") for line in table)
    assert runner.invoke(i18n_group, ["check", "--lang", "xx"]).exit_code == 2


def test_a_language_with_thin_answer_data_fails_the_check(tmp_path: Path, monkeypatch) -> None:
    from intake_flows import understand

    from devtools import i18n_check

    assert all(i18n_check.answer_data_problems(lang) == [] for lang in understand.languages_with_data())
    (tmp_path / "data" / "understand").mkdir(parents=True)
    (tmp_path / "data" / "understand" / "xx.yaml").write_text("lang: xx\nnumbers: {uno: 1}\n", encoding="utf-8")
    monkeypatch.setattr(understand, "UNDERSTAND_DIR", tmp_path / "data" / "understand")
    understand.load.cache_clear()
    try:
        kinds = {p.detail.split(": ", 1)[1].split(" (")[0] for p in i18n_check.answer_data_problems("xx")}
        assert "only 1 numbers" in kinds and "only 0 negation" in kinds
        assert "no answer data" in i18n_check.answer_data_problems("yy")[0].detail
    finally:
        understand.load.cache_clear()
