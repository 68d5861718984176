"""An in-memory, incrementally refreshed view of the stored hourly rollups.

``refresh()`` stats the rollup partition files and re-reads only new or changed ones (appends keep
the inode and grow; rewrites by erasure or rebuild replace the inode). It keeps, per hour, the
rollup merged over all writers and deltas; per closed UTC day, a cached merge of its hours; and the
*first-seen index*: for every user key the first hour any rollup saw it. "New users in a period" are
the keys whose first-seen hour lies in the period; "returning" are the other active users.
"""

from __future__ import annotations

import os
from array import array
from collections import Counter, deque
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import repeat
from typing import Any

import orjson

from ff_utils.ff_analytics_bi.ff_lazy_hours import FFLazyHours
from ff_utils.ff_analytics_bi.ff_rollup_accumulator import (
    RECORD_TYPE,
    ROLLUP_STREAM,
    FFRollupAggregate,
    dt_to_hk,
)
from ff_utils.ff_analytics_bi.ff_rollup_index_snapshot import (
    FFSnapshotError,
    FFSnapshotFile,
    ff_pack_snapshot,
)
from ff_utils.ff_analytics_bi.ff_rollup_record_checks import INT_TYPES, ff_rollup_positions
from ff_utils.ff_analytics_core.ff_file_ops import ff_atomic_write
from ff_utils.ff_analytics_core.ff_jsonl_reader import BAD_LINE, FFStoreCorruptionError, ff_iter_jsonl_lines
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_sketches.ff_distinct_sketch import DEFAULT_EXACT_LIMIT, FFDistinctSketch
from ff_utils.ff_analytics_store.ff_stream_store import DERIVED_PREFIX

logger = get_logger(__name__)

SNAPSHOT_NAME = DERIVED_PREFIX + "rollup_index"  # at the rollups stream's root
SNAPSHOT_VERSION = 5
# a snapshot is saved once the rollup files changed since the last one hold at least this many bytes
# and a quarter of all rollup bytes (a cold load or days of growth, not each append of a busy day)
SNAPSHOT_MIN_STALE_BYTES = 2 << 20


_PACK_MASKS: dict[int, tuple[int, int, int]] = {}


