"""Erasure, retention and opt-outs that follow a number: what a person can take back, and what stays honoured."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, Text, bindparam, cast, delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake_flows.profile import default_flow

from bot.audit import audit
from bot.channels import CHANNELS
from bot.models import (
    Answer,
    AuditLog,
    CallBack,
    CaseFile,
    Contact,
    Intake,
    IntakeEvent,
    IntakeFacet,
    LinkCode,
    Message,
    Note,
    OptOut,
    Outbox,
    PrivacyKey,
    StatusChange,
    Suppression,
    User,
)
from bot.turnrows import Fetch

_CONTACTS: Table = Contact.__table__  # type: ignore[assignment]
_SUPPRESSIONS: Table = Suppression.__table__  # type: ignore[assignment]
_PRIVACY_KEY: Table = PrivacyKey.__table__  # type: ignore[assignment]

ERASED_PREFIX = "erased:"
KEEP_ON_DECLINE = ("language", "consent")


def phone_channels() -> tuple[str, ...]:
    """The channels whose address is a phone number: one number reaches us on each, and its opt-out covers all."""
    return tuple(name for name, caps in CHANNELS.items() if caps.phone_address)


# ---- keyed hashes of addresses ---------------------------------------------------------------

def _key(s: Session, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    row = s.get(PrivacyKey, 1)
    if row is None:
        try:
            with s.begin_nested():
                s.add(PrivacyKey(id=1, key=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another process made the key first; use theirs
        row = s.get(PrivacyKey, 1)
        assert row is not None
    return row.key.encode()


def keyed_hash(s: Session, text: str, configured: str | None = None) -> str:
    """A keyed hash of a secret we must recognise but never keep (a link code)."""
    return hmac.new(_key(s, configured), text.encode(), hashlib.sha256).hexdigest()


def address_key(s: Session, channel: str, address: str, configured: str | None = None) -> str:
    """A keyed hash of where a person reaches us; SMS and WhatsApp share one, as they share a number."""
    return _address_hash(_key(s, configured), channel, address)


def _address_hash(key: bytes, channel: str, address: str) -> str:
    family = "phone" if channel in phone_channels() else channel
    return hmac.new(key, f"{family}:{address}".encode(), hashlib.sha256).hexdigest()


# ---- opt-outs per number ---------------------------------------------------------------------------

def same_number(s: Session, contact: Contact) -> list[Contact]:
    """The contact and its twin on the other phone channel (the same number on SMS and WhatsApp)."""
    if contact.channel not in phone_channels() or contact.erased_at is not None:
        return [contact]
    twins = s.scalars(select(Contact).where(Contact.channel.in_(phone_channels()), Contact.address == contact.address,
                                            Contact.id != contact.id).with_for_update()).all()
    return [contact, *twins]


def unreachable(s: Session, contact: Contact | None) -> str | None:
    """Why nothing of ours may reach this contact any more ("erased", "opted_out": STOP on either channel), or None."""
    if contact is None or contact.erased_at is not None:
        return "erased"
    # STOP by SMS also covers the same number on WhatsApp, and the other way round.
    if any(c.opted_out_at is not None for c in same_number(s, contact)):
        return "opted_out"
    return None


def set_opted_out(s: Session, contact: Contact, out: bool, keyword: str, now: datetime,
                  configured_key: str | None = None) -> None:
    """Records an opt-out or opt-in for the number on every channel it uses, and lifts a kept one on opt-in."""
    for c in same_number(s, contact):
        if (c.opted_out_at is not None) == out and c is not contact:
            continue
        c.opted_out_at = now if out else None
        s.add(OptOut(contact_id=c.id, kind="out" if out else "in", keyword=keyword[:64], created_at=now))
    if not out:
        s.execute(delete(Suppression).where(Suppression.key == address_key(s, contact.channel, contact.address,
                                                                            configured_key)))


# A first message asks both on the turn's connection, past the ORM (bot.turnrows): through a Session they cost
# more than the rest of that turn.
_OPTED_OUT_ELSEWHERE = Fetch(select(_CONTACTS.c.channel).where(
    _CONTACTS.c.address == bindparam("address"), _CONTACTS.c.channel != bindparam("channel"),
    _CONTACTS.c.opted_out_at.is_not(None)), ("address", "channel"))
_SUPPRESSED = Fetch(select(_SUPPRESSIONS.c.key).where(_SUPPRESSIONS.c.key == bindparam("key")), ("key",))
_STORED_KEY = Fetch(select(_PRIVACY_KEY.c.key).where(_PRIVACY_KEY.c.id == 1), ())


def inherited_opt_out(conn: Connection, channel: str, address: str, configured_key: str | None = None) -> str | None:
    """Why a new contact starts opted out: its number opted out on another channel, or before an erasure."""
    phones = phone_channels()
    if channel in phones:
        others = _OPTED_OUT_ELSEWHERE.all(conn, {"address": address, "channel": channel})
        if any(row[0] in phones for row in others):
            return "same number"
    stored = None if configured_key else _STORED_KEY.one_or_none(conn, {})
    if stored is not None:
        key = stored[0].encode()
    else:
        with Session(bind=conn) as s:  # the configured key, or the first contact ever makes one
            key = _key(s, configured_key)
    if _SUPPRESSED.one_or_none(conn, {"key": _address_hash(key, channel, address)}):
        return "kept after erasure"
    return None


# ---- erasure -------------------------------------------------------------------------------------

@dataclass
class Erased:
    intakes: int = 0
    contacts: int = 0


def _name_fields() -> tuple[str, ...]:
    """The answer fields that hold a person's first name, so an erasure can scrub it from the log."""
    field = default_flow().role_field("first_name")
    return (field,) if field else ()


