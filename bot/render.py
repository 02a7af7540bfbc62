"""Turns engine replies into what a channel shows: numbered text on SMS, text plus buttons elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

from intake_flows.text import Msg, MsgList, N_

from bot.i18n import I18n
from bot.messages import Reply
from bot.sms import MAX_SEGMENTS, segment_info, split_message

# Channels where people tap buttons; on the others options are typed as numbers.
BUTTON_CHANNELS = frozenset({"telegram", "web"})

# The engine and the flow speak as if by text message ("Text STOP", "Msg & data rates", "at this
# number"). Where that is untrue on another channel, that channel says this instead, keyed by the
# texting msgid; the engine stays channel-blind. Variants may use %(phone)s, the support phone the
# engine passes with each of these (a web visitor has no number staff could call back). The keys
# are extracted for translation where the engine and flow use them.
TYPE_STOP = N_("Type STOP to stop, HELP for help, DELETE to erase your answers.")
CHAT_HELP = N_("LA County High Road Training Partnerships: a free job-training screening in this chat, about 15 questions. "
               "Reply PERSON to reach staff, or call %(phone)s.")
HARD_HERE = N_("It looks like this is hard to answer here. Reply PERSON to reach staff, or call %(phone)s.")
SKIP_HERE = N_("Let's skip this question for now. Staff can help with it later: reply PERSON to reach them, or call %(phone)s.")
STOP_QUESTION = N_("Do you want us to stop sending you messages? Type STOP to stop, or 1 to go on.")
ON_CHANNEL: dict[str, dict[str, str]] = {
    "Text STOP to stop, HELP for help, DELETE to erase your answers. Msg & data rates may apply.":
        {"web": TYPE_STOP, "telegram": TYPE_STOP},
    "LA County High Road Training Partnerships: free job-training screening by text, about 15 messages. "
    "Msg & data rates may apply. Reply PERSON to reach staff, or call %(phone)s.":
        {"web": CHAT_HELP, "telegram": CHAT_HELP},
    "It looks like this is hard to answer by text. Reply PERSON and staff will call you.":
        {"web": HARD_HERE, "telegram": HARD_HERE},
    "Let's skip this question for now. Staff can help with it later: reply PERSON if you'd like a call.":
        {"web": SKIP_HERE, "telegram": SKIP_HERE},
    "Thanks. A staff member will contact you soon at this number.":
        {"web": N_("Thanks. Staff can't call you back through this web chat, so please call %(phone)s to talk with someone."),
         "telegram": N_("Thanks. A staff member will contact you here on Telegram soon.")},
    "Thanks. A staff member will contact you soon to talk it through.":
        {"web": N_("Thanks. To talk it through with a staff member, please call %(phone)s.")},
    "Reply BACK to change your last answer, LANGUAGE to change language, RESTART to start over, "
    "NEW for another person on this phone, DELETE to erase your answers, STOP to stop.":
        {"web": N_("Type BACK to change your last answer, LANGUAGE to change language, RESTART to start over, "
                   "NEW for another person on this device, DELETE to erase your answers, STOP to stop.")},
    "Text LANGUAGE any time to change the language.":
        {"web": N_("Type LANGUAGE any time to change the language.")},
    "You're subscribed again to LA County HRTP messages. Text STOP to stop.":
        {"web": N_("You're back. Type STOP any time to stop.")},
    "You're unsubscribed from LA County HRTP messages and won't get more. Text START to come back.":
        {"web": N_("You've stopped, and we won't send you anything more. Type START to come back.")},
    "Done. Your answers and messages with us were erased. Text us any time to start again.":
        {"web": N_("Done. Your answers and messages with us were erased. Write to us here any time to start again.")},
    "OK. We won't keep your answers. If you change your mind, text RESTART.":
        {"web": N_("OK. We won't keep your answers. If you change your mind, type RESTART.")},
    "Your intake is complete and staff will contact you. Text NEW to start one for someone else, or HELP for options.":
        {"web": N_("Your intake is complete. To talk with staff about next steps, call %(phone)s. "
                   "Type NEW to start one for someone else, or HELP for options.")},
    "Thank you. Staff will review your answers and contact you. "
    "Text HELP any time, or NEW to start an intake for someone else on this phone.":
        {"web": N_("Thank you. Staff will review your answers. To talk with someone about next steps, call %(phone)s. "
                   "Type HELP any time, or NEW to start an intake for someone else on this device.")},
    "Do you want us to stop texting you? Reply STOP to stop, or 1 to go on.":
        {"web": STOP_QUESTION, "telegram": STOP_QUESTION},
    "Welcome back! I kept that answer. Text RESTART to start over.":
        {"web": N_("Welcome back! I kept that answer. Type RESTART to start over.")},
    "Reply with all numbers that fit, like 1,3.":
        {"web": N_("Tap all that fit, then Send. Or type their numbers, like 1,3.")},
}


def for_channel(msg: Msg, channel: str) -> Msg:
    """The message as this channel words it (params too, as they may be messages)."""
    params = {k: for_channel(v, channel) if isinstance(v, Msg) else v for k, v in msg.params.items()}
    if isinstance(msg, MsgList):
        return MsgList("", items=tuple(for_channel(i, channel) for i in msg.items))
    msgid = ON_CHANNEL.get(msg.msgid, {}).get(channel, msg.msgid) if msg.translate else msg.msgid
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


def render(replies: list[Reply], i18n: I18n, channel: str, max_segments: int = MAX_SEGMENTS) -> list[Rendered]:
    """Renders replies for a channel; SMS and WhatsApp get options as numbered lines."""
    out: list[Rendered] = []
    for reply in replies:
        t = i18n(reply.lang)
        lines = [t.render(for_channel(p, channel)) for p in reply.text]
        buttons = tuple(Button(c.value, c.number, t.render(for_channel(c.label, channel))) for c in reply.choices)
        if channel not in BUTTON_CHANNELS:
            lines.extend(f"{b.number}) {b.label}" for b in buttons)
        hint = t.render(for_channel(reply.hint, channel)) if reply.hint is not None else None
        if hint:
            lines.append(hint)
        text = "\n".join(line for line in lines if line)
        pieces = split_message(text, max_segments) if channel not in BUTTON_CHANNELS else [text]
        for i, piece in enumerate(pieces):
            info = segment_info(piece)
            last = i == len(pieces) - 1
            out.append(Rendered(piece, reply.lang, info.segments, info.encoding,
                                buttons if last else (), reply.multi and last, reply.asks if last else None,
                                reply.turn if last else None, hint if last else None))
    return out
