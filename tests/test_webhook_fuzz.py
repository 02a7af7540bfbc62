"""Whatever arrives, a webhook answers 2xx, 400 or 403: never 500 (property-based)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token"
SECRET = "fuzz-secret"
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
fields = st.dictionaries(st.sampled_from(["From", "To", "Body", "MessageSid", "SmsSid", "NumMedia", "AccountSid",
                                          "MessageStatus", "ErrorCode", "Extra"]), text, max_size=8)


@pytest.fixture
def any_client(backend):
    """A test client of the app on SQLite and on PostgreSQL (which refuses NUL and checks column sizes)."""
    from webhook import create_app

    app = create_app(backend)
    yield app.test_client()
    app.extensions["hrtp"].db.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=fields, sender=st.sampled_from(["+13235550101", "whatsapp:+13235550102", "+1", "abc", ""]))
def test_signed_twilio_requests_never_get_500(any_client, data, sender):
    client = any_client
    form = {**data, "From": sender} if "From" not in data else data
    for path in ("/webhooks/twilio", "/webhooks/twilio/status"):
        url = f"http://localhost{path}"
        signature = RequestValidator(TOKEN).compute_signature(url, form)
        response = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
        assert response.status_code in (200, 204, 400), (path, form, response.status_code)


@pytest.fixture
def tg_app(backend):
    from tests.fakes.telegram_api import FakeBotAPI
    from webhook import create_app

    with FakeBotAPI() as api:
        app = create_app({**backend, "TELEGRAM_BOT_TOKEN": "123:ABC", "TELEGRAM_WEBHOOK_SECRET": SECRET,
                          "TELEGRAM_API_BASE_URL": api.base_url})
        yield app.test_client()
        app.extensions["hrtp"].db.dispose()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | text,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                           max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values)
def test_web_chat_never_gets_500(client, body):
    assert client.post("/chat/send", json=body).status_code in (200, 400)


# Ids and fields of the wrong size or type too: real Telegram never sends them, forged requests might.
ids = st.integers(1, 2**40) | st.integers(-(2**70), 2**70) | st.none() | text
update = st.fixed_dictionaries({"update_id": st.integers(1, 2**31) | st.integers(2**52, 10**70)}, optional={
    "message": st.fixed_dictionaries({"message_id": st.integers(1, 99),
                                      "date": st.integers(0, 2**31) | st.integers() | st.floats(),
                                      "chat": st.fixed_dictionaries({"id": ids, "type": st.sampled_from(
                                          ["private", "group", "supergroup", "channel"])})},
                                     optional={"text": text | json_values, "from": st.fixed_dictionaries(
                                         {"id": st.integers(1, 2**40), "is_bot": st.booleans(), "first_name": text},
                                         optional={"language_code": st.sampled_from(["es", "zh-hant", "xx", ""])
                                                   | st.integers() | st.none()})}),
    "callback_query": st.fixed_dictionaries({"id": text, "from": st.fixed_dictionaries(
        {"id": st.integers(1, 2**40), "is_bot": st.just(False), "first_name": text}), "chat_instance": text},
        optional={"data": text, "message": st.fixed_dictionaries({
            "message_id": st.integers(1, 99), "date": st.integers(0, 2**31),
            "chat": st.fixed_dictionaries({"id": ids, "type": st.sampled_from(["private", "group"])})})}),
    "poll_answer": json_values,
    "edited_message": json_values,
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=update | json_values)
def test_telegram_updates_never_get_500(tg_app, body):
    response = tg_app.post("/webhooks/telegram", json=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code in (200, 400, 502), (body, response.status_code)
