"""Rendering by channel capabilities: SMS keeps its segment budget, web and Telegram get every reason in one message."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake_flows.schema import FlowError
from intake_flows.text import Msg, verbatim

from bot.messages import Choice, MatchReasons, Reply
from bot.render import channel_wording, render
from bot.sms import MAX_SEGMENTS

PLUSES = tuple(verbatim(p) for p in (
    "close to where you live", "matches the work you want", "no diploma needed", "paid while you train",
    "evening classes for people who work days", "a union apprenticeship at the end"))
CHECK = verbatim("needs a driver's license; staff can help")


def result_reply() -> Reply:
    names = ("Hospital Careers Pathway (Healthcare)", "Building Trades Pre-Apprenticeship (Construction)",
             "Clean Energy Installer Training (Utilities)")
    return Reply(text=(Msg("Trainings that fit you:"),), lang="en",
                 matches=tuple(MatchReasons(verbatim(n), PLUSES, (CHECK,)) for n in names))


def test_sms_trims_the_weakest_reasons_to_its_budget_and_keeps_every_check(runtime):
    [sms] = render([result_reply()], runtime.i18n, "sms")
    assert sms.segments <= MAX_SEGMENTS
    assert sms.text.count("- needs a driver's license") == 3 and "\n3. Clean Energy" in sms.text
    assert "close to where you live" in sms.text and "a union apprenticeship at the end" not in sms.text


@pytest.mark.parametrize("channel", ["web", "telegram"])
def test_web_and_telegram_get_every_reason_in_one_message(runtime, channel):
    [shown] = render([result_reply()], runtime.i18n, channel)
    assert shown.text.count("a union apprenticeship at the end") == 3
    assert shown.text.count("- needs a driver's license") == 3 and shown.segments > MAX_SEGMENTS


def question(readback: Msg) -> Reply:
    return Reply(text=(verbatim("What kind of work interests you? " * 3),), lang="en", readback=readback,
                 choices=tuple(Choice(i, f"o{i}", verbatim(f"A long option label number {i}")) for i in range(1, 8)),
                 asks="sectors", turn=3)


def test_a_read_back_goes_alone_on_sms_only_when_together_they_would_pass_the_budget(runtime):
    readback = verbatim("Got it: " + "Construction and trades and Aerospace and manufacturing. " * 3)
    got_it, asked = render([question(readback)], runtime.i18n, "sms")
    assert got_it.text.startswith("Got it") and not got_it.asks and asked.asks == "sectors"
    [web] = render([question(readback)], runtime.i18n, "web")
    assert web.text.startswith("Got it") and web.asks == "sectors" and len(web.buttons) == 7
    [short] = render([question(verbatim("Got it: Ana."))], runtime.i18n, "sms")
    assert short.text.startswith("Got it: Ana.\nWhat kind") and "\n1) A long option" in short.text


def test_options_are_numbered_lines_only_where_nothing_is_tapped(runtime):
    reply = Reply(text=(verbatim("OK?"),), lang="en", choices=(Choice(1, "yes", Msg("Yes")), Choice(2, "no", Msg("No"))))
    [sms] = render([reply], runtime.i18n, "whatsapp")
    [tg] = render([reply], runtime.i18n, "telegram")
    assert sms.text == "OK?\n1) Yes\n2) No" and tg.text == "OK?" and [b.label for b in tg.buttons] == ["Yes", "No"]


def test_the_wording_file_names_the_entry_that_is_wrong(tmp_path: Path):
    path = tmp_path / "channel_wording.yaml"
    path.write_text('wording:\n  - texting: "Text STOP to stop."\n    instead: {fax: "Fax STOP."}\n', encoding="utf-8")
    with pytest.raises(FlowError, match=r"channel_wording.yaml: wording\[0\] \('Text STOP to stop.'\): unknown channel"):
        channel_wording(path)
    assert "Text LANGUAGE any time to change the language." in channel_wording()


def test_the_engine_knows_no_channel():
    from tests.test_layers import ROOT, imports

    for module in ("engine", "events", "messages"):
        assert imports(ROOT / "bot" / f"{module}.py") & {"bot.sms", "bot.channels", "bot.render"} == set(), module
