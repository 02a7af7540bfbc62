"""Inputs that once broke the webhooks, on SQLite and PostgreSQL: each gets a 2xx or a 400, never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.models import Contact, Intake, Message
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_twilio_webhook import form, post

SECRET = "s3cret_token-1"


@pytest.fixture
def bot_api():
    with FakeBotAPI() as api:
        yield api


@pytest.fixture
def web(backend, bot_api):
    from webhook import create_app

    app = create_app({**backend, "TELEGRAM_BOT_TOKEN": "123:ABC", "TELEGRAM_WEBHOOK_SECRET": SECRET,
                      "TELEGRAM_API_BASE_URL": bot_api.base_url})
    yield app
    app.extensions["hrtp"].db.dispose()


def db_of(app):
    return app.extensions["hrtp"].db


def inbound_texts(app) -> list[str | None]:
    with db_of(app).session() as s:
        return list(s.scalars(select(Message.text).where(Message.direction == "in").order_by(Message.id)))


# ---- Twilio ------------------------------------------------------------------------------------

@pytest.mark.parametrize("num_media", ["9223372036854775808", "2147483648", "-5", "1e9", "many"])
def test_an_absurd_media_count_is_read_as_bounded(web, num_media):
    response = post(web.test_client(), form("Hi", "SM" + "1" * 32, NumMedia=num_media))
    assert response.status_code == 200
    with db_of(web).session() as s:
        assert 0 <= s.scalar(select(Message.media_count).where(Message.direction == "in")) <= 10


def test_a_nul_in_an_sms_body_is_dropped_not_a_500(web):
    client = web.test_client()
    assert post(client, form("Hi\x00 there", "SM" + "2" * 32)).status_code == 200
    assert inbound_texts(web) == ["Hi there"]


def test_a_huge_signed_body_is_stored_bounded(web):
    assert post(web.test_client(), form("x" * 1_000_000, "SM" + "3" * 32)).status_code == 200
    [text] = inbound_texts(web)
    assert text is not None and 0 < len(text) <= 5000


def test_a_message_sid_longer_than_the_column_is_refused_not_truncated_into_a_collision(web):
    client = web.test_client()
    base = "SM" + "4" * 62
    assert post(client, form("Hi", base + "A")).status_code == 400
    assert post(client, form("Hi", base + "B")).status_code == 400
    assert post(client, form("Hi", "SM\x00" + "5" * 31)).status_code == 400
    with db_of(web).session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


# ---- Telegram ----------------------------------------------------------------------------------

def tg(app, body):
    if isinstance(body, str):
        return app.test_client().post("/webhooks/telegram", data=body, content_type="application/json",
                                      headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    return app.test_client().post("/webhooks/telegram", json=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})


def message(text="hi", chat_id=555002, update_id=9100, **user):
    return {"update_id": update_id, "message": {
        "message_id": 1, "date": 1763700000, "text": text, "from": {"id": 1, "is_bot": False, "first_name": "R", **user},
        "chat": {"id": chat_id, "type": "private"}}}


def test_deeply_nested_json_is_a_400_not_a_recursion_error(web):
    assert tg(web, "[" * 1000 + "]" * 1000).status_code == 400
    assert tg(web, '{"update_id": 1, "message": ' + "[" * 5000 + "]" * 5000 + "}").status_code == 400


def test_deeply_nested_json_to_the_web_chat_is_a_400(web):
    r = web.test_client().post("/chat/send", data="[" * 5000 + "]" * 5000, content_type="application/json")
    assert r.status_code == 400


@pytest.mark.parametrize("body", [
    message(chat_id=None), message(chat_id="555002"), message(text=[1]), message(update_id=10**70),
    message(chat_id=10**64), message(chat_id=True),
    {"update_id": 9101, "message": {**message()["message"], "date": 10**20}},
    {"update_id": 9102, "message": {**message()["message"], "date": 1.5e308}}])
def test_updates_no_real_telegram_sends_are_refused_and_store_nothing(web, body):
    assert tg(web, body).status_code == 400
    with db_of(web).session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 0


def test_a_numeric_language_code_is_ignored(web, bot_api):
    assert tg(web, message(language_code=5)).status_code == 200
    assert bot_api.sent(555002)[-1]["text"] == "Do you agree to answer a few questions?"  # English, from the greeting


def test_a_nul_in_telegram_text_is_dropped(web, bot_api):
    assert tg(web, message(text="hola\x00")).status_code == 200
    assert inbound_texts(web) == ["hola"]


@pytest.mark.parametrize("body", [
    {"update_id": 9200, "callback_query": {"id": "cb1", "from": {"id": 1, "is_bot": False, "first_name": "R"},
                                           "chat_instance": "ci", "data": "1"}},
    {"update_id": 9201, "poll_answer": {"poll_id": "p1", "user": {"id": 1, "is_bot": False, "first_name": "R"},
                                        "option_ids": [0]}},
    {"update_id": 9202, "message_reaction": {"chat": {"id": 555002, "type": "private"}, "message_id": 1,
                                             "date": 1763700000, "old_reaction": [], "new_reaction": []}},
    {"update_id": 9203, "my_chat_member": {}},
])
def test_updates_we_cannot_answer_get_200_so_telegram_stops_resending(web, body):
    assert tg(web, body).status_code == 200
    with db_of(web).session() as s:
        assert s.scalar(select(func.count()).select_from(Intake)) == 0


def test_a_group_chat_is_told_once_to_write_privately_and_no_intake_starts(web, bot_api):
    group = -1001234567890
    for n, text in enumerate(("hi", "1", "hello?")):
        body = message(text, chat_id=group, update_id=9300 + n, language_code="es")
        body["message"]["chat"] = {"id": group, "type": "supergroup", "title": "Vecinos"}
        assert tg(web, body).status_code == 200
    [reply] = bot_api.sent(group)
    assert "privado" in reply["text"]
    with db_of(web).session() as s:
        assert s.scalar(select(func.count()).select_from(Intake)) == 0


def test_status_callbacks_with_nul_or_oversize_fields_are_not_a_500(web):
    from twilio.request_validator import RequestValidator

    from tests.test_twilio_webhook import TOKEN

    url = "http://localhost/webhooks/twilio/status"
    client = web.test_client()
    assert post(client, form("Hi", "SM" + "6" * 32)).status_code == 200
    with db_of(web).writing() as s:
        reply = s.scalars(select(Message).where(Message.direction == "out")).first()
        reply.provider_id = "SM" + "7" * 32

    def callback(data):
        signature = RequestValidator(TOKEN).compute_signature(url, data)
        return client.post("/webhooks/twilio/status", data=data, headers={"X-Twilio-Signature": signature})

    assert callback({"MessageSid": "SM\x00" + "7" * 31, "MessageStatus": "delivered"}).status_code == 400
    assert callback({"MessageSid": "SM" + "7" * 70, "MessageStatus": "delivered"}).status_code == 400
    assert callback({"MessageSid": "SM" + "7" * 32, "MessageStatus": "undelivered",
                     "ErrorCode": "30\x0003" + "9" * 40}).status_code == 204
    with db_of(web).session() as s:
        row = s.scalar(select(Message).where(Message.provider_id == "SM" + "7" * 32))
        assert (row.status, row.error_code) == ("undelivered", None)


# ---- web chat ----------------------------------------------------------------------------------

def chat(app, body: str):
    return app.test_client().post("/chat/send", data=body, content_type="application/json")


@pytest.mark.parametrize("body, stored", [
    ('{"text": "\\ud800"}', "\ufffd"),                           # a lone surrogate: not encodable as UTF-8
    ('{"text": "hola \\ud83d\\ude00 \\udc00"}', "hola \U0001f600 \ufffd"),  # a real pair stays, a stray one goes
    ('{"text": "hi\\u0000 there"}', "hi there"),                  # NUL: PostgreSQL refuses it in text
])
def test_web_chat_text_no_database_can_store_is_made_storable_and_answered(web, body, stored):
    response = chat(web, body)
    assert response.status_code == 200 and response.get_json()["messages"]
    assert inbound_texts(web) == [stored]


@pytest.mark.parametrize("body", ['{"text": 5}', '{"text": ["hi"]}', '{"text": {"a": 1}}', '{"text": null}',
                                  '["hi"]', '"hi"', "hi", '{"text": "hi"'])
def test_web_chat_text_that_is_not_a_string_is_a_400_that_says_what_to_send(web, body):
    response = chat(web, body)
    assert response.status_code == 400 and "text" in response.get_json()["error"]
    assert inbound_texts(web) == []


def test_web_chat_huge_text_is_answered_and_stored_bounded(web):
    response = web.test_client().post("/chat/send", json={"text": "x" * 900_000})
    assert response.status_code == 200
    [text] = inbound_texts(web)
    assert text is not None and 0 < len(text) <= 5000


def test_web_chat_referral_code_with_a_surrogate_or_nul_is_ignored(web):
    assert chat(web, '{"text": "hi", "ref": "EAST\\ud800"}').status_code == 200
    assert chat(web, '{"text": "hi", "ref": "EAST\\u0000LA"}').status_code == 200
    with db_of(web).session() as s:
        assert list(s.scalars(select(Intake.referral_code))) == [None, None]  # two visitors, no code
