"""record_user_analytics / record_user_events / consent / export / erasure through the manager."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import os
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import DEFAULT_KEY_ENV_VAR
from ff_utils.ff_analytics_privacy.ff_user_event_pipeline import EVENT_STREAMS, USER_STREAMS

pytest.importorskip("ff_class_configs.ff_analytics_configs.ff_analytics_manager_config")
pytest.importorskip("ff_class_configs.ff_analytics_configs.ff_analytics_entities_config")

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO  # noqa: E402
from ff_metrics_collection_manager import FFMetricsCollectionManager  # noqa: E402


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_KEY_ENV_VAR, raising=False)


def make_manager(base: Path, clock: FFManualClock | None = None, writer: str = "w1", **privacy: Any) -> Any:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(base)
    analytics_over = {k: privacy.pop(k) for k in list(privacy) if hasattr(cfg.analytics, k)}
    for k, v in privacy.items():
        setattr(cfg.analytics.privacy_config, k, v)
    for k, v in analytics_over.items():
        setattr(cfg.analytics, k, v)
    cfg.analytics.enable_real_time_metrics = False
    return FFMetricsCollectionManager(cfg, clock=clock or FFManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)), writer_id=writer)


def user_records(m: Any) -> list[dict[str, Any]]:
    return [r for s in USER_STREAMS for r in m.store.read(s)]


def all_bytes(base: Path) -> list[tuple[Path, bytes]]:
    """Every file under ``base`` (``.gz`` decompressed), including quarantine and state files."""
    out = []
    for root, _dirs, files in os.walk(base):
        for name in files:
            p = Path(root) / name
            data = p.read_bytes()
            if name.endswith(".gz"):
                data = gzip.decompress(data)
            out.append((p, data))
    return out


# ---------------------------------------------------------------- recording and routing


async def test_routing_mapping_and_derived_fields(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC))
    async with make_manager(tmp_path, clock) as m:
        ua = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15"
        assert await m.record_user_analytics("alice", "s1", "session_start", {"user_agent": ua, "platform": "web", "time_to_first_action": 4})
        assert await m.record_user_analytics("alice", "s1", "feature_usage", {"features": ["search"], "frequency": 2.5})
        assert await m.record_user_analytics("alice", "s1", "content_interaction", {"messages": 3, "message": "hi bob"})
        assert await m.record_user_analytics("alice", "s1", "page_view", {})
        assert await m.record_user_analytics("alice", "s1", "conversion", {"conversion": "upgrade"})
        assert await m.record_user_analytics("alice", "s1", "satisfaction", {"rating": 5})
        clock.advance(days=1)
        assert await m.record_user_analytics("alice", "s2", "session_end", {"duration": 120, "actions": 7, "quality_score": 0.9})
        await m.aflush()
        by_stream = {s: list(m.store.read(s)) for s in USER_STREAMS}
    assert [r["event_type"] for r in by_stream["session_analytics"]] == ["session_start", "session_end"]
    assert [r["event_type"] for r in by_stream["feature_usage"]] == ["feature_usage"]
    assert [r["event_type"] for r in by_stream["behavior_patterns"]] == ["content_interaction", "page_view"]
    assert [r["event_type"] for r in by_stream["engagement_metrics"]] == ["conversion", "satisfaction"]
    for et, s in EVENT_STREAMS.items():
        assert any(r["event_type"] == et for r in by_stream[s])
    start, end = by_stream["session_analytics"]
    assert start["user_agent"] == "Safari/macOS" and start["platform"] == "web" and start["time_to_first_action_seconds"] == 4
    assert start["user_segment"] == "new" and start["return_user"] is False
    assert end["session_duration_seconds"] == 120 and end["actions_performed"] == 7 and end["session_quality_score"] == 0.9
    assert end["return_user"] is True and end["user_segment"] == "casual"
    assert end["timestamp"].startswith("2026-03-02T09:00:00")
    assert start["user_hash"] == end["user_hash"] and len(start["user_hash"]) == 32 and start["user_hash"] != "alice"
    assert start["session_id"] not in ("s1", "") and start["session_id"] != end["session_id"]
    ci = by_stream["behavior_patterns"][0]
    assert ci["messages_sent"] == 3 and ci["properties"] == {"message_length": 6}
    assert by_stream["behavior_patterns"][1]["pages_viewed"] == 1
    assert by_stream["engagement_metrics"][0]["conversion_events"] == ["upgrade"]
    assert by_stream["engagement_metrics"][1]["satisfaction_rating"] == 5
    assert by_stream["feature_usage"][0]["features_used"] == ["search"]


async def test_argument_errors_name_the_argument(tmp_path: Path) -> None:
    async with make_manager(tmp_path) as m:
        with pytest.raises(TypeError, match="user_id"):
            await m.record_user_analytics(123, "s", "page_view", {})
        with pytest.raises(ValueError, match="user_id"):
            await m.record_user_analytics("", "s", "page_view", {})
        with pytest.raises(TypeError, match="session_id"):
            await m.record_user_analytics("u", None, "page_view", {})
        with pytest.raises(ValueError, match="event_type"):
            await m.record_user_analytics("u", "s", "Bogus Event!", {})
        with pytest.raises(TypeError, match="event_data"):
            await m.record_user_analytics("u", "s", "page_view", ["x"])
        with pytest.raises(TypeError, match=r"event_data\['duration'\]"):
            await m.record_user_analytics("u", "s", "session_end", {"duration": "long"})
        with pytest.raises(ValueError, match=r"event_data\['rating'\]"):
            await m.record_user_analytics("u", "s", "satisfaction", {"rating": 11})
        with pytest.raises(ValueError, match=r"events\[1\]"):
            await m.record_user_events([("u", "s", "page_view", {}), ("u", "s", "No Pe!", {})])
        await m.aflush()
        assert user_records(m) == []  # a rejected batch records nothing


async def test_list_fields_check_every_item_keep_64_and_truncate(tmp_path: Path) -> None:
    async with make_manager(tmp_path) as m:
        with pytest.raises(TypeError, match=r"event_data\['features'\]: expected a list of str"):
            await m.record_user_analytics("u", "s", "feature_usage", {"features": ["a"] * 100 + [7]})
        with pytest.raises(TypeError, match=r"event_data\['features'\]: expected a list of str"):
            await m.record_user_analytics("u", "s", "feature_usage", {"features": "search"})
        with pytest.raises(TypeError, match=r"event_data\['conversion'\]: expected str"):
            await m.record_user_analytics("u", "s", "conversion", {"conversion": ["upgrade"]})
        feats = [f"feature_{i:03d}" for i in range(100)]
        assert await m.record_user_analytics("u", "s", "feature_usage", {"features": tuple(feats), "feature": "x" * 300})
        assert await m.record_user_analytics(
            "u", "s", "conversion", {"conversion_events": ["trial", "annual"], "conversion": "upgrade"})
        await m.aflush()
        fu, cv = user_records(m)[0], user_records(m)[1]
        if fu["event_type"] != "feature_usage":
            fu, cv = cv, fu
    assert fu["features_used"] == [*feats[:64], "x" * 256]  # the first 64 items, then the single feature
    assert cv["conversion_events"] == ["trial", "annual", "upgrade"]


async def test_a_rejected_batch_changes_no_counter_and_no_index_entry(tmp_path: Path) -> None:
    async with make_manager(tmp_path) as m:
        assert await m.record_user_analytics("known", "s0", "page_view", {})
        before = dict(m.privacy_stats)
        bad = [
            ("newcomer", "s1", "page_view", {}),
            ("known", "s2", "page_view", {"do_not_track": True}),  # would count a drop
            ("known", "s3", "satisfaction", {"rating": 11}),  # field error at events[2]
        ]
        with pytest.raises(ValueError, match=r"events\[2\]: event_data\['rating'\]"):
            await m.record_user_events(bad)
        assert m.privacy_stats == before  # accepted, drops and index size all unchanged
        assert m.privacy_stats["index_users"] == 1
        assert await m.record_user_events(bad[:2]) == 1  # the valid part records as usual
        after = m.privacy_stats
        assert after["accepted"] == before["accepted"] + 1 and after["dropped_do_not_track"] == 1
        assert after["index_users"] == 2
        await m.aflush()
        assert len(user_records(m)) == 2


async def test_batch_form_stores_all_and_feeds_rollup_hook(tmp_path: Path) -> None:
    async with make_manager(tmp_path) as m:
        seen: list[Any] = []
        m.hub.add_user_event_observer(seen.append)  # beside the rollups: every stored record, once
        evs = [(f"u{i % 7}", f"s{i % 11}", ("page_view", "feature_usage")[i % 2], {"features": ["x"]} if i % 2 else {}) for i in range(500)]
        evs.append({"user_id": "u1", "session_id": "s1", "event_type": "conversion", "event_data": {"conversion": "buy"}})
        assert await m.record_user_events(evs) == 501
        assert await m.record_user_analytics("u1", "s1", "page_view", {})
        await m.aflush()
        assert len(user_records(m)) == 502
        assert len(seen) == 502 and all(len(r["user_hash"]) == 32 for r in seen)
    async with make_manager(tmp_path / "only") as m:  # the hub's observers are the whole feed
        seen = []
        m.hub.user_event_observers[:] = [seen.append]
        assert await m.record_user_events(evs[:10]) == 10
        assert await m.record_user_analytics("u1", "s1", "page_view", {})
        assert len(seen) == 11 and all(len(r["user_hash"]) == 32 and r["event_type"] for r in seen)
        assert not m.bi.accumulator.open_hours  # the rollups saw nothing


# ---------------------------------------------------------------- controls


async def test_opt_out_consent_dnt_persisted_and_shared(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC))
    async with make_manager(tmp_path, clock, "w1", require_explicit_consent=True) as a:
        b = make_manager(tmp_path, clock, "w2", require_explicit_consent=True)
        await b.initialize_analytics_system(start_collection=False)
        assert await a.record_user_analytics("carol", "s", "page_view", {})  # no consent: not stored
        assert await a.record_consent("carol", True)
        assert await a.record_user_analytics("carol", "s", "page_view", {})
        assert await a.record_user_analytics("carol", "s", "page_view", {"do_not_track": "1"})  # DNT: dropped
        assert await a.set_user_opt_out("carol", True)
        assert await a.record_user_analytics("carol", "s", "page_view", {})  # opted out
        clock.advance(a.privacy.refresh_seconds)
        assert await b.record_user_analytics("carol", "s", "page_view", {})  # other process honours it
        await a.record_consent("dave", True)
        clock.advance(a.privacy.refresh_seconds)
        assert await b.record_user_analytics("dave", "s", "page_view", {})  # consent visible in b
        await a.aflush()
        await b.aflush()
        recs = user_records(a)
        carol = a.privacy.pipeline.pseudonymizer.user_hash("carol")
        dave = a.privacy.pipeline.pseudonymizer.user_hash("dave")
        assert [r["user_hash"] for r in recs].count(carol) == 1
        assert [r["user_hash"] for r in recs].count(dave) == 1
        st = a.privacy_stats
        assert st["dropped_no_consent"] == 1 and st["dropped_do_not_track"] == 1 and st["dropped_opt_out"] == 1
        assert b.privacy_stats["dropped_opt_out"] == 1
        events = [r["kind"] for r in a.store.read("privacy_events")]
        assert {"consent_granted", "opt_out"} <= set(events)
        pe = b"".join(f.read_bytes() for part in a.store.iter_partitions("privacy_events") for f in part.files)
        assert pe and carol.encode() not in pe  # compliance records carry subject_ref, not the pseudonym
        await b.close()
    # persisted: a fresh manager (new process) still honours the opt-out
    async with make_manager(tmp_path, clock, "w3", require_explicit_consent=True) as c:
        assert await c.record_user_analytics("carol", "s", "page_view", {})
        assert c.privacy_stats["dropped_opt_out"] == 1


async def test_sampling_keeps_whole_users(tmp_path: Path) -> None:
    async with make_manager(tmp_path, enable_data_sampling=True, sampling_rate=0.3) as m:
        for i in range(4000):
            await m.record_user_analytics(f"user{i % 400}", f"s{i}", "page_view", {})
        await m.aflush()
        per_user: dict[str, int] = {}
        for r in user_records(m):
            per_user[r["user_hash"]] = per_user.get(r["user_hash"], 0) + 1
    assert set(per_user.values()) == {10}  # every kept user has all 10 events
    assert 0.2 < len(per_user) / 400 < 0.4


async def test_tracking_flags_and_disabled(tmp_path: Path) -> None:
    async with make_manager(tmp_path, track_feature_usage=False, track_session_quality=False) as m:
        assert await m.record_user_analytics("u", "s", "feature_usage", {"features": ["a"]})
        assert await m.record_user_analytics("u", "s", "session_end", {"quality_score": 0.7, "duration": 5})
        await m.aflush()
        assert list(m.store.read("feature_usage")) == []
        assert [r["session_quality_score"] for r in m.store.read("session_analytics")] == [0.0]
    async with make_manager(tmp_path / "off", enable_user_analytics=False) as m:
        assert await m.record_user_analytics("u", "s", "page_view", {})
        await m.aflush()
        assert user_records(m) == [] and m.privacy_stats["dropped_disabled"] == 1


# ---------------------------------------------------------------- canary


CANARY_N = 1000


def _canaries(rng: random.Random) -> list[dict[str, str]]:
    out = []
    for i in range(CANARY_N):
        cc = [4, 0, 0, 0] + [rng.randrange(10) for _ in range(11)]
        total = sum((d * 2 - 9 if d * 2 > 9 else d * 2) if j % 2 == 0 else d for j, d in enumerate(reversed(cc)))
        check = (10 - total % 10) % 10
        card = "".join(map(str, cc)) + str(check)
        out.append(
            {
                "user": f"canary-user-{i:04d}-{rng.getrandbits(40):010x}",
                "email": f"canary.{i}.{rng.getrandbits(24):06x}@example-mail.com",
                "phone": f"+1 415 {rng.randrange(200, 999)} {rng.randrange(1000, 9999)}",
                "card": f"{card[:4]} {card[4:8]} {card[8:12]} {card[12:]}",
                "session": f"canary-session-{i:04d}-{rng.getrandbits(32):08x}",
            }
        )
    return out


async def test_canary_nothing_planted_reaches_disk(tmp_path: Path) -> None:
    from ff_utils.ff_analytics_privacy.ff_pii_scrubber import luhn_valid

    rng = random.Random(1234)
    can = _canaries(rng)
    assert all(luhn_valid(c["card"].replace(" ", "")) for c in can)
    clock = FFManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC))
    async with make_manager(tmp_path, clock, compression_age_days=1) as m:
        batch = []
        for i, c in enumerate(can):
            if i % 100 == 99:  # spread over 10 daily partitions
                await m.record_user_events(batch)
                batch = []
                await m.aflush()
                clock.advance(days=1)
            data = {
                "user_agent": f"Mozilla/5.0 {c['email']}",
                "platform": f"web {c['phone']}",
                "message": f"my email is {c['email']}",
                "note_field": f"call {c['phone']} card {c['card']} mail {c['email']}",
                "nested": {"contact": c["email"], "tags": [c["phone"], c["card"]], "user_id": c["user"]},
                "features": [f"search {c['email']}"],
                "email": c["email"],
                "user": c["user"],
            }
            et = list(EVENT_STREAMS)[i % len(EVENT_STREAMS)]
            if et == "satisfaction":
                data["rating"] = 3
            await m.record_user_analytics(c["user"], c["session"], et, data)
            batch.append((c["user"], c["session"], "page_view", {"referrer_note": c["email"], "x": c["card"]}))
            if i % 10 == 0:
                await m.set_user_opt_out(c["user"], i % 20 == 0)
                await m.record_consent(c["user"], True)
        assert await m.record_user_events(batch) > 0
        await m.aflush()
        clock.advance(days=3)
        rep = await m.run_compression()  # old partitions become .jsonl.gz
        assert rep.partitions_compacted > 0
        gz = [p for p in tmp_path.rglob("*.jsonl.gz") if "user_analytics" in p.parts]
        assert gz
        exported = await m.export_user_data(can[1]["user"])  # lives in a compressed partition
        assert exported["total_records"] >= 2
        erased = await m.erase_user_data(can[2]["user"])
        assert erased["records_removed_total"] >= 2 and erased["outcome"] == "success"
        assert any(str(f).endswith(".gz") for f in (tmp_path / "analytics").rglob("*.gz"))
        await m.aflush()
        # something was stored (the canary must not pass vacuously)
        assert len(user_records(m)) >= CANARY_N
    files = all_bytes(tmp_path)
    assert any("analytics" in str(p) for p, _ in files)
    leaks = scan_leaks(files, can)
    assert leaks == [], leaks[:5]
    # the key file lives outside the analytics tree and its bytes are nowhere in analytics data
    key_hex = (tmp_path / "keys" / "pseudonym.key").read_text().strip()
    assert not any(key_hex.encode() in data or bytes.fromhex(key_hex) in data for p, data in files if "keys" not in p.parts)

    # HMAC not recoverable: hashing candidate ids (including every real id) without the key never matches
    stored = {r["user_hash"] for r in _read_user_hashes(tmp_path)}
    assert stored
    n_candidates = int(os.environ.get("FF_TEST_CANARY_CANDIDATES", "200000"))
    real = [c["user"] for c in can]
    wrong_key = b"\x00" * 32
    matches = 0
    for i in range(n_candidates):
        cand = real[i] if i < len(real) else f"canary-user-{i % 10000:04d}-{i:010x}"
        b = cand.encode()
        d = hashlib.sha256(b).hexdigest()
        if d[:32] in stored or d[:16] in stored:
            matches += 1
        if hmac.new(wrong_key, b"user\x00" + b, hashlib.sha256).hexdigest()[:32] in stored:
            matches += 1
    assert matches == 0
    # ...while the right key does recover the link (so the check above can fail)
    key = bytes.fromhex(key_hex)
    assert any(hmac.new(key, b"user\x00" + c.encode(), hashlib.sha256).hexdigest()[:32] in stored for c in real)


def scan_leaks(files: list[tuple[Path, bytes]], can: list[dict[str, str]]) -> list[tuple[str, bytes]]:
    """Occurrences of any planted value in any file."""
    needles = set()
    for c in can:
        needles.update({c["user"], c["email"], c["phone"], c["card"], c["card"].replace(" ", ""), c["session"]})
    # every needle matches one of these shapes, so scanning for the shapes finds every occurrence
    shapes = re.compile(
        rb"canary-user-\d{4}-[0-9a-f]{10}|canary-session-\d{4}-[0-9a-f]{8}"
        rb"|canary\.\d+\.[0-9a-f]{6}@example-mail\.com|\+1 415 \d{3} \d{4}|4000 ?\d{4} ?\d{4} ?\d{4}"
    )
    needles_b = {n.encode() for n in needles}
    return [(str(p), m) for p, data in files for m in shapes.findall(data) if m in needles_b]


async def test_canary_scan_detects_leaks_when_scrubbing_is_off(tmp_path: Path) -> None:
    """Negative control: the scan is able to fail (raw properties are kept when configured)."""
    can = _canaries(random.Random(99))[:20]
    async with make_manager(tmp_path, exclude_sensitive_content=False) as m:
        for c in can:
            await m.record_user_analytics(c["user"], c["session"], "page_view", {"note": c["email"], "x": c["card"]})
    leaks = scan_leaks(all_bytes(tmp_path), can)
    assert {m for _p, m in leaks} >= {c["email"].encode() for c in can}
    assert not any(c["user"].encode() in m for c in can for _p, m in leaks)  # ids still pseudonymized


def _read_user_hashes(base: Path) -> list[dict[str, Any]]:
    out = []
    for _p, data in all_bytes(base / "analytics" / "user_analytics"):
        for line in data.splitlines():
            if line.strip():
                out.append(orjson.loads(line))
    return out


# ---------------------------------------------------------------- access and erasure through the manager


async def test_export_and_erase_through_manager(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC))
    async with make_manager(tmp_path, clock) as m:
        sent: dict[str, int] = {}
        for d in range(6):
            for i in range(60):
                u = f"user{i % 6}"
                await m.record_user_analytics(u, f"s{d}", list(EVENT_STREAMS)[i % 7], {"rating": 4} if i % 7 == 6 else {})
                sent[u] = sent.get(u, 0) + 1
            await m.aflush()
            clock.advance(days=1)
        exp = await m.export_user_data("user3")
        h3 = exp["user_hash"]
        assert exp["total_records"] == sent["user3"]  # recall 100%
        assert all(r["user_hash"] == h3 for s, recs in exp["records"].items() if s in USER_STREAMS for r in recs)
        assert exp["user_index"]["sessions"] == 6 and exp["user_index"]["events"] == sent["user3"]
        before = {r["user_hash"]: 0 for r in user_records(m)}
        for r in user_records(m):
            before[r["user_hash"]] += 1
        res = await m.erase_user_data("user3")
        assert res["records_removed_total"] == sent["user3"] and res["outcome"] == "success"
        assert res["user_index_removed"] is True
        after: dict[str, int] = {}
        for r in user_records(m):
            after[r["user_hash"]] = after.get(r["user_hash"], 0) + 1
        assert h3 not in after and after == {k: v for k, v in before.items() if k != h3}
        assert m.privacy.pipeline.index.get(h3) is None
        await m.aflush()
        kinds = [r for r in m.store.read("privacy_events") if r.get("subject_ref") == res["subject_ref"]]
        assert {"access_request", "erasure_requested", "erasure_completed"} <= {r["kind"] for r in kinds}
        done = next(r for r in kinds if r["kind"] == "erasure_completed")
        assert done["records_removed"] == sent["user3"]
        assert (await m.export_user_data("user3"))["total_records"] == 0
        # rollups (BI contributor's hourly records hold 64-bit keys of the pseudonyms)
        from ff_utils.ff_analytics_sketches.ff_distinct_sketch import ff_key64

        await m.aflush()
        rollups = [r for r in m.store.read("rollups") if r.get("record_type") == "hourly_rollup"]
        assert rollups, "the BI hook produced no rollups"
        assert all(ff_key64(h3) not in r["users"] for r in rollups)
        assert any(ff_key64(h) in r["users"] for r in rollups for h in after)  # others kept
        assert res["rollups"]
    idx_text = (tmp_path / "privacy_state" / "user_index.jsonl").read_text()
    assert h3 not in idx_text


async def test_raw_identifiers_only_when_all_three_flags_say_so(tmp_path: Path) -> None:
    async with make_manager(tmp_path / "a", anonymize_user_data=False) as m:  # not enough
        await m.record_user_analytics("raw-user", "raw-sess", "page_view", {})
        await m.aflush()
        rec = user_records(m)[0]
        assert rec["user_hash"] != "raw-user" and rec["session_id"] != "raw-sess"
    async with make_manager(
        tmp_path / "b", anonymize_user_data=False, hash_user_identifiers=False, store_raw_identifiers=True
    ) as m:
        await m.record_user_analytics("raw-user", "raw-sess", "page_view", {})
        await m.record_user_analytics("other", "s", "page_view", {})
        await m.aflush()
        assert [r["user_hash"] for r in user_records(m)] == ["raw-user", "other"]
        assert user_records(m)[0]["session_id"] == "raw-sess"
        assert (await m.export_user_data("raw-user"))["total_records"] == 1
        assert (await m.erase_user_data("raw-user"))["records_removed_total"] == 1
        assert [r["user_hash"] for r in user_records(m)] == ["other"]


async def test_opt_out_not_allowed_returns_false_and_is_recorded(tmp_path: Path) -> None:
    async with make_manager(tmp_path, allow_user_opt_out=False) as m:
        assert await m.set_user_opt_out("erin", True) is False
        assert await m.record_user_analytics("erin", "s", "page_view", {})
        await m.aflush()
        assert len(user_records(m)) == 1
        assert [r["kind"] for r in m.store.read("privacy_events")] == ["opt_out_not_supported"]
        with pytest.raises(TypeError, match="opted_out"):
            await m.set_user_opt_out("erin", "yes")
        with pytest.raises(TypeError, match="granted"):
            await m.record_consent("erin", 1)
        with pytest.raises(ValueError, match="user_id"):
            await m.export_user_data("")


async def test_key_setup_io_failure_is_contained_and_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ff_utils.ff_analytics_privacy.ff_privacy_service as ps

    clock = FFManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC))
    async with make_manager(tmp_path, clock) as m:
        real = ps.ff_load_or_create_key

        def broken(*a: Any, **k: Any) -> Any:
            raise PermissionError(13, "Permission denied", str(tmp_path / "keys"))

        monkeypatch.setattr(ps, "ff_load_or_create_key", broken)
        assert await m.record_user_analytics("gina", "s", "page_view", {}) is False
        assert await m.record_user_events([("gina", "s", "page_view", {})]) == 0
        with pytest.raises(ValueError, match="event_type"):
            await m.record_user_analytics("gina", "s", "no pe", {})  # caller bugs still raise
        assert m.privacy_stats == {"setup_failures": 1}
        monkeypatch.setattr(ps, "ff_load_or_create_key", real)
        assert await m.record_user_analytics("gina", "s", "page_view", {}) is False  # within the back-off
        clock.advance(5)
        assert await m.record_user_analytics("gina", "s", "page_view", {}) is True
        await m.aflush()
        assert len(user_records(m)) == 1