def erase_intakes(s: Session, intake_ids: Iterable[int], now: datetime, by: str, user: User | None = None,
                  ip: str | None = None, configured_key: str | None = None, keep_contacts: Iterable[int] = ()) -> Erased:
    """Erases these intakes, and the contacts left with nothing else, in the caller's transaction.

    What stays is what the README's privacy section lists: the intake row as a count (channel, when it
    started, its referral code and where staff took it), an audit entry, and a kept opt-out as a keyed hash."""
    ids = sorted(set(intake_ids))
    if not ids:
        return Erased()
    rows = s.scalars(select(Intake).where(Intake.id.in_(ids)).with_for_update()).all()
    contact_ids = sorted({r.contact_id for r in rows})
    contacts = s.scalars(select(Contact).where(Contact.id.in_(contact_ids)).with_for_update()).all()
    names = {r.first_name for r in rows if r.first_name}
    names |= {str(a) for a in s.scalars(select(Answer.value).where(Answer.intake_id.in_(ids),
                                                                   Answer.field.in_(_name_fields()))) if a}
    # A contact goes too when none of its intakes would be left (a phone shared by NEW keeps the others).
    left = set(s.scalars(select(Intake.contact_id).where(Intake.contact_id.in_(contact_ids), Intake.id.not_in(ids),
                                                         Intake.status != "erased")))
    # And a phone that carries on other people's intakes it enrolled (bot.assisted) stays, for them.
    keep = left | set(keep_contacts)
    gone = [c for c in contacts if c.id not in keep and c.erased_at is None]
    addresses = [c.address for c in gone]

    s.execute(delete(Answer).where(Answer.intake_id.in_(ids)))
    s.execute(delete(LinkCode).where(LinkCode.intake_id.in_(ids)))
    s.execute(delete(CallBack).where(CallBack.intake_id.in_(ids)))
    s.execute(delete(IntakeFacet).where(IntakeFacet.intake_id.in_(ids)))
    s.execute(delete(Note).where(Note.intake_id.in_(ids)))
    s.execute(update(StatusChange).where(StatusChange.intake_id.in_(ids)).values(reason=None))
    s.execute(update(IntakeEvent).where(IntakeEvent.intake_id.in_(ids)).values(data=None))
    s.execute(update(Intake).where(Intake.id.in_(ids)).values(
        status="erased", first_name=None, state={}, screening=None, eligibility=None, is_priority=None,
        program_choice=None, needs_contact=False, current_step=None, language=None, updated_at=now))
    s.execute(update(Message).where(Message.intake_id.in_(ids)).values(text=None, meta={"redacted": True},
                                                                       language=None))
    # Outbound ids can carry the address (Telegram's are tg:<chat id>:<message id>); inbound ones are kept
    # so a late redelivery of the erasing message is still recognised.
    s.execute(update(Message).where(Message.intake_id.in_(ids), Message.direction == "out").values(provider_id=None))
    # A contact that stays (another person on the phone) must not carry on in an erased intake.
    s.execute(update(Contact).where(Contact.active_intake_id.in_(ids)).values(active_intake_id=None,
                                                                              pending_delete=False))
    _forget_contacts(s, gone, now, configured_key)
    _scrub_audit(s, names, addresses)
    audit(s, user, "erase", "intake", ids[0] if len(ids) == 1 else None,
          {"by": by, "intakes": len(ids), "contacts": len(gone)}, ip, now)
    return Erased(len(ids), len(gone))


