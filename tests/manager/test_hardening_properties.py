"""Hardening: property tests of the user-event path against a reference model of docs/privacy.md.

(a) Any JSON-like ``event_data`` (full Unicode incl. control characters and U+2028, ints beyond 64
    bits, NaN/inf, nesting, free-text / identifier / unsafe / PII keys) passed to
    ``record_user_analytics`` is stored with ``properties`` equal to an independent model of the
    documented rules. Only the string-level scrubber (``scrub_text``) and the user-agent reducer are
    reused; key classification, bounds and number handling are modelled here.
(b) After every example every file of the store (``analytics/**/*.jsonl[.gz]``,
    ``privacy_state/*.jsonl``) holds exactly one JSON object per line.

Size knob: ``FF_TEST_PROPERTY_EXAMPLES`` (default 60 per property).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import gzip
import itertools
import math
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import load_config
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_privacy.ff_identifier_guard import PSEUDONYMIZED_KEYS
from ff_utils.ff_analytics_privacy.ff_pii_scrubber import IDENTIFIER_KEYS, reduce_user_agent, scrub_text
from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import DEFAULT_KEY_ENV_VAR
from ff_utils.ff_analytics_privacy.ff_user_event_pipeline import EVENT_STREAMS, MAPPINGS

EXAMPLES = int(os.environ.get("FF_TEST_PROPERTY_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ============================================================================ the reference model
# docs/privacy.md, "Sensitive content". Written from the page, not from ff_pii_scrubber's code.
FREE_TEXT_KEYS = frozenset(
    "message content text prompt query body comment comments description note notes title subject input "
    "output response completion transcript feedback question answer reply summary search search_term q chat "
    "conversation document html markdown raw".split()
)
FREE_TEXT_SUFFIXES = ("_message", "_text", "_content", "_prompt", "_query", "_body", "_comment", "_feedback")
# the page lists the common identifier keys and points at ff_pii_scrubber.IDENTIFIER_KEYS for the rest
DOC_IDENTIFIER_KEYS = frozenset(
    "user_id user username email phone mobile tel ip ip_address remote_addr client_ip name first_name last_name "
    "full_name address ssn password token access_token api_key secret authorization cookie session_token card "
    "card_number credit_card iban session_id device_id dob".split()
)
SAFE_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
MAX_DEPTH = 4  # containers nested more than 4 levels below `properties` are stored as null
MAX_ITEMS = 64  # entries per dict (first kept ones, <key>_length entries included) and items per list
SHORT = 6  # strings shorter than this are stored unchanged
INT_MIN, INT_MAX = -(2**63), 2**64 - 1  # beyond: decimal strings

DROP, FREE, UA, KEEP, PSEUDO = range(5)


class _AnyPseudonym:
    """Equal to any keyed pseudonym (32 lower-case hex digits): identifier-like keys keep only that."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and re.fullmatch(r"[0-9a-f]{32}", other) is not None

    def __repr__(self) -> str:
        return "<pseudonym>"


ANY_PSEUDONYM = _AnyPseudonym()


def model_classify(key: Any) -> int:
    if not isinstance(key, str) or not SAFE_KEY.fullmatch(key) or (len(key) >= SHORT and scrub_text(key) != key):
        return DROP  # unsafe key or a key that carries PII itself
    k = key.lower()  # key names compare case-insensitively
    if k in PSEUDONYMIZED_KEYS:
        return PSEUDO
    if k in IDENTIFIER_KEYS:
        return DROP
    if k in FREE_TEXT_KEYS or k.endswith(FREE_TEXT_SUFFIXES):
        return FREE
    return UA if k == "user_agent" else KEEP


def model_text(s: str) -> str:
    return model_json_str(s if len(s) < SHORT else scrub_text(s))


