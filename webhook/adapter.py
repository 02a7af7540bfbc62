"""What a channel adapter declares: its channels, routes, staff senders and commands (webhook/channels.py lists them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click
from flask import Blueprint

from bot.channels import Capabilities
from bot.outbound import Sender

SenderFactory = Callable[[Mapping[str, Any]], dict[str, Sender]]


@dataclass(frozen=True)
class Adapter:
    """One way people reach the intake; plugging it into webhook.channels.ADAPTERS is all a new channel needs."""

    name: str
    channels: tuple[Capabilities, ...]
    blueprints: tuple[Blueprint, ...]
    # Routes the provider signs (or that take JSON only, never a browser form) need no CSRF token.
    csrf_exempt: bool
    # The senders staff messages go through, keyed by channel, from the settings; {} when not configured.
    senders: SenderFactory | None = None
    commands: tuple[click.Command, ...] = ()
