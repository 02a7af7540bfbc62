"""The engine's inputs and outputs: inbound messages and replies (events are in bot.events; no I/O, no frameworks)."""

from __future__ import annotations

from dataclasses import dataclass

from intake_flows.text import Msg


@dataclass(frozen=True)
class InboundMessage:
    """One message from a person, already parsed out of its channel's request."""

    channel: str
    sender: str
    text: str
    provider_id: str | None = None
    media_count: int = 0
    language_hint: str | None = None
    start_payload: str | None = None
    # A tapped button names the question it was shown under (step id and turn), so an old
    # button cannot answer a newer question; typed text leaves both None.
    answers_step: str | None = None
    answers_turn: int | None = None
    # A form's "Change" link: ask this already answered step again (the answer is kept until replaced).
    revisit: str | None = None
    # A web page's link code was texted (bot.links): "linked", "linked_replacing" (the phone's other
    # unfinished intake is kept apart) or "refused"; the service settles it before the engine runs.
    link: str | None = None
    # Whose words the replies are rendered in, when not the channel's own: "form" for the web form (bot.render).
    wording: str | None = None
    # Whether the sender's address is a phone staff can call back (bot.channels), set by the service: the
    # call-back questions ask for a number only where it is not.
    phone_address: bool = True


@dataclass(frozen=True)
class Choice:
    number: int
    value: str
    label: Msg


@dataclass(frozen=True)
class MatchReasons:
    """One training in the result: its name, why it fits (most telling first) and what to talk through with staff."""

    name: Msg
    pluses: tuple[Msg, ...] = ()  # a channel with a segment budget drops these, last first, to fit
    checks: tuple[Msg, ...] = ()  # never dropped: a check left out would be a promise


@dataclass(frozen=True)
class Reply:
    """One thing the bot says, as parts the channel lays out (bot.render): text, choices, a hint, the result's trainings."""

    text: tuple[Msg, ...]
    lang: str
    choices: tuple[Choice, ...] = ()
    multi: bool = False
    hint: Msg | None = None
    asks: str | None = None  # the step id this reply asks, so a channel can keep buttons apart
    turn: int | None = None  # which asking of it: a button carries both back with its answer
    # "Got it: ..." for the last answer, said first; where both would pass the channel's budget, it goes alone.
    readback: Msg | None = None
    matches: tuple[MatchReasons, ...] = ()  # after `text`, one block per training

