"""WhatsApp's 24-hour window: free words inside it, approved templates (ContentSid) outside, against the fake Twilio."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy import select

from intake_flows.schema import FlowError

from bot.models import Contact, Message, Outbox
from bot.outbound import Outbound, OutboundError, SendResult, staff_templates
from bot.outbox import Courier, add, default_transport
from bot.whatsapp import REASON, WhatsAppTemplates, load_whatsapp_templates
from tests.admin.helpers import complete_intake, intake_id_of, make_user, post_form
from tests.transcript import Person
from webhook.senders import twilio_senders

EN_CALL = "HX" + "a" * 32
ES_CALL = "HX" + "b" * 32
EN_ORIENTATION = "HX" + "c" * 32
EN_REMINDER_1 = "HX" + "d" * 32
TEMPLATES_YAML = f"""
templates:
  call_soon:
    content_sid: {{en: {EN_CALL}, es: {ES_CALL}}}
  orientation:
    variables: {{"1": date, "2": time, "3": place}}
    content_sid: {{en: {EN_ORIENTATION}}}
  reminder_1:
    content_sid: {{en: {EN_REMINDER_1}}}
"""


@pytest.fixture
def app_config(app_config: dict, tmp_path: Path) -> dict:
    path = tmp_path / "whatsapp_templates.yaml"
    path.write_text(TEMPLATES_YAML, encoding="utf-8")
    return {**app_config, "WHATSAPP_TEMPLATES": str(path)}


def now() -> datetime:
    return datetime.now(UTC)


def whatsapp_person(svc, phone: str, last_wrote_hours_ago: float, answers: dict | None = None):
    """A WhatsApp person who finished the questions; their last message was about that many hours ago."""
    # An intake's dozen messages take about six minutes of the transcript's clock.
    start = now() - timedelta(hours=last_wrote_hours_ago, minutes=7)
    return complete_intake(svc, phone, "Maria", channel="whatsapp", start=start, answers=answers)


def send(client, intake_id: int, **form):
    return post_form(client, f"/admin/intakes/{intake_id}/messages", {"action": "send", **form},
                     page=f"/admin/intakes/{intake_id}", follow_redirects=True)


def staff_messages(svc, intake_id: int) -> list[Message]:
    with svc.db.session() as s:
        return [m for m in s.scalars(select(Message).where(Message.intake_id == intake_id).order_by(Message.id))
                if (m.meta or {}).get("staff")]


def outbox_of(svc, message_id: int) -> Outbox:
    with svc.db.session() as s:
        return s.scalars(select(Outbox).where(Outbox.message_id == message_id)).one()


def message(svc, message_id: int) -> Message:
    with svc.db.session() as s:
        msg = s.get(Message, message_id)
        assert msg is not None
        return msg


# ---- in the admin -------------------------------------------------------------------------------------

def test_inside_the_window_own_words_go_as_body_and_the_page_says_until_when(staff, svc, twilio):
    iid = intake_id_of(whatsapp_person(svc, "+13235550201", last_wrote_hours_ago=1))
    page = staff.get(f"/admin/intakes/{iid}").get_data(as_text=True)
    assert "WhatsApp window open until" in page
    r = send(staff, iid, text="Hi Maria, this is Sam.")
    assert "Message sent (queued)" in r.get_data(as_text=True)
    [req] = twilio.sent
    assert req["To"] == "whatsapp:+13235550201" and req["Body"] == "Hi Maria, this is Sam."
    assert "ContentSid" not in req and "ContentVariables" not in req


def test_outside_the_window_own_words_are_refused_with_the_reason_and_nothing_is_queued(staff, svc, twilio):
    iid = intake_id_of(whatsapp_person(svc, "+13235550202", last_wrote_hours_ago=25))
    page = staff.get(f"/admin/intakes/{iid}").get_data(as_text=True)
    assert "WhatsApp window closed since" in page and "only templates approved for WhatsApp" in page
    assert "Please call us back (not approved for WhatsApp)" in page  # call_back has no ContentSid
    r = send(staff, iid, text="Are you still interested?")
    assert str(escape(f"Not sent: {REASON}.")) in r.get_data(as_text=True)
    assert twilio.sent == [] and staff_messages(svc, iid) == []
    with svc.db.session() as s:
        assert s.scalars(select(Outbox)).all() == []


def test_outside_the_window_a_template_goes_as_its_content_sid_with_the_variables(staff, svc, twilio):
    iid = intake_id_of(whatsapp_person(svc, "+13235550203", last_wrote_hours_ago=30))
    r = send(staff, iid, template="orientation", date="2026-11-20", time="09:30", place="LA Trade-Tech, Room 101")
    assert "Message sent (queued)" in r.get_data(as_text=True)
    [req] = twilio.sent
    assert req["To"] == "whatsapp:+13235550203" and req["From"] == "whatsapp:+12135550000"
    assert req["ContentSid"] == EN_ORIENTATION and "Body" not in req
    assert json.loads(req["ContentVariables"]) == {"1": "Friday, November 20, 2026", "2": "9:30\u202fAM",
                                                   "3": "LA Trade-Tech, Room 101"}
    [msg] = staff_messages(svc, iid)
    assert msg.provider_id.startswith("SM") and msg.meta["sent_as"] == {"content_sid": EN_ORIENTATION, "lang": "en"}
    # Without variables the form has no ContentVariables at all.
    send(staff, iid, template="call_soon")
    assert twilio.sent[1]["ContentSid"] == EN_CALL and "ContentVariables" not in twilio.sent[1]


def test_the_persons_language_picks_its_own_content_sid(staff, svc, twilio):
    from tests.transcript import Person

    p = Person(svc, "+13235550204", channel="whatsapp", start=now() - timedelta(hours=48))
    p.says("Hola")
    p.answer_until("sectors", {"consent": "sí", "first_name": "Rosa", "zip": "90011", "age_range": "3"})
    send(staff, intake_id_of(p), template="call_soon")
    [req] = twilio.sent
    assert req["ContentSid"] == ES_CALL


def test_outside_the_window_a_template_without_a_whatsapp_approval_is_refused(staff, svc, twilio):
    iid = intake_id_of(whatsapp_person(svc, "+13235550205", last_wrote_hours_ago=26))
    r = send(staff, iid, template="call_back", phone="(213) 555-0199")
    page = r.get_data(as_text=True)
    assert "Not sent: WhatsApp allows free messages only within 24 hours" in page
    assert "&#39;Please call us back&#39; has no WhatsApp template set up (WHATSAPP_TEMPLATES)" in page
    assert twilio.sent == [] and staff_messages(svc, iid) == []


def test_sms_people_get_own_words_whenever_staff_write(staff, svc, twilio):
    p = complete_intake(svc, "+13235550206", "Maria", start=now() - timedelta(days=5))
    page = staff.get(f"/admin/intakes/{intake_id_of(p)}").get_data(as_text=True)
    assert "WhatsApp window" not in page
    send(staff, intake_id_of(p), text="Are you still interested?")
    assert twilio.sent[0]["Body"] == "Are you still interested?" and twilio.sent[0]["To"] == "+13235550206"


def test_twilio_63016_is_final_and_says_why(staff, svc, twilio):
    # Our clock and Twilio's disagree: we think the window is open, Twilio says it closed.
    iid = intake_id_of(whatsapp_person(svc, "+13235550207", last_wrote_hours_ago=2))
    twilio.refuse["+13235550207"] = 63016
    r = send(staff, iid, text="Hello again")
    assert "could not be delivered to the channel (error 63016)" in r.get_data(as_text=True)
    assert len(twilio.sent) == 1  # not tried again
    [msg] = staff_messages(svc, iid)
    assert (msg.status, msg.error_code) == ("failed", "63016")
    assert "outside WhatsApp's 24-hour window" in (outbox_of(svc, msg.id).last_error or "")
    with svc.db.session() as s:
        assert s.scalars(select(Contact.opted_out_at).where(Contact.address == "+13235550207")).one() is None
    page = staff.get(f"/admin/intakes/{iid}").get_data(as_text=True)
    assert "(error 63016: WhatsApp refused it: outside the 24-hour window, only approved templates go)" in page


def test_a_template_refused_as_free_words_by_twilio_goes_again_as_its_content_sid(staff, svc, twilio):
    # Inside the window by our clock, outside it by WhatsApp's: the template still reaches the person.
    iid = intake_id_of(whatsapp_person(svc, "+13235550214", last_wrote_hours_ago=23.5))
    twilio.script.append((400, 63016, {}))
    r = send(staff, iid, template="call_soon")
    assert "Message sent (queued)" in r.get_data(as_text=True)
    assert [("Body" in req, req.get("ContentSid")) for req in twilio.sent] == [(True, None), (False, EN_CALL)]
    [msg] = staff_messages(svc, iid)
    assert msg.status == "queued" and msg.error_code is None and msg.meta["sent_as"]["content_sid"] == EN_CALL


# ---- at delivery ---------------------------------------------------------------------------------------

def deferred_outbound(app, svc) -> Outbound:
    """The app's staff sender, but rows stay in the outbox until a courier delivers them."""
    return Outbound(svc.db, svc.runtime.i18n, twilio_senders(app.config), dispatch=lambda ids: None,
                    whatsapp=app.extensions["hrtp_whatsapp"])


