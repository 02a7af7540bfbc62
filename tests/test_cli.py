"""The hrtp-intake commands as a newcomer and staff would run them."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC
from pathlib import Path

import yaml
from click.testing import CliRunner

from bot.migrate import fresh_sqlite
from webhook.cli import main

SCENARIO = Path(__file__).parent / "scenarios" / "outreach_spanish_construction.yaml"


def run(args, env, input=None):
    result = CliRunner().invoke(main, args, env=env, input=input, catch_exceptions=False)
    return result


def env_for(tmp_path: Path) -> dict[str, str]:
    """A migrated database, as `./run.sh` (or a deploy's `hrtp-intake db upgrade`) leaves it."""
    return {"DATABASE_URL": fresh_sqlite(tmp_path / "cli.db"), "SECRET_KEY": "x"}


def test_simulate_json_reports_the_outcome_as_design_md_specifies(tmp_path):
    result = run(["simulate", str(SCENARIO), "--json"], env_for(tmp_path))
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) >= {"status", "intake", "transcript", "stats"}
    assert set(out["intake"]) >= {"id", "channel", "language", "referral_code", "answers", "eligibility", "priority", "matches"}
    assert set(out["intake"]["eligibility"]) == {"status", "reasons"}
    assert all(set(r) == {"rule", "result", "text"} for r in out["intake"]["eligibility"]["reasons"])
    assert set(out["intake"]["priority"]) == {"is_priority", "categories"}
    assert all(set(t) == {"from", "text", "segments", "encoding"} for t in out["transcript"])
    assert set(out["stats"]) == {"person_messages", "bot_messages", "segments"}
    assert out["status"] == "completed" and out["intake"]["referral_code"] == "EASTLA1"


def test_simulate_fails_naming_a_field_the_scenario_does_not_answer(tmp_path):
    path = tmp_path / "short.yaml"
    path.write_text("name: stops early\nstart: Hi\nanswers:\n  language: '1'\n  consent: 'yes'\n", encoding="utf-8")
    result = run(["simulate", str(path)], env_for(tmp_path))
    assert result.exit_code == 1
    assert "no answer for field first_name" in result.output


def test_simulate_fails_as_not_understood_when_a_field_is_asked_again_and_again(tmp_path):
    path = tmp_path / "confused.yaml"
    path.write_text("name: confused\nstart: Hi\nanswers:\n  language: '1'\n  consent: 'maybe'\n", encoding="utf-8")
    result = run(["simulate", str(path), "--json"], env_for(tmp_path))
    assert result.exit_code == 1
    assert "not understood: consent" in json.loads(result.output)["failures"][0]


def test_simulate_reports_a_malformed_scenario(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nanswrs: {}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["simulate", str(path)], env=env_for(tmp_path))
    assert result.exit_code != 0 and "bad.yaml" in result.output


def test_chat_in_the_terminal(tmp_path):
    result = run(["chat", "--from", "+13105550100"], env_for(tmp_path), input="Hi\nyes\nSam\n")
    assert result.exit_code == 0
    assert "Text LANGUAGE any time" in result.output and "Do you agree" in result.output
    assert "ZIP code" in result.output
    assert "segment" in result.output


