"""What happened to the bot's replies after they left: provider ids, send failures, blocked bots."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.privacy import set_opted_out
from bot.store import Contact, Database, IntakeEvent, Message, utcnow


def record_replies_sent(db: Database, channel: str, inbound_provider_id: str,
                        outcomes: Sequence[tuple[str | None, str, str | None]]) -> None:
    """Stores (provider id, status, error code) for each reply to one inbound message, in order."""
    with db.writing() as s:
        inbound = s.scalar(select(Message).where(Message.channel == channel, Message.provider_id == inbound_provider_id,
                                                 Message.direction == "in"))
        if inbound is None:
            return
        replies = s.scalars(select(Message).where(Message.in_reply_to_id == inbound.id).order_by(Message.id)).all()
        contact = s.get(Contact, inbound.contact_id)
        # The reply that confirms an erasure must not bring the address back (tg:<chat id>:<message id>).
        erased = contact is None or contact.erased_at is not None
        # Outcomes stop where a send failed part-way; the replies after that keep their status.
        for row, (provider_id, status, error) in zip(replies, outcomes, strict=False):
            row.provider_id = None if erased else (provider_id or row.provider_id)
            row.status, row.error_code = status, error


def reply_statuses(db: Database, channel: str, inbound_provider_id: str) -> list[str | None]:
    """The delivery status of each reply to this inbound message, in order (to resend only what did not go)."""
    with db.session() as s:
        inbound = s.scalar(select(Message.id).where(Message.channel == channel, Message.provider_id == inbound_provider_id,
                                                    Message.direction == "in"))
        if inbound is None:
            return []
        return list(s.scalars(select(Message.status).where(Message.in_reply_to_id == inbound).order_by(Message.id)))



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
