"""Crash-safe file primitives: atomic whole-file writes, directory fsync, safe directory creation."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from ff_utils.ff_logging import get_logger

logger = get_logger(__name__)


def ff_fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory so a rename or create inside it survives a power loss."""
    fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ff_ensure_directory(path: str | os.PathLike[str], mode: int = 0o755) -> Path:
    """Create ``path`` and its parents if missing; return it as a ``Path``."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True, mode=mode)
    return p


def ff_atomic_write(
    path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o644, fsync: bool = True
) -> Path:
    """Replace ``path`` with ``data`` atomically.

    Writes a temp file in the same directory, fsyncs it, ``os.replace``s it over the target and
    fsyncs the directory. On any failure the temp file is removed and the old file is untouched.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        try:
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if fsync:
                os.fsync(fd)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    if fsync:
        ff_fsync_dir(directory)
    return target


QUARANTINE_DIR = "_quarantine"


def ff_repair_torn_tail(fd: int, path: str | os.PathLike[str]) -> int:
    """Cut a torn final line (left by a crash) back to the last newline; returns the bytes cut.

    The torn bytes are kept in ``<dir>/_quarantine/<name>.<ns>.torn`` (readers never look there)
    and the file is fsynced, so the next append starts on a clean line.
    """
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return 0
    pos, cut = size, 0
    while pos > 0:
        start = max(0, pos - 65536)
        chunk = os.pread(fd, pos - start, start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            cut = start + i + 1
            break
        pos = start
    torn = os.pread(fd, size - cut, cut)
    p = Path(path)
    qdir = p.parent / QUARANTINE_DIR
    qdir.mkdir(exist_ok=True)
    ff_atomic_write(qdir / f"{p.name}.{time.time_ns()}.torn", torn)
    os.ftruncate(fd, cut)
    os.fsync(fd)
    return len(torn)
