"""Pseudonymizer key life cycle, consent registry and user index (multi-process semantics)."""

from __future__ import annotations

import hashlib
import hmac
import multiprocessing
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_privacy.ff_consent_registry import FFConsentRegistry
from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import (
    DEFAULT_KEY_ENV_VAR,
    FFPseudonymizer,
    FFPseudonymKeyError,
    ff_load_or_create_key,
)
from ff_utils.ff_analytics_privacy.ff_user_index import FFUserIndex

# ---------------------------------------------------------------- pseudonymizer


def test_key_generated_once_with_mode_0600_outside_analytics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_KEY_ENV_VAR, raising=False)
    key, source = ff_load_or_create_key(tmp_path, None)
    path = tmp_path / "keys" / "pseudonym.key"
    assert source == f"file:{path}"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert bytes.fromhex(path.read_text().strip()) == key and len(key) == 32
    again, _ = ff_load_or_create_key(tmp_path, None)
    assert again == key
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".ff-tmp.")]


def test_env_var_wins_and_key_file_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = SimpleNamespace(key_env_var="MY_KEY_VAR", key_file=str(tmp_path / "secrets" / "k.key"))
    monkeypatch.setenv("MY_KEY_VAR", "00" * 16 + "ff" * 16)
    key, source = ff_load_or_create_key(tmp_path, cfg)
    assert source == "env:MY_KEY_VAR" and key == bytes.fromhex("00" * 16 + "ff" * 16)
    monkeypatch.delenv("MY_KEY_VAR")
    key2, source2 = ff_load_or_create_key(tmp_path, cfg)
    assert source2.startswith("file:") and (tmp_path / "secrets" / "k.key").exists()
    assert key2 != key
    monkeypatch.setenv("MY_KEY_VAR", "short")
    with pytest.raises(FFPseudonymKeyError, match="MY_KEY_VAR"):
        ff_load_or_create_key(tmp_path, cfg)


def test_key_file_inside_analytics_tree_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_KEY_ENV_VAR, raising=False)
    cfg = SimpleNamespace(key_env_var="", key_file=str(tmp_path / "analytics" / "k.key"))
    with pytest.raises(ValueError, match="key_file"):
        ff_load_or_create_key(tmp_path, cfg)


def _child_key(base: str, q: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    os.environ.pop(DEFAULT_KEY_ENV_VAR, None)
    key, _ = ff_load_or_create_key(base, None)
    q.put(key.hex())


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_child_key, args=(str(tmp_path), q)) for _ in range(8)]
    for p in procs:
        p.start()
    keys = {q.get(timeout=20) for _ in procs}
    for p in procs:
        p.join(timeout=20)
    assert len(keys) == 1
    assert (tmp_path / "keys" / "pseudonym.key").read_text().strip() == keys.pop()


def test_hmac_pseudonyms_domain_separated_and_not_plain_sha256() -> None:
    key = b"k" * 32
    ps = FFPseudonymizer(key)
    h = ps.user_hash("alice")
    assert h == hmac.new(key, b"user\x00alice", hashlib.sha256).hexdigest()[:32]
    assert h != hashlib.sha256(b"alice").hexdigest()[:32]
    assert ps.session_hash("alice") != h and ps.subject_ref("alice") not in (h, ps.session_hash("alice"))
    assert FFPseudonymizer(b"x" * 32).user_hash("alice") != h
    with pytest.raises(ValueError, match="key"):
        FFPseudonymizer(b"short")


# ---------------------------------------------------------------- consent registry


def test_consent_change_visible_to_other_process_within_refresh_bound(tmp_path: Path) -> None:
    clock = FFManualClock()
    a = FFConsentRegistry(tmp_path, clock, refresh_seconds=2.0, writer_id="a")
    b = FFConsentRegistry(tmp_path, clock, refresh_seconds=2.0, writer_id="b")
    b.maybe_refresh()  # b's deadline is now +2 s
    a.set_opt_out("h1", True)
    assert a.allowed("h1", False) == (False, "opt_out")  # effective at once in the writer
    b.maybe_refresh()
    assert b.allowed("h1", False) == (True, "")  # not yet: before the refresh deadline
    clock.advance(2.0)
    b.maybe_refresh()
    assert b.allowed("h1", False) == (False, "opt_out")
    b.set_consent("h2", True)
    a.refresh()
    assert a.allowed("h2", True) == (True, "") and a.allowed("h3", True) == (False, "no_consent")
    a.set_opt_out("h1", False)
    clock.advance(2.0)
    b.maybe_refresh()
    assert b.allowed("h1", False) == (True, "")
    fresh = FFConsentRegistry(tmp_path, clock, writer_id="c")
    fresh.refresh()
    assert fresh.state["h2"]["consent"] is True and fresh.state["h1"]["opt_out"] is False


