"""Whatever arrives, a channel answers 2xx, 400 or 403: never 500 (property-based, on SQLite and PostgreSQL).

HRTP_FUZZ_EXAMPLES sets how many requests each property generates per database: CI runs the issue's
10,000 (.ci/run); a local run defaults to 300 so the whole suite stays quick."""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token"
SECRET = "fuzz-secret"
EXAMPLES = int(os.environ.get("HRTP_FUZZ_EXAMPLES") or 300)
fuzz = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# What people type, including what moves an intake along, so generated conversations get past the first question.
words = st.sampled_from(["hi", "1", "2", "3", "4", "12", "1,2", "yes", "no", "si", "BACK", "HELP", "NEW", "STOP",
                         "START", "DELETE", "YES", "LANGUAGE", "RESTART", "90011", "Zelda", "JOIN EASTLA1",
                         "/start EASTLA1", "/start", "=HYPERLINK(\"x\")"])
form_text = words | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
# JSON carries what a form cannot: lone surrogates.
json_text = words | st.text(alphabet=st.characters(blacklist_categories=()), max_size=300)
huge = st.integers(5_000, 200_000).map(lambda n: "x" * n)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | json_text,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_text, inner, max_size=4),
                           max_leaves=12)


@pytest.fixture
def any_app(backend):
    """The app on SQLite and on PostgreSQL (which refuses NUL and checks column sizes), with a fake Bot API."""
    from tests.fakes.telegram_api import FakeBotAPI
    from webhook import create_app

    with FakeBotAPI() as api:
        # Thousands of requests from one address: the rate limit would answer most (tests/test_ratelimit.py).
        app = create_app({**backend, "TELEGRAM_BOT_TOKEN": "123:ABC", "TELEGRAM_WEBHOOK_SECRET": SECRET,
                          "TELEGRAM_API_BASE_URL": api.base_url, "RATELIMIT_ENABLED": False})
        yield app
        app.extensions["hrtp"].db.dispose()


def reached_the_store(app, channels: tuple[str, ...]) -> int:
    """How many generated messages the engine handled and stored (so the fuzz is not all 400s at the door)."""
    from sqlalchemy import func, select

    from bot.models import Message

    with app.extensions["hrtp"].db.session() as s:
        return s.scalar(select(func.count()).select_from(Message).where(
            Message.direction == "in", Message.channel.in_(channels))) or 0


# ---- Twilio: signed forms, as Twilio or a forger holding the token would send them --------------

# Most requests are readable, so most reach the engine and the store; the rest are anything at all.
phone = st.sampled_from(["+13235550101", "+13235550102", "whatsapp:+13235550101", "whatsapp:+13235550103",
                         "+442071838750", " +1 (323) 555-0104 "])
senders = st.one_of(phone, phone, phone, st.sampled_from(["+1", "abc", "", "whatsapp:"]), form_text)
# None stands for "a new message": the test gives it the next unused id, as Twilio would (Hypothesis
# draws the same few values again and again, and a repeated id is only a replay).
fresh = st.none()
sids = st.one_of(fresh, fresh, fresh, st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True),
                 st.from_regex(r"SM[0-9a-f]{60,70}", fullmatch=True), form_text)
serial = itertools.count(1)
media = st.sampled_from(["0", "1", "10", "11", "-5", "9223372036854775808", "2147483648", "1e9", "many", ""]) | form_text
readable_form = st.fixed_dictionaries({"From": phone, "MessageSid": fresh, "Body": form_text | huge},
                                      optional={"NumMedia": media})
twilio_form = st.fixed_dictionaries({"From": senders, "MessageSid": sids, "Body": form_text | huge}, optional={
    "NumMedia": media, "To": form_text, "AccountSid": form_text, "SmsSid": form_text, "Extra": form_text,
    "MessageStatus": st.sampled_from(["queued", "sent", "delivered", "undelivered", "failed", "read"]) | form_text,
    "ErrorCode": st.sampled_from(["30003", "30005", "21610"]) | form_text})


def test_signed_twilio_requests_never_get_500(any_app):
    client = any_app.test_client()

    @fuzz
    @given(form=st.one_of(readable_form, readable_form, twilio_form),
           drop=st.one_of(st.just(set()), st.just(set()), st.sets(st.sampled_from(["From", "MessageSid", "Body"]))))
    def prop(form, drop):
        generated.append(1)
        form = {k: f"SM{next(serial):032x}" if v is None else v for k, v in form.items() if k not in drop}
        for path in ("/webhooks/twilio", "/webhooks/twilio/status"):
            signature = RequestValidator(TOKEN).compute_signature(f"http://localhost{path}", form)
            response = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
            assert response.status_code in (200, 204, 400), (path, form, response.status_code)

    generated: list[int] = []
    prop()
    assert len(generated) >= EXAMPLES
    assert reached_the_store(any_app, ("sms", "whatsapp")) > EXAMPLES // 10


