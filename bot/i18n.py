"""Per-person translation: gettext catalogs loaded once, msgids rendered in the person's language."""

from __future__ import annotations

import gettext
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

from intake_flows.schema import Language
from intake_flows.text import Msg, MsgList

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"


def compile_catalogs(locales_dir: Path = LOCALES_DIR, force: bool = False) -> list[Path]:
    """Compiles every .po whose .mo is missing or older, so a stale .mo is never served."""
    written = []
    for po_path in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=None, domain=DOMAIN)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        tmp.replace(mo_path)
        written.append(mo_path)
    return written


@dataclass
class Translator:
    """Renders msgids in one language; a missing translation falls back to the English msgid."""

    lang: str
    locale: Locale
    translations: gettext.NullTranslations

    @property
    def rtl(self) -> bool:
        return self.locale.text_direction == "rtl"

    def gettext(self, msgid: str) -> str:
        return self.translations.gettext(msgid) if msgid else ""

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def format_value(self, value: Any) -> str:
        if isinstance(value, Msg):
            return self.render(value)
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, (int, float, Decimal)):
            return format_decimal(value, format="#,##0.#", locale=self.locale)
        if isinstance(value, datetime):
            return format_datetime(value, "medium", locale=self.locale)
        if isinstance(value, date):
            return format_date(value, "medium", locale=self.locale)
        return str(value)

    def render(self, msg: Msg | str) -> str:
        if isinstance(msg, str):
            return self.gettext(msg)
        if isinstance(msg, MsgList):
            return format_list([self.render(i) for i in msg.items], locale=self.locale)
        text = self.gettext(msg.msgid) if msg.translate else msg.msgid
        if not msg.params:
            return text
        params = {k: self.format_value(v) for k, v in msg.params.items()}
        try:
            return text % params
        except (KeyError, ValueError, TypeError):
            # A translation with a broken placeholder must not cost the person their message.
            log.warning("placeholder mismatch in %s catalog for %r", self.lang, msg.msgid)
            try:
                return msg.msgid % params
            except (KeyError, ValueError, TypeError):
                return msg.msgid


class I18n:
    """All languages' translators, loaded once at start-up."""

    def __init__(self, languages: Iterable[Language], locales_dir: Path = LOCALES_DIR, compile: bool = True) -> None:
        self.languages = {lang.id: lang for lang in languages}
        self.locales_dir = locales_dir
        if compile:
            compile_catalogs(locales_dir)
        self._cache: dict[str, Translator] = {}
        for lang in self.languages.values():
            self._cache[lang.id] = self._load(lang)

    def _load(self, lang: Language) -> Translator:
        mo = self.locales_dir / lang.id / "LC_MESSAGES" / f"{DOMAIN}.mo"
        translations: gettext.NullTranslations
        if mo.exists():
            with mo.open("rb") as fh:
                translations = Translations(fh, domain=DOMAIN)
        else:
            translations = gettext.NullTranslations()
        return Translator(lang.id, Locale.parse(lang.babel), translations)

    def __call__(self, lang: str | None) -> Translator:
        return self._cache.get(lang or "en") or self._cache["en"]
