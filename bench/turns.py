"""Turns per second through `hrtp-intake serve` against a bare signed-Twilio endpoint, side by side in one run.

    .venv/bin/python bench/turns.py [--people 1000] [--connections 8] [--configs bare,sqlite,pg1,pg2]
                                    [--preload 1000000] [--repeat 2]

Each configuration is a server started fresh under waitress with `serve`'s options: `bare` is a tiny Flask
app that checks the Twilio signature and answers fixed TwiML; `sqlite` is `hrtp-intake serve` on a fresh
migrated SQLite file; `pgN` is `hrtp-intake serve --workers N` on a throwaway PostgreSQL (tests/postgres.py;
skipped when none can start). `--preload N` bulk-inserts N stored messages first (SQL, seconds), so the
cost per turn on a full database can be compared with an empty one (`sqlite+preload` in --configs).

The load is a multi-process Python loader, not wrk: a person's turns must go strictly one after another
(the next answer only once the last reply came back) with valid signatures over per-turn bodies, which
wrk's per-thread Lua state would make each connection juggle; and Debian's wrk would be one more package.
Each connection is its own process (http.client, keep-alive), so the loader is never GIL-bound; every
request is signed before the clock starts. Each connection owns 1/C of the people and walks them round
robin, one turn each, so at any moment many people are mid-intake, as in a real day.

Printed per configuration: turns/s, p50/p99 latency, the ratio of turns/s to the bare endpoint in the same
run, and the CPU milliseconds per turn of the server processes (app, and PostgreSQL's when used): with
C cores free for the app, throughput is about C * 1000 / (app CPU ms per turn), which is how to project
scaling past this machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "bench-auth-token"
PATH = "/webhooks/twilio"
VENV_BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")

# Whole intakes as people type them: a language, consent, a name, a ZIP, then the screening questions.
SCRIPTS = [
    ["Hi", "yes", "Ana", "90011", "4", "1", "1,2", "2", "1", "3", "2", "1,2", "1", "1", "1,3"],
    ["Hola", "si", "Luis", "90022", "3", "2", "3", "1", "2", "1", "1", "2", "2", "1", "2"],
    ["hello", "1", "ok", "Maria", "91331", "2", "1", "2,4", "3", "1", "2", "3", "1", "2", "1"],
    ["Hi there", "yes", "Kim", "90006", "5", "1", "1", "2", "1", "2", "2", "1", "1", "1", "1"],
]
NAMES = ["Ana", "Luis", "Maria", "Kim", "Tran", "Jose", "Aram", "Sofia", "Dev", "Nia"]


# ---- the bare endpoint -----------------------------------------------------------------------------
def bare_app() -> Any:
    """Flask that checks the Twilio signature and returns fixed TwiML: the floor any webhook pays."""
    from flask import Flask, Response, abort, request
    from twilio.request_validator import RequestValidator

    app = Flask("bare")
    validator = RequestValidator(TOKEN)
    base = os.environ["PUBLIC_BASE_URL"]

    @app.post(PATH)
    def inbound() -> Response:
        if not validator.validate(base + request.path, request.form, request.headers.get("X-Twilio-Signature", "")):
            abort(403)
        return Response('<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thanks!</Message></Response>',
                        mimetype="text/xml")

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    return app


def serve_bare(port: int, threads: int) -> None:
    from waitress import serve

    from webhook.cli import SERVE_OPTIONS

    serve(bare_app(), host="127.0.0.1", port=port, threads=threads, ident="bare", **SERVE_OPTIONS)


# ---- requests ------------------------------------------------------------------------------------
def person_script(n: int, rng: random.Random) -> list[str]:
    script = list(SCRIPTS[n % len(SCRIPTS)])
    name_at = next(i for i, t in enumerate(script) if t in NAMES)
    script[name_at] = rng.choice(NAMES)
    script[name_at + 1] = f"9{rng.randint(0, 1)}{rng.randint(0, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
    return script


def signed_requests(people: int, base_url: str, run: str, seed: int = 1) -> list[list[tuple[bytes, str]]]:
    """Per person, every turn's form body and X-Twilio-Signature, signed as Twilio signs."""
    from twilio.request_validator import RequestValidator

    rng = random.Random(seed)
    validator = RequestValidator(TOKEN)
    url = base_url + PATH
    out = []
    for n in range(people):
        phone = f"+1213{5550000 + n:07d}" if n < 4_000_000 else f"+1310{n:07d}"
        turns = []
        for t, text in enumerate(person_script(n, rng)):
            params = {"From": phone, "To": "+12135550000", "Body": text, "MessageSid": f"SM{run}{n:07d}{t:03d}",
                      "AccountSid": "AC" + "0" * 32, "NumMedia": "0"}
            turns.append((urllib.parse.urlencode(params).encode(), validator.compute_signature(url, params)))
        out.append(turns)
    return out


