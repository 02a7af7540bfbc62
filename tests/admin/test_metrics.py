"""The program's indicators, computed from intakes and staff updates, on the dashboard and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC

import pytest
from sqlalchemy import select

from bot.accounts import create_user
from bot.facets import sync_facets
from bot.metrics import compute_metrics
from bot.models import AuditLog, Intake, User
from bot.workflow import change_status
from tests.admin.helpers import complete_intake, intake_id_of
from tests.transcript import Person


def advance(svc, intake_id: int, *steps: str, wage: int | None = None, apprenticeship: bool | None = None) -> None:
    with svc.db.writing() as s:
        user = s.scalar(select(User).where(User.username == "ops")) or create_user(s, "ops", "a long password", "staff")
        intake = s.get(Intake, intake_id)
        for to in steps:
            change_status(s, intake, to, user, intake.started_at,
                          wage if to == "placed" else None, apprenticeship if to == "placed" else None)


@pytest.fixture
def program_year(app, svc):
    """Five people: two placed, one trained, one waiting, one who stopped at the ZIP question."""
    runner = app.test_cli_runner()
    runner.invoke(args=["add-referral-code", "EASTLA1"])
    svc.forget_referral_codes()
    maria = intake_id_of(complete_intake(svc, "+13235550101", "Maria", {"sectors": "1", "housing": "4"}, code="EASTLA1"))
    kim = intake_id_of(complete_intake(svc, "+13235550102", "Kim", {"sectors": "2"}))
    luis = intake_id_of(complete_intake(svc, "+13235550103", "Luis", {"sectors": "1,2", "background": "2"}))
    ana = intake_id_of(complete_intake(svc, "+13235550104", "Ana", {"needs": "7"}))
    stopper = Person(svc, "+13235550105")
    stopper.says("Hi")
    stopper.answer_until("zip", {"consent": "yes", "first_name": "Eve"})
    advance(svc, maria, "contacted", "enrolled", "training_completed", "placed", wage=2450, apprenticeship=True)
    advance(svc, kim, "contacted", "enrolled", "training_completed", "placed", wage=2000, apprenticeship=False)
    advance(svc, luis, "contacted", "enrolled", "training_completed")
    return {"maria": maria, "kim": kim, "luis": luis, "ana": ana}


def metrics(svc, runtime, **period):
    with svc.db.writing() as s:
        sync_facets(s)
        return compute_metrics(s, runtime.bundle.flow, **period)


def test_indicators_come_from_the_data(svc, runtime, program_year):
    m = metrics(svc, runtime)
    t = m.total
    assert (t.started, t.completed, t.eligible) == (5, 4, 4)
    assert (t.contacted, t.enrolled, t.trained, t.placed, t.apprenticeships) == (3, 3, 3, 2, 1)
    assert t.placement_rate == pytest.approx(2 / 3)
    assert t.median_wage_cents == 2225  # the median of $24.50 and $20.00
    assert (t.enrolled_priority, t.priority_share) == (2, pytest.approx(2 / 3))  # shelter and justice-involved
    assert t.with_needs == 3
    assert [(st.key, st.count) for st in m.funnel] == [
        ("started", 5), ("consented", 5), ("completed", 4), ("eligible", 4), ("contacted", 3), ("enrolled", 3),
        ("trained", 3), ("placed", 2)]


def test_by_sector_and_by_referral_code(svc, runtime, program_year):
    m = metrics(svc, runtime)
    sectors = dict(m.by_sector)
    assert list(sectors) == ["construction", "healthcare"]
    construction, healthcare = sectors["construction"], sectors["healthcare"]
    assert (construction.started, construction.placed, construction.median_wage_cents) == (3, 1, 2450)
    assert (healthcare.started, healthcare.placed, healthcare.median_wage_cents) == (3, 1, 2000)
    codes = dict(m.by_referral)
    assert (codes["EASTLA1"].started, codes["EASTLA1"].placed, codes["EASTLA1"].apprenticeships) == (1, 1, 1)
    assert (codes["(none)"].started, codes["(none)"].placed) == (4, 1)


def test_drop_off_per_question_and_supportive_needs(svc, runtime, program_year):
    m = metrics(svc, runtime)
    drop = {d.step: d for d in m.dropoff}
    assert (drop["zip"].answered, drop["zip"].stopped, drop["zip"].rate) == (4, 1, pytest.approx(1 / 5))
    assert (drop["first_name"].answered, drop["first_name"].stopped) == (5, 0)
    assert drop["background"].answered == 4
    assert dict(m.needs)["childcare"] == 3 and dict(m.needs)["transportation"] == 3 and dict(m.needs)["housing"] == 0
    assert m.needs_base == 4


def test_a_period_counts_only_intakes_started_in_it(svc, runtime, program_year):
    assert metrics(svc, runtime, date_from="2026-11-03", date_to="").total.started == 0
    assert metrics(svc, runtime, date_from="2026-11-02", date_to="2026-11-02").total.started == 5


def test_dashboard_shows_the_indicators_and_targets(staff, program_year):
    page = staff.get("/admin/metrics").get_data(as_text=True)
    assert 'id="kpi-placed">2<' in page and 'id="kpi-wage">$22.25<' in page and "target $22.00/hr" in page
    assert "<svg" in page and "Funnel from started to placed" in page
    assert "Share of enrolled people from a priority population: 67% of 3 enrolled against a target of 100%" in page
    assert "EASTLA1" in page and "Construction" in page


def test_each_table_downloads_as_csv_and_the_download_is_audited(staff, svc, program_year):
    rows = list(csv.reader(io.StringIO(staff.get("/admin/metrics/by_sector.csv").get_data(as_text=True))))
    assert rows[0][:3] == ["Sector of interest", "Intakes started", "Completed"]
    assert rows[1][0] == "Construction" and rows[1][1] == "3"
    summary = dict((r[0], r[1]) for r in csv.reader(io.StringIO(staff.get("/admin/metrics/summary.csv").get_data(as_text=True))))
    assert summary["Median wage at placement"] == "22.25" and summary["Placed"] == "2"
    for table in ("by_referral", "funnel", "dropoff", "needs"):
        r = staff.get(f"/admin/metrics/{table}.csv")
        assert r.status_code == 200 and r.mimetype == "text/csv" and len(r.get_data(as_text=True).splitlines()) > 1
    assert staff.get("/admin/metrics/secret.csv").status_code == 404
    with svc.db.session() as s:
        exported = [a.target_id
                    for a in s.scalars(select(AuditLog).where(AuditLog.target_type == "metrics").order_by(AuditLog.id))]
    assert exported == ["by_sector", "summary", "by_referral", "funnel", "dropoff", "needs"]


def test_facets_follow_answers_changed_after_the_result(staff, svc):
    p = complete_intake(svc, "+13235550101", "Maria", {"sectors": "1"})
    iid = intake_id_of(p)
    assert f'href="/admin/intakes/{iid}"' in staff.get("/admin/intakes?sector=construction").get_data(as_text=True)
    p.says("DELETE")
    p.says("YES")
    assert f'href="/admin/intakes/{iid}"' not in staff.get("/admin/intakes?sector=construction").get_data(as_text=True)


def test_a_period_whose_intakes_are_not_one_run_of_ids(svc, runtime, program_year):
    # Move Kim's intake (an id in the middle) into another month: the period is then two runs of ids.
    from datetime import datetime

    with svc.db.writing() as s:
        s.get(Intake, program_year["kim"]).started_at = datetime(2026, 10, 15, 12, tzinfo=UTC)
    november = metrics(svc, runtime, date_from="2026-11-01", date_to="2026-11-30")
    october = metrics(svc, runtime, date_from="2026-10-01", date_to="2026-10-31")
    assert (november.total.started, november.total.placed) == (4, 1)
    assert (october.total.started, october.total.placed, october.total.median_wage_cents) == (1, 1, 2000)
    assert dict((sector, c.started) for sector, c in october.by_sector) == {"healthcare": 1}


def test_skipped_answers_are_counted_per_question(svc, runtime):
    p = Person(svc, "+13235550106")
    p.says("Hi")
    p.answer_until("gender", {"language": "1", "consent": "yes", "first_name": "skip", "zip": "90011",
                              "age_range": "3", "sectors": "1", "background": "4", "needs": "skip"})
    drop = {d.step: d for d in metrics(svc, runtime).dropoff}
    assert (drop["first_name"].answered, drop["first_name"].skipped) == (1, 1)
    assert (drop["needs"].answered, drop["needs"].skipped) == (1, 1)
    assert drop["zip"].skipped == 0
