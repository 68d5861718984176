"""Audit chain: tamper matrix, torn tails, key handling, multi-process total order."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from ff_utils.ff_analytics_compliance.ff_audit_chain import (
    AUDIT_FILE,
    CHECKPOINT_FILE,
    GENESIS_HASH,
    FFAuditChainWriter,
    FFAuditMac,
    audit_key_path,
    build_chain_lines,
    load_or_create_audit_key,
    read_checkpoints,
)
from ff_utils.ff_analytics_compliance.ff_audit_verifier import FFAuditVerifier, verify_lines
from ff_utils.ff_analytics_core.ff_clock import FFManualClock

N_RECORDS = 10_000
FLIPS = int(os.environ.get("FF_TEST_TAMPER_FLIPS", "5000"))
ROOT = Path(__file__).resolve().parents[2]


def _entry(i: int) -> dict:
    return {
        "timestamp": f"2026-11-22T10:{i // 600 % 60:02d}:{i // 10 % 60:02d}.{i:06d}Z",
        "actor": "system" if i % 3 else "admin",
        "action": ("retention_delete", "export", "consent_change", "alert_acknowledge")[i % 4],
        "target": f"system_metrics/performance/date=2026-01-{i % 28 + 1:02d}",
        "outcome": "success",
        "details": {"records": i * 7 % 1000, "bytes": i * 131},
    }


@pytest.fixture(scope="module")
def audit_log(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 10,000-record chain written by the real writer (10 locked batches, checkpoint every 1000)."""
    base = tmp_path_factory.mktemp("audit")
    key, problem = load_or_create_audit_key(base / "keys" / "audit.key")
    assert problem == ""
    clock = FFManualClock(datetime(2026, 11, 22, 10, tzinfo=UTC))
    w = FFAuditChainWriter(base / "analytics", key, clock=clock, checkpoint_every=1000)
    for b in range(10):
        w.append_many([_entry(i) for i in range(b * 1000, (b + 1) * 1000)])
    w.close()
    path = base / "analytics" / "compliance" / "audit_logs" / "date=2026-11-22" / AUDIT_FILE
    return {"base": base, "key": key, "path": path, "data": path.read_bytes()}


def _verify_file(log: dict, data: bytes) -> object:
    log["path"].write_bytes(data)
    return FFAuditVerifier(log["base"] / "analytics", log["key"]).verify()


@pytest.fixture()
def restore(audit_log: dict):
    yield audit_log
    audit_log["path"].write_bytes(audit_log["data"])


def _lines(data: bytes) -> list[bytes]:
    parts = data.split(b"\n")
    assert parts.pop() == b""
    return parts


def test_clean_log_verifies_with_checkpoints(restore: dict) -> None:
    res = FFAuditVerifier(restore["base"] / "analytics", restore["key"]).verify()
    assert res.kind == "ok" and res.ok and not res.tampered, res.message
    assert res.records == N_RECORDS and res.last_seq == N_RECORDS
    assert res.checkpoints == 10 and res.last_checkpoint_seq == N_RECORDS
    assert res.records_per_second > 0
    recs = [orjson.loads(x) for x in _lines(restore["data"])]
    assert [r["seq"] for r in recs] == list(range(1, N_RECORDS + 1))
    assert recs[0]["prev_hash"] == GENESIS_HASH
    assert all(recs[i]["prev_hash"] == recs[i - 1]["hmac"] for i in range(1, N_RECORDS))
    assert recs[1234]["details"] == {"records": 1234 * 7 % 1000, "bytes": 1234 * 131}


def test_bit_flips_detected_and_named(restore: dict) -> None:
    """FLIPS single-bit flips, one at a time; each verified by resuming from the untouched prefix's
    chain state (same core as a full run), and the first 40 also by a full file verification."""
    data = restore["data"]
    mac = FFAuditMac(restore["key"])
    clean = _lines(data)
    offsets = [0]
    for ln in clean:
        offsets.append(offsets[-1] + len(ln) + 1)
    hmacs = [ln[-66:-2].decode() for ln in clean]
    cps = {s: hmacs[s - 1] for s in range(1000, N_RECORDS + 1, 1000)}
    rng = random.Random(7)
    t0 = time.perf_counter()
    for n in range(FLIPS):
        pos = rng.randrange(len(data))
        bit = 1 << rng.randrange(8)
        k = _line_of(offsets, pos)
        expected_seq = k + 1
        if n < 40:
            mutated = bytearray(data)
            mutated[pos] ^= bit
            res = _verify_file(restore, bytes(mutated))
        else:
            end = offsets[min(k + 2, len(clean))]
            region = bytearray(data[offsets[k]:end])
            region[pos - offsets[k]] ^= bit
            tail = b""
            pieces = bytes(region).split(b"\n")
            last = pieces.pop()
            if last:  # only when the final newline of the log was flipped
                tail = last
            lines = clean[:k] + pieces + clean[min(k + 2, len(clean)):]
            res, _ = verify_lines(
                mac, lines, tail=tail, start_index=k, start_seq=k + 1,
                start_prev=hmacs[k - 1] if k else GENESIS_HASH, checkpoints=cps,
            )
        assert res.tampered and not res.ok, f"flip {n} at byte {pos} bit {bit} undetected"
        assert res.kind in ("modified", "forged", "truncated"), (n, pos, res.kind, res.message)
        assert res.first_bad_seq == expected_seq, (n, pos, res.kind, res.first_bad_seq, expected_seq)
    elapsed = time.perf_counter() - t0
    print(f"\n{FLIPS} bit flips verified in {elapsed:.2f}s")


def _line_of(offsets: list[int], pos: int) -> int:
    import bisect

    return bisect.bisect_right(offsets, pos) - 1


@pytest.mark.parametrize(
    "case,kind,first_bad",
    [
        ("delete", "deleted", 5000),
        ("delete_first", "deleted", 1),
        ("swap_adjacent", "reordered", 5001),
        ("swap_far", "reordered", 9000),
        ("duplicate", "inserted", 5000),
        ("insert_fabricated", "inserted", 5000),
        ("truncate", "truncated", 9901),
        ("truncate_to_empty", "truncated", 1),
        ("forged_all", "forged", 1),
        ("forged_from_middle", "forged", 4000),
        ("modify_last", "modified", 10000),
    ],
)
def test_tamper_matrix(restore: dict, case: str, kind: str, first_bad: int) -> None:
    lines = _lines(restore["data"])
    if case == "delete":
        del lines[4999]
    elif case == "delete_first":
        del lines[0]
    elif case == "swap_adjacent":
        lines[4999], lines[5000] = lines[5000], lines[4999]
    elif case == "swap_far":
        lines[99], lines[8999] = lines[8999], lines[99]
        first_bad = 9000
    elif case == "duplicate":
        lines.insert(5000, lines[4999])
    elif case == "insert_fabricated":
        fake = orjson.loads(lines[4999])
        fake["details"] = {"records": 1}
        lines.insert(4999, orjson.dumps(fake))
    elif case == "truncate":
        lines = lines[:9900]
    elif case == "truncate_to_empty":
        lines = []
    elif case == "forged_all":
        data, _, _ = build_chain_lines(os.urandom(32), [_entry(i) for i in range(N_RECORDS)])
        lines = _lines(bytes(data))
    elif case == "forged_from_middle":
        prev = orjson.loads(lines[3998])["hmac"]
        entries = [_entry(i) for i in range(3999, N_RECORDS)]
        entries[0]["outcome"] = "failure"
        data, _, _ = build_chain_lines(os.urandom(32), entries, start_seq=4000, prev_hash=prev)
        lines = lines[:3999] + _lines(bytes(data))
    elif case == "modify_last":
        lines[-1] = lines[-1].replace(b'"outcome":"success"', b'"outcome":"failure"')
    res = _verify_file(restore, b"".join(x + b"\n" for x in lines))
    assert res.tampered and not res.ok
    assert res.kind == kind, (res.kind, res.message)
    assert res.first_bad_seq == first_bad, (res.first_bad_seq, res.message)
    if lines:
        assert res.file.endswith(AUDIT_FILE) and res.line is not None


