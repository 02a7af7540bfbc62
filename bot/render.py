"""Turns engine replies into what a channel shows: numbered text on SMS, text plus buttons elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import I18n
from bot.messages import Reply
from bot.sms import MAX_SEGMENTS, segment_info, split_message

# Channels where people tap buttons; on the others options are typed as numbers.
BUTTON_CHANNELS = frozenset({"telegram", "web"})


@dataclass(frozen=True)
class Button:
    value: str
    number: int
    label: str


@dataclass(frozen=True)
class Rendered:
    """One outbound message as the channel will send it."""

    text: str
    lang: str
    segments: int
    encoding: str
    buttons: tuple[Button, ...] = ()
    multi: bool = False
    asks: str | None = None


def render(replies: list[Reply], i18n: I18n, channel: str, max_segments: int = MAX_SEGMENTS) -> list[Rendered]:
    """Renders replies for a channel; SMS and WhatsApp get options as numbered lines."""
    out: list[Rendered] = []
    for reply in replies:
        t = i18n(reply.lang)
        lines = [t.render(p) for p in reply.text]
        buttons = tuple(Button(c.value, c.number, t.render(c.label)) for c in reply.choices)
        if channel not in BUTTON_CHANNELS:
            lines.extend(f"{b.number}) {b.label}" for b in buttons)
        if reply.hint is not None:
            lines.append(t.render(reply.hint))
        text = "\n".join(line for line in lines if line)
        pieces = split_message(text, max_segments) if channel not in BUTTON_CHANNELS else [text]
        for i, piece in enumerate(pieces):
            info = segment_info(piece)
            last = i == len(pieces) - 1
            out.append(Rendered(piece, reply.lang, info.segments, info.encoding,
                                buttons if last else (), reply.multi and last, reply.asks if last else None))
    return out
