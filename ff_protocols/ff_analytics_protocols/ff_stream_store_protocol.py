"""Protocol (ABC) for the partitioned JSONL stream store."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any


class FFStreamStoreProtocol(ABC):
    """Append-only, day-partitioned record streams."""

    @abstractmethod
    def append(self, stream: str, record: Any) -> bool:
        """Buffer one record; False when it was dropped (and counted)."""

    @abstractmethod
    def append_many(self, stream: str, records: Iterable[Any]) -> int:
        """Buffer several records; returns how many were accepted."""

    @abstractmethod
    def flush(self) -> bool:
        """Write every buffered record (one write per stream batch), fsync per policy; True if all landed."""

    @abstractmethod
    def read(self, stream: str, start: datetime | None = None, end: datetime | None = None) -> Iterator[dict]:
        """Stream the records of the partitions whose day lies in [start, end]."""

    @abstractmethod
    def iter_partitions(self, stream: str) -> list[Any]:
        """The stream's partitions, oldest first."""

    @abstractmethod
    def partition_dir(self, stream: str, day: date) -> Path:
        """Directory of one day's partition."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release resources."""


StreamStoreProtocol = FFStreamStoreProtocol