def _drive(port: int, people: list[list[tuple[bytes, str]]], start: Any, results: Any) -> None:
    """One connection: each of its people one turn at a time, round robin, until every script is done."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start.wait()
    began = time.perf_counter()
    for turn in range(max(len(p) for p in people)):
        for person in people:
            if turn >= len(person):
                continue
            body, sig = person[turn]
            t0 = time.perf_counter()
            for _attempt in range(2):
                try:
                    conn.request("POST", PATH, body, {"Content-Type": "application/x-www-form-urlencoded",
                                                      "X-Twilio-Signature": sig})
                    resp = conn.getresponse()
                    resp.read()
                    status = resp.status
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()  # the server closed an idle keep-alive: reconnect once
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    status = 599
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
    results.put((began, time.perf_counter(), latencies, statuses))


@dataclass
class LoadResult:
    turns: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.turns / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))] * 1000


def load(port: int, requests: list[list[tuple[bytes, str]]], connections: int) -> LoadResult:
    ctx = mp.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    shares = [requests[i::connections] for i in range(connections)]
    procs = [ctx.Process(target=_drive, args=(port, share, start, results)) for share in shares if share]
    for p in procs:
        p.start()
    time.sleep(0.3)
    start.set()
    got = [results.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    began, ended = min(g[0] for g in got), max(g[1] for g in got)
    statuses: dict[int, int] = {}
    for g in got:
        for k, v in g[3].items():
            statuses[k] = statuses.get(k, 0) + v
    latencies = [x for g in got for x in g[2]]
    return LoadResult(len(latencies), ended - began, latencies, statuses)


# ---- CPU of a process tree --------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, float] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS  # ppid, utime+stime


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by `root` and every live descendant."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            parents[int(entry)], cpu[int(entry)] = st
    wanted, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in wanted:
                wanted.add(child)
                frontier.append(child)
    return sum(cpu.get(p, 0.0) for p in wanted)


def postmaster_pid(url: str) -> int | None:
    port = str(urllib.parse.urlsplit(url.replace("postgresql+psycopg", "postgresql")).port)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"postgres") and b"-p" in argv and port.encode() in argv:
            return int(entry)
    return None


# ---- servers -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not come up")


@contextmanager
def server(kind: str, port: int, database_url: str | None, workers: int, threads: int,
           log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "TWILIO_AUTH_TOKEN": TOKEN,
           "SECRET_KEY": "bench-secret"}  # logs at INFO, as deployed: their cost is part of a turn
    if kind == "bare":
        cmd = [sys.executable, __file__, "--serve-bare", str(port), "--threads", str(threads)]
    else:
        env["DATABASE_URL"] = database_url or ""
        cmd = [str(VENV_BIN / "hrtp-intake"), "serve", "--port", str(port), "--threads", str(threads)]
        if workers > 1:
            cmd += ["--workers", str(workers)]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    try:
        wait_up(port, proc)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def upgrade(url: str) -> None:
    subprocess.run([str(VENV_BIN / "hrtp-intake"), "db", "upgrade"], env={**os.environ, "DATABASE_URL": url},
                   check=True, capture_output=True, cwd=ROOT)


def preload(url: str, messages: int) -> None:
    """Bulk-inserts `messages` stored messages (and a contact per 15), in SQL, as a year of traffic leaves them."""
    from sqlalchemy import create_engine, text

    contacts = max(1, messages // 15)
    engine = create_engine(url)
    pg = engine.dialect.name == "postgresql"
    series = ("generate_series(1, :n) AS s(n)" if pg else
              "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < :n) SELECT n FROM s) AS s")
    ts = "now()" if pg else "'2026-06-01 12:00:00.000000'"
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO contacts (channel, address, created_at, pending_delete) "
                          f"SELECT 'sms', '+1818' || (1000000 + s.n), {ts}, false FROM {series}"), {"n": contacts})
        first = conn.execute(text("SELECT min(id) FROM contacts")).scalar_one()
        conn.execute(text(
            f"INSERT INTO messages (contact_id, direction, channel, provider_id, text, language, media_count, "
            f"status, created_at) SELECT {first} + (s.n % {contacts}), CASE WHEN s.n % 2 = 0 THEN 'in' ELSE 'out' END, "
            f"'sms', CASE WHEN s.n % 2 = 0 THEN 'SMPRE' || s.n END, 'a stored message of an earlier intake', 'en', 0, "
            f"CASE WHEN s.n % 2 = 1 THEN 'delivered' END, {ts} FROM {series}"), {"n": messages})
        if pg:
            conn.execute(text("ANALYZE"))
    engine.dispose()


@dataclass
class Row:
    name: str
    result: LoadResult
    app_cpu: float
    db_cpu: float | None
    ratio: float | None = None
    notes: list[str] = field(default_factory=list)


def run_config(name: str, args: argparse.Namespace, tmp: Path, pg_url: str | None, log: Path) -> Row | None:
    kind, workers, url = "service", 1, None
    preload_n = args.preload if name.endswith("+preload") else 0
    base = name.removesuffix("+preload")
    if base == "bare":
        kind = "bare"
    elif base == "sqlite":
        url = f"sqlite:///{tmp / f'{name}-{uuid.uuid4().hex[:6]}.db'}"
    elif base.startswith("pg"):
        if pg_url is None:
            print(f"  {name}: skipped, no PostgreSQL server could start", flush=True)
            return None
        workers = int(base[2:] or 1)
        url = fresh_pg_database(pg_url)
    if url:
        upgrade(url)
        if preload_n:
            t0 = time.monotonic()
            preload(url, preload_n)
            print(f"  {name}: preloaded {preload_n:,} messages in {time.monotonic() - t0:.0f} s", flush=True)
    port = free_port()
    run = uuid.uuid4().hex[:8]
    reqs = signed_requests(args.people, f"http://127.0.0.1:{port}", run)
    warm = signed_requests_for_numbers(args.connections * 2, port, run + "w")
    with server(kind, port, url, workers, args.threads, log) as proc:
        load(port, warm, args.connections)  # first requests load catalogs and fill pools; not timed
        pm = postmaster_pid(url) if url and url.startswith("postgresql") else None
        cpu0, db0 = tree_cpu(proc.pid), (tree_cpu(pm) if pm else None)
        result = load(port, reqs, args.connections)
        cpu1, db1 = tree_cpu(proc.pid), (tree_cpu(pm) if pm else None)
    row = Row(name, result, cpu1 - cpu0, (db1 - db0) if pm and db0 is not None and db1 is not None else None)
    bad = {k: v for k, v in result.statuses.items() if k != 200}
    if bad:
        row.notes.append(f"non-200: {bad}")
    return row


def signed_requests_for_numbers(people: int, port: int, run: str) -> list[list[tuple[bytes, str]]]:
    """Warm-up people on numbers the measured ones never use."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TOKEN)
    url = f"http://127.0.0.1:{port}{PATH}"
    out = []
    for n in range(people):
        turns = []
        for t, text in enumerate(SCRIPTS[0][:3]):
            params = {"From": f"+1714555{n:04d}", "To": "+12135550000", "Body": text, "MessageSid": f"SM{run}{n:05d}{t:03d}",
                      "AccountSid": "AC" + "0" * 32, "NumMedia": "0"}
            turns.append((urllib.parse.urlencode(params).encode(), validator.compute_signature(url, params)))
        out.append(turns)
    return out


