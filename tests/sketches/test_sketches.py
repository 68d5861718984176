"""Mergeable sketches: relative-error quantiles and exact-then-HLL distinct counts."""

from __future__ import annotations

import math
import random

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ff_utils.ff_analytics_sketches.ff_distinct_sketch import HLL_STANDARD_ERROR, FFDistinctSketch, ff_key64
from ff_utils.ff_analytics_sketches.ff_quantile_sketch import FFQuantileSketch


def _lower_quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[math.floor(q * (len(s) - 1))]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0.001, max_value=1e7, allow_nan=False), min_size=1, max_size=400),
    st.sampled_from([0.0, 0.5, 0.9, 0.95, 0.99, 1.0]),
)
def test_quantile_within_relative_accuracy(values: list[float], q: float) -> None:
    sk = FFQuantileSketch(0.01)
    for v in values:
        sk.add(v)
    exact = _lower_quantile(values, q)
    est = sk.quantile(q)
    assert est is not None
    assert abs(est - exact) <= 0.01 * exact + 1e-12


def test_quantile_merge_equals_sketch_of_union_and_roundtrips_json() -> None:
    rng = random.Random(1)
    a, b, both = FFQuantileSketch(), FFQuantileSketch(), FFQuantileSketch()
    for i in range(5000):
        v = rng.lognormvariate(4, 1.2) if i % 7 else 0.0
        (a if i % 2 else b).add(v)
        both.add(v)
    merged = a.copy().merge(b)
    assert merged.to_dict()["b"] == both.to_dict()["b"]
    assert merged.count == both.count == 5000
    back = FFQuantileSketch.from_dict(orjson.loads(orjson.dumps(merged.to_dict())))
    assert back.quantile(0.99) == merged.quantile(0.99)
    assert back.quantile(0.0) == 0.0  # zeros counted


def test_quantile_sketch_rejects_bad_input() -> None:
    sk = FFQuantileSketch()
    with pytest.raises(ValueError, match="value"):
        sk.add(-1.0)
    with pytest.raises(ValueError, match="value"):
        sk.add(float("nan"))
    with pytest.raises(ValueError, match="q"):
        sk.quantile(1.5)
    with pytest.raises(ValueError, match="relative_accuracy"):
        FFQuantileSketch(0.0)
    with pytest.raises(TypeError, match="other"):
        sk.merge({"a": 0.02})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="e: "):
        FFQuantileSketch.from_dict({"a": 0.02, "e": 0.01})  # a bound finer than the accuracy
    assert FFQuantileSketch().quantile(0.5) is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0.001, max_value=1e7, allow_nan=False), min_size=1, max_size=300),
    st.lists(st.floats(min_value=0.0, max_value=1e7, allow_nan=False), min_size=0, max_size=300),
    st.sampled_from([(0.01, 0.03), (0.03, 0.01), (0.02, 0.02), (0.005, 0.05)]),
    st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]),
)
def test_merging_sketches_of_different_accuracies_stays_within_the_stated_bound(
        xs: list[float], ys: list[float], accs: tuple[float, float], q: float) -> None:
    """A changed ``rollup_relative_accuracy`` leaves hours of two accuracies: their merge (either
    way round) is the coarser sketch, its quantiles within ``error_bound`` of the exact ones."""
    a, b = FFQuantileSketch(accs[0]), FFQuantileSketch(accs[1])
    a.add_many(xs)
    b.add_many(ys)
    fine, coarse = sorted(accs)
    bound = (1 + fine) * (1 + coarse) - 1 if fine != coarse else fine
    exact = _lower_quantile(xs + ys, q)
    for m in (a.copy().merge(b), b.copy().merge(a)):
        assert m.relative_accuracy == coarse and m.error_bound == pytest.approx(bound)
        assert m.count == len(xs) + len(ys) and m.total == pytest.approx(math.fsum(xs + ys))
        est = m.quantile(q)
        assert est is not None and abs(est - exact) <= bound * exact + 1e-12
        back = FFQuantileSketch.from_dict(orjson.loads(orjson.dumps(m.to_dict())))
        assert back == m and back.error_bound == m.error_bound
    assert ("e" in a.copy().merge(b).to_dict()) == (fine != coarse)  # the stored form changes only then


def test_distinct_exact_mode_counts_removes_and_roundtrips() -> None:
    keys = [ff_key64(f"user-{i}") for i in range(1000)]
    a = FFDistinctSketch(keys[:600])
    b = FFDistinctSketch(keys[400:])
    a.merge(b)
    assert a.is_exact and a.count() == 1000
    assert a.discard(keys[0]) and a.count() == 999
    back = FFDistinctSketch.from_dict(orjson.loads(orjson.dumps(a.to_dict())))
    assert back.count() == 999 and back.keys == a.keys


def test_distinct_switches_to_hll_within_stated_error() -> None:
    n = 60_000
    sk = FFDistinctSketch(exact_limit=1000)
    other = FFDistinctSketch(exact_limit=1000)
    for i in range(n):
        (sk if i % 2 else other).add(ff_key64(f"u{i}"))
    assert not sk.is_exact
    sk.merge(other)
    err = abs(sk.count() - n) / n
    assert err <= 3 * HLL_STANDARD_ERROR, err
    back = FFDistinctSketch.from_dict(orjson.loads(orjson.dumps(sk.to_dict())))
    assert back.count() == sk.count()
    with pytest.raises(ValueError, match="HyperLogLog"):
        sk.discard(1)


def test_distinct_bad_input() -> None:
    with pytest.raises(ValueError, match="exact_limit"):
        FFDistinctSketch(exact_limit=-1)
    with pytest.raises(TypeError, match="text"):
        ff_key64(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        FFDistinctSketch.from_dict({"mode": "bogus"})
