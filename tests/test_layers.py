"""Dependencies point one way: intake_flows <- bot <- webhook; the inner layers do no web or network I/O.

Developer tools (devtools/) sit beside webhook: the runtime layers never import them."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "intake_flows": {"bot", "webhook", "devtools", "flask", "sqlalchemy", "twilio", "telegram", "requests", "httpx",
                     "werkzeug"},
    "bot": {"webhook", "devtools", "flask", "twilio", "telegram", "requests", "httpx", "werkzeug", "urllib.request",
            "socket", "babel.messages.frontend"},
    "devtools": {"webhook", "flask", "twilio", "telegram", "requests", "httpx"},
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


def test_the_web_layer_loads_developer_tools_only_inside_the_commands_that_use_them():
    offenders = []
    for path in sorted((ROOT / "webhook").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "devtools" or \
                    isinstance(node, ast.Import) and any(a.name.split(".")[0] == "devtools" for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def test_importing_every_module_hashes_no_password():
    # scrypt at import (a dummy hash for unknown usernames) slowed every process start, the CLI's included.
    code = """
import importlib, pkgutil, werkzeug.security
def refuse(*a, **k):
    raise AssertionError("a password was hashed at import")
werkzeug.security.generate_password_hash = refuse
import bot, webhook, devtools
for pkg in (bot, webhook, devtools):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if ".migrations" not in info.name:
            importlib.import_module(info.name)
print("clean")
"""
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "clean", run.stderr[-2000:]
