"""Flyers from the app's settings: the referral code looked up, its links built, the PDF rendered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from intake_flows.detect import is_referral_code

from bot.flyer import DEFAULT_LANGUAGES, FlyerLinks, render_flyer
from bot.service import IntakeService


class FlyerError(ValueError):
    """Why no flyer can be made, in words for the person who asked for it."""


def flyer_links(service: IntakeService, config: Mapping[str, Any], code: str, base_url: str = "",
                sms_number: str = "") -> FlyerLinks:
    """The links of a registered, active code, from PUBLIC_BASE_URL, TWILIO_FROM_NUMBER and TELEGRAM_BOT_USERNAME."""
    from bot.models import ReferralCode

    code = code.strip().upper()
    if not is_referral_code(code):
        raise FlyerError(f"{code[:40] or '(empty)'} is not a referral code: codes are 2 to 32 letters, digits, _ or -.")
    with service.db.session() as s:
        row = s.get(ReferralCode, code)
        active = row is not None and row.active
    if row is None:
        raise FlyerError(f"There is no referral code {code or '(empty)'}. Add it first "
                         f"(hrtp-intake add-referral-code {code or 'CODE'}).")
    if not active:
        raise FlyerError(f"The referral code {code} is retired: people who use it are no longer expected.")
    try:
        return FlyerLinks(code, public_base_url=base_url or str(config.get("PUBLIC_BASE_URL") or ""),
                          sms_number=sms_number or str(config.get("TWILIO_FROM_NUMBER") or ""),
                          telegram_bot=str(config.get("TELEGRAM_BOT_USERNAME") or ""))
    except ValueError as exc:
        raise FlyerError(str(exc)) from exc


def flyer_pdf(service: IntakeService, links: FlyerLinks, languages: Sequence[str]) -> bytes:
    """The PDF, a page per language (English and Spanish when none is asked for)."""
    wanted = list(dict.fromkeys(languages)) or list(DEFAULT_LANGUAGES)
    known = service.runtime.i18n.languages
    unknown = [lang for lang in wanted if lang not in known]
    if unknown:
        raise FlyerError(f"Unknown language {', '.join(unknown)}; use one of {', '.join(known)}.")
    try:
        return render_flyer(service.runtime.i18n, wanted, links)
    except OSError as exc:  # WeasyPrint loads Pango when first used: a server without it says so here
        raise FlyerError(f"Flyers need Debian's libpango-1.0-0 and libpangoft2-1.0-0 and the Noto fonts "
                         f"(README, Flyers): {exc}") from exc