def test_torn_tail_is_not_tampering_and_writer_repairs_it(restore: dict) -> None:
    data = restore["data"]
    base, key = restore["base"], restore["key"]
    fragment = b'{"seq":10001,"prev_hash":"' + data[-67:-3] + b'","timestamp":"2026-11-22T1'
    res = _verify_file(restore, data + fragment)
    assert res.kind == "torn_tail" and res.ok and not res.tampered, res.message
    assert res.records == N_RECORDS
    # a complete record missing only its newline is a torn tail too
    full, _, _ = build_chain_lines(key, [_entry(10000)], start_seq=10001, prev_hash=data[-67:-3].decode())
    res = _verify_file(restore, data + bytes(full)[:-1])
    assert res.kind == "torn_tail" and not res.tampered
    # the next append cuts the tail back (quarantined) and continues the chain
    w = FFAuditChainWriter(base / "analytics", key, clock=FFManualClock(datetime(2026, 11, 22, 11, tzinfo=UTC)),
                           checkpoint_every=1000)
    assert w.append({"timestamp": "2026-11-22T11:00:00.000000Z", "action": "after_crash"}) == 10001
    w.close()
    res = FFAuditVerifier(base / "analytics", key).verify()
    assert res.kind == "ok" and res.records == 10001, res.message
    q = restore["path"].parent / "_quarantine"
    assert any(p.read_bytes() == bytes(full)[:-1] for p in q.iterdir())
    for p in q.iterdir():
        p.unlink()


def test_flipped_final_newline_is_modified_not_torn(restore: dict) -> None:
    data = bytearray(restore["data"])
    data[-1] ^= 0x20
    res = _verify_file(restore, bytes(data))
    assert res.kind == "modified" and res.first_bad_seq == N_RECORDS


def test_tampered_checkpoint_file_is_reported(restore: dict) -> None:
    cp = restore["base"] / "analytics" / "compliance" / CHECKPOINT_FILE
    original = cp.read_bytes()
    try:
        cp.write_bytes(original.replace(b'"seq":5000', b'"seq":5001', 1))
        good, bad = read_checkpoints(cp, restore["key"])
        assert bad == [5] and len(good) == 9
        res = FFAuditVerifier(restore["base"] / "analytics", restore["key"]).verify()
        assert res.tampered and res.bad_checkpoint_lines == [5]
    finally:
        cp.write_bytes(original)


def test_key_file_created_0600_and_permission_problem_reported(tmp_path: Path) -> None:
    p = tmp_path / "keys" / "audit.key"
    key, problem = load_or_create_audit_key(p)
    assert len(key) == 32 and problem == ""
    assert (os.stat(p).st_mode & 0o777) == 0o600
    again, _ = load_or_create_audit_key(p)
    assert again == key
    os.chmod(p, 0o644)
    _, problem = load_or_create_audit_key(p)
    assert "0644" in problem


def test_key_inside_analytics_tree_is_rejected(tmp_path: Path) -> None:
    class Privacy:
        audit_key_file = str(tmp_path / "analytics" / "compliance" / "k.key")

    with pytest.raises(ValueError, match="audit_key_file"):
        audit_key_path(tmp_path, Privacy())
    assert audit_key_path(tmp_path, None) == tmp_path / "keys" / "audit.key"


