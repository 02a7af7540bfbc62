"""`hrtp-intake telegram-poll` against a fake Bot API on loopback: a whole intake by long polling, then Ctrl-C."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.service import HandleResult, IntakeService
from bot.simulate import Runner, load_scenario
from tests.fakes.telegram_api import FakeBotAPI
from webhook.telegram_channel import telegram_text

SCENARIO = Path(__file__).parent / "scenarios" / "technology_youth_telegram.yaml"
WAIT = 20.0  # seconds; far above what a turn takes, so a hang fails instead of blocking the suite


def wait_for(what: str, ready: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class PolledRunner(Runner):
    """A scenario whose person writes through Telegram: each message is an update the poller fetches."""

    def __init__(self, service: IntakeService, api: FakeBotAPI, handled: dict[str, HandleResult], **kw: Any) -> None:
        super().__init__(service, load_scenario(SCENARIO), **kw)
        self.api, self.handled = api, handled
        self.update_id = 41000
        self.updates: list[dict[str, Any]] = []

    def user(self) -> dict[str, Any]:
        # No language_code: the scenario answers the language question itself.
        return {"id": int(self.address), "is_bot": False, "first_name": "Dee"}

    def update_for(self, text: str) -> dict[str, Any]:
        """A button tap when the last reply has a button for the number typed, else a typed message."""
        self.update_id += 1
        chat = {"id": int(self.address), "type": "private"}
        last = self.api.sent(int(self.address))[-1:] or [{}]
        keyboard = (last[0].get("reply_markup") or {}).get("inline_keyboard") or []
        tap = next((b["callback_data"] for row in keyboard for b in row if b["callback_data"].split(":")[0] == text), None)
        if tap is not None:
            return {"update_id": self.update_id, "callback_query": {
                "id": f"cb{self.update_id}", "from": self.user(), "chat_instance": "ci", "data": tap,
                "message": {"message_id": 1, "date": 1763700000, "chat": chat, "text": "q"}}}
        return {"update_id": self.update_id, "message": {
            "message_id": self.update_id, "date": 1763700000, "text": text, "from": self.user(), "chat": chat}}

    def deliver(self, text: str) -> HandleResult:
        update = self.update_for(text)
        self.updates.append(update)
        before = len(self.api.sent())
        self.api.push(update)
        result = wait_for(f"update {update['update_id']}", lambda: self.handled.get(f"tg:{update['update_id']}"))
        wait_for("the replies", lambda: len(self.api.sent()) >= before + len(result.messages))
        return result


@pytest.fixture
def bot_api():
    with FakeBotAPI() as api:
        yield api


def recorded(service: IntakeService) -> tuple[dict[str, HandleResult], list[str]]:
    """Each update's first handling by the poller, and the provider ids it handled again as replays."""
    handled: dict[str, HandleResult] = {}
    replayed: list[str] = []
    handle = service.handle

    def recording(msg: Any, now: Any = None) -> HandleResult:
        result = handle(msg, now)
        if result.replayed:
            replayed.append(msg.provider_id)
        handled.setdefault(msg.provider_id, result)
        return result

    service.handle = recording  # type: ignore[method-assign]  # the poller's own calls, seen as they happen
    return handled, replayed


def poll_while(app: Any, bot_api: FakeBotAPI, person: Callable[[], None]) -> Any:
    """Runs `telegram-poll` in this (the main) thread while `person` talks to the bot, then presses Ctrl-C."""
    failed: list[BaseException] = []
    polling = threading.Event()

    def talk() -> None:
        try:
            wait_for("polling to start", lambda: any(m == "getUpdates" for m, _ in bot_api.calls))
            person()
        except BaseException as exc:  # noqa: BLE001 (handed to the test's thread, which re-raises it)
            failed.append(exc)
        finally:
            if polling.is_set():
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C

    driver = threading.Thread(target=talk)
    polling.set()
    driver.start()
    try:
        result = app.test_cli_runner().invoke(args=["telegram-poll"])
    finally:
        polling.clear()
        driver.join(WAIT)
        app.extensions["hrtp"].db.dispose()
    if failed:
        raise failed[0]
    return result


