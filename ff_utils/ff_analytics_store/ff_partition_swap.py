"""Replace the files of one partition by one new file in a single atomic step (no reader window).

Compaction and the rollup rebuild turn N files of a ``date=...`` partition into one. Two renames
would leave a moment where an outside reader globbing ``date=*/*.jsonl*`` sees both the new file
and the old ones (double count) or neither (missing rows). Instead:

1. ``staged``: a stage directory ``<stream>/.ff-swap.<day>.<pid>-<hex>/`` (no reader glob matches
   it) receives the new file, fsynced (the caller may verify it);
2. ``journal_written``: ``<stream>/.ff-swap.<day>.<pid>-<hex>.json`` records the partition, the
   stage, the new file's inode and the superseded sources (atomic write);
3. ``exchanged``: ``renameat2(stage, partition, RENAME_EXCHANGE)`` swaps the two directories in one
   step: the partition path now holds exactly the new file, the stage path the old files;
4. ``stragglers_moved``: a data file a writer created in the old directory after the sources were
   listed is moved back into the partition (and ``_quarantine/`` files with it);
5. ``sources_removed``: the old files are unlinked (their exclusive ``flock`` is still held by the
   caller, so a straggling appender waits, sees ``st_nlink == 0`` and reopens in the new directory);
6. ``done``: the stage directory and the journal are removed.

A crash anywhere leaves the partition path with either all old files or the new file (never
both); ``ff_recover_swaps`` (run before every swap of the stream) rolls an exchanged swap forward
and throws an unexchanged one away. All swaps and recoveries of one stream directory serialize on
an ``flock`` of the stream directory itself (no lock file is left behind).

Where the file system has no ``RENAME_EXCHANGE`` (NFS, some FUSE file systems) the swap falls back
to the manifest protocol (``_compaction.json`` in the partition, which the library's readers
honour): the library's own reads stay exact, an outside reader may double count until it ends.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_core.ff_file_ops import (
    QUARANTINE_DIR,
    ff_fsync_dir,
    ff_sweep_stale_temps,
    ff_write_all,
)
from ff_utils.ff_analytics_core.ff_json_utils import ff_read_json, ff_write_json
from ff_utils.ff_analytics_core.ff_logging import get_logger

logger = get_logger(__name__)

__all__ = [
    "LEGACY_MANIFEST",
    "SWAP_PREFIX",
    "SWAP_STEPS",
    "ff_exchange_paths",
    "ff_recover_legacy_manifest",
    "ff_recover_swaps",
    "ff_replace_partition",
]

SWAP_PREFIX = ".ff-swap."
"""Stage directories and journals of swaps in progress (in the stream directory)."""
LEGACY_MANIFEST = "_compaction.json"
SWAP_STEPS = ("staged", "journal_written", "exchanged", "stragglers_moved", "sources_removed", "done")
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EPERM}
_libc: Any = None


def _renameat2() -> Any:
    global _libc
    if _libc is None:
        try:
            lib = ctypes.CDLL(None, use_errno=True)
            fn = lib.renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _libc = fn
        except (OSError, AttributeError):
            _libc = False
    return _libc


def ff_exchange_paths(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
    """Atomically exchange two existing paths (Linux ``renameat2(RENAME_EXCHANGE)``).

    Raises ``OSError`` with ``errno.ENOTSUP`` where the platform or file system cannot.
    """
    fn = _renameat2()
    if not fn:
        raise OSError(errno.ENOTSUP, "renameat2 is not available on this platform")
    if fn(_AT_FDCWD, os.fsencode(os.fspath(a)), _AT_FDCWD, os.fsencode(os.fspath(b)), _RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"renameat2({a}, {b}, RENAME_EXCHANGE): {os.strerror(e)}")


def _is_data_name(n: str) -> bool:
    return not n.startswith(".") and (n.endswith(".jsonl") or n.endswith(".jsonl.gz"))


class _StreamLock:
    """Exclusive ``flock`` of the stream directory for the duration of a swap or a recovery."""

    def __init__(self, stream_dir: Path) -> None:
        self.path = stream_dir
        self.fd = -1

    def __enter__(self) -> _StreamLock:
        self.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def ff_replace_partition(
    pdir: str | os.PathLike[str],
    sources: list[Path],
    target: str,
    payload: bytes,
    *,
    verify: Callable[[Path], None] | None = None,
    step_hook: Callable[[str, Path], None] | None = None,
) -> str:
    """Replace ``sources`` (all readable files of ``pdir``, flocked by the caller) by ``target``
    holding ``payload``, in one atomic step for every reader. Returns ``"exchange"`` or
    ``"manifest"`` (the fallback). ``verify(path)`` may raise to abort before anything is visible."""
    pdir = Path(pdir)
    sdir = pdir.parent
    with _StreamLock(sdir):
        _recover_locked(sdir)
        ff_recover_legacy_manifest(pdir)
        day = pdir.name.removeprefix("date=")
        name = f"{SWAP_PREFIX}{day}.{os.getpid()}-{secrets.token_hex(4)}"
        stage = sdir / name
        journal = sdir / f"{name}.json"
        os.mkdir(stage, 0o755)
        try:
            tpath = stage / target
            fd = os.open(tpath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                ff_write_all(fd, payload)
                os.fsync(fd)
                ino = os.fstat(fd).st_ino
            finally:
                os.close(fd)
            if verify is not None:
                verify(tpath)
            ff_fsync_dir(stage)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        _step(step_hook, "staged", pdir)
        ff_write_json(journal, {"partition": pdir.name, "stage": name, "target": target, "target_inode": ino,
                                "sources": [s.name for s in sources]})
        _step(step_hook, "journal_written", pdir)
        try:
            ff_exchange_paths(stage, pdir)
        except OSError as exc:
            if exc.errno not in _NO_EXCHANGE:
                raise
            logger.warning("RENAME_EXCHANGE unsupported under %s (%s): manifest fallback, outside readers "
                           "may double count while it runs", sdir, exc)
            _manifest_swap(pdir, stage, journal, target, sources, step_hook)
            return "manifest"
        ff_fsync_dir(sdir)
        _step(step_hook, "exchanged", pdir)
        _roll_forward(pdir, stage, journal, {s.name for s in sources}, step_hook)
        return "exchange"


def _step(hook: Callable[[str, Path], None] | None, name: str, pdir: Path) -> None:
    if hook is not None:
        hook(name, pdir)


def _roll_forward(pdir: Path, old: Path, journal: Path, sources: set[str],
                  step_hook: Callable[[str, Path], None] | None = None) -> None:
    """``old`` holds the partition's previous files: move stragglers back, drop the sources."""
    for _ in range(5):
        try:
            names = os.listdir(old)
        except FileNotFoundError:
            names = []
        moved = False
        for n in names:
            if n in sources:
                continue
            src = old / n
            if n == QUARANTINE_DIR and src.is_dir():
                qdst = pdir / QUARANTINE_DIR
                qdst.mkdir(exist_ok=True)
                for q in os.listdir(src):
                    if not (qdst / q).exists():
                        os.rename(src / q, qdst / q)
                moved = True
            elif _is_data_name(n):
                if (pdir / n).exists():
                    raise OSError(errno.EEXIST, f"{pdir / n}: a straggler of {old} collides; left for recovery")
                os.rename(src, pdir / n)
                logger.warning("moved %s written during a swap back into %s", n, pdir)
                moved = True
        if moved:
            ff_fsync_dir(pdir)
        _step(step_hook, "stragglers_moved", pdir)
        for n in sources:
            try:
                os.unlink(old / n)
            except FileNotFoundError:
                pass
        _step(step_hook, "sources_removed", pdir)
        leftovers = [n for n in _listdir(old) if _is_data_name(n)]
        if not leftovers:
            break
    shutil.rmtree(old, ignore_errors=True)
    try:
        os.unlink(journal)
    except FileNotFoundError:
        pass
    ff_fsync_dir(pdir.parent)
    _step(step_hook, "done", pdir)