def erase_contact(s: Session, contact: Contact, now: datetime, by: str = "person",
                  configured_key: str | None = None) -> Erased:
    """Erases everything a number or chat told us: every intake, on SMS and WhatsApp alike, and the address."""
    contacts = same_number(s, contact)
    ids = list(s.scalars(select(Intake.id).where(Intake.contact_id.in_([c.id for c in contacts]))))
    # An intake carried on from here by a link code now belongs to the phone, but it is this person's too.
    if contact.active_intake_id is not None and contact.active_intake_id not in ids:
        ids.append(contact.active_intake_id)
    result = erase_intakes(s, ids, now, by, configured_key=configured_key) if ids else Erased()
    bare = [c for c in contacts if c.erased_at is None]  # contacts that never started an intake
    _forget_contacts(s, bare, now, configured_key)
    if not ids:
        audit(s, None, "erase", "contact", None, {"by": by, "intakes": 0, "contacts": len(bare)}, None, now)
    return Erased(result.intakes, result.contacts + len(bare))


def _forget_contacts(s: Session, contacts: Sequence[Contact], now: datetime, configured_key: str | None) -> None:
    if not contacts:
        return
    for c in contacts:
        if c.opted_out_at is not None:
            key = address_key(s, c.channel, c.address, configured_key)
            if s.get(Suppression, key) is None:
                s.add(Suppression(key=key, created_at=now))
    ids = [c.id for c in contacts]
    s.execute(update(Message).where(Message.contact_id.in_(ids)).values(text=None, meta={"redacted": True},
                                                                        language=None))
    s.execute(update(Message).where(Message.contact_id.in_(ids), Message.direction == "out").values(provider_id=None))
    s.execute(update(IntakeEvent).where(IntakeEvent.contact_id.in_(ids)).values(data=None))
    # What still waits in the outbox never goes, and the address leaves the outbox too.
    theirs = select(Message.id).where(Message.contact_id.in_(ids)).scalar_subquery()
    s.execute(update(Outbox).where(Outbox.message_id.in_(theirs), Outbox.status == "pending")
              .values(status="canceled", last_error="erased"))
    s.execute(update(Outbox).where(Outbox.message_id.in_(theirs)).values(address=None))
    for c in contacts:
        c.address = f"{ERASED_PREFIX}{c.id}"
        c.language = None
        c.pending_delete = False
        c.active_intake_id = None
        c.erased_at = now


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _names_it(q: str, names: set[str], digit_runs: Sequence[str]) -> bool:
    low = " ".join(q.lower().split())
    if not low:
        return False
    for name in names:
        n = name.lower()
        if n.startswith(low) or n in low:
            return True
    d = _digits(q)
    return len(d) >= 4 and any(d in run for run in digit_runs)


