"""Tamper-evident audit chain: keyed hash-chained records in one shared file per day, one total order.

Layout (under ``<base>/analytics/compliance``)::

    audit_logs/date=YYYY-MM-DD/audit.jsonl   the chain (old days may be compacted.jsonl.gz)
    audit_checkpoints.jsonl                  signed checkpoints {seq, head_hash, time, hmac}
    audit_anchor.json                        signed start of the chain after retention deleted old days
    .audit.lock                              flock that gives every process one total order

Every line is ``{"seq":N,"prev_hash":"<hex>",...,"hmac":"<hex>"}`` where ``hmac`` is
HMAC-SHA256(audit key, the exact line bytes without the ``hmac`` member, which is always last) and
``prev_hash`` is the previous record's ``hmac`` (``"0"*64`` for the first record). The key lives
outside the analytics tree (``<base>/keys/audit.key`` by default, mode 0600), so a chain recomputed
without it is detectable. Appends from any process take an exclusive ``flock``, read the head of the
chain from the tail of the newest day file (repairing a torn tail first), append and fsync.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import hashlib
import hmac
import os
import secrets
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_file_ops import ff_fsync_dir, ff_publish_new_file, ff_repair_torn_tail
from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps, ff_read_json, ff_write_json
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_store.ff_audit_layout import (
    ANCHOR_FILE,
    AUDIT_FILE,
    CHECKPOINT_FILE,
    COMPACTED_PREFIX,
    LOCK_FILE,
    audit_day_dirs,
    audit_day_files,
)

logger = get_logger(__name__)

GENESIS_HASH = "0" * 64
_CHAIN_FIELDS = frozenset({"seq", "prev_hash", "hmac"})
MANIFEST = "_compaction.json"
_HMAC_PREFIX = b',"hmac":"'
_SUFFIX_LEN = len(_HMAC_PREFIX) + 64 + 2  # ,"hmac":"<64 hex>"}
_CHECKPOINT_DOMAIN = b"ff-audit-checkpoint\x00"
_ANCHOR_DOMAIN = b"ff-audit-anchor\x00"


# ---------------------------------------------------------------------------------------------- key
def audit_key_path(base_path: str | os.PathLike[str], privacy_config: Any = None) -> Path:
    """Configured ``privacy_config.audit_key_file`` or ``<base_path>/keys/audit.key``.

    Raises ``ValueError`` when the key would live inside the analytics tree (readers of the data
    must not be able to recompute the chain).
    """
    configured = str(getattr(privacy_config, "audit_key_file", "") or "")
    base = Path(base_path)
    path = Path(configured) if configured else base / "keys" / "audit.key"
    analytics = (base / "analytics").resolve()
    resolved = path.resolve()
    if resolved == analytics or analytics in resolved.parents:
        raise ValueError(
            f"privacy_config.audit_key_file: {path} is inside the analytics tree {analytics}; "
            "keep the audit key outside it"
        )
    return path


def load_or_create_audit_key(path: str | os.PathLike[str]) -> tuple[bytes, str]:
    """Return ``(key, permission_problem)``; create a random 32-byte key (0600) if missing.

    Creation is race free across processes: the key is written to a private temp file and
    ``os.link``-ed into place (fails with EEXIST if another process won), so nobody ever reads a
    half-written key. ``permission_problem`` is ``""`` or a description (readable by group/other).
    """
    p = Path(path)
    if not p.exists():
        ff_publish_new_file(p, secrets.token_hex(32).encode() + b"\n")  # loses a race: reads the winner's
    st = os.stat(p)
    problem = ""
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        problem = f"{p} has mode {stat.S_IMODE(st.st_mode):04o}; group/other can access the audit key (want 0600)"
    raw = p.read_bytes().strip()
    if not raw:
        raise ValueError(f"audit key file {p} is empty")
    try:
        key = bytes.fromhex(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = raw
    if len(key) < 16:
        raise ValueError(f"audit key file {p}: key shorter than 16 bytes")
    return key, problem


# ---------------------------------------------------------------------------------------------- mac
class FFAuditMac:
    """HMAC-SHA256 with precomputed inner/outer states (3x faster than ``hmac.digest`` per call)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, (bytes, bytearray)) or not key:
            raise TypeError("key: expected non-empty bytes")
        k = bytes(key)
        if len(k) > 64:
            k = hashlib.sha256(k).digest()
        k = k.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in k))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in k))

    def hexdigest(self, data: bytes) -> str:
        h = self._inner.copy()
        h.update(data)
        o = self._outer.copy()
        o.update(h.digest())
        return o.hexdigest()


