"""Golden conversations, in the manner of nyaruka/goflow: the pure engine and the renderer, no database.

Each tests/golden/*.yaml gives a flow, a channel, a fixed clock and a script of inbound messages; below its
marker line, the replies as the channel shows them, the events and the final state. The flow is the one frozen
in tests/golden/flow/ laid over the shipped data (rules, programs, words), so a question the county adds to
the shipped flow changes its scenarios, not these; `flow:` names another folder to lay over the shipped data.
To rewrite the expected part after a deliberate change:

    HRTP_REGEN_GOLDEN=1 pytest tests/test_golden.py

then read the diff: it is the change in behaviour.
"""

from __future__ import annotations

import atexit
import difflib
import functools
import os
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from intake_flows.catalog import load_catalog
from intake_flows.matching import make_matcher
from intake_flows.schema import DATA_DIR

from bot.engine import ContactState, Conversation, Engine, EngineContext
from bot.events import EngineEvent, ScreeningCompleted
from bot.messages import InboundMessage
from bot.render import Rendered, render
from bot.service import Runtime

GOLDEN_DIR = Path(__file__).parent / "golden"
FROZEN_FLOW = GOLDEN_DIR / "flow"
MARKER = "# ---- expected: written by HRTP_REGEN_GOLDEN=1 pytest tests/test_golden.py; do not edit below ----"
REGEN = os.environ.get("HRTP_REGEN_GOLDEN") == "1"
STEP = timedelta(seconds=30)  # the clock moves this much before each message unless the script says `wait`
SCRIPT_KEYS = {"text", "answers", "media", "tapped", "wait", "hint"}
FILES = sorted(GOLDEN_DIR.glob("*.yaml"))


@functools.cache
def runtime(overlay: Path) -> Runtime:
    """The shipped data with the overlay folder's files in place of the shipped ones."""
    flow_dir = Path(tempfile.mkdtemp(prefix="hrtp-golden-"))
    atexit.register(shutil.rmtree, flow_dir, True)
    for source in (*DATA_DIR.glob("*.yaml"), *overlay.glob("*.yaml")):
        shutil.copyfile(source, flow_dir / source.name)
    rt = Runtime.load(flow_dir)
    # The frozen flow's own needs reasons and diploma answers, not the shipped flow's.
    rt.matcher = make_matcher(load_catalog(flow_dir / "programs.yaml"), wording=rt.wording)
    return rt


def duration(text: str) -> timedelta:
    number, unit = float(text[:-1]), text[-1]
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: number})


def screening_summary(sc: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a reader checks of a screening; its reasons' words are in the replies."""
    if sc is None:
        return None
    return {"eligibility": sc["eligibility"]["status"], "priority": sc["priority"]["categories"],
            "programs": [m["program"] for m in sc.get("matches", [])]}


class _Flow(dict[str, Any]):
    """A mapping written on one line."""


def event_out(ev: EngineEvent) -> Any:
    data = {"screening": screening_summary(ev.screening)} if isinstance(ev, ScreeningCompleted) else ev.stored()
    return {ev.kind: _Flow(data)} if data else ev.kind


def reply_out(r: Rendered, segments: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"say": r.text}
    if r.asks:
        out["asks"] = r.asks
        out["turn"] = r.turn
    if r.buttons:
        out["options"] = [f"{b.number} {b.value}" for b in r.buttons]
    if segments:
        out["segments"] = r.segments
    return out


def names(rt: Runtime, step_id: str | None) -> set[str]:
    """What a script may say a message answers: the asked step's id and every field it sets."""
    step = rt.bundle.flow.by_id.get(step_id or "")
    return {step.id, *([step.field] if step.field else []), *step.fields} if step else {str(step_id)}


def run(doc: dict[str, Any], where: str) -> dict[str, Any]:
    rt = runtime((GOLDEN_DIR / doc["flow"]).resolve() if doc.get("flow") else FROZEN_FLOW)
    channel = doc.get("channel", "sms")
    ctx = EngineContext(rt.bundle, rt.i18n, rt.screen, rt.facts, frozenset(doc.get("referral_codes", ())))
    engine = Engine(ctx)
    now = datetime.fromisoformat(str(doc["clock"]))
    convo = Conversation(ContactState(), None)
    asked: str | None = None
    turns = []
    for i, item in enumerate(doc["script"]):
        item = item if isinstance(item, dict) else {"text": item}
        unknown = set(item) - SCRIPT_KEYS
        assert not unknown, f"{where}: script[{i}] has unknown keys {sorted(unknown)}"
        if "answers" in item and item["answers"] not in names(rt, asked):
            pytest.fail(f"{where}: script[{i}] answers {item['answers']}, but the bot asked {asked}")
        now += duration(item["wait"]) if "wait" in item else STEP
        tapped = item.get("tapped") or {}
        msg = InboundMessage(channel, "+13235550100", str(item["text"]), f"GOLD{i:04d}", media_count=item.get("media", 0),
                             language_hint=item.get("hint"), answers_step=tapped.get("question"),
                             answers_turn=tapped.get("turn"))
        outcome = engine.handle(convo, msg, now)
        convo = outcome.conversation
        shown = render(outcome.replies, rt.i18n, channel)
        asked = next((r.asks for r in reversed(shown) if r.asks), asked)
        turns.append({"in": _Flow(item), "bot": [reply_out(r, channel in ("sms", "whatsapp")) for r in shown],
                      "events": [event_out(e) for e in outcome.events]})
    intake = convo.intake.to_json() if convo.intake else None
    if intake is not None:
        intake["screening"] = screening_summary(intake["screening"])
    contact = convo.contact
    return {"turns": turns, "final": {"contact": {"opted_out": contact.opted_out, "pending_delete": contact.pending_delete,
                                                  "lang": contact.lang}, "intake": intake}}


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    # Options and multi-select values on one line; replies and events one per line.
    flat = all(isinstance(v, (str, int, float, bool)) or v is None for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flat)


def _flow(dumper: yaml.SafeDumper, value: _Flow) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(_Flow, _flow)
_Dumper.add_representer(list, _list)


def dump(expected: dict[str, Any]) -> str:
    return yaml.dump(expected, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=False)


def test_the_golden_files_cover_what_they_promise():
    assert {p.stem for p in FILES} >= {"eligible_sms", "eligible_web", "ineligible", "back", "language_switch",
                                       "stop_mid_flow", "unreadable", "stale_button"}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden(path: Path):
    text = path.read_text(encoding="utf-8")
    head = text.split(MARKER)[0].rstrip("\n")
    doc = yaml.safe_load(head)
    got = dump(run(doc, path.name))
    if REGEN:
        path.write_text(f"{head}\n\n{MARKER}\n{got}", encoding="utf-8")
        return
    assert MARKER in text, f"{path.name} has no expected part yet: run HRTP_REGEN_GOLDEN=1 pytest tests/test_golden.py"
    want = text.split(MARKER, 1)[1].lstrip("\n")
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "expected", "now", n=2))
        pytest.fail(f"{path.name} changed (HRTP_REGEN_GOLDEN=1 rewrites it once the change is meant):\n{diff}")
