"""The staff queries on PostgreSQL: list filters, facets, workflow and metrics (skipped without a server)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.accounts import create_user
from bot.facets import sync_facets
from bot.intake_list import IntakeFilter, list_intakes
from bot.metrics import compute_metrics
from bot.models import Intake
from bot.service import IntakeService, Settings
from bot.workflow import change_status, refer
from tests.admin.helpers import complete_intake, intake_id_of


@pytest.fixture
def pg_service(pg_db, runtime) -> IntakeService:
    return IntakeService(pg_db, runtime, Settings(idle_timeout=timedelta(hours=48)))


def test_list_workflow_and_metrics_on_postgres(pg_service, runtime):
    svc = pg_service
    maria = intake_id_of(complete_intake(svc, "+13235550101", "Maria", {"sectors": "1", "housing": "4"}))
    kim = intake_id_of(complete_intake(svc, "+13235550102", "Kim", {"sectors": "2"}))
    with svc.db.writing() as s:
        sam = create_user(s, "sam", "a long password", "staff")
        pat = create_user(s, "pat", "a long password", "partner", program_ids=["pcc_pre_apprenticeship"])
        intake = s.get(Intake, maria)
        for to in ("contacted", "enrolled", "training_completed"):
            change_status(s, intake, to, sam, intake.started_at)
        change_status(s, intake, "placed", sam, intake.started_at, 2500, True)
        refer(s, intake, "pcc_pre_apprenticeship", sam, intake.started_at)
    with svc.db.writing() as s:
        sync_facets(s)
        assert [r.id for r in list_intakes(s, sam, IntakeFilter()).rows] == [kim, maria]
        assert [r.id for r in list_intakes(s, sam, IntakeFilter(sector="healthcare")).rows] == [kim]
        assert [r.id for r in list_intakes(s, sam, IntakeFilter(priority="experiencing_homelessness")).rows] == [maria]
        assert [r.id for r in list_intakes(s, sam, IntakeFilter(q="ki")).rows] == [kim]
        assert [r.id for r in list_intakes(s, pat, IntakeFilter()).rows] == [maria]
        page = list_intakes(s, sam, IntakeFilter(case_status="placed"))
        assert page.total == 1 and page.counts["new"] == 1
        m = compute_metrics(s, runtime.bundle.flow)
    assert (m.total.started, m.total.placed, m.total.median_wage_cents, m.total.apprenticeships) == (2, 1, 2500, 1)
    assert dict(m.by_sector)["construction"].placed == 1
    assert {d.step: d.answered for d in m.dropoff}["zip"] == 2
