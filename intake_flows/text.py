"""Translatable text as data: a gettext msgid with named parameters, rendered later per person."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Msg:
    """An English msgid and its named parameters; parameters may be Msg themselves."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    translate: bool = True

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"msgid": self.msgid,
                                "params": {k: v.to_json() if isinstance(v, Msg) else v for k, v in self.params.items()}}
        if not self.translate:
            data["translate"] = False
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Msg:
        if "items" in data:
            return MsgList("", items=tuple(cls.from_json(i) for i in data["items"]))
        params = {k: cls.from_json(v) if isinstance(v, dict) and "msgid" in v else v for k, v in data.get("params", {}).items()}
        return cls(data["msgid"], params, data.get("translate", True))


@dataclass(frozen=True)
class MsgList(Msg):
    """Several texts shown as one list in the reader's locale ("a, b and c")."""

    items: tuple[Msg, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"msgid": "", "items": [i.to_json() for i in self.items]}


def N_(msgid: str) -> str:
    """Marks a msgid for extraction without translating it now."""
    return msgid


def verbatim(text: str) -> Msg:
    """Text shown as is (a language's own name, a program's proper name)."""
    return Msg(text, translate=False)
