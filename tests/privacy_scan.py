"""Looks for a person in every text and JSON column of every table, to prove an erasure left nothing."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import JSON, String, Text, select

from bot.db import Database
from bot.models import Base


def traces(db: Database, needles: Iterable[str]) -> Counter[tuple[str, str, str]]:
    """How many values in each (table, column) contain each needle, case-insensitively."""
    wanted = [n.lower() for n in needles]
    found: Counter[tuple[str, str, str]] = Counter()
    with db.session() as s:
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
            if not cols:
                continue
            for row in s.execute(select(*cols)):
                for col, value in zip(cols, row, strict=True):
                    if value is None:
                        continue
                    text = (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)).lower()
                    for n in wanted:
                        if n in text:
                            found[table.name, col.name, n] += 1
    return found


def left_behind(db: Database, needles: Iterable[str], before: Counter[tuple[str, str, str]]) -> dict:
    """The traces found now that were not there before the person arrived (the catalog names veterans too)."""
    now = traces(db, needles)
    return {k: n for k, n in now.items() if n > before.get(k, 0)}