def test_consent_forget_keeps_only_objections(tmp_path: Path) -> None:
    r = FFConsentRegistry(tmp_path, FFManualClock(), writer_id="a")
    r.set_opt_out("gone", True)
    r.set_consent("gone", True)
    r.set_consent("granted", True)
    assert r.forget("gone") is True  # opt-out survives as one line
    assert r.forget("granted") is False
    lines = [x for x in r.path.read_text().splitlines() if not x.startswith('{"_gen"')]
    assert len(lines) == 1 and '"gone"' in lines[0] and "granted" not in r.path.read_text()
    other = FFConsentRegistry(tmp_path, FFManualClock(), writer_id="b")
    other.refresh()
    assert other.allowed("gone", False) == (False, "opt_out")


# ---------------------------------------------------------------- user index


def test_index_segments_and_return_user(tmp_path: Path) -> None:
    idx = FFUserIndex(tmp_path, "w1", power_min_sessions=5, casual_max_sessions=2)
    assert idx.observe("u", "s1", "2026-01-01T00:00:00.000000Z")[:2] == (False, "new")
    assert idx.observe("u", "s1", "2026-01-01T00:01:00.000000Z")[:2] == (False, "new")
    assert idx.observe("u", "s2", "2026-01-02T00:00:00.000000Z")[:2] == (True, "casual")
    assert idx.observe("u", "s3", "2026-01-03T00:00:00.000000Z")[:2] == (True, "returning")
    idx.observe("u", "s4", "2026-01-04T00:00:00.000000Z")
    assert idx.observe("u", "s5", "2026-01-05T00:00:00.000000Z") == (True, "power")
    assert idx.get("u")["sessions"] == 5 and idx.get("u")["events"] == 6
    assert idx.observe("u", "s4", "2026-01-05T00:01:00.000000Z") == (True, "power")  # an open tab
    assert idx.get("u")["sessions"] == 5
    with pytest.raises(ValueError, match="user_segment_casual_max_sessions"):
        FFUserIndex(tmp_path, "w", power_min_sessions=3, casual_max_sessions=3)


def test_index_persisted_and_merged_across_writers(tmp_path: Path) -> None:
    a = FFUserIndex(tmp_path, "wa")
    b = FFUserIndex(tmp_path, "wb")
    a.load()
    b.load()
    a.observe("u", "s1", "2026-01-01T10:00:00.000000Z")
    a.observe("v", "s9", "2026-01-01T10:00:00.000000Z")
    assert a.flush()
    b.flush()  # b reads a's deltas
    assert b.get("u")["sessions"] == 1 and b.get("u")["first_seen"] == "2026-01-01T10:00:00.000000Z"
    assert b.observe("u", "s2", "2026-01-02T10:00:00.000000Z") == (True, "casual")
    assert (b.get("u")["sessions"], b.get("u")["events"]) == (2, 2)
    b.flush()
    a.flush()
    assert a.get("u")["sessions"] == 2 and a.get("u")["last_seen"] == "2026-01-02T10:00:00.000000Z"
    c = FFUserIndex(tmp_path, "wc")
    c.load()
    assert c.get("u") == a.get("u") == b.get("u")
    assert c.get("v")["events"] == 1
    # compaction keeps totals and readers reload after the inode change
    a.compact()
    assert len([x for x in a.path.read_text().splitlines() if not x.startswith('{"_gen"')]) == 2
    b.flush()
    assert b.get("u")["sessions"] == 2 and b.get("u")["events"] == 2
    # erasure
    assert c.forget("u") is True
    assert '"u"' not in a.path.read_text()
    a.flush()
    assert a.get("u") is None and a.get("v") is not None


def test_index_counts_and_one_delta_line_per_dirty_user(tmp_path: Path) -> None:
    idx = FFUserIndex(tmp_path, "w")
    for i in range(20_000):
        idx.observe(f"u{i % 1000}", f"s{i % 3000}", "2026-01-01T00:00:00.000000Z")
    assert len(idx.entries) == 1000 and sum(e[3] for e in idx.entries.values()) == 20_000
    assert idx.flush()
    assert len(idx.path.read_text().splitlines()) == 1000  # one delta line per dirty user per flush


