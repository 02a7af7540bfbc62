"""The held-out corpus (written blind, tests/data/utterances_heldout/) through the real engine: no misread, no missed opt-out.

Its understood share is measured, not held to a target here: raising it by adding its own phrasings
would stop it measuring anything. `bench/understanding.py --corpus tests/data/utterances_heldout`
prints the table.
"""

from __future__ import annotations

import pytest

from bench import understanding as bench


@pytest.fixture(scope="module")
def results():
    return bench.run(bench.Bench(), bench.load_corpus(bench.HELDOUT_DIR))


def _listing(rows) -> str:
    return "\n".join(f"{r.entry.where}: {r.entry.text!r} at {r.entry.at}, expected {r.entry.expect!r}, got {r.got!r}"
                     for r in rows)


def test_every_language_of_the_held_out_corpus_is_run(results) -> None:
    assert set(bench.summary(results)) == set(bench.LANGUAGES)


def test_no_request_to_stop_in_the_held_out_corpus_is_missed(results) -> None:
    missed = [r for r in results if r.missed_opt_out]
    assert not missed, "missed opt-outs:\n" + _listing(missed)


def test_nothing_in_the_held_out_corpus_is_misread(results) -> None:
    misread = [r for r in results if r.outcome == "misread"]
    assert not misread, "misread (a wrong value recorded, or another action than the one meant):\n" + _listing(misread)
