"""Turns engine replies into what a channel shows, by its capabilities (bot.channels) and wording (channel_wording.yaml)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from intake_flows.schema import DATA_DIR, FlowError
from intake_flows.text import N_, Msg, MsgList

from bot.channels import CHANNELS, Capabilities, capabilities
from bot.i18n import I18n, Translator
from bot.messages import Reply
from bot.sms import PlainTable, segment_info, split_message

WORDING_PATH = DATA_DIR / "channel_wording.yaml"


class _Wording(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    texting: str
    instead: dict[str, str]


class _WordingFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    wording: tuple[_Wording, ...]
    fallback: dict[str, str] = {}


@functools.cache
def channel_wording(path: Path = WORDING_PATH) -> dict[str, dict[str, str]]:
    """Texting msgid -> {channel or wording: msgid said there instead}, read on first use; errors name the file and entry.

    A wording in `fallback` (the form, on the web channel) takes its fallback channel's words where it has none.
    """
    try:
        doc = _WordingFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise FlowError(f"{path}: {exc}") from exc
    for wording, channel in doc.fallback.items():
        if channel not in CHANNELS or wording in CHANNELS:
            raise FlowError(f"{path}: fallback {wording!r}: {channel!r} must be a channel and {wording!r} not one; "
                            f"channels: {', '.join(CHANNELS)}")
    known = set(CHANNELS) | set(doc.fallback)
    out: dict[str, dict[str, str]] = {}
    for i, entry in enumerate(doc.wording):
        where = f"{path}: wording[{i}] ({entry.texting[:40]!r})"
        if entry.texting in out:
            raise FlowError(f"{where}: the same texting words appear twice")
        unknown = sorted(set(entry.instead) - known)
        if unknown:
            raise FlowError(f"{where}: unknown channel(s) {unknown}; known: {', '.join(sorted(known))}")
        instead = dict(entry.instead)
        for wording, channel in doc.fallback.items():
            if wording not in instead and channel in instead:
                instead[wording] = instead[channel]
        out[entry.texting] = instead
    return out


def for_channel(msg: Msg, channel: str) -> Msg:
    """The message as this channel words it (params too, as they may be messages)."""
    params = {k: for_channel(v, channel) if isinstance(v, Msg) else v for k, v in msg.params.items()}
    if isinstance(msg, MsgList):
        return MsgList("", items=tuple(for_channel(i, channel) for i in msg.items))
    msgid = channel_wording().get(msg.msgid, {}).get(channel, msg.msgid) if msg.translate else msg.msgid
    return Msg(msgid, params, msg.translate)


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
    turn: int | None = None
    hint: str | None = None  # the last line of `text` when the question came with a how-to-answer hint


@dataclass
class PlainTranslator(Translator):
    """A translator whose output has the language's plain letters (SMS cost); what it translates is unchanged."""

    table: PlainTable = dataclasses.field(default_factory=dict)

    def render(self, msg: Msg | str) -> str:
        return super().render(msg).translate(self.table)


def render(replies: list[Reply], i18n: I18n, channel: str, wording: str | None = None,
           plain: Mapping[str, PlainTable] | None = None) -> list[Rendered]:
    """Renders replies within the channel's capabilities, in `wording`'s words when given (the form on the web channel).

    `plain` (language -> table, from SMS_PLAIN_LANGUAGES) applies only on a channel billed by the segment."""
    caps = capabilities(channel)
    out: list[Rendered] = []
    words = wording or channel
    for reply in replies:
        t = i18n(reply.lang)
        table = (plain or {}).get(reply.lang) if caps.segment_billed else None
        if table:
            # After translation, so placeholders, lists and the segment budget all see the text as sent.
            t = PlainTranslator(t.lang, t.locale, t.translations, table)
        for part in laid_out(reply, t, caps, words):
            out.extend(_rendered(part, t, caps, words))
    return out


