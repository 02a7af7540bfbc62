"""Running a queue's jobs inside the test (a consumer's loop, one step at a time), and a clock the test moves."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC

from bot.outbox import utc


@dataclass
class FakeClock:
    """Epoch seconds that move only when slept through or advanced."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def run_due(queue, until: float | None = None, rounds: int = 200) -> int:
    """Runs the jobs waiting and those scheduled by `until` (epoch seconds, now by default), as a consumer would."""
    huey = queue.huey
    ran = 0
    for _ in range(rounds):
        ts = utc(time.time() if until is None else until).replace(tzinfo=None)
        tasks = list(huey.read_schedule(ts))
        # Asked first: on an empty Redis list huey's dequeue blocks for a second.
        while huey.pending_count() and (task := huey.dequeue()) is not None:
            tasks.append(task)
        if not tasks:
            break
        for task in tasks:
            huey.execute(task, ts)
            ran += 1
    return ran


def run_until_idle(queue, clock: FakeClock, limit: float = 3600) -> int:
    """Runs every job, moving the fake clock to each scheduled one in turn, until none is left."""
    ran = 0
    start = clock.now
    while clock.now - start <= limit:
        ran += run_due(queue, clock.now)
        etas = [t.eta for t in queue.huey.scheduled()]
        if not etas:
            return ran
        # huey keeps etas as naive UTC datetimes.
        clock.now = max(clock.now, min(e.replace(tzinfo=UTC).timestamp() for e in etas))
    raise AssertionError("the queue never went idle")
