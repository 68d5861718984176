"""Verify the keyed audit chain and classify the first fault.

Kinds (``FFAuditVerificationDTO.kind``):

- ``ok``: every record verifies, links to its predecessor, and agrees with every signed checkpoint.
- ``torn_tail``: the chain verifies, but the last file ends in an unterminated partial record: a
  writer crashed mid-append. Not tampering (``tampered`` is False); the next append repairs it.
- ``modified``: a record's bytes changed (HMAC mismatch or unparseable line); ``first_bad_seq`` is the
  sequence number expected at that position.
- ``forged``: consecutive records link to each other but none carries a valid HMAC: the chain was
  recomputed without the key; ``first_bad_seq`` is the first forged position.
- ``deleted``: a valid record follows a gap; ``first_bad_seq`` is the first missing sequence number.
- ``inserted``: a line that does not belong (a fabricated or replayed record, or a record of another
  chain); without it the chain continues. ``first_bad_seq`` is the seq the line claims (or None).
- ``reordered``: a valid record appears before its turn and the expected one appears later;
  ``first_bad_seq`` is the seq of the record found out of place.
- ``truncated``: the chain ends before, or diverges from, the last signed checkpoint
  (``first_bad_seq`` is the first missing or diverging sequence number).
"""

from __future__ import annotations

import bisect
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

from ff_utils.ff_analytics_compliance.ff_audit_chain import (
    ANCHOR_FILE,
    AUDIT_FILE,
    CHECKPOINT_FILE,
    GENESIS_HASH,
    FFAuditMac,
    audit_day_dirs,
    audit_day_files,
    check_sealed,
    read_anchor,
    read_checkpoints,
)
from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_jsonl_reader import FFStoreCorruptionError
from ff_utils.ff_analytics_core.ff_logging import get_logger

logger = get_logger(__name__)

FAULT_KINDS = ("modified", "deleted", "inserted", "reordered", "truncated", "torn_tail", "forged")
_PREFIX = b',"hmac":"'


@dataclass(slots=True)
class FFAuditVerificationDTO:
    """Result of one verification run."""

    ok: bool = True
    tampered: bool = False
    kind: str = "ok"
    message: str = ""
    records: int = 0
    first_seq: int = 1
    last_seq: int = 0
    head_hash: str = ""
    first_bad_seq: int | None = None
    expected_seq: int | None = None
    found_seq: int | None = None
    file: str = ""
    line: int | None = None
    files: int = 0
    checkpoints: int = 0
    last_checkpoint_seq: int | None = None
    bad_checkpoint_lines: list[int] = field(default_factory=list)
    anchor_valid: bool = True
    elapsed_seconds: float = 0.0
    records_per_second: float = 0.0
    verified_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _mac_parts(mac: FFAuditMac) -> tuple[Any, Any]:
    return mac._inner, mac._outer


def _valid(mac: FFAuditMac, line: bytes) -> tuple[int, bytes, bytes] | None:
    """``(seq, prev_hash, hmac)`` of a line with a valid HMAC, else None."""
    if not check_sealed(mac, line):
        return None
    c = line.find(b",", 7)
    try:
        return int(line[7:c]), line[c + 14 : c + 78], line[-66:-2]
    except ValueError:
        return None


def _claimed(line: bytes) -> dict[str, Any] | None:
    """The parsed record of an unverified line when it looks like a chain record."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if isinstance(rec, dict) and isinstance(rec.get("seq"), int) and isinstance(rec.get("hmac"), str):
        return rec
    return None


def _continues(mac: FFAuditMac, lines: list[bytes], i: int, expected: int, prev: bytes, k: int = 3) -> bool:
    """True if ``lines[i:i+k]`` (at least one line) verify as the chain's continuation."""
    if i >= len(lines):
        return False
    for line in lines[i : i + k]:
        v = _valid(mac, line)
        if v is None or v[0] != expected or v[1] != prev:
            return False
        expected += 1
        prev = v[2]
    return True


