"""Hardening, accepting side: valid but hostile values (any Unicode, control characters, line
separators, lone surrogates, huge ints, NaN/inf, deep nesting) are accepted and stored, and every
file keeps exactly one JSON document per line, whichever line splitter reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ff_utils.ff_analytics_privacy.ff_pii_scrubber import scrub_text
from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import DEFAULT_KEY_ENV_VAR
from tests._hardening_helpers import (
    HOSTILE,
    INF,
    NAN,
    assert_every_file_one_record_per_line,
    assert_one_record_per_line,
    make_manager,
    settle,
    stream_bytes,
)


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_KEY_ENV_VAR, raising=False)


@pytest.fixture
async def manager(tmp_path: Path) -> Any:
    m = make_manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    yield m
    await m.close()


async def test_hostile_unicode_in_event_data_is_stored_verbatim_one_record_per_line(manager: Any,
                                                                                    tmp_path: Path) -> None:
    m = manager
    for s in HOSTILE:
        assert scrub_text(s) == s  # none of them looks like PII: stored verbatim
        assert await m.record_user_analytics("u-hostile", "s1", "content_interaction", {
            "label": s, "list": [s, {"inner": s}], "nested": {"deep": {"deeper": s}},
            s: "hostile key (unsafe: dropped)", "platform": s, "language": s[:10]})
    await m.aflush()
    recs = assert_one_record_per_line(stream_bytes(m, "behavior_patterns"), expected=len(HOSTILE))
    for s, rec in zip(HOSTILE, recs, strict=True):
        assert rec["properties"] == {"label": s, "list": [s, {"inner": s}], "nested": {"deep": {"deeper": s}}}
        assert rec["platform"] == s[:256] and rec["language"] == s[:10]
    assert_every_file_one_record_per_line(tmp_path)


async def test_hostile_unicode_in_every_other_stream_one_record_per_line(manager: Any, tmp_path: Path) -> None:
    """Privacy/security events, audit details, alert texts and metric labels carry the same strings."""
    m = manager
    for i, s in enumerate(HOSTILE):
        assert m.record_privacy_event("custom_note", note=s, items=[s])
        assert m.record_security_event("custom_check", severity="info", detail=s)
        m.audit("hostile_text", target=s[:4096], detail=s)
        m.raise_alert(f"hostile.{i}", s[:256], s, labels={"text": s[:256]}, recommended_actions=[s])
        m.record_metric("hostile_metric", 1.0, labels={"text": s[:256]})
    settle(m)
    assert_one_record_per_line(stream_bytes(m, "privacy_events"))
    notes = [r["note"] for r in m.store.read("privacy_events") if r["kind"] == "custom_note"]
    assert notes == HOSTILE
    assert [r["detail"] for r in m.store.read("security_events") if r["kind"] == "custom_check"] == HOSTILE
    alerts = [r for r in m.store.read("alerts") if r.get("event") == "fired"]
    titles = {a["alert"]["title"] for a in alerts}
    assert {s[:256] for s in HOSTILE} <= titles
    labels = {tuple(r["labels"].items()) for r in m.store.read("performance") if r.get("kind") == "metric"}
    assert {(("text", s[:256]),) for s in HOSTILE} <= labels
    res = m.verify_audit_log_sync()
    assert res.ok, res.message
    assert_every_file_one_record_per_line(tmp_path)


async def test_lone_surrogates_are_replaced_not_fatal(manager: Any, tmp_path: Path) -> None:
    """Depends on the store/ff_json_utils change: lone surrogates become U+FFFD instead of failing."""
    m = manager
    assert await m.record_user_analytics("u-sur", "s1", "content_interaction",
                                         {"label": "a\ud800b", "pair": "\ud83d\ude00", "tail": "x\udfff"})
    m.record_privacy_event("custom_note", note="lone \udc00")
    await m.aflush()
    recs = assert_one_record_per_line(stream_bytes(m, "behavior_patterns"), expected=1)
    assert recs[0]["properties"] == {"label": "a\ufffdb", "pair": "😀", "tail": "x\ufffd"}
    assert [r["note"] for r in m.store.read("privacy_events") if r["kind"] == "custom_note"] == ["lone \ufffd"]
    assert_every_file_one_record_per_line(tmp_path)


async def test_huge_ints_nan_inf_and_deep_nesting_in_properties(manager: Any, tmp_path: Path) -> None:
    m = manager
    deep: Any = "leaf"
    for _ in range(40):
        deep = {"d": deep}
    data = {
        "big": 2**70, "neg_big": -(2**70), "u64_max": 2**64 - 1, "u64_over": 2**64, "i64_min": -(2**63),
        "i64_under": -(10**20) - 7, "nan": NAN, "inf": INF, "neg_inf": -INF, "neg_zero": -0.0,
        "floats": [NAN, 1.5, INF], "deep": deep, "deep_list": [[[[[["x"]]]]]],
        "pages": 2**63 - 1,  # content_interaction does not map "pages": a property here
    }
    assert await m.record_user_analytics("u-num", "s1", "content_interaction", data)
    assert await m.record_user_analytics("u-num", "s1", "page_view", {"pages": 2**63 - 1})
    await m.aflush()
    (rec,) = assert_one_record_per_line(stream_bytes(m, "behavior_patterns"), expected=2)[:1]
    props = rec["properties"]
    assert props["big"] == str(2**70) and props["neg_big"] == str(-(2**70))
    assert props["u64_max"] == 2**64 - 1 and props["u64_over"] == str(2**64)
    assert props["i64_under"] == str(-(10**20) - 7)
    assert props["nan"] is None and props["inf"] is None and props["neg_inf"] is None
    assert props["floats"] == [None, 1.5, None]
    # depth bound: properties are level 0; containers below level 4 are kept, deeper ones become null
    assert props["deep"] == {"d": {"d": {"d": {"d": None}}}}
    assert props["deep_list"] == [[[[None]]]]
    page_views = [r for r in m.store.read("behavior_patterns") if r["event_type"] == "page_view"]
    assert page_views[0]["pages_viewed"] == 2**63 - 1
    assert_every_file_one_record_per_line(tmp_path)


async def test_free_text_length_wins_and_counts_towards_the_item_bound(manager: Any) -> None:
    m = manager
    data: dict[str, Any] = {"message_length": 999, "message": "hello", "comment": "abc", "comment_length": 7}
    data.update({f"k{i}": i for i in range(100)})
    assert await m.record_user_analytics("u-len", "s1", "content_interaction", data)
    await m.aflush()
    (rec,) = list(m.store.read("behavior_patterns"))
    props = rec["properties"]
    assert props["message_length"] == 5 and props["comment_length"] == 3
    assert len(props) == 64
    assert [k for k in props if k.startswith("k")] == [f"k{i}" for i in range(62)]


async def test_valid_edge_values_are_accepted(manager: Any) -> None:
    """The other side of the table: boundary values that must not be rejected."""
    m = manager
    m.record_request("a" * 64, 0.0)
    m.record_request("api", 0, True)
    m.record_request("api", 1e308, False)
    m.record_metric("q", -(2**63))
    m.record_metric("q", 2**63 - 1)
    m.record_metric("c", 0, kind="counter", labels={"k": "v" * 256, **{f"l{i}": "" for i in range(15)}})
    m.set_collection_interval(0.001)
    m.set_active_counts(0, 0)
    assert await m.record_user_analytics("u" * 1024, "s" * 1024, "satisfaction", {"rating": 10})
    assert await m.record_user_analytics("u", "", "session_end", {"quality_score": 0.0, "duration": 0})
    assert await m.set_user_opt_out("v" * 1024, False)
    m.audit("a" * 128, target="t" * 4096, outcome="o" * 64, actor="x" * 128)
    m.raise_alert("r" * 128, "t" * 256, "m" * 4096, component="c" * 128, alert_type="a" * 64,
                  labels={"k": "v" * 256}, recommended_actions=("a" * 1024,), current_value=-1e300)
    assert m.evaluate_alerts({"q": -1e300, ("q", "c"): 0}) >= 0
    assert await m.get_recovery_analytics(1e-9) is not None
    assert await m.get_alert_history(limit=1) is not None
    assert await m.wait_alert_work(0)
    settle(m)
    assert m.verify_audit_log_sync().ok
