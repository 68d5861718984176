"""Persisted per-user index (first seen, last seen, sessions, events), O(1) per event, multi-process.

Storage: ``<base>/privacy_state/user_index.jsonl``, a shared delta log (see ``FFPrivacyStateLog``).
Each process keeps the merged view in memory and its own unflushed *deltas*; ``flush()`` appends one
line per dirty user ``{"h", "f": first_seen, "l": last_seen, "ds": +sessions, "de": +events,
"s": last session pseudonym, "r": the last 4 session pseudonyms (oldest first), "w": writer}`` with
one locked ``write()`` (``r`` lets a new process continue the user's session window after a
restart; lines without it count as ``[s]``), then reads what other
processes appended since its last read. Totals are sums of deltas, first/last seen are min/max, so
any interleaving of writers merges to the same index. When the log holds many more lines than users
it is compacted to one line per user (atomic replace; readers reload on the inode change).

Derived fields (documented thresholds, from ``privacy_config``):

- a *session* is counted when a user's event carries a session pseudonym that is not among the last
  4 seen for that user (so hosts need not send ``session_start``, and interleaved tabs of one user
  are not counted twice);
- ``return_user`` = the user had at least one session before the current one;
- ``user_segment``: ``new`` (first session), ``power`` (sessions >= ``user_segment_power_min_sessions``,
  default 20), ``casual`` (2 .. ``user_segment_casual_max_sessions`` sessions, default 3),
  otherwise ``returning``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_privacy.ff_privacy_state_log import FFPrivacyStateLog

logger = get_logger(__name__)

INDEX_FILENAME = "user_index.jsonl"
DEFAULT_POWER_MIN_SESSIONS = 20
DEFAULT_CASUAL_MAX_SESSIONS = 3
COMPACT_MIN_LINES = 50_000
RECENT_SESSIONS = 4

# entry layout (lists for speed):
# [first_seen, last_seen, sessions, events, recent_sessions(list), unflushed_sessions, unflushed_events]
_F, _L, _S, _E, _R, _DS, _DE = range(7)


def _remember(recent: list[str], session: str) -> None:
    if session and session not in recent:
        recent.append(session)
        if len(recent) > RECENT_SESSIONS:
            del recent[0]


def _account(e: list[Any], session: str, ts: str) -> int:
    """One more event of a known user's entry ``e`` (a session not among its recent ones counts as
    a new session); returns the user's session count."""
    recent = e[_R]
    if session not in recent:
        e[_S] += 1
        e[_DS] += 1
        recent.append(session)
        if len(recent) > RECENT_SESSIONS:
            del recent[0]
    e[_E] += 1
    e[_DE] += 1
    if ts > e[_L]:
        e[_L] = ts
    return e[_S]


