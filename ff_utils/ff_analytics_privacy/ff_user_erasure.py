"""Subject access export (GDPR Art. 15) and erasure (Art. 17) over every stream and partition.

- ``export`` streams every file (plain and ``.jsonl.gz``) of every stream; a line is parsed only when
  it contains the user's pseudonym (or the compliance ``subject_ref``) as bytes, then kept when the
  field matches exactly.
- ``erase`` visits the same files; a file that contains the pseudonym is rewritten through
  ``FFStreamStore.rewrite_file`` (atomic temp+rename under an exclusive lock that excludes
  concurrent appenders; appenders reopen after the inode changes). Records of other users are kept
  byte-identical. A line that still mentions the pseudonym in another field (an aggregate holding a
  list of user hashes) has the pseudonym removed from its lists/sets/keys, under the same lock.
  Torn fragments in ``_quarantine/`` that contain the pseudonym are cut out as well.
- Compliance streams ``audit_logs`` and ``privacy_events`` are not rewritten: the privacy service
  never writes the pseudonym there (it writes ``subject_ref``, an unlinkable HMAC), and those logs
  may be hash-chained.

A crash (even SIGKILL) leaves every file either old or new; rerunning the erasure finishes the job.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from ff_utils.ff_analytics_core.ff_file_ops import ff_atomic_write, ff_fsync_dir
from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps_line
from ff_utils.ff_analytics_core.ff_jsonl_reader import FFStoreCorruptionError
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_store.ff_record_defaults import ff_fill_record_defaults, record_defaults
from ff_utils.ff_analytics_store.ff_stream_store import QUARANTINE_DIR, STREAM_CATEGORY

logger = get_logger(__name__)

PROTECTED_STREAMS = frozenset({"audit_logs", "privacy_events"})


def _read_bytes(path: Path) -> bytes:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            return fh.read()
    with open(path, "rb") as fh:
        return fh.read()


def _strip_value(obj: Any, needles: frozenset[str]) -> tuple[Any, bool]:
    """Remove ``needles`` from lists/sets and dict keys/values, recursively; ``(new, changed)``."""
    if isinstance(obj, dict):
        changed = False
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k in needles or (isinstance(v, str) and v in needles):
                changed = True
                continue
            nv, c = _strip_value(v, needles)
            changed |= c
            out[k] = nv
        return out, changed
    if isinstance(obj, list):
        changed = False
        out_l = []
        for v in obj:
            if isinstance(v, str) and v in needles:
                changed = True
                continue
            nv, c = _strip_value(v, needles)
            changed |= c
            out_l.append(nv)
        return out_l, changed
    return obj, False


class FFUserDataEraser:
    """Export and erase one user's records in a ``FFStreamStore``."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def _files(self, streams: list[str]) -> Iterator[tuple[str, Path]]:
        for stream in streams:
            for part in self.store.iter_partitions(stream):
                for f in part.files:
                    yield stream, f

    # ------------------------------------------------------------------ access
    def export(
        self, needles: frozenset[str], subject_ref: str = "", streams: list[str] | None = None
    ) -> dict[str, Any]:
        """Every record whose ``user_hash`` is in ``needles`` (or ``subject_ref`` matches), by stream."""
        if not needles:
            raise ValueError("needles: at least one user pseudonym is required")
        bneedles = [n.encode() for n in needles]
        bref = subject_ref.encode() if subject_ref else b""
        records: dict[str, list[dict[str, Any]]] = {}
        files_scanned = 0
        corrupt: list[str] = []
        for stream, path in self._files(streams or list(STREAM_CATEGORY)):
            files_scanned += 1
            try:
                data = _read_bytes(path)
            except FileNotFoundError:
                continue
            except (OSError, EOFError, zlib.error) as exc:
                corrupt.append(f"{path}: {exc}")
                logger.error("export: cannot read %s: %s", path, exc)
                continue
            if not any(b in data for b in bneedles) and not (bref and bref in data):
                continue
            for line in data.split(b"\n"):
                if not line or not (any(b in line for b in bneedles) or (bref and bref in line)):
                    continue
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(rec, dict):
                    continue
                if rec.get("user_hash") in needles or (subject_ref and rec.get("subject_ref") == subject_ref):
                    if record_defaults(stream) is not None:  # compact user records: exported whole
                        rec = ff_fill_record_defaults(rec)
                    records.setdefault(stream, []).append(rec)
                else:
                    records.setdefault("mentions", []).append({"stream": stream, "record": rec})
        return {
            "records": records,
            "counts": {s: len(v) for s, v in records.items()},
            "files_scanned": files_scanned,
            "unreadable_files": corrupt,
        }

    # ------------------------------------------------------------------ erasure
    def erase(self, needles: frozenset[str], streams: list[str] | None = None) -> dict[str, Any]:
        """Remove the user's records (and mentions) from every partition file; returns counts."""
        if not needles:
            raise ValueError("needles: at least one user pseudonym is required")
        bneedles = [n.encode() for n in needles]
        targets = streams or [s for s in STREAM_CATEGORY if s not in PROTECTED_STREAMS]
        removed: dict[str, int] = {}
        mentions_stripped = 0
        files_rewritten = 0
        partitions: set[str] = set()
        errors: list[str] = []
        quarantine_cleaned = 0

        def keep(rec: Any) -> bool:
            return not (isinstance(rec, dict) and rec.get("user_hash") in needles)

        for stream, path in self._files(targets):
            try:
                data = _read_bytes(path)
            except FileNotFoundError:
                continue
            except (OSError, EOFError, zlib.error, FFStoreCorruptionError) as exc:
                errors.append(f"{path}: {exc}")
                logger.error("erasure: cannot read %s: %s", path, exc)
                continue
            if not any(b in data for b in bneedles):
                continue
            try:
                _kept, n = self.store.rewrite_file(path, keep)
                if n:
                    removed[stream] = removed.get(stream, 0) + n
                    files_rewritten += 1
                    partitions.add(str(path.parent))
                if path.exists() and any(b in _read_bytes(path) for b in bneedles):
                    late, m = self._strip_mentions(path, needles, bneedles)
                    if late:  # appended by a live writer after the first rewrite
                        removed[stream] = removed.get(stream, 0) + late
                    if late or m:
                        mentions_stripped += m
                        files_rewritten += 1
                        partitions.add(str(path.parent))
            except (OSError, EOFError, zlib.error) as exc:
                errors.append(f"{path}: {exc}")
                logger.error("erasure: rewriting %s failed: %s", path, exc)
        for stream in targets:
            for part in self.store.iter_partitions(stream):
                quarantine_cleaned += self._clean_quarantine(part.path / QUARANTINE_DIR, bneedles, errors)
        return {
            "records_removed": removed,
            "records_removed_total": sum(removed.values()),
            "mentions_stripped": mentions_stripped,
            "files_rewritten": files_rewritten,
            "partitions_touched": len(partitions),
            "quarantine_files_cleaned": quarantine_cleaned,
            "errors": errors,
        }

    def _strip_mentions(self, path: Path, needles: frozenset[str], bneedles: list[bytes]) -> tuple[int, int]:
        """Under the store's lock protocol: drop the user's records appended since the rewrite and
        remove the pseudonym from other lines that mention it. Returns ``(removed, stripped)``."""
        removed = stripped = 0

        def fix(line: bytes) -> bytes | None:
            nonlocal removed, stripped
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                return None  # unparseable fragment holding the id: drop it
            if isinstance(rec, dict) and rec.get("user_hash") in needles:
                removed += 1
                return None
            new, changed = _strip_value(rec, needles)
            if changed:
                stripped += 1
                return ff_dumps_line(new)
            return line

        locked_transform(path, lambda line: any(b in line for b in bneedles), fix)
        return removed, stripped

    def _clean_quarantine(self, qdir: Path, bneedles: list[bytes], errors: list[str]) -> int:
        try:
            names = os.listdir(qdir)
        except FileNotFoundError:
            return 0
        n = 0
        for name in names:
            p = qdir / name
            try:
                data = p.read_bytes()
                if not any(b in data for b in bneedles):
                    continue
                pieces = [x for x in data.split(b"\n") if not any(b in x for b in bneedles)]
                rest = b"\n".join(pieces)
                if rest.strip():
                    ff_atomic_write(p, rest)
                else:
                    os.unlink(p)
                    ff_fsync_dir(qdir)
                n += 1
            except OSError as exc:
                errors.append(f"{p}: {exc}")
        return n


def locked_transform(
    path: str | os.PathLike[str],
    match: Callable[[bytes], bool],
    fix: Callable[[bytes], bytes | None],
) -> int:
    """Replace each complete line for which ``match`` is true by ``fix(line)`` (None drops it).

    Same protocol as ``FFStreamStore.rewrite_file``: exclusive ``flock`` on the file (appenders hold
    a shared one per batch and reopen after the inode changes), atomic temp+rename, gzip kept.
    Returns the number of lines changed.
    """
    p = Path(path)
    gz = p.name.endswith(".gz")
    fd = os.open(p, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = _read_bytes(p)
        out = bytearray()
        changed = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                # a torn tail: under LOCK_EX no append is in progress, so it is a crash remnant
                if match(line):
                    changed += 1
                    continue
                out += line
            elif match(line):
                new = fix(line)
                if new != line:
                    changed += 1
                if new:
                    out += new
            else:
                out += line
        if changed:
            payload = gzip.compress(bytes(out), mtime=0) if gz else bytes(out)
            ff_atomic_write(p, payload)
        return changed
    finally:
        os.close(fd)
