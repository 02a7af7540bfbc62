"""Staff messages: sent through Twilio's REST API (a fake on loopback), refused after STOP, status followed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.i18n import I18n
from bot.models import Contact, Message, OptOut, Outbox
from bot.outbound import Outbound, OutboundError, SendResult, template_by_id
from tests.admin.conftest import TOKEN
from tests.admin.helpers import complete_intake, intake_id_of, post_form
from tests.transcript import Person

STATUS_URL = "https://intake.example.org/webhooks/twilio/status"


def send(client, intake_id: int, **form):
    return post_form(client, f"/admin/intakes/{intake_id}/messages", {"action": "send", **form},
                     page=f"/admin/intakes/{intake_id}", follow_redirects=True)


def staff_messages(svc, intake_id: int) -> list[Message]:
    with svc.db.session() as s:
        return list(s.scalars(select(Message).where(Message.intake_id == intake_id, Message.meta.is_not(None))
                              .order_by(Message.id)))


def signed_callback(client, form: dict, token: str = TOKEN):
    signature = RequestValidator(token).compute_signature(STATUS_URL, form)
    return client.post("/webhooks/twilio/status", data=form, headers={"X-Twilio-Signature": signature})


def test_a_template_goes_out_by_sms_with_a_status_callback(staff, svc, twilio):
    iid = intake_id_of(complete_intake(svc, "+13235550101", "Maria"))
    r = send(staff, iid, template="call_soon")
    assert "Message sent (queued)" in r.get_data(as_text=True)
    [req] = twilio.sent
    assert req["To"] == "+13235550101" and req["From"] == "+12135550000"
    assert req["Body"].startswith("Hello from LA County High Road Training Partnerships.")
    assert req["StatusCallback"] == STATUS_URL
    [msg] = [m for m in staff_messages(svc, iid) if (m.meta or {}).get("staff")]
    assert (msg.direction, msg.status, msg.channel, msg.segments, msg.encoding) == ("out", "queued", "sms", 1, "GSM-7")
    assert msg.provider_id.startswith("SM") and msg.meta["staff"] == "sam" and msg.meta["template"] == "call_soon"
    assert "Staff: sam" in r.get_data(as_text=True)  # shown in the transcript


def test_the_orientation_template_formats_date_and_time_for_the_person(staff, svc, twilio):
    iid = intake_id_of(complete_intake(svc, "+13235550101", "Maria"))
    send(staff, iid, template="orientation", date="2026-11-20", time="09:30", place="LA Trade-Tech, Room 101")
    assert twilio.sent[0]["Body"] == ("Your training orientation is on Friday, November 20, 2026 at 9:30\u202fAM, "
                                      "at LA Trade-Tech, Room 101. Reply here if you cannot come.")
    r = send(staff, iid, template="orientation", date="next friday", time="09:30", place="x")
    assert "the date must look like 2026-11-20" in r.get_data(as_text=True) and len(twilio.sent) == 1


def test_own_words_are_sent_as_typed_and_previewed_first(staff, svc, twilio):
    iid = intake_id_of(complete_intake(svc, "+13235550101", "Maria"))
    r = post_form(staff, f"/admin/intakes/{iid}/messages", {"action": "preview", "text": "¿Puede venir el martes?"},
                  page=f"/admin/intakes/{iid}")
    page = r.get_data(as_text=True)
    assert "Preview (en, 1 segment, GSM-7)" in page and "¿Puede venir el martes?" in page and not twilio.sent
    send(staff, iid, text="¿Puede venir el martes? Llámenos.")
    assert twilio.sent[0]["Body"] == "¿Puede venir el martes? Llámenos."


def test_whatsapp_people_get_whatsapp_messages(staff, svc, twilio):
    # Within WhatsApp's 24-hour window (tests/admin/test_whatsapp_window.py has the rest).
    p = complete_intake(svc, "+13235550101", "Maria", channel="whatsapp", start=datetime.now(UTC) - timedelta(hours=1))
    send(staff, intake_id_of(p), text="Hi Maria, this is Sam.")
    assert twilio.sent[0]["To"] == "whatsapp:+13235550101" and twilio.sent[0]["From"] == "whatsapp:+12135550000"


def test_nothing_is_sent_to_a_person_who_opted_out(staff, svc, twilio):
    p = complete_intake(svc, "+13235550101", "Maria")
    p.says("STOP")
    r = send(staff, intake_id_of(p), text="Are you still interested?")
    assert "Not sent: this person texted STOP" in r.get_data(as_text=True)
    assert twilio.sent == [] and not [m for m in staff_messages(svc, intake_id_of(p)) if (m.meta or {}).get("staff")]


def test_twilio_opt_out_error_fails_the_message_and_opts_the_person_out(staff, svc, twilio):
    iid = intake_id_of(complete_intake(svc, "+13235550101", "Maria"))
    twilio.refuse["+13235550101"] = 21610
    r = send(staff, iid, text="Hello")
    assert "could not be delivered" in r.get_data(as_text=True) and "21610" in r.get_data(as_text=True)
    [msg] = [m for m in staff_messages(svc, iid) if (m.meta or {}).get("staff")]
    assert (msg.status, msg.error_code) == ("failed", "21610")
    with svc.db.session() as s:
        assert s.scalar(select(Contact.opted_out_at).where(Contact.address == "+13235550101")) is not None
        assert s.scalar(select(OptOut.keyword)) == "carrier:21610"
    assert "Not sent: this person texted STOP" in send(staff, iid, text="Hello again").get_data(as_text=True)


def test_an_unreachable_twilio_is_kept_for_another_try(staff, svc, twilio):
    iid = intake_id_of(complete_intake(svc, "+13235550101", "Maria"))
    twilio.close()
    r = send(staff, iid, text="Hello")
    assert "did not take the message yet (error unreachable). It will be tried again" in r.get_data(as_text=True)
    [msg] = [m for m in staff_messages(svc, iid) if (m.meta or {}).get("staff")]
    assert (msg.status, msg.error_code) == ("queued", "unreachable")
    with svc.db.session() as s:
        row = s.scalars(select(Outbox).where(Outbox.message_id == msg.id)).one()
        assert (row.status, row.attempts) == ("pending", 1) and row.due_at > row.created_at


def test_web_chat_visitors_cannot_be_messaged_from_here(staff, svc, client):
    client.post("/chat/send", json={"text": "hi"})
    with svc.db.session() as s:
        iid = s.scalar(select(Message.intake_id).where(Message.channel == "web"))
    assert "cannot be sent on the Web channel" in staff.get(f"/admin/intakes/{iid}").get_data(as_text=True)
    assert "Not sent: messages cannot be sent on the web channel" in send(staff, iid, text="hi").get_data(as_text=True)


def test_delivery_status_callbacks_only_move_forward(staff, svc, twilio, client):
    iid = intake_id_of(complete_intake(svc, "+13235550101", "Maria"))
    send(staff, iid, text="Hello")
    sid = staff_messages(svc, iid)[-1].provider_id
    assert signed_callback(client, {"MessageSid": sid, "MessageStatus": "delivered"}).status_code == 204
    assert signed_callback(client, {"MessageSid": sid, "MessageStatus": "sent"}).status_code == 204  # late, older
    assert staff_messages(svc, iid)[-1].status == "delivered"
    assert signed_callback(client, {"MessageSid": "SMunknown", "MessageStatus": "failed"}).status_code == 204
    assert signed_callback(client, {"MessageSid": sid, "MessageStatus": "read"}, token="wrong").status_code == 403
    assert staff_messages(svc, iid)[-1].status == "delivered"
    assert "st-delivered" in staff.get(f"/admin/intakes/{iid}").get_data(as_text=True)


def test_an_undelivered_callback_with_21610_opts_the_person_out(staff, svc, twilio, client):
    iid = intake_id_of(complete_intake(svc, "+13235550101", "Maria"))
    send(staff, iid, text="Hello")
    sid = staff_messages(svc, iid)[-1].provider_id
    signed_callback(client, {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "21610"})
    msg = staff_messages(svc, iid)[-1]
    assert (msg.status, msg.error_code) == ("undelivered", "21610")
    with svc.db.session() as s:
        assert s.scalar(select(Contact.opted_out_at)) is not None


# ---- templates in the person's language (our own catalog, so the test does not depend on translators) ----

class RecordingSender:
    """A fake of our Sender interface."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, channel: str, address: str, text: str) -> SendResult:
        self.sent.append((channel, address, text))
        return SendResult(f"SM{len(self.sent)}", "queued")