def test_export_csv_and_jsonl_stream_complete_and_partial_intakes(tmp_path):
    env = env_for(tmp_path)
    # People answering by field (scenarios into the same database): one stops at the ZIP, one finishes.
    partial = {"name": "stops at the ZIP", "from": "+13105550101", "start": "Hi",
               "answers": {"consent": "yes", "first_name": '=HYPERLINK("x")'}}
    complete = {"name": "finishes", "from": "+13105550102", "start": "Hola", "otherwise": "SKIP",
                "answers": {"consent": "si", "first_name": "Ana", "zip": "90011", "age_range": "4", "employment": "1",
                            "sectors": "1", "education": "2", "drivers_license": "1", "housing": "1", "veteran": "no",
                            "justice_involved": "no", "public_assistance": "no", "needs": "7"}}
    for doc in (partial, complete):
        path = tmp_path / f"{doc['from']}.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        run(["simulate", str(path), "--database", env["DATABASE_URL"]], env)
    result = run(["export", "--format", "csv"], env)
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 2
    by_contact = {r["contact"]: r for r in rows}
    partial, complete = by_contact["+13105550101"], by_contact["+13105550102"]
    assert partial["status"] == "incomplete" and partial["last_step"] == "zip"
    assert partial["answer_first_name"].startswith("'=")  # no spreadsheet formula injection
    assert complete["status"] == "completed" and complete["eligibility"] == "eligible"
    assert complete["answer_sectors"] == "construction" and complete["language"] == "es"
    lines = run(["export", "--format", "jsonl", "--since", "2000-01-01"], env).output.splitlines()
    assert [json.loads(line)["contact"] for line in lines] == ["+13105550101", "+13105550102"]
    assert run(["export", "--format", "jsonl", "--since", "2999-01-01"], env).output == ""


def test_add_referral_code(tmp_path):
    env = env_for(tmp_path)
    assert "JOIN EASTLA1" in run(["add-referral-code", "eastla1", "--org", "East LA WorkSource"], env).output
    run(["chat", "--from", "+13105550103"], env, input="join EastLA1\n")
    rec = json.loads(run(["export", "--format", "jsonl"], env).output)
    assert (rec["referral_code"], rec["referral_known"]) == ("EASTLA1", True)


def test_purge_erases_incomplete_intakes_idle_past_retention_and_reports_counts(tmp_path, runtime):
    from datetime import datetime, timedelta

    from sqlalchemy import select

    from bot.accounts import create_user
    from bot.db import Database
    from bot.models import Intake
    from bot.service import IntakeService
    from bot.workflow import add_note
    from tests.admin.helpers import complete_intake
    from tests.transcript import Person

    env = env_for(tmp_path)
    db = Database(env["DATABASE_URL"])
    service = IntakeService(db, runtime)
    now = datetime.now(UTC)
    old = now - timedelta(days=200)

    def started(phone: str, name: str, at: datetime) -> int:
        p = Person(service, phone, start=at)
        p.says("Hi")
        p.answer_until("zip", {"language": "1", "consent": "yes", "first_name": name})
        assert p.last is not None and p.last.intake_id is not None
        return p.last.intake_id

    idle = started("+13235550401", "Olga", old)
    worked = started("+13235550402", "Pia", old)
    recent = started("+13235550403", "Rhea", now - timedelta(days=10))
    finished = complete_intake(service, "+13235550404", "Sara", start=old).last.intake_id
    with db.writing() as s:
        sam = create_user(s, "sam", "a long password", "staff")
        add_note(s, s.get(Intake, worked), sam, "Called Pia, she will finish by phone", now - timedelta(days=3))

    dry = run(["purge", "--dry-run"], env)
    assert dry.exit_code == 0, dry.output
    assert "Would erase 1 incomplete intake idle since before" in dry.output and "(180 days)" in dry.output
    assert "1 contact left with nothing else; nothing was changed" in dry.output
    with db.session() as s:
        assert s.get(Intake, idle).first_name == "Olga"

    done = run(["purge"], env)
    assert "Erased 1 incomplete intake" in done.output
    with db.session() as s:
        statuses = dict(s.execute(select(Intake.id, Intake.status)).all())
        assert s.get(Intake, idle).first_name is None
    assert statuses == {idle: "erased", worked: "incomplete", recent: "incomplete", finished: "completed"}
    assert "Erased 0 incomplete intakes" in run(["purge"], env).output
    # A shorter retention, from the environment, reaches the recent one too.
    assert "Erased 1 incomplete intake" in run(["purge"], {**env, "RETENTION_DAYS": "5"}).output
    db.dispose()


def test_version_prints_the_applications_version_from_its_metadata():
    import tomllib

    declared = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["version"]
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output == f"hrtp-intake {declared}\n"
