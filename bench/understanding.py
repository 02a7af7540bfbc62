"""Measures how well the bot understands people as they write: every corpus entry, once, through the real engine.

Each entry of tests/data/utterances/<lang>.yaml is sent as one message to a conversation that is
waiting at that entry's question, in that language (the state comes from driving the pure engine
through the flow with plain option numbers, no database). The outcome is sorted as:

- understood: the expected value was recorded or the expected action taken (for `ask`: nothing
  was recorded and the question, or a clarifying one, was asked);
- asked again: nothing recorded and the question asked again, where a value or action was expected
  (a missed chance, not a wrong record);
- misread: a value recorded that differs from what was expected, a value recorded where the entry
  expects `ask`, an opt-out or keyword treated as an answer, or another action taken than the one meant.

A missed opt-out (expected `opt-out`, not opted out) is counted in its own column as well.

    .venv/bin/python bench/understanding.py [--json] [--show-misreads] [--show-asked] [--lang es ...]
                                            [--corpus tests/data/utterances_heldout]

It always exits 0: it is a measurement; the test that fails on misreads comes with the fixes.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from intake_flows.catalog import load_catalog  # noqa: E402
from intake_flows.matching import make_matcher  # noqa: E402
from intake_flows.schema import Flow, Step  # noqa: E402

from bot.engine import ContactState, Conversation, Engine, EngineContext, Outcome  # noqa: E402
from bot.events import AnswerRecorded, Skipped  # noqa: E402
from bot.messages import InboundMessage  # noqa: E402
from bot.service import Runtime  # noqa: E402

CORPUS_DIR = ROOT / "tests" / "data" / "utterances"
# Written blind, without reading the understanding data: an honest measure of phrasings its authors never saw.
HELDOUT_DIR = ROOT / "tests" / "data" / "utterances_heldout"
HELDOUT_MIN_ENTRIES = 40
LANGUAGES = ("en", "es", "zh-Hant", "zh-Hans", "ko", "vi", "tl", "hy", "ru", "fa", "km", "ar", "ja", "hi", "th")
MIN_ENTRIES = 60
ACTIONS = ("ask", "opt-out", "help", "back", "person", "language", "skip")
# Two moments that are not flow steps: the very first message from a new number (which language
# the bot goes on in), and "continue where you left off?" after a long gap.
MOMENTS = {"start": ("ask", "opt-out"), "resume": ("continue", "restart", "ask", "opt-out", "help", "person")}
TALK = "talk_to_someone"
T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
# The HELP reply's first line; the engine emits no event for it, so the bench knows it by its msgid.
HELP_MSGID_START = "LA County High Road Training Partnerships: free job-training screening by text"

# The answers (by value id) that walk a person to every question; a ZIP of "none" is the branch
# that reaches the LA County question.
PLAN: dict[str, Any] = {
    "consent": "yes", "first_name": "Ana", "zip": "90011", "age_range": "25_54", "employment": "unemployed",
    "sectors": ["construction"], "education": "hs_ged", "drivers_license": "yes", "housing": "stable",
    "background": ["none"], "needs": ["none"], "program_choice": "shown:1", "gender": "woman",
    "race_ethnicity": ["latino"], "la_county": "yes",
}


# ---- the corpus --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    lang: str
    at: str          # a field id, or the id of a step that sets several fields
    text: str
    expect: Any      # str | list[str] | dict[str, str]
    note: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.lang}.yaml:{self.line}"


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of each mapping, so problems point at the entry."""


def _mapping_with_line(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    data = loader.construct_mapping(node, deep=True)
    data["__line__"] = node.start_mark.line + 1
    return data


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def load_corpus(directory: Path = CORPUS_DIR, languages: Iterable[str] = LANGUAGES) -> dict[str, list[Entry]]:
    """Every language's entries as written; structure is checked by `problems`, not here."""
    out: dict[str, list[Entry]] = {}
    for lang in languages:
        path = directory / f"{lang}.yaml"
        if not path.exists():
            out[lang] = []
            continue
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader) or {}
        entries = []
        for raw in doc.get("entries") or []:
            raw = dict(raw)
            line = raw.pop("__line__", 0)
            if isinstance(raw.get("expect"), dict):
                raw["expect"] = {k: v for k, v in raw["expect"].items() if k != "__line__"}
            entries.append(Entry(lang, raw.get("at"), raw.get("text"), raw.get("expect"), raw.get("note", ""), line))
        out[lang] = entries
    return out


