"""The intake list and detail as staff see them: filters, search, paging, labels, audit of every view."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from bot.intake_list import IntakeFilter
from bot.models import AuditLog
from tests.admin.helpers import complete_intake, intake_id_of, seed_intakes
from tests.transcript import Person

NOV = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


def listed(page: str) -> list[int]:
    """Intake ids in the list, in the order shown."""
    body = page.split("<tbody>", 1)[1] if "<tbody>" in page else ""
    return [int(i) for i in re.findall(r'<tr>\s*<td><a href="/admin/intakes/(\d+)">', body)]


def total(page: str) -> int:
    return int(re.search(r'id="total"><strong>([\d,]+)</strong>', page).group(1).replace(",", ""))


def people(svc):
    """Three finished intakes that differ in the ways staff filter by."""
    maria = complete_intake(svc, "+13235550101", "Maria", {"housing": "4", "sectors": "1"}, start=NOV)  # shelter
    kim = complete_intake(svc, "+12135550102", "Kim", {"sectors": "2", "zip": "90012"}, start=NOV.replace(day=5))
    luis = Person(svc, "+13105550103", start=NOV.replace(day=9))
    luis.says("Hola")
    luis.answer_until("zip", {"consent": "sí", "first_name": "Luis"})  # stops before the ZIP
    return intake_id_of(maria), intake_id_of(kim), intake_id_of(luis)


def test_list_is_newest_first_with_counts(staff, svc):
    maria, kim, luis = people(svc)
    page = staff.get("/admin/intakes").get_data(as_text=True)
    assert listed(page) == [luis, kim, maria]
    assert total(page) == 3
    assert re.search(r"New <span class=\"n\">3</span>", page)


def test_filters_narrow_the_list(staff, svc):
    maria, kim, luis = people(svc)
    cases = {
        "eligibility=eligible": {maria, kim},
        "priority=experiencing_homelessness": {maria},
        "priority=any": {maria},
        "sector=healthcare": {kim},
        "sector=construction": {maria},
        "language=es": {luis},
        "channel=sms": {maria, kim, luis},
        "channel=telegram": set(),
        "progress=incomplete": {luis},
        "q=mar": {maria},
        "q=KIM": {kim},
        "q=0103": {luis},
        "q=(323) 555-0101": {maria},
        "date_from=2026-11-04&date_to=2026-11-06": {kim},
        "status=new": {maria, kim, luis},
        "status=contacted": set(),
    }
    for query, expected in cases.items():
        page = staff.get(f"/admin/intakes?{query}").get_data(as_text=True)
        assert set(listed(page)) == expected, query
        assert total(page) == len(expected), query


def test_bookmarked_status_and_progress_links_keep_their_meaning():
    f = IntakeFilter.from_args({"status": "contacted", "progress": "incomplete", "sector": "healthcare"})
    assert (f.case_status, f.intake_progress) == ("contacted", "incomplete")
    assert f.active() == {"status": "contacted", "progress": "incomplete", "sector": "healthcare"}


def test_referral_code_filter(staff, svc, app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["add-referral-code", "EASTLA1", "--org", "East LA Reentry"]).exit_code == 0
    svc.forget_referral_codes()
    coded = complete_intake(svc, "+13235550111", "Ana", code="EASTLA1")
    plain = complete_intake(svc, "+13235550112", "Bo")
    page = staff.get("/admin/intakes?referral_code=EASTLA1").get_data(as_text=True)
    assert listed(page) == [intake_id_of(coded)]
    page = staff.get("/admin/intakes?referral_code=(none)").get_data(as_text=True)
    assert listed(page) == [intake_id_of(plain)]


def test_paging_by_keyset_walks_every_intake_once(staff, svc):
    ids = seed_intakes(svc, 120)
    seen: list[int] = []
    page = staff.get("/admin/intakes").get_data(as_text=True)
    while True:
        seen.extend(listed(page))
        assert total(page) == 120
        older = re.search(r'href="([^"]+)" rel="next"', page)
        if not older:
            break
        page = staff.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert seen == sorted(ids, reverse=True)
    newer = re.search(r'href="([^"]+)" rel="prev"', page).group(1).replace("&amp;", "&")
    assert listed(staff.get(newer).get_data(as_text=True)) == sorted(ids, reverse=True)[50:100]


def test_detail_shows_answers_in_english_for_a_spanish_speaker(staff, svc):
    p = Person(svc, "+13235550120", start=NOV)
    p.says("Hola")
    p.answer_until("gender", {"consent": "sí", "first_name": "Rosa", "zip": "90011", "age_range": "4", "sectors": "1",
                              "background": "2", "needs": "1"})
    page = staff.get(f"/admin/intakes/{intake_id_of(p)}").get_data(as_text=True)
    assert "Español (es)" in page and "answers below are shown in English" in page
    for label in ("Age range</th><td>25 to 54", "Sectors of interest</th><td>Construction and trades",
                  "Justice involved</th><td>Yes", "Supportive services needed</th><td>Childcare"):
        assert label in page, label
    assert "You live in LA County." in page  # the eligibility reason, in English
    assert "Justice involved</span>" in page  # the priority category
    assert "Hola" in page  # the conversation


def test_detail_shows_what_was_typed_beside_what_was_understood(staff, svc):
    p = complete_intake(svc, "+13235550121", "Hi my name is Dana", {"age_range": "I'm 23", "employment": "got laid off"})
    page = staff.get(f"/admin/intakes/{intake_id_of(p)}").get_data(as_text=True)
    assert "18 to 24<br><small class=\"muted\">typed: “I&#39;m 23”</small>" in page
    assert "typed: “got laid off”" in page
    assert "typed: “Hi my name is Dana”" in page
    assert "typed: “1,2”" not in page  # an option's number says nothing more


def test_detail_shows_rules_matches_with_score_parts_and_other_people_on_the_phone(staff, svc):
    first = complete_intake(svc, "+13235550130", "Maria", start=NOV)
    first.says("NEW")
    first.answer_until("gender", {"first_name": "Jose", "zip": "90011", "age_range": "3", "sectors": "1",
                                  "background": "4", "needs": "7"})
    second_id = intake_id_of(first)
    page = staff.get(f"/admin/intakes/{second_id}").get_data(as_text=True)
    assert "Other intakes from this phone" in page and "Maria" in page
    assert "<code>age_16_plus</code>" in page and "r-pass" in page
    assert re.search(r"score [\d.]+", page) and "sector: " in page


def test_every_view_of_personal_data_is_audited(staff, svc):
    maria, _, _ = people(svc)
    staff.get("/admin/intakes?q=mar")
    staff.get(f"/admin/intakes/{maria}")
    staff.get("/admin/intakes?q=(323) 555-0101&language=en")
    with svc.db.session() as s:
        rows = list(s.scalars(select(AuditLog).where(AuditLog.action.in_(("list", "view"))).order_by(AuditLog.id)))
    assert [(r.action, r.username) for r in rows] == [("list", "sam"), ("view", "sam"), ("list", "sam")]
    # That a search happened and of which kind, with the other filters; never the words or digits searched for.
    assert rows[0].detail["filters"] == {"q": "(name)"} and rows[0].detail["shown"] == [maria]
    assert rows[1].target_id == str(maria)
    assert rows[2].detail["filters"] == {"q": "(phone digits)", "language": "en"}
    assert "mar" not in str(rows[0].detail) and "0101" not in str(rows[2].detail)


def test_unknown_intake_is_404(staff):
    assert staff.get("/admin/intakes/999").status_code == 404


def test_export_is_the_filtered_list_as_csv_and_is_audited(staff, svc):
    maria, kim, luis = people(svc)
    r = staff.get("/admin/intakes/export.csv?sector=healthcare")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    lines = r.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("intake_id,") and len(lines) == 2 and lines[1].startswith(f"{kim},")
    with svc.db.session() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "export"))
    assert entry.detail == {"filters": {"sector": "healthcare"}, "format": "csv"}
