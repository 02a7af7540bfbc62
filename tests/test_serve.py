"""The served app under load that sends nothing: idle sockets do not lock people out, huge bodies are refused."""

from __future__ import annotations

import http.client
import socket
import threading

import pytest
from waitress.server import create_server

from webhook.cli import SERVE_OPTIONS


@pytest.fixture
def served(app):
    server = create_server(app, host="127.0.0.1", port=0, threads=2, **SERVE_OPTIONS)
    threading.Thread(target=server.run, daemon=True).start()
    yield server.effective_port
    server.close()


def get(port: int, path: str = "/healthz") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    status = conn.getresponse().status
    conn.close()
    return status


def test_a_hundred_and_fifty_idle_connections_do_not_lock_others_out(served):
    idle = [socket.create_connection(("127.0.0.1", served)) for _ in range(150)]
    try:
        assert get(served) == 200
    finally:
        for s in idle:
            s.close()


def test_a_request_body_over_a_megabyte_is_refused(served):
    # Only the headers are sent: waitress answers 413 from the Content-Length and hangs up, and a client
    # still writing two megabytes then saw a reset instead of the answer (a flaky test under load).
    with socket.create_connection(("127.0.0.1", served), timeout=5) as s:
        s.sendall(b"POST /webhooks/twilio HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded"
                  b"\r\nContent-Length: %d\r\n\r\n" % (2 << 20))
        assert s.recv(64).startswith(b"HTTP/1.1 413")


def test_an_idle_connection_is_closed_after_the_channel_timeout(app):
    import time

    server = create_server(app, host="127.0.0.1", port=0, threads=2, **{**SERVE_OPTIONS, "channel_timeout": 1,
                                                                        "cleanup_interval": 1})
    threading.Thread(target=server.run, daemon=True).start()
    try:
        idle = socket.create_connection(("127.0.0.1", server.effective_port))
        idle.settimeout(10)
        started = time.monotonic()
        assert idle.recv(1) == b""  # the server hung up on a connection that sent nothing
        assert time.monotonic() - started < 5
        idle.close()
    finally:
        server.close()


def test_serve_passes_its_limits_to_waitress(app, monkeypatch):
    import waitress

    seen = {}
    monkeypatch.setattr(waitress, "serve", lambda wsgi, **kw: seen.update(kw))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["serve", "--connection-limit", "250", "--channel-timeout", "15", "--threads", "4"])
    assert result.exit_code == 0, result.output
    assert (seen["connection_limit"], seen["channel_timeout"], seen["threads"]) == (250, 15, 4)
    assert seen["max_request_body_size"] == 1 << 20 and "250 connections" in result.output
    assert runner.invoke(args=["serve"]).exit_code == 0
    assert (seen["connection_limit"], seen["channel_timeout"]) == (1000, 20)
