"""The utterance corpus's answers, through the real engine: no answer is ever recorded as something else.

Covers the entries at flow questions that expect a value, `ask` or `skip` (the answer side); the
opt-outs and keywords are the keyword layer's, measured by the same bench.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from bench import understanding as bench

KEYWORD_EXPECTS = ("opt-out", "help", "back", "person", "language")
MIN_UNDERSTOOD = 90.0  # percent, in every language



def is_answer_entry(entry) -> bool:
    """An answer to a flow question: a value, `ask` or `skip` (not a keyword, not the first message or resume)."""
    if entry.at in bench.MOMENTS:
        return False
    e = entry.expect
    return not (isinstance(e, str) and (e in KEYWORD_EXPECTS or e.startswith("language:")))


@lru_cache(maxsize=1)
def results() -> dict[str, list]:
    corpus = {lang: [e for e in entries if is_answer_entry(e)] for lang, entries in bench.load_corpus().items()}
    out: dict[str, list] = {}
    for r in bench.run(bench.Bench(), corpus):
        out.setdefault(r.entry.lang, []).append(r)
    return out


@pytest.mark.parametrize("lang", bench.LANGUAGES)
def test_no_answer_is_misread(lang):
    misread = [f"{r.entry.where} at {r.entry.at}: {r.entry.text!r} expected {r.entry.expect!r}, recorded {r.got!r}"
               for r in results()[lang] if r.outcome == "misread"]
    assert misread == []


@pytest.mark.parametrize("lang", bench.LANGUAGES)
def test_answers_are_understood_in_every_language(lang):
    rows = results()[lang]
    understood = 100 * sum(r.outcome == "understood" for r in rows) / len(rows)
    missed = [f"{r.entry.where}: {r.entry.text!r}" for r in rows if r.outcome != "understood"]
    assert understood >= MIN_UNDERSTOOD, missed


def test_the_answer_side_covers_most_of_the_corpus():
    assert sum(len(rows) for rows in results().values()) >= 1300
