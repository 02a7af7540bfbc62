"""The corpus's keyword side, run through the real engine: no request to stop is missed, no keyword misread.

Covers every entry that expects an opt-out, HELP, BACK, PERSON or a language, and every first
message and answer to "continue where you left off?" (tests/data/utterances/, bench/understanding.py).
"""

from __future__ import annotations

import pytest

from bench import understanding as bench

KEYWORD_EXPECTS = ("opt-out", "help", "back", "person", "language")
TARGET_UNDERSTOOD = 90.0



def is_keyword_entry(entry) -> bool:
    """An entry of the keyword side: a keyword action or language expected, or a first/resume message."""
    e = entry.expect
    return entry.at in bench.MOMENTS or (isinstance(e, str) and (e in KEYWORD_EXPECTS or e.startswith("language:")))


@pytest.fixture(scope="module")
def results():
    corpus = {lang: [e for e in entries if is_keyword_entry(e)] for lang, entries in bench.load_corpus().items()}
    return bench.run(bench.Bench(), corpus)


def _listing(rows) -> str:
    return "\n".join(f"{r.entry.where}: {r.entry.text!r} at {r.entry.at}, expected {r.entry.expect!r}, got {r.got!r}"
                     for r in rows)


def test_no_request_to_stop_in_the_corpus_is_missed(results) -> None:
    missed = [r for r in results if r.missed_opt_out]
    assert not missed, "missed opt-outs:\n" + _listing(missed)


def test_no_keyword_first_message_or_resume_answer_is_misread(results) -> None:
    misread = [r for r in results if r.outcome == "misread"]
    assert not misread, "misread:\n" + _listing(misread)


def test_each_language_understands_at_least_nine_in_ten_of_its_keyword_entries(results) -> None:
    table = bench.summary(results)
    low = {lang: row["understood_pct"] for lang, row in table.items() if row["understood_pct"] < TARGET_UNDERSTOOD}
    assert len(table) == len(bench.LANGUAGES) and not low, f"below {TARGET_UNDERSTOOD}%: {low}"