def verify_lines(
    mac: FFAuditMac,
    lines: list[bytes],
    *,
    tail: bytes = b"",
    start_index: int = 0,
    start_seq: int = 1,
    start_prev: str = GENESIS_HASH,
    checkpoints: dict[int, str] | None = None,
    result: FFAuditVerificationDTO | None = None,
    final: bool = True,
) -> tuple[FFAuditVerificationDTO, int | None]:
    """Verify complete ``lines`` (no newlines) from ``start_index`` with the chain state there.

    ``tail`` is an unterminated final fragment (possible torn tail). Returns the result and the
    index of the first bad line (None when there is none). Resuming from a verified prefix's state
    gives the same answer as verifying from the start (used for incremental tamper tests and to
    verify one file at a time). With ``final=False`` the lines are not the end of the log: no
    classification, tail or checkpoint-truncation checks; the result holds the state reached.
    """
    res = result or FFAuditVerificationDTO()
    cps = {int(s): h.encode() for s, h in (checkpoints or {}).items()}
    inner, outer = _mac_parts(mac)
    expected = start_seq
    prev = start_prev.encode()
    n = len(lines)
    bad: int | None = None
    cp_diverged = False
    icopy, ocopy = inner.copy, outer.copy
    # Fast path: the MAC covers everything but the ',"hmac":"<hex>"}' suffix, whose fixed bytes are
    # compared; then one startswith checks seq and the link to the previous record.
    for i in range(start_index, n):
        line = lines[i]
        h = icopy()
        h.update(line[:-75] + b"}")
        o = ocopy()
        o.update(h.digest())
        digest = line[-66:-2]
        if (
            o.hexdigest().encode() != digest
            or line[-75:-66] != _PREFIX  # the bytes around the hmac value are not under the MAC
            or line[-2:] != b'"}'
            or not line.startswith(b'{"seq":%d,"prev_hash":"%b"' % (expected, prev))
        ):
            bad = i
            break
        if cps and expected in cps and cps[expected] != digest:
            bad, cp_diverged = i, True
            break
        prev = digest
        expected += 1
    res.first_seq = start_seq
    res.records = expected - start_seq
    res.last_seq = expected - 1
    res.head_hash = prev.decode()
    if not final:
        return res, bad
    if bad is not None:
        if cp_diverged:
            _set_fault(res, "truncated", expected, expected=expected, found=expected,
                       message=f"record {expected} differs from the signed checkpoint: the chain was "
                       "cut back and re-extended (or rewritten with the key)")
        else:
            _classify(mac, lines, bad, expected, prev, res)
        return res, bad
    if tail:
        _classify_tail(mac, tail, expected, prev, res)
        if res.kind == "modified":
            return res, n
    last_cp = max(cps) if cps else None
    if last_cp is not None and last_cp > res.last_seq:
        _set_fault(res, "truncated", res.last_seq + 1, expected=expected, found=None,
                   message=f"chain ends at seq {res.last_seq} but a signed checkpoint covers seq {last_cp}")
        return res, n
    return res, (n if res.kind != "ok" else None)


def _set_fault(
    res: FFAuditVerificationDTO, kind: str, first_bad: int | None, *, expected: int | None,
    found: int | None, message: str,
) -> None:
    res.kind = kind
    res.ok = kind == "torn_tail"
    res.tampered = kind != "torn_tail"
    res.first_bad_seq = first_bad
    res.expected_seq = expected
    res.found_seq = found
    res.message = message


