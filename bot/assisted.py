"""Outreach workers' phones and phones shared by several people: whose intake a message is, and where follow-up goes.

A phone staff register as an outreach worker's (OutreachDevice) enrols each person as their own intake with the
worker's referral code. When the worker gives the person's own number, the intake moves to that number's contact
(`Intake.contact_id`), so staff messages, reminders and call-backs reach the person and never the worker's phone;
`Intake.enrolled_via_contact_id` remembers the worker's phone, which can still carry on with it. Only contacts
marked `shared` pay for reading the other people's intakes in a turn.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from babel.dates import format_date
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake_flows.text import N_, Msg, verbatim

from bot.channels import capabilities
from bot.engine import OWN_PHONE_LINK, SharedPerson, us_phone
from bot.events import EngineEvent, IntakeErased, OwnPhoneGiven, PersonSwitched
from bot.i18n import Translator
from bot.messages import InboundMessage
from bot.models import Contact, Intake, Message, OutreachDevice, ReferralCode, User
from bot.privacy import erase_intakes, inherited_opt_out, set_opted_out

if TYPE_CHECKING:
    from bot.service import Applying
    from bot.turnrows import ContactRow, IntakeRow, Turn

OWN_NUMBER_CHANNEL = "sms"  # the person's own number is texted: any phone takes an SMS
MAX_PEOPLE = 8  # the people "which person?" offers: a worker enrols a handful in a session, not dozens
DEVICE_CHANNELS = (("sms", "SMS"), ("whatsapp", "WhatsApp"), ("telegram", "Telegram"))
GONE = ("erased", "declined")


# ---- where an address's people are ------------------------------------------------------------

def contact_for(s: Session, channel: str, address: str, now: datetime, privacy_key: str | None = None) -> Contact:
    """The contact of an address, made when missing, opted out from the start where the number opted out before."""
    contact = s.scalar(select(Contact).where(Contact.channel == channel, Contact.address == address))
    if contact is not None:
        return contact
    contact = Contact(channel=channel, address=address, created_at=now)
    s.add(contact)
    s.flush()
    why = inherited_opt_out(s.connection(), channel, address, privacy_key)
    if why:
        set_opted_out(s, contact, True, why, now, privacy_key)
    return contact


def people_on(s: Session, contact: Contact | ContactRow, limit: int = MAX_PEOPLE) -> list[Intake]:
    """The intakes a phone carries, newest first: its own, and those it enrolled that moved to the person's number."""
    return list(s.scalars(select(Intake).where(
        or_(Intake.contact_id == contact.id, Intake.enrolled_via_contact_id == contact.id),
        Intake.status.not_in(GONE)).order_by(Intake.updated_at.desc(), Intake.id.desc()).limit(limit)))


def device_code(s: Session, channel: str, address: str) -> str | None:
    """The referral code of a registered outreach worker's phone (or chat), or None."""
    return s.scalar(select(OutreachDevice.referral_code).where(
        OutreachDevice.channel == channel, OutreachDevice.address == address, OutreachDevice.retired_at.is_(None)))


def shared_state(s: Session, contact: Contact | ContactRow, current: Intake | IntakeRow | None) -> dict[str, Any]:
    """What the engine knows of a shared phone: its device's code and the other people on it."""
    others = [i for i in people_on(s, contact, MAX_PEOPLE + 1) if current is None or i.id != current.id][:MAX_PEOPLE]
    people = tuple(SharedPerson(i.id, i.first_name, {**(i.state or {}), "screening": i.screening}) for i in others)
    return {"device_code": device_code(s, contact.channel, contact.address), "people": people}


def own_phone_welcome(t: Turn, contact: ContactRow, intake: IntakeRow | None, msg: InboundMessage) -> InboundMessage:
    """The first message from a number an outreach worker gave: the engine welcomes the person to their own intake."""
    if intake is None or intake.enrolled_via_contact_id in (None, contact.id) or intake.contact_id != contact.id:
        return msg  # every other turn: no query, and no Session made for it
    said_before = t.session.scalar(select(Message.id).where(Message.contact_id == contact.id, Message.direction == "in").limit(1))
    return msg if said_before is not None else dataclasses.replace(msg, link=OWN_PHONE_LINK)


def follow_up_phone(s: Session, intake: Intake | IntakeRow, contact: Contact | ContactRow) -> str | None:
    """The number staff call about an intake: the person's own where a worker gave it, else the phone's own."""
    own = s.get(Contact, intake.contact_id) if intake.contact_id != contact.id else contact
    return own.address if own is not None and capabilities(own.channel).phone_address else None


def for_person(message: Msg, name: str, started: datetime, t: Translator) -> Msg:
    """A message on a phone several people use, saying whom it is for (by first name, else when they started)."""
    if name:
        return Msg(N_("Message for %(name)s: %(message)s"), {"name": verbatim(name), "message": message})
    return Msg(N_("Message for the person whose intake was started on %(date)s: %(message)s"),
               {"date": verbatim(format_date(started.date(), "medium", locale=t.locale)), "message": message})