def _manifest_swap(pdir: Path, stage: Path, journal: Path, target: str, sources: list[Path],
                   step_hook: Callable[[str, Path], None] | None) -> None:
    ff_write_json(pdir / LEGACY_MANIFEST, {"target": target, "sources": [s.name for s in sources]})
    os.rename(stage / target, pdir / target)
    ff_fsync_dir(pdir)
    _step(step_hook, "exchanged", pdir)
    for s in sources:
        try:
            os.unlink(pdir / s.name)
        except FileNotFoundError:
            pass
    ff_fsync_dir(pdir)
    _step(step_hook, "sources_removed", pdir)
    os.unlink(pdir / LEGACY_MANIFEST)
    shutil.rmtree(stage, ignore_errors=True)
    os.unlink(journal)
    ff_fsync_dir(pdir.parent)
    _step(step_hook, "done", pdir)


def ff_recover_legacy_manifest(pdir: Path) -> bool:
    """Finish a manifest-protocol replacement: target present -> remove the sources; else drop it."""
    mpath = pdir / LEGACY_MANIFEST
    if not mpath.exists():
        return False
    manifest = ff_read_json(mpath, default=None) or {}
    target = str(manifest.get("target") or "")
    if target and (pdir / target).exists():
        for src in manifest.get("sources", []):
            if src == target or "/" in src:
                continue
            try:
                os.unlink(pdir / src)
            except FileNotFoundError:
                pass
        ff_fsync_dir(pdir)
    os.unlink(mpath)
    ff_fsync_dir(pdir)
    logger.warning("finished an interrupted replacement in %s (target present: %s)", pdir, bool(target))
    return True


