"""Printed flyers: a page per language whose QR codes scan back to the code's links, in each language's script."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake_flows.detect import link_referral_code, referral_code

from bot.flyer import FlyerLinks, flyer_html, render_flyer
from tests.admin.helpers import make_user, sign_in

try:
    import weasyprint  # noqa: F401  (loads Pango: missing Debian libraries raise OSError here)
except OSError as exc:  # the flyer tests need libpango; test.sh installs it
    pytest.skip(f"WeasyPrint cannot load Pango ({exc}); install libpango-1.0-0 and libpangoft2-1.0-0",
                allow_module_level=True)
pdfium = pytest.importorskip("pypdfium2")
pdfium_raw = pytest.importorskip("pypdfium2.raw")
zxingcpp = pytest.importorskip("zxingcpp")

NUMBER = "+12135550000"
SHOWN = "(213) 555-0000"
BASE = "https://intake.example.org"
BOT = "hrtp_la_bot"
LANGS = ["en", "ar", "zh-Hant", "km"]


def _have_font(family: str) -> bool:
    if shutil.which("fc-list") is None:
        return False
    out = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True, check=False).stdout
    return any(family in line.split(",") for line in out.splitlines())


needs_noto = pytest.mark.skipif(not all(_have_font(f) for f in ("Noto Sans", "Noto Sans Arabic", "Noto Sans Khmer",
                                                                   "Noto Sans CJK TC")),
                                reason="needs Debian's fonts-noto-core and fonts-noto-cjk (test.sh installs them)")


def links(code: str = "EASTLA1") -> FlyerLinks:
    return FlyerLinks(code, public_base_url=BASE, sms_number=NUMBER, telegram_bot=BOT)


def qr_texts(page) -> set[str]:
    image = page.render(scale=2).to_pil()
    return {r.text for r in zxingcpp.read_barcodes(image)}


def visual_text(page) -> str:
    """The page's characters line by line, left to right as printed (pdfium reorders Latin runs in RTL lines)."""
    tp = page.get_textpage()
    lines: list[list[tuple[float, str]]] = [[]]
    for i in range(tp.count_chars()):
        ch = tp.get_text_range(i, 1)
        if ch in ("\r", "\n"):
            if lines[-1]:
                lines.append([])
            continue
        left, _, right, _ = tp.get_charbox(i)
        if ch.strip() and right > left:
            lines[-1].append((left, ch))
    return "\n".join("".join(ch for _, ch in sorted(line)) for line in lines)


def fonts_of(page, wanted) -> set[str]:
    """The embedded font names the page's characters that pass `wanted` are drawn with."""
    tp = page.get_textpage()
    names = set()
    for i in range(tp.count_chars()):
        if not wanted(tp.get_text_range(i, 1)):
            continue
        buf = ctypes.create_string_buffer(256)
        flags = ctypes.c_int()
        pdfium_raw.FPDFText_GetFontInfo(tp, i, buf, 256, ctypes.byref(flags))
        names.add(buf.value.decode("utf-8", "replace"))
    return names


@pytest.fixture(scope="module")
def flyer(runtime) -> Iterator[list]:
    pdf = render_flyer(runtime.i18n, LANGS, links())
    assert pdf.startswith(b"%PDF-")
    doc = pdfium.PdfDocument(pdf)
    yield [doc[i] for i in range(len(doc))]
    doc.close()


@needs_noto
def test_there_is_a_page_per_language_in_the_order_asked(flyer) -> None:
    assert len(flyer) == len(LANGS)


@needs_noto
@pytest.mark.parametrize("index,lang", list(enumerate(LANGS)))
def test_each_pages_qr_codes_scan_back_to_the_web_and_telegram_links_with_the_code(flyer, index, lang) -> None:
    assert qr_texts(flyer[index]) == {f"{BASE}/apply?ref=EASTLA1&lang={lang}", f"https://t.me/{BOT}?start=EASTLA1"}


@needs_noto
@pytest.mark.parametrize("index", range(len(LANGS)))
def test_each_page_prints_the_keyword_and_number(flyer, index) -> None:
    printed = visual_text(flyer[index])
    assert "JOINEASTLA1" in printed and "(213)555-0000" in printed, printed


def readable_words(text: str) -> list[str]:
    """The words pdfium reads back as written: not Arabic lam-alef ligatures, not words with vowel marks."""
    return [w.strip(".,:،") for w in text.split()
            if not re.search("ل[اأإآى]", w) and not any(unicodedata.category(ch) == "Mn" for ch in w)]


@needs_noto
def test_each_page_is_in_its_own_language_from_the_catalogs(flyer, runtime) -> None:
    for page, lang in zip(flyer, LANGS, strict=True):
        if lang == "km":
            continue  # pdfium's text extraction scrambles Khmer clusters; its shaping is checked by the font below
        text = page.get_textpage().get_text_bounded().replace("\r\n", " ")
        for msgid in ("Scan to apply online", "Free and voluntary. This is a screening, not a final decision."):
            words = readable_words(runtime.i18n(lang).gettext(msgid))
            assert words and all(w in text for w in words), (lang, words, text)
    assert "Text STOP to stop, HELP for help." in flyer[0].get_textpage().get_text_bounded()


