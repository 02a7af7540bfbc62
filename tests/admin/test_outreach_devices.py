"""Staff register an outreach worker's phone; the worker enrols people on it by signed Twilio posts; follow-up reaches them."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import AuditLog, Intake, OutreachDevice, ReferralCode
from tests.admin.helpers import post_form
from tests.test_twilio_webhook import form, post, replies

WORKER = "+12135550199"
PUBLIC = "https://intake.example.org/webhooks/twilio"  # the admin tests' PUBLIC_BASE_URL signs Twilio's posts


def register(staff, **fields):
    data = {"referral_code": "EASTLA1", "channel": "sms", "address": "(213) 555-0199", "label": "Rosa's phone", **fields}
    return post_form(staff, "/admin/devices", data, page="/admin/devices")


def add_code(svc, code: str = "EASTLA1") -> None:
    with svc.db.writing() as s:
        s.add(ReferralCode(code=code, organisation="East LA WorkSource", worker="Rosa"))
    svc.forget_referral_codes()


def test_staff_register_a_workers_phone_and_see_it_listed_under_its_code(staff, svc):
    add_code(svc)
    resp = register(staff)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/devices?code=EASTLA1")
    page = staff.get("/admin/devices?code=EASTLA1").get_data(as_text=True)
    assert "(213) 555-0199" in page and "Rosa&#39;s phone" in page
    assert "/admin/devices?code=EASTLA1" in staff.get("/admin/referral-codes/EASTLA1").get_data(as_text=True)
    with svc.db.session() as s:
        row = s.scalar(select(OutreachDevice))
        assert row is not None and row.address == WORKER and row.referral_code == "EASTLA1"
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "outreach_device_registered"))
        assert entry is not None and WORKER not in str(entry.detail)


def test_a_bad_number_or_code_is_refused_kindly(staff, svc):
    add_code(svc)
    resp = register(staff, address="555")
    assert resp.status_code == 400 and "US phone number with its area code" in resp.get_data(as_text=True)
    resp = register(staff, referral_code="NOPE1")
    assert resp.status_code == 400 and "active referral code" in resp.get_data(as_text=True)
    with svc.db.session() as s:
        assert s.scalars(select(OutreachDevice)).all() == []


def test_retired_phones_enrol_no_more_people_with_the_code(staff, svc, client):
    add_code(svc)
    register(staff)
    with svc.db.session() as s:
        device_id = s.scalar(select(OutreachDevice.id))
    assert post_form(staff, f"/admin/devices/{device_id}/retire", {}, page="/admin/devices").status_code == 302
    said = replies(post(client, form("Hi", "SM" + "9" * 32, sender=WORKER), url=PUBLIC))
    assert not any("New person" in r for r in said)
    with svc.db.session() as s:
        assert s.scalar(select(Intake.referral_code)) is None


def test_an_assisted_enrolment_by_signed_posts_sends_staff_messages_to_the_persons_own_number(staff, svc, client, twilio):
    add_code(svc)
    register(staff)
    n = iter(range(1, 100))

    def worker_says(text: str) -> str:
        return "\n".join(replies(post(client, form(text, f"SM{next(n):032d}", sender=WORKER), url=PUBLIC)))

    def asked() -> str | None:
        with svc.db.session() as s:
            return s.scalar(select(Intake.current_step).order_by(Intake.id.desc()).limit(1))

    assert "New person" in worker_says("Hi")
    answers = {"language": "1", "consent": "yes", "first_name": "Ana"}
    said = ""
    for _ in range(5):
        said = worker_says(answers.get(asked() or "", "1"))
        if "own mobile number" in said:
            break
    assert "Ana's own mobile number" in said
    assert "ending 0111" in worker_says("323-555-0111")
    with svc.db.session() as s:
        ana = s.scalar(select(Intake))
        assert ana is not None and ana.referral_code == "EASTLA1"
        iid = ana.id
    page = staff.get(f"/admin/intakes/{iid}").get_data(as_text=True)
    assert "+13235550111" in page and "On an outreach worker's phone, with EASTLA1" in page
    resp = post_form(staff, f"/admin/intakes/{iid}/messages", {"action": "send", "text": "Can you come on Tuesday?"},
                     page=f"/admin/intakes/{iid}", follow_redirects=True)
    assert resp.status_code == 200
    assert twilio.accepted[-1]["To"] == "+13235550111"
    assert twilio.accepted[-1]["Body"] == "Can you come on Tuesday?"
    assert all(m["To"] != WORKER for m in twilio.accepted)


def test_on_a_phone_shared_by_new_the_preview_and_the_message_name_the_person(staff, svc, twilio):
    from tests.transcript import Person

    p = Person(svc, "+13235550177")
    p.says("Hi")
    p.says("yes")
    p.says("Ana")
    ana = p.last.intake_id
    p.says("NEW")
    path = f"/admin/intakes/{ana}/messages"
    r = post_form(staff, path, {"action": "preview", "text": "Can you come on Tuesday?"}, page=f"/admin/intakes/{ana}")
    assert "Message for Ana: Can you come on Tuesday?" in r.get_data(as_text=True) and not twilio.sent
    post_form(staff, path, {"action": "send", "text": "Can you come on Tuesday?"}, page=f"/admin/intakes/{ana}")
    assert twilio.accepted[-1]["To"] == "+13235550177"
    assert twilio.accepted[-1]["Body"] == "Message for Ana: Can you come on Tuesday?"