def seal_line(mac: FFAuditMac, body: bytes, domain: bytes = b"") -> tuple[bytes, str]:
    """``body`` is a compact JSON object; return ``(line with hmac member + newline, hmac hex)``."""
    digest = mac.hexdigest(domain + body if domain else body)
    return body[:-1] + _HMAC_PREFIX + digest.encode() + b'"}\n', digest


def unseal_line(line: bytes) -> tuple[bytes, bytes] | None:
    """Split a line (without newline) into ``(body, hmac hex bytes)``; None if not sealed-shaped."""
    if len(line) < _SUFFIX_LEN + 3 or line[-2:] != b'"}' or line[-_SUFFIX_LEN:-66] != _HMAC_PREFIX:
        return None
    return line[:-_SUFFIX_LEN] + b"}", line[-66:-2]


def check_sealed(mac: FFAuditMac, line: bytes, domain: bytes = b"") -> bool:
    parts = unseal_line(line)
    if parts is None:
        return False
    body, digest = parts
    return hmac.compare_digest(mac.hexdigest(domain + body if domain else body).encode(), digest)


def build_record_body(seq: int, prev_hash: str, entry: dict[str, Any]) -> bytes:
    """The canonical body: ``seq`` and ``prev_hash`` first, then the entry's fields in order."""
    rec: dict[str, Any] = {"seq": seq, "prev_hash": prev_hash}
    for k, v in entry.items():
        if k in ("seq", "prev_hash", "hmac"):
            raise ValueError(f"entry: field {k!r} is reserved by the audit chain")
        rec[k] = v
    return ff_dumps(rec)


def build_chain_lines(
    key: bytes, entries: Iterable[dict[str, Any]], start_seq: int = 1, prev_hash: str = GENESIS_HASH
) -> tuple[bytearray, int, str]:
    """Seal ``entries`` as consecutive chain records; returns ``(bytes, last seq, last hmac)``.

    Used by the writer, and by tests and benchmarks to build large logs without the lock.
    """
    mac = FFAuditMac(key)
    out = bytearray()
    seq = start_seq - 1
    for entry in entries:
        seq += 1
        line, prev_hash = seal_line(mac, build_record_body(seq, prev_hash, entry))
        out += line
    return out, seq, prev_hash


def sign_checkpoint(key: bytes | FFAuditMac, seq: int, head_hash: str, when: str) -> bytes:
    mac = key if isinstance(key, FFAuditMac) else FFAuditMac(key)
    body = ff_dumps({"seq": seq, "head_hash": head_hash, "time": when})
    return seal_line(mac, body, _CHECKPOINT_DOMAIN)[0]


def read_checkpoints(path: str | os.PathLike[str], key: bytes | FFAuditMac) -> tuple[list[dict[str, Any]], list[int]]:
    """Valid checkpoints (in file order) and the 1-based line numbers of invalid ones."""
    mac = key if isinstance(key, FFAuditMac) else FFAuditMac(key)
    good: list[dict[str, Any]] = []
    bad: list[int] = []
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return good, bad
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for i, line in enumerate(lines, 1):
        if i == len(lines) and not data.endswith(b"\n"):
            break  # torn tail of a crashed checkpoint write
        if not check_sealed(mac, line, _CHECKPOINT_DOMAIN):
            bad.append(i)
            continue
        good.append(orjson.loads(line))
    return good, bad


def sign_anchor(key: bytes | FFAuditMac, first_seq: int, prev_hash: str, when: str) -> dict[str, Any]:
    mac = key if isinstance(key, FFAuditMac) else FFAuditMac(key)
    body = {"first_seq": first_seq, "prev_hash": prev_hash, "time": when}
    return {**body, "hmac": mac.hexdigest(_ANCHOR_DOMAIN + ff_dumps(body))}


