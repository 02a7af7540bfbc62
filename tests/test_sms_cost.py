"""SMS cost control: plain letters on SMS where a language allows them, and the monthly segment budget."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from intake_flows.schema import load_languages
from intake_flows.text import Msg

from bot.budget import month_bounds, segment_budget_status, segments_this_month
from bot.messages import Reply
from bot.models import Answer, Contact, Message
from bot.render import render
from bot.service import IntakeService, Settings
from bot.sms import encoding_of, plain_tables
from tests.transcript import Person
from webhook.cli_i18n import i18n_group

ACUTE = set("áíóúÁÍÓÚ")
ANSWERS = {"consent": "sí", "first_name": "Martín", "zip": "90011", "age_range": "25 a 54", "employment": "no trabajo",
           "sectors": "construcción, salud", "education": "diploma de high school o GED", "drivers_license": "sí",
           "housing": "amigos", "background": "ninguno de estos", "needs": "transporte",
           "program_choice": "hablar primero con una persona", "gender": "mujer", "race_ethnicity": "latino"}


def spanish_intake(service: IntakeService, channel: str = "sms", phone: str = "+13235550311") -> tuple[Person, list[str], int]:
    """A Spanish speaker who says "Hola" and answers every question; what the bot sent and its segments."""
    person = Person(service, phone, channel)
    sent: list[str] = []
    segments = 0
    result = person.send("Hola")
    for _ in range(40):
        sent += [m.text for m in result.messages]
        segments += sum(m.segments for m in result.messages)
        if person.asked is None:
            break
        result = person.send(ANSWERS.get(person.asked, "1"))
    return person, sent, segments


def plain_service(db, runtime) -> IntakeService:
    return IntakeService(db, runtime, Settings(sms_plain_languages=frozenset({"es"})))


# ---- the letters ----------------------------------------------------------------------------

def test_every_plain_letter_leaves_gsm7_for_gsm7() -> None:
    for lang in load_languages():
        for letter, plain in lang.sms_plain.items():
            assert encoding_of(letter) == "UCS-2" and encoding_of(plain) == "GSM-7", (lang.id, letter)


def test_spanish_keeps_the_letters_gsm7_already_has() -> None:
    es = next(lang for lang in load_languages() if lang.id == "es")
    assert set(es.sms_plain) == ACUTE  # é, ñ, ü, ¿, ¡ cost nothing: the table leaves them alone
    assert "¿Cuántos años tiene? Señor, ¡ánimo! Él".translate(plain_tables([es], ["es"])["es"]) == \
        "¿Cuantos años tiene? Señor, ¡animo! Él"


def test_a_language_without_plain_letters_or_unknown_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'vi' has no sms_plain"):
        plain_tables(load_languages(), ["vi"])
    with pytest.raises(ValueError, match="unknown language 'xx'"):
        plain_tables(load_languages(), ["xx"])


def test_the_setting_reaches_the_service_from_the_environment(monkeypatch, tmp_path, runtime) -> None:
    from webhook import create_app

    monkeypatch.setenv("SMS_PLAIN_LANGUAGES", " es, ")
    monkeypatch.setenv("SMS_SEGMENT_BUDGET", "5000")
    from webhook.config import from_env

    config = from_env(str(tmp_path))
    assert config["SMS_PLAIN_LANGUAGES"] == " es, " and config["SMS_SEGMENT_BUDGET"] == 5000
    from bot.migrate import fresh_sqlite

    app = create_app({**config, "TESTING": True, "RUNTIME": runtime,
                      "DATABASE_URL": fresh_sqlite(tmp_path / "env.db")})
    svc = app.extensions["hrtp"]
    assert svc.settings.sms_plain_languages == {"es"} and svc.settings.sms_segment_budget == 5000
    assert set(svc.sms_plain) == {"es"}


# ---- rendering ------------------------------------------------------------------------------

def test_off_by_default_spanish_sms_keeps_its_accents(service) -> None:
    _, sent, _ = spanish_intake(service)
    assert ACUTE & set("".join(sent))


def test_plain_spanish_sms_costs_fewer_segments_and_says_the_same(db, runtime, service) -> None:
    _, written, written_segments = spanish_intake(service)
    _, plain, plain_segments = spanish_intake(plain_service(db, runtime), phone="+13235550313")
    assert not ACUTE & set("".join(plain))
    table = plain_tables(runtime.bundle.languages, ["es"])["es"]
    # The same words; fewer messages, as plain text fits more in each.
    assert " ".join(written).translate(table).split() == " ".join(plain).split() and len(plain) < len(written)
    assert plain_segments < written_segments * 0.7, (plain_segments, written_segments)


def test_plain_letters_are_only_what_is_sent_never_what_is_stored(db, runtime) -> None:
    svc = plain_service(db, runtime)
    person, sent, _ = spanish_intake(svc)
    with svc.db.session() as s:
        contact = s.scalar(select(Contact).where(Contact.address == person.phone))
        name = s.scalar(select(Answer.value).where(Answer.field == "first_name"))
        inbound = s.scalars(select(Message.text).where(Message.direction == "in")).all()
        outbound = s.scalars(select(Message).where(Message.direction == "out", Message.contact_id == contact.id)).all()
    assert name == "Martín" and "construcción, salud" in inbound
    assert [m.text for m in outbound] == sent and not ACUTE & set("".join(sent))
    assert sum(m.segments for m in outbound if m.encoding == "GSM-7") > 0


@pytest.mark.parametrize("channel", ["whatsapp", "telegram", "web"])
def test_other_channels_keep_the_accents_with_the_setting_on(runtime, channel) -> None:
    tables = plain_tables(runtime.bundle.languages, ["es"])
    reply = Reply(text=(Msg("Thanks, %(name)s. What is your ZIP code?", {"name": "Martín"}),), lang="es")
    shown = render([reply], runtime.i18n, channel, plain=tables)
    assert shown == render([reply], runtime.i18n, channel)
    [sms] = render([reply], runtime.i18n, "sms", plain=tables)
    assert "Martin" in sms.text and sms.encoding == "GSM-7"


def test_whatsapp_intake_is_unchanged_with_the_setting_on(db, runtime) -> None:
    _, sent, _ = spanish_intake(plain_service(db, runtime), "whatsapp")
    assert ACUTE & set("".join(sent))


def test_another_language_is_untouched_when_spanish_is_plain(db, runtime) -> None:
    svc = plain_service(db, runtime)
    vi = Person(svc, "+13235550312")
    text = vi.says("Xin chào")
    assert encoding_of(text) == "UCS-2" and any(ch in text for ch in "ạảđ")


# ---- the segment report ---------------------------------------------------------------------

def test_segment_report_shows_both_figures(runtime) -> None:
    result = CliRunner().invoke(i18n_group, ["segments", "--lang", "es", "--lang", "en"])
    assert result.exit_code == 0, result.output
    # Found by what they start with: a logging handler an earlier test left in this process may write log
    # lines into the same captured output.
    lines = result.stdout.splitlines()
    head, es, en = (next(line for line in lines if line.startswith(start)) for start in ("language ", "es ", "en "))
    assert "total seg" in head and "plain seg" in head
    es_total, es_plain = (int(x) for x in es.split()[4:6])
    assert es_plain < es_total * 0.7
    assert en.split()[5] == "-"
    table = CliRunner().invoke(i18n_group, ["segments", "--lang", "es", "--markdown"]).stdout
    assert any(line.startswith("| language |") and "| plain (SMS_PLAIN_LANGUAGES) |" in line for line in table.splitlines())
    assert f"| {es_total} | {es_plain} |" in table


# ---- the monthly budget ---------------------------------------------------------------------

def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def sent(svc: IntakeService, at: datetime, segments: int, channel: str = "sms", direction: str = "out") -> None:
    """One stored message of `segments` at `at` (UTC)."""
    with svc.db.writing() as s:
        contact = s.scalar(select(Contact).where(Contact.channel == channel)) or Contact(channel=channel, address="+13235550399")
        s.add(contact)
        s.flush()
        s.add(Message(contact_id=contact.id, direction=direction, channel=channel, text="x", segments=segments,
                      encoding="GSM-7", status="delivered", created_at=at))


def test_months_are_county_months(service) -> None:
    # 23:59 on 30 November in Los Angeles is 07:59 UTC on 1 December: still November's budget.
    sent(service, utc(2026, 12, 1, 7, 59), 5)
    sent(service, utc(2026, 12, 1, 8, 0), 7)  # midnight, 1 December, PST
    sent(service, utc(2026, 12, 31, 23, 0), 11)  # 15:00 on 31 December in LA
    sent(service, utc(2027, 1, 1, 8, 0), 13)  # midnight, 1 January, PST
    with service.db.session() as s:
        assert segments_this_month(s, utc(2026, 12, 1, 7, 0)) == 5
        assert segments_this_month(s, utc(2026, 12, 1, 8, 0)) == 7 + 11
        assert segments_this_month(s, utc(2027, 1, 1, 7, 59)) == 7 + 11  # still 31 December in LA
        assert segments_this_month(s, utc(2027, 1, 1, 8, 0)) == 13


def test_a_summer_month_starts_at_midnight_pacific_daylight_time(service) -> None:
    start, end = month_bounds(utc(2026, 7, 15, 12, 0))
    assert start.astimezone(UTC) == utc(2026, 7, 1, 7, 0) and end.astimezone(UTC) == utc(2026, 8, 1, 7, 0)
    # November begins in daylight time and ends in standard time.
    start, end = month_bounds(utc(2026, 11, 15))
    assert start.astimezone(UTC) == utc(2026, 11, 1, 7, 0) and end.astimezone(UTC) == utc(2026, 12, 1, 8, 0)


def test_only_outbound_sms_counts(service) -> None:
    sent(service, utc(2026, 12, 10), 3)
    sent(service, utc(2026, 12, 10), 4, direction="in")
    sent(service, utc(2026, 12, 10), 5, channel="whatsapp")
    with service.db.session() as s:
        assert segments_this_month(s, utc(2026, 12, 15)) == 3


@pytest.mark.parametrize(("used", "warn", "exhausted"), [(79, False, False), (80, True, False), (99, True, False),
                                                          (100, True, True), (130, True, True)])
def test_budget_status_warns_at_80_and_is_exhausted_at_100(service, used, warn, exhausted) -> None:
    sent(service, utc(2026, 12, 10), used)
    with service.db.session() as s:
        status = segment_budget_status(s, Settings(sms_segment_budget=100), utc(2026, 12, 15))
    assert (status.used, status.budget, status.share, status.warn, status.exhausted) == (used, 100, used / 100, warn, exhausted)


def test_no_budget_never_stops_anything(service) -> None:
    sent(service, utc(2026, 12, 10), 10**6)
    with service.db.session() as s:
        status = segment_budget_status(s, Settings(), utc(2026, 12, 15))
    assert status.used == 10**6 and status.share is None and not status.warn and not status.exhausted


def test_replies_go_out_when_the_budget_is_spent(db, runtime) -> None:
    svc = IntakeService(db, runtime, Settings(sms_segment_budget=1))
    person = Person(svc, "+13235550314")
    assert person.says("Hi") and person.says("Hello")
    with svc.db.session() as s:
        assert segment_budget_status(s, svc.settings, person.now).exhausted
