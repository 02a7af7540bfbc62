"""Everything a database says about its schema, as plain data two databases can be compared by."""

from __future__ import annotations

import re
import warnings
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

VERSION_TABLE = "alembic_version"


def _sql(statement: str | None) -> str:
    """SQLite keeps DDL as typed: the same table or index with other spacing, quoting or constraint order is the same."""
    sql = re.sub(r"\s+", " ", (statement or "").replace('"', "")).strip()
    if not sql.startswith("CREATE TABLE"):
        return sql
    head, body = sql.split("(", 1)
    parts, depth, part = [], 0, ""
    for ch in body.rsplit(")", 1)[0]:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(part.strip())
            part = ""
        else:
            part += ch
    parts.append(part.strip())
    columns = [p for p in parts if not p.startswith("CONSTRAINT")]
    return f"{head.strip()} ({', '.join(columns + sorted(set(parts) - set(columns)))})"


def snapshot(engine: Engine) -> dict[str, Any]:
    """Tables with their columns, keys, constraints and indexes, plus the index DDL the database itself keeps."""
    insp = inspect(engine)
    tables: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLite's reflection cannot read expression indexes; the DDL below does
        for name in sorted(set(insp.get_table_names()) - {VERSION_TABLE}):
            tables[name] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default"), c.get("comment"))
                            for c in insp.get_columns(name)],
                "primary_key": (insp.get_pk_constraint(name).get("name"),
                                tuple(insp.get_pk_constraint(name)["constrained_columns"])),
                "foreign_keys": sorted((fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"],
                                        tuple(fk["referred_columns"]), tuple(sorted(fk["options"].items())))
                                       for fk in insp.get_foreign_keys(name)),
                "unique": sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(name)),
                "checks": sorted((c["name"], c["sqltext"]) for c in insp.get_check_constraints(name)),
                "indexes": sorted((i["name"], tuple(str(c) for c in i["column_names"]), bool(i["unique"]),
                                   tuple(str(e) for e in i.get("expressions") or ()))
                                  for i in insp.get_indexes(name)),
            }
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            ddl = {f"{row.type} {row.name}": _sql(row.sql) for row in conn.execute(text(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"))}
        else:
            ddl = {row.indexname: row.indexdef for row in conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"))}
            ddl |= {f"constraint {row.conname}": row.definition for row in conn.execute(text(
                "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
                "WHERE connamespace = current_schema()::regnamespace"))}
            ddl |= {f"sequence {row.sequencename}": (row.data_type, row.start_value, row.increment_by)
                    for row in conn.execute(text("SELECT sequencename, data_type::text, start_value, increment_by "
                                                 "FROM pg_sequences WHERE schemaname = current_schema()"))}
    ddl = {k: v for k, v in ddl.items() if VERSION_TABLE not in k}
    return {"tables": tables, "ddl": ddl}


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between two snapshots, one line per table part or DDL entry."""
    out = []
    for name in sorted(set(a["tables"]) | set(b["tables"])):
        ta, tb = a["tables"].get(name), b["tables"].get(name)
        if ta is None or tb is None:
            out.append(f"table {name}: only in {'the second' if ta is None else 'the first'}")
            continue
        out += [f"table {name} {part}: {ta[part]!r} != {tb[part]!r}" for part in ta if ta[part] != tb[part]]
    for key in sorted(set(a["ddl"]) | set(b["ddl"])):
        if a["ddl"].get(key) != b["ddl"].get(key):
            out.append(f"{key}: {a['ddl'].get(key)!r} != {b['ddl'].get(key)!r}")
    return out
