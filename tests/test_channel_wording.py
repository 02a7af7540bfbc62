"""Channel-aware wording: what only fits a text message gets other words on the web and Telegram."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from intake_flows.text import Msg

from bot.flyer import STOP_HELP, TEXT_US
from bot.i18n import LOCALES_DIR
from bot.render import channel_wording, for_channel, render
from tests.transcript import Person
from webhook.webform import SMS_EXPIRES, SMS_SEND, UI

# Words that assume a phone's text messages (the number, its plan, the handset, a call back to it).
TEXTING = re.compile(r"\bText\b|\btext us\b|\btext [A-Z]{3,}|\bby text\b|Msg & data|this phone|this number|\btexting\b"
                     r"|will call you|like a call")
# Staff messages sent by SMS or Telegram only: a web visitor never gets them.
STAFF_ONLY = {
    "Hello from LA County High Road Training Partnerships. "
    "A staff member will call you at this number in the next few days about your training intake.",
}
# The form's offer to carry an intake on by text is about texting, on purpose.
ABOUT_TEXTING = {UI["sms_title"], UI["sms_intro"], UI["sms_linked"], SMS_SEND, SMS_EXPIRES}
# Printed on paper flyers (bot/flyer.py), where texting the number is exactly what they offer.
PRINTED = {TEXT_US, STOP_HELP}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def template() -> dict[str, str]:
    with (LOCALES_DIR / "messages.pot").open("rb") as fh:
        return {m.id: m.id for m in read_po(fh) if m.id and isinstance(m.id, str)}


def test_every_message_that_assumes_texting_has_web_words():
    msgids = template()
    texting = {m for m in msgids if TEXTING.search(m)} - STAFF_ONLY - ABOUT_TEXTING - PRINTED
    assert texting, "the pattern should find the SMS wording"
    missing = sorted(m for m in texting if "web" not in channel_wording().get(m, {}))
    assert missing == []
    for channel in ("web", "telegram", "form"):
        said = [v[channel] for v in channel_wording().values() if channel in v]
        assert [w for w in said if TEXTING.search(w)] == []


def test_each_variant_replaces_a_msgid_in_use_and_is_itself_translated():
    msgids = template()
    for sms, variants in channel_wording().items():
        assert sms in msgids, f"{sms!r} is no longer said by the engine or the flow"
        for channel, words in variants.items():
            assert channel in ("web", "telegram", "whatsapp", "form")
            assert words in msgids
            # A variant may point to the support phone (the engine passes it with each of these).
            assert set(PLACEHOLDER.findall(words)) - set(PLACEHOLDER.findall(sms)) <= {"phone"}


def test_sms_keeps_its_words_and_nested_messages_follow_the_channel():
    sms = "Text LANGUAGE any time to change the language."
    assert for_channel(Msg(sms), "sms").msgid == sms
    assert for_channel(Msg(sms), "whatsapp").msgid == sms
    nested = for_channel(Msg("%(x)s", {"x": Msg(sms)}), "web")
    assert nested.params["x"].msgid == "Type LANGUAGE any time to change the language."


def test_telegram_help_has_no_carrier_rates_and_the_hand_off_stays_on_telegram(service):
    tg = Person(service, "4242", channel="telegram")
    tg.says("hello")
    tg.says("1")
    reply = tg.says("HELP")
    assert "Msg & data rates" not in reply and "in this chat" in reply and "call 211" in reply
    assert tg.says("PERSON").startswith("Thanks. A staff member will contact you here on Telegram soon.")
    sms = Person(service, "+13235550199")
    sms.says("hello")
    sms.says("1")
    assert "Msg & data rates may apply" in sms.says("HELP")
    assert sms.says("PERSON").startswith("Thanks. A staff member will contact you soon at this number.")


def test_the_web_wording_reaches_the_person_in_their_language(runtime):
    from bot.messages import Reply

    reply = Reply(text=(Msg("Thanks. A staff member will contact you soon at this number.", {"phone": "211"}),), lang="ar")
    [web] = render([reply], runtime.i18n, "web")
    [sms] = render([reply], runtime.i18n, "sms")
    assert "211" in web.text and web.text != sms.text and "هذا الرقم" in sms.text and "هذا الرقم" not in web.text


def test_the_form_has_its_own_words_and_otherwise_the_chats():
    assert for_channel(Msg("Reply with all numbers that fit, like 1,3."), "form").msgid == "Choose all that fit."
    help_ = next(m for m in channel_wording() if m.startswith("Reply BACK to change your last answer"))
    assert for_channel(Msg(help_), "form").msgid == for_channel(Msg(help_), "web").msgid != help_
    name = "What is your first name? (Reply SKIP to leave it out.)"
    assert for_channel(Msg(name), "web").msgid == name  # the chat has a box to type SKIP in
