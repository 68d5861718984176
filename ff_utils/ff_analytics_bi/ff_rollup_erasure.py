"""Erasure (GDPR Art. 17) support for the stored hourly rollups.

Rollups hold exact 64-bit key sets of users, so an erased user's key is removed from every stored
record (each file rewritten atomically under an exclusive lock, like ``FFStreamStore.rewrite_file``);
the index lists of the per-category sets are shifted accordingly. Event counts are anonymous
aggregates and stay; ``rebuild_rollups`` over the affected range also drops the user's events from
the counts once the raw records are erased.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

import orjson

from ff_utils.ff_analytics_bi.ff_rollup_accumulator import KEY_CATEGORIES, RECORD_TYPE, ROLLUP_STREAM
from ff_utils.ff_analytics_core.ff_file_ops import ff_atomic_write
from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps_line
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_sketches.ff_distinct_sketch import ff_key64

logger = get_logger(__name__)


def erase_user_from_rollups(store: Any, user_hash: str) -> int:
    """Remove ``user_hash``'s key from every stored rollup record; returns the records changed.

    Hourly rollups hold exact 64-bit key sets, so the user is removed from them in place (each file
    rewritten atomically under an exclusive lock, like ``FFStreamStore.rewrite_file``). Event
    counts are anonymous aggregates and stay; run ``rebuild_rollups`` over the affected range to
    also drop the erased user's events from the counts (operators do this after erasure; the BI service does not).
    """
    if not isinstance(user_hash, str) or not user_hash:
        raise ValueError("user_hash: expected a non-empty str")
    key = ff_key64(user_hash)
    changed = 0
    for part in store.iter_partitions(ROLLUP_STREAM):
        for path in part.files:
            if path.name.endswith(".gz"):
                changed += _erase_gz(store, path, key)
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                with open(path, "rb") as fh:
                    lines = fh.readlines()
                out = bytearray()
                n = 0
                for line in lines:
                    new = None
                    if line.endswith(b"\n") and b"hourly_rollup" in line:
                        try:
                            rec = orjson.loads(line)
                        except orjson.JSONDecodeError:
                            rec = None
                        if isinstance(rec, dict) and _drop_key(rec, key):
                            new = ff_dumps_line(rec)
                            n += 1
                    out += new if new is not None else line
                if n:
                    ff_atomic_write(path, bytes(out))
                    changed += n
            except OSError as exc:
                logger.error("erase from rollups: %s: %s", path, exc)
            finally:
                os.close(fd)
    store.drop_derived(ROLLUP_STREAM)  # the index snapshot holds the key too
    return changed


def _erase_gz(store: Any, path: Any, key: int) -> int:
    """Compressed rollup partitions: rewrite through the store (records containing the key dropped
    and re-appended without it)."""
    kept: list[dict[str, Any]] = []

    def keep(rec: Any) -> bool:
        if isinstance(rec, dict) and rec.get("record_type") == RECORD_TYPE and key in (rec.get("users") or ()):
            _drop_key(rec, key)
            kept.append(rec)
            return False
        return True

    try:
        store.rewrite_file(path, keep)
    except OSError as exc:
        logger.error("erase from rollups: %s: %s", path, exc)
        return 0
    if kept:
        store.append_many(ROLLUP_STREAM, kept)
    return len(kept)


def _drop_key(rec: dict[str, Any], key: int) -> bool:
    users = rec.get("users") or []
    try:
        i = users.index(key)
    except ValueError:
        return False
    del users[i]

    def fix(idx: list[int]) -> list[int]:
        return [j if j < i else j - 1 for j in idx if j != i]

    rec["conversion_users"] = fix(rec.get("conversion_users") or [])
    for cat in KEY_CATEGORIES:
        rec[cat] = {k: fix(v) for k, v in (rec.get(cat) or {}).items()}
    return True