def ff_pack_byte_mask(buf: bytes | bytearray) -> int:
    """Pack a 0/1 byte per item (length a multiple of 8) into an int with bit i = item i.

    Three shift-or-mask passes on one big int gather each 8-byte group's bits into its low byte,
    then every 8th byte is sliced out: all C-level, O(n).
    """
    size = len(buf)
    masks = _PACK_MASKS.get(size)
    if masks is None:
        if len(_PACK_MASKS) > 64:
            _PACK_MASKS.clear()
        masks = _PACK_MASKS[size] = (
            int.from_bytes(b"\x03\x00" * (size // 2), "little"),
            int.from_bytes(b"\x0f\x00\x00\x00" * (size // 4), "little"),
            int.from_bytes((b"\xff" + b"\x00" * 7) * (size // 8), "little"),
        )
    m1, m2, m3 = masks
    x = int.from_bytes(buf, "little")
    x = (x | (x >> 7)) & m1
    x = (x | (x >> 14)) & m2
    x = (x | (x >> 28)) & m3
    return int.from_bytes(x.to_bytes(size, "little")[::8], "little")


def hk_to_dt(hk: str) -> datetime:
    """``YYYY-MM-DDTHH`` -> aware UTC datetime."""
    return datetime(int(hk[0:4]), int(hk[5:7]), int(hk[8:10]), int(hk[11:13]), tzinfo=UTC)


def hours_between(start: datetime, end: datetime) -> list[str]:
    """Hour keys of ``[start, end)`` (both on hour boundaries)."""
    out = []
    t = start
    while t < end:
        out.append(dt_to_hk(t))
        t += timedelta(hours=1)
    return out


class FFUserBits:
    """User sets of a span as bitmaps over dense user ids (OR = union, ``bit_count`` = size)."""

    __slots__ = ("users", "type_users", "feature_users", "platform_users", "segment_users", "conversion_users")

    def __init__(self) -> None:
        self.users = 0
        self.type_users: dict[str, int] = {}
        self.feature_users: dict[str, int] = {}
        self.platform_users: dict[str, int] = {}
        self.segment_users: dict[str, int] = {}
        self.conversion_users = 0

    def merge(self, o: FFUserBits) -> FFUserBits:
        self.users |= o.users
        self.conversion_users |= o.conversion_users
        for cat in ("type_users", "feature_users", "platform_users", "segment_users"):
            mine = getattr(self, cat)
            for k, v in getattr(o, cat).items():
                mine[k] = mine.get(k, 0) | v
        return self


class FFHourUsers:
    """The exact user data of one stored hourly record, kept compact: sorted 64-bit keys in an
    ``array('Q')`` and each category's positions into them in an ``array('I')``."""

    __slots__ = ("keys", "cats")

    def __init__(self, keys: array[int], cats: dict[tuple[str, str], array[int]]) -> None:
        self.keys = keys
        self.cats = cats

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> FFHourUsers:
        """The user parts of a stored rollup record; ``ValueError``/``TypeError``/``OverflowError``
        when its keys are not 64-bit ints or a position lies outside its users."""
        keys = array("Q", rec.get("users") or ())
        n = len(keys)
        cats: dict[tuple[str, str], array[int]] = {}
        for cat in _CAT_NAMES:
            for name, idx in ff_rollup_positions(rec.get(cat), cat, n).items():
                cats[(cat, name)] = idx
        cats[("conversion_users", "")] = ff_rollup_positions({"": rec.get("conversion_users")}, "conversion_users", n)[""]
        return cls(keys, cats)


_CAT_NAMES = ("type_users", "feature_users", "platform_users", "segment_users")
_USER_CATS = frozenset((*_CAT_NAMES, "conversion_users"))




def _counts_entry(agg: FFRollupAggregate, hour: str) -> tuple[dict[str, Any], list[list[int]], list[list[int]] | None]:
    """An hour's counts record for the snapshot with its sketches' buckets apart as int lists
    (orjson reads those ~10x faster than the string-keyed objects of the stored records)."""
    rec = agg.counts_record(hour)
    rec["session_duration"]["b"] = {}
    rt = None
    if "system" in rec:
        rec["system"]["response_time_ms"]["b"] = {}
        rt = [list(agg.rt.buckets), list(agg.rt.buckets.values())]
    return rec, [list(agg.durations.buckets), list(agg.durations.buckets.values())], rt


def _buckets(pair: Any) -> dict[int, int]:
    ks, cs = pair
    if not (set(map(type, ks)) <= INT_TYPES and set(map(type, cs)) <= INT_TYPES):
        raise FFSnapshotError("sketch buckets are not ints")
    return dict(zip(ks, cs, strict=True))


class _FFSnapshotState:
    """A decoded snapshot: what a restore takes at once, and the open file its hours and day bitmaps
    are read from later (``entry``, ``day_bits``), each range checked by the file's page CRCs."""

    def __init__(self, file: FFSnapshotFile, exact_limit: int) -> None:
        self.file, self.exact_limit = file, exact_limit
        self.names: list[tuple[str, str]] = []
        self.files: dict[str, tuple[tuple[int, int, int], FFLazyHours[Any]]] = {}
        self.where: dict[str, dict[str, tuple[int, int, list[Any]]]] = {}
        self.journal: tuple[str, str, str] | None = None
        self.first_seen: dict[int, str] = {}
        self.uid: dict[int, int] = {}
        self.width = 0
        self.days: dict[str, tuple[int, list[list[str]]]] = {}
        self.day_active: dict[str, int] = {}

    def entry(self, path: str, key: str) -> tuple[FFRollupAggregate, list[FFHourUsers]]:
        """One file's hour: its counts and sketches, and its user parts."""
        off, n, parts = self.where[path][key]
        file = self.file
        crec, dur, rt = orjson.loads(file.blob(off, n))
        if crec.get("hour") != key[:13]:
            raise FFSnapshotError("an hour key does not match its record")
        agg = FFRollupAggregate.from_record(crec, self.exact_limit, sets=False)
        agg.durations.buckets = _buckets(dur)
        if rt is not None:
            agg.rt.buckets = _buckets(rt)
        names = self.names
        users = []
        for k_off, k_n, c_off, c_n in parts:
            ints = file.ints(c_off, c_n)  # m, m name ids, m + 1 bounds (file positions), positions
            m = ints[0] if ints else -1
            bounds = [b - c_off for b in ints[1 + m:2 + 2 * m]]
            if m < 0 or len(bounds) != m + 1 or bounds[0] != 2 + 2 * m or bounds[-1] != c_n \
                    or any(lo > hi for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)):
                raise FFSnapshotError("a category table does not match its range")
            cd = {names[i]: ints[lo:hi] for i, lo, hi in zip(ints[1:1 + m], bounds[:-1], bounds[1:], strict=True)}
            if len(cd) != m:
                raise FFSnapshotError("a category repeats in an hour")
            users.append(FFHourUsers(file.keys(k_off, k_n), cd))
        return agg, users

    def day_bits(self, day: str) -> FFUserBits:
        off, cats = self.days[day]
        width = self.width
        view = memoryview(self.file.blob(off, (2 + len(cats)) * width))
        vals = [int.from_bytes(view[i:i + width], "little") for i in range(0, len(view), width)]
        b = FFUserBits()
        b.users, b.conversion_users = vals[0], vals[1]
        for (cat, name), v in zip(cats, vals[2:], strict=True):
            getattr(b, cat)[name] = v
        return b


class FFRollupIndex:
    """Cached merged rollups per hour and per day, plus the first-seen index of user keys.

    Memory: per hour, counts and sketches (``hour_aggs``, without user sets) and the compact user
    parts (``hour_users``); per closed day, counts (``day``) and user bitmaps (``day_bits``).
    """

    def __init__(self, store: Any, exact_limit: int = DEFAULT_EXACT_LIMIT, *, snapshot: bool = True,
                 snapshot_min_stale_bytes: int = SNAPSHOT_MIN_STALE_BYTES) -> None:
        self.store = store
        self.exact_limit = exact_limit
        # the persisted snapshot (``SNAPSHOT_NAME``): read on the first refresh, saved when due
        # (``_snapshot_due``); ``_snapshot_fps`` are the file fingerprints the last one holds
        self.snapshot = snapshot
        self.snapshot_min_stale_bytes = snapshot_min_stale_bytes
        self._snapshot_tried = False
        self.snapshot_loads = 0
        self.snapshot_saves = 0
        self.snapshot_rejects = 0
        self.parsed_files = 0
        self._bad_files: set[str] = set()  # parse failed: never stood in for by a snapshot
        self._snapshot_fps: dict[str, tuple[int, int, int]] = {}
        self._files: dict[str, tuple[tuple[int, int, int], dict[str, tuple[FFRollupAggregate, list[FFHourUsers]]]]] = {}
        # plain dicts, or ``FFLazyHours`` after a snapshot restore: then the hours in ``_pending``
        # are decoded from ``_snap`` when first read (``_load_hour``; ``_sources``: hour -> entries)
        self.hour_aggs: MutableMapping[str, FFRollupAggregate] = {}
        self.hour_users: MutableMapping[str, list[FFHourUsers]] = {}
        self._pending: set[str] = set()
        self._sources: dict[str, list[tuple[str, str]]] = {}
        self._snap: _FFSnapshotState | None = None
        self._snap_days: dict[str, tuple[int, list[list[str]]]] = {}  # day bitmaps not yet read
        self._day_counts: dict[str, FFRollupAggregate] = {}
        self.first_seen: dict[int, str] = {}
        self.new_by_hour: dict[str, int] = {}
        self.unreadable_files = 0
        self.generation = 0
        self._journal: tuple[str, str, str] | None = None
        self.uid: dict[int, int] = {}  # user key -> dense id (first-seen order) for bitmaps
        self._hour_bits: dict[str, FFUserBits] = {}
        self._day_bits: dict[str, FFUserBits] = {}
        self._day_active: dict[str, int] = {}

    # ------------------------------------------------------------------ refresh
    def refresh(self) -> bool:
        """Pick up new/changed/removed rollup files; True when anything changed.

        A fresh index first restores the snapshot, if one is valid: the state of a past refresh
        with the fingerprints of the files it read, so only files changed since are parsed."""
        restored = False
        if not self._snapshot_tried:
            self._snapshot_tried = True
            restored = self.snapshot and not self._files and self._restore_snapshot()
        seen: dict[str, tuple[int, int, int]] = {}
        for part in self.store.iter_partitions(ROLLUP_STREAM):
            for f in part.files:
                try:
                    st = os.stat(f)
                except FileNotFoundError:
                    continue
                seen[str(f)] = (st.st_ino, st.st_size, st.st_mtime_ns)
        affected: set[str] = set()
        additive = True
        journal = self._read_journal()
        if journal != self._journal:
            for j in (self._journal, journal):
                if j is not None:
                    affected.update(hk for hk in self._all_hours() if j[1] <= hk < j[2])
            self._journal = journal
            additive = False
        for path in [p for p in self._files if p not in seen]:
            _fp, hours = self._files.pop(path)
            affected.update(k[:13] for k in hours)
            additive = False
        for path, fp in seen.items():
            old = self._files.get(path)
            if old is not None and old[0] == fp:
                continue
            if old is not None:
                affected.update(k[:13] for k in old[1])
                if old[0][0] != fp[0] or old[0][1] > fp[1]:
                    additive = False
            hours = self._parse(path)
            self._files[path] = (fp, hours)
            affected.update(k[:13] for k in hours)
        if not affected:
            return restored
        self._remerge(affected)
        if additive and self.first_seen:
            self._index_add(sorted(affected))
        else:
            self._index_rebuild()
        self.generation += 1
        self._release_snapshot()
        if self.snapshot and self._snapshot_due():
            self.save_snapshot()
        return True

    @property
    def snapshot_pending_hours(self) -> int:
        """Hours restored from the snapshot but not read yet (decoded when first read)."""
        return len(self._pending)

    def _snapshot_due(self) -> bool:
        """True when the files changed since the last snapshot hold at least
        ``snapshot_min_stale_bytes`` and a quarter of all rollup bytes."""
        total = stale = 0
        fps = self._snapshot_fps
        for path, (fp, _hours) in self._files.items():
            total += fp[1]
            if fps.get(path) != fp:
                stale += fp[1]
        return stale >= self.snapshot_min_stale_bytes and stale * 4 >= total

    def _parse(self, path: str) -> dict[str, tuple[FFRollupAggregate, list[FFHourUsers]]]:
        hours: dict[str, tuple[FFRollupAggregate, list[FFHourUsers]]] = {}
        self.parsed_files += 1
        self._bad_files.discard(path)
        try:
            for _n, rec in ff_iter_jsonl_lines(path):
                if rec is BAD_LINE or not isinstance(rec, dict) or rec.get("record_type") != RECORD_TYPE:
                    continue
                try:
                    agg = FFRollupAggregate.from_record(rec, self.exact_limit, sets=False)
                    users = FFHourUsers.from_record(rec)
                except (ValueError, KeyError, TypeError, IndexError, OverflowError) as exc:
                    logger.warning("skipping bad rollup record in %s: %s", path, exc)
                    continue
                hk = rec["hour"]
                stamp = rec.get("rebuild")
                key = f"{hk}|{stamp}" if stamp else hk  # records of a rebuild stay apart (journal rule)
                cur = hours.get(key)
                if cur is None:
                    hours[key] = (agg, [users])
                else:
                    cur[0].merge(agg, sets=False)
                    cur[1].append(users)
        except (OSError, FFStoreCorruptionError) as exc:
            self.unreadable_files += 1
            self._bad_files.add(path)
            logger.error("reading rollups %s: %s", path, exc)
        return hours

    # ------------------------------------------------------------------ snapshot
    def snapshot_path(self) -> Any:
        return self.store.stream_dir(ROLLUP_STREAM) / SNAPSHOT_NAME

    def save_snapshot(self) -> bool:
        """Persist the current state for the next process (atomic; a cache, so not fsynced: a torn
        file fails its CRC and is ignored). False, logged, when it cannot be written."""
        try:
            data = self._encode_snapshot()
            ff_atomic_write(self.snapshot_path(), data, fsync=False)
        except (OSError, ValueError, TypeError) as exc:
            logger.info("rollup index snapshot not saved (a cache: answers are unaffected): %s", exc)
            return False
        self.snapshot_saves += 1
        self._snapshot_fps = {path: fp for path, (fp, _h) in self._files.items() if path not in self._bad_files}
        return True

    def _encode_snapshot(self) -> bytes:
        """Header (JSON): files with fingerprints and, per hour, where its parts lie; ``keys``/``ints``:
        user keys and category positions, the first-seen arrays last; blob: each hour's counts record
        as its own JSON document (read only when that hour is), then every day's bitmaps."""
        base = self.store.stream_dir(ROLLUP_STREAM)
        keys, ints = array("Q"), array("I")
        names: dict[tuple[str, str], int] = {}  # (category, name) -> id, stored once in the header

        def put(u: FFHourUsers) -> list[int]:
            """Keys into ``keys``; into ``ints``: m, m name ids, m + 1 bounds, then the positions."""
            k_off, c_off = len(keys), len(ints)
            keys.extend(u.keys)
            m = len(u.cats)
            ids = [names.setdefault(cn, len(names)) for cn in u.cats]
            start = c_off + 2 + 2 * m
            bounds = [start]
            for idx in u.cats.values():
                bounds.append(bounds[-1] + len(idx))
            ints.append(m)
            ints.extend(array("I", ids))
            ints.extend(array("I", bounds))
            for idx in u.cats.values():
                ints.extend(idx)
            return [k_off, len(u.keys), c_off, len(ints) - c_off]

        blob = bytearray()
        files = []
        for path, (fp, hours) in self._files.items():
            if path in self._bad_files:
                continue
            hs = []
            for key in list(hours):
                agg, us = hours[key]
                doc = orjson.dumps(_counts_entry(agg, key[:13]))
                hs.append([key, len(blob), len(doc), [put(u) for u in us]])
                blob += doc
            files.append([os.path.relpath(path, base), list(fp), hs])
        # every day's user bitmaps last, apart from the first-seen arrays a restore reads (the first
        # call of a fresh process needs a few; building one costs ~20 ms on 1M events, reading it
        # back ~0): users, conversions, the categories listed
        width = (len(self.uid) + 7) // 8
        days: dict[str, list[Any]] = {}
        for day in sorted({hk[:10] for hk in self.hour_users}):
            b = self.day_bits(day)
            cats = [(cat, name, v) for cat in _CAT_NAMES for name, v in getattr(b, cat).items()]
            days[day] = [len(blob), [[c, n] for c, n, _v in cats], b.users.bit_count()]
            for v in (b.users, b.conversion_users, *(v for _c, _n, v in cats)):
                blob += v.to_bytes(width, "little")
        hour_list = sorted(set(self.first_seen.values()))
        pos = {hk: i for i, hk in enumerate(hour_list)}
        fs_off, h_off = len(keys), len(ints)
        keys.extend(array("Q", self.uid))  # dense-id order
        fs = self.first_seen
        ints.extend(array("I", [pos[fs[k]] for k in self.uid]))
        header = {
            "v": SNAPSHOT_VERSION, "exact_limit": self.exact_limit,
            "journal": list(self._journal) if self._journal else None, "files": files,
            "first_seen": [fs_off, h_off, len(self.uid), hour_list], "names": [list(cn) for cn in names],
            "day_bits": [width, days],
        }
        return ff_pack_snapshot(header, keys, ints, bytes(blob))

    def _restore_snapshot(self) -> bool:
        """Take the state of the snapshot, if valid. The header, first-seen index and per-day counts
        are checked and read now; each hour's counts and user parts, and each day's bitmaps, when
        first read (``FFLazyHours``), from the file kept open until nothing is left to read."""
        path = self.snapshot_path()
        file = None
        try:
            file = FFSnapshotFile(path)
            snap = self._decode_snapshot(file)
        except FileNotFoundError:
            return False
        except OSError as exc:
            logger.warning("rollup index snapshot %s not read: %s", path, exc)
            return False
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:  # FFSnapshotError too
            if file is not None:
                file.close()
            self.snapshot_rejects += 1
            logger.warning("rollup index snapshot %s ignored: %s", path, exc)
            return False
        self._snap = snap
        self._files, self._journal, self.first_seen, self.uid = snap.files, snap.journal, snap.first_seen, snap.uid
        snap.first_seen, snap.uid = {}, {}  # the index's now (and rebuilt by it): not kept alive twice
        self._snapshot_fps = {path: fp for path, (fp, _h) in snap.files.items()}
        self.new_by_hour = dict(Counter(self.first_seen.values()))
        sources: dict[str, list[tuple[str, str]]] = {}
        for p, (_fp, hours) in snap.files.items():
            for key in hours:
                sources.setdefault(key[:13], []).append((p, key))
        self._sources = sources
        self._pending = set(sources)
        self.hour_aggs = FFLazyHours(self._pending, self._load_hour)
        self.hour_users = FFLazyHours(self._pending, self._load_hour)
        self._hour_bits, self._day_bits, self._day_counts = {}, {}, {}
        self._snap_days = snap.days
        self._day_active = dict(snap.day_active)
        self.generation += 1
        self.snapshot_loads += 1
        return True

    def _decode_snapshot(self, file: FFSnapshotFile) -> _FFSnapshotState:
        header = file.header
        if header.get("v") != SNAPSHOT_VERSION or header.get("exact_limit") != self.exact_limit:
            raise FFSnapshotError("written by another version or with another exact_limit")
        snap = _FFSnapshotState(file, self.exact_limit)
        snap.names = [(str(c), str(n)) for c, n in header["names"]]
        if not {c for c, _n in snap.names} <= _USER_CATS:
            raise FFSnapshotError("unknown user categories")
        nb = file.lengths["blob"]
        base = self.store.stream_dir(ROLLUP_STREAM)
        for rel, fp, hs in header["files"]:
            if type(rel) is not str or os.path.isabs(rel) or ".." in rel.split(os.sep):
                raise FFSnapshotError(f"file path {rel!r:.80} is not inside the rollups directory")
            if len(fp) != 3 or any(type(x) is not int for x in fp):
                raise FFSnapshotError("a file fingerprint is not three ints")
            path = str(base / rel)
            where: dict[str, tuple[int, int, list[Any]]] = {}
            for key, off, n, parts in hs:
                if type(key) is not str or len(key) < 13 or type(off) is not int or type(n) is not int \
                        or off < 0 or n < 0 or off + n > nb or type(parts) is not list:
                    raise FFSnapshotError("an hour entry lies outside the file")
                where[key] = (off, n, parts)
            snap.where[path] = where
            snap.files[path] = (tuple(fp), FFLazyHours(set(where), partial(self._load_entry, path)))
        j = header.get("journal")
        snap.journal = None if j is None else (str(j[0]), str(j[1]), str(j[2]))
        fs_off, h_off, n, hour_list = header["first_seen"]
        ks = file.keys(fs_off, n)
        if any(type(h) is not str for h in hour_list):
            raise FFSnapshotError("first-seen hours are not strings")
        hks = list(map(hour_list.__getitem__, file.ints(h_off, n)))
        snap.first_seen = dict(zip(ks, hks, strict=True))
        if len(snap.first_seen) != n:
            raise FFSnapshotError("first-seen keys repeat")
        snap.uid = dict(zip(ks, range(n), strict=True))
        width, days = header["day_bits"]
        if type(width) is not int or width != (n + 7) // 8:
            raise FFSnapshotError("day bitmaps do not match the first-seen index")
        snap.width = width
        for day, (off, cats, active) in days.items():
            if type(off) is not int or type(active) is not int or off < 0 or off + (2 + len(cats)) * width > nb:
                raise FFSnapshotError("day bitmaps lie outside the file")
            for cat, name in cats:
                if cat not in _CAT_NAMES or type(name) is not str:
                    raise FFSnapshotError(f"unknown user category {cat!r:.40}")
            snap.days[day] = (off, cats)
            snap.day_active[day] = active
        return snap

    def _load_entry(self, path: str, key: str) -> None:
        """Decode one file's hour from the snapshot into ``hours``. A part that does not decode (a
        page that fails its CRC, or a file with valid CRCs that this code did not write) is never
        used: that rollup file is parsed instead and all its hours come from the parse."""
        snap = self._snap
        if snap is None:
            return
        hours = snap.files[path][1]
        try:
            hours[key] = snap.entry(path, key)
        except (FFSnapshotError, KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
            self.snapshot_rejects += 1
            logger.warning("rollup index snapshot: hour %s of %s ignored (%s); parsing the file", key, path, exc)
            parsed = self._parse(path)
            hours.clear()
            hours.update(parsed)

    def _load_hour(self, hk: str) -> None:
        """Merge one pending hour from its files' entries (the ``_remerge`` rule for one hour)."""
        self._pending.discard(hk)
        keyed = [(key, self._files[p][1][key]) for p, key in self._sources.get(hk, ())
                 if p in self._files and key in self._files[p][1]]
        merged = self._merge_hour(hk, keyed)
        if merged is not None:
            self.hour_aggs[hk], self.hour_users[hk] = merged
        if not self._pending:  # every hour read: plain dicts again (the warm path's lookups)
            self.hour_aggs, self.hour_users = dict(self.hour_aggs), dict(self.hour_users)
            self._release_snapshot()

    def _release_snapshot(self) -> None:
        """Close the restored snapshot's file once no hour and no day bitmap is left to read from it."""
        snap = self._snap
        if snap is not None and not self._pending and not self._snap_days:
            snap.file.close()
            self._snap = None

    def _merge_hour(self, hk: str, keyed: list[tuple[str, tuple[FFRollupAggregate, list[FFHourUsers]]]],
                    ) -> tuple[FFRollupAggregate, list[FFHourUsers]] | None:
        """One hour merged over its records (writers, deltas); a running rebuild's record alone."""
        j = self._journal
        if j is not None and j[1] <= hk < j[2]:
            mine = [(key, e) for key, e in keyed if key == f"{hk}|{j[0]}"]
            if mine:  # a rebuild is replacing this range: its record is the whole hour
                keyed = mine
        if not keyed:
            return None
        if len(keyed) == 1:
            return keyed[0][1]  # shared, never mutated (merges build new ones)
        merged = FFRollupAggregate(self.exact_limit, keyed[0][1][0].durations.relative_accuracy)
        users: list[FFHourUsers] = []
        for _key, (a, us) in keyed:
            merged.merge(a, sets=False)
            users.extend(us)
        return merged, users

    def _remerge(self, affected: set[str]) -> None:
        self._pending.difference_update(affected)  # recomputed below from the files' current entries
        by_hour: dict[str, list[tuple[str, tuple[FFRollupAggregate, list[FFHourUsers]]]]] = {}
        for _fp, hours in self._files.values():
            for key in list(hours):
                if key[:13] in affected:
                    by_hour.setdefault(key[:13], []).append((key, hours[key]))
        for hk in affected:
            merged = self._merge_hour(hk, by_hour.get(hk, []))
            if merged is None:
                self.hour_aggs.pop(hk, None)
                self.hour_users.pop(hk, None)
            else:
                self.hour_aggs[hk], self.hour_users[hk] = merged
            self._day_counts.pop(hk[:10], None)
            self._hour_bits.pop(hk, None)
            self._day_bits.pop(hk[:10], None)
            self._snap_days.pop(hk[:10], None)
            self._day_active.pop(hk[:10], None)

    def _read_journal(self) -> tuple[str, str, str] | None:
        from ff_utils.ff_analytics_bi.ff_rollup_rebuild import REBUILD_JOURNAL
        from ff_utils.ff_analytics_core.ff_json_utils import ff_read_json

        try:
            data = ff_read_json(self.store.stream_dir(ROLLUP_STREAM) / REBUILD_JOURNAL, default=None)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("stamp", "start", "end")):
            return None
        return data["stamp"], data["start"], data["end"]

    def _all_hours(self) -> set[str]:
        return {k[:13] for _fp, hours in self._files.values() for k in hours}

    def _index_add(self, hours: list[str]) -> None:
        fs = self.first_seen
        nbh = self.new_by_hour
        uid = self.uid
        for hk in hours:
            for part in self.hour_users.get(hk, ()):
                for k in part.keys:
                    old = fs.get(k)
                    if old is None or hk < old:
                        if old is not None:
                            nbh[old] -= 1
                        else:
                            uid[k] = len(uid)
                        fs[k] = hk
                        nbh[hk] = nbh.get(hk, 0) + 1

    def _index_rebuild(self) -> None:
        """The first-seen index from scratch: hours in ascending order, each hour's keys not seen
        before are its new users (set differences, no Python step per key); dense ids follow."""
        fs: dict[int, str] = {}
        nbh: dict[str, int] = {}
        uid: dict[int, int] = {}
        seen: set[int] = set()
        for hk in sorted(self.hour_aggs):
            keys = self._user_keys([hk]).difference(seen)  # walks the hour's keys, not ``seen``
            if not keys:
                continue
            seen.update(keys)
            new = sorted(keys)
            fs.update(dict.fromkeys(new, hk))
            uid.update(zip(new, range(len(uid), len(uid) + len(new)), strict=True))
            nbh[hk] = len(new)
        self.first_seen = fs
        self.new_by_hour = nbh
        self.uid = uid
        self._hour_bits = {}
        self._day_bits = {}
        self._snap_days = {}  # bitmaps over the old dense ids

    # ------------------------------------------------------------------ bitmaps
    def _bits_for(self, hks: list[str]) -> FFUserBits:
        """Bitmaps (bit i = dense user id i) of the hours ``hks``: one byte per user first, filled by
        ``map`` without a Python loop per user, then packed (``ff_pack_byte_mask``)."""
        uid = self.uid
        size = (len(uid) // 8 + 1) * 8
        get = uid.__getitem__
        users = bytearray(size)
        set_users = users.__setitem__
        cats: dict[tuple[str, str], bytearray] = {}
        for hk in hks:
            for part in self.hour_users.get(hk, ()):
                ids = list(map(get, part.keys))
                deque(map(set_users, ids, repeat(1)), maxlen=0)
                for ck, idx in part.cats.items():
                    buf = cats.get(ck)
                    if buf is None:
                        buf = cats[ck] = bytearray(size)
                    deque(map(buf.__setitem__, map(ids.__getitem__, idx), repeat(1)), maxlen=0)
        out = FFUserBits()
        out.users = ff_pack_byte_mask(users)
        for (cat, name), buf in cats.items():
            if cat == "conversion_users":
                out.conversion_users = ff_pack_byte_mask(buf)
            else:
                getattr(out, cat)[name] = ff_pack_byte_mask(buf)
        return out

    def hour_bits(self, hk: str) -> FFUserBits:
        """Bitmaps of one hour; cached (bounded)."""
        b = self._hour_bits.get(hk)
        if b is None:
            if len(self._hour_bits) > 512:
                self._hour_bits.clear()
            b = self._hour_bits[hk] = self._bits_for([hk])
        return b

    def day_bits(self, day: str) -> FFUserBits:
        """Bitmaps of one UTC day, built straight from its hours' user parts; cached."""
        b = self._day_bits.get(day)
        if b is None:
            snap = self._snap
            if day in self._snap_days and snap is not None:
                try:  # the restored snapshot's, valid until one of the day's hours changes
                    b = snap.day_bits(day)
                except (KeyError, TypeError, ValueError) as exc:  # FFSnapshotError is a ValueError
                    self.snapshot_rejects += 1
                    logger.warning("rollup index snapshot: day bitmaps of %s ignored (%s); built from its hours",
                                   day, exc)
                del self._snap_days[day]
                self._release_snapshot()
            if b is None:
                b = self._bits_for(self._day_hours(day))
            self._day_bits[day] = b
        return b

    def _day_hours(self, day: str) -> list[str]:
        return [hk for hk in self.hour_users if hk[:10] == day]

    def _user_keys(self, hks: list[str]) -> set[int]:
        """The distinct user keys of the hours ``hks`` (all writers' parts)."""
        keys: set[int] = set()
        for hk in hks:
            for part in self.hour_users.get(hk, ()):
                keys.update(part.keys)
        return keys

    def day_active_users(self, day: str) -> int:
        """Distinct users of one UTC day (its hours' exact keys); cached until one of its hours
        changes. Cheaper than ``day_bits`` when only the count is needed (no category bitmaps)."""
        n = self._day_active.get(day)
        if n is None:
            b = self._day_bits.get(day)
            n = self._day_active[day] = b.users.bit_count() if b is not None else len(self._user_keys(self._day_hours(day)))
        return n

    def bits(self, start: datetime, end: datetime) -> FFUserBits:
        """OR of the user bitmaps of ``[start, end)``."""
        out = FFUserBits()
        t = start
        while t < end:
            day_end = datetime(t.year, t.month, t.day, tzinfo=UTC) + timedelta(days=1)
            if t.hour == 0 and day_end <= end:
                b = self.day_bits(t.strftime("%Y-%m-%d"))
                t = day_end
            else:
                b = self.hour_bits(dt_to_hk(t))
                t += timedelta(hours=1)
            out.merge(b)
        return out

    # ------------------------------------------------------------------ queries
    def hour_full(self, hk: str) -> FFRollupAggregate | None:
        """One hour with its user sets rebuilt from the compact parts (for comparisons, slow)."""
        a = self.hour_aggs.get(hk)
        if a is None:
            return None
        full = FFRollupAggregate(self.exact_limit, a.durations.relative_accuracy).merge(a, sets=False)
        for part in self.hour_users.get(hk, ()):
            keys = part.keys
            full.users.update(keys)
            for (cat, name), idx in part.cats.items():
                ks = [keys[i] for i in idx]
                if cat == "conversion_users":
                    full.conversion_users.update(ks)
                    continue
                d = getattr(full, cat)
                sk = d.get(name)
                if sk is None:
                    sk = d[name] = FFDistinctSketch(exact_limit=self.exact_limit)
                sk.update(ks)
        return full

    def aggregate(self, start: datetime, end: datetime, *, sets: bool = False) -> FFRollupAggregate:
        """Merged rollup of the hours in ``[start, end)`` (hour boundaries); closed days come from
        cache. User sets only with ``sets=True`` (slow; BI uses ``bits``)."""
        out = FFRollupAggregate(self.exact_limit)
        if sets:
            for hk, _a in self.hours_in(start, end):
                full = self.hour_full(hk)
                if full is not None:
                    out.merge(full)
            return out
        t = start
        while t < end:
            day_end = datetime(t.year, t.month, t.day, tzinfo=UTC) + timedelta(days=1)
            if t.hour == 0 and day_end <= end:
                d = self.day(t.strftime("%Y-%m-%d"))
                t = day_end
            else:
                d = self.hour_aggs.get(dt_to_hk(t))
                t += timedelta(hours=1)
            if d is not None:
                out.merge(d, sets=False)
        return out

    def day(self, day: str) -> FFRollupAggregate | None:
        """Counts and sketches of one UTC day (``YYYY-MM-DD``), cached until one of its hours changes."""
        cached = self._day_counts.get(day)
        if cached is not None:
            return cached
        ha = self.hour_aggs
        hours = [ha[hk] for hk in list(ha) if hk[:10] == day]
        if not hours:
            return None
        merged = FFRollupAggregate(self.exact_limit)
        for a in hours:
            merged.merge(a, sets=False)
        self._day_counts[day] = merged
        return merged

    def hours_in(self, start: datetime, end: datetime) -> list[tuple[str, FFRollupAggregate]]:
        s, e = dt_to_hk(start), dt_to_hk(end)
        ha = self.hour_aggs
        return [(hk, ha[hk]) for hk in sorted(hk for hk in ha if s <= hk < e)]

    def new_users(self, start: datetime, end: datetime) -> int:
        """Users whose first-seen hour is in ``[start, end)``."""
        s, e = dt_to_hk(start), dt_to_hk(end)
        return sum(n for hk, n in self.new_by_hour.items() if s <= hk < e)

    def users_before(self, end: datetime) -> int:
        """Distinct users first seen before ``end``."""
        e = dt_to_hk(end)
        return sum(n for hk, n in self.new_by_hour.items() if hk < e)

    def new_user_keys(self, start: datetime, end: datetime) -> set[int]:
        s, e = dt_to_hk(start), dt_to_hk(end)
        return {k for k, hk in self.first_seen.items() if s <= hk < e}

    @property
    def first_hour(self) -> str | None:
        return min(self.hour_aggs) if self.hour_aggs else None
