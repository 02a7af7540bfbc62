"""Measures how long handling one inbound message takes on SQLite (target: well under 50 ms).

Runs complete intakes for many simulated people through IntakeService.handle on a file database,
the same path a Twilio webhook takes minus HTTP, and prints latency percentiles.

    .venv/bin/python bench/handle_message.py [--people 200] [--db sqlite:////tmp/bench.db]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db import Database
from bot.messages import InboundMessage
from bot.migrate import upgrade
from bot.service import IntakeService, Runtime

ANSWERS = ["Hi", "yes", "Ana", "90011", "4", "1", "1,2", "2", "1", "3", "2", "1,2", "1", "1", "1,3"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--db", default=None, help="DATABASE_URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)  # the schema as a deployment has it: `hrtp-intake db upgrade`
        db = Database(url)
        service = IntakeService(db, Runtime.load())
        clock = datetime.now(UTC)
        timings: list[float] = []
        for person in range(args.people):
            phone = f"+1213{5550000 + person:07d}"
            for i, text in enumerate(ANSWERS):
                clock += timedelta(seconds=5)
                msg = InboundMessage("sms", phone, text, provider_id=f"SMB{person:06d}{i:03d}")
                started = time.perf_counter()
                service.handle(msg, now=clock)
                timings.append((time.perf_counter() - started) * 1000)
        db.dispose()

    print(f"messages handled: {len(timings)} ({args.people} people x {len(ANSWERS)} messages), SQLite file database")
    print(f"per message: mean {statistics.mean(timings):.1f} ms, p50 {percentile(timings, 50):.1f} ms, "
          f"p95 {percentile(timings, 95):.1f} ms, p99 {percentile(timings, 99):.1f} ms, max {max(timings):.1f} ms")


if __name__ == "__main__":
    main()