def courier_at(app, svc, at: datetime, senders=None) -> Courier:
    return Courier(svc.db, default_transport(senders or twilio_senders(app.config)), clock=lambda: at.timestamp(),
                   whatsapp=app.extensions["hrtp_whatsapp"])


def staff_user(svc):
    from bot.models import User

    uid = make_user(svc, "sam2", "staff")
    with svc.db.session() as s:
        user = s.get(User, uid)
        assert user is not None
        s.expunge(user)
        return user


def test_queued_inside_the_window_and_delivered_after_it_closed(app, svc, twilio):
    iid = intake_id_of(whatsapp_person(svc, "+13235550208", last_wrote_hours_ago=23.9))
    ob, sam = deferred_outbound(app, svc), staff_user(svc)
    words = ob.send(iid, sam, text="See you Tuesday")
    template = ob.send(iid, sam, template="call_soon")
    late = now() + timedelta(hours=1)
    courier = courier_at(app, svc, late)
    assert courier.deliver(outbox_of(svc, words.id).id) == "failed"
    assert courier.deliver(outbox_of(svc, template.id).id) == "sent"
    [req] = twilio.sent  # the free words never went
    assert req["ContentSid"] == EN_CALL and "Body" not in req
    failed = message(svc, words.id)
    assert (failed.status, failed.error_code) == ("failed", "whatsapp_window")
    assert "outside WhatsApp's 24-hour window" in (outbox_of(svc, words.id).last_error or "")


