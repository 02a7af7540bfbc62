"""CSV cells a spreadsheet shows as text and never runs as a formula (OWASP's CSV injection rule)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain number (an E.164 phone number, a negative count) computes nothing, so it stays as it is.
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def safe_cell(value: Any) -> Any:
    """One value as a CSV cell: lists joined by ";", None empty, a formula-like string quoted with a leading '."""
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]
