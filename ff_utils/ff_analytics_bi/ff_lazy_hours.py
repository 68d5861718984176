"""A mapping of hour keys whose values may still be encoded (in a restored snapshot).

Guarantee: an ``FFLazyHours`` behaves as a ``dict`` of every hour it holds, decoded or pending.
Keys, ``len``, ``in`` and truthiness never decode; reading a pending hour's value decodes that hour
only, through the owner's ``load(hour)``, which must store it (``m[hour] = value``, which also drops
the hour from the pending set) in every map that shares that set. So a fresh process that restores
a big snapshot pays for the hours it reads, not for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Generic, TypeVar

V = TypeVar("V")


class FFLazyHours(MutableMapping[str, V], Generic[V]):
    """``hour -> value``; ``pending`` hours are decoded by ``load(hour)`` on first read."""

    __slots__ = ("_d", "_pending", "_load")

    def __init__(self, pending: set[str] | None = None, load: Callable[[str], None] | None = None) -> None:
        self._d: dict[str, V] = {}
        self._pending: set[str] = pending if pending is not None else set()
        self._load = load

    def _resolve(self, hour: str) -> bool:
        if hour in self._pending and self._load is not None:
            self._load(hour)
            return True
        return False

    def __getitem__(self, hour: str) -> V:
        try:
            return self._d[hour]
        except KeyError:
            if self._resolve(hour):
                return self._d[hour]
            raise

    def get(self, hour: str, default: V | None = None) -> V | None:  # type: ignore[override]
        v = self._d.get(hour)
        if v is None and self._resolve(hour):
            v = self._d.get(hour)
        return default if v is None else v

    def __setitem__(self, hour: str, value: V) -> None:
        self._pending.discard(hour)
        self._d[hour] = value

    def __delitem__(self, hour: str) -> None:
        self._resolve(hour)
        del self._d[hour]

    def pop(self, hour: str, *default: V | None) -> V | None:  # type: ignore[override]
        self._resolve(hour)
        return self._d.pop(hour, *default)

    def clear(self) -> None:
        """Forget every hour, decoded or pending, without decoding any."""
        self._pending.clear()
        self._d.clear()

    def __contains__(self, hour: object) -> bool:
        return hour in self._d or hour in self._pending

    # decoded and pending hours never overlap: storing a value drops the hour from the pending set
    def __iter__(self) -> Iterator[str]:
        # a list first: reading values while iterating decodes hours, which moves them between sets
        return iter([*self._d, *self._pending])

    def __len__(self) -> int:
        return len(self._d) + len(self._pending)

    def __bool__(self) -> bool:
        return bool(self._d) or bool(self._pending)

    def __repr__(self) -> str:
        return f"FFLazyHours({len(self._d)} decoded, {len(self._pending)} pending)"