def step_for(flow: Flow, at: str) -> Step | None:
    """The question an entry answers: the step asking that field, or the step of that id."""
    by_field = {f: s for s in flow.steps for f in s.answer_fields}
    return by_field.get(at) or flow.by_id.get(at)


def _value_ids(step: Step, language_ids: Sequence[str]) -> set[str]:
    if step.kind == "language":
        return set(language_ids)
    if step.kind == "yesno":
        return {"yes", "no"}
    return {o.id for o in step.options}


def entry_problems(entry: Entry, flow: Flow, language_ids: Sequence[str]) -> list[str]:
    """What is wrong with one entry against the loaded flow; empty when it is valid."""
    where = f"{entry.where}: "
    if not isinstance(entry.at, str):
        return [where + "`at` must name a field or step"]
    if entry.at in MOMENTS:
        if not isinstance(entry.text, str) or not entry.text.strip():
            return [where + "`text` must be a non-empty string (quote numbers)"]
        e = entry.expect
        ok = isinstance(e, str) and (e in MOMENTS[entry.at] or (
            entry.at == "start" and e.startswith("language:") and e.split(":", 1)[1] in language_ids))
        return [] if ok else [where + f"at {entry.at}, expect one of {MOMENTS[entry.at]}"
                              + (" or language:<id>" if entry.at == "start" else "") + f", not {e!r}"]
    step = step_for(flow, entry.at)
    if step is None or step.kind in ("result", "end"):
        return [where + f"`at: {entry.at}` is neither a field nor a question step of the flow"]
    if step.kind == "flags" and entry.at != step.id:
        return [where + f"`{entry.at}` is asked by the `{step.id}` question: name the step"]
    if not isinstance(entry.text, str) or not entry.text.strip():
        return [where + "`text` must be a non-empty string (quote numbers)"]
    e = entry.expect
    if isinstance(e, str):
        if e in ACTIONS:
            return []
        if e.startswith("language:"):
            return [] if e.split(":", 1)[1] in language_ids else [where + f"unknown language in {e!r}"]
        if step.kind == "text":
            return [] if e.strip() else [where + "an empty name"]
        if step.kind == "zip":
            return [] if e == "none" or (len(e) == 5 and e.isdigit()) else [where + f"{e!r} is not a ZIP or none"]
        if step.kind == "program_choice":
            ok = e == TALK or (e.startswith("shown:") and e[6:].isdigit())
            return [] if ok else [where + f"{e!r} is neither talk_to_someone nor shown:N (the Nth program listed)"]
        if step.kind in ("multi", "flags"):
            return [where + f"a {step.kind} question expects a list of option ids, not {e!r}"]
        return [] if e in _value_ids(step, language_ids) else [where + f"{e!r} is not a value of {entry.at}"]
    if isinstance(e, list):
        if step.kind not in ("multi", "flags"):
            return [where + f"a list is only for multi-choice questions, not {entry.at}"]
        ids = _value_ids(step, language_ids)
        bad = [v for v in e if not isinstance(v, str) or v not in ids]
        if bad or not e:
            return [where + f"{bad or e!r} not option ids of {entry.at}"]
        return []
    if isinstance(e, dict):
        if step.kind != "flags":
            return [where + "a mapping of fields is only for a question that sets several fields"]
        bad = [f"{k}={v!r}" for k, v in e.items() if k not in step.fields or v not in ("yes", "no", "prefer_not")]
        return [where + f"{bad} are not fields/values of {step.id}"] if bad or not e else []
    return [where + f"`expect` must be a string, a list or a mapping, not {e!r} (quote yes/no/numbers)"]


def problems(corpus: Mapping[str, Sequence[Entry]], flow: Flow, language_ids: Sequence[str],
             minimum: int = MIN_ENTRIES) -> list[str]:
    """Every structural problem of the corpus: unknown ids, wrong shapes, too few entries, duplicates."""
    out: list[str] = []
    for lang, entries in corpus.items():
        if len(entries) < minimum:
            out.append(f"{lang}.yaml: {len(entries)} entries, at least {minimum} needed")
        seen: dict[tuple[str, str], int] = {}
        for entry in entries:
            out += entry_problems(entry, flow, language_ids)
            key = (str(entry.at), str(entry.text))
            if key in seen:
                out.append(f"{entry.where}: the same text at the same question as line {seen[key]}")
            seen.setdefault(key, entry.line)
    return out


