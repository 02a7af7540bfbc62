"""`serve --workers N`: N waitress processes answering on one listening socket, restarted if one dies."""

# Waitress processes rather than gunicorn: the same server (its connection limits and timeouts, tested in
# tests/test_serve.py) runs with one worker or many, no new dependency, and each worker keeps waitress's
# threads, so a slow database call does not hold a whole process as a gunicorn sync worker would.
# The app is built once before forking (flows, translations and the ZIP table are shared copy-on-write);
# each child drops the database connections it inherited before serving.

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

RESTART_PAUSE = 1.0  # seconds before restarting a worker that died within its first seconds


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The socket every worker accepts on, bound once by the parent."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def supervise(workers: int, sock: socket.socket, serve_one: Callable[[socket.socket], None],
              after_fork: Callable[[], None]) -> int:
    """Forks `workers` children that run `serve_one(sock)`; restarts any that die until SIGTERM or SIGINT."""
    children: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                after_fork()
                log.info("worker ready", extra={"worker": os.getpid()})
                serve_one(sock)
            except BaseException:  # the parent restarts us; say why first
                log.exception("worker failed")
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = time.monotonic()

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        spawn()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        started = children.pop(pid, None)
        if started is None or stopping:
            continue
        code = os.waitstatus_to_exitcode(status)
        log.error("worker exited; starting another", extra={"worker": pid, "exit_code": code})
        if time.monotonic() - started < 5:
            time.sleep(RESTART_PAUSE)  # a worker that cannot start must not become a fork loop
        spawn()
    sock.close()
    return 0


def serve_workers(app: Any, host: str, port: int, workers: int, options: dict[str, Any]) -> int:
    """Runs `app` under waitress in `workers` processes sharing one socket."""
    from waitress import serve

    sock = listen(host, port)

    def after_fork() -> None:
        # Connections are never shared across processes: the child opens its own.
        app.extensions["hrtp"].db.after_fork()

    def serve_one(s: socket.socket) -> None:
        serve(app, sockets=[s], **options)

    return supervise(workers, sock, serve_one, after_fork)
