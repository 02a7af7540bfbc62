"""What channels tell us about a contact outside a conversation: a blocked bot, a group writing to it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.db import Database
from bot.models import Contact, IntakeEvent, utcnow
from bot.privacy import set_opted_out


def opt_out_contact(db: Database, channel: str, address: str, reason: str, now: datetime | None = None) -> bool:
    """Records an opt-out the channel told us about (a blocked Telegram bot); True if it was new."""
    now = now or utcnow()
    with db.writing() as s:
        contact = s.scalar(select(Contact).where(Contact.channel == channel, Contact.address == address).with_for_update())
        if contact is None or contact.opted_out_at is not None:
            return False
        set_opted_out(s, contact, True, reason, now)
        s.add(IntakeEvent(contact_id=contact.id, intake_id=contact.active_intake_id, kind="opted_out",
                          data={"keyword": reason}, created_at=now))
        return True


def first_word_to_group(db: Database, chat_id: str, now: datetime | None = None) -> bool:
    """True the first time a group chat writes to the bot (it is told once to write privately), then False."""
    try:
        with db.writing() as s:
            if s.scalar(select(Contact.id).where(Contact.channel == "telegram", Contact.address == chat_id)) is not None:
                return False
            s.add(Contact(channel="telegram", address=chat_id, created_at=now or utcnow()))
        return True
    except IntegrityError:
        return False  # a twin message from the same group got there first