def poll_app(app_config: dict[str, Any], bot_api: FakeBotAPI) -> Any:
    from webhook import create_app

    return create_app({**app_config, "TELEGRAM_BOT_TOKEN": "123:ABC", "TELEGRAM_API_BASE_URL": bot_api.base_url})


def test_telegram_poll_runs_an_intake_answers_a_redelivery_once_and_stops_on_ctrl_c(app_config, bot_api):
    app = poll_app(app_config, bot_api)
    service: IntakeService = app.extensions["hrtp"]
    handled, replayed = recorded(service)
    bot_api.webhook_url = "https://county.example/webhooks/telegram"  # left over from a deployment
    runner = PolledRunner(service, bot_api, handled)
    outcome: dict[str, Any] = {}

    def person() -> None:
        outcome["sim"] = runner.run()
        sent_before, last = len(bot_api.sent()), runner.updates[-1]
        bot_api.push(last, again=True)  # as to a poller that stopped before confirming it
        wait_for("the redelivery", lambda: f"tg:{last['update_id']}" in replayed)
        # Updates are handled in order: a reply to the redelivery would go out before these.
        help_replies = runner.deliver("HELP").messages
        outcome["after_redelivery"] = len(bot_api.sent()) - sent_before - len(help_replies)

    result = poll_while(app, bot_api, person)
    assert result.exit_code == 0, result.output
    assert "Stopped polling Telegram." in result.output
    methods = [m for m, _ in bot_api.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    sim = outcome["sim"]
    assert sim.ok, sim.failures
    assert sim.status == "completed" and sim.intake["eligibility"]["status"] == "eligible"
    # Every reply the engine gave went out through the fake, in order, with its buttons.
    rendered = [telegram_text(m) for u in runner.updates for m in handled[f"tg:{u['update_id']}"].messages]
    sent = bot_api.sent(int(runner.address))
    assert [m["text"] for m in sent] == [text for text, _ in rendered]
    assert [[b[0]["callback_data"] for b in (m.get("reply_markup") or {}).get("inline_keyboard", [])] for m in sent] == [
        [data for _, data in buttons] for _, buttons in rendered]
    taps = [u["callback_query"]["id"] for u in runner.updates if "callback_query" in u]
    assert taps and {p["callback_query_id"] for m, p in bot_api.calls if m == "answerCallbackQuery"} == set(taps)
    assert outcome["after_redelivery"] == 0
    # Stopping confirmed every update it had fetched, so a restart does not fetch them again.
    assert int(bot_api.calls[-1][1]["offset"]) == runner.updates[-1]["update_id"] + 1


def test_telegram_poll_without_a_token_says_what_to_set(app):
    result = app.test_cli_runner().invoke(args=["telegram-poll"])
    assert result.exit_code != 0 and "TELEGRAM_BOT_TOKEN" in result.output


def test_replies_the_bot_api_refused_are_sent_again_by_the_job_queue_once_each(app_config, bot_api):
    from tests.queue_helpers import run_due
    from webhook.queue import queue_of

    app = poll_app({**app_config, "QUEUE_BACKOFF_SECONDS": 0.05, "QUEUE_BACKOFF_CAP_SECONDS": 0.1}, bot_api)
    handled, replayed = recorded(app.extensions["hrtp"])
    runner = PolledRunner(app.extensions["hrtp"], bot_api, handled)
    update = runner.update_for("hi")
    key = f"tg:{update['update_id']}"

    def person() -> None:
        bot_api.sends_left = 1  # "hi" gets several replies: one goes, then the API fails
        bot_api.push(update)
        wait_for("the failure", lambda: bot_api.down)
        bot_api.sends_left, bot_api.down = None, False
        time.sleep(0.3)  # past the retry's backoff
        # What a worker does: the retry was scheduled in the queue, not left to a redelivery of the update.
        run_due(queue_of(app))
        wait_for("the rest of the replies", lambda: key in handled and len(bot_api.sent()) == len(handled[key].messages))

    assert poll_while(app, bot_api, person).exit_code == 0
    texts = [m["text"] for m in bot_api.sent()]
    assert len(texts) == len(set(texts)) > 1 and "LANGUAGE" in texts[0], texts
    assert not replayed  # handled once: the outbox sent the rest