def addressee(s: Session, intake: Intake, contact: Contact) -> str | None:
    """Whom a staff message on a phone with several people's intakes is for (a name, or ""), or None on anyone's own."""
    if not contact.shared:
        return None
    if len(people_on(s, contact, 2)) < 2 and device_code(s, contact.channel, contact.address) is None:
        return None
    return intake.first_name or ""


# ---- applying the engine's events (bot.service.EVENT_HANDLERS) ----------------------------------

def own_phone_given(t: Applying, ev: OwnPhoneGiven) -> None:
    """The intake moves to the person's own number, which carries it on when they text; the worker's phone still can."""
    if t.current is None:
        return
    own = contact_for(t.s, OWN_NUMBER_CHANNEL, ev.phone, t.now, t.privacy_key)
    if own.id == t.contact.id or own.erased_at is not None:
        return
    t.current.enrolled_via_contact_id = t.contact.id
    t.current.contact_id = own.id
    mine = t.s.get(Intake, own.active_intake_id) if own.active_intake_id else None
    if mine is None or mine.status in GONE or (mine.state or {}).get("finished"):
        own.active_intake_id = t.current.id
    else:
        own.shared = True  # they had started one of their own: both are theirs, and "which person?" tells them apart
    own.language = own.language or t.contact.language


def switched(events: Sequence[EngineEvent]) -> bool:
    return any(isinstance(ev, PersonSwitched) for ev in events)


def switch_person(t: Applying, ev: PersonSwitched) -> None:
    # Locked as the turn's own intake is (bot.service): the person's own phone may carry it on at the same time.
    row = t.turn.intake(ev.intake_id, lock=True)
    if row is None:
        return
    if t.current is not None:
        t.turn.write(t.current)  # the turn's last writes go to the current row only: the person left is saved now
    t.current = row
    t.contact.active_intake_id = row.id


def erase_one(t: Applying, ev: IntakeErased) -> None:
    """Erases the current person's intake alone; the phone and the other people's intakes on it stay."""
    if t.current is None:
        return
    gone, t.current = t.current.id, None
    t.turn.orm(t.contact)  # the contact's changes so far are written, and what the erasure changes is read back
    t.s.flush()
    erase_intakes(t.s, [gone], t.now, "person", configured_key=t.privacy_key, keep_contacts=[t.contact.id])
    t.turn.sync()
    t.contact.active_intake_id = None


# ---- registering outreach workers' phones (the admin) -------------------------------------------

class DeviceError(ValueError):
    """A phone or chat that cannot be registered; the text says why in plain words."""


def normalise_address(channel: str, raw: str) -> str:
    """A US phone number as +1 and ten digits for SMS and WhatsApp, a chat id's digits for Telegram."""
    raw = (raw or "").strip()
    if channel == "telegram":
        digits = raw.lstrip("-")
        if not (digits.isascii() and digits.isdigit() and 0 < len(digits) < 20):
            raise DeviceError("A Telegram chat is its number id (the bot's log shows it), like 123456789.")
        return raw
    if channel not in dict(DEVICE_CHANNELS):
        raise DeviceError("Choose SMS, WhatsApp or Telegram.")
    phone = us_phone(raw) if len(raw) <= 40 else None
    if phone is None:
        raise DeviceError("Enter a US phone number with its area code, like 213-555-0100.")
    return phone


def register_device(s: Session, channel: str, raw_address: str, code: str, label: str, user: User | None,
                    now: datetime, privacy_key: str | None = None) -> OutreachDevice:
    """Registers (or re-registers) an outreach worker's phone for a referral code; its contact becomes shared."""
    address = normalise_address(channel, raw_address)
    ref = s.get(ReferralCode, code)
    if ref is None or ref.retired_at is not None:
        raise DeviceError("Choose an active referral code.")
    row = s.scalar(select(OutreachDevice).where(OutreachDevice.channel == channel, OutreachDevice.address == address))
    if row is None:
        row = OutreachDevice(channel=channel, address=address, created_at=now)
        s.add(row)
    row.referral_code, row.label, row.retired_at = code, (label or "").strip()[:120] or None, None
    row.created_by_user_id = user.id if user is not None else None
    contact_for(s, channel, address, now, privacy_key).shared = True
    s.flush()
    return row


def retire_device(s: Session, device_id: int, now: datetime) -> OutreachDevice | None:
    row = s.get(OutreachDevice, device_id)
    if row is not None and row.retired_at is None:
        row.retired_at = now
    return row


def devices(s: Session, code: str | None = None) -> list[OutreachDevice]:
    q = select(OutreachDevice).order_by(OutreachDevice.retired_at.is_not(None), OutreachDevice.referral_code,
                                        OutreachDevice.id)
    return list(s.scalars(q.where(OutreachDevice.referral_code == code) if code else q))


def shown_address(row: OutreachDevice) -> str:
    """A registered phone as staff read it: (213) 555-0100; a Telegram chat id as it is."""
    digits = re.sub(r"\D", "", row.address)
    if row.channel == "telegram" or len(digits) != 11:
        return row.address
    return f"({digits[1:4]}) {digits[4:7]}-{digits[7:]}"
