"""Crash-safe file primitives: atomic whole-file writes, directory fsync, safe directory creation.

Temporary names. Every temporary file or directory the library creates is named by
``ff_temp_path`` / ``ff_temp_name``: it starts with ``TEMP_PREFIX`` (``.ff-tmp.``), contains no
``.jsonl`` (the target's dots become ``_``), and a temp for a file inside a ``date=...`` partition
is created in the partition's parent (the stream directory), so no reader glob of the store
(``date=*/*.jsonl*``, ``date=*/*``, ``*.jsonl.gz``) can ever match one (see docs/operators.md,
"Reader contract").
"""

from __future__ import annotations

import os
import secrets
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


TEMP_PREFIX = ".ff-tmp."
"""Prefix of every temporary file and directory name the library creates."""
PARTITION_PREFIX = "date="


def ff_temp_name(target_name: str, tag: str = "") -> str:
    """A unique temporary name for ``target_name``: ``.ff-tmp.<name with . as _>.<tag><hex>``.

    It never contains ``.jsonl`` and never starts with ``date=``.
    """
    stem = target_name.replace(".", "_")[:96]
    return f"{TEMP_PREFIX}{stem}.{tag}{os.getpid()}-{secrets.token_hex(4)}"


def ff_temp_dir_for(target: str | os.PathLike[str]) -> Path:
    """Where a temporary for ``target`` is created: its directory, or for a file inside a
    ``date=...`` partition the partition's parent (same file system, never globbed by readers)."""
    parent = Path(target).parent
    return parent.parent if parent.name.startswith(PARTITION_PREFIX) else parent


def ff_temp_path(target: str | os.PathLike[str], tag: str = "") -> Path:
    """``ff_temp_dir_for(target) / ff_temp_name(target.name, tag)``."""
    return ff_temp_dir_for(target) / ff_temp_name(Path(target).name, tag)


def ff_is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


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
    tmp = ff_temp_path(p)
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

    Writes a temp file (``ff_temp_path``: same file system, a name no reader glob matches), fsyncs
    it, ``os.replace``s it over the target and fsyncs the directory. On any failure the temp file is
    removed and the old file is untouched.
    """
    ff_retry_pending_unlinks()
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = ff_mkstemp(target)
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


def ff_mkstemp(target: str | os.PathLike[str], mode: int = 0o600) -> tuple[int, str]:
    """Create (``O_EXCL``) the temporary file for ``target``; returns ``(fd, path)``."""
    tdir = ff_temp_dir_for(target)
    tdir.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        tmp = tdir / ff_temp_name(Path(target).name)
        try:
            return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode), os.fspath(tmp)
        except FileExistsError:
            continue
    raise FileExistsError(f"{tdir}: no free temporary name for {Path(target).name}")


def ff_sweep_stale_temps(directory: str | os.PathLike[str], older_than_seconds: float = 3600.0) -> int:
    """Remove ``.ff-tmp.*`` files a crashed process left in ``directory`` (older than the bound, so a
    live writer's temp is never taken); returns how many were removed."""
    n = 0
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for e in entries:
        if not e.name.startswith(TEMP_PREFIX):
            continue
        try:
            if now - e.stat(follow_symlinks=False).st_mtime < older_than_seconds:
                continue
            if e.is_dir(follow_symlinks=False):
                import shutil

                shutil.rmtree(e.path, ignore_errors=True)
            else:
                os.unlink(e.path)
            n += 1
        except OSError:
            continue
    return n


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
