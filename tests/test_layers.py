"""Dependencies point one way: intake_flows <- bot <- webhook; the inner layers do no web or network I/O."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "intake_flows": {"bot", "webhook", "flask", "sqlalchemy", "twilio", "telegram", "requests", "httpx", "werkzeug"},
    "bot": {"webhook", "flask", "twilio", "telegram", "requests", "httpx", "werkzeug", "urllib.request", "socket"},
}

# Pure helpers that happen to live in a web package: password hashing does no I/O.
ALLOWED = {"werkzeug.security"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_inner_layers_do_not_import_outer_layers_or_io_libraries(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imports(path):
            if name in ALLOWED:
                continue
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package]):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders
