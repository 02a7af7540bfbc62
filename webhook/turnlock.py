"""On SQLite, a provider's webhook is answered whole under the database's write lock, one at a time per process."""

# A turn's write transaction already runs under the process's SQLite write lock (bot.db). With only that,
# eight waitress threads parsed, signed, rendered and logged their requests between the lock holder's SQLite
# calls (each lets go of the GIL), so every turn paid for the others' context switches and cold caches: 0.4 ms
# a turn at 8 connections, against one core's work that the GIL keeps serial anyway. Taking the same lock
# (re-entrant: the turn takes it again) for the whole request makes the turns run back to back. PostgreSQL
# has no write lock: its turns wait on the network, where concurrent threads do help.

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from webhook.logs import ARRIVED

WEBHOOKS = "/webhooks/"


class SerialisedWebhooks:
    """WSGI middleware: POSTs under /webhooks/ run one at a time inside `hold` (bot.db.Database.holding_writes), body and all."""

    def __init__(self, app: Callable[..., Iterable[bytes]], hold: Callable[[], AbstractContextManager[None]]) -> None:
        self.app = app
        self.hold = hold

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or not str(environ.get("PATH_INFO", "")).startswith(WEBHOOKS):
            return self.app(environ, start_response)
        environ[ARRIVED] = time.perf_counter()
        with self.hold():
            body = self.app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
