"""Babel extractor for the YAML data files: pulls every user-facing msgid with its line and context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

# Keys whose string values (or lists of strings) are shown to people and so are msgids.
TRANSLATABLE_KEYS = frozenset({
    "prompt", "text", "why", "before", "label", "reprompt",  # flows
    "pass", "fail", "review", "unknown",  # rules
    "summary", "training", "credential", "length", "translated_name",  # program catalog
    "reason", "note",  # matching and catalog notes shown to people
    "english_name",  # a language's name in English (languages.yaml), said in the person's language
})
# Keys whose mapping's every string value is a msgid, the mapping's key saying where (channel_wording.yaml).
TRANSLATABLE_MAPPINGS = frozenset({"instead"})


def _walk(node: yaml.Node, context: str, key: str | None) -> Iterator[tuple[int, str, str]]:
    if isinstance(node, yaml.ScalarNode):
        if key in TRANSLATABLE_KEYS and node.tag == "tag:yaml.org,2002:str" and node.value.strip():
            yield node.start_mark.line + 1, node.value, context
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, context, key)
    elif isinstance(node, yaml.MappingNode) and key in TRANSLATABLE_MAPPINGS:
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode) and v.tag == "tag:yaml.org,2002:str" \
                    and v.value.strip():
                yield v.start_mark.line + 1, v.value, f"{context} > {k.value} channel" if context else f"{k.value} channel"
    elif isinstance(node, yaml.MappingNode):
        ident = next((v.value for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == "id"
                      and isinstance(v, yaml.ScalarNode)), None)
        here = f"{context} > {ident}" if ident and context else (ident or context)
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                yield from _walk(v, here, k.value)


def extract_yaml(fileobj: IO[bytes], keywords: Any, comment_tags: Any,
                 options: dict[str, Any]) -> Iterator[tuple[int, None, str, list[str]]]:
    """Babel extraction method: yields (lineno, funcname, message, comments) for each msgid."""
    text = fileobj.read().decode(options.get("encoding", "utf-8"))
    root = yaml.compose(text)
    if root is None:
        return
    for line, message, context in _walk(root, "", None):
        yield line, None, message, [f"where: {context}"] if context else []
