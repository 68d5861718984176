"""Free-form events, the call's own identifiers, and an export that explains an empty answer.

Every test reads back what was written: the stored records, the BI answer, and for leaks every
byte of every file under the store (grep for each raw id).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
from ff_metrics_collection_manager import (
    FFAnalyticsManagerConfigDTO,
    FFConfigError,
    FFMetricsCollectionManager,
)
from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_privacy.ff_identifier_guard import (
    PSEUDONYMIZED_KEYS,
    SESSION_KEYS,
    USER_KEYS,
)
from ff_utils.ff_analytics_privacy.ff_user_event_pipeline import USER_STREAMS

UID = "raw-user-8c41"
SID = "raw-session-77de"
START = datetime(2026, 3, 1, 9, tzinfo=UTC)


def make(base: Path, **analytics: Any) -> FFMetricsCollectionManager:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(base)
    cfg.analytics.enable_real_time_metrics = False
    cfg.analytics.min_cell_size = 1
    for k, v in analytics.items():
        setattr(cfg.analytics, k, v)
    return FFMetricsCollectionManager(cfg, clock=FFManualClock(START), writer_id="w1")


def records(m: FFMetricsCollectionManager) -> list[dict[str, Any]]:
    return [r for s in USER_STREAMS for r in m.store.read(s)]


def all_bytes(base: Path) -> bytes:
    return b"".join(p.read_bytes() for p in base.rglob("*") if p.is_file())


def all_names(base: Path) -> str:
    return "\n".join(str(p.relative_to(base)) for p in base.rglob("*"))


# ---------------------------------------------------------------- free-form events
async def test_free_form_events_are_accepted_routed_and_counted_by_bi(tmp_path: Path) -> None:
    m = make(tmp_path, custom_event_streams=["message_sent=engagement_metrics"])
    await m.initialize_analytics_system(start_collection=False)
    for i in range(6):
        assert await m.record_user_analytics(f"u{i}", "s", "message_sent", {"model": "small", "tokens": 10 + i})
    for i in range(3):
        assert await m.record_user_analytics(f"u{i}", "s", "thumbs_up", {"platform": "web"})
    assert await m.record_user_events([(f"u{i}", "s", "file_uploaded", {}) for i in range(2)]) == 2
    await m.aflush()
    engaged = [r for r in m.store.read("engagement_metrics") if r["event_type"] == "message_sent"]
    assert len(engaged) == 6 and sorted(r["properties"]["tokens"] for r in engaged) == list(range(10, 16))
    behaviour = [r for r in m.store.read("behavior_patterns")]
    assert sorted(r["event_type"] for r in behaviour) == ["file_uploaded"] * 2 + ["thumbs_up"] * 3
    assert {r["platform"] for r in behaviour if r["event_type"] == "thumbs_up"} == {"web"}
    m.clock.advance(3600)
    _, res = await m.generate_business_intelligence_result("day", write=False)
    assert res is not None
    cells = res.details["breakdowns"]["event_types"]["cells"]
    assert cells["message_sent"] == {"users": 6, "events": 6}
    assert cells["thumbs_up"] == {"users": 3, "events": 3} and cells["file_uploaded"] == {"users": 2, "events": 2}
    await m.close()


@pytest.mark.parametrize("name", ["Message_Sent", "9lives", "a b", "x" * 65, "a-b", "", "_x"])
async def test_names_outside_the_pattern_raise_naming_event_type(tmp_path: Path, name: str) -> None:
    m = make(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    with pytest.raises(ValueError, match="event_type"):
        await m.record_user_analytics("u", "s", name, {})
    with pytest.raises(ValueError, match=r"events\[0\]"):
        await m.record_user_events([("u", "s", name, {})])
    await m.close()
    assert records(m) == []


@pytest.mark.parametrize("pairs", [["message_sent"], ["Bad=behavior_patterns"], ["ok=audit_logs"], ["ok="]])
def test_custom_event_streams_refuses_bad_pairs(pairs: list[str]) -> None:
    cfg = FFAnalyticsConfigDTO()
    cfg.custom_event_streams = pairs
    errors = cfg.validate()
    assert errors and all("custom_event_streams" in e for e in errors), errors
    root = FFAnalyticsManagerConfigDTO()
    root.analytics = cfg
    with pytest.raises(FFConfigError, match="custom_event_streams"):
        FFMetricsCollectionManager(root)


# ---------------------------------------------------------------- identifiers never stored raw
@pytest.mark.parametrize("key", sorted(PSEUDONYMIZED_KEYS) + ["SESSION", "User_Id", "Conversation_ID"])
async def test_every_identifier_like_key_is_pseudonymized(tmp_path: Path, key: str) -> None:
    m = make(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    other = f"other-value-{key.lower()}-5521"
    assert await m.record_user_analytics(UID, SID, "feature_usage",
                                         {"features": ["search"], key: other, "nested": {key: UID}})
    await m.close()
    (rec,) = records(m)
    props = rec["properties"]
    stored = props[key]
    assert isinstance(stored, str) and len(stored) == 32 and stored != other
    p = m.privacy.pipeline.pseudonymizer
    lk = key.lower()
    expected = (p.user_hash(other) if lk in USER_KEYS else p.session_hash(other) if lk in SESSION_KEYS
                else p.identifier_hash(other))
    assert stored == expected
    nested = props["nested"][key]
    assert nested == rec["user_hash"]  # the call's own user id: its user pseudonym, whatever the key
    blob = all_bytes(tmp_path)
    assert other.encode() not in blob and UID.encode() not in blob and SID.encode() not in blob


async def test_values_and_keys_containing_the_calls_ids_are_replaced(tmp_path: Path) -> None:
    m = make(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    data = {
        "owner": UID,
        "trace": f"req for {UID} in {SID} done",
        "deep": {"list": [SID, {"x": f"{UID}/{SID}"}], f"key-{UID}": 1},
        "path": f"/users/{UID}/sessions/{SID}",
        "platform": f"web-{UID}",
    }
    for et in ("page_view", "message_sent", "feature_usage"):
        assert await m.record_user_analytics(UID, SID, et, dict(data))
    await m.close()
    recs = records(m)
    assert len(recs) == 3
    uh = recs[0]["user_hash"]
    sh = recs[0]["session_id"]
    for r in recs:
        props = r["properties"]
        assert props["owner"] in (uh, "[SECRET]")  # a pseudonym in a free-form value: the scrubber may mask it
        assert r["platform"] in (f"web-{uh}", "web-[SECRET]")
        assert props["deep"]["list"][0] in (sh, "[SECRET]")
    blob = all_bytes(tmp_path)
    names = all_names(tmp_path)
    for raw in (UID, SID):
        assert raw.encode() not in blob and raw not in names
    assert m.privacy.pipeline.guard.replaced > 0


def test_guard_returns_clean_data_itself_and_protects_lists_and_keys_past_its_cache() -> None:
    from ff_utils.ff_analytics_privacy.ff_identifier_guard import FFIdentifierGuard
    from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import FFPseudonymizer

    ps = FFPseudonymizer(b"k" * 32)
    g = FFIdentifierGuard(ps)
    uh, sh = ps.user_hash(UID), ps.session_hash(SID)
    clean = {"tags": ["alpha", "beta"], "pair": ("x", "y"), "n": 3, "label": "fine"}
    assert g.protect(clean, UID, SID, uh, sh) is clean  # nothing to protect: no copy
    out = g.protect({"tags": ["alpha", UID], "pair": (SID, "y")}, UID, SID, uh, sh)
    assert out["tags"] == ["alpha", uh] and list(out["pair"]) == [sh, "y"]
    for i in range(5000):  # more distinct keys than the key cache holds: classification stays right
        assert g.protect({f"k{i}": "v"}, UID, SID, uh, sh) == {f"k{i}": "v"}
        if i % 997 == 0:
            got = g.protect({"User_ID": "someone-else", f"k{i}": "v"}, UID, SID, uh, sh)
            assert got["User_ID"] != "someone-else" and got[f"k{i}"] == "v"
    assert g.replaced > 0


async def test_short_ids_are_replaced_only_as_whole_values(tmp_path: Path) -> None:
    m = make(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    assert await m.record_user_analytics("ab", "s1", "page_view", {"who": "ab", "word": "fabric", "k": "s1"})
    await m.close()
    (rec,) = records(m)
    assert rec["properties"]["who"] in (rec["user_hash"], "[SECRET]") and rec["properties"]["word"] == "fabric"
    assert rec["properties"]["k"] in (rec["session_id"], "[SECRET]")
    assert b'"ab"' not in all_bytes(tmp_path) and b'"s1"' not in all_bytes(tmp_path)


# ---------------------------------------------------------------- export explains itself
async def test_export_of_an_unknown_id_says_never_seen(tmp_path: Path) -> None:
    m = make(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    await m.record_user_analytics("someone", "s", "page_view", {})
    out = await m.export_user_data("nobody-here")
    await m.close()
    assert out["total_records"] == 0
    assert len(out["explanation"]) == 1 and out["explanation"][0].startswith("never seen under this store's")


async def test_export_after_erasure_says_erased_on_the_date(tmp_path: Path) -> None:
    m = make(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    await m.record_user_analytics("gone", "s", "page_view", {})
    await m.erase_user_data("gone")
    m.clock.advance(86400)
    out = await m.export_user_data("gone")
    await m.close()
    assert out["total_records"] == 0
    assert any(e.startswith("erased on 2026-03-01") for e in out["explanation"]), out["explanation"]


async def test_export_of_an_opted_out_user_says_so(tmp_path: Path) -> None:
    m = make(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    assert await m.set_user_opt_out("quiet", True)
    assert await m.record_user_analytics("quiet", "s", "page_view", {})  # not stored: opted out
    out = await m.export_user_data("quiet")
    await m.close()
    assert out["total_records"] == 0
    assert any(e.startswith("opted out on 2026-03-01") for e in out["explanation"]), out["explanation"]


async def test_export_with_records_has_no_explanation_and_expired_data_is_explained(tmp_path: Path) -> None:
    m = make(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    await m.record_user_analytics("old", "s", "page_view", {})
    out = await m.export_user_data("old")
    assert out["total_records"] == 1 and out["explanation"] == []
    m.clock.advance(86400 * 40)
    await m.run_retention_cleanup()
    out = await m.export_user_data("old")
    await m.close()
    if out["total_records"] == 0:
        assert any("raw_data_retention_days (30)" in e for e in out["explanation"]), out["explanation"]
    else:  # retention keeps the day (grace rules): the explanation stays empty
        assert out["explanation"] == []
    _ = timedelta
