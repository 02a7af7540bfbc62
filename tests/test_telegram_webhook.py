"""POST /webhooks/telegram against a fake Bot API on loopback: secret, buttons, dedupe, blocking."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from bot.models import Contact, Intake, Message, OptOut
from tests.fakes.telegram_api import FakeBotAPI
from tests.queue_helpers import run_due
from tests.transcript import answer_by_field, step_asked
from webhook.queue import queue_of

SECRET = "s3cret_token-1"
CHAT = 555001


@pytest.fixture
def bot_api():
    with FakeBotAPI() as api:
        yield api


@pytest.fixture
def tg_client(app_config, bot_api):
    from webhook import create_app

    app = create_app({**app_config, "TELEGRAM_BOT_TOKEN": "123:ABC", "TELEGRAM_WEBHOOK_SECRET": SECRET,
                      "TELEGRAM_API_BASE_URL": bot_api.base_url, "QUEUE_BACKOFF_SECONDS": 0.001})
    yield app.test_client()
    app.extensions["hrtp"].db.dispose()


class Chat:
    """A person in a private chat with the bot, sending updates the way Telegram does."""

    def __init__(self, client, chat_id: int = CHAT, language_code: str | None = "en") -> None:
        self.client, self.chat_id, self.language_code = client, chat_id, language_code
        self.update_id = 9000

    def user(self) -> dict:
        u = {"id": self.chat_id, "is_bot": False, "first_name": "Rosa"}
        if self.language_code:
            u["language_code"] = self.language_code
        return u

    def post(self, update: dict, secret: str = SECRET):
        return self.client.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret})

    def says(self, text: str, update_id: int | None = None):
        self.update_id += 1
        return self.post({"update_id": update_id or self.update_id, "message": {
            "message_id": self.update_id, "date": 1763700000, "text": text, "from": self.user(),
            "chat": {"id": self.chat_id, "type": "private", "first_name": "Rosa"}}})

    def answer_until(self, step: str, answers: dict[str, str], default: str = "1") -> None:
        """Answers by field (the step the chat's intake waits on, from the store) until `step` is asked."""
        db = self.client.application.extensions["hrtp"].db
        answer_by_field(self.says, lambda: step_asked(db, "telegram", str(self.chat_id)), step, answers, default)

    def taps(self, data: str):
        self.update_id += 1
        return self.post({"update_id": self.update_id, "callback_query": {
            "id": f"cb{self.update_id}", "from": self.user(), "chat_instance": "ci", "data": data,
            "message": {"message_id": 1, "date": 1763700000, "chat": {"id": self.chat_id, "type": "private"}, "text": "q"}}})


def test_the_secret_header_is_required(tg_client):
    chat = Chat(tg_client)
    assert chat.post({"update_id": 1}, secret="wrong").status_code == 403
    assert chat.post({"update_id": 1}, secret="ünïcode").status_code == 403
    assert tg_client.post("/webhooks/telegram", json={"update_id": 1}).status_code == 403


@pytest.mark.parametrize("body", [None, [], {"update_id": "x"}, {"no": "update"}])
def test_malformed_updates_get_400(tg_client, body):
    response = tg_client.post("/webhooks/telegram", json=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 400


def test_language_code_picks_the_language_and_choices_become_buttons(tg_client, bot_api):
    chat = Chat(tg_client, language_code="es")
    assert chat.says("/start").status_code == 200
    sent = bot_api.sent(CHAT)
    assert sent[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "1:consent:0"  # consent: Yes (number:step:turn)
    assert chat.taps("1:consent:0").status_code == 200
    assert ("answerCallbackQuery", {"callback_query_id": f"cb{chat.update_id}"}) in [
        (m, {k: v for k, v in p.items() if k == "callback_query_id"}) for m, p in bot_api.calls]
    with tg_client.application.extensions["hrtp"].db.session() as s:
        intake = s.scalars(select(Intake)).one()
        assert (intake.language, intake.current_step) == ("es", "first_name")


def test_a_deep_link_payload_is_the_referral_code(tg_client, bot_api):
    Chat(tg_client).says("/start EASTLA1")
    with tg_client.application.extensions["hrtp"].db.session() as s:
        assert s.scalars(select(Intake)).one().referral_code == "EASTLA1"


def test_multi_choice_questions_list_numbers_to_type(tg_client, bot_api):
    chat = Chat(tg_client, language_code=None)
    chat.says("hi")
    chat.answer_until("sectors", {"language": "1", "consent": "1", "first_name": "Rosa", "zip": "90011",
                                  "age_range": "3", "employment": "1"})
    last = bot_api.sent(CHAT)[-1]
    assert "1) Construction and trades" in last["text"] and "reply_markup" not in last


def test_a_redelivered_update_is_not_answered_twice(tg_client, bot_api):
    chat = Chat(tg_client)
    chat.says("hi", update_id=777)
    count = len(bot_api.sent(CHAT))
    assert chat.says("hi", update_id=777).status_code == 200
    assert len(bot_api.sent(CHAT)) == count
    with tg_client.application.extensions["hrtp"].db.session() as s:
        out = s.scalars(select(Message).where(Message.direction == "out")).all()
        assert out and all(m.status == "sent" and m.provider_id.startswith(f"tg:{CHAT}:") for m in out)


def test_when_the_bot_api_is_down_the_replies_wait_in_the_outbox_and_a_retry_sends_them(tg_client, bot_api):
    chat = Chat(tg_client)
    bot_api.down = True
    # Telegram need not deliver the update again: the replies are committed in the outbox with the turn.
    assert chat.says("hi", update_id=778).status_code == 200
    assert bot_api.sent(CHAT) == []
    bot_api.down = False
    time.sleep(0.02)  # past the (tiny, in these tests) backoff
    run_due(queue_of(tg_client.application))
    assert "Do you agree" in bot_api.sent(CHAT)[-1]["text"]  # language_code "en" settled the language
    count = len(bot_api.sent(CHAT))
    assert chat.says("hi", update_id=778).status_code == 200 and len(bot_api.sent(CHAT)) == count  # a redelivery


def test_a_failure_midway_retries_only_the_replies_not_yet_sent_and_keeps_their_order(tg_client, bot_api):
    chat = Chat(tg_client)
    bot_api.sends_left = 1  # "hi" gets several replies (language tip, notice, question): one goes, then the API fails
    assert chat.says("hi", update_id=780).status_code == 200
    assert len(bot_api.sent(CHAT)) == 1
    bot_api.sends_left, bot_api.down = None, False
    time.sleep(0.02)
    run_due(queue_of(tg_client.application))
    texts = [m["text"] for m in bot_api.sent(CHAT)]
    assert len(texts) == len(set(texts)) and "LANGUAGE" in texts[0] and "Do you agree" in texts[-1], texts
    with tg_client.application.extensions["hrtp"].db.session() as s:
        assert all(m.status == "sent" for m in s.scalars(select(Message).where(Message.direction == "out")))


def test_blocking_the_bot_is_an_opt_out(tg_client, bot_api):
    chat = Chat(tg_client)
    chat.says("hi")
    chat.post({"update_id": 5, "my_chat_member": {
        "chat": {"id": CHAT, "type": "private"}, "from": chat.user(), "date": 1763700000,
        "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True, "first_name": "HRTP"}},
        "new_chat_member": {"status": "kicked", "until_date": 0, "user": {"id": 1, "is_bot": True, "first_name": "HRTP"}}}})
    with tg_client.application.extensions["hrtp"].db.session() as s:
        contact = s.scalars(select(Contact)).one()
        assert contact.opted_out_at is not None
        assert s.scalars(select(OptOut.keyword)).all() == ["telegram: bot blocked"]


def test_a_403_while_replying_is_an_opt_out(tg_client, bot_api):
    bot_api.blocked.add(CHAT + 1)
    Chat(tg_client, chat_id=CHAT + 1).says("hi")
    with tg_client.application.extensions["hrtp"].db.session() as s:
        assert s.scalars(select(Contact)).one().opted_out_at is not None


def test_staff_messages_reach_a_telegram_chat_and_a_block_is_an_opt_out(app_config, bot_api):
    from tests.admin.helpers import make_user, post_form, sign_in
    from webhook import create_app

    app = create_app({**app_config, "TELEGRAM_BOT_TOKEN": "123:ABC", "TELEGRAM_WEBHOOK_SECRET": SECRET,
                      "TELEGRAM_API_BASE_URL": bot_api.base_url})
    client = app.test_client()
    chat = Chat(client)
    chat.says("hi")
    svc = app.extensions["hrtp"]
    with svc.db.session() as s:
        intake_id = s.scalars(select(Intake.id)).one()
    make_user(svc, "sam", "staff")
    sign_in(client, "sam")
    post_form(client, f"/admin/intakes/{intake_id}/messages", {"action": "send", "text": "Hi Rosa, this is Sam."},
              page=f"/admin/intakes/{intake_id}")
    assert bot_api.sent(CHAT)[-1]["text"] == "Hi Rosa, this is Sam."
    bot_api.blocked.add(CHAT)
    post_form(client, f"/admin/intakes/{intake_id}/messages", {"action": "send", "text": "Are you there?"},
              page=f"/admin/intakes/{intake_id}")
    with svc.db.session() as s:
        failed = s.scalars(select(Message).where(Message.text == "Are you there?")).one()
        assert (failed.status, failed.error_code) == ("failed", "blocked")
        assert s.scalars(select(Contact)).one().opted_out_at is not None
    calls = len(bot_api.calls)
    post_form(client, f"/admin/intakes/{intake_id}/messages", {"action": "send", "text": "Hello?"},
              page=f"/admin/intakes/{intake_id}")
    assert len(bot_api.calls) == calls  # refused after the opt-out: nothing reaches Telegram
    app.extensions["hrtp"].db.dispose()


def test_delete_erases_the_chat_id_and_the_replies_telegram_ids(tg_client, bot_api):
    from tests.privacy_scan import left_behind, traces

    db = tg_client.application.extensions["hrtp"].db
    chat = Chat(tg_client, chat_id=777123456)
    before = traces(db, ("777123456", "Zelda"))
    chat.says("hi")
    chat.answer_until("zip", {"language": "1", "consent": "1", "first_name": "Zelda"})
    chat.says("DELETE")
    assert traces(db, ("777123456",))[("messages", "provider_id", "777123456")] > 0  # tg:<chat id>:<message id>
    assert chat.says("yes").status_code == 200
    assert "erased" in bot_api.sent(777123456)[-1]["text"]
    assert left_behind(db, ("777123456", "Zelda"), before) == {}


def test_a_button_under_an_old_message_does_not_answer_a_newer_question(tg_client, bot_api):
    chat = Chat(tg_client, language_code="en")
    chat.says("/start")
    consent_yes = bot_api.sent(CHAT)[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    chat.taps(consent_yes)
    chat.says("Rosa")
    chat.says("90011")
    age = bot_api.sent(CHAT)[-1]["reply_markup"]["inline_keyboard"]
    chat.taps(age[3][0]["callback_data"])  # 25 to 54
    chat.taps(age[1][0]["callback_data"])  # 16 to 17, still under the age question
    texts = [m["text"] for m in bot_api.sent(CHAT)[-2:]]
    assert texts == ["That button belongs to an earlier question, so I didn't use it.", "Are you working right now?"]
    chat.taps("2")  # a keyboard sent before buttons carried their question still answers as typed
    with tg_client.application.extensions["hrtp"].db.session() as s:
        intake = s.scalars(select(Intake)).one()
        assert intake.state["answers"]["age_range"] == "25_54" and intake.state["answers"]["employment"] == "part_time"
