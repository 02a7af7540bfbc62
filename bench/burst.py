"""A radio or TV spot: 10,000 people start texting within 10 minutes; prints the p99 a person waits and the queue's backlog.

    .venv/bin/python bench/burst.py [--people 10000] [--minutes 10] [--speed 10] [--workers 1] [--database URL]

The load is open-loop, as a spot's audience is: every message leaves at its scheduled time whether or not
the server has answered the last ones (a person still waits for their own reply before the next answer).
Arrivals fall off after the spot (most people text in the first minutes); each person then answers with
5 to 30 seconds of thinking, and two in five give up part-way. `--speed S` runs the spot S times faster
(10 minutes in 10 / S), so the load on the server is S times the real one: speed 1 is the real spot.
The latency counted runs from when the message was due, so time spent waiting for a free connection
(the server's accept queue, as Twilio would meet it) counts.

The queue's backlog is sampled every second when the job queue is on this branch: rows of an `outbox`
table not yet handed on, and tasks waiting in huey's SQLite file beside the database; without them the
backlog column says so and the rest of the report stands.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.turns import PATH, TOKEN, free_port, person_script, server, tree_cpu, upgrade


def schedule(people: int, minutes: float, speed: float, seed: int) -> list[tuple[float, int, list[str]]]:
    """(arrival second, person, turns) for everyone, the spot compressed by `speed`."""
    rng = random.Random(seed)
    span = minutes * 60 / speed
    out = []
    for n in range(people):
        # Half come in the first fifth of the window, the rest spread out: a spot's tail.
        at = rng.uniform(0, span / 5) if rng.random() < 0.5 else rng.uniform(0, span)
        script = person_script(n, rng)
        if rng.random() < 0.4:
            script = script[:rng.randint(1, 5)]
        out.append((at, n, script))
    return sorted(out)


def signed(base: str, phone: str, sid: str, text: str) -> bytes:
    from twilio.request_validator import RequestValidator

    params = {"From": phone, "To": "+12135550000", "Body": text, "MessageSid": sid, "AccountSid": "AC" + "0" * 32,
              "NumMedia": "0"}
    body = urllib.parse.urlencode(params).encode()
    sig = RequestValidator(TOKEN).compute_signature(base + PATH, params)
    host = urllib.parse.urlsplit(base).netloc
    return (f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {sig}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def _exchange(pool: asyncio.Queue[Any], host: str, port: int, request: bytes) -> int:
    conn = await pool.get()
    try:
        for _ in range(2):
            if conn is None:
                conn = await asyncio.open_connection(host, port)
            reader, writer = conn
            try:
                writer.write(request)
                await writer.drain()
                status_line = await reader.readline()
                if not status_line:
                    raise ConnectionError("closed")
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                return int(status_line.split()[1])
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                conn = None
        return 599
    finally:
        await pool.put(conn)


async def _run_share(share: list[tuple[float, int, list[str]]], base: str, connections: int, run: str,
                     think: tuple[float, float], t0: float) -> list[tuple[float, float, int]]:
    parts = urllib.parse.urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    pool: asyncio.Queue[Any] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(None)
    results: list[tuple[float, float, int]] = []
    rng = random.Random(hash(run))

    async def person(at: float, n: int, script: list[str]) -> None:
        due = t0 + at
        phone = f"+1213{5550000 + n:07d}" if n < 4_000_000 else f"+1310{n:07d}"
        for t, text in enumerate(script):
            await asyncio.sleep(max(0.0, due - time.time()))
            request = signed(base, phone, f"SM{run}{n:07d}{t:03d}", text)
            status = await _exchange(pool, host, port, request)
            done = time.time()
            results.append((due - t0, done - due, status))
            due = max(done, due) + rng.uniform(*think)

    await asyncio.gather(*(person(*p) for p in share))
    return results


def _worker(share: list[tuple[float, int, list[str]]], base: str, connections: int, run: str,
            think: tuple[float, float], t0: float, out: Any) -> None:
    out.put(asyncio.run(_run_share(share, base, connections, run, think, t0)))


def backlog_probe(database_url: str | None) -> Any:
    """A function returning the queue's backlog now, or None when this branch has no queue to look at."""
    if not database_url:
        return None
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    huey_files = []
    if database_url.startswith("sqlite:///"):
        folder = Path(database_url.removeprefix("sqlite:///")).parent
        huey_files = [p for p in folder.glob("*huey*") if p.suffix in (".db", ".sqlite", ".sqlite3")]
    if "outbox" not in tables and not huey_files:
        return None
    cols = {c["name"] for c in inspect(engine).get_columns("outbox")} if "outbox" in tables else set()
    pending = next((f"{c} IS NULL" for c in ("enqueued_at", "drained_at", "sent_at", "done_at") if c in cols), "1=1")

    def probe() -> int:
        total = 0
        if "outbox" in tables:
            with engine.connect() as conn:
                total += int(conn.execute(text(f"SELECT count(*) FROM outbox WHERE {pending}")).scalar_one())
        for f in huey_files:
            import sqlite3

            with sqlite3.connect(f, timeout=1) as c:
                try:
                    total += int(c.execute("SELECT count(*) FROM task").fetchone()[0])
                except sqlite3.Error:
                    pass
        return total

    return probe


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--speed", type=float, default=1, help="run the spot this many times faster")
    parser.add_argument("--connections", type=int, default=64, help="open connections to the server, in all")
    parser.add_argument("--processes", type=int, default=2, help="loader processes")
    parser.add_argument("--workers", type=int, default=1, help="`serve --workers`")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database", default=None, help="DATABASE_URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="hrtp-burst-"))
    url = args.database or f"sqlite:///{tmp / 'burst.db'}"
    upgrade(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    plan = schedule(args.people, args.minutes, args.speed, seed=7)
    think = (5 / args.speed, 30 / args.speed)
    turns = sum(len(p[2]) for p in plan)
    print(f"{args.people:,} people, {turns:,} messages, arrivals over {args.minutes * 60 / args.speed:.0f} s "
          f"(speed {args.speed:g}); {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}", flush=True)
    probe = backlog_probe(url)
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    with server("service", port, url, args.workers, args.threads, tmp / "server.log") as proc:
        t0 = time.time() + 1.0
        ctx = mp.get_context("fork")
        out = ctx.Queue()
        shares = [plan[i::args.processes] for i in range(args.processes)]
        per = max(1, args.connections // args.processes)
        procs = [ctx.Process(target=_worker, args=(s, base, per, uuid.uuid4().hex[:8], think, t0, out)) for s in shares]
        cpu0 = tree_cpu(proc.pid)
        for p in procs:
            p.start()

        def sample() -> None:
            while not stop.wait(1.0):
                if probe is not None:
                    try:
                        samples.append((time.time() - t0, probe()))
                    except Exception as exc:  # noqa: BLE001 - a probe that fails must not end the run; say so
                        print(f"  backlog probe failed: {exc}", flush=True)
                        return

        threading.Thread(target=sample, daemon=True).start()
        results = [r for _ in procs for r in out.get()]
        for p in procs:
            p.join()
        cpu = tree_cpu(proc.pid) - cpu0
        stop.set()
        drain_started = time.time()
        while probe is not None and probe() > 0 and time.time() - drain_started < 120:
            time.sleep(0.5)
        drained = time.time() - drain_started if probe is not None else None

    latencies = [r[1] * 1000 for r in results]
    bad = sum(1 for r in results if r[2] != 200)
    span = max(r[0] + r[1] for r in results)
    print(f"\nanswered {len(results):,} messages in {span:.0f} s ({len(results) / span:.0f}/s average), {bad} not 200")
    print(f"latency from when each message was due: p50 {pct(latencies, 50):.0f} ms, p95 {pct(latencies, 95):.0f} ms, "
          f"p99 {pct(latencies, 99):.0f} ms, max {max(latencies):.0f} ms")
    busiest = max(range(int(span) + 1), key=lambda s: sum(1 for r in results if int(r[0]) == s))
    print(f"busiest second: {sum(1 for r in results if int(r[0]) == busiest)} messages due at t={busiest} s")
    print(f"server CPU {cpu / len(results) * 1000:.2f} ms per message")
    if probe is None:
        print("queue backlog: no job queue on this branch (no outbox table, no huey file)")
    else:
        peak = max((n for _, n in samples), default=0)
        print(f"queue backlog: peak {peak} jobs, drained {drained:.1f} s after the last message" if drained is not None
              else f"queue backlog: peak {peak}")


if __name__ == "__main__":
    main()