def test_index_flush_failure_keeps_deltas_for_retry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ff_utils.ff_analytics_privacy.ff_privacy_state_log import FFPrivacyStateLog

    idx = FFUserIndex(tmp_path, "w")
    idx.observe("u", "s1", "2026-01-01T00:00:00.000000Z")
    real_append = FFPrivacyStateLog.append

    def broken(self: FFPrivacyStateLog, records: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FFPrivacyStateLog, "append", broken)
    assert idx.flush() is False and idx.flush_failures == 1
    idx.observe("u", "s2", "2026-01-02T00:00:00.000000Z")  # more events while the disk is full
    monkeypatch.setattr(FFPrivacyStateLog, "append", real_append)
    assert idx.flush() is True
    other = FFUserIndex(tmp_path, "reader")
    other.load()
    assert other.get("u")["sessions"] == 2 and other.get("u")["events"] == 2  # nothing lost or doubled
    assert idx.flush() is True
    other.load()
    assert other.get("u")["events"] == 2


async def test_consent_write_failure_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ff_class_configs.ff_analytics_configs.ff_analytics_manager_config")
    from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import (
        FFAnalyticsManagerConfigDTO,
    )
    from ff_metrics_collection_manager import FFMetricsCollectionManager
    from ff_utils.ff_analytics_privacy.ff_privacy_state_log import FFPrivacyStateLog

    monkeypatch.delenv(DEFAULT_KEY_ENV_VAR, raising=False)
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    cfg.analytics.enable_real_time_metrics = False
    async with FFMetricsCollectionManager(cfg, writer_id="w") as m:
        def broken(self: FFPrivacyStateLog, records: object) -> int:
            raise OSError(30, "Read-only file system")

        monkeypatch.setattr(FFPrivacyStateLog, "append", broken)
        assert await m.set_user_opt_out("frank", True) is False
        assert await m.record_consent("frank", True) is False
        monkeypatch.undo()
        assert await m.record_user_analytics("frank", "s", "page_view", {})  # not opted out: stored
        assert m.privacy_stats["stored"] == 1


def test_state_log_detects_replacement_even_with_a_reused_inode(tmp_path: Path) -> None:
    from ff_utils.ff_analytics_privacy.ff_privacy_state_log import FFPrivacyStateLog

    log = FFPrivacyStateLog(tmp_path / "x.jsonl")
    log.append([{"h": "a"}, {"h": "b"}])
    reader = FFPrivacyStateLog(tmp_path / "x.jsonl")
    assert reader.read_new() == (True, [{"h": "a"}, {"h": "b"}])
    log.rewrite(lambda recs: [{"h": "c"}] + recs)  # compaction: new generation
    assert reader.read_new() == (True, [{"h": "c"}, {"h": "a"}, {"h": "b"}])
    # same inode, grown, but a different generation (as if a later compaction reused the inode)
    ino = os.stat(log.path).st_ino
    with open(log.path, "r+b") as fh:
        fh.write(b'{"_gen":"00000000000000ff"}\n{"h":"z"}\n{"h":"y"}\n{"h":"x"}\n{"h":"w"}\n')
    assert os.stat(log.path).st_ino == ino
    reset, recs = reader.read_new()
    assert reset and recs[:2] == [{"h": "z"}, {"h": "y"}]
    log.append([{"h": "v"}])
    assert reader.read_new() == (False, [{"h": "v"}])


def test_pseudonym_cache_is_bounded_and_evicts_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    from ff_utils.ff_analytics_privacy import ff_privacy_pseudonymizer as mod

    monkeypatch.setattr(mod, "_CACHE_MAX", 16)
    ps = FFPseudonymizer(b"k" * 32)
    first = {f"u{i}": ps.user_hash(f"u{i}") for i in range(40)}
    assert len(ps._users) <= 16  # bounded
    assert "u39" in ps._users and "u0" not in ps._users  # the newest stay, the oldest went first
    fresh = FFPseudonymizer(b"k" * 32)
    assert all(ps.user_hash(u) == h == fresh.user_hash(u) for u, h in first.items())  # same pseudonyms
    for i in range(40):
        ps.session_hash(f"s{i}")
    assert len(ps._sessions) <= 16
