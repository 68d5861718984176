"""Crash-safe file primitives: atomic whole-file writes, directory fsync, safe directory creation."""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import time
from pathlib import Path

from ff_utils.ff_analytics_core.ff_logging import get_logger

logger = get_logger(__name__)


def ff_fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory so a rename or create inside it survives a power loss."""
    fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_PENDING_UNLINK: set[str] = set()
_pending_lock = threading.Lock()


def ff_unlink_temp(path: str | os.PathLike[str]) -> None:
    """Remove a temp file; if the file system refuses (EIO, EROFS ...), remember it and retry from
    ``ff_retry_pending_unlinks`` (called by later atomic writes and flushes), so a fault never leaves
    a stray temp behind once the volume recovers."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        with _pending_lock:
            _PENDING_UNLINK.add(os.fspath(path))
        logger.warning("could not remove temp file %s (will retry): %s", path, exc)


def ff_retry_pending_unlinks() -> int:
    """Retry removing temp files a fault left behind; returns how many are still pending."""
    if not _PENDING_UNLINK:
        return 0
    with _pending_lock:
        paths = list(_PENDING_UNLINK)
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
        except OSError:
            continue
        with _pending_lock:
            _PENDING_UNLINK.discard(p)
    return len(_PENDING_UNLINK)


def ff_write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """``os.write`` until every byte of ``data`` is written (short writes happen near a full disk)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def ff_publish_new_file(path: str | os.PathLike[str], data: bytes, mode: int = 0o600) -> bool:
    """Create ``path`` with ``data`` unless it exists; True if this call created it.

    The data is written completely to a private temp file (``mode``), fsynced and ``os.link``-ed
    into place, which fails when another process won the race; so nobody ever reads a partial file
    and concurrent creators agree on one content. Used for keys.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = p.parent / f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            ff_write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, p)
        except FileExistsError:
            return False
        ff_fsync_dir(p.parent)
        return True
    finally:
        ff_unlink_temp(tmp)


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
    ff_retry_pending_unlinks()
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        try:
            ff_write_all(fd, payload)
            if fsync:
                os.fsync(fd)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.replace(tmp_name, target)
    except BaseException:
        ff_unlink_temp(tmp_name)
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
