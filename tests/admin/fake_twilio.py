"""A fake Twilio REST API on loopback: records each Messages.json request and answers like Twilio."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class FakeTwilio:
    """Accepts messages for one account; numbers in `refuse` get that Twilio error code instead.

    `script` answers the next requests, one entry each, with (HTTP status, Twilio code, headers) before
    accepting again: a 500, or a 429 with Retry-After. `sent` has every request, `accepted` those answered 201."""

    account_sid: str
    auth_token: str
    refuse: dict[str, int] = field(default_factory=dict)
    sent: list[dict[str, str]] = field(default_factory=list)
    accepted: list[dict[str, str]] = field(default_factory=list)
    script: list[tuple[int, int, dict[str, str]]] = field(default_factory=list)
    unauthorised: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                expected = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    fake.unauthorised += 1
                    return self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
                if self.path != f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json":
                    return self._json(404, {"code": 20404, "message": "not found", "status": 404})
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                fake.sent.append(form)
                if fake.script:
                    status, code, headers = fake.script.pop(0)
                    return self._json(status, {"code": code, "message": "scripted failure", "status": status}, headers)
                to = form.get("To", "")
                if to.removeprefix("whatsapp:") in fake.refuse:
                    code = fake.refuse[to.removeprefix("whatsapp:")]
                    return self._json(400, {"code": code, "message": "Attempt to send to unsubscribed recipient",
                                            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": 400})
                fake.accepted.append(form)
                sid = f"SM{next(fake._ids):032x}"
                self._json(201, {"sid": sid, "status": "queued", "to": to, "from": form.get("From"),
                                 "body": form.get("Body"), "account_sid": fake.account_sid, "num_segments": "1",
                                 "direction": "outbound-api",
                                 "uri": f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json"})

            def _json(self, status: int, data: dict, headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
