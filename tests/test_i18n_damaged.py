"""A damaged catalog is reported by the checker, never a crash: whatever the parsers raise on bad bytes is caught."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from intake_flows.schema import load_keywords

from bot.i18n import compile_catalogs
from devtools import i18n_check as ic

KEYWORDS = load_keywords()
MSGIDS = ["Yes", "No", "Hello %(name)s.", ("%(n)s program", "%(n)s programs")]
PO = '''# Test catalog.
# Drafted translations await review by a qualified translator.
msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\\n"
"Language: es_US\\n"
"Plural-Forms: {plural}\\n"

msgid "Yes"
msgstr "Sí"

msgid "No"
msgstr "No"

msgid "Hello %(name)s."
msgstr "Hola, %(name)s."

msgid "%(n)s program"
msgid_plural "%(n)s programs"
msgstr[0] "%(n)s programa"
msgstr[1] "%(n)s de programas"
msgstr[2] "%(n)s programas"
'''


def _template() -> Catalog:
    cat = Catalog(project="HRTP Intake")
    for m in MSGIDS:
        cat.add(m)
    return cat


def _damaged(data: bytes, rnd: random.Random) -> bytes:
    """Some bytes changed, cut out or slipped in, and now and then the file cut short, as a bad copy leaves it."""
    b = bytearray(data)
    for _ in range(rnd.choice((1, 2, 5, 20))):
        i = rnd.randrange(len(b)) if b else 0
        op = rnd.random()
        if op < 0.4 and b:
            b[i] = rnd.randrange(256)
        elif op < 0.7:
            del b[i:i + rnd.randrange(1, 40)]
        else:
            b[i:i] = rnd.randbytes(rnd.randrange(1, 10))
    if rnd.random() < 0.1:
        del b[rnd.randrange(len(b) + 1):]
    return bytes(b)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    from babel.messages.plurals import get_plural

    path = tmp_path / "es" / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True)
    path.write_text(PO.format(plural=get_plural("es_US").plural_forms), encoding="utf-8")
    compile_catalogs(tmp_path)
    assert ic.check_catalog("es", path, _template(), KEYWORDS) == []
    return path


def test_a_damaged_po_is_reported(good: Path) -> None:
    rnd, original, kinds = random.Random(11), good.read_bytes(), set()
    for _ in range(300):
        good.write_bytes(_damaged(original, rnd))
        good.with_suffix(".mo").unlink(missing_ok=True)  # the .po alone: a stale .mo is another check
        kinds.update(p.kind for p in ic.check_catalog("es", good, _template(), KEYWORDS))
    assert "load" in kinds, kinds


def test_a_damaged_mo_is_reported(good: Path) -> None:
    mo = good.with_suffix(".mo")
    rnd, original, kinds = random.Random(12), mo.read_bytes(), set()
    for _ in range(300):
        mo.write_bytes(_damaged(original, rnd))
        kinds.update(p.kind for p in ic.check_compiled("es", good))
    assert kinds == {"stale_mo"}, kinds
