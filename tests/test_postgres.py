"""The same conversations, de-duplication and concurrency on PostgreSQL: no SQLite-only SQL."""

from __future__ import annotations

import threading
from datetime import UTC

from sqlalchemy import func, select

from bot.export import export_csv
from bot.messages import InboundMessage
from bot.models import Answer, Intake, Message
from bot.service import IntakeService
from tests.transcript import Person


def test_a_whole_intake_new_and_delete_on_postgres(pg_db, runtime):
    service = IntakeService(pg_db, runtime)
    p = Person(service, "+13235550301")
    p.says("Hola")
    p.answer_until("gender", {"consent": "si", "first_name": "Ana", "zip": "90011", "age_range": "4",
                              "sectors": "1,2", "background": "2", "needs": "1"})
    with pg_db.session() as s:
        intake = s.scalars(select(Intake)).one()
        assert (intake.status, intake.eligibility, intake.language) == ("completed", "eligible", "es")
    ana = intake.id
    p.says("NEW")
    p.answer_until("first_name", {"language": "1", "consent": "yes"})
    second = p.last.intake_id
    # A phone shared by NEW: DELETE erases the person in progress, never the other one (bot.assisted).
    assert "The other people's intakes are kept" in p.says("DELETE")
    assert "erased" in p.says("yes")
    with pg_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Answer).where(Answer.intake_id == second)) == 0
        assert s.scalar(select(Answer.value).where(Answer.intake_id == ana, Answer.field == "first_name")) == "Ana"
    assert "intake_id" in next(iter(export_csv(pg_db)))


def test_duplicates_and_simultaneous_messages_on_postgres(pg_db, runtime):
    service = IntakeService(pg_db, runtime)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def send(text: str, sid: str, phone: str) -> None:
        barrier.wait()
        try:
            service.handle(InboundMessage("sms", phone, text, sid))
        except BaseException as exc:  # noqa: BLE001  a thread's failure, whatever it is, is surfaced below
            errors.append(exc)

    # Four deliveries of one new person's first message, and two first messages from another.
    jobs = [("Hi", "SMdup", "+13235550302")] * 4 + [("Hi", "SMa", "+13235550303"), ("Hola", "SMb", "+13235550303")]
    threads = [threading.Thread(target=send, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with pg_db.session() as s:
        inbound = s.execute(select(Message.provider_id, func.count()).where(Message.direction == "in")
                            .group_by(Message.provider_id)).all()
        assert dict(inbound) == {"SMdup": 1, "SMa": 1, "SMb": 1}
        assert s.scalar(select(func.count()).select_from(Intake)) == 2


def test_delete_leaves_nothing_behind_on_postgres(pg_db, runtime):
    from bot.accounts import create_user
    from bot.audit import audit
    from bot.workflow import add_note
    from tests.admin.helpers import complete_intake, intake_id_of
    from tests.privacy_scan import left_behind, traces

    service = IntakeService(pg_db, runtime)
    Person(service, "+13235550399").says("Hi")  # seeds the catalog before the baseline
    needles = ("Zelda", "90744", "3105550042", "555-0042", "shelter")
    before = traces(pg_db, needles)
    p = complete_intake(service, "+13105550042", "Zelda", {"zip": "90744", "housing": "4"})
    with pg_db.writing() as s:
        sam = create_user(s, "sam", "a long password", "staff")
        audit(s, sam, "list", "intakes", None, {"filters": {"q": "zel"}, "shown": [intake_id_of(p)]})
        audit(s, sam, "list", "intakes", None, {"filters": {"q": "555-0042"}})
        add_note(s, s.get(Intake, intake_id_of(p)), sam, "Zelda lives in a shelter", p.now)
    p.says("DELETE")
    assert "erased" in p.says("yes")
    assert left_behind(pg_db, needles, before) == {}
    with pg_db.session() as s:
        from bot.models import AuditLog

        terms = [a.detail["filters"]["q"] for a in s.scalars(select(AuditLog).where(AuditLog.action == "list"))]
        assert terms == ["(erased)", "(erased)"]


def test_retention_purge_on_postgres(pg_db, runtime):
    from datetime import datetime, timedelta

    from bot.privacy import purge

    service = IntakeService(pg_db, runtime)
    now = datetime.now(UTC)
    old = Person(service, "+13235550391", start=now - timedelta(days=200))
    old.says("Hi")
    old.answer_until("zip", {"language": "1", "consent": "yes", "first_name": "Olga"})
    Person(service, "+13235550392", start=now - timedelta(days=1)).says("Hi")
    assert (purge(pg_db, now, 180, dry_run=True).intakes, purge(pg_db, now, 180).intakes) == (1, 1)
    with pg_db.session() as s:
        assert sorted(s.scalars(select(Intake.status))) == ["erased", "incomplete"]
        assert s.scalars(select(Intake.first_name).where(Intake.status == "erased")).all() == [None]


def test_a_turn_carries_on_after_the_server_drops_every_connection(pg_db, runtime, postgres_url):
    """Connections are not pinged before use (bot.db): one found dead fails its first statement, and the turn is
    tried again on a fresh pool, the person never the wiser."""
    from sqlalchemy import create_engine, text

    service = IntakeService(pg_db, runtime)
    p = Person(service, "+13235550311")
    p.says("Hi")
    threads = [threading.Thread(target=lambda n=n: Person(service, f"+1323555032{n}").says("Hi")) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()  # several connections now wait in the pool
    killer = create_engine(postgres_url)
    with killer.connect() as conn:  # what a restart or a failover does to every pooled connection
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    killer.dispose()
    assert killed >= 1
    asked = p.asked
    assert p.says("1") and p.asked != asked  # answered and moved on, on a new connection
    others = [Person(service, f"+1323555033{n}") for n in range(4)]
    assert all(o.says("Hi") for o in others)  # the other dead ones were dropped with the pool, not met one by one
    with pg_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 10
