"""The fields of the log line being built for this request, so a turn rides on its request's line instead of its own."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

# Set by the web layer's request log (webhook/logs.py) for the length of one request; None elsewhere (the CLI,
# the job worker), where a turn writes a line of its own.
current: ContextVar[dict[str, Any] | None] = ContextVar("hrtp_log_line", default=None)
