"""Admin fixtures: an app whose Twilio REST calls go to a fake Twilio on loopback, and signed-in clients."""

from __future__ import annotations

import pytest

from tests.admin.fake_twilio import FakeTwilio
from tests.admin.helpers import make_user, sign_in
from tests.conftest import TWILIO_SID, TWILIO_TOKEN

SID, TOKEN = TWILIO_SID, TWILIO_TOKEN


@pytest.fixture
def app_config(app_config: dict, twilio: FakeTwilio) -> dict:
    return {**app_config, "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": "+12135550000",
            "TWILIO_API_BASE_URL": twilio.url, "PUBLIC_BASE_URL": "https://intake.example.org",
            "SUPPORT_PHONE": "(213) 555-0199"}


@pytest.fixture
def svc(app):
    return app.extensions["hrtp"]


@pytest.fixture
def staff(app, svc):
    """A signed-in staff member's browser session."""
    make_user(svc, "sam", "staff", name="Sam Staff")
    c = app.test_client()
    assert sign_in(c, "sam").status_code == 302
    return c


@pytest.fixture
def admin_client(app, svc):
    make_user(svc, "ada", "admin", name="Ada Admin")
    c = app.test_client()
    assert sign_in(c, "ada").status_code == 302
    return c