def reminder(svc, intake_id: int, step: int, text: str) -> int:
    """A reminder as the reminders enqueue it: a Message with kind and step in its meta, and its outbox row."""
    with svc.db.writing() as s:
        from bot.models import Intake

        intake = s.get(Intake, intake_id)
        assert intake is not None
        contact = s.get(Contact, intake.contact_id)
        assert contact is not None
        msg = Message(contact_id=contact.id, intake_id=intake_id, direction="out", channel=contact.channel, text=text,
                      language="en", status="queued", created_at=now(), meta={"kind": "reminder", "step": step})
        s.add(msg)
        row = add(s, msg, contact.address, now())
        s.flush()
        return row.id


def stopped_at_zip(svc, phone: str, last_wrote_hours_ago: float) -> int:
    """A WhatsApp person who went quiet at the ZIP question, as a reminder finds them."""
    p = Person(svc, phone, channel="whatsapp", start=now() - timedelta(hours=last_wrote_hours_ago, minutes=2))
    p.says("Hi")
    p.answer_until("zip", {"language": "1", "consent": "yes", "first_name": "Maria"})
    return intake_id_of(p)


def test_reminders_go_free_inside_the_window_and_as_their_template_outside(app, svc, twilio):
    # A reminder goes only to an intake still in progress: bot.reminders cancels one for a finished intake.
    inside = stopped_at_zip(svc, "+13235550209", last_wrote_hours_ago=2)
    outside = stopped_at_zip(svc, "+13235550210", last_wrote_hours_ago=72)
    courier = courier_at(app, svc, now() + timedelta(minutes=1))
    assert courier.deliver(reminder(svc, inside, 1, "Still there? Reply to carry on.")) == "sent"
    assert courier.deliver(reminder(svc, outside, 1, "Still there? Reply to carry on.")) == "sent"
    no_template = reminder(svc, outside, 2, "Last nudge: reply to carry on.")
    assert courier.deliver(no_template) == "failed"
    assert [r.get("Body") for r in twilio.sent] == ["Still there? Reply to carry on.", None]
    assert twilio.sent[1]["ContentSid"] == EN_REMINDER_1 and twilio.sent[1]["To"] == "whatsapp:+13235550210"
    with svc.db.session() as s:
        row = s.get(Outbox, no_template)
        assert row is not None and row.status == "failed"
        assert "no approved WhatsApp template" in (row.last_error or "")
        assert s.get(Message, row.message_id).error_code == "whatsapp_window"  # type: ignore[union-attr]


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, channel: str, address: str, text: str) -> SendResult:
        self.sent.append((channel, address, text))
        return SendResult(f"tg:{len(self.sent)}", "sent")