@needs_noto
def test_arabic_is_shaped_in_a_noto_arabic_face_and_reads_back_as_its_words(flyer) -> None:
    text = flyer[1].get_textpage().get_text_bounded()
    for word in ("مجاني", "فحص", "مقاطعة", "أرسل"):
        assert word in text, text
    arabic = fonts_of(flyer[1], lambda ch: "\u0600" <= ch <= "\u06ff")
    assert arabic and all("Noto-Sans-Arabic" in name for name in arabic), arabic


@needs_noto
def test_khmer_and_traditional_chinese_are_drawn_in_faces_that_have_their_scripts(flyer) -> None:
    khmer = fonts_of(flyer[3], lambda ch: "\u1780" <= ch <= "\u17ff")
    assert khmer and all("Khmer" in name for name in khmer), khmer
    han = fonts_of(flyer[2], lambda ch: "\u4e00" <= ch <= "\u9fff")
    assert han and all("CJK" in name and "TC" in name for name in han), han


@needs_noto
def test_every_language_fits_one_page_even_with_the_longest_code(runtime) -> None:
    code = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"  # 32 characters, the most a code may have
    languages = list(runtime.i18n.languages)
    doc = pdfium.PdfDocument(render_flyer(runtime.i18n, languages, links(code)))
    try:
        assert len(doc) == len(languages) == 15
        for i, lang in enumerate(languages):
            assert qr_texts(doc[i]) == {f"{BASE}/apply?ref={code}&lang={lang}", f"https://t.me/{BOT}?start={code}"}, lang
    finally:
        doc.close()


def test_the_page_sets_direction_and_language_so_the_right_glyphs_are_picked(runtime) -> None:
    page = flyer_html(runtime.i18n, ["fa", "ar", "zh-Hant", "ja", "en"], links())
    assert '<section lang="fa" dir="rtl"' in page and '<section lang="ar" dir="rtl"' in page
    assert '<section lang="zh-Hant" dir="ltr" style=\'font-family: "Noto Sans CJK TC"' in page
    assert '<section lang="ja" dir="ltr" style=\'font-family: "Noto Sans CJK JP"' in page


def test_the_keyword_is_the_one_the_bot_reads_and_the_links_carry_codes_the_bot_accepts() -> None:
    flyer_links = links("EAST-LA_2")
    assert referral_code(flyer_links.keyword) == "EAST-LA_2"
    assert link_referral_code(flyer_links.telegram().split("start=")[1]) == "EAST-LA_2"
    assert flyer_links.web("zh-Hans") == f"{BASE}/apply?ref=EAST-LA_2&lang=zh-Hans"
    assert flyer_links.number_shown() == SHOWN


def test_a_channel_without_its_setting_is_left_off_the_page(runtime) -> None:
    page = flyer_html(runtime.i18n, ["en"], FlyerLinks("EASTLA1", public_base_url=BASE))
    assert "/apply?ref=EASTLA1" in page and "t.me" not in page and 'class="sms"' not in page and "STOP" not in page
    with pytest.raises(ValueError, match="at least one way in"):
        FlyerLinks("EASTLA1")
    with pytest.raises(ValueError, match="not a referral code"):
        FlyerLinks("bad code!", public_base_url=BASE)


def test_a_broken_translation_keeps_the_keyword_on_the_page(runtime, monkeypatch) -> None:
    t = runtime.i18n("es")
    monkeypatch.setattr(t.translations, "gettext", lambda msgid: "Envía %(palabra)s" if "keyword" in msgid else msgid)
    page = flyer_html(runtime.i18n, ["es"], links())
    assert "Text <bdi" in page and "<span>JOIN</span> <span>EASTLA1</span>" in page and "555-0000" in page


# ---- the command and the admin ----------------------------------------------------------------

def _env(tmp_path: Path) -> dict[str, str]:
    from bot.migrate import fresh_sqlite

    return {"DATABASE_URL": fresh_sqlite(tmp_path / "cli.db"), "SECRET_KEY": "x", "PUBLIC_BASE_URL": BASE,
            "TWILIO_FROM_NUMBER": NUMBER, "TELEGRAM_BOT_USERNAME": "@" + BOT}