def spanish_catalog(tmp_path: Path) -> Path:
    po = tmp_path / "locales" / "es" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    call = template_by_id("call_soon").msgid
    orientation = template_by_id("orientation").msgid
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: es\\n"\n\n'
        f'msgid "{call}"\nmsgstr "Hola de LA County High Road Training Partnerships. Alguien del personal le llamará."\n\n'
        f'msgid "{orientation}"\nmsgstr "Su orientación es el %(date)s a las %(time)s, en %(place)s."\n',
        encoding="utf-8")
    return tmp_path / "locales"


def test_templates_go_out_in_the_persons_language(tmp_path, svc, runtime):
    from bot.accounts import create_user

    sender = RecordingSender()
    ob = Outbound(svc.db, I18n(runtime.bundle.languages, spanish_catalog(tmp_path)), {"sms": sender})
    p = Person(svc, "+13235550140")
    p.says("Hola")
    p.answer_until("sectors", {"consent": "sí", "first_name": "Rosa", "zip": "90011", "age_range": "3"})
    with svc.db.writing() as s:
        sam = create_user(s, "sam", "a long password", "staff")
    composed = ob.compose("es", template="orientation", params={"date": "2026-11-20", "time": "14:00", "place": "Pacoima"})
    assert composed.text == "Su orientación es el viernes, 20 de noviembre de 2026 a las 2:00\u202fp.m., en Pacoima."
    assert composed.translated and composed.encoding == "UCS-2"
    assert not ob.compose("es", template="call_back", params={"phone": "211"}).translated  # no Spanish yet: English
    msg = ob.send(intake_id_of(p), sam, template="call_soon")
    assert sender.sent == [("sms", "+13235550140",
                            "Hola de LA County High Road Training Partnerships. Alguien del personal le llamará.")]
    assert (msg.language, msg.status, msg.provider_id) == ("es", "queued", "SM1")