def model_json_str(s: str) -> str:
    """As stored: a lone surrogate becomes U+FFFD, a pair written as two code points recombines."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def model_luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def model_compact_timestamp(digits: str) -> bool:
    """YYYYMMDDHH... (19xx/20xx, valid month, day and hour): a timestamp, not a card."""
    return (len(digits) >= 14 and digits[:2] in ("19", "20") and 1 <= int(digits[4:6]) <= 12
            and 1 <= int(digits[6:8]) <= 31 and int(digits[8:10]) < 24)


def model_value(v: Any, depth: int) -> Any:
    """The stored (JSON-decoded) form of one property value ``depth`` levels below ``properties``."""
    if isinstance(v, str):
        return model_text(v)
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None  # NaN/inf -> null
    if isinstance(v, int):
        digits = str(abs(v))
        if 13 <= len(digits) <= 19 and model_luhn(digits) and not model_compact_timestamp(digits):
            return "[CARD]"
        return v if INT_MIN <= v <= INT_MAX else str(v)
    if depth >= MAX_DEPTH:
        return None
    if isinstance(v, dict):
        return model_properties(v, depth + 1)
    if isinstance(v, list):
        return [model_value(x, depth + 1) for x in v[:MAX_ITEMS]]
    raise AssertionError(f"the strategy produced a non-JSON value {v!r}")


def model_properties(d: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lengths: set[str] = set()
    for k, v in d.items():
        if len(out) >= MAX_ITEMS:
            break
        c = model_classify(k)
        if c == FREE:
            if isinstance(v, str):  # free text: only its length, which wins over a caller key of that name
                out[f"{k}_length"] = len(v)
                lengths.add(f"{k}_length")
        elif c == UA:
            if isinstance(v, str):
                family, platform = reduce_user_agent(v)
                out[k] = f"{family}/{platform}" if v else ""
            else:
                out[k] = model_value(v, depth)
        elif c == KEEP and k not in lengths:
            out[k] = model_value(v, depth)
        elif c == PSEUDO and isinstance(v, (str, int)) and not isinstance(v, bool):
            out[k] = ANY_PSEUDONYM  # scalars under identifier-like keys: pseudonymized; containers dropped
    return out


def test_documented_identifier_keys_are_all_in_the_scrubber() -> None:
    assert DOC_IDENTIFIER_KEYS <= IDENTIFIER_KEYS


def test_model_self_checks() -> None:
    """The model against hand-computed cases, so a model bug cannot hide a library bug."""
    assert model_luhn("4111111111111111") and not model_luhn("4111111111111112")
    assert model_value(4111111111111111, 0) == "[CARD]" and model_value(-4111111111111111, 0) == "[CARD]"
    assert model_luhn("20260301123457") and model_value(20260301123457, 0) == 20260301123457  # a timestamp
    assert model_value(2**64, 0) == str(2**64) and model_value(2**64 - 1, 0) == 2**64 - 1
    assert model_value(float("nan"), 0) is None and model_value(-0.0, 0) == 0.0
    # a top-level property value is level 1: containers at levels 1..4 are kept, level 5 becomes null
    assert model_value({"a": {"b": {"c": {"d": 1}}}}, 0) == {"a": {"b": {"c": {"d": 1}}}}
    assert model_value({"a": {"b": {"c": {"d": {}}}}}, 0) == {"a": {"b": {"c": {"d": None}}}}
    assert model_value([[[[1]]]], 0) == [[[[1]]]] and model_value([[[[[1]]]]], 0) == [[[[None]]]]
    assert model_properties({"message": "hello", "message_length": 1, "Email": "x", "a b": 1, "ok": "a@b.co"}) \
        == {"message_length": 5, "ok": "[EMAIL]"}
    assert len(model_properties({f"k{i}": i for i in range(100)})) == MAX_ITEMS


# ============================================================================ strategies
SPECIALS = ["\u2028", "\u2029", "\x85", "\n", "\r", "\x00", "\x1f", "\x7f", "\x0b", "\x0c", "\ufeff", "\u202e",
            "😀", "\u0301", "\u200d", "你", "ש", '"', "\\"]
PII = ["alice@example.com", "call 555-123-4567", "4111 1111 1111 1111", "10.0.0.1", "fe80::1ff:fe23:4567:890a",
       "Bearer abcdefghijklmnopqrstuv", "password=hunter2", "ghp_" + "a1" * 12, "::1", "version 1.2.3.4",
       "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0", "👨\u200d👩\u200d👧 e\u0301 \u2028\u2029\x85"]
chars = st.one_of(st.characters(), st.sampled_from(SPECIALS))
texts = st.one_of(st.text(chars, max_size=24), st.sampled_from(PII),
                  st.builds(lambda a, b: a + b, st.sampled_from(PII), st.text(chars, max_size=8)))
ints = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.integers(),
                 st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 4111111111111111,
                                  -4111111111111111, 20260301123457, 10**19, 10**12]))
scalars = st.one_of(st.none(), st.booleans(), ints, st.floats(), texts)
KEY_SAMPLES = sorted(FREE_TEXT_KEYS)[:12] + sorted(DOC_IDENTIFIER_KEYS)[:12] + [
    "user_agent", "USER_AGENT", "Email", "search_query", "message_length", "x_length", "user-name.v2", "k" * 64,
    "k" * 65, "a b", "../x", "", "alice@example.com", "do_not_track", "pages", "platform", "k1", "k2"]
keys = st.one_of(st.text(chars, max_size=12), st.sampled_from(KEY_SAMPLES),
                 st.from_regex(SAFE_KEY, fullmatch=True))
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=6), st.dictionaries(keys, children, max_size=6)),
    max_leaves=24,
)
event_types = st.sampled_from(sorted(EVENT_STREAMS))


@st.composite
def events(draw: Any) -> tuple[str, dict[str, Any]]:
    """``(event_type, event_data)`` whose top-level keys are not mapped onto DTO fields."""
    event_type = draw(event_types)
    reserved = set(MAPPINGS[event_type]) | {"do_not_track"}
    data = draw(st.dictionaries(keys.filter(lambda k: k not in reserved), json_values, max_size=10))
    return event_type, data


def _deep(n: int) -> Any:
    v: Any = "leaf"
    for _ in range(n):
        v = {"d": [v]}
    return v


WIDE = {f"k{i}": i for i in range(70)}
WIDE_FREE = {**{f"f{i}_text": "x" * i for i in range(40)}, **{f"k{i}": i for i in range(40)}}


# ============================================================================ harness
@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_KEY_ENV_VAR, raising=False)


class _Harness:
    """One manager (own event loop) shared by every example of a property."""

    def __init__(self, base: Path) -> None:
        cfg = copy.deepcopy(load_config(environment="test"))
        cfg = dataclasses.replace(cfg, storage=dataclasses.replace(cfg.storage, base_path=str(base)))
        self.base = base
        self.loop = asyncio.new_event_loop()
        self.m = FFMetricsCollectionManager(cfg, clock=FFManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)),
                                            writer_id="w1")
        self.run(self.m.initialize_analytics_system(start_collection=False))
        self.ids = itertools.count()

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self.m.close())
        self.loop.close()

    def record(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Record one event for a new user, flush, and return the stored record (read from the file)."""
        i = next(self.ids)
        assert self.run(self.m.record_user_analytics(f"user-{i}", f"sess-{i}", event_type, data)) is True
        self.m.flush()
        h = self.m.privacy.pipeline.pseudonymizer.user_hash(f"user-{i}")
        stream = EVENT_STREAMS[event_type]
        mine = [r for r in self.m.store.read(stream) if r.get("user_hash") == h]
        assert len(mine) == 1, f"expected one stored record of user-{i} in {stream}, found {len(mine)}"
        return mine[0]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[_Harness]:
    h = _Harness(tmp_path)
    yield h
    h.close()


