"""Mergeable hourly rollups of the user and system streams.

The hot path (``observe_user_event``) is a handful of dict/set updates on the open hour's bucket
(no syscall, no parsing: the hour is ``timestamp[:13]``). When an hour closes (an event of a later
hour, a tick past it, or flush/close) its bucket is emitted as one ``hourly_rollup`` record: a
*delta* for ``(writer, hour)``. Readers merge every record of an hour (several writers, or several
deltas of one writer), so the content of an hour is a pure function of the raw events of that hour
and ``rebuild`` from raw gives the same merged rollup.

Merge rules (``FFRollupAggregate.merge``): counts add; user sets are exact 64-bit key sets
(``FFDistinctSketch``, HyperLogLog above its limit); durations and response times use
``FFQuantileSketch`` (1% relative error); min/max take min/max.

Definitions: *sessions* = ``session_start`` events; *session duration* statistics come from
``session_end`` events' ``session_duration_seconds``; *conversions* = entries of
``conversion_events``; hour-of-day usage = event counts per UTC hour of day.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import chain, compress
from typing import Any

from ff_utils.ff_analytics_bi.ff_rollup_columns import COLUMNS, FFHourColumns
from ff_utils.ff_analytics_bi.ff_rollup_record_checks import (
    NUMBER_TYPES,
    STR_TYPES,
    ff_check_rollup_keys,
    ff_is_hour_key,
    ff_rollup_count,
    ff_rollup_counts,
    ff_rollup_positions,
    ff_rollup_ratings,
)
from ff_utils.ff_analytics_core.ff_clock import ff_iso, ff_parse_iso
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_sketches.ff_distinct_sketch import DEFAULT_EXACT_LIMIT, FFDistinctSketch, ff_key64
from ff_utils.ff_analytics_sketches.ff_quantile_sketch import DEFAULT_RELATIVE_ACCURACY, FFQuantileSketch

logger = get_logger(__name__)

ROLLUP_STREAM = "rollups"
RECORD_TYPE = "hourly_rollup"
ROLLUP_VERSION = 1
USER_STREAMS = ("session_analytics", "feature_usage", "engagement_metrics", "behavior_patterns")
RESOURCE_STREAM = "resource_usage"  # per-tick resource samples (system service)
REQUEST_STREAM = "performance"  # per-tick request windows: records with kind == "window"
KEY_CATEGORIES = ("type_users", "feature_users", "platform_users", "segment_users")
_RES_FIELDS = (
    ("cpu", "cpu_usage_percent"),
    ("memory", "memory_usage_percent"),
    ("disk", "disk_usage_percent"),
    ("concurrent_users", "concurrent_users"),
)


def dt_to_hk(dt: datetime) -> str:
    """``YYYY-MM-DDTHH`` of an aware datetime (its UTC hour)."""
    dt = dt.astimezone(UTC)
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}"


def hour_key(timestamp: Any) -> str:
    """``YYYY-MM-DDTHH`` of an ISO timestamp (fast path: the first 13 characters)."""
    if isinstance(timestamp, str) and len(timestamp) >= 13 and timestamp[10] == "T" and timestamp[4] == "-":
        return timestamp[:13]
    if isinstance(timestamp, str):
        return ff_iso(ff_parse_iso(timestamp))[:13]
    if hasattr(timestamp, "isoformat"):
        return ff_iso(timestamp)[:13]
    raise ValueError(f"timestamp: expected an ISO-8601 string, got {timestamp!r}")


class _HourBucket:
    """The open hour of one accumulator (raw user hashes; converted to keys on emission)."""

    __slots__ = (
        "events", "by_type", "by_feature", "by_platform", "users", "type_users", "feature_users",
        "platform_users", "segment_users", "conversion_users", "sessions", "durations", "ratings",
        "conversions", "sys_n", "sys_sum", "sys_max", "rt", "errors", "cols",
    )

    def __init__(self, accuracy: float) -> None:
        self.events = 0
        self.by_type: dict[str, int] = {}
        self.by_feature: dict[str, int] = {}
        self.by_platform: dict[str, int] = {}
        self.users: set[str] = set()
        self.type_users: dict[str, set[str]] = {}
        self.feature_users: dict[str, set[str]] = {}
        self.platform_users: dict[str, set[str]] = {}
        self.segment_users: dict[str, set[str]] = {}
        self.conversion_users: set[str] = set()
        self.sessions = 0
        self.durations = FFQuantileSketch(accuracy)
        self.ratings: dict[str, int] = {}
        self.conversions: dict[str, int] = {}
        self.sys_n = 0
        self.sys_sum: dict[str, float] = {}
        self.sys_max: dict[str, float] = {}
        self.rt = FFQuantileSketch(accuracy)
        self.errors = 0
        self.cols: FFHourColumns | None = None  # rebuild: users and category codes per record

    def to_record(self, hour: str, writer: str, key_cache: dict[str, int] | None = None) -> dict[str, Any]:
        cols = self.cols
        users = self.users
        if cols is not None:
            users = users.union(cols.uhs)
            users.discard("")
        if key_cache is None:
            keys = {u: ff_key64(u) for u in users}
        else:  # rebuild: one BLAKE2b per user and task instead of one per user and hour
            for u in users.difference(key_cache):
                key_cache[u] = ff_key64(u)
            ul = list(users)
            keys = dict(zip(ul, map(key_cache.__getitem__, ul), strict=True))
        order = sorted(keys.values())
        pos = dict(zip(order, range(len(order)), strict=True))

        def idx(s: set[str]) -> list[int]:
            return sorted(map(pos.__getitem__, map(keys.__getitem__, s)))

        rec: dict[str, Any] = {
            "timestamp": hour + ":00:00.000000Z",
            "record_type": RECORD_TYPE,
            "v": ROLLUP_VERSION,
            "hour": hour,
            "writer": writer,
            "events": self.events,
            "by_type": dict(sorted(self.by_type.items())),
            "by_feature": dict(sorted(self.by_feature.items())),
            "by_platform": dict(sorted(self.by_platform.items())),
            "users": order,
            "conversion_users": idx(self.conversion_users),
            "sessions": self.sessions,
            "session_duration": self.durations.to_dict(),
            "ratings": dict(sorted(self.ratings.items())),
            "conversions": dict(sorted(self.conversions.items())),
        }
        coded = {}
        if cols is not None:
            ul = list(keys)
            coded = cols.positions(dict(zip(ul, map(pos.__getitem__, map(keys.__getitem__, ul)), strict=True)).get)
        for cat in KEY_CATEGORIES:
            sets = getattr(self, cat)
            got = coded.get(cat)
            if got is None:
                rec[cat] = {k: idx(v) for k, v in sorted(sets.items())}
                continue
            for name, s in sets.items():  # runs folded into sets (and odd records): the union
                ps = got.get(name)
                if ps is None:
                    ps = got[name] = set()
                ps.update(map(pos.__getitem__, map(keys.__getitem__, s)))
            rec[cat] = {k: sorted(v) for k, v in sorted(got.items())}
        if self.sys_n or self.sys_sum:
            rec["system"] = {
                "samples": self.sys_n,
                "sum": dict(sorted(self.sys_sum.items())),
                "max": dict(sorted(self.sys_max.items())),
                "response_time_ms": self.rt.to_dict(),
                "errors": self.errors,
            }
        return rec


_RATING_TYPES = frozenset({int, type(None)})
_LIST_ONLY = frozenset({list})


def _well_typed(uh: Any, et: Any, features: Any, platform: Any, segment: Any, duration: Any, rating: Any,
                conversions: Any) -> bool:
    """The field types the privacy pipeline writes (falsy values already read as absent). A record
    a foreign or damaged writer stored otherwise is not counted: folding it could not be judged."""
    return (type(uh) is str and type(et) is str and type(platform) is str and type(segment) is str
            and (rating is None or type(rating) is int or type(rating) is float)
            and (et != "session_end" or type(duration) is int or type(duration) is float)
            and (features == () or type(features) is list and all(type(f) is str for f in features))
            and (conversions == () or type(conversions) is list and all(type(c) is str for c in conversions)))


def _add_features(b: _HourBucket, uh: str, features: Any) -> None:
    """Count each feature of one event and its user (a user hash of "" counts, adds no user)."""
    bf, fu = b.by_feature, b.feature_users
    for f in features:
        bf[f] = bf.get(f, 0) + 1
        s = fu.get(f)
        if s is None:
            s = fu[f] = set()
        if uh:
            s.add(uh)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _add_resources(b: _HourBucket, get: Callable[[str], Any]) -> None:
    b.sys_n += 1
    for short, name in _RES_FIELDS:
        v = get(name)
        if _num(v):
            b.sys_sum[short] = b.sys_sum.get(short, 0.0) + float(v)
            if v > b.sys_max.get(short, float("-inf")):
                b.sys_max[short] = float(v)


def _add_window(b: _HourBucket, count: Any, mean: Any, errors: Any, throughput: Any) -> None:
    b.sys_sum["windows"] = b.sys_sum.get("windows", 0.0) + 1.0
    if _num(count) and count > 0 and _num(mean) and mean >= 0:
        b.rt.add(float(mean))
    if _num(errors):
        b.errors += int(errors)
    if _num(throughput):
        b.sys_sum["throughput"] = b.sys_sum.get("throughput", 0.0) + float(throughput)
        if throughput > b.sys_max.get("throughput", float("-inf")):
            b.sys_max["throughput"] = float(throughput)


class FFRollupAccumulator:
    """Per-process hourly accumulator; ``emit(records)`` receives closed hours' records."""

    def __init__(
        self,
        writer_id: str,
        emit: Callable[[list[dict[str, Any]]], Any] | None = None,
        relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
        *,
        auto_close: bool = True,
    ) -> None:
        if not isinstance(writer_id, str) or not writer_id:
            raise ValueError("writer_id: expected a non-empty str")
        self.writer_id = writer_id
        self.auto_close = auto_close  # False (rebuild): keep every hour open until flush()
        self._strings: dict[str, str] = {}  # fold_user_dicts only (a rebuild task's lifetime)
        self._keys: dict[str, int] | None = None if auto_close else {}  # rebuild: user hash -> 64-bit key
        self.emit = emit
        self.accuracy = relative_accuracy
        self._buckets: dict[str, _HourBucket] = {}
        self._cur_key = ""
        self._cur: _HourBucket | None = None
        self.records_emitted = 0
        self.emit_failures = 0
        self.skipped_records = 0  # folded dicts with fields of the wrong type (``_well_typed``)
        self._lock = threading.Lock()  # flush hooks run in a worker thread (aflush)

    def after_fork(self, writer_id: str) -> None:
        """Child of ``os.fork()``: drop the parent's open buckets (the parent emits them), new writer id."""
        self._lock = threading.Lock()
        self.writer_id = writer_id
        self._buckets = {}
        self._cur_key = ""
        self._cur = None

    # ------------------------------------------------------------------ hot path
    def _bucket(self, hk: str) -> _HourBucket:
        b = self._buckets.get(hk)
        if b is None:
            b = self._buckets[hk] = _HourBucket(self.accuracy)
        if hk > self._cur_key:
            prev = self._cur_key
            self._cur_key = hk
            self._cur = b
            if prev and self.auto_close:
                self._emit([k for k in self._buckets if k < hk])
        return b

    def observe_user_event(self, rec: Any) -> None:
        """Account one accepted user event (an ``FFUserAnalyticsDTO``-like object). O(1)."""
        ts = rec.timestamp
        hk = ts[:13] if (type(ts) is str and len(ts) >= 13 and ts[10] == "T") else hour_key(ts)
        with self._lock:
            b = self._cur if hk == self._cur_key else self._bucket(hk)
            self._add(
                b, rec.user_hash, getattr(rec, "event_type", "") or "", rec.features_used, rec.platform,
                getattr(rec, "user_segment", ""), rec.session_duration_seconds, rec.satisfaction_rating,
                rec.conversion_events,
            )

    def observe_user_dict(self, d: dict[str, Any]) -> None:
        """Account one stored user record (the hot path's observer; compact records: absent fields
        take their defaults). Same rules as ``_add``, inlined for the common record shape."""
        g = d.get
        ts = g("timestamp")
        hk = ts[:13] if (type(ts) is str and len(ts) >= 13 and ts[10] == "T") else hour_key(ts)
        uh = g("user_hash") or ""
        et = g("event_type") or ""
        features = g("features_used")
        platform = g("platform") or ""
        segment = g("user_segment") or ""
        rating = g("satisfaction_rating")
        conversions = g("conversion_events")
        with self._lock:
            b = self._cur if hk == self._cur_key else self._bucket(hk)
            if features or conversions or rating is not None or type(uh) is not str or not uh:
                self._add(b, uh, et, features or (), platform, segment, g("session_duration_seconds") or 0,
                          rating, conversions or ())
                return
            b.events += 1
            b.users.add(uh)
            bt = b.by_type
            bt[et] = bt.get(et, 0) + 1
            s = b.type_users.get(et)
            if s is None:
                s = b.type_users[et] = set()
            s.add(uh)
            if platform:
                bp = b.by_platform
                bp[platform] = bp.get(platform, 0) + 1
                s = b.platform_users.get(platform)
                if s is None:
                    s = b.platform_users[platform] = set()
                s.add(uh)
            if segment:
                s = b.segment_users.get(segment)
                if s is None:
                    s = b.segment_users[segment] = set()
                s.add(uh)
            if et == "session_start":
                b.sessions += 1
            elif et == "session_end":
                duration = g("session_duration_seconds") or 0
                if duration is not None and duration >= 0:
                    b.durations.add(float(duration))

    def observe_user_dicts(self, recs: list[dict[str, Any]]) -> None:
        """``observe_user_dict`` for each stored record of a batch: one lock, and each run of records
        of one hour folded column by column (``_fold_run``)."""
        with self._lock:
            self.fold_user_dicts(recs, "", "\x7f")

    def fold_user_dicts(self, recs: list[Any], s_hk: str, e_hk: str) -> None:
        """Rebuild fast path: ``observe_user_dict`` for every dict whose hour is in ``[s_hk, e_hk)``,
        without the per-call lock (single-threaded use only). Same rules as ``_add``, applied per run
        of records of one hour column by column (one list comprehension per field, then C-level
        ``Counter``/``set``/``compress`` folds); a chunk with an odd record takes the per-record path."""
        try:
            hks = [d["timestamp"][:13] for d in recs]
        except (KeyError, TypeError):
            self._fold_user_dicts_slow(recs, s_hk, e_hk)
            return
        n = len(hks)
        i = 0
        while i < n:
            hk = hks[i]
            # the run of ``hk`` from i: files are in time order, so bisect, then check the run in C
            j = bisect_right(hks, hk, i)
            if j <= i or hks[i:j].count(hk) != j - i:  # not sorted here: walk
                j = i + 1
                while j < n and hks[j] == hk:
                    j += 1
            if len(hk) == 13 and hk[10] == "T" and s_hk <= hk < e_hk:
                b = self._cur if hk == self._cur_key else self._bucket(hk)
                if not self._fold_run(b, recs[i:j] if i or j < n else recs):
                    self._fold_user_dicts_slow(recs[i:j], s_hk, e_hk)
            elif not (len(hk) == 13 and hk[10] == "T"):  # not the canonical layout: parse per record
                self._fold_user_dicts_slow(recs[i:j], s_hk, e_hk)
            i = j

    def _fold_run(self, b: _HourBucket, sub: list[dict[str, Any]]) -> bool:
        """Fold records of one hour into ``b`` column by column; False (nothing changed) when a
        field has a type the per-record path must judge."""
        uhs = [d.get("user_hash") or "" for d in sub]
        ets = [d.get("event_type") or "" for d in sub]
        plats = [d.get("platform") or "" for d in sub]
        segs = [d.get("user_segment") or "" for d in sub]
        feats = [d.get("features_used") for d in sub]
        ratings = [d.get("satisfaction_rating") for d in sub]
        convs = [d.get("conversion_events") for d in sub]
        try:
            counters = (Counter(ets), Counter(plats), Counter(segs))
        except TypeError:  # an unhashable name: the per-record path judges it
            return False
        # type checks at C speed (``_well_typed``'s rules; a run that fails goes to the per-record
        # path, which skips the odd records): the types of every user hash and rating, of each
        # distinct name (no other type compares equal to a str, so a name of another type is its own
        # key), and of the lists present and their items (a falsy value is "none" on both paths)
        present = list(filter(None, chain(feats, convs)))
        if not (set(map(type, chain(uhs, *counters))) <= STR_TYPES and set(map(type, ratings)) <= _RATING_TYPES
                and set(map(type, present)) <= _LIST_ONLY and set(map(type, chain.from_iterable(present))) <= STR_TYPES):
            return False
        durs: list[float] = []
        if "session_end" in ets:  # only those records visited in Python (compress runs in C)
            for d in compress(sub, map("session_end".__eq__, ets)):
                v = d.get("session_duration_seconds") or 0
                if type(v) is not int and type(v) is not float:
                    return False
                if v >= 0:
                    durs.append(float(v))
        b.events += len(sub)
        columns = (
            ("type_users", b.by_type, ets, True),
            ("platform_users", b.by_platform, plats, False),
            ("segment_users", None, segs, False),
        )
        for (_cat, cat_counts, _col, always), counts in zip(columns, counters, strict=True):
            if cat_counts is not None:
                for name, c in counts.items():
                    if name or always:
                        cat_counts[name] = cat_counts.get(name, 0) + c
        if self.auto_close:
            b.users.update(uhs)
            b.users.discard("")
            in_sets = set(COLUMNS)
        else:  # rebuild: users and category codes per record, users per name found at emission
            cols = b.cols
            if cols is None:
                cols = b.cols = FFHourColumns()
            # categories with too many names to code
            in_sets = set(cols.add(uhs, [(c[0], c[2], n) for c, n in zip(columns, counters, strict=True)]))
        for (cat, cat_counts, col, always), counts in zip(columns, counters, strict=True):
            if cat not in in_sets:
                continue
            cat_users = getattr(b, cat)
            for name in counts:
                if not name and not always:
                    continue
                s = cat_users.get(name)
                if s is None:
                    s = set(compress(uhs, map(name.__eq__, col)))
                    s.discard("")  # records without a user hash count but add no user
                    if s or cat_counts is not None:  # segments: a set only once a user has one
                        cat_users[name] = s
                else:
                    s.update(compress(uhs, map(name.__eq__, col)))
                    s.discard("")
        b.sessions += ets.count("session_start")
        if durs:
            b.durations.add_many(durs)
        if any(feats):
            for uh, fs in compress(zip(uhs, feats, strict=True), feats):
                _add_features(b, uh, fs)
        rated = Counter(ratings)  # one C pass; None is "no rating"
        rated.pop(None, None)
        if rated:
            rt = b.ratings
            for r, c in rated.items():
                r = str(r)
                rt[r] = rt.get(r, 0) + c
        if any(convs):
            cv = b.conversions
            for uh, cs in compress(zip(uhs, convs, strict=True), convs):
                for c in cs:
                    cv[c] = cv.get(c, 0) + 1
                if uh:
                    b.conversion_users.add(uh)
        return True

    def _fold_user_dicts_slow(self, recs: list[Any], s_hk: str, e_hk: str) -> None:
        """Per-record form of :meth:`fold_user_dicts` (any record shape)."""
        add = self._add
        cur_key = ""
        b = self._cur
        same = self._strings.setdefault
        for d in recs:
            if type(d) is not dict:
                continue
            g = d.get
            ts = g("timestamp")
            if type(ts) is str and len(ts) >= 13 and ts[10] == "T":
                hk = ts[:13]
            else:
                try:
                    hk = hour_key(ts)
                except (ValueError, TypeError):
                    continue
            if not s_hk <= hk < e_hk:
                continue
            uh, et, features = g("user_hash") or "", g("event_type") or "", g("features_used") or ()
            platform, segment = g("platform") or "", g("user_segment") or ""
            duration, rating = g("session_duration_seconds") or 0, g("satisfaction_rating")
            conversions = g("conversion_events") or ()
            if not _well_typed(uh, et, features, platform, segment, duration, rating, conversions):
                self.skipped_records += 1
                continue
            if hk != cur_key or b is None or hk != self._cur_key and hk not in self._buckets:
                b = self._cur if hk == self._cur_key else self._bucket(hk)
                cur_key = hk
            add(b, same(uh, uh), et, features, platform, segment, duration, rating, conversions)

    def _add(
        self, b: _HourBucket, uh: str, et: str, features: Any, platform: str, segment: str,
        duration: Any, rating: Any, conversions: Any,
    ) -> None:
        b.events += 1
        if uh:
            b.users.add(uh)
        bt = b.by_type
        bt[et] = bt.get(et, 0) + 1
        s = b.type_users.get(et)
        if s is None:
            s = b.type_users[et] = set()
        if uh:
            s.add(uh)
        if features:
            _add_features(b, uh, features)
        if platform:
            bp = b.by_platform
            bp[platform] = bp.get(platform, 0) + 1
            s = b.platform_users.get(platform)
            if s is None:
                s = b.platform_users[platform] = set()
            if uh:
                s.add(uh)
        if segment and uh:
            s = b.segment_users.get(segment)
            if s is None:
                s = b.segment_users[segment] = set()
            s.add(uh)
        if et == "session_start":
            b.sessions += 1
        elif et == "session_end" and duration is not None and duration >= 0:
            b.durations.add(float(duration))
        if rating is not None:
            r = str(rating)
            b.ratings[r] = b.ratings.get(r, 0) + 1
        if conversions:
            cv = b.conversions
            for c in conversions:
                cv[c] = cv.get(c, 0) + 1
            if uh:
                b.conversion_users.add(uh)

    def observe_system(self, m: Any, *, resources: bool = True, requests: bool = True) -> None:
        """Account one collection tick (an ``FFSystemMetricsDTO``): its resource sample and its
        request window (mean response time, errors, throughput), each only when the system service
        stores it (``resources``/``requests``), so a rebuild from raw sees the same ticks."""
        ts = getattr(m, "timestamp", None)
        if not ts:
            return
        hk = hour_key(ts)
        with self._lock:
            b = self._cur if hk == self._cur_key else self._bucket(hk)
            if resources:
                _add_resources(b, lambda k: getattr(m, k, None))
            if requests:
                _add_window(b, getattr(m, "request_count", 0), getattr(m, "response_time_ms", None),
                            getattr(m, "error_count", 0), getattr(m, "throughput_requests_per_second", None))

    def observe_resource_record(self, d: dict[str, Any]) -> None:
        """A stored ``resource_usage`` record (rebuild path)."""
        hk = hour_key(d.get("timestamp"))
        with self._lock:
            _add_resources(self._cur if hk == self._cur_key else self._bucket(hk), d.get)

    def observe_window_record(self, d: dict[str, Any]) -> None:
        """A stored ``performance`` record with ``kind == "window"`` (rebuild path)."""
        hk = hour_key(d.get("timestamp"))
        with self._lock:
            _add_window(self._cur if hk == self._cur_key else self._bucket(hk), d.get("count"), d.get("mean"),
                        d.get("errors"), d.get("throughput_per_s"))

    # ------------------------------------------------------------------ emission
    def close_before(self, hk: str) -> list[dict[str, Any]]:
        """Emit every bucket of an hour before ``hk`` (``YYYY-MM-DDTHH``)."""
        with self._lock:
            return self._emit([k for k in self._buckets if k < hk])

    def flush(self) -> list[dict[str, Any]]:
        """Emit every open bucket (called on flush/close); later events start new deltas."""
        with self._lock:
            return self._emit(list(self._buckets))

    def _emit(self, keys: list[str]) -> list[dict[str, Any]]:
        if not keys:
            return []
        recs = []
        for k in sorted(keys):
            b = self._buckets.pop(k)
            if k == self._cur_key:
                self._cur = None
                self._cur_key = ""
                # keep ordering monotone: a later event of this hour opens a fresh delta bucket
            recs.append(b.to_record(k, self.writer_id, self._keys))
        if self._cur is None and self._buckets:
            self._cur_key = max(self._buckets)
            self._cur = self._buckets[self._cur_key]
        if self.emit is not None:
            try:
                self.emit(recs)
                self.records_emitted += len(recs)
            except Exception:  # contained: never break the host's record path
                self.emit_failures += 1
                logger.exception("emitting %d rollup records failed", len(recs))
        return recs

    def erase_user(self, user_hash: str) -> int:
        """Forget ``user_hash`` in the open (not yet emitted) buckets; returns buckets touched."""
        n = 0
        with self._lock:
            for b in self._buckets.values():
                hit = user_hash in b.users
                if b.cols is not None:
                    hit = b.cols.erase(user_hash) or hit
                b.users.discard(user_hash)
                b.conversion_users.discard(user_hash)
                for cat in KEY_CATEGORIES:
                    for s in getattr(b, cat).values():
                        s.discard(user_hash)
                n += hit
        return n

    @property
    def open_hours(self) -> list[str]:
        return sorted(self._buckets)


