"""SMS segment arithmetic (GSM 03.38 and UCS-2) and splitting long replies."""

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sms import segment_info, split_message


def test_gsm7_limits():
    assert segment_info("a" * 160) == segment_info("a" * 160)
    assert (segment_info("a" * 160).segments, segment_info("a" * 161).segments) == (1, 2)
    assert segment_info("a" * 306).segments == 2 and segment_info("a" * 307).segments == 3
    assert segment_info("¿Qué tal? ñ é ü").encoding == "GSM-7"


def test_extension_characters_cost_two_septets():
    info = segment_info("€" * 80)
    assert (info.encoding, info.units, info.segments) == ("GSM-7", 160, 1)
    assert segment_info("€" * 81).segments == 2


def test_one_non_gsm_character_makes_the_whole_message_ucs2():
    assert segment_info("a" * 69 + "í").encoding == "UCS-2"
    assert segment_info("a" * 69 + "í").segments == 1
    assert segment_info("a" * 70 + "í").segments == 2
    assert segment_info("한" * 134).segments == 2 and segment_info("한" * 135).segments == 3


def test_emoji_are_two_utf16_units_and_never_split():
    info = segment_info("🙂" * 35)
    assert (info.units, info.segments) == (70, 1)
    assert segment_info("🙂" * 36).segments == 2


def test_split_prefers_line_breaks():
    lines = [f"{i}) option number {i}" for i in range(1, 40)]
    parts = split_message("\n".join(lines))
    assert all(segment_info(p).segments <= 3 for p in parts)
    assert "\n".join(parts).split("\n") == lines


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc xyz\n€ñíé한🙂ءअ")), max_size=2000))
def test_split_keeps_every_word_and_respects_the_limit(text):
    parts = split_message(text, max_segments=3)
    assert all(segment_info(p).segments <= 3 for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())
