"""What the engine says happened in a turn: one frozen class per kind, applied by the service one handler each."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias, get_args


@dataclass(frozen=True)
class _Event:
    # The stored IntakeEvent.kind: the admin's history, metrics and erasure read these strings.
    kind: ClassVar[str]
    # Fields kept out of the stored row (a whole screening is on the intake row already).
    unstored: ClassVar[frozenset[str]] = frozenset()

    def stored(self) -> dict[str, Any] | None:
        """The IntakeEvent row's data: the event's fields, None when there are none."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in self.unstored}
        return data or None


# ---- the intake's life -------------------------------------------------------------------------

@dataclass(frozen=True)
class IntakeStarted(_Event):
    kind = "intake_started"
    referral_code: str | None
    referral_known: bool | None
    new_person: bool = False  # NEW: another person's intake on the same phone

    def stored(self) -> dict[str, Any] | None:
        data = {"referral_code": self.referral_code, "referral_known": self.referral_known}
        return {**data, "new_person": True} if self.new_person else data


@dataclass(frozen=True)
class IntakeLeft(_Event):
    """NEW left this intake, at this status, for another person's."""

    kind = "intake_left"
    status: str


@dataclass(frozen=True)
class IntakeDeclined(_Event):
    """Consent was refused: the flow's `stop_when` ended the intake."""

    kind = "intake_declined"


@dataclass(frozen=True)
class IntakeFinished(_Event):
    kind = "intake_finished"


@dataclass(frozen=True)
class Restarted(_Event):
    kind = "restarted"


@dataclass(frozen=True)
class Resumed(_Event):
    """Carried on after the idle timeout."""

    kind = "resumed"


@dataclass(frozen=True)
class ScreeningCompleted(_Event):
    kind = "screening_completed"
    unstored = frozenset({"screening"})
    screening: dict[str, Any]


@dataclass(frozen=True)
class PriorityUpdated(_Event):
    """An answer after the result changed the priority categories."""

    kind = "priority_updated"
    priority: dict[str, Any]


# ---- answers ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AnswerRecorded(_Event):
    kind = "answer_recorded"
    field: str
    value: Any
    step: str


@dataclass(frozen=True)
class AnswerCleared(_Event):
    kind = "answer_cleared"
    field: str


@dataclass(frozen=True)
class AnswerReadBack(_Event):
    """An answer read from words was confirmed back ("Got it: ...")."""

    kind = "answer_read_back"
    step: str


@dataclass(frozen=True)
class Skipped(_Event):
    kind = "skipped"
    step: str


@dataclass(frozen=True)
class NotUnderstood(_Event):
    kind = "not_understood"
    step: str
    misses: int


@dataclass(frozen=True)
class StepMissed(_Event):
    """Three misses: the question was left unanswered for staff."""

    kind = "step_missed"
    step: str


@dataclass(frozen=True)
class Unreadable(_Event):
    """No letters or digits: an empty message, a picture, emoji only."""

    kind = "unreadable"
    step: str
    media: int


@dataclass(frozen=True)
class StaleAnswer(_Event):
    """A button tapped under an earlier question; not used."""

    kind = "stale_answer"
    step: str | None
    turn: int | None
    current: str | None


@dataclass(frozen=True)
class LanguageSet(_Event):
    kind = "language_set"
    language: str


@dataclass(frozen=True)
class ChannelLinked(_Event):
    """A link code from the web form was texted: the intake carries on at this channel's contact."""

    kind = "channel_linked"
    channel: str


@dataclass(frozen=True)
class LinkRefused(_Event):
    """A texted link code was wrong, used or expired: nothing moved."""

    kind = "link_refused"


@dataclass(frozen=True)
class ProgramChosen(_Event):
    kind = "program_chosen"
    program: str


# ---- people and staff ------------------------------------------------------------------------------

@dataclass(frozen=True)
class HandoffRequested(_Event):
    kind = "handoff_requested"
    step: str | None


@dataclass(frozen=True)
class HandoffSuggested(_Event):
    kind = "handoff_suggested"
    step: str


@dataclass(frozen=True)
class CallBackRequested(_Event):
    """The call-back questions were answered: when to call, and the number where the channel has none."""

    kind = "call_back_requested"
    # The number lives in its call_backs row alone, which erasure removes.
    unstored = frozenset({"phone"})
    window: str
    days: str
    phone: str | None
    step: str | None


@dataclass(frozen=True)
class StopAsked(_Event):
    """Words that may mean stop: we asked whether they do."""

    kind = "stop_asked"
    step: str | None


@dataclass(frozen=True)
class OptedOut(_Event):
    kind = "opted_out"
    keyword: str


@dataclass(frozen=True)
class OptedIn(_Event):
    kind = "opted_in"
    keyword: str


@dataclass(frozen=True)
class Erased(_Event):
    kind = "erased"


# ---- shared phones and outreach workers' phones (bot.assisted) --------------------------------------

@dataclass(frozen=True)
class OwnPhoneGiven(_Event):
    """An outreach worker gave the person's own number: the intake, and staff's messages, move to it."""

    kind = "own_phone_given"
    # The number lives as the person's own contact alone, which erasure forgets.
    unstored = frozenset({"phone"})
    phone: str


@dataclass(frozen=True)
class PersonSwitched(_Event):
    """On a shared phone, "which person?" was answered: the conversation carries on in that person's intake."""

    kind = "person_switched"
    intake_id: int


@dataclass(frozen=True)
class IntakeErased(_Event):
    """DELETE on a shared phone: only the current person's intake goes, the others on the phone stay."""

    kind = "intake_erased"


EngineEvent: TypeAlias = (
    IntakeStarted | IntakeLeft | IntakeDeclined | IntakeFinished | Restarted | Resumed | ScreeningCompleted |
    PriorityUpdated | AnswerRecorded | AnswerCleared | AnswerReadBack | Skipped | NotUnderstood | StepMissed |
    Unreadable | StaleAnswer | LanguageSet | ProgramChosen | HandoffRequested | HandoffSuggested | StopAsked |
    OptedOut | OptedIn | Erased | ChannelLinked | LinkRefused | CallBackRequested | OwnPhoneGiven | PersonSwitched |
    IntakeErased
)
EVENT_CLASSES: tuple[type[EngineEvent], ...] = get_args(EngineEvent)
