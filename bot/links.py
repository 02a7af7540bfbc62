"""Link codes: a web visitor carries their intake on by text, by sending us a short code from their phone."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from intake_flows.intents import LINK_ALPHABET, LINK_LENGTH

from bot.engine import LINK_DAYS
from bot.models import Contact, Intake, IntakeEvent, LinkCode
from bot.privacy import keyed_hash

# Codes are LINK_LENGTH of LINK_ALPHABET (no 0/O, 1/I/L or U: read off a screen, typed on a keypad), as
# intake_flows.intents recognises them texted: about 600 million with a letter and a digit; a handful are live at once.
LIFETIME = timedelta(days=LINK_DAYS)
MAX_REFUSED = 5  # wrong codes one phone may send a day before we stop looking them up


def make_code() -> str:
    """A random code with at least one letter and one digit, so it never reads as a name, a number or a ZIP."""
    while True:
        code = "".join(secrets.choice(LINK_ALPHABET) for _ in range(LINK_LENGTH))
        if any(c.isdigit() for c in code) and any(c.isalpha() for c in code):
            return code


def _hash(s: Session, code: str, key: str | None) -> str:
    return keyed_hash(s, "link:" + code.upper(), key)


def issue(s: Session, intake_id: int, now: datetime, key: str | None = None) -> str:
    """A new code for this intake; an earlier one not yet used stops working, so only the code on the page works."""
    s.execute(update(LinkCode).where(LinkCode.intake_id == intake_id, LinkCode.used_at.is_(None),
                                     LinkCode.expires_at > now).values(expires_at=now))
    while True:
        code = make_code()
        code_hash = _hash(s, code, key)
        if s.scalar(select(LinkCode.id).where(LinkCode.code_hash == code_hash)) is None:
            break
    s.add(LinkCode(intake_id=intake_id, code_hash=code_hash, created_at=now, expires_at=now + LIFETIME))
    s.flush()
    return code


def is_linked(s: Session, intake_id: int) -> bool:
    """True once a code of this intake was used: a phone carries it on."""
    return s.scalar(select(LinkCode.id).where(LinkCode.intake_id == intake_id, LinkCode.used_at.is_not(None))
                    .limit(1)) is not None


@dataclass
class Redeemed:
    """What a texted code did: "linked" (the phone's current intake is now `intake`) or "refused"."""

    status: str
    intake: Intake | None = None
    language: str | None = None  # the code's intake's, so even a refusal speaks the person's language
    replaced: bool = False  # the phone had another unfinished intake, which is kept apart


def redeem(s: Session, code: str, contact: Contact, now: datetime, key: str | None = None) -> Redeemed:
    """Attaches the contact to the code's intake, once, before it expires; anything else is a kind refusal."""
    refused = s.scalar(select(func.count(IntakeEvent.id)).where(
        IntakeEvent.contact_id == contact.id, IntakeEvent.kind == "link_refused",
        IntakeEvent.created_at > now - timedelta(days=1)))
    if (refused or 0) >= MAX_REFUSED:
        return Redeemed("refused", language=contact.language)
    row = s.scalar(select(LinkCode).where(LinkCode.code_hash == _hash(s, code, key)).with_for_update())
    intake = s.get(Intake, row.intake_id, with_for_update=True) if row is not None else None
    language = intake.language if intake is not None else None
    if row is None or intake is None or row.used_at is not None or row.expires_at <= now or intake.status == "erased":
        return Redeemed("refused", language=language or contact.language)
    row.used_at, row.contact_id = now, contact.id
    replaced = False
    if contact.active_intake_id not in (None, intake.id):
        current = s.get(Intake, contact.active_intake_id)
        # Someone else's intake on a shared phone stays with staff, as NEW leaves it.
        replaced = current is not None and current.status == "incomplete" and not (current.state or {}).get("finished")
    contact.active_intake_id = intake.id
    # Staff reach the person where the intake now lives: the admin shows this contact, messages go to it.
    intake.contact_id = contact.id
    return Redeemed("linked", intake, language, replaced)