def _scrub_audit(s: Session, names: set[str], addresses: Sequence[str]) -> None:
    """Search terms staff typed that name these people (a first name, the end of a number) are blanked."""
    runs = [_digits(a) for a in addresses if _digits(a)]
    if not names and not runs:
        return
    found = s.scalars(select(AuditLog).where(AuditLog.detail.is_not(None),
                                             cast(AuditLog.detail, Text).like('%"q"%'))).all()
    for entry in found:
        detail: dict[str, Any] = dict(entry.detail or {})
        filters = dict(detail.get("filters") or {})
        q = filters.get("q")
        if isinstance(q, str) and _names_it(q, names, runs):
            filters["q"] = "(erased)"
            detail["filters"] = filters
            entry.detail = detail


def decline(s: Session, intake: Intake) -> None:
    """A person who said no to consent: nothing they typed stays, only that they declined and in which language."""
    s.execute(delete(Answer).where(Answer.intake_id == intake.id, Answer.field.not_in(KEEP_ON_DECLINE)))
    s.execute(update(Message).where(Message.intake_id == intake.id).values(text=None, meta={"redacted": True}))
    s.execute(update(IntakeEvent).where(IntakeEvent.intake_id == intake.id,
                                        IntakeEvent.kind.not_in(("intake_started", "language_set"))).values(data=None))
    s.execute(delete(IntakeFacet).where(IntakeFacet.intake_id == intake.id))


# ---- retention -------------------------------------------------------------------------------------

@dataclass
class Purge:
    cutoff: datetime
    intakes: int = 0
    contacts: int = 0


def stale_intakes(s: Session, now: datetime, days: int, among: Sequence[int] | None = None) -> list[int]:
    """Incomplete intakes (of `among`, when given) that neither the person nor staff touched for `days` days."""
    cutoff = now - timedelta(days=days)
    touched = select(CaseFile.intake_id).where(CaseFile.updated_at >= cutoff).union(
        select(Note.intake_id).where(Note.created_at >= cutoff))
    q = select(Intake.id).where(Intake.status == "incomplete", Intake.updated_at < cutoff, Intake.id.not_in(touched))
    if among is not None:
        q = q.where(Intake.id.in_(list(among)))
    return list(s.scalars(q.order_by(Intake.id)))


def purge(db: Any, now: datetime, days: int, dry_run: bool = False, configured_key: str | None = None,
          batch: int = 200) -> Purge:
    """Erases stale incomplete intakes (the same erasure as DELETE), a batch per transaction."""
    report = Purge(now - timedelta(days=days))
    with db.session() as s:
        ids = stale_intakes(s, now, days)
        if dry_run:
            report.intakes = len(ids)
            report.contacts = _contacts_left_empty(s, ids)
            return report
    for start in range(0, len(ids), batch):
        with db.writing() as s:
            # Re-checked inside the write: a person may have answered since the list was read.
            chunk = stale_intakes(s, now, days, among=ids[start:start + batch])
            done = erase_intakes(s, chunk, now, "retention", configured_key=configured_key)
        report.intakes += done.intakes
        report.contacts += done.contacts
    return report


def _contacts_left_empty(s: Session, ids: Sequence[int]) -> int:
    """How many contacts erasing these intakes would leave with no intake, and so erase too."""
    if not ids:
        return 0
    contact_ids = set(s.scalars(select(Intake.contact_id).where(Intake.id.in_(ids))))
    kept = set(s.scalars(select(Intake.contact_id).where(Intake.contact_id.in_(contact_ids), Intake.id.not_in(ids),
                                                         Intake.status != "erased")))
    return len(contact_ids - kept)
