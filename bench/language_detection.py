"""First-message language: the engine's rules against lingua-language-detector, on the corpus.

    .venv/bin/python bench/language_detection.py            # needs: pip install lingua-language-detector

Judges both on every `at: start` entry of tests/data/utterances (and utterances_heldout, when it
exists) that expects a language or `ask`, and prints accuracy, time per message and the memory
lingua's models take. lingua is not a dependency: it is measured here to decide whether it should be.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.understanding import CORPUS_DIR, Bench, load_corpus, run_moment

# lingua has no Khmer (its script settles it) and one Chinese: Han text goes to our own reading.
LINGUA = {"ENGLISH": "en", "SPANISH": "es", "KOREAN": "ko", "VIETNAMESE": "vi", "TAGALOG": "tl",
          "ARMENIAN": "hy", "RUSSIAN": "ru", "PERSIAN": "fa", "ARABIC": "ar", "JAPANESE": "ja",
          "HINDI": "hi", "THAI": "th", "CHINESE": "zh"}


def starts() -> list:
    dirs = [CORPUS_DIR] + [d for d in [CORPUS_DIR.parent / "utterances_heldout"] if d.is_dir()]
    entries = []
    for d in dirs:
        for lang_entries in load_corpus(d).values():
            entries += [e for e in lang_entries
                        if e.at == "start" and (e.expect == "ask" or str(e.expect).startswith("language:"))]
    return entries


def rss_mb() -> float:
    """This process's resident memory: lingua's models live in Rust, where tracemalloc cannot see."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    try:
        from lingua import Language, LanguageDetectorBuilder
    except ImportError:
        print("lingua-language-detector is not installed: .venv/bin/pip install lingua-language-detector")
        return 0
    entries = starts()
    bench = Bench()
    t = time.perf_counter()
    ours = [run_moment(bench, e, {}).got for e in entries]
    ours_ms = (time.perf_counter() - t) * 1000 / len(entries)

    before = rss_mb()
    t = time.perf_counter()
    detector = (LanguageDetectorBuilder.from_languages(*(getattr(Language, n) for n in LINGUA))
                .with_preloaded_language_models().build())
    load_s = time.perf_counter() - t
    memory = rss_mb() - before
    t = time.perf_counter()
    found = [detector.detect_language_of(e.text) for e in entries]
    lingua_ms = (time.perf_counter() - t) * 1000 / len(entries)

    def lingua_says(entry, language) -> str:
        if any("\u1780" <= ch <= "\u17ff" for ch in entry.text):
            return "language:km"  # the script settles Khmer, which lingua does not know
        if language is None:
            return "ask"
        lang = LINGUA[language.name]
        if lang == "zh":  # Traditional or Simplified is a question of characters, not of language
            if entry.expect == "ask":
                return "ask"
            return entry.expect if entry.expect in ("language:zh-Hant", "language:zh-Hans") else "language:zh"
        return "language:" + lang

    ours_ok = sum(got == e.expect for got, e in zip(ours, entries, strict=True))
    lingua_ok = sum(lingua_says(e, f) == e.expect for f, e in zip(found, entries, strict=True))
    print(f"{len(entries)} first messages that name a language or should be asked about")
    print(f"  engine rules: {ours_ok} right ({ours_ok / len(entries):.0%}), {ours_ms:.2f} ms a message")
    print(f"  lingua:       {lingua_ok} right ({lingua_ok / len(entries):.0%}), {lingua_ms:.2f} ms a message, "
          f"models {memory:.0f} MB resident, loaded in {load_s:.1f} s "
          "(Chinese scripts counted right for lingua whenever it said Chinese)")
    wrong = [(e.lang, e.text, e.expect, lingua_says(e, f))
             for f, e in zip(found, entries, strict=True) if lingua_says(e, f) != e.expect]
    for lang, text, want, got in wrong[:25]:
        print(f"    lingua {lang:8} {text!r}: wanted {want}, said {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
