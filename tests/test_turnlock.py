"""On SQLite a provider's webhook runs whole, one at a time, under the write lock; everything else stays concurrent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from bot.db import Database
from tests.test_twilio_webhook import form, post
from webhook.turnlock import SerialisedWebhooks


class Overlap:
    """A WSGI app that counts how many of its requests run at once."""

    def __init__(self) -> None:
        self.running = self.most = 0
        self.guard = threading.Lock()
        self.closed = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self.guard:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self.guard:
            self.running -= 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body(self)


class Body(list[bytes]):
    def __init__(self, app: Overlap) -> None:
        super().__init__([b"o", b"k"])
        self.app = app

    def close(self) -> None:
        self.app.closed += 1


def _hit(wsgi: Any, method: str, path: str, times: int) -> list[bytes]:
    bodies: list[bytes] = []

    def one() -> None:
        bodies.append(b"".join(wsgi({"REQUEST_METHOD": method, "PATH_INFO": path}, lambda *a: None)))

    threads = [threading.Thread(target=one) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return bodies


def test_webhook_posts_run_one_at_a_time_and_other_requests_together(db: Database) -> None:
    inner = Overlap()
    wsgi = SerialisedWebhooks(inner, db.holding_writes)
    assert _hit(wsgi, "POST", "/webhooks/twilio", 6) == [b"ok"] * 6
    assert inner.most == 1 and inner.closed == 6  # each body was read out and closed inside the lock
    inner.most = 0
    _hit(wsgi, "GET", "/admin/intakes", 6)
    _hit(wsgi, "POST", "/chat/send", 6)
    assert inner.most > 1


def test_a_twilio_webhook_on_sqlite_holds_the_write_lock_for_the_whole_request(app: Any, client: Any) -> None:
    """The signature check and the TwiML, not only the turn's transaction, run under the lock."""
    db: Database = app.extensions["hrtp"].db
    assert db.write_lock is not None
    seen: list[bool] = []
    from webhook import twilio_channel

    real = twilio_channel.require_twilio_signature

    def checking() -> None:
        seen.append(db.write_lock._is_owned())  # type: ignore[union-attr]
        real()

    twilio_channel.require_twilio_signature = checking
    try:
        assert post(client, form("Hi", "SMlock1", sender="+13235550166")).status_code == 200
    finally:
        twilio_channel.require_twilio_signature = real
    assert seen == [True] and not db.write_lock._is_owned()  # type: ignore[attr-defined]
