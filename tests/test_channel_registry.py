"""A new channel is one adapter: registered in a test app, it reaches the routes, admin, senders, CLI and simulate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import select

from bot import channels as bot_channels
from bot.channels import Capabilities
from bot.messages import InboundMessage
from bot.models import Intake
from bot.outbound import SendResult
from bot.simulate import Scenario
from tests.admin.helpers import make_user, post_form, sign_in
from webhook.adapter import Adapter
from webhook.channels import ADAPTERS, Registry

TOY = Capabilities("toy", "Toy Pager", buttons=False, max_chars=500, max_segments=None, phone_address=False)
toy_bp = Blueprint("toy", __name__)


@toy_bp.post("/webhooks/toy")
def toy_inbound() -> Response:
    """The toy provider posts JSON; like every provider webhook it carries no CSRF token."""
    body = request.get_json()
    result = current_app.extensions["hrtp"].handle(InboundMessage("toy", body["from"], body["text"], body["id"]))
    return jsonify(replies=[m.text for m in result.messages])


class ToySender:
    """The toy provider's API, as staff messages reach it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, channel: str, address: str, text: str) -> SendResult:
        self.sent.append((channel, address, text))
        return SendResult(f"toy-{len(self.sent)}", "sent")


@pytest.fixture
def toy(app_config: dict[str, Any]) -> Iterator[tuple[Flask, ToySender]]:
    from webhook import create_app

    known = dict(bot_channels.CHANNELS)
    sender = ToySender()
    adapter = Adapter("toy", channels=(TOY,), blueprints=(toy_bp,), csrf_exempt=True,
                      senders=lambda config: {"toy": sender})
    app = create_app({**app_config, "CHANNEL_ADAPTERS": (*ADAPTERS, adapter)})
    yield app, sender
    app.extensions["hrtp"].db.dispose()
    bot_channels.CHANNELS.clear()
    bot_channels.CHANNELS.update(known)  # the toy channel leaves with its test


def texts(client: Any, sender: str, *said: str) -> list[str]:
    replies = []
    for n, text in enumerate(said):
        response = client.post("/webhooks/toy", json={"from": sender, "text": text, "id": f"TOY-{sender}-{n}"})
        assert response.status_code == 200
        replies = response.get_json()["replies"]
    return replies


def test_a_toy_channel_is_served_filtered_labelled_and_written_to_with_no_other_edit(toy):
    app, sender = toy
    client = app.test_client()
    replies = texts(client, "pager-7", "Hi", "1", "yes")
    assert replies and "first name" in replies[-1].lower()  # its route works without a CSRF token
    assert "\n1) " in texts(client, "pager-8", "Hi")[-1]  # no buttons: options are numbered lines
    svc = app.extensions["hrtp"]
    with svc.db.session() as s:
        intake_id = s.scalar(select(Intake.id).where(Intake.channel == "toy").order_by(Intake.id))

    make_user(svc, "sam", "staff")
    sign_in(client, "sam")
    page = client.get("/admin/intakes").get_data(as_text=True)
    assert '<option value="toy" >Toy Pager</option>' in page
    filtered = client.get("/admin/intakes?channel=toy").get_data(as_text=True)
    assert filtered.count("Toy Pager</small>") == 2 and "SMS</small>" not in filtered

    post_form(client, f"/admin/intakes/{intake_id}/messages", {"action": "send", "text": "Hi, this is Sam."},
              page=f"/admin/intakes/{intake_id}")
    assert sender.sent == [("toy", "pager-7", "Hi, this is Sam.")]


def test_the_cli_offers_the_toy_channel_where_it_fits(toy):
    app, _ = toy
    cli = app.test_cli_runner()
    assert "[sms|whatsapp|telegram|web|toy]" in cli.invoke(args=["chat", "--help"]).output
    chat = cli.invoke(args=["chat", "--channel", "toy", "--from", "pager-9"], input="Hi\n")
    assert chat.exit_code == 0, chat.output
    assert "(toy)" in chat.output and "segment" not in chat.output  # a toy message is not billed by the segment
    assert "not one of sms, whatsapp, telegram, web, toy" in cli.invoke(args=["chat", "--channel", "pager"]).output
    # Segment costs are only for channels billed by the segment.
    refused = cli.invoke(args=["i18n", "segments", "--channel", "toy"])
    assert refused.exit_code == 2 and "not one of sms, whatsapp" in refused.output


def test_scenarios_may_run_on_the_toy_channel_once_it_is_registered(toy):
    assert Scenario.model_validate({"name": "toy", "channel": "toy"}).channel == "toy"
    with pytest.raises(ValueError, match="unknown channel 'pager'"):
        Scenario.model_validate({"name": "pager", "channel": "pager"})


def test_the_built_in_registry_is_the_four_channels_with_their_labels():
    reg = Registry(ADAPTERS)
    assert reg.labels() == {"sms": "SMS", "whatsapp": "WhatsApp", "telegram": "Telegram", "web": "Web"}
    assert reg.names(lambda c: c.max_segments is not None) == ["sms", "whatsapp"]
    assert reg.senders({}) == {}  # nothing configured, nothing to send staff messages through


def test_a_channel_declared_twice_differently_is_refused_naming_it():
    other = Capabilities("sms", "Text", buttons=True, max_chars=10, max_segments=1, phone_address=True)
    clash = Adapter("clash", channels=(other,), blueprints=(), csrf_exempt=False)
    with pytest.raises(ValueError, match="channel 'sms' is declared twice"):
        Registry((*ADAPTERS, clash))


def test_an_adapter_offering_a_sender_for_a_channel_it_does_not_carry_is_refused():
    stray = Adapter("stray", channels=(), blueprints=(), csrf_exempt=False, senders=lambda config: {"sms": ToySender()})
    with pytest.raises(ValueError, match="stray adapter offers a sender for 'sms'"):
        Registry((stray,)).senders({})
