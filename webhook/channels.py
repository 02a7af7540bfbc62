"""The channel registry: the app factory, CSRF exemptions, admin labels, staff senders and the CLI all read it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import click
from flask import Blueprint, Flask, current_app
from flask.cli import NoAppException, ScriptInfo

from bot import channels as bot_channels
from bot.channels import Capabilities
from bot.outbound import Sender
from webhook import telegram_channel, twilio_channel, webchat, webform
from webhook.adapter import Adapter

ADAPTERS: tuple[Adapter, ...] = (twilio_channel.ADAPTER, telegram_channel.ADAPTER, webchat.ADAPTER, webform.ADAPTER)


class Registry:
    """The adapters one app serves, and the channels they bring."""

    def __init__(self, adapters: Iterable[Adapter]) -> None:
        self.adapters = tuple(adapters)
        names = [a.name for a in self.adapters]
        if len(set(names)) != len(names):
            raise ValueError(f"two channel adapters share a name: {names}")
        self.channels: dict[str, Capabilities] = {}
        for adapter in self.adapters:
            for caps in adapter.channels:
                # The engine and store know channels only from bot.channels: a new adapter's channel joins it there.
                bot_channels.register(caps)
                self.channels[caps.name] = caps

    def labels(self) -> dict[str, str]:
        """Channel name -> what staff read, in the adapters' order."""
        return {name: caps.label for name, caps in self.channels.items()}

    def names(self, where: Callable[[Capabilities], bool] | None = None) -> list[str]:
        return [name for name, caps in self.channels.items() if where is None or where(caps)]

    def blueprints(self) -> list[Blueprint]:
        return [bp for a in self.adapters for bp in a.blueprints]

    def csrf_exempt(self) -> list[Blueprint]:
        return [bp for a in self.adapters if a.csrf_exempt for bp in a.blueprints]

    def commands(self) -> list[click.Command]:
        return [cmd for a in self.adapters for cmd in a.commands]

    def senders(self, config: Mapping[str, Any]) -> dict[str, Sender]:
        """The staff-message senders the settings allow, by channel; a channel without one cannot be written to."""
        out: dict[str, Sender] = {}
        for adapter in self.adapters:
            if adapter.senders is None:
                continue
            mine = {c.name for c in adapter.channels}
            for channel, sender in adapter.senders(config).items():
                if channel not in mine:
                    raise ValueError(f"the {adapter.name} adapter offers a sender for {channel!r}, which it does not carry")
                out[channel] = sender
        return out

    def install(self, app: Flask) -> None:
        """Registers every adapter's routes and commands on the app (CSRF exemptions come with CSRFProtect)."""
        app.extensions["hrtp_channels"] = self
        for bp in self.blueprints():
            app.register_blueprint(bp)
        for command in self.commands():
            app.cli.add_command(command)


def registry(app: Flask | None = None) -> Registry:
    """The registry of this app (the current one by default)."""
    return (app or current_app).extensions["hrtp_channels"]


def _registry_for(ctx: click.Context | None) -> Registry:
    info = ctx.find_object(ScriptInfo) if ctx is not None else None
    if info is not None:
        try:
            return registry(info.load_app())
        except NoAppException:
            pass  # a command run outside the app (tests invoke groups directly): the built-in adapters
    return Registry(ADAPTERS)


class ChannelChoice(click.ParamType):
    """A --channel option whose choices are the channels of the app's registry (optionally only some)."""

    name = "channel"

    def __init__(self, where: Callable[[Capabilities], bool] | None = None) -> None:
        self.where = where

    def choices(self, ctx: click.Context | None) -> list[str]:
        return _registry_for(ctx).names(self.where)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "[" + "|".join(self.choices(ctx)) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        choices = self.choices(ctx)
        if value in choices:
            return str(value)
        self.fail(f"{value!r} is not one of {', '.join(choices)}.", param, ctx)