# ---- web chat: JSON from any browser, or from anything that can POST -----------------------------

chat_body = st.fixed_dictionaries({"text": json_text | huge}, optional={
    "ref": st.sampled_from(["EASTLA1", "eastla1", "=1+1", "", "x" * 40]) | json_values,
    "step": json_values, "turn": json_values}) | st.fixed_dictionaries({"text": json_values}) | json_values


# As for Twilio: most requests are what a browser sends, so most reach the engine and the store.
readable_chat = st.fixed_dictionaries({"text": st.text(min_size=1, max_size=40)}, optional={
    "ref": st.sampled_from(["EASTLA1", "eastla1", "=1+1"])})


def test_web_chat_never_gets_500(any_app):
    @fuzz
    @given(body=st.one_of(readable_chat, readable_chat, chat_body),
           raw=st.one_of(st.none(), st.none(), st.none(), st.binary(max_size=200)), fresh=st.booleans())
    def prop(body, raw, fresh):
        generated.append(1)
        # Mostly one visitor whose conversation moves on, sometimes a new one.
        client = any_app.test_client() if fresh else visitor
        if raw is not None:
            response = client.post("/chat/send", data=raw, content_type="application/json")
        else:
            response = client.post("/chat/send", json=body)
        assert response.status_code in (200, 400), (body, raw, response.status_code)

    visitor = any_app.test_client()
    generated: list[int] = []
    prop()
    assert len(generated) >= EXAMPLES
    assert reached_the_store(any_app, ("web",)) > EXAMPLES // 10


# ---- Telegram: updates of the right shape, the wrong shape and no shape ------------------------------

# Ids and fields of the wrong size or type too: real Telegram never sends them, forged requests might.
ids = st.integers(1, 2**40) | st.integers(-(2**70), 2**70) | st.none() | json_text
user = st.fixed_dictionaries({"id": st.integers(1, 2**40), "is_bot": st.booleans(), "first_name": json_text},
                             optional={"language_code": st.sampled_from(["es", "zh-hant", "xx", ""]) | st.integers()
                                       | st.none()})
chat = st.fixed_dictionaries({"id": st.integers(1, 2**40) | ids, "type": st.sampled_from(
    ["private", "private", "group", "supergroup", "channel"]) | json_text})
update_id = st.none()  # the next unused update id, as with Twilio's message ids
private = st.fixed_dictionaries({"id": st.integers(1, 2**40), "type": st.just("private")})
readable = st.fixed_dictionaries({"update_id": update_id}, optional={"message": st.fixed_dictionaries({
    "message_id": st.integers(1, 99), "chat": private, "date": st.integers(0, 2**31), "from": user,
    "text": json_text | huge}), "callback_query": st.fixed_dictionaries({
        "id": json_text, "from": user, "chat_instance": json_text, "data": json_text,
        "message": st.fixed_dictionaries({"message_id": st.integers(1, 99), "date": st.integers(0, 2**31), "chat": private})})})
update = st.fixed_dictionaries({"update_id": st.integers(1, 2**31) | st.integers(2**52, 10**70) | json_values}, optional={
    "message": st.fixed_dictionaries({"message_id": st.integers(1, 99), "chat": chat,
                                      "date": st.integers(0, 2**31) | st.integers() | st.floats()},
                                     optional={"text": json_text | huge | json_values, "from": user,
                                               "caption": json_text, "photo": json_values}),
    "callback_query": st.fixed_dictionaries({"id": json_text, "from": user, "chat_instance": json_text}, optional={
        "data": json_text | json_values, "message": st.fixed_dictionaries({
            "message_id": st.integers(1, 99), "date": st.integers(0, 2**31), "chat": chat})}),
    "my_chat_member": json_values,
    "poll_answer": json_values,
    "edited_message": json_values,
})


def test_telegram_updates_never_get_500(any_app):
    client = any_app.test_client()

    @fuzz
    @given(body=st.one_of(readable, readable, update, json_values))
    def prop(body):
        generated.append(1)
        if isinstance(body, dict) and "update_id" in body and body["update_id"] is None:
            body = {**body, "update_id": 10**9 + next(serial)}
        response = client.post("/webhooks/telegram", json=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert response.status_code in (200, 400, 502), (body, response.status_code)

    generated: list[int] = []
    prop()
    assert len(generated) >= EXAMPLES
    assert reached_the_store(any_app, ("telegram",)) > EXAMPLES // 10