def read_anchor(path: str | os.PathLike[str], key: bytes | FFAuditMac) -> tuple[dict[str, Any] | None, bool]:
    """``(anchor or None, valid)``: the signed start of a retention-pruned chain."""
    mac = key if isinstance(key, FFAuditMac) else FFAuditMac(key)
    data = ff_read_json(path, default=None)
    if data is None:
        return None, True
    try:
        body = {"first_seq": int(data["first_seq"]), "prev_hash": str(data["prev_hash"]), "time": str(data["time"])}
        ok = hmac.compare_digest(mac.hexdigest(_ANCHOR_DOMAIN + ff_dumps(body)), str(data["hmac"]))
    except (KeyError, TypeError, ValueError):
        return data, False
    return data, ok


def repair_torn_tail(path: Path, fd: int | None = None) -> int:
    """Cut a torn final line back to the last newline, quarantining the bytes; returns bytes cut."""
    own = fd is None
    if own:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return 0
    assert fd is not None
    try:
        cut = ff_repair_torn_tail(fd, path)
        if cut:
            logger.warning("audit chain: repaired torn tail of %s (%d bytes quarantined)", path, cut)
        return cut
    finally:
        if own:
            os.close(fd)


def _last_records(path: Path) -> list[bytes]:
    """Complete lines at the end of ``path`` (plain: the last 64 KiB, more until it holds a complete
    line, so a record longer than the window cannot hide the head; gzip: whole file)."""
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            data = fh.read()
    else:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            window = 65536
            while True:
                start = max(0, size - window)
                fh.seek(start)
                data = fh.read(size - start)
                if start == 0:
                    break
                nl = data.find(b"\n")
                if nl >= 0 and data.find(b"\n", nl + 1) >= 0:  # a complete line after the cut
                    data = data[nl + 1 :]
                    break
                window *= 4
    lines = data.split(b"\n")
    lines.pop()  # after the last newline: empty or torn
    return lines


@dataclass(slots=True)
class FFChainHeadDTO:
    seq: int
    hash: str
    day: date | None