# ---- the conversation states ---------------------------------------------------------------------

class Bench:
    """The real engine with the shipped flow, catalog and translations, and a state at every question."""

    def __init__(self) -> None:
        self.runtime = Runtime.load(matcher=make_matcher(load_catalog()))
        ctx = EngineContext(self.runtime.bundle, self.runtime.i18n, self.runtime.screen, self.runtime.facts)
        self.engine = Engine(ctx)
        self.flow = self.runtime.bundle.flow
        self.language_ids = [lang.id for lang in self.runtime.bundle.languages]
        self.n = 0

    def send(self, convo: Conversation, text: str, now: datetime) -> Outcome:
        self.n += 1
        return self.engine.handle(convo, InboundMessage("sms", "+13235550199", text, f"SMBENCH{self.n:08d}"), now)

    def states(self, lang: str) -> dict[str, tuple[Conversation, datetime, tuple]]:
        """Per question step id, the conversation waiting at it in `lang`, its clock and the choices shown."""
        out: dict[str, tuple[Conversation, datetime, tuple]] = {}
        now = T0
        result = self.send(Conversation(ContactState(), None), "EASTLA1", now)
        plan = {"language": lang, **PLAN}
        for _ in range(40):
            convo = result.conversation
            intake = convo.intake
            if intake is None or intake.step is None:
                break
            asked = next((r for r in reversed(result.replies) if r.asks == intake.step), None)
            choices = asked.choices if asked else ()
            out[intake.step] = (convo, now, choices)
            if intake.step == "zip" and "la_county" not in out:
                now += timedelta(seconds=30)
                branch = self.send(convo, "none", now)
                b_intake = branch.conversation.intake
                assert b_intake and b_intake.step == "la_county", "a ZIP of none should lead to the LA County question"
                asked = next((r for r in reversed(branch.replies) if r.asks == "la_county"), None)
                out["la_county"] = (branch.conversation, now, asked.choices if asked else ())
            now += timedelta(seconds=30)
            result = self.send(convo, self._typed(intake.step, plan, choices), now)
        missing = [s.id for s in self.flow.steps if s.kind not in ("result", "end") and s.id not in out]
        assert not missing, f"the walk through the flow in {lang} never reached {missing}"
        return out

    def _typed(self, step_id: str, plan: Mapping[str, Any], choices: Sequence[Any]) -> str:
        step = self.flow.by_id[step_id]
        # A question added to the flow after this plan was written is answered with its first option.
        want = plan.get(step_id if step.kind == "flags" else step.field or step_id, "shown:1")
        if step.kind in ("text", "zip"):
            return want
        if isinstance(want, str) and want.startswith("shown:"):
            return want[6:]
        numbers = {c.value: c.number for c in choices}
        wanted = want if isinstance(want, list) else [want]
        return ",".join(str(numbers[v]) for v in wanted)


# ---- one entry ----------------------------------------------------------------------------------

@dataclass
class Result:
    entry: Entry
    outcome: str          # understood | asked_again | misread
    got: Any              # what the bot did: a value, or an action name
    replies: list[str] = field(default_factory=list)

    @property
    def missed_opt_out(self) -> bool:
        return self.entry.expect == "opt-out" and self.got != "opt-out"

    def to_json(self) -> dict[str, Any]:
        return {"lang": self.entry.lang, "at": self.entry.at, "text": self.entry.text, "expect": self.entry.expect,
                "got": self.got, "outcome": self.outcome, "missed_opt_out": self.missed_opt_out,
                "where": self.entry.where}


