"""The category columns of one rollup hour in a rebuild: users found per name when the hour is emitted.

Each run of records of the hour appends its user hashes and, per category (event type, platform,
segment), one byte per record: the code of the record's name. When the hour is emitted,
:meth:`FFHourColumns.positions` finds each name's records with one ``bytes.translate`` and one
``compress`` (both in C) over the hour, instead of one ``str.__eq__`` call per record and name
per run and a set of user hashes per name mapped to positions afterwards.

Guarantee: the positions equal what the set fold collects (``_fold_run`` for a live accumulator,
``_add`` per record): a record without a user ("") counts but adds no user; an event type keeps its
entry with no user, "" included; a platform keeps its entry with no user, "" is no platform; a
segment has an entry only once a user has one, "" is no segment. A category with more than
``MAX_CODES`` names in one hour cannot be coded: :meth:`FFHourColumns.add` names it, its records of
that run get ``UNCODED`` (never a name) and the caller folds that run of it into sets instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import compress
from typing import Any

__all__ = ["COLUMNS", "MAX_CODES", "UNCODED", "FFHourColumns"]

COLUMNS = ("type_users", "platform_users", "segment_users")
MAX_CODES = 255
UNCODED = 255
_UNCODED_BYTE = bytes([UNCODED])
_TABLES = tuple(bytes(1 if i == c else 0 for i in range(256)) for c in range(MAX_CODES))


class FFHourColumns:
    """Per record of one hour: its user hash, and its name's code in each of ``COLUMNS``."""

    __slots__ = ("uhs", "codes", "names", "code_of")

    def __init__(self) -> None:
        self.uhs: list[str] = []
        self.codes: dict[str, bytearray] = {c: bytearray() for c in COLUMNS}
        self.names: dict[str, list[str]] = {c: [] for c in COLUMNS}
        self.code_of: dict[str, dict[str, int]] = {c: {} for c in COLUMNS}

    def add(self, uhs: list[str], columns: Iterable[tuple[str, list[str], Iterable[str]]]) -> list[str]:
        """Append one run: ``uhs`` and, per ``(category, column, distinct names of the column)``,
        the codes. Returns the categories it could not code (more than ``MAX_CODES`` names)."""
        self.uhs.extend(uhs)
        uncoded = []
        for cat, col, distinct in columns:
            code_of = self.code_of[cat]
            new = [n for n in distinct if n not in code_of]
            if new:
                names = self.names[cat]
                if len(names) + len(new) > MAX_CODES:
                    self.codes[cat] += _UNCODED_BYTE * len(col)
                    uncoded.append(cat)
                    continue
                for n in new:
                    code_of[n] = len(names)
                    names.append(n)
            self.codes[cat] += bytes(map(code_of.__getitem__, col))
        return uncoded

    def erase(self, user_hash: str) -> bool:
        """Forget ``user_hash`` (its records stay counted, with no user); True when it was there."""
        if user_hash not in self.uhs:
            return False
        self.uhs = ["" if u == user_hash else u for u in self.uhs]
        return True

    def positions(self, pos_of: Callable[[str], Any]) -> dict[str, dict[str, set[int]]]:
        """Per category, name -> the positions (``pos_of(user hash)``; ``None`` for "") of its users,
        with the entries the guarantee keeps."""
        upos = list(map(pos_of, self.uhs))
        out: dict[str, dict[str, set[int]]] = {}
        for cat in COLUMNS:
            codes = bytes(self.codes[cat])
            got: dict[str, set[int]] = {}
            for code, name in enumerate(self.names[cat]):
                if not name and cat != "type_users":
                    continue
                ps = set(compress(upos, codes.translate(_TABLES[code])))
                ps.discard(None)
                if ps or cat != "segment_users":
                    got[name] = ps
            out[cat] = got
        return out
