"""requirements.lock pins every dependency pyproject.toml names, within its range."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        if m:
            pins[canonicalize_name(m.group(1).split("[")[0])] = m.group(2)
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        names += extra
    return [Requirement(r) for r in names]


def test_every_dependency_is_pinned_inside_its_range() -> None:
    pins = _pins()
    problems = []
    for req in _requirements():
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None:
            problems.append(f"{req.name}: not in requirements.lock")
        elif not req.specifier.contains(pinned, prereleases=True):
            problems.append(f"{req.name}=={pinned} is outside {req.specifier}")
    assert not problems, "refresh the lock (README, Dependencies): " + "; ".join(problems)


def test_the_installed_versions_are_the_pinned_ones() -> None:
    from importlib.metadata import PackageNotFoundError, version
    pins = _pins()
    wrong = []
    for req in _requirements():
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            continue  # an extra this environment did not install
        if pins.get(canonicalize_name(req.name)) not in (None, installed):
            wrong.append(f"{req.name} {installed} (lock says {pins[canonicalize_name(req.name)]})")
    assert not wrong, "this .venv was not installed from requirements.lock: " + "; ".join(wrong)