_pg_counter = [0]


def fresh_pg_database(admin_url: str) -> str:
    from sqlalchemy import create_engine, text

    _pg_counter[0] += 1
    name = f"bench_{os.getpid()}_{_pg_counter[0]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    print(f"\n{os.cpu_count()} cores; {args.people:,} people x ~15 turns, {args.connections} connections, "
          f"waitress {args.threads} threads per process; load average at start {os.getloadavg()[0]:.2f}")
    print(f"{'config':<16} {'turns/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'x bare':>7} {'app CPU ms/turn':>16} "
          f"{'db CPU ms/turn':>15}  notes")
    for r in rows:
        db = f"{r.db_cpu / r.result.turns * 1000:.2f}" if r.db_cpu is not None else "-"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        print(f"{r.name:<16} {r.result.rate:>8.0f} {r.result.pct(50):>7.1f} {r.result.pct(99):>7.1f} {ratio:>7} "
              f"{r.app_cpu / r.result.turns * 1000:>16.2f} {db:>15}  {'; '.join(r.notes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads per server process (serve's default)")
    parser.add_argument("--configs", default="bare,sqlite,pg1,pg2",
                        help="comma-separated: bare, sqlite, pgN (N workers), any with +preload")
    parser.add_argument("--preload", type=int, default=1_000_000, help="messages stored before a +preload config")
    parser.add_argument("--repeat", type=int, default=1, help="run every configuration this many times, interleaved")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--serve-bare", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare is not None:
        serve_bare(args.serve_bare, args.threads)
        return

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    rows: list[Row] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hrtp-bench-")))
        log = tmp / "servers.log"
        pg_url = None
        if any(c.startswith("pg") for c in configs):
            from tests.postgres import postgres_server

            pg_url = stack.enter_context(postgres_server())
        for rep in range(args.repeat):
            bare: float | None = None
            for name in configs:
                print(f"run {rep + 1}/{args.repeat}: {name}...", flush=True)
                try:
                    row = run_config(name, args, tmp, pg_url, log)
                except (RuntimeError, subprocess.CalledProcessError) as exc:
                    print(f"  {name} failed: {exc}; server log:\n{log.read_text()[-3000:]}", flush=True)
                    continue
                if row is None:
                    continue
                if name == "bare":
                    bare = row.result.rate
                row.ratio = row.result.rate / bare if bare else None
                rows.append(row)
                print(f"  {row.result.rate:.0f} turns/s, p50 {row.result.pct(50):.1f} ms, p99 {row.result.pct(99):.1f} ms",
                      flush=True)
        shutil.copy(log, tmp.parent / "hrtp-bench-servers.log")
    print_table(rows, args)
    if args.json:
        args.json.write_text(json.dumps([{
            "config": r.name, "turns_per_s": r.result.rate, "p50_ms": r.result.pct(50), "p99_ms": r.result.pct(99),
            "ratio": r.ratio, "app_cpu_ms_per_turn": r.app_cpu / r.result.turns * 1000,
            "db_cpu_ms_per_turn": r.db_cpu / r.result.turns * 1000 if r.db_cpu is not None else None,
            "turns": r.result.turns, "statuses": r.result.statuses, "mean_ms": statistics.mean(r.result.latencies) * 1000,
        } for r in rows], indent=2))


if __name__ == "__main__":
    main()
