"""The checks a stored ``hourly_rollup`` record passes before the index or a merge uses it.

Guarantee: a value these functions return has the types and ranges the rollup writer produces (str
names, int counts >= 0, 64-bit keys, positions inside the record's users, finite numbers), or they
raise ``ValueError`` naming the field. A record that fails is skipped by its reader, so a damaged or
foreign record can change no answer and crash no sum, sort or index later (``FFRollupAggregate.from_record``,
``FFHourUsers.from_record``).
"""

from __future__ import annotations

import math
import re
from array import array
from typing import Any

__all__ = [
    "INT_TYPES", "NUMBER_TYPES", "STR_TYPES", "ff_check_rollup_keys", "ff_is_hour_key", "ff_rollup_count", "ff_rollup_counts",
    "ff_rollup_positions", "ff_rollup_ratings",
]

INT_TYPES = frozenset({int})
NUMBER_TYPES = frozenset({int, float})
STR_TYPES = frozenset({str})
_HOUR_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3])")
_MAX_KEY = (1 << 64) - 1


def ff_is_hour_key(hk: Any) -> bool:
    """``YYYY-MM-DDTHH`` (hour 00..23)."""
    return type(hk) is str and _HOUR_RE.fullmatch(hk) is not None


def ff_rollup_count(v: Any, what: str) -> int:
    """A stored count: an int >= 0 (``ValueError`` naming ``what`` otherwise)."""
    if type(v) is not int or v < 0:
        raise ValueError(f"{what}: expected an int >= 0, got {v!r:.40}")
    return v


def ff_rollup_counts(d: Any, what: str, types: frozenset[type] = INT_TYPES) -> dict[str, Any]:
    """A stored ``name -> count`` object (falsy: empty): str names, values of ``types`` >= 0 and finite."""
    if not d:
        return {}
    if type(d) is not dict or not set(map(type, d)) <= STR_TYPES or not set(map(type, d.values())) <= types:
        raise ValueError(f"{what}: expected an object of names to numbers")
    if min(d.values()) < 0 or (types is NUMBER_TYPES and not all(map(math.isfinite, d.values()))):
        raise ValueError(f"{what}: a negative or non-finite value")
    return dict(d)


def ff_rollup_ratings(d: Any) -> dict[str, int]:
    """A stored ``ratings`` object: counts by rating, each name a finite number (BI averages them)."""
    out = ff_rollup_counts(d, "ratings")
    for r in out:
        try:
            if not math.isfinite(float(r)):
                raise ValueError
        except ValueError:
            raise ValueError(f"ratings: {r!r:.20} is not a number") from None
    return out


def ff_check_rollup_keys(users: Any) -> None:
    """A stored ``users`` list: 64-bit int keys."""
    if type(users) is not list or not set(map(type, users)) <= INT_TYPES or (
            users and (min(users) < 0 or max(users) > _MAX_KEY)):
        raise ValueError("users: expected a list of 64-bit keys")


def ff_rollup_positions(d: Any, what: str, n: int) -> dict[str, array[int]]:
    """A stored ``name -> positions into users`` object (falsy: empty) as ``array('I')`` per name,
    each position an int in ``[0, n)`` (``ValueError`` naming ``what`` otherwise). The array's
    conversion checks the items in C (ints in [0, 2^32)); one ``max`` of the list checks the range."""
    if not d:
        return {}
    if type(d) is not dict or not set(map(type, d)) <= STR_TYPES:
        raise ValueError(f"{what}: expected an object of names to positions")
    out = {}
    for name, v in d.items():
        if v and type(v) is not list:
            raise ValueError(f"{what}[{name!r:.40}]: expected a list of positions")
        try:
            arr = array("I", v or ())
            if v and max(v) >= n:  # the list's max: its items are ints already (the array's are made)
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{what}[{name!r:.40}]: expected positions into users (0..{n - 1})") from None
        out[name] = arr
    return out