def _classify(mac: FFAuditMac, lines: list[bytes], i: int, expected: int, prev: bytes, res: FFAuditVerificationDTO) -> None:
    line = lines[i]
    v = _valid(mac, line)
    claimed = _claimed(line) if v is None else None
    found = v[0] if v is not None else (claimed["seq"] if claimed else None)
    if _continues(mac, lines, i + 1, expected, prev):
        _set_fault(res, "inserted", found, expected=expected, found=found,
                   message=f"a line that does not belong sits before seq {expected}; without it the chain continues")
        return
    if v is None:
        if claimed is not None and i + 1 < len(lines):
            nxt = _claimed(lines[i + 1])
            if (
                nxt is not None
                and _valid(mac, lines[i + 1]) is None
                and nxt.get("prev_hash") == claimed["hmac"]
                and nxt["seq"] == claimed["seq"] + 1
            ):
                _set_fault(res, "forged", expected, expected=expected, found=found,
                           message=f"records from seq {expected} link to each other but fail the keyed HMAC: "
                           "the chain was recomputed without the key")
                return
        _set_fault(res, "modified", expected, expected=expected, found=found,
                   message=f"record at seq {expected} fails its keyed HMAC (bytes changed)")
        return
    seq, rprev, _digest = v
    if seq < expected:
        _set_fault(res, "inserted", seq, expected=expected, found=seq,
                   message=f"seq {seq} appears again where seq {expected} was expected (replayed/duplicated record)")
        return
    if seq == expected and rprev != prev:
        _set_fault(res, "inserted", seq, expected=expected, found=seq,
                   message=f"seq {seq} carries a valid HMAC but links to another chain")
        return
    for later in lines[i + 1 :]:
        lv = _valid(mac, later)
        if lv is not None and lv[0] == expected:
            _set_fault(res, "reordered", seq, expected=expected, found=seq,
                       message=f"seq {seq} appears where seq {expected} was expected; seq {expected} comes later")
            return
    _set_fault(res, "deleted", expected, expected=expected, found=seq,
               message=f"records {expected}..{seq - 1} are missing (seq {seq} follows seq {expected - 1})")


def _classify_tail(mac: FFAuditMac, tail: bytes, expected: int, prev: bytes, res: FFAuditVerificationDTO) -> None:
    # A torn write is a prefix of '{"seq":...}\n': it can never continue after a complete record.
    if len(tail) > 1 and check_sealed(mac, tail[:-1]):
        _set_fault(res, "modified", expected, expected=expected, found=None,
                   message=f"record at seq {expected} is followed by a corrupted line terminator")
        return
    v = _valid(mac, tail)
    if v is not None and v[0] == expected and v[1] == prev:
        _set_fault(res, "torn_tail", None, expected=expected, found=expected,
                   message=f"record {expected} was written without its newline (crash); not tampering")
        return
    start = b'{"seq":'
    if v is None and (tail.startswith(start) or start.startswith(tail)) and _claimed(tail) is None:
        _set_fault(res, "torn_tail", None, expected=expected, found=None,
                   message=f"an incomplete record ({len(tail)} bytes) ends the log: a writer crashed mid-append; "
                   "not tampering")
        return
    _set_fault(res, "modified", expected, expected=expected, found=None,
               message=f"the unterminated last line at seq {expected} is not a torn record")


