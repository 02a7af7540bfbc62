"""Reads keywords as people say them: STOP with emoji or "pls", "stop texting me", "en español", "咩意思？"."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from intake_flows.answers import fold, is_dense
from intake_flows.schema import KeywordFile, Language, PhraseFile

# Actions a phrase (not only a keyword) may take; RESTART, NEW and DELETE erase or leave answers,
# so they act on their exact words alone.
PHRASE_ACTIONS = ("opt_out", "help", "back", "person")
_QUESTION_MARKS = set("?？¿؟;")
# Clause breaks: "Stop! Don't text me." is two requests to stop.
_CLAUSES = re.compile(r"[,.;!\n。！，、،؛?？]+")
_KEEP_CATEGORIES = ("L", "N", "M", "Z")
# A web page's link code (bot.links makes them): six of these, at least one letter and one digit. No 0/O,
# 1/I/L or U, as it is read off a screen, so "unos 30" or "like 25" never reads as one.
LINK_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LINK_LENGTH = 6
_LINK_CODE = re.compile(rf"(?=[a-z0-9]*[a-z])(?=[a-z0-9]*[0-9])[{LINK_ALPHABET.lower()}]{{{LINK_LENGTH}}}")
LINK_MESSAGE = 60  # characters; a longer message is about something else


def _clauses(text: str) -> list[str]:
    """The message cut at punctuation, and at spaces in scripts that write words together: a space
    is where Thai, Khmer, Chinese and Japanese writers break a sentence ("พอแล้ว ไม่ต้องส่งมา")."""
    out: list[str] = []
    for part in _CLAUSES.split(text):
        out += part.split() if is_dense(part) else [part]
    return out


@dataclass(frozen=True)
class Intent:
    """What a message asks for: a keyword action, a language to switch to, or perhaps a stop."""

    action: str                   # a keywords.yaml action, "switch" (to a named language) or "maybe_stop"
    langs: tuple[str, ...] = ()   # for "switch": the languages named; otherwise the languages whose words matched
    exact: bool = True            # False when only a phrase (not the keyword itself) matched
    answerable: bool = False      # an opt_out that may answer the question waiting ("ya no": not any more)


def core(text: str) -> str:
    """The folded message without emoji and symbols ("STOP 🙏" -> "stop"); "don't" reads as "dont"."""
    text = re.sub(r"(?<=\w)['’`´](?=\w)", "", text)
    kept = "".join(ch if unicodedata.category(ch)[0] in _KEEP_CATEGORIES and ch not in "\ufe0f\ufe0e\u20e3" else " "
                   for ch in text)
    return " ".join(fold(kept).split())


class Intents:
    """Keyword words and per-language phrases, folded once; `read` says what one message asks for."""

    def __init__(self, keywords: KeywordFile, phrases: PhraseFile | None, languages: Sequence[Language]) -> None:
        self.keywords: dict[str, set[str]] = {}
        for action, words in keywords.keywords.items():
            for w in words:
                self.keywords.setdefault(core(w), set()).add(action)
        self.phrases: dict[str, set[str]] = {}
        self.said_in: dict[str, set[str]] = {}
        self.names: dict[str, set[str]] = {}
        self.fillers: set[str] = set()
        self.answerable: set[str] = set()
        self.cues: set[str] = set()
        self.greetings: dict[str, set[str]] = {}
        self.resume: dict[str, tuple[str, ...]] = {}
        for lang in languages:
            # A language's own name and its listed names switch to it; its id ("hi", "ja") never does.
            for w in (lang.name, *lang.words):
                self.names.setdefault(core(w), set()).add(lang.id)
        for lang_id, block in (phrases.phrases if phrases else {}).items():
            for action in PHRASE_ACTIONS:
                for w in getattr(block, action):
                    self.phrases.setdefault(core(w), set()).add(action)
                    self.said_in.setdefault(core(w), set()).add(lang_id)
            for w in block.opt_out_unless_answer:
                self.phrases.setdefault(core(w), set()).add("opt_out")
                self.said_in.setdefault(core(w), set()).add(lang_id)
                self.answerable.add(core(w))
            for named, words in block.languages.items():
                for w in words:
                    self.names.setdefault(core(w), set()).add(named)
            self.fillers |= {core(w) for w in block.filler}
            self.cues |= {core(w) for w in block.maybe_stop}
            for w in block.greetings:
                self.greetings.setdefault(core(w), set()).add(lang_id)
            self.resume[lang_id] = block.resume
        for action, words in keywords.keywords.items():
            if action in PHRASE_ACTIONS:
                for w in words:
                    self.said_in.setdefault(core(w), set())
        # A phrase some language lists as a plain opt-out (or as another action), or a keyword, stays what it is there.
        plain = {core(w) for block in (phrases.phrases.values() if phrases else ()) for w in block.opt_out}
        self.answerable = {w for w in self.answerable
                           if self.phrases[w] == {"opt_out"} and w not in self.keywords and w not in plain}
        self.link_words = sorted({core(w) for block in (phrases.phrases.values() if phrases else ())
                                  for w in block.link} - {""}, key=len, reverse=True)
        self.fillers.discard("")
        self._dense_fillers = sorted((f for f in self.fillers if is_dense(f)), key=len, reverse=True)
        self._link_words = [(w, is_dense(w)) for w in self.link_words]
        # One pattern for every cue, read on each message: a cue in a dense script may sit inside a word, any
        # other only between spaces. Testing the cues one by one, each asked whether it is dense, was 4% of a turn.
        self.cues.discard("")
        cues = sorted(self.cues, key=len, reverse=True)
        self._cue = re.compile("|".join(re.escape(cue) if is_dense(cue) else rf"(?<![^ ]){re.escape(cue)}(?![^ ])"
                                        for cue in cues)) if cues else None

    # ---- reading one message --------------------------------------------------------------------
    def keyword(self, text: str) -> str | None:
        """The action of a message that is exactly one keyword word, as before phrases existed."""
        actions = self.keywords.get(core(text), set())
        return next(iter(actions)) if len(actions) == 1 else None

    def read(self, text: str) -> Intent | None:
        """The keyword, phrase or language a whole message asks for; "maybe_stop" for a stop word inside it."""
        stripped = "".join(text.split())
        if stripped and set(stripped) <= _QUESTION_MARKS:
            return Intent("help", exact=False)
        c = core(text)
        if not c:
            return None
        exact = self.keywords.get(c)
        if exact and len(exact) == 1:
            action = next(iter(exact))
            return Intent(action, tuple(sorted(self.said_in.get(c, ()))))
        found = self._phrase(c)
        if found:
            return found
        clauses = [core(p) for p in _clauses(text)]
        clauses = [p for p in clauses if p and p not in self.fillers]
        if len(clauses) > 1 and all(self._is_opt_out(p) for p in clauses):
            return Intent("opt_out", exact=False)
        if self._has_cue(c):
            return Intent("maybe_stop", exact=False)
        return None

    def _phrase(self, c: str) -> Intent | None:
        for v in self.variants(c):
            actions = (self.keywords.get(v, set()) & set(PHRASE_ACTIONS)) | self.phrases.get(v, set())
            if len(actions) == 1:
                return Intent(next(iter(actions)), tuple(sorted(self.said_in.get(v, ()))), exact=False,
                              answerable=v in self.answerable)
            if "opt_out" in actions:
                return Intent("opt_out", exact=False)  # Never let another reading hide a request to stop.
            named = self.names.get(v)
            if named:
                return Intent("switch", tuple(sorted(named)), exact=False)
        return None

    def _is_opt_out(self, c: str) -> bool:
        return any("opt_out" in self.keywords.get(v, set()) or "opt_out" in self.phrases.get(v, set())
                   for v in self.variants(c))

    def _has_cue(self, c: str) -> bool:
        return self._cue is not None and self._cue.search(c) is not None

    def variants(self, c: str) -> Iterator[str]:
        """The folded message, then with filler words peeled off either end ("stop pls" -> "stop")."""
        seen = {c}
        yield c
        frontier = [c]
        for _ in range(4):
            nxt = []
            for s in frontier:
                for v in self._peel(s):
                    if v and v not in seen:
                        seen.add(v)
                        nxt.append(v)
                        yield v
            frontier = nxt
            if not frontier:
                return

    def _peel(self, s: str) -> Iterable[str]:
        words = s.split()
        for n in (1, 2, 3):
            if len(words) > n:
                if " ".join(words[-n:]) in self.fillers:
                    yield " ".join(words[:-n])
                if " ".join(words[:n]) in self.fillers:
                    yield " ".join(words[n:])
        for f in self._dense_fillers:
            if s.endswith(f) and len(s) > len(f):
                yield s[: -len(f)].strip()
            if s.startswith(f) and len(s) > len(f):
                yield s[len(f):].strip()

    def link_code(self, text: str) -> str | None:
        """The code in a message that is a web page's link code ("K7Q 4MX", "my code is k7q4mx"), upper case."""
        if len(text) > LINK_MESSAGE:
            return None
        c = f" {core(text)} "
        for w, dense in self._link_words:
            c = c.replace(w, " ") if dense else c.replace(f" {w} ", "  ")
        words = [w for w in c.split() if w not in self.fillers]
        joined = "".join(words)
        # Typed in two, a code breaks in its middle ("K7Q 4MX"); "maybe 4" is an answer.
        halves = len(words) == 1 or (len(words) == 2 and len(words[0]) == len(words[1]))
        return joined.upper() if halves and _LINK_CODE.fullmatch(joined) else None

    # ---- first messages and going on --------------------------------------------------------------
    def greeting(self, text: str) -> tuple[str, ...]:
        """The languages whose greeting (or a greeting followed by more words) opens the message."""
        c = core(text)
        for v in self.variants(c):
            if v in self.greetings:
                return tuple(sorted(self.greetings[v]))
        words = c.split()
        for n in (3, 2, 1):
            head = " ".join(words[:n])
            if len(words) > n and head in self.greetings and not is_dense(head):
                return tuple(sorted(self.greetings[head]))
        return ()

    def continue_words(self, lang: str) -> tuple[str, ...]:
        """Ways to say "continue" at the resume question, in the person's language and English."""
        return (*self.resume.get(lang, ()), *self.resume.get("en", ()))
