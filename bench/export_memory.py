"""Seeds 100,000 intakes and shows that `export` streams them: peak Python memory stays flat.

    .venv/bin/python bench/export_memory.py [--intakes 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from bot.db import Database
from bot.export import export_csv, export_jsonl
from bot.migrate import fresh_sqlite
from bot.models import Answer, Contact, Intake

ANSWERS = {"language": "es", "consent": "yes", "first_name": "Ana", "zip": "90011", "age_range": "25_54",
           "employment": "unemployed", "sectors": ["construction", "healthcare"], "education": "hs_ged",
           "drivers_license": "no", "housing": "staying_with_others", "justice_involved": "yes", "veteran": "no",
           "public_assistance": "yes", "needs": ["childcare"]}
SCREENING = {"eligibility": {"status": "eligible", "reasons": [
    {"rule": "age_16_plus", "result": "pass", "text": {"msgid": "You are 16 or older.", "params": {}}, "source": "x"}]},
    "priority": {"is_priority": True, "categories": ["justice_involved", "housing_insecure"], "unknown": []},
    "matches": [{"program": "pcc_pre_apprenticeship", "sector": "construction", "score": 0.8}]}


def seed(db: Database, n: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch = 5000
    with db.writing() as s:
        for lo in range(0, n, batch):
            hi = min(n, lo + batch)
            s.execute(insert(Contact), [{"id": i + 1, "channel": "sms", "address": f"+1213{i:07d}", "created_at": start}
                                        for i in range(lo, hi)])
            s.execute(insert(Intake), [{"id": i + 1, "contact_id": i + 1, "channel": "sms", "language": "es",
                                        "status": "completed", "review_status": "new", "started_at": start + timedelta(minutes=i),
                                        "updated_at": start, "state": {}, "screening": SCREENING, "eligibility": "eligible",
                                        "needs_contact": False} for i in range(lo, hi)])
            s.execute(insert(Answer), [{"intake_id": i + 1, "field": f, "value": v, "answered_at": start}
                                       for i in range(lo, hi) for f, v in ANSWERS.items()])


def measure(name: str, chunks) -> None:
    # tracemalloc slows Python down roughly twofold; the time printed includes that overhead.
    tracemalloc.start()
    started = time.perf_counter()
    size = lines = 0
    for chunk in chunks:
        size += len(chunk)
        lines += chunk.count("\n")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{name}: {lines:,} lines, {size / 1e6:.1f} MB written in {elapsed:.1f} s; peak Python memory {peak / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intakes", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(fresh_sqlite(Path(tmp) / "export.db"))
        t = time.perf_counter()
        seed(db, args.intakes)
        print(f"seeded {args.intakes:,} intakes in {time.perf_counter() - t:.1f} s")
        measure("csv", export_csv(db))
        measure("jsonl", export_jsonl(db))
        db.dispose()


if __name__ == "__main__":
    main()
