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


def get(port: int, path: str = "/healthz", body: bytes | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST" if body is not None else "GET", path, body=body)
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
    # Headers only: the server answers before the body, and a client still pushing 2 MB into a
    # socket the server has closed gets a reset instead of the answer.
    with socket.create_connection(("127.0.0.1", served), timeout=5) as s:
        s.sendall(b"POST /webhooks/twilio HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: %d\r\n\r\n" % (2 << 20))
        assert s.recv(64).split(b" ")[1] == b"413"