def test_telegram_and_sms_are_not_held_to_a_window(app, svc, twilio):
    from tests.transcript import Person

    tg = Person(svc, "5550001", channel="telegram", start=now() - timedelta(days=3))
    tg.says("Hi")
    sms = Person(svc, "+13235550211", start=now() - timedelta(days=3))
    sms.says("Hi")
    telegram = RecordingSender()
    senders = {**twilio_senders(app.config), "telegram": telegram}
    courier = courier_at(app, svc, now() + timedelta(minutes=1), senders)
    assert courier.deliver(reminder(svc, intake_id_of(tg), 2, "Still there?")) == "sent"
    assert courier.deliver(reminder(svc, intake_id_of(sms), 2, "Still there?")) == "sent"
    assert telegram.sent == [("telegram", "5550001", "Still there?")]
    assert twilio.sent[0]["Body"] == "Still there?" and "ContentSid" not in twilio.sent[0]


# ---- the county's settings -----------------------------------------------------------------------------

def write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "says"), [
    ("templates:\n  call_son:\n    content_sid: {en: HX" + "a" * 32 + "}\n", "not a staff message template"),
    ("templates:\n  call_soon:\n    content_sid: {en: HX123}\n", "is not a ContentSid"),
    ("templates:\n  call_soon:\n    content_sid: {xx: HX" + "a" * 32 + "}\n", "unknown language 'xx'"),
    ("templates:\n  orientation:\n    variables: {'1': name}\n    content_sid: {en: HX" + "a" * 32 + "}\n",
     "'name' is not one of the template's params"),
    ("templates:\n  call_soon:\n    variables: {one: date}\n    content_sid: {en: HX" + "a" * 32 + "}\n",
     "must be a variable's number"),
    ("templates:\n  call_soon:\n    content_sid: {}\n", "needs at least one language"),
    ("templates:\n  call_soon:\n    sid: x\n", "Extra inputs are not permitted"),
])
def test_a_bad_templates_file_is_refused_naming_the_entry(tmp_path, runtime, text, says):
    staff = {t.id: t.params for t in staff_templates()}
    with pytest.raises(FlowError, match=says):
        load_whatsapp_templates(write(tmp_path, text), staff, [lang.id for lang in runtime.bundle.languages])


