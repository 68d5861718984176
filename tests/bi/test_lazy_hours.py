"""``FFLazyHours``: a dict of hours whose pending values are decoded on first read, one at a time."""

from __future__ import annotations

from ff_utils.ff_analytics_bi.ff_lazy_hours import FFLazyHours


def _maps(hours: list[str]) -> tuple[FFLazyHours[int], FFLazyHours[str], list[str]]:
    pending = set(hours)
    loads: list[str] = []

    def load(hk: str) -> None:  # fills both maps that share the pending set, as the index does
        loads.append(hk)
        a[hk] = int(hk[-2:])
        b[hk] = "v" + hk[-2:]

    a: FFLazyHours[int] = FFLazyHours(pending, load)
    b: FFLazyHours[str] = FFLazyHours(pending, load)
    return a, b, loads


HOURS = [f"2026-11-01T{h:02d}" for h in range(24)]


def test_keys_len_membership_and_truth_decode_nothing() -> None:
    a, b, loads = _maps(HOURS)
    assert sorted(a) == HOURS and len(a) == 24 and "2026-11-01T05" in a and "2026-11-02T00" not in a and a
    assert loads == []


def test_reading_one_value_decodes_that_hour_for_every_map_sharing_the_set() -> None:
    a, b, loads = _maps(HOURS)
    assert a["2026-11-01T05"] == 5 and loads == ["2026-11-01T05"]
    assert b.get("2026-11-01T05") == "v05" and loads == ["2026-11-01T05"]  # decoded once for both
    assert a.get("2026-11-02T00") is None and a.get("2026-11-02T00", -1) == -1
    assert len(a) == len(b) == 24 and sorted(b) == HOURS  # still every hour, none twice


def test_items_decode_all_while_iterating_and_match_a_plain_dict() -> None:
    a, _b, loads = _maps(HOURS)
    assert dict(a.items()) == {hk: int(hk[-2:]) for hk in HOURS}
    assert sorted(loads) == HOURS


def test_set_pop_and_clear() -> None:
    a, b, loads = _maps(HOURS)
    a["2026-11-01T01"] = 100  # a recomputed value replaces the pending one without decoding it
    b["2026-11-01T01"] = "new"
    assert a["2026-11-01T01"] == 100 and b["2026-11-01T01"] == "new" and loads == []
    assert a.pop("2026-11-01T02") == 2 and "2026-11-01T02" not in a and b["2026-11-01T02"] == "v02"
    assert a.pop("2026-11-05T00", None) is None
    a.clear()
    assert not a and len(a) == 0 and loads == ["2026-11-01T02"]  # clear decodes nothing