def test_writer_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="checkpoint_every"):
        FFAuditChainWriter(tmp_path, b"k" * 32, checkpoint_every=0)
    w = FFAuditChainWriter(tmp_path, b"k" * 32)
    with pytest.raises(TypeError, match=r"entries\[0\]"):
        w.append_many(["nope"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="reserved"):
        w.append({"seq": 3})


def test_chain_crosses_days_and_skips_compacted_day(tmp_path: Path) -> None:
    key = b"x" * 32
    clock = FFManualClock(datetime(2026, 1, 1, 12, tzinfo=UTC))
    w = FFAuditChainWriter(tmp_path / "analytics", key, clock=clock, checkpoint_every=5)
    for d in range(4):
        w.append_many([{"timestamp": "t", "day": d, "i": i} for i in range(3)])
        clock.advance(days=1)
    # a process whose clock lags behind the head day never writes behind it
    lagging = FFAuditChainWriter(tmp_path / "analytics", key, clock=FFManualClock(datetime(2026, 1, 2, tzinfo=UTC)))
    lagging.append({"timestamp": "t", "lagging": True})
    res = FFAuditVerifier(tmp_path / "analytics", key).verify()
    assert res.kind == "ok" and res.records == 13 and res.files == 4, res.message
    assert w.write_checkpoint() is not None and w.write_checkpoint() is None
    cps, _ = read_checkpoints(tmp_path / "analytics" / "compliance" / CHECKPOINT_FILE, key)
    assert [c["seq"] for c in cps] == [6, 12, 13]


_CHILD = r"""
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from ff_utils.ff_analytics_compliance.ff_audit_chain import FFAuditChainWriter
w = FFAuditChainWriter(Path({path!r}), bytes.fromhex({key!r}), checkpoint_every=50)
for i in range({n}):
    w.append({{"timestamp": "2026-11-22T00:00:00.000000Z", "writer": {wid}, "i": i}})
w.close()
"""


def test_eight_processes_one_total_order(tmp_path: Path) -> None:
    key = os.urandom(32)
    n = 60
    procs = [
        subprocess.Popen([sys.executable, "-c", _CHILD.format(root=str(ROOT), path=str(tmp_path / "analytics"),
                                                               key=key.hex(), n=n, wid=w)])
        for w in range(8)
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0
    res = FFAuditVerifier(tmp_path / "analytics", key).verify()
    assert res.kind == "ok" and res.records == 8 * n, res.message
    files = list((tmp_path / "analytics" / "compliance" / "audit_logs").rglob("*.jsonl"))
    recs = [orjson.loads(x) for f in sorted(files) for x in f.read_bytes().splitlines()]
    assert [r["seq"] for r in recs] == list(range(1, 8 * n + 1))
    for w in range(8):
        assert [r["i"] for r in recs if r["writer"] == w] == list(range(n))
    cps, bad = read_checkpoints(tmp_path / "analytics" / "compliance" / CHECKPOINT_FILE, key)
    assert not bad and [c["seq"] for c in cps] == list(range(50, 8 * n + 1, 50))


def test_threads_sharing_one_writer_keep_one_order(tmp_path: Path) -> None:
    import threading

    key = os.urandom(32)
    w = FFAuditChainWriter(tmp_path / "analytics", key, checkpoint_every=25)

    def work(t: int) -> None:
        for i in range(40):
            if i % 10 == 0:
                with w.locked():  # re-entrant: a held lock plus an append in the same thread
                    w.append({"timestamp": "t", "thread": t, "i": i})
            else:
                w.append({"timestamp": "t", "thread": t, "i": i})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    w.close()
    res = FFAuditVerifier(tmp_path / "analytics", key).verify()
    assert res.kind == "ok" and res.records == 160, res.message


@pytest.mark.parametrize("case,kind,first_bad,file_idx,line", [
    ("delete_day2_line3", "deleted", 13, 1, 3),
    ("swap_across_days", "reordered", 11, 0, 10),
    ("modify_day3_line1", "modified", 21, 2, 1),
    ("truncate_day3", "truncated", 21, 2, 1),
])
def test_faults_across_day_files_name_file_and_line(tmp_path: Path, case: str, kind: str, first_bad: int,
                                                     file_idx: int, line: int) -> None:
    key = os.urandom(32)
    clock = FFManualClock(datetime(2026, 2, 1, 9, tzinfo=UTC))
    w = FFAuditChainWriter(tmp_path / "analytics", key, clock=clock, checkpoint_every=30)
    for d in range(3):
        w.append_many([_entry(d * 10 + i) for i in range(10)])
        clock.advance(days=1)
    w.close()
    files = sorted((tmp_path / "analytics" / "compliance" / "audit_logs").rglob(AUDIT_FILE))
    day = [_lines(f.read_bytes()) for f in files]
    if case == "delete_day2_line3":
        del day[1][2]
    elif case == "swap_across_days":
        day[0][9], day[1][0] = day[1][0], day[0][9]
    elif case == "modify_day3_line1":
        day[2][0] = day[2][0].replace(b'"outcome":"success"', b'"outcome":"failed!"')
    elif case == "truncate_day3":
        day[2] = []
    for f, ls in zip(files, day, strict=True):
        f.write_bytes(b"".join(x + b"\n" for x in ls))
    res = FFAuditVerifier(tmp_path / "analytics", key).verify()
    assert (res.kind, res.first_bad_seq) == (kind, first_bad), res.message
    assert res.file == str(files[file_idx]) and res.line == line, (res.file, res.line)
