"""A fake Telegram Bot API on loopback: answers like api.telegram.org and records every call."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class FakeBotAPI:
    """Serves /bot<token>/<method>; chats listed in `blocked` answer 403 like a blocked bot."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.blocked: set[int] = set()
        self.down = False
        self.sends_left: int | None = None  # after this many more sendMessage calls, the API is down
        self.flood: list[int] = []  # the next sendMessage calls answer 429 with these retry_after seconds
        self._next_id = 100
        self.webhook_url = ""
        # Updates waiting for getUpdates: (update, again); `again` ones come even below the offset, as after a
        # poller that stopped before it confirmed them.
        self.updates: list[tuple[dict[str, Any], bool]] = []
        self._arrived = threading.Condition()
        self._closing = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(raw).items()}
                method = self.path.rsplit("/", 1)[-1]
                status, body = fake.answer(method, params)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a long poll the client gave up on (the poller stopped)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/bot"

    def __enter__(self) -> FakeBotAPI:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._arrived:
            self._closing = True
            self._arrived.notify_all()
        self.server.shutdown()
        self.server.server_close()

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "sendMessage" and self.sends_left is not None:
            self.down = self.sends_left <= 0
            self.sends_left -= 1
        if self.down:
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        if method == "getUpdates":
            return self.get_updates(params)
        if method == "sendMessage" and self.flood:
            wait = self.flood.pop(0)
            self.calls.append(("sendMessage:429", params))
            return 429, {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {wait}",
                         "parameters": {"retry_after": wait}}
        self.calls.append((method, params))
        if method == "setWebhook":
            self.webhook_url = params.get("url", "")
        if method == "deleteWebhook":
            self.webhook_url = ""
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "HRTP", "username": "hrtp_bot"}}
        if method == "sendMessage":
            chat = int(params["chat_id"])
            if chat in self.blocked:
                return 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
            self._next_id += 1
            return 200, {"ok": True, "result": {"message_id": self._next_id, "date": int(time.time()),
                                                "chat": {"id": chat, "type": "private"}, "text": params.get("text", "")}}
        return 200, {"ok": True, "result": True}

    def push(self, update: dict[str, Any], again: bool = False) -> None:
        """Queues an update for getUpdates; `again` redelivers one whose id was already confirmed."""
        with self._arrived:
            self.updates.append((update, again))
            self._arrived.notify_all()

    def get_updates(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Long polling as Telegram does it: confirmed updates (below the offset) go, others wait up to `timeout`."""
        if self.webhook_url:
            return 409, {"ok": False, "error_code": 409,
                         "description": "Conflict: can't use getUpdates method while webhook is active; "
                                        "use deleteWebhook to delete the webhook first"}
        call = {**params, "returned": []}
        self.calls.append(("getUpdates", call))  # on arrival: a long poll under way shows the poller is up
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._arrived:
            while True:
                self.updates = [(u, again) for u, again in self.updates if again or u["update_id"] >= offset]
                if self.updates or self._closing or time.monotonic() >= deadline:
                    break
                self._arrived.wait(max(0.0, deadline - time.monotonic()))
            batch = [u for u, _ in self.updates]
            # Handed out once more: a redelivery is not redelivered forever.
            self.updates = [(u, False) for u, _ in self.updates]
            call["returned"] = [u["update_id"] for u in batch]
        return 200, {"ok": True, "result": batch}

    def sent(self, chat: int | None = None) -> list[dict[str, Any]]:
        """sendMessage calls so far, with reply_markup decoded."""
        out = []
        for method, params in self.calls:
            if method == "sendMessage" and (chat is None or int(params["chat_id"]) == chat):
                p = dict(params)
                if isinstance(p.get("reply_markup"), str):
                    p["reply_markup"] = json.loads(p["reply_markup"])
                out.append(p)
        return out