@needs_noto
def test_the_flyer_command_writes_a_page_per_language_with_english_and_spanish_by_default(tmp_path) -> None:
    from click.testing import CliRunner

    from webhook.cli import main

    env = _env(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["add-referral-code", "EASTLA1"], env=env).exit_code == 0
    out = tmp_path / "flyer.pdf"
    result = runner.invoke(main, ["flyer", "eastla1", "--lang", "ar", "--lang", "ko", "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    doc = pdfium.PdfDocument(out.read_bytes())
    assert len(doc) == 2 and qr_texts(doc[1]) == {f"{BASE}/apply?ref=EASTLA1&lang=ko", f"https://t.me/{BOT}?start=EASTLA1"}
    doc.close()
    default = tmp_path / "default.pdf"
    assert runner.invoke(main, ["flyer", "EASTLA1", "-o", str(default)], env=env).exit_code == 0
    doc = pdfium.PdfDocument(default.read_bytes())
    assert [min(qr_texts(doc[i])) for i in range(len(doc))] == [f"{BASE}/apply?ref=EASTLA1&lang={lang}"
                                                                 for lang in ("en", "es")]
    doc.close()


def test_the_flyer_command_says_what_is_wrong(tmp_path) -> None:
    from click.testing import CliRunner

    from webhook.cli import main

    env = _env(tmp_path)
    runner = CliRunner()
    unknown = runner.invoke(main, ["flyer", "NOSUCH1", "-o", str(tmp_path / "x.pdf")], env=env)
    assert unknown.exit_code == 1 and "There is no referral code NOSUCH1" in unknown.output
    runner.invoke(main, ["add-referral-code", "EASTLA1"], env=env)
    bad_lang = runner.invoke(main, ["flyer", "EASTLA1", "--lang", "xx", "-o", str(tmp_path / "x.pdf")], env=env)
    assert bad_lang.exit_code == 1 and "Unknown language xx" in bad_lang.output
    no_url = runner.invoke(main, ["flyer", "EASTLA1"], env={**env, "PUBLIC_BASE_URL": ""})
    assert no_url.exit_code == 1 and "PUBLIC_BASE_URL" in no_url.output
    assert not (tmp_path / "x.pdf").exists()
    nowhere = runner.invoke(main, ["flyer", "EASTLA1", "--lang", "en", "-o", str(tmp_path / "no" / "such" / "x.pdf")], env=env)
    assert nowhere.exit_code == 1 and "Cannot write" in nowhere.output


@pytest.fixture
def flyer_app(app_config: dict):
    from bot.models import ReferralCode
    from webhook import create_app

    application = create_app({**app_config, "PUBLIC_BASE_URL": BASE, "TWILIO_FROM_NUMBER": NUMBER,
                              "TELEGRAM_BOT_USERNAME": BOT})
    with application.extensions["hrtp"].db.writing() as s:
        s.add(ReferralCode(code="EASTLA1", organisation="East LA WorkSource"))
        s.add(ReferralCode(code="OLD2025", active=False))
    yield application
    application.extensions["hrtp"].db.dispose()


def _signed_in(app, role: str):
    make_user(app.extensions["hrtp"], role, role, programs=("caring_workforce_pwc",) if role == "partner" else ())
    client = app.test_client()
    assert sign_in(client, role).status_code == 302
    return client


@needs_noto
def test_staff_download_the_flyer_from_the_admin(flyer_app) -> None:
    client = _signed_in(flyer_app, "staff")
    resp = client.get("/admin/referral-codes/EASTLA1/flyer.pdf?lang=en&lang=fa&lang=th")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    doc = pdfium.PdfDocument(resp.data)
    assert len(doc) == 3 and f"{BASE}/apply?ref=EASTLA1&lang=th" in qr_texts(doc[2])
    doc.close()
    assert client.get("/admin/referral-codes/eastla1/flyer.pdf").status_code == 200  # en and es


def test_the_admin_flyer_needs_a_signed_in_staff_or_admin_account(flyer_app) -> None:
    anonymous = flyer_app.test_client().get("/admin/referral-codes/EASTLA1/flyer.pdf")
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]
    partner = _signed_in(flyer_app, "partner")
    assert partner.get("/admin/referral-codes/EASTLA1/flyer.pdf").status_code == 403


def test_the_admin_flyer_answers_unknown_codes_and_languages_kindly(flyer_app) -> None:
    client = _signed_in(flyer_app, "admin")
    missing = client.get("/admin/referral-codes/NOSUCH1/flyer.pdf")
    assert missing.status_code == 404 and "There is no referral code NOSUCH1" in missing.get_data(as_text=True)
    assert "retired" in client.get("/admin/referral-codes/OLD2025/flyer.pdf").get_data(as_text=True)
    assert client.get("/admin/referral-codes/EASTLA1/flyer.pdf?lang=xx").status_code == 400
    assert client.get("/admin/referral-codes/%E2%80%AE!/flyer.pdf").status_code == 404


def test_the_intake_page_links_its_registered_code_to_the_flyer(flyer_app) -> None:
    from tests.admin.helpers import complete_intake, intake_id_of

    person = complete_intake(flyer_app.extensions["hrtp"], "+13235550177", code="EASTLA1")
    client = _signed_in(flyer_app, "staff")
    page = client.get(f"/admin/intakes/{intake_id_of(person)}").get_data(as_text=True)
    assert 'href="/admin/referral-codes/EASTLA1/flyer.pdf">Print flyer</a>' in page
