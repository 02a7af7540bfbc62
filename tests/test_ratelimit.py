"""The public form and chat are rate limited per client address, kindly; webhooks and /healthz never are."""

from __future__ import annotations

import re

import pytest

from tests.test_twilio_webhook import form, post, replies


@pytest.fixture
def limited(app_config):
    from webhook import create_app

    application = create_app({**app_config, "RATE_LIMIT": "5 per minute", "TRUSTED_PROXIES": 1})
    yield application
    application.extensions["hrtp"].db.dispose()


def from_ip(ip: str) -> dict[str, dict[str, str]]:
    return {"headers": {"X-Forwarded-For": ip}}


def test_the_form_says_please_wait_in_the_persons_language_with_retry_after(limited):
    client = limited.test_client()
    for _ in range(5):
        assert client.get("/apply?lang=es", **from_ip("203.0.113.7")).status_code == 200
    resp = client.get("/apply?lang=es", **from_ip("203.0.113.7"))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 429 and resp.mimetype == "text/html"
    assert 0 < int(resp.headers["Retry-After"]) <= 61
    assert '<html lang="es" dir="ltr">' in body and "Demasiadas solicitudes" in body
    assert f"{resp.headers['Retry-After']} segundos" in body
    # Someone else behind another address is not held back by this one.
    assert client.get("/apply", **from_ip("198.51.100.9")).status_code == 200


def test_the_form_remembers_the_language_of_the_intake(limited):
    client = limited.test_client()
    start = client.get("/apply?lang=ar", **from_ip("203.0.113.8")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', start).group(1)
    client.post("/apply/start", data={"csrf_token": token, "lang": "ar"}, **from_ip("203.0.113.8"))
    for _ in range(3):
        assert '<html lang="ar"' in client.get("/apply", **from_ip("203.0.113.8")).get_data(as_text=True)
    resp = client.get("/apply", **from_ip("203.0.113.8"))
    assert resp.status_code == 429 and '<html lang="ar" dir="rtl">' in resp.get_data(as_text=True)


def test_the_chat_gets_json_it_can_show_and_shares_the_budget_with_the_form(limited):
    client = limited.test_client()
    for _ in range(3):
        client.get("/apply", headers={"X-Forwarded-For": "203.0.113.9", "Accept-Language": "es"})
    assert client.post("/chat/send", json={"text": "hi"}, **from_ip("203.0.113.9")).status_code == 200
    assert client.get("/chat", **from_ip("203.0.113.9")).status_code == 200
    resp = client.post("/chat/send", json={"text": "yes"}, headers={"X-Forwarded-For": "203.0.113.9",
                                                                       "Accept-Language": "es"})
    assert resp.status_code == 429 and resp.mimetype == "application/json"
    assert resp.json["error"].startswith("Demasiadas solicitudes") and resp.json["retry_after"] > 0
    assert resp.headers["Retry-After"] == str(resp.json["retry_after"])


def test_webhooks_and_healthz_are_never_limited(limited):
    client = limited.test_client()
    for i in range(12):
        assert client.get("/healthz", **from_ip("203.0.113.10")).status_code == 200
        assert replies(post(client, form("hi", f"SM{i:032d}"), **from_ip("203.0.113.10")))
    assert client.get("/apply", **from_ip("203.0.113.10")).status_code == 200


def test_the_limit_can_be_turned_off(app_config):
    from webhook import create_app

    application = create_app({**app_config, "RATE_LIMIT": "1 per minute", "RATELIMIT_ENABLED": False})
    client = application.test_client()
    assert [client.get("/apply").status_code for _ in range(3)] == [200, 200, 200]
    application.extensions["hrtp"].db.dispose()