def test_the_app_does_not_start_with_a_bad_templates_file(app_config, tmp_path):
    from webhook import create_app

    bad = write(tmp_path, "templates:\n  call_soon:\n    content_sid: {en: nope}\n")
    with pytest.raises(FlowError, match="is not a ContentSid"):
        create_app({**app_config, "WHATSAPP_TEMPLATES": str(bad)})


def test_a_language_without_its_own_template_falls_back_to_english():
    templates = WhatsAppTemplates({"call_soon": {"en": EN_CALL, "es": ES_CALL}})
    assert templates.content("call_soon", "ko", {}).sid == EN_CALL  # type: ignore[union-attr]
    assert templates.content("call_soon", "es", {}).lang == "es"  # type: ignore[union-attr]
    assert templates.content("call_back", "en", {}) is None


def test_staff_templates_are_data_checked_on_load(tmp_path):
    ok = staff_templates()
    assert [t.id for t in ok] == ["call_soon", "orientation", "call_back", "callback_new_window"]
    assert dict((t.id, t.params) for t in ok)["orientation"] == ("date", "time", "place")
    with pytest.raises(FlowError, match=r"names \['place'\] but params are \[\]"):
        staff_templates(write(tmp_path, "templates:\n  - {id: x, staff_label: X, text: 'At %(place)s'}\n"))
    with pytest.raises(FlowError, match="unknown params"):
        staff_templates(write(tmp_path, "templates:\n  - {id: x, staff_label: X, text: 'By %(name)s', params: [name]}\n",
                              "b.yaml"))
    with pytest.raises(FlowError, match="appears twice"):
        staff_templates(write(tmp_path, "templates:\n  - {id: x, staff_label: X, text: A}\n"
                                        "  - {id: x, staff_label: Y, text: B}\n", "c.yaml"))


def test_outbound_refuses_before_queueing_even_without_the_admin(app, svc, twilio):
    iid = intake_id_of(whatsapp_person(svc, "+13235550212", last_wrote_hours_ago=24.5))
    ob = deferred_outbound(app, svc)
    with pytest.raises(OutboundError) as refused:
        ob.send(iid, staff_user(svc), text="Hi")
    assert refused.value.reason == "whatsapp_window" and str(refused.value) == REASON


def test_a_delivery_status_63016_is_shown_with_its_reason(staff, svc, twilio):
    from tests.admin.test_messages import signed_callback

    iid = intake_id_of(whatsapp_person(svc, "+13235550213", last_wrote_hours_ago=3))
    send(staff, iid, text="Hello")
    [msg] = staff_messages(svc, iid)
    assert signed_callback(staff, {"MessageSid": msg.provider_id, "MessageStatus": "failed",
                                   "ErrorCode": "63016"}).status_code == 204
    assert message(svc, msg.id).error_code == "63016"
    page = staff.get(f"/admin/intakes/{iid}").get_data(as_text=True)
    assert "(error 63016: WhatsApp refused it: outside the 24-hour window, only approved templates go)" in page


def test_the_readme_example_is_a_valid_templates_file(tmp_path, runtime):
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("`WHATSAPP_TEMPLATES` names:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    staff = {t.id: t.params for t in staff_templates()}
    loaded = load_whatsapp_templates(write(tmp_path, example), staff, [lang.id for lang in runtime.bundle.languages])
    assert loaded.has("call_soon") and loaded.has("reminder_1") and not loaded.has("call_back")
    content = loaded.content("orientation", "es", {"date": "viernes", "time": "9:30", "place": "Pacoima"})
    assert content is not None and content.lang == "en"
    assert json.loads(content.variables_json) == {"1": "viernes", "2": "9:30", "3": "Pacoima"}