def ff_recover_swaps(stream_dir: str | os.PathLike[str]) -> int:
    """Finish (exchanged) or discard (not exchanged) every interrupted swap of a stream directory,
    finish legacy manifests of its partitions and sweep stale ``.ff-tmp.*`` files; returns the
    number of swaps recovered."""
    sdir = Path(stream_dir)
    if not sdir.is_dir():
        return 0
    with _StreamLock(sdir):
        return _recover_locked(sdir)


def _recover_locked(sdir: Path) -> int:
    n = 0
    names = _listdir(sdir)
    journals = {x for x in names if x.startswith(SWAP_PREFIX) and x.endswith(".json")}
    for jname in sorted(journals):
        j = sdir / jname
        data = ff_read_json(j, default=None) or {}
        pname = str(data.get("partition") or "")
        stage = sdir / jname.removesuffix(".json")
        pdir = sdir / pname
        if not pname.startswith("date=") or "/" in pname:
            logger.error("ignoring a malformed swap journal %s", j)
            continue
        target = str(data.get("target") or "")
        try:
            exchanged = target and os.stat(pdir / target).st_ino == data.get("target_inode")
        except FileNotFoundError:
            exchanged = False
        if exchanged and stage.is_dir():
            _roll_forward(pdir, stage, j, set(data.get("sources") or []))
        else:  # not exchanged: the partition still holds the old files, the stage is garbage
            shutil.rmtree(stage, ignore_errors=True)
            os.unlink(j)
            ff_fsync_dir(sdir)
        logger.warning("recovered an interrupted swap of %s (exchanged: %s)", pdir, bool(exchanged))
        n += 1
    for x in names:  # stages whose journal was never written (a crash while staging; live swaps
        # hold the stream lock, so none is in progress now)
        if x.startswith(SWAP_PREFIX) and not x.endswith(".json") and f"{x}.json" not in journals:
            shutil.rmtree(sdir / x, ignore_errors=True)
            n += 1
    ff_sweep_stale_temps(sdir)
    return n


def _listdir(p: Path) -> list[str]:
    try:
        return os.listdir(p)
    except FileNotFoundError:
        return []
