"""ZIP code facts from the offline `zipcodes` dataset: does a ZIP exist, is it in LA County, where is it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import zipcodes

LA_COUNTY = "Los Angeles County"


@dataclass(frozen=True)
class ZipInfo:
    zip: str
    city: str
    state: str
    county: str
    lat: float | None
    lon: float | None

    @property
    def in_la_county(self) -> bool:
        return self.state == "CA" and self.county == LA_COUNTY


# Every ZIP from 90000 to 96199 is California's and California has no other. People texting us give these, and
# zipcodes.matching scans the whole country per call (over a millisecond), so they come from a table made once.
CALIFORNIA = ("90000", "96199")


def lookup(zip5: str) -> ZipInfo | None:
    """The ZIP's record, or None when no such US ZIP exists (PO-box ZIPs included)."""
    if len(zip5) != 5 or not zip5.isdigit():
        return None
    if CALIFORNIA[0] <= zip5 <= CALIFORNIA[1]:
        return _california().get(zip5)
    return _elsewhere(zip5)


@lru_cache(maxsize=1)
def _california() -> dict[str, ZipInfo]:
    return {z["zip_code"]: _info(z) for z in zipcodes.filter_by(state="CA")}


@lru_cache(maxsize=4096)
def _elsewhere(zip5: str) -> ZipInfo | None:
    try:
        found = zipcodes.matching(zip5)
    except (ValueError, TypeError):
        return None
    return _info(found[0]) if found else None


def _info(z: dict[str, Any]) -> ZipInfo:
    lat: float | None
    lon: float | None
    try:
        lat, lon = float(z["lat"]), float(z["long"])
    except (TypeError, ValueError, KeyError):
        lat = lon = None
    return ZipInfo(z["zip_code"], z.get("city") or "", z.get("state") or "", z.get("county") or "", lat, lon)


def in_la_county(zip5: str | None) -> bool | None:
    """True or False for a known ZIP; None when there is no usable ZIP.

    Each ZIP maps to one county in the dataset, so border ZIPs (91361 Westlake Village, 90631
    La Habra Heights) read as outside; the flow then asks the person instead of deciding.
    """
    if not zip5 or zip5 == "none":
        return None
    info = lookup(zip5)
    return info.in_la_county if info else None


def miles_between(zip_a: str, zip_b: str) -> float | None:
    """Great-circle miles between two ZIP centroids, or None when either is unknown."""
    a, b = lookup(zip_a), lookup(zip_b)
    if not a or not b or a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 3958.8 * 2 * math.asin(math.sqrt(h))


def warm_up() -> None:
    """Loads the dataset and California's table now (about 0.4 s) so the first person's message does not pay for it."""
    lookup("90012")