def what_happened(bench: Bench, step: Step, before: Conversation, out: Outcome) -> Any:
    """The bot's reading of the message: an action name, or the value(s) it recorded for the step."""
    events = out.events
    kinds = [e.kind for e in events]
    after = out.conversation
    if "opted_out" in kinds:
        return "opt-out"
    if any(isinstance(e, Skipped) and e.step == step.id for e in events):
        return "skip"
    recorded = {e.field: e.value for e in events if isinstance(e, AnswerRecorded) and e.step == step.id}
    if recorded:
        if step.kind == "flags":
            return recorded
        return recorded.get(step.field or "")
    if "handoff_requested" in kinds:
        return "person"
    if any(r.text and r.text[0].msgid.startswith(HELP_MSGID_START) for r in out.replies):
        return "help"
    before_lang = before.intake.lang if before.intake else None
    after_lang = after.intake.lang if after.intake else None
    if after_lang and after_lang != before_lang:
        return "language:" + after_lang
    if after.contact.pending_delete:
        return "delete"
    if "restarted" in kinds:
        return "restart"
    if any(e.kind == "intake_started" for e in events):
        return "new"
    new_step = after.intake.step if after.intake else None
    if new_step == "language" and step.id != "language":
        return "language"
    if new_step and new_step != step.id and bench.flow.index(new_step) < bench.flow.index(step.id):
        return "back"
    if new_step == step.id:
        return "ask"
    return f"moved on to {new_step}"


def _expected_value(step: Step, expect: Any) -> Any:
    """A flags answer as the fields it records (what the engine stores), anything else as written."""
    if step.kind == "flags" and isinstance(expect, list):
        if expect == ["prefer_not"]:
            return {f: "prefer_not" for f in step.fields}
        return {f: ("yes" if f in expect else "no") for f in step.fields}
    return expect


def _same(step: Step, got: Any, want: Any) -> bool:
    if isinstance(want, list) and isinstance(got, list):
        return set(got) == set(want)
    if step.kind == "text" and isinstance(got, str) and isinstance(want, str):
        return got.casefold().strip() == want.casefold().strip()
    return got == want


QUESTIONS = ("ask", "help")  # nothing recorded, and the person is asked (again)


def judge(step: Step, expect: Any, got: Any) -> str:
    """understood | asked_again | misread, for what the bot did against what the entry expects."""
    if expect == "ask":
        return "understood" if got in QUESTIONS else "misread"
    if isinstance(expect, str) and (expect in ACTIONS or expect.startswith("language:")):
        if got == expect:
            return "understood"
        if expect.startswith("language:") and got == "language":
            return "asked_again"  # the language list again: harmless, but not what was asked
        return "asked_again" if got in QUESTIONS else "misread"
    if got in QUESTIONS:
        return "asked_again"
    if step.kind == "program_choice" and expect == TALK and got == "person":
        return "understood"  # a staff hand-off either way
    return "understood" if _same(step, got, _expected_value(step, expect)) else "misread"


def run_moment(bench: Bench, entry: Entry, states: Mapping[str, tuple[Conversation, datetime, tuple]]) -> Result:
    """A first message from a new number, or an answer to "continue where you left off?"."""
    if entry.at == "start":
        now = T0
        out = bench.send(Conversation(ContactState(), None), entry.text, now)
        intake = out.conversation.intake
        if any(e.kind == "opted_out" for e in out.events):
            got = "opt-out"
        elif intake is not None and intake.lang:
            got = "language:" + intake.lang
        elif intake is not None and intake.step == "language":
            got = "ask"
        else:
            got = f"moved on to {intake.step if intake else None}"
    else:
        convo, now, _ = states["age_range"]
        convo = copy.deepcopy(convo)
        assert convo.intake is not None
        convo.intake.pending = "resume"
        out = bench.send(convo, entry.text, now + timedelta(seconds=20))
        kinds = {e.kind for e in out.events}
        if "opted_out" in kinds:
            got = "opt-out"
        elif "resumed" in kinds:
            got = "continue"
        elif "restarted" in kinds:
            got = "restart"
        elif "handoff_requested" in kinds:
            got = "person"
        elif any(r.text and r.text[0].msgid.startswith(HELP_MSGID_START) for r in out.replies):
            got = "help"
        else:
            got = "ask"
    expect = entry.expect
    if got == expect or (expect == "ask" and got in QUESTIONS):
        outcome = "understood"
    elif got in QUESTIONS:
        outcome = "asked_again"
    else:
        outcome = "misread"
    texts = [bench.runtime.i18n(entry.lang).render(m) for r in out.replies for m in r.text]
    return Result(entry, outcome, got, texts)


