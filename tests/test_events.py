"""The engine's events are typed, each has the service's handler, and their stored kinds stay as the admin reads them."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from bot import events
from bot.events import EVENT_CLASSES, IntakeStarted, ScreeningCompleted
from bot.service import EVENT_HANDLERS
from tests.transcript import Person

# The IntakeEvent kinds stored before events were classes: history, metrics and erasure read these.
STORED_KINDS = {
    "intake_started", "intake_left", "intake_declined", "intake_finished", "restarted", "resumed",
    "screening_completed", "priority_updated", "answer_recorded", "answer_cleared", "answer_read_back", "skipped",
    "not_understood", "step_missed", "unreadable", "stale_answer", "language_set", "program_chosen",
    "handoff_requested", "handoff_suggested", "stop_asked", "opted_out", "opted_in", "erased",
    "channel_linked", "link_refused", "call_back_requested", "own_phone_given", "person_switched", "intake_erased",
}


def test_every_event_class_is_in_the_union_and_has_a_handler():
    defined = {c for _, c in inspect.getmembers(events, inspect.isclass)
               if issubclass(c, events._Event) and c is not events._Event}
    assert defined == set(EVENT_CLASSES)
    assert set(EVENT_HANDLERS) == set(EVENT_CLASSES)


def test_each_class_keeps_its_stored_kind_and_is_frozen():
    kinds = [c.kind for c in EVENT_CLASSES]
    assert len(kinds) == len(set(kinds)) and set(kinds) == STORED_KINDS
    with pytest.raises(dataclasses.FrozenInstanceError):
        IntakeStarted(None, None).referral_code = "X"  # type: ignore[misc]


def test_stored_data_is_what_the_rows_held_before():
    assert IntakeStarted("EASTLA1", True).stored() == {"referral_code": "EASTLA1", "referral_known": True}
    assert IntakeStarted(None, None, new_person=True).stored() == {"referral_code": None, "referral_known": None,
                                                                    "new_person": True}
    assert ScreeningCompleted({"eligibility": {"status": "eligible"}}).stored() is None
    assert events.Erased().stored() is None


def test_an_event_without_a_handler_fails_loudly(service, monkeypatch):
    monkeypatch.delitem(EVENT_HANDLERS, IntakeStarted)
    with pytest.raises(TypeError, match="no handler for engine event IntakeStarted"):
        Person(service, "+13235550177").says("Hi")
