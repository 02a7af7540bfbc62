"""Seeds 100,000 intakes and times the staff metrics dashboard (p50/p95) through the Flask app, periods included.

    .venv/bin/python bench/admin_dashboard.py [--intakes 100000] [--runs 20] [--database sqlite:///path.db]

The target is p95 under 500 ms for every dashboard view below. The seeding is bench/admin_list.py's; the
database is a fresh temporary SQLite file unless --database is given (migrated to head with `db upgrade`, then
seeded only when it has no intakes).
"""

from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.admin_list import arguments, p95, signed_in_client, timed

TARGET_MS = 500.0

SCENARIOS = (
    ("whole history", "/admin/metrics"),
    ("one quarter", "/admin/metrics?from=2026-01-01&to=2026-03-31"),
    ("one month", "/admin/metrics?from=2026-03-01&to=2026-03-31"),
    ("CSV: by sector", "/admin/metrics/by_sector.csv"),
)


def main() -> int:
    args = arguments(__doc__.splitlines()[0], runs=20)
    with signed_in_client(args) as client:
        worst = 0.0
        print(f"{'dashboard':32} {'started':>8} {'p50 ms':>8} {'p95 ms':>8}")
        for name, path in SCENARIOS:
            page = client.get(path).get_data(as_text=True)
            found = re.search(r'id="kpi-started">([\d,]+)<', page)
            times = timed(client, path, args.runs)
            worst = max(worst, p95(times))
            print(f"{name:32} {found.group(1) if found else '':>8} {statistics.median(times):8.1f} {p95(times):8.1f}")
    ok = worst < TARGET_MS
    print(f"worst dashboard p95 {worst:.1f} ms: {'within' if ok else 'OVER'} the {TARGET_MS:.0f} ms target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