def run(bench: Bench, corpus: Mapping[str, Sequence[Entry]]) -> list[Result]:
    results: list[Result] = []
    for lang, entries in corpus.items():
        if not entries:
            continue
        states = bench.states(lang)
        for entry in entries:
            if entry.at in MOMENTS:
                results.append(run_moment(bench, entry, states))
                continue
            step = step_for(bench.flow, entry.at)
            assert step is not None, entry.where
            convo, now, choices = states[step.id]
            out = bench.send(convo, entry.text, now + timedelta(seconds=20))
            got = what_happened(bench, step, convo, out)
            if step.kind == "program_choice":
                # Programs are named by their place in the list shown, which the corpus cannot know by id.
                got = next((f"shown:{c.number}" for c in choices if c.value == got and c.value != TALK), got)
            texts = [bench.runtime.i18n(lang).render(m) for r in out.replies for m in r.text]
            results.append(Result(entry, judge(step, entry.expect, got), got, texts))
    return results


# ---- the report ---------------------------------------------------------------------------------

def summary(results: Sequence[Result]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for r in results:
        row = table.setdefault(r.entry.lang, {"entries": 0, "understood": 0, "asked_again": 0, "misread": 0,
                                              "opt_outs": 0, "missed_opt_outs": 0})
        row["entries"] += 1
        row[r.outcome] += 1
        row["opt_outs"] += r.entry.expect == "opt-out"
        row["missed_opt_outs"] += r.missed_opt_out
    for row in table.values():
        row["understood_pct"] = round(100 * row["understood"] / row["entries"], 1) if row["entries"] else 0.0
    return table


def print_table(table: Mapping[str, Mapping[str, Any]]) -> None:
    head = f"{'lang':<8} {'entries':>7} {'understood':>10} {'asked again':>11} {'misread':>7} {'missed opt-outs':>15}"
    print(head)
    print("-" * len(head))
    total = {"entries": 0, "understood": 0, "asked_again": 0, "misread": 0, "missed_opt_outs": 0, "opt_outs": 0}
    for lang, row in table.items():
        print(f"{lang:<8} {row['entries']:>7} {row['understood_pct']:>9.1f}% {row['asked_again']:>11} "
              f"{row['misread']:>7} {row['missed_opt_outs']:>9} of {row['opt_outs']:<3}")
        for k in total:
            total[k] += row[k]
    if len(table) > 1 and total["entries"]:
        print("-" * len(head))
        pct = 100 * total["understood"] / total["entries"]
        print(f"{'all':<8} {total['entries']:>7} {pct:>9.1f}% {total['asked_again']:>11} {total['misread']:>7} "
              f"{total['missed_opt_outs']:>9} of {total['opt_outs']:<3}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="machine output: the table and every result")
    parser.add_argument("--show-misreads", action="store_true", help="list every misread (and missed opt-out)")
    parser.add_argument("--show-asked", action="store_true", help="list every entry that was asked again")
    parser.add_argument("--lang", nargs="*", default=None, help="only these languages")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR,
                        help="the folder of <lang>.yaml files (default tests/data/utterances; the held-out one is "
                             "tests/data/utterances_heldout)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    bench = Bench()
    languages = [lang for lang in LANGUAGES if not args.lang or lang in args.lang]
    corpus = load_corpus(args.corpus, languages=languages)
    found = problems(corpus, bench.flow, bench.language_ids, minimum=0)
    if found:
        print("The corpus has problems (fix them first; tests/test_utterance_corpus.py checks the same):", file=sys.stderr)
        for p in found:
            print("  " + p, file=sys.stderr)
        return 0
    results = run(bench, corpus)
    table = summary(results)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"table": table, "seconds": round(seconds, 2),
                          "results": [r.to_json() for r in results]}, ensure_ascii=False, indent=1))
        return 0
    print_table(table)
    print(f"\n{len(results)} entries in {seconds:.1f} s (understood = the expected value or action; "
          "asked again = nothing recorded, asked again; misread = a wrong value or action)")
    listed: list[tuple[str, Iterable[Result]]] = []
    if args.show_misreads:
        listed.append(("misread", [r for r in results if r.outcome == "misread" or r.missed_opt_out]))
    if args.show_asked:
        listed.append(("asked again", [r for r in results if r.outcome == "asked_again"]))
    for title, rows in listed:
        print(f"\n{title}:")
        for r in rows:
            flag = " [missed opt-out]" if r.missed_opt_out else ""
            print(f"  {r.entry.where:<16} {r.entry.at:<16} {r.entry.text!r:<40} expected {r.entry.expect!r}, "
                  f"got {r.got!r}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
