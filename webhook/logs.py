"""Structured logs: one JSON object a line, one line per request, phone numbers scrubbed from every message."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from bot import logline

log = logging.getLogger("hrtp.request")
ARRIVED = "hrtp.arrived"  # environ key: perf_counter() when a middleware before this one first saw the request

# A phone number or a chat id as it may reach a log line ("+1 (213) 555-0123", "whatsapp:+12135550123",
# 123456789): seven digits or more, whatever separates them. Our own ids are fields, never scrubbed.
_PHONE = re.compile(r"\+?\d(?:[\s().-]{0,2}\d){6,}")
REDACTED = "[redacted]"
# Attributes every LogRecord has; anything else was passed in `extra` and becomes a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def redact(text: str) -> str:
    return _PHONE.sub(REDACTED, text)


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON, with free text (messages, tracebacks, extra strings) scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "pid": record.process,
            "msg": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = _scrub(value)
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a CLI runner swaps it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(fmt: str = "json", level: str = "INFO") -> None:
    """Sends every log to stderr, as JSON lines (production) or plain text (a developer's terminal)."""
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Stderr)]:
        root.removeHandler(old)  # configured twice (tests): once is enough
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Neither format prints the caller's file and line, the thread or the process name: finding them cost a
    # request more than formatting its line (the logging HOWTO's "Optimization" names these switches).
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" on every burst


class RequestLog:
    """WSGI middleware: one line per request, its path without the query string, status and duration.

    A turn made by the request adds its fields to this line (bot.logline) rather than writing one of its own."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # Counted from when the request reached us, a wait for SQLite's turn (webhook/turnlock.py) included.
        started = environ.get(ARRIVED) or time.perf_counter()
        seen: dict[str, Any] = {}
        line: dict[str, Any] = {}
        token = logline.current.set(line)

        def recording_start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            return self.app(environ, recording_start)
        finally:
            logline.current.reset(token)
            if log.isEnabledFor(logging.INFO):
                log.info("request", extra={"method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO"),
                                           "status": seen.get("status", 500),
                                           "ms": round((time.perf_counter() - started) * 1000, 2), "worker": os.getpid(),
                                           **line})
