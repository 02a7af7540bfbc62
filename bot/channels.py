"""What each channel can show and carry: the one place a channel's limits are declared."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    """A channel's presentation limits and what its address is."""

    name: str
    label: str
    buttons: bool  # people tap options; otherwise options are numbered lines they type
    max_chars: int | None  # one message's hard ceiling at the provider
    max_segments: int | None  # our own SMS cost ceiling per message; None where nothing is billed by segment
    phone_address: bool  # the address is a phone number staff could call back
    # Billed by the segment, so a plain letter instead of an accented one saves money (SMS_PLAIN_LANGUAGES);
    # WhatsApp shares the 3-segment layout but is billed per conversation.
    segment_billed: bool = False


# Twilio accepts a 1,600-character body for SMS and WhatsApp; our 3-segment budget is far below it.
# Telegram's sendMessage takes 1-4096 characters.
CHANNELS: dict[str, Capabilities] = {c.name: c for c in (
    Capabilities("sms", "SMS", buttons=False, max_chars=1600, max_segments=3, phone_address=True,
                 segment_billed=True),
    Capabilities("whatsapp", "WhatsApp", buttons=False, max_chars=1600, max_segments=3, phone_address=True),
    Capabilities("telegram", "Telegram", buttons=True, max_chars=4096, max_segments=None, phone_address=False),
    Capabilities("web", "Web", buttons=True, max_chars=None, max_segments=None, phone_address=False),
)}


def capabilities(channel: str) -> Capabilities:
    """The named channel's capabilities; KeyError names an unknown channel."""
    try:
        return CHANNELS[channel]
    except KeyError:
        raise KeyError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}") from None


def register(caps: Capabilities) -> None:
    """Adds a channel a new adapter brings; a name must always mean the same capabilities."""
    known = CHANNELS.setdefault(caps.name, caps)
    if known != caps:
        raise ValueError(f"channel {caps.name!r} is declared twice, differently: {known} and {caps}")
