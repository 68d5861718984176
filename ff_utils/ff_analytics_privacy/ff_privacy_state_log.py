"""A small multi-process JSONL state log: locked appends, incremental tailing, atomic compaction.

Used by the consent registry and the user index, which live under ``<base>/privacy_state/`` (outside
the per-day analytics partitions). Writers append whole batches with one ``write()`` while holding an
exclusive ``flock`` on a sibling ``.lock`` file (the lock file is never replaced, so the lock keeps
excluding across compactions). Readers remember ``(inode, offset)`` and read only what was appended
since; a compaction (atomic replace) starts the file with a new ``{"_gen": ...}`` line and changes
the inode, and readers reload from the start when either differs.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from ff_utils.ff_analytics_core.ff_file_ops import ff_atomic_write
from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps_line
from ff_utils.ff_analytics_core.ff_logging import get_logger

logger = get_logger(__name__)

_GEN_PREFIX = b'{"_gen":"'
_GEN_LEN = len(_GEN_PREFIX) + 16 + 3  # '{"_gen":"' + 16 hex + '"}\n'


class FFPrivacyStateLog:
    """Append-only JSONL file shared by processes; ``read_new()`` returns records not yet seen."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._inode: int | None = None
        self._offset = 0
        self._gen = b""
        self.lines_seen = 0

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive inter-process lock of this log."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def append(self, records: Iterable[Any]) -> int:
        """Append records with one ``write()`` under the lock (optionally fsynced); returns the count."""
        buf = bytearray()
        n = 0
        for r in records:
            buf += ff_dumps_line(r)
            n += 1
        if not n:
            return 0
        with self.locked():
            self._append_unlocked(bytes(buf))
        return n

    def _append_unlocked(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)

    def changed(self) -> bool:
        """True when the file was replaced or grew since the last read (one ``stat``)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return self._inode is not None
        return st.st_ino != self._inode or st.st_size != self._offset

    def read_new(self) -> tuple[bool, list[Any]]:
        """``(reset, records)``: records appended since the last call; ``reset`` when read from the start."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            reset = self._inode is not None
            self._inode, self._offset = None, 0
            return reset, []
        try:
            st = os.fstat(fd)
            head = os.pread(fd, _GEN_LEN, 0)
            gen = head if head.startswith(_GEN_PREFIX) else b""
            # an inode number can be reused by a later compaction: the generation line tells apart
            reset = st.st_ino != self._inode or st.st_size < self._offset or gen != self._gen
            start = 0 if reset else self._offset
            data = os.pread(fd, st.st_size - start, start) if st.st_size > start else b""
        finally:
            os.close(fd)
        self._gen = gen
        end = data.rfind(b"\n") + 1  # an in-progress line is read next time
        out: list[Any] = []
        for line in data[:end].splitlines():
            if not line.strip() or line.startswith(_GEN_PREFIX):
                continue
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                logger.warning("skipping unparseable line in %s", self.path)
        self._inode = st.st_ino
        self._offset = start + end
        self.lines_seen = (0 if reset else self.lines_seen) + len(out)
        return reset, out

    def rewrite(self, build: Callable[[list[Any]], Iterable[Any]]) -> int:
        """Under the lock: read everything, write ``build(records)`` atomically; returns lines written."""
        with self.locked():
            self._inode, self._offset = None, 0
            _reset, records = self.read_new()
            buf = bytearray(_GEN_PREFIX + secrets.token_hex(8).encode() + b'"}\n')
            n = 0
            for r in build(records):
                buf += ff_dumps_line(r)
                n += 1
            ff_atomic_write(self.path, bytes(buf), mode=0o600)
            self._inode, self._offset = None, 0
            return n
