"""The ZIP -> need-tier table behind the `priority_area` category: CSV parsing and validation, no I/O.

Format (UTF-8 CSV, one row per ZIP; lines starting with `#` are comments):

    zip,tier,source
    90011,highest,COVID-19 Vulnerability and Recovery Index 2021
    91302,lowest,

- `zip`: a 5-digit ZIP code (a leading zero lost by a spreadsheet, such as `1234`, is an error).
- `tier`: one of highest, high, moderate, low, lowest, or the numbers 1 (highest need) to 5
  (lowest need), the five need tiers of the COVID-19 Vulnerability and Recovery Index.
  Moderate, high and highest count as a priority area.
- `source` (optional): where the row's tier comes from, shown to staff.
- A comment line `# status: sample` marks a file as sample data; `hrtp-intake load-areas`
  refuses it unless told `--allow-sample`, so invented tiers never pass for the county's own.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from intake_flows import geo
from intake_flows.spreadsheet import safe_row

TIERS = ("highest", "high", "moderate", "low", "lowest")
PRIORITY_TIERS = ("highest", "high", "moderate")
_NUMBERED = {str(i): t for i, t in enumerate(TIERS, 1)}
_SAMPLE = re.compile(r"^#\s*status\s*:\s*sample\b", re.IGNORECASE)


class AreaFileError(ValueError):
    """The need-tier file cannot be used; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class AreaTable:
    tiers: dict[str, str]
    sources: dict[str, str] = field(default_factory=dict)
    sample: bool = False
    warnings: tuple[str, ...] = ()

    def tier(self, zip5: str | None) -> str | None:
        """The ZIP's need tier, or None when the table does not know it."""
        return self.tiers.get(zip5 or "")

    def counts(self) -> dict[str, int]:
        return {t: sum(1 for v in self.tiers.values() if v == t) for t in TIERS}


def normalise_tier(value: str) -> str | None:
    """A tier id from a name or number, any case; None when it is neither."""
    v = value.strip().lower()
    return v if v in TIERS else _NUMBERED.get(v)


def parse_area_csv(text: str, name: str = "areas.csv") -> AreaTable:
    """Parses and validates a need-tier CSV; every problem is reported, not only the first."""
    if text.startswith("\ufeff"):  # Excel writes a byte-order mark
        text = text[1:]
    sample = False
    data_lines: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            sample = sample or bool(_SAMPLE.match(stripped))
            continue
        if stripped:
            data_lines.append((number, line))
    if not data_lines:
        raise AreaFileError(f"{name}: no header and no rows")
    header_no, header_line = data_lines[0]
    header = [h.strip().lower() for h in next(csv.reader([header_line]))]
    missing = [c for c in ("zip", "tier") if c not in header]
    if missing:
        raise AreaFileError(f"{name} line {header_no}: the header needs columns zip and tier (missing {', '.join(missing)}); "
                            f"got {', '.join(header) or 'nothing'}")
    zi, ti = header.index("zip"), header.index("tier")
    si = header.index("source") if "source" in header else None
    tiers: dict[str, str] = {}
    sources: dict[str, str] = {}
    problems: list[str] = []
    warnings: list[str] = []
    for number, line in data_lines[1:]:
        row = next(csv.reader([line]))
        if len(row) <= max(zi, ti):
            problems.append(f"line {number}: expected at least {max(zi, ti) + 1} columns, got {len(row)}")
            continue
        zip5, raw_tier = row[zi].strip(), row[ti].strip()
        if not re.fullmatch(r"\d{5}", zip5):
            problems.append(f"line {number}: ZIP {zip5!r} is not 5 digits")
            continue
        tier = normalise_tier(raw_tier)
        if tier is None:
            problems.append(f"line {number}: tier {raw_tier!r} for {zip5} is not one of {', '.join(TIERS)} or 1-5")
            continue
        if zip5 in tiers:
            if tiers[zip5] != tier:
                problems.append(f"line {number}: ZIP {zip5} appears again with another tier ({tiers[zip5]} then {tier})")
            continue
        if geo.in_la_county(zip5) is not True:
            warnings.append(f"line {number}: ZIP {zip5} is not an LA County ZIP in the ZIP dataset")
        tiers[zip5] = tier
        if si is not None and si < len(row) and row[si].strip():
            sources[zip5] = row[si].strip()[:255]
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise AreaFileError(f"{name}: " + "; ".join(shown))
    if not tiers:
        raise AreaFileError(f"{name}: the header is there but no rows follow")
    return AreaTable(tiers, sources, sample, tuple(warnings))


def read_area_csv_bytes(data: bytes, name: str = "areas.csv") -> AreaTable:
    """Parses file bytes, naming the file when they are not UTF-8 text."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AreaFileError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as CSV UTF-8") from exc
    return parse_area_csv(text, name)


def csv_text(table: AreaTable) -> str:
    """The table written back in the documented format (for staff downloads)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    if table.sample:
        out.write("# status: sample\n")
    w.writerow(["zip", "tier", "source"])
    for zip5 in sorted(table.tiers):
        w.writerow(safe_row([zip5, table.tiers[zip5], table.sources.get(zip5, "")]))
    return out.getvalue()
