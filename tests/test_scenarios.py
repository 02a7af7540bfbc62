"""Every scenario under tests/scenarios runs through the real engine and store, and meets its `expect`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.db import Database
from bot.migrate import fresh_sqlite
from bot.service import IntakeService
from bot.simulate import Runner, load_scenario

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path, runtime, tmp_path: Path) -> None:
    db = Database(fresh_sqlite(tmp_path / "scenario.db"))
    try:
        result = Runner(IntakeService(db, runtime), load_scenario(path)).run()
    finally:
        db.dispose()
    transcript = "\n".join(f"{t['from']}> {t['text']}" for t in result.transcript)
    assert result.ok, f"{path.name}: {result.failures}\n{transcript}"