def test_compose_refuses_empty_and_overlong_messages(svc, runtime):
    ob = Outbound(svc.db, runtime.i18n, {})
    with pytest.raises(OutboundError, match="empty"):
        ob.compose("en", text="   ")
    with pytest.raises(OutboundError, match="at most 1600"):
        ob.compose("en", text="x" * 1601)
    with pytest.raises(OutboundError, match="needs a place"):
        ob.compose("en", template="orientation", params={"date": "2026-11-20", "time": "10:00"})


def test_stop_by_sms_covers_the_same_number_on_whatsapp(staff, svc, twilio):
    on_whatsapp = complete_intake(svc, "+13105550031", "Maria", channel="whatsapp",
                                  start=datetime.now(UTC) - timedelta(hours=1))
    by_sms = Person(svc, "+13105550031")
    assert "unsubscribed" in by_sms.says("STOP")
    r = send(staff, intake_id_of(on_whatsapp), text="Hi Maria, this is Sam.")
    assert "Not sent: this person texted STOP" in r.get_data(as_text=True) and twilio.sent == []
    assert on_whatsapp.says("hello") == ""  # the bot keeps quiet on WhatsApp too
    # A number that texted STOP and first writes on WhatsApp afterwards is just as opted out.
    Person(svc, "+13105550032").says("STOP")
    assert Person(svc, "+13105550032", channel="whatsapp").says("hi") == ""
    # START on either channel brings the number back on both.
    assert "subscribed again" in on_whatsapp.says("START")
    assert "Message sent" in send(staff, intake_id_of(on_whatsapp), text="Welcome back.").get_data(as_text=True)
    with svc.db.session() as s:
        assert s.scalars(select(Contact.opted_out_at).where(Contact.address == "+13105550031")).all() == [None, None]


def test_a_stop_outlives_the_erasure_of_the_number(admin_client, svc, twilio):
    from bot.privacy import Suppression
    from tests.privacy_scan import left_behind, traces

    before = traces(svc.db, ("3105550033",))
    p = complete_intake(svc, "+13105550033", "Maria")
    p.says("STOP")
    iid = intake_id_of(p)
    post_form(admin_client, f"/admin/intakes/{iid}/erase", {"confirm": "erase"}, page=f"/admin/intakes/{iid}")
    assert left_behind(svc.db, ("3105550033",), before) == {}
    assert p.says("hi") == ""  # still opted out, though we no longer know the number
    assert "subscribed again" in p.says("START")
    assert "Do you agree to answer a few questions?" in p.says("hi")
    with svc.db.session() as s:
        assert s.scalars(select(Suppression)).all() == []