def laid_out(reply: Reply, t: Translator, caps: Capabilities, words: str | None = None) -> list[Reply]:
    """The reply as plain messages (text, choices, hint) that respect the channel's segment budget."""
    budget = caps.max_segments
    words = words or caps.name

    def segments(msgs: Sequence[Msg]) -> int:
        return segment_info("\n".join(t.render(for_channel(m, words)) for m in msgs)).segments

    plain = dataclasses.replace(reply, readback=None, matches=())
    if reply.matches:
        *first, last = _match_messages(reply, budget, segments)
        parts = [Reply(text=tuple(msgs), lang=reply.lang) for msgs in first]
        parts.append(dataclasses.replace(plain, text=tuple(last)))
    else:
        parts = [plain]
    if reply.readback is not None:
        joined = dataclasses.replace(parts[0], text=(reply.readback, *parts[0].text))

        def fits(r: Reply) -> bool:
            # As a budgeted channel shows it: numbered options and the hint count too.
            lines = [t.render(for_channel(p, words)) for p in r.text]
            lines += [f"{c.number}) {t.render(for_channel(c.label, words))}" for c in r.choices]
            if r.hint is not None:
                lines.append(t.render(for_channel(r.hint, words)))
            return budget is None or segment_info("\n".join(lines)).segments <= budget

        if fits(joined) or not fits(parts[0]):
            parts[0] = joined
        else:
            parts.insert(0, Reply(text=(reply.readback,), lang=reply.lang))
    return parts


def _match_messages(reply: Reply, budget: int | None, segments: Callable[[Sequence[Msg]], int]) -> list[list[Msg]]:
    """The reply's text and its trainings, each with its reasons: one message if the budget allows."""
    pluses = [list(m.pluses) for m in reply.matches]

    def blocks() -> list[list[Msg]]:
        out: list[list[Msg]] = []
        for i, m in enumerate(reply.matches, 1):
            if pluses[i - 1]:
                block = [Msg(N_("%(number)s. %(program)s: %(reasons)s"),
                             {"number": str(i), "program": m.name, "reasons": MsgList("", items=tuple(pluses[i - 1]))})]
            else:
                block = [Msg(N_("%(number)s. %(program)s"), {"number": str(i), "program": m.name})]
            out.append(block + [Msg(N_("- %(check)s"), {"check": c}) for c in m.checks])
        return out

    def lines() -> list[Msg]:
        return [*reply.text, *(x for b in blocks() for x in b)]

    if budget is None:
        return [lines()]

    def trim(limit: int, floor: int) -> bool:
        # Pluses go weakest (last-listed) first from the training with the most; checks are never dropped.
        while segments(lines()) > limit:
            over = [j for j in range(len(pluses)) if len(pluses[j]) > floor]
            if not over:
                return False
            pluses[max(over, key=lambda j: (len(pluses[j]), j))].pop()
        return True

    # One message if the list fits with at least one reason per training ("and why"); otherwise (long
    # names in a UCS-2 language) two, still with a reason each, before giving reasons up.
    if trim(budget, 1):
        return [lines()]
    if not trim(2 * budget, 1):
        trim(2 * budget, 0)
    # Several messages: each training stays whole, its checks beside it.
    out: list[list[Msg]] = []
    current = list(reply.text)
    for block in blocks():
        if len(current) > len(reply.text) and segments(current + block) > budget:
            out.append(current)
            current = []
        current += block
    out.append(current)
    return out


def _rendered(reply: Reply, t: Translator, caps: Capabilities, words: str) -> list[Rendered]:
    channel = words
    lines = [t.render(for_channel(p, channel)) for p in reply.text]
    buttons = tuple(Button(c.value, c.number, t.render(for_channel(c.label, channel))) for c in reply.choices)
    if not caps.buttons:
        lines.extend(f"{b.number}) {b.label}" for b in buttons)
    hint = t.render(for_channel(reply.hint, channel)) if reply.hint is not None else None
    if hint:
        lines.append(hint)
    text = "\n".join(line for line in lines if line)
    pieces = split_message(text, caps.max_segments) if caps.max_segments is not None else [text]
    out = []
    for i, piece in enumerate(pieces):
        info = segment_info(piece)
        last = i == len(pieces) - 1
        out.append(Rendered(piece, reply.lang, info.segments, info.encoding,
                            buttons if last else (), reply.multi and last, reply.asks if last else None,
                            reply.turn if last else None, hint if last else None))
    return out
