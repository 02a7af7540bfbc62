"""Seeds 100,000 intakes and times the staff intake list (p50/p95) through the Flask app, filters included.

    .venv/bin/python bench/admin_list.py [--intakes 100000] [--runs 30] [--database sqlite:///path.db]

The target is p95 under 150 ms for every list page shown below. The dashboard is timed too, for
information. The database is a fresh temporary SQLite file unless --database is given.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from bot.accounts import create_user
from bot.facets import facets_of
from bot.models import Answer, CaseFile, Contact, Intake, IntakeFacet

TARGET_MS = 150.0
PASSWORD = "bench password 123"
NAMES = ("Maria", "Jose", "Ana", "Luis", "Rosa", "Kim", "Minh", "Anh", "Arman", "Narine", "Olga", "Dmitri", "Leila",
         "Reza", "Sokha", "Dara", "Wei", "Mei", "Jin", "Hye", "Aisha", "Omar", "Yuki", "Priya", "Somchai", "James",
         "Tanya", "Marcus", "Keisha", "Diego", "Carmen", "Luz", "Ernesto", "Guadalupe", "Ricardo", "Sofia")
LANGS = ["en"] * 12 + ["es"] * 6 + ["zh-Hant", "zh-Hans", "ko", "vi", "tl", "hy", "ru", "fa", "km", "ar"]
CHANNELS = ["sms"] * 7 + ["whatsapp"] * 2 + ["telegram", "web"]
SECTORS = ("construction", "healthcare", "technology", "ece", "aerospace", "creative_economy")
NEEDS = ("childcare", "transportation", "housing", "tools_clothing", "digital_access", "english_classes")
CATEGORIES = ("justice_involved", "experiencing_homelessness", "housing_insecure", "woman", "bipoc", "veteran",
              "public_assistance", "youth", "older_worker")
PROGRAMS = ("pcc_pre_apprenticeship", "caregiver_advancement", "fund_community_health_worker", "hrcc_mc3",
            "aerospace_lost_angels", "ece_apprenticeship", "digital_navigators", "ame_hrtp")
REVIEW = ["new"] * 60 + ["contacted"] * 15 + ["enrolled"] * 8 + ["training_completed"] * 5 + ["placed"] * 4 + \
         ["not_eligible"] * 3 + ["withdrawn"] * 3 + ["unreachable"] * 2
STEPS = ("language", "consent", "first_name", "zip", "age_range", "employment", "sectors", "education",
         "drivers_license", "housing", "background", "needs", "program_choice")


def screening_for(rng: random.Random, eligibility: str, cats: list[str], matches: list[str]) -> dict:
    """A screening record the size of a real one (reasons with sources, matches with score parts)."""
    reason = lambda rule, text: {"rule": rule, "result": "pass", "text": {"msgid": text, "params": {}},  # noqa: E731
                                 "source": "LA County DEO HRTP Fund: individuals aged 16 and above", "placeholder": False}
    return {"eligibility": {"status": eligibility, "reasons": [
                reason("age_16_plus", "You are 16 or older."), reason("lives_in_la_county", "You live in LA County."),
                reason("looking_for_work", "You are looking for work or for more hours.")]},
            "priority": {"is_priority": any(c != "youth" for c in cats), "categories": cats, "unknown": ["priority_area"]},
            "matches": [{"program": p, "sector": "construction", "score": round(rng.uniform(5, 12), 3),
                         "name": {"msgid": p.replace("_", " ").title(), "params": {}, "translate": False},
                         "reasons": [{"msgid": "paid training", "params": {}}, {"msgid": "%(miles)s miles from %(zip)s",
                                                                                 "params": {"miles": 9, "zip": "90011"}}],
                         "components": {"sector": 10.0, "paid": 1.0, "distance": -0.4, "services": 0.5}} for p in matches]}


def seed(db, n: int, seed_value: int = 7) -> None:
    """Bulk-inserts n intakes with contacts, answers, facets and staff case files (no conversation)."""
    rng = random.Random(seed_value)
    start = datetime(2025, 11, 1, tzinfo=UTC)
    span = 365 * 24 * 3600
    batch = 2000
    with db.writing() as s:
        staff = create_user(s, "bench", PASSWORD, "staff", "Bench Staff")
        staff_id = staff.id
    for lo in range(0, n, batch):
        contacts, intakes, answers, facets, cases = [], [], [], [], []
        for i in range(lo, min(n, lo + batch)):
            iid = i + 1
            channel = rng.choice(CHANNELS)
            address = f"+1{rng.choice(('213', '323', '310', '626', '818', '562'))}{i:07d}" if channel != "web" \
                else f"web:{i:016x}"
            started = start + timedelta(seconds=span * i // n)
            lang = rng.choice(LANGS)
            progress = rng.choices(("completed", "incomplete", "declined"), (75, 20, 5))[0]
            sectors = rng.sample(SECTORS, rng.choice((1, 1, 2, 3)))
            needs = rng.sample(NEEDS, rng.choice((0, 1, 1, 2, 3)))
            cats = rng.sample(CATEGORIES, rng.choice((0, 1, 1, 2, 3)))
            ans = {"language": lang, "consent": "yes", "first_name": rng.choice(NAMES), "zip": f"9{rng.randint(0, 1999):04d}",
                   "age_range": rng.choice(("16_17", "18_24", "25_54", "55_plus")), "employment": "unemployed",
                   "sectors": sectors, "education": "hs_ged", "drivers_license": rng.choice(("yes", "no")),
                   "housing": "stable", "veteran": "no", "justice_involved": "no", "public_assistance": "no",
                   "needs": needs or ["none"]}
            stop_at = len(STEPS) if progress == "completed" else rng.randint(1, len(STEPS) - 1)
            asked = STEPS[:stop_at]
            screening = None
            eligibility = None
            matches = rng.sample(PROGRAMS, 3)
            choice = None
            if progress == "completed":
                eligibility = rng.choices(("eligible", "needs_review", "ineligible"), (80, 15, 5))[0]
                screening = screening_for(rng, eligibility, cats, matches if eligibility != "ineligible" else [])
                choice = rng.choice(matches + ["talk_to_someone"]) if eligibility != "ineligible" else None
            contacts.append({"id": iid, "channel": channel, "address": address, "created_at": started, "language": lang})
            intakes.append({"id": iid, "contact_id": iid, "channel": channel, "language": lang, "status": progress,
                            "review_status": rng.choice(REVIEW) if progress == "completed" else "new",
                            "referral_code": rng.choice((None, None, None, "EASTLA1", "REENTRY2", "SHELTER3")),
                            "first_name": ans["first_name"], "eligibility": eligibility,
                            "is_priority": screening["priority"]["is_priority"] if screening else None,
                            "program_choice": choice, "needs_contact": rng.random() < 0.05,
                            "current_step": None if progress == "completed" else STEPS[stop_at],
                            "started_at": started, "updated_at": started,
                            "completed_at": started + timedelta(minutes=7) if progress == "completed" else None,
                            "state": {"step": None, "answers": ans, "history": list(asked), "misses": 0, "lang": lang,
                                      "status": progress, "finished": progress != "incomplete"},
                            "screening": screening})
            kept = {}
            for step in asked:
                fields = ("veteran", "justice_involved", "public_assistance") if step == "background" else (step,)
                for f in fields:
                    if f == "program_choice":
                        if choice:
                            kept[f] = choice
                    else:
                        kept[f] = ans[f]
            answers.extend({"intake_id": iid, "field": f, "value": v, "step": f if f in STEPS else "background",
                            "answered_at": started} for f, v in kept.items())
            facets.extend({"intake_id": iid, "facet": f, "value": v} for f, v in facets_of(screening, kept))
            status = intakes[-1]["review_status"]
            if status != "new":
                order = ("contacted", "enrolled", "training_completed", "placed")
                reached = order[:order.index(status) + 1] if status in order else ("contacted",)
                cases.append({"intake_id": iid, "assignee_id": staff_id, "updated_at": started,
                              "referred_program": rng.choice(matches) if status in order[1:] else None,
                              "contacted_at": started, "enrolled_at": started if "enrolled" in reached else None,
                              "trained_at": started if "training_completed" in reached else None,
                              "placed_at": started if "placed" in reached else None,
                              "hourly_wage_cents": rng.randint(1800, 3200) if "placed" in reached else None,
                              "apprenticeship": rng.random() < 0.4 if "placed" in reached else None})
        with db.writing() as s:
            s.execute(insert(Contact), contacts)
            s.execute(insert(Intake), intakes)
            s.execute(insert(Answer), answers)
            if facets:
                s.execute(insert(IntakeFacet), facets)
            if cases:
                s.execute(insert(CaseFile), cases)


SCENARIOS = (
    ("first page", "/admin/intakes"),
    ("a deep page", "/admin/intakes?before=1234"),
    ("status: contacted", "/admin/intakes?status=contacted"),
    ("eligible, Spanish", "/admin/intakes?eligibility=eligible&language=es"),
    ("priority: justice involved", "/admin/intakes?priority=justice_involved"),
    ("sector: aerospace, WhatsApp", "/admin/intakes?sector=aerospace&channel=whatsapp"),
    ("matched program", "/admin/intakes?program=hrcc_mc3&program_role=matched"),
    ("referral code", "/admin/intakes?referral_code=REENTRY2"),
    ("name search", "/admin/intakes?q=ros"),
    ("phone search", "/admin/intakes?q=0004321"),
    ("one month", "/admin/intakes?date_from=2026-03-01&date_to=2026-03-31"),
    ("assigned, asked for a call", "/admin/intakes?assignee=1&needs_contact=yes"),
)


def timed(client, path: str, runs: int) -> list[float]:
    for _ in range(2):
        assert client.get(path).status_code == 200
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def arguments(description: str, runs: int) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--intakes", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=runs)
    ap.add_argument("--database", default=None, help="A database to use; seeded only when it has no intakes.")
    return ap.parse_args()


@contextmanager
def signed_in_client(args: argparse.Namespace) -> Iterator[Any]:
    """An admin test client over a database of `args.intakes` intakes (seeded unless present)."""
    from bot.migrate import upgrade
    from webhook import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)  # the schema as a deployment has it: `hrtp-intake db upgrade`
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
        db = app.extensions["hrtp"].db
        with db.session() as s:
            present = s.query(Intake).count()
        if present:
            print(f"using the {present:,} intakes already in {url}")
        else:
            t = time.perf_counter()
            seed(db, args.intakes)
            print(f"seeded {args.intakes:,} intakes in {time.perf_counter() - t:.1f} s ({url.split('///')[0]})")
        client = app.test_client()
        r = client.post("/admin/login", data={"username": "bench", "password": PASSWORD})
        assert r.status_code == 302, "sign-in failed"
        try:
            yield client
        finally:
            db.dispose()


def main() -> int:
    args = arguments(__doc__.splitlines()[0], runs=30)
    with signed_in_client(args) as client:
        worst = 0.0
        all_times: list[float] = []
        print(f"{'list page':32} {'matches':>8} {'p50 ms':>8} {'p95 ms':>8}")
        for name, path in SCENARIOS:
            page = client.get(path).get_data(as_text=True)
            found = re.search(r'id="total"><strong>([\d,]+)</strong>', page)
            times = timed(client, path, args.runs)
            all_times.extend(times)
            worst = max(worst, p95(times))
            print(f"{name:32} {found.group(1) if found else '?':>8} {statistics.median(times):8.1f} {p95(times):8.1f}")
        print(f"{'all list pages':32} {'':>8} {statistics.median(all_times):8.1f} {p95(all_times):8.1f}")
        dash = timed(client, "/admin/metrics", max(3, args.runs // 6))
        print(f"{'dashboard (for information)':32} {'':>8} {statistics.median(dash):8.1f} {p95(dash):8.1f}")
    ok = worst < TARGET_MS
    print(f"worst list-page p95 {worst:.1f} ms: {'within' if ok else 'OVER'} the {TARGET_MS:.0f} ms target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
