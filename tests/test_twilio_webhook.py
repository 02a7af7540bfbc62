"""POST /webhooks/twilio with real signatures computed by the twilio library."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bot.models import Contact, Intake, Message
from tests.transcript import answer_by_field, step_asked

TOKEN = "test-auth-token"
URL = "http://localhost/webhooks/twilio"
FIXTURES = Path(__file__).parent / "fixtures"


def form(body: str, sid: str, sender: str = "+13235550101", **extra: str) -> dict[str, str]:
    """A Twilio inbound SMS webhook form, shaped like a captured real one."""
    data = {"ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "LOS ANGELES",
            "FromZip": "90011", "SmsSid": sid, "FromState": "CA", "SmsStatus": "received", "FromCity": "LOS ANGELES",
            "Body": body, "FromCountry": "US", "To": "+12135550000", "ToZip": "90012", "NumSegments": "1",
            "MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender, "ApiVersion": "2010-04-01"}
    data.update(extra)
    return data


def post(client, data: dict[str, str], url: str = URL, token: str = TOKEN, **headers: str):
    signature = RequestValidator(token).compute_signature(url, data)
    return client.post(url.replace("http://localhost", ""), data=data,
                       headers={"X-Twilio-Signature": signature, **headers})


def replies(response) -> list[str]:
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/xml"
    return [m.text or "" for m in ET.fromstring(response.data).iter("Message")]


def test_a_signed_message_gets_twiml_replies(client):
    texts = replies(post(client, form("Bonjour", "SM0001")))  # no language of ours shows: the list
    assert "Reply with the number of your language" in texts[0]


def test_a_whole_intake_through_signed_webhooks(client, app):
    sent: list[list[str]] = []

    def send(text: str) -> None:
        sent.append(replies(post(client, form(text, f"SM{len(sent):032d}"))))

    send("Hi")
    answer_by_field(send, lambda: step_asked(app.extensions["hrtp"].db, "sms", "+13235550101"), "program_choice",
                    {"consent": "yes", "first_name": "Rosa", "zip": "90011", "age_range": "4", "employment": "1",
                     "sectors": "1,2", "education": "2", "drivers_license": "1", "housing": "2", "background": "4",
                     "needs": "1"})
    assert any("you can likely join" in t for t in sent[-1])
    with app.extensions["hrtp"].db.session() as s:
        intake = s.scalars(select(Intake)).one()
        assert intake.status == "completed" and intake.eligibility == "eligible"
        assert intake.contact.address == "+13235550101"


def test_a_bad_signature_is_refused_with_403(client):
    data = form("Hi", "SM0002")
    response = client.post("/webhooks/twilio", data=data, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert response.status_code == 403
    assert client.post("/webhooks/twilio", data=data).status_code == 403
    assert post(client, data, token="some-other-token").status_code == 403


@pytest.mark.parametrize("data", [
    {},
    {"Body": "hi"},
    {"From": "+13235550101", "Body": "hi"},
    {"MessageSid": "SM1", "From": "not a phone", "Body": "hi"},
    {"MessageSid": "SM1", "From": "+1", "Body": "hi"},
])
def test_a_malformed_but_signed_request_gets_400_never_500(client, data):
    assert post(client, data).status_code == 400


def test_garbage_bodies_never_get_500(client):
    for body, ctype in ((b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"), (b"{not json", "application/json"),
                        (b"", "text/plain"), (b"a=%zz&b", "application/x-www-form-urlencoded")):
        response = client.post("/webhooks/twilio", data=body, content_type=ctype, headers={"X-Twilio-Signature": "x"})
        assert response.status_code in (400, 403), body


def test_whatsapp_messages_are_their_own_channel_and_numbers_are_e164(client, app):
    replies(post(client, form("Hi", "SM0003", sender="whatsapp:+13235550199")))
    replies(post(client, form("Hi", "SM0004", sender="(323) 555-0198")))
    with app.extensions["hrtp"].db.session() as s:
        contacts = {(c.channel, c.address) for c in s.scalars(select(Contact))}
    assert contacts == {("whatsapp", "+13235550199"), ("sms", "+13235550198")}


def test_long_replies_are_split_and_each_message_records_segments_and_encoding(client, app):
    replies(post(client, form("Bonjour", "SM0005")))
    with app.extensions["hrtp"].db.session() as s:
        out = s.scalars(select(Message).where(Message.direction == "out")).all()
    assert len(out) == 2  # the 15-language list does not fit in 3 UCS-2 segments
    assert all(m.encoding == "UCS-2" and 1 <= m.segments <= 3 for m in out)


def test_a_repeated_delivery_changes_nothing_and_gets_the_same_reply(client, app):
    replies(post(client, form("Bonjour", "SM0006")))
    first = replies(post(client, form("2", "SM0007")))
    again = replies(post(client, form("2", "SM0007")))
    assert first == again
    with app.extensions["hrtp"].db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 2
        assert s.scalars(select(Intake)).one().language == "es"


def test_signature_uses_public_base_url_behind_a_proxy(app_config):
    from webhook import create_app

    app = create_app({**app_config, "PUBLIC_BASE_URL": "https://intake.example.org"})
    client = app.test_client()
    public = "https://intake.example.org/webhooks/twilio"
    data = form("Hi", "SM0008")
    signature = RequestValidator(TOKEN).compute_signature(public, data)
    assert client.post("/webhooks/twilio", data=data, headers={"X-Twilio-Signature": signature}).status_code == 200
    assert post(client, form("Hi", "SM0009")).status_code == 403  # signed for the inner URL: refused
    app.extensions["hrtp"].db.dispose()


def test_signature_through_a_trusted_proxy(app_config):
    from webhook import create_app

    app = create_app({**app_config, "TRUSTED_PROXIES": 1})
    client = app.test_client()
    public = "https://intake.example.org/webhooks/twilio"
    data = form("Hi", "SM0010")
    signature = RequestValidator(TOKEN).compute_signature(public, data)
    response = client.post("/webhooks/twilio", data=data, headers={
        "X-Twilio-Signature": signature, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "intake.example.org"})
    assert response.status_code == 200
    app.extensions["hrtp"].db.dispose()


def test_a_captured_real_payload_is_understood(client):
    import json

    data = json.loads((FIXTURES / "twilio_inbound_sms.json").read_text())
    texts = replies(post(client, data))
    assert texts and "language" in texts[0]


def test_simultaneous_messages_from_one_person_are_applied_in_turn_and_both_kept(app):
    client_a, client_b = app.test_client(), app.test_client()
    replies(post(client_a, form("Hi", "SM0100")))
    replies(post(client_a, form("1", "SM0101")))
    barrier = threading.Barrier(2)
    results: dict[str, list[str]] = {}

    def send(client, body, sid):
        barrier.wait()
        results[sid] = replies(post(client, form(body, sid)))

    threads = [threading.Thread(target=send, args=(client_a, "yes", "SM0102")),
               threading.Thread(target=send, args=(client_b, "Rosa", "SM0103"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.extensions["hrtp"].db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 4
        intake = s.scalars(select(Intake)).one()
    # Applied one after the other: either "yes" answered consent and "Rosa" the name, or "Rosa"
    # came first (not an answer to consent, so re-asked) and then "yes" gave consent.
    answers = intake.state["answers"]
    assert answers["consent"] == "yes"
    assert (answers.get("first_name"), intake.current_step) in (("Rosa", "zip"), (None, "first_name"))
    assert len(results) == 2


def test_simultaneous_duplicate_deliveries_store_one_message(app):
    clients = [app.test_client() for _ in range(4)]
    barrier = threading.Barrier(4)
    out: list[list[str]] = []

    def send(client):
        barrier.wait()
        out.append(replies(post(client, form("Hi", "SM0200"))))

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 4 and all(o == out[0] for o in out)
    with app.extensions["hrtp"].db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1
        assert s.scalar(select(func.count()).select_from(Intake)) == 1


def test_healthz(client):
    body = client.get("/healthz").json
    assert body["status"] == "ok" and body["checks"]["database"] == "ok" and body["queue"]["ok"] is True


@pytest.mark.parametrize("texts", [[], ["Hi"], ['x & <y> "q" \'s\' \r\n é 中 ]]> &amp;', "Reply 1 or 2"]])
def test_twiml_is_what_the_twilio_library_writes(texts):
    from twilio.twiml.messaging_response import MessagingResponse

    from webhook.twilio_channel import twiml

    expected = MessagingResponse()
    for text in texts:
        expected.message(text)
    assert twiml(texts).get_data(as_text=True) == str(expected)


@pytest.mark.parametrize("url", ["https://intake.example.org/webhooks/twilio", "https://intake.example.org:443/webhooks/twilio",
                                 "http://127.0.0.1:8000/webhooks/twilio?x=1"])
def test_the_signature_check_accepts_and_refuses_what_the_twilio_library_does(url):
    from urllib.parse import urlparse

    from twilio.request_validator import add_port, remove_port

    from webhook.twilio_channel import signature_valid

    data = form("Hi", "SM1")
    validator = RequestValidator(TOKEN)
    parsed = urlparse(url)
    for signed in (url, add_port(parsed), remove_port(parsed), url + "/other"):
        for token in (TOKEN, "another-token"):
            sig = RequestValidator(token).compute_signature(signed, data)
            assert signature_valid(TOKEN, url, data, sig) == validator.validate(url, data, sig), (signed, token)
    assert not signature_valid(TOKEN, url, data, "")