class FFUserIndex:
    """First/last seen and session/event counts per user pseudonym."""

    def __init__(
        self,
        base_path: str | os.PathLike[str],
        writer_id: str,
        power_min_sessions: int = DEFAULT_POWER_MIN_SESSIONS,
        casual_max_sessions: int = DEFAULT_CASUAL_MAX_SESSIONS,
    ) -> None:
        for name, v in (
            ("user_segment_power_min_sessions", power_min_sessions),
            ("user_segment_casual_max_sessions", casual_max_sessions),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: must be an int >= 1, got {v!r}")
        if casual_max_sessions >= power_min_sessions:
            raise ValueError(
                "user_segment_casual_max_sessions: must be below user_segment_power_min_sessions "
                f"({casual_max_sessions} >= {power_min_sessions})"
            )
        self.path = Path(base_path) / "privacy_state" / INDEX_FILENAME
        self.log = FFPrivacyStateLog(self.path)
        self.writer_id = writer_id
        self.power_min = power_min_sessions
        self.casual_max = casual_max_sessions
        # segment by session count, precomputed for the common range
        self._segments = tuple(self._segment_of(n) for n in range(power_min_sessions + 1))
        self.entries: dict[str, list[Any]] = {}
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()
        self.flush_failures = 0
        self.loaded = False

    def after_fork(self, writer_id: str) -> None:
        """Child of ``os.fork()``: new writer id and locks; the parent's unflushed deltas are the
        parent's to write, so they are zeroed here (counted once)."""
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()
        self.writer_id = writer_id
        self._dirty = set()
        for e in self.entries.values():
            e[_DS] = e[_DE] = 0

    # ------------------------------------------------------------------ hot path
    def _segment_of(self, sessions: int) -> str:
        if sessions <= 1:
            return "new"
        if sessions >= self.power_min:
            return "power"
        if sessions <= self.casual_max:
            return "casual"
        return "returning"

    def segment(self, sessions: int) -> str:
        segs = self._segments
        return segs[sessions] if 0 <= sessions < len(segs) else self._segment_of(sessions)

    def observe(self, user_hash: str, session: str, ts: str) -> tuple[bool, str]:
        """Account one event; returns ``(return_user, user_segment)``. O(1)."""
        with self._lock:
            e = self.entries.get(user_hash)
            self._dirty.add(user_hash)
            if e is None:
                self.entries[user_hash] = [ts, ts, 1, 1, [session], 1, 1]
                return False, "new"
            n = _account(e, session, ts)
        segs = self._segments
        return n > 1, segs[n] if n < len(segs) else "power"

    def observe_many(self, user_hashes: list[str], sessions: list[str], ts: str) -> list[tuple[bool, str]]:
        """:meth:`observe` for each ``(user_hashes[i], sessions[i])`` at one instant, under one lock."""
        out = []
        append = out.append
        segs = self._segments
        top = len(segs)
        entries = self.entries
        with self._lock:
            self._dirty.update(user_hashes)
            for h, session in zip(user_hashes, sessions, strict=True):
                e = entries.get(h)
                if e is None:
                    entries[h] = [ts, ts, 1, 1, [session], 1, 1]
                    append((False, "new"))
                    continue
                n = _account(e, session, ts)
                append((n > 1, segs[n] if n < top else "power"))
        return out

    # ------------------------------------------------------------------ persistence (sync; off the loop)
    @staticmethod
    def _merge_into(entries: dict[str, list[Any]], rec: Any) -> None:
        if not isinstance(rec, dict):
            return
        h = rec.get("h")
        if not isinstance(h, str):
            return
        if rec.get("forget"):
            entries.pop(h, None)
            return
        f, lst = rec.get("f") or "", rec.get("l") or ""
        ds, de = int(rec.get("ds") or 0), int(rec.get("de") or 0)
        sess = rec.get("s") or ""
        recent = rec.get("r")
        if isinstance(recent, list):  # the writer's session window (restarts continue it)
            sessions = [x for x in recent if isinstance(x, str) and x][-RECENT_SESSIONS:]
        else:
            sessions = [sess] if sess else []
        e = entries.get(h)
        if e is None:
            entries[h] = [f, lst, ds, de, sessions, 0, 0]
            return
        if f and (not e[_F] or f < e[_F]):
            e[_F] = f
        if lst and lst >= e[_L]:
            e[_L] = lst
            for x in sessions:
                _remember(e[_R], x)
        e[_S] += ds
        e[_E] += de

    def load(self) -> None:
        """Read the shared log (all of it the first time, then only the new lines)."""
        with self._io_lock:
            self._refresh_locked()
            self.loaded = True

    def _refresh_locked(self) -> None:
        reset, recs = self.log.read_new()
        with self._lock:
            if reset:
                old = self.entries
                fresh: dict[str, list[Any]] = {}
                for r in recs:
                    self._merge_into(fresh, r)
                for h in self._dirty:  # our unflushed deltas on top of the file
                    o = old.get(h)
                    if o is None:
                        continue
                    self._merge_into(fresh, {"h": h, "f": o[_F], "l": o[_L], "ds": o[_DS], "de": o[_DE]})
                    e = fresh[h]
                    e[_DS], e[_DE] = o[_DS], o[_DE]
                    for sess in o[_R]:
                        _remember(e[_R], sess)
                self.entries = fresh
            else:
                mine = self.writer_id
                entries = self.entries
                for r in recs:
                    if isinstance(r, dict) and r.get("w") == mine:
                        continue  # already in our view
                    self._merge_into(entries, r)

    def flush(self) -> bool:
        """Append this process's deltas and merge other writers' lines; False on an I/O fault (kept)."""
        with self._io_lock:
            with self._lock:
                dirty, self._dirty = self._dirty, set()
                lines = []
                for h in dirty:
                    e = self.entries.get(h)
                    if e is None or not (e[_DS] or e[_DE]):
                        continue
                    lines.append(
                        {"h": h, "f": e[_F], "l": e[_L], "ds": e[_DS], "de": e[_DE],
                         "s": e[_R][-1] if e[_R] else "", "r": list(e[_R]), "w": self.writer_id}
                    )
            if lines:
                try:
                    self.log.append(lines)
                except OSError as exc:
                    self.flush_failures += 1
                    logger.warning("user index flush failed (kept for retry): %s", exc)
                    with self._lock:
                        self._dirty |= dirty
                    return False
                with self._lock:  # events observed meanwhile stay as unflushed deltas
                    for line in lines:
                        e = self.entries.get(line["h"])
                        if e is not None:
                            e[_DS] -= line["ds"]
                            e[_DE] -= line["de"]
            try:
                self._refresh_locked()
                if self.log.lines_seen > max(COMPACT_MIN_LINES, 4 * len(self.entries)):
                    self._compact_locked()
            except OSError as exc:
                logger.warning("user index refresh failed: %s", exc)
                return False
            return True

    def _fold(self, records: list[Any], drop: str | None = None) -> list[dict[str, Any]]:
        merged: dict[str, list[Any]] = {}
        for r in records:
            if isinstance(r, dict) and r.get("h") != drop:
                self._merge_into(merged, r)
        return [
            {"h": h, "f": e[_F], "l": e[_L], "ds": e[_S], "de": e[_E], "s": e[_R][-1] if e[_R] else "",
             "r": list(e[_R]), "w": "compacted"}
            for h, e in merged.items()
        ]

    def _compact_locked(self) -> None:
        n = self.log.rewrite(self._fold)
        logger.info("compacted user index to %d lines", n)
        self._refresh_locked()

    def compact(self) -> None:
        with self._io_lock:
            self._compact_locked()

    def forget(self, user_hash: str) -> bool:
        """Erasure: remove the user from the shared log and this process's view; True if known."""
        with self._io_lock:
            with self._lock:
                known = self.entries.pop(user_hash, None) is not None
                self._dirty.discard(user_hash)
            found = False

            def build(records: list[Any]) -> list[dict[str, Any]]:
                nonlocal found
                found = any(isinstance(r, dict) and r.get("h") == user_hash for r in records)
                return self._fold(records, drop=user_hash)

            self.log.rewrite(build)
            self._refresh_locked()
            return known or found

    def get(self, user_hash: str) -> dict[str, Any] | None:
        with self._lock:
            e = self.entries.get(user_hash)
            if e is None:
                return None
            return {
                "first_seen": e[_F],
                "last_seen": e[_L],
                "sessions": e[_S],
                "events": e[_E],
                "return_user": e[_S] > 1,
                "user_segment": self.segment(e[_S]),
            }
