"""A throwaway PostgreSQL server for the tests, so the same code is proven on PostgreSQL too."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """Yields a SQLAlchemy URL for a fresh server (or TEST_POSTGRES_URL), or None if none can run."""
    if os.environ.get("TEST_POSTGRES_URL"):
        yield os.environ["TEST_POSTGRES_URL"]
        return
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        initdb = None
    if not initdb or not pg_ctl:
        yield None
        return
    tmp = tempfile.mkdtemp(prefix="hrtp-pg-")
    data, port = os.path.join(tmp, "data"), _free_port()
    # PostgreSQL refuses to run as root; run it as the `postgres` system user when we are root.
    run_as: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if not runuser:
            yield None
            return
        run_as = [runuser, "-u", "postgres", "--"]
        shutil.chown(tmp, "postgres")
    try:
        subprocess.run([*run_as, initdb, "-D", data, "-U", "hrtp", "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True)
        subprocess.run([*run_as, pg_ctl, "-D", data, "-l", os.path.join(tmp, "log"), "-w", "-o",
                        f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
                        "start"], check=True, capture_output=True)
    except (subprocess.CalledProcessError, OSError):
        yield None
        shutil.rmtree(tmp, ignore_errors=True)
        return
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        yield f"postgresql+psycopg://hrtp@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