class FFAuditVerifier:
    """Verify ``compliance/audit_logs`` against the key and the signed checkpoints."""

    def __init__(
        self,
        analytics_path: str | os.PathLike[str],
        key: bytes,
        *,
        checkpoint_path: str | os.PathLike[str] | None = None,
        clock: FFClock | None = None,
    ) -> None:
        self.analytics_path = Path(analytics_path)
        self.compliance_path = self.analytics_path / "compliance"
        self.audit_dir = self.compliance_path / "audit_logs"
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else self.compliance_path / CHECKPOINT_FILE
        self.anchor_path = self.compliance_path / ANCHOR_FILE
        self.mac = FFAuditMac(key)
        self.clock = clock or FFClock()

    def verify(self) -> FFAuditVerificationDTO:
        t0 = time.perf_counter()
        res = FFAuditVerificationDTO(verified_at=ff_iso(self.clock.now()))
        cps, bad_cps = read_checkpoints(self.checkpoint_path, self.mac)
        res.checkpoints = len(cps)
        res.bad_checkpoint_lines = bad_cps
        start_seq, start_prev = 1, GENESIS_HASH
        anchor, anchor_ok = read_anchor(self.anchor_path, self.mac)
        res.anchor_valid = anchor_ok
        if anchor is not None and anchor_ok:
            start_seq, start_prev = int(anchor["first_seq"]), str(anchor["prev_hash"])
        cp_map = {int(c["seq"]): str(c["head_hash"]) for c in cps if int(c["seq"]) >= start_seq}
        res.last_checkpoint_seq = max(cp_map) if cp_map else None
        # One file in memory at a time: every file but the last is verified with final=False and
        # only its end state is kept. After the first fault, the rest of the log is loaded so the
        # fault can be classified (reordered vs deleted needs to look ahead).
        lines: list[bytes] = []
        bounds: list[int] = []
        offsets: list[int] = []
        names: list[str] = []
        tail = b""
        corrupt = ""
        seq, prev = start_seq, start_prev
        faulted = False
        files = [f for _day, d in audit_day_dirs(self.audit_dir) for f in audit_day_files(d)]
        res.files = len(files)
        for idx, f in enumerate(files):
            try:
                data = _read_file(f)
            except FileNotFoundError:
                continue
            except FFStoreCorruptionError as exc:
                corrupt = str(exc)
                data = exc.args[1] if len(exc.args) > 1 else b""
            parts = data.split(b"\n")
            del data
            last_piece = parts.pop()
            is_last = idx == len(files) - 1
            if last_piece:
                if is_last:
                    tail = last_piece
                else:
                    parts.append(last_piece)  # an unterminated line mid-chain is not a crash artefact
            offset = 0
            if not faulted and not is_last:
                part_res, bad = verify_lines(self.mac, parts, start_seq=seq, start_prev=prev,
                                             checkpoints=cp_map, final=False)
                seq, prev = part_res.last_seq + 1, part_res.head_hash
                if bad is None:
                    continue
                faulted = True
                offset = bad
                parts = parts[bad:]
            bounds.append(len(lines))
            offsets.append(offset)
            names.append(str(f))
            lines.extend(parts)
        res, bad = verify_lines(
            self.mac, lines, tail=tail, start_seq=seq, start_prev=prev, checkpoints=cp_map, result=res
        )
        res.first_seq = start_seq
        res.records = res.last_seq - start_seq + 1
        if bad is not None and names:
            if bad >= len(lines):
                res.file = names[-1]
                res.line = offsets[-1] + (len(lines) - bounds[-1]) + 1  # the tail line, or where the next record belongs
            else:
                j = bisect.bisect_right(bounds, bad) - 1
                res.file, res.line = names[j], offsets[j] + bad - bounds[j] + 1
        if corrupt and res.kind == "ok":
            _set_fault(res, "modified", res.last_seq + 1, expected=res.last_seq + 1, found=None,
                       message=f"compressed audit file is corrupt: {corrupt}")
        if bad_cps and res.kind == "ok":
            res.ok = False
            res.tampered = True
            res.kind = "modified"
            res.message = f"checkpoint file lines {bad_cps[:5]} fail their signature"
        if anchor is not None and not anchor_ok and res.kind == "ok":
            _set_fault(res, "modified", None, expected=None, found=None,
                       message=f"{ANCHOR_FILE} fails its signature")
        if res.kind == "ok":
            res.message = f"{res.records} records verified; head seq {res.last_seq}"
        res.elapsed_seconds = time.perf_counter() - t0
        res.records_per_second = round(res.records / res.elapsed_seconds) if res.elapsed_seconds > 0 else 0.0
        return res


def _read_file(path: Path) -> bytes:
    if path.name.endswith(".gz"):
        import gzip
        import zlib

        try:
            with gzip.open(path, "rb") as fh:
                return fh.read()
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise FFStoreCorruptionError(f"{path}: corrupt or truncated gzip ({exc})", b"") from exc
    with open(path, "rb") as fh:
        return fh.read()


__all__ = [
    "AUDIT_FILE",
    "FAULT_KINDS",
    "FFAuditVerificationDTO",
    "FFAuditVerifier",
    "verify_lines",
]