def store_files(base: Path) -> list[Path]:
    out = [p for p in (base / "analytics").rglob("*") if p.name.endswith((".jsonl", ".jsonl.gz"))]
    return out + sorted((base / "privacy_state").glob("*.jsonl"))


def assert_store_is_one_object_per_line(base: Path) -> int:
    """Every file: ends with a newline, no empty line, each line one JSON object; returns the line count."""
    total = 0
    for f in store_files(base):
        data = f.read_bytes()
        if f.name.endswith(".gz"):
            data = gzip.decompress(data)
        if not data:
            continue
        assert data.endswith(b"\n"), f"{f}: last record not terminated"
        lines = data.split(b"\n")[:-1]
        for n, line in enumerate(lines, 1):
            assert line, f"{f}:{n}: empty line"
            assert isinstance(orjson.loads(line), dict), f"{f}:{n}: not a JSON object"
        assert len(data.decode("utf-8").splitlines()) == len(lines), f"{f}: raw Unicode line break in a record"
        total += len(lines)
    return total


# ============================================================================ properties
def test_event_data_round_trips_to_the_documented_properties(harness: _Harness) -> None:
    @SETTINGS
    @given(events())
    @example(("content_interaction", {"wide": WIDE, "list": list(range(70)), "deep": _deep(7)}))
    @example(("page_view", WIDE_FREE))
    @example(("content_interaction", {"lone": "a\ud800b", "pair": "\ud83d\ude00", "k": ["\udfff"]}))
    @example(("content_interaction", {"message": "hi", "message_length": 99, "comment_length": 1, "comment": "x"}))
    @example(("satisfaction", {"big": 2**70, "card": 4111111111111111, "ts": 20260301123457, "nan": float("nan"),
                               "inf": [float("inf"), -float("inf")], "ls": "a\u2028b\u2029c\x85d\ne\x00"}))
    @example(("conversion", {"Email": "a@b.co", "USER_AGENT": "curl/8.0", "nested": {"user_agent": 5,
                                                                                  "phone": "1"}}))
    def check(ev: tuple[str, dict[str, Any]]) -> None:
        event_type, data = ev
        rec = harness.record(event_type, data)
        assert rec["event_type"] == event_type
        assert rec["properties"] == model_properties(data)
        assert_store_is_one_object_per_line(harness.base)

    check()


def test_every_store_file_stays_one_object_per_line_across_batches(harness: _Harness) -> None:
    """Batches, consent changes and erasure rewrite files: the line rule holds after each example."""
    @SETTINGS
    @given(st.lists(events(), min_size=1, max_size=4), st.booleans())
    def check(batch: list[tuple[str, dict[str, Any]]], erase_first: bool) -> None:
        i = next(harness.ids)
        uid = f"batch-user-{i}"
        before = assert_store_is_one_object_per_line(harness.base)
        stored = harness.run(harness.m.record_user_events([(uid, f"s{i}", t, d) for t, d in batch]))
        assert stored == len(batch)
        harness.run(harness.m.record_consent(uid, True))
        harness.m.flush()
        after = assert_store_is_one_object_per_line(harness.base)
        assert after >= before + len(batch)  # the events and the consent line are in files now
        if erase_first:
            report = harness.run(harness.m.erase_user_data(uid))
            assert report["records_removed_total"] >= len(batch)
            harness.m.flush()
            assert_store_is_one_object_per_line(harness.base)

    check()
    harness.m.flush()
    assert harness.m.store.stats.records_dropped == 0