class FFRollupAggregate:
    """A merged rollup over any set of hours (and writers). ``merge`` is associative and commutative."""

    __slots__ = (
        "events", "by_type", "by_feature", "by_platform", "users", "type_users", "feature_users",
        "platform_users", "segment_users", "conversion_users", "sessions", "durations", "ratings",
        "conversions", "hour_of_day", "hours", "sys_n", "sys_sum", "sys_max", "rt", "errors", "exact_limit",
    )

    def __init__(self, exact_limit: int = DEFAULT_EXACT_LIMIT, accuracy: float = DEFAULT_RELATIVE_ACCURACY) -> None:
        self.exact_limit = exact_limit
        self.events = 0
        self.by_type: dict[str, int] = {}
        self.by_feature: dict[str, int] = {}
        self.by_platform: dict[str, int] = {}
        self.users = FFDistinctSketch(exact_limit=exact_limit)
        self.type_users: dict[str, FFDistinctSketch] = {}
        self.feature_users: dict[str, FFDistinctSketch] = {}
        self.platform_users: dict[str, FFDistinctSketch] = {}
        self.segment_users: dict[str, FFDistinctSketch] = {}
        self.conversion_users = FFDistinctSketch(exact_limit=exact_limit)
        self.sessions = 0
        self.durations = FFQuantileSketch(accuracy)
        self.ratings: dict[str, int] = {}
        self.conversions: dict[str, int] = {}
        self.hour_of_day = [0] * 24
        self.hours: set[str] = set()
        self.sys_n = 0
        self.sys_sum: dict[str, float] = {}
        self.sys_max: dict[str, float] = {}
        self.rt = FFQuantileSketch(accuracy)
        self.errors = 0

    @classmethod
    def from_record(cls, rec: dict[str, Any], exact_limit: int = DEFAULT_EXACT_LIMIT, *, sets: bool = True) -> FFRollupAggregate:
        """Parse one stored ``hourly_rollup`` record (``ValueError`` if it is not one); ``sets=False``
        leaves the user sets empty (the index keeps them compactly elsewhere)."""
        if not isinstance(rec, dict) or rec.get("record_type") != RECORD_TYPE:
            raise ValueError("rec: not an hourly_rollup record")
        hk = rec.get("hour")
        if type(hk) is not str or not ff_is_hour_key(hk):
            raise ValueError(f"hour: expected YYYY-MM-DDTHH, got {hk!r:.40}")
        dur = FFQuantileSketch.from_dict(rec.get("session_duration") or {})
        a = cls(exact_limit, dur.relative_accuracy)
        a.hours.add(hk)
        a.events = ff_rollup_count(rec.get("events", 0), "events")
        a.hour_of_day[int(hk[11:13])] = a.events
        a.by_type = ff_rollup_counts(rec.get("by_type"), "by_type")
        a.by_feature = ff_rollup_counts(rec.get("by_feature"), "by_feature")
        a.by_platform = ff_rollup_counts(rec.get("by_platform"), "by_platform")
        if sets:
            users = rec.get("users") or []
            ff_check_rollup_keys(users)
            a.users = FFDistinctSketch(users, exact_limit)
            for cat in KEY_CATEGORIES:
                setattr(a, cat, {k: FFDistinctSketch([users[i] for i in v], exact_limit)
                                 for k, v in ff_rollup_positions(rec.get(cat), cat, len(users)).items()})
            conv = ff_rollup_positions({"": rec.get("conversion_users")}, "conversion_users", len(users))[""]
            a.conversion_users = FFDistinctSketch([users[i] for i in conv], exact_limit)
        a.sessions = ff_rollup_count(rec.get("sessions", 0), "sessions")
        a.durations = dur
        a.ratings = ff_rollup_ratings(rec.get("ratings"))
        a.conversions = ff_rollup_counts(rec.get("conversions"), "conversions")
        sysd = rec.get("system")
        if sysd:
            if type(sysd) is not dict:
                raise ValueError("system: expected an object")
            a.sys_n = ff_rollup_count(sysd.get("samples", 0), "system.samples")
            a.sys_sum = ff_rollup_counts(sysd.get("sum"), "system.sum", NUMBER_TYPES)
            a.sys_max = ff_rollup_counts(sysd.get("max"), "system.max", NUMBER_TYPES)
            if not set(a.sys_sum) - {"windows"} <= set(a.sys_max):
                raise ValueError("system: a sum without its max")
            a.rt = FFQuantileSketch.from_dict(sysd.get("response_time_ms") or {})
            a.errors = ff_rollup_count(sysd.get("errors", 0), "system.errors")
        return a

    def merge(self, o: FFRollupAggregate, *, sets: bool = True) -> FFRollupAggregate:
        """Merge ``o`` into self (returns self); ``sets=False`` leaves the user sets out."""
        self.events += o.events
        for mine, theirs in ((self.by_type, o.by_type), (self.by_feature, o.by_feature),
                             (self.by_platform, o.by_platform), (self.ratings, o.ratings),
                             (self.conversions, o.conversions)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
        if sets:
            self.users.merge(o.users)
            for cat in KEY_CATEGORIES:
                mine_d = getattr(self, cat)
                for k, sk in getattr(o, cat).items():
                    cur = mine_d.get(k)
                    if cur is None:
                        mine_d[k] = sk.copy()
                    else:
                        cur.merge(sk)
            self.conversion_users.merge(o.conversion_users)
        self.sessions += o.sessions
        self.durations.merge(o.durations)
        self.hour_of_day = [x + y for x, y in zip(self.hour_of_day, o.hour_of_day, strict=True)]
        self.hours |= o.hours
        self.sys_n += o.sys_n
        for k, v in o.sys_sum.items():
            self.sys_sum[k] = self.sys_sum.get(k, 0.0) + v
        for k, v in o.sys_max.items():
            if v > self.sys_max.get(k, float("-inf")):
                self.sys_max[k] = v
        self.rt.merge(o.rt)
        self.errors += o.errors
        return self

    def to_record(self, hour: str, writer: str) -> dict[str, Any]:
        """Serialize as one ``hourly_rollup`` record (exact user sets required)."""
        if self.users.keys is None:
            raise ValueError("to_record: user sets are in HyperLogLog mode; hourly records need exact sets")
        order = sorted(self.users.keys)
        pos = {k: i for i, k in enumerate(order)}

        def idx(sk: FFDistinctSketch) -> list[int]:
            if sk.keys is None:
                raise ValueError("to_record: a user set is in HyperLogLog mode")
            return sorted(pos[k] for k in sk.keys)

        rec: dict[str, Any] = {
            "timestamp": hour + ":00:00.000000Z", "record_type": RECORD_TYPE, "v": ROLLUP_VERSION,
            "hour": hour, "writer": writer, "events": self.events,
            "by_type": dict(sorted(self.by_type.items())), "by_feature": dict(sorted(self.by_feature.items())),
            "by_platform": dict(sorted(self.by_platform.items())), "users": order,
            "conversion_users": idx(self.conversion_users), "sessions": self.sessions,
            "session_duration": self.durations.to_dict(), "ratings": dict(sorted(self.ratings.items())),
            "conversions": dict(sorted(self.conversions.items())),
        }
        for cat in KEY_CATEGORIES:
            rec[cat] = {k: idx(v) for k, v in sorted(getattr(self, cat).items())}
        if self.sys_n or self.sys_sum:
            rec["system"] = {
                "samples": self.sys_n, "sum": dict(sorted(self.sys_sum.items())),
                "max": dict(sorted(self.sys_max.items())), "response_time_ms": self.rt.to_dict(), "errors": self.errors,
            }
        return rec

    def counts_record(self, hour: str) -> dict[str, Any]:
        """The counts and sketches of a one-hour aggregate (no user sets) as an ``hourly_rollup``
        record that ``from_record(..., sets=False)`` reads back to an equal aggregate."""
        if self.hours and self.hours != {hour}:
            raise ValueError(f"hour: the aggregate covers {sorted(self.hours)[:3]}, not only {hour!r}")
        rec: dict[str, Any] = {
            "record_type": RECORD_TYPE, "v": ROLLUP_VERSION, "hour": hour, "events": self.events,
            "by_type": self.by_type, "by_feature": self.by_feature, "by_platform": self.by_platform,
            "sessions": self.sessions, "session_duration": self.durations.to_dict(), "ratings": self.ratings,
            "conversions": self.conversions,
        }
        if self.sys_n or self.sys_sum:
            rec["system"] = {"samples": self.sys_n, "sum": self.sys_sum, "max": self.sys_max,
                             "response_time_ms": self.rt.to_dict(), "errors": self.errors}
        return rec

    def canonical(self) -> dict[str, Any]:
        """A comparable dict (float sums rounded to 6 decimals; their addition order may differ)."""
        def keys(s: FFDistinctSketch) -> Any:
            return sorted(s.keys) if s.keys is not None else s.to_dict()

        out: dict[str, Any] = {
            "hours": sorted(self.hours), "events": self.events, "by_type": dict(sorted(self.by_type.items())),
            "by_feature": dict(sorted(self.by_feature.items())), "by_platform": dict(sorted(self.by_platform.items())),
            "users": keys(self.users), "conversion_users": keys(self.conversion_users), "sessions": self.sessions,
            "durations": self.durations.to_dict(), "ratings": dict(sorted(self.ratings.items())),
            "conversions": dict(sorted(self.conversions.items())), "hour_of_day": self.hour_of_day,
            "sys_n": self.sys_n, "sys_sum": {k: round(v, 6) for k, v in sorted(self.sys_sum.items())},
            "sys_max": dict(sorted(self.sys_max.items())), "rt": self.rt.to_dict(), "errors": self.errors,
        }
        out["durations"]["s"] = round(out["durations"]["s"], 6)
        out["rt"]["s"] = round(out["rt"]["s"], 6)
        for cat in KEY_CATEGORIES:
            out[cat] = {k: keys(v) for k, v in sorted(getattr(self, cat).items())}
        return out
