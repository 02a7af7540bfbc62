"""Printable flyers for a referral code: one page per language, with the texting keyword and QR codes."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import phonenumbers
import segno

from intake_flows.detect import JOIN_WORDS, is_referral_code
from intake_flows.text import N_

from bot.i18n import I18n, Translator

DEFAULT_LANGUAGES = ("en", "es")

TITLE = N_("LA County High Road Training Partnerships")
WHAT = N_("A free screening for job training: answer a few short questions and see which LA County training "
          "programs fit you.")
TEXT_US = N_("Text %(keyword)s to %(number)s")
SCAN_WEB = N_("Scan to apply online")
SCAN_TELEGRAM = N_("Scan to chat on Telegram")
FREE = N_("Free and voluntary. This is a screening, not a final decision.")
STOP_HELP = N_("Text STOP to stop, HELP for help. Msg & data rates may apply.")
CODE_LINE = N_("Referral code: %(code)s")

# A face with each language's script first; `lang` on the page then picks the regional CJK glyphs.
FONTS = {"ar": "Noto Sans Arabic", "fa": "Noto Sans Arabic", "hy": "Noto Sans Armenian", "km": "Noto Sans Khmer",
         "th": "Noto Sans Thai", "hi": "Noto Sans Devanagari", "zh-Hant": "Noto Sans CJK TC",
         "zh-Hans": "Noto Sans CJK SC", "ja": "Noto Sans CJK JP", "ko": "Noto Sans CJK KR"}
FALLBACK_FONTS = ('"Noto Sans"', '"Noto Sans CJK SC"', "sans-serif")
_TELEGRAM_BOT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")

CSS = """
@page { size: letter; margin: 0.5in 0.65in; }
body { margin: 0; color: #111; }
section { page-break-after: always; }
section:last-child { page-break-after: auto; }
h1 { font-size: 18pt; color: #0b4f8a; margin: 0 0 0.12in; }
.what { font-size: 16pt; line-height: 1.3; margin: 0 0 0.22in; }
.sms { border: 3pt solid #0b4f8a; border-radius: 10pt; padding: 0.1in 0.2in; font-size: 18pt; line-height: 1.35;
       text-align: center; margin: 0 0 0.22in; }
.big { font-weight: bold; unicode-bidi: isolate; direction: ltr; }
.big span { white-space: nowrap; }
table.qr { width: 100%; border-collapse: collapse; margin: 0 0 0.18in; }
table.qr td { text-align: center; vertical-align: top; padding: 0 0.1in; width: 50%; }
table.qr svg { width: 2in; height: 2in; }
.scan { font-size: 14pt; font-weight: bold; margin: 0.04in 0 0.02in; }
.link { font-family: "Noto Sans Mono", "DejaVu Sans Mono", monospace; font-size: 8.5pt; direction: ltr;
        unicode-bidi: isolate; overflow-wrap: anywhere; }
.free { font-size: 15pt; font-weight: bold; margin: 0 0 0.1in; }
.stop { font-size: 12pt; margin: 0 0 0.12in; }
.code { font-size: 11pt; color: #444; }
"""


@dataclass(frozen=True)
class FlyerLinks:
    """Where a flyer sends people for one referral code; a channel without its setting is left off."""

    code: str
    public_base_url: str = ""
    sms_number: str = ""
    telegram_bot: str = ""

    def __post_init__(self) -> None:
        if not is_referral_code(self.code):
            raise ValueError(f"{self.code!r} is not a referral code (2 to 32 of A-Z, 0-9, _ and -)")
        if self.telegram_bot and not _TELEGRAM_BOT.fullmatch(self.telegram_bot.lstrip("@")):
            raise ValueError(f"{self.telegram_bot!r} is not a Telegram bot username (5 to 32 letters, digits or _)")
        if not (self.public_base_url or self.sms_number or self.telegram_bot):
            raise ValueError("a flyer needs at least one way in: a public web address, a texting number or a Telegram bot")

    @property
    def keyword(self) -> str:
        """What to text: the join word every language's messages understand, then the code."""
        return f"{JOIN_WORDS[0].upper()} {self.code.upper()}"

    def web(self, lang: str) -> str:
        """The web intake in this language with the code attached, or "" without a public address."""
        if not self.public_base_url:
            return ""
        return f"{self.public_base_url.rstrip('/')}/apply?{urlencode({'ref': self.code.upper(), 'lang': lang})}"

    def telegram(self) -> str:
        """The bot's deep link carrying the code as its start payload, or "" without a bot username."""
        if not self.telegram_bot:
            return ""
        return f"https://t.me/{self.telegram_bot.lstrip('@')}?start={self.code.upper()}"

    def number_shown(self) -> str:
        """The texting number as people dial it here: "(213) 555-0100"; a short code as it is."""
        try:
            parsed = phonenumbers.parse(self.sms_number, "US")
        except phonenumbers.NumberParseException:
            return self.sms_number
        if not phonenumbers.is_valid_number(parsed):
            return self.sms_number
        fmt = phonenumbers.PhoneNumberFormat
        return phonenumbers.format_number(parsed, fmt.NATIONAL if parsed.country_code == 1 else fmt.INTERNATIONAL)


def _fill(t: Translator, msgid: str, **parts: str) -> str:
    """The translation as HTML, each named placeholder replaced by markup given ready-made."""
    marks = {name: f"\ue000{i}\ue001" for i, name in enumerate(parts)}
    try:
        text = t.gettext(msgid) % marks if parts else t.gettext(msgid)
    except (KeyError, ValueError, TypeError):
        text = msgid % marks if parts else msgid  # a broken translation must not cost the page its keyword
    out = html.escape(text)
    for name, mark in marks.items():
        out = out.replace(mark, parts[name])
    return out


def _qr_svg(url: str) -> str:
    # Inline SVG, so rendering fetches nothing; level M survives a photocopied, folded flyer.
    svg: str = segno.make(url, error="m", micro=False).svg_inline(border=4, dark="#000", light="#fff", omitsize=True)
    return svg


def _qr_cell(url: str, caption: str) -> str:
    return (f'<td>{_qr_svg(url)}<p class="scan">{caption}</p>'
            f'<p class="link">{html.escape(url)}</p></td>')


def page_html(t: Translator, links: FlyerLinks) -> str:
    """One language's page as an HTML section."""
    # The code on one line however long (up to 32 characters): smaller type for a longer one; JOIN may wrap before it.
    size = min(36, int(460 / (0.7 * max(len(links.code), 1))))
    join, _, code = links.keyword.partition(" ")
    keyword = (f'<bdi class="big" style="font-size: {size}pt"><span>{html.escape(join)}</span> '
               f"<span>{html.escape(code)}</span></bdi>")
    number = f'<bdi class="big" style="font-size: 36pt"><span>{html.escape(links.number_shown())}</span></bdi>'
    parts = [f"<h1>{_fill(t, TITLE)}</h1>", f'<p class="what">{_fill(t, WHAT)}</p>']
    if links.sms_number:
        parts.append(f'<p class="sms">{_fill(t, TEXT_US, keyword=keyword, number=number)}</p>')
    cells = []
    if web := links.web(t.lang):
        cells.append(_qr_cell(web, _fill(t, SCAN_WEB)))
    if telegram := links.telegram():
        cells.append(_qr_cell(telegram, _fill(t, SCAN_TELEGRAM)))
    if cells:
        parts.append(f'<table class="qr"><tr>{"".join(cells)}</tr></table>')
    parts.append(f'<p class="free">{_fill(t, FREE)}</p>')
    if links.sms_number:
        parts.append(f'<p class="stop">{_fill(t, STOP_HELP)}</p>')
    parts.append(f'<p class="code">{_fill(t, CODE_LINE, code=f"<bdi>{html.escape(links.code)}</bdi>")}</p>')
    fonts = ", ".join(([f'"{FONTS[t.lang]}"'] if t.lang in FONTS else []) + list(FALLBACK_FONTS))
    direction = "rtl" if t.rtl else "ltr"
    return (f'<section lang="{t.lang}" dir="{direction}" style=\'font-family: {fonts}\'>'
            + "".join(parts) + "</section>")


def flyer_html(i18n: I18n, languages: Sequence[str], links: FlyerLinks) -> str:
    """The whole flyer as one HTML document, a page per language in the order given."""
    unknown = [lang for lang in languages if lang not in i18n.languages]
    if unknown or not languages:
        raise ValueError(f"unknown language id(s) {', '.join(unknown) or '(none given)'}; "
                         f"known: {', '.join(i18n.languages)}")
    pages = "".join(page_html(i18n(lang), links) for lang in dict.fromkeys(languages))
    return (f'<!doctype html><html lang="{languages[0]}"><head><meta charset="utf-8">'
            f"<title>HRTP flyer {html.escape(links.code)}</title><style>{CSS}</style></head>"
            f"<body>{pages}</body></html>")


def render_flyer(i18n: I18n, languages: Sequence[str], links: FlyerLinks) -> bytes:
    """The flyer as PDF bytes (WeasyPrint: Pango and HarfBuzz shape every script, right to left included)."""
    # Imported here: WeasyPrint loads Pango at import, which the rest of the app never needs.
    from weasyprint import HTML  # type: ignore[import-untyped]  # ships no type hints

    pdf: bytes = HTML(string=flyer_html(i18n, languages, links)).write_pdf()
    return pdf