# ---------------------------------------------------------------------------------------------- writer
class FFAuditChainWriter:
    """Append audit records to the shared chain under an exclusive lock (one total order)."""

    def __init__(
        self,
        analytics_path: str | os.PathLike[str],
        key: bytes,
        *,
        clock: FFClock | None = None,
        checkpoint_every: int = 1000,
        fsync: bool = True,
    ) -> None:
        if not isinstance(checkpoint_every, int) or isinstance(checkpoint_every, bool) or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every: must be an int >= 1, got {checkpoint_every!r}")
        self.analytics_path = Path(analytics_path)
        self.compliance_path = self.analytics_path / "compliance"
        self.audit_dir = self.compliance_path / "audit_logs"
        self.checkpoint_path = self.compliance_path / CHECKPOINT_FILE
        self.anchor_path = self.compliance_path / ANCHOR_FILE
        self.lock_path = self.compliance_path / LOCK_FILE
        self.mac = FFAuditMac(key)
        self.clock = clock or FFClock()
        self.checkpoint_every = checkpoint_every
        self.fsync = fsync
        self.records_appended = 0
        self.checkpoints_written = 0
        self.torn_tails_repaired = 0
        self.durability_failures = 0
        self._unsure: tuple[Path, int] | None = None
        self._lock_fd: int | None = None
        self._tlock = threading.RLock()
        self._depth = 0

    # -------------------------------------------------------------- locking
    def _lock(self) -> int:
        """Exclusive across processes (flock) and threads (RLock); re-entrant in one thread."""
        self._tlock.acquire()
        try:
            if self._depth == 0:
                if self._lock_fd is None:
                    self.compliance_path.mkdir(parents=True, exist_ok=True)
                    self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        except BaseException:
            self._tlock.release()
            raise
        self._depth += 1
        assert self._lock_fd is not None
        return self._lock_fd

    def _unlock(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            self._tlock.release()

    def after_fork(self) -> None:
        """Child of ``os.fork()``: drop the inherited lock descriptor without unlocking (it shares the
        parent's open file description, so it would neither exclude the parent nor be safe to unlock)."""
        if self._lock_fd is not None:
            try:
                os.close(self._lock_fd)
            except OSError:
                pass
        self._lock_fd = None
        self._tlock = threading.RLock()
        self._depth = 0
        self._unsure = None
        self.durability_failures = 0

    def close(self) -> None:
        with self._tlock:
            if self._lock_fd is not None and self._depth == 0:
                os.close(self._lock_fd)
                self._lock_fd = None

    def locked(self) -> _ChainLock:
        """Context manager holding the chain lock (used by compaction of audit days)."""
        return _ChainLock(self)

    # -------------------------------------------------------------- head
    def _head(self) -> FFChainHeadDTO:
        """Read the head of the chain from the newest day file (call with the lock held)."""
        for day, ddir in reversed(audit_day_dirs(self.audit_dir)):
            for f in reversed(audit_day_files(ddir)):
                if f.name == AUDIT_FILE:
                    self.torn_tails_repaired += bool(repair_torn_tail(f))
                for line in reversed(_last_records(f)):
                    try:
                        rec = orjson.loads(line)
                        return FFChainHeadDTO(int(rec["seq"]), str(rec["hmac"]), day)
                    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                        logger.error("audit chain: unparseable record near the head in %s", f)
                        continue
        anchor, ok = read_anchor(self.anchor_path, self.mac)
        if anchor is not None and ok:
            return FFChainHeadDTO(int(anchor["first_seq"]) - 1, str(anchor["prev_hash"]), None)
        return FFChainHeadDTO(0, GENESIS_HASH, None)

    def head(self) -> FFChainHeadDTO:
        self._lock()
        try:
            return self._head()
        finally:
            self._unlock()

    # -------------------------------------------------------------- append
    def append(self, entry: dict[str, Any]) -> int:
        """Append one record; returns its sequence number. Raises OSError on I/O failure."""
        return self.append_many([entry])[-1]

    def append_many(self, entries: list[dict[str, Any]]) -> list[int]:
        """Append records under one lock, one write and one fsync; returns their sequence numbers."""
        if not entries:
            return []
        for i, e in enumerate(entries):
            if not isinstance(e, dict):
                raise TypeError(f"entries[{i}]: expected dict, got {type(e).__name__}")
        self._lock()
        try:
            head = self._head()
            today = self.clock.now().date()
            day = today if head.day is None or today >= head.day else head.day
            ddir = self.audit_dir / f"date={day.isoformat()}"
            # never append behind a compacted form of the same day (clock skew between processes)
            while (ddir / MANIFEST).exists() or any(
                n.startswith(COMPACTED_PREFIX) for n in _listdir(ddir)
            ):
                day = date.fromordinal(day.toordinal() + 1)
                ddir = self.audit_dir / f"date={day.isoformat()}"
            seqs: list[int] = []
            if self._unsure is not None:  # a failed write may have left some of these records
                seqs = self._already_written(entries)
                entries = entries[len(seqs):]
                if not entries:
                    return seqs
                head = self._head()
            data = bytearray()
            seq, prev = head.seq, head.hash
            for entry in entries:
                seq += 1
                line, prev = seal_line(self.mac, build_record_body(seq, prev, entry))
                data += line
                seqs.append(seq)
            self._write(ddir, data)
            self.records_appended += len(entries)
            if seq // self.checkpoint_every > head.seq // self.checkpoint_every:
                try:
                    self._write_checkpoint(seq, prev)
                except OSError as exc:  # the records are written; the next checkpoint covers them
                    self.durability_failures += 1
                    logger.error("audit chain: checkpoint at seq %d failed: %s", seq, exc)
            return seqs
        finally:
            self._unlock()

    def _already_written(self, entries: list[dict[str, Any]]) -> list[int]:
        """Sequence numbers of the leading ``entries`` that a failed write left complete in the file
        (it could not be truncated back), so a retry never appends them twice."""
        path, start = self._unsure  # type: ignore[misc]
        self._unsure = None
        self.torn_tails_repaired += bool(repair_torn_tail(path))
        try:
            with open(path, "rb") as fh:
                fh.seek(start)
                lines = fh.read().split(b"\n")[:-1]
        except FileNotFoundError:
            return []
        seqs: list[int] = []
        for line in lines:
            if len(seqs) == len(entries):
                break
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                break
            if {k: v for k, v in rec.items() if k not in _CHAIN_FIELDS} != orjson.loads(ff_dumps(entries[len(seqs)])):
                break
            seqs.append(int(rec["seq"]))
        if seqs:
            logger.warning("audit chain: %d record(s) of a failed write were complete; not rewritten", len(seqs))
        return seqs

    def _write(self, ddir: Path, data: bytes | bytearray) -> None:
        """Append ``data`` to the day's file. Raises OSError only when the records are not in the file
        (a failed write is cut back; if even that fails, the next append skips what landed)."""
        created_dir = not ddir.exists()
        if created_dir:
            ddir.mkdir(parents=True, exist_ok=True)
            ff_fsync_dir(ddir.parent)
        path = ddir / AUDIT_FILE
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.fstat(fd).st_size
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(fd, view) :]
                if self.fsync:
                    os.fsync(fd)
            except OSError:
                try:
                    os.ftruncate(fd, start)
                except OSError:
                    if not view:  # written completely, only the fsync failed: keep them, not durable
                        self.durability_failures += 1
                        logger.error("audit chain: fsync of %s failed; records written, not durable", path)
                        return
                    self._unsure = (path, start)
                    logger.error("audit chain: could not truncate %s after a failed write", path)
                raise
        finally:
            os.close(fd)
        if created and self.fsync:
            try:
                ff_fsync_dir(ddir)
            except OSError as exc:  # the records are in the file; only the new entry's durability is open
                self.durability_failures += 1
                logger.error("audit chain: fsync of %s failed: %s", ddir, exc)

    # -------------------------------------------------------------- checkpoints
    def _write_checkpoint(self, seq: int, head_hash: str) -> dict[str, Any]:
        line = sign_checkpoint(self.mac, seq, head_hash, ff_iso(self.clock.now()))
        fd = os.open(self.checkpoint_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                os.ftruncate(fd, size - _torn_len(fd, size))  # torn checkpoint from a crash
            os.write(fd, line)
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self.checkpoints_written += 1
        return orjson.loads(line)

    def write_checkpoint(self) -> dict[str, Any] | None:
        """Sign the current head into the checkpoint file unless it is already checkpointed."""
        self._lock()
        try:
            head = self._head()
            if head.seq == 0:
                return None
            last = _last_checkpoint_seq(self.checkpoint_path)
            if last is not None and last >= head.seq:
                return None
            return self._write_checkpoint(head.seq, head.hash)
        finally:
            self._unlock()

    def write_anchor(self, first_seq: int, prev_hash: str) -> None:
        """Record the signed start of the chain after retention removed older days (lock held)."""
        ff_write_json(self.anchor_path, sign_anchor(self.mac, first_seq, prev_hash, ff_iso(self.clock.now())))


class _ChainLock:
    def __init__(self, writer: FFAuditChainWriter) -> None:
        self.writer = writer

    def __enter__(self) -> FFAuditChainWriter:
        self.writer._lock()
        return self.writer

    def __exit__(self, *exc: object) -> None:
        self.writer._unlock()


def _listdir(p: Path) -> list[str]:
    try:
        return os.listdir(p)
    except FileNotFoundError:
        return []


def _torn_len(fd: int, size: int) -> int:
    start = max(0, size - 65536)
    chunk = os.pread(fd, size - start, start)
    i = chunk.rfind(b"\n")
    return len(chunk) - (i + 1) if i >= 0 else len(chunk)


def _last_checkpoint_seq(path: Path) -> int | None:
    try:
        lines = _last_records(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    for line in reversed(lines):
        try:
            return int(orjson.loads(line)["seq"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return None
