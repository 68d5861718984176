"""Unique, time-ordered record ids: ``<prefix>_<ms:12 hex><counter:6 hex><node:12 hex>``.

* ``ms``: 48-bit Unix time in milliseconds (wall clock; never goes backwards within a process).
* ``counter``: per-process counter, reset each new millisecond, so thousands of ids made in the same
  millisecond stay strictly increasing. If it would overflow (16.7M ids in one ms) the id borrows the
  next millisecond instead.
* ``node``: 48 random bits per process (re-drawn in a forked child), so two processes never make the
  same id even when their millisecond and counter agree.

All parts are fixed-width lowercase hex, so for one prefix the ids sort lexicographically in creation
order within a process, and by millisecond across processes. Thread-safe (one lock, no syscall but the
clock read).
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time

__all__ = ["ff_new_id", "ff_id_timestamp_ms"]

_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,31}")
_COUNTER_MAX = 0xFFFFFF
_MS_MAX = (1 << 48) - 1

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_node = f"{secrets.randbits(48):012x}"
_valid_prefixes: set[str] = set()


def _reinit_after_fork() -> None:
    global _lock, _node
    _lock = threading.Lock()
    _node = f"{secrets.randbits(48):012x}"


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)


def ff_new_id(prefix: str) -> str:
    """A new id such as ``sys_0193f6a1b2c3000000a1b2c3d4e5f6`` (prefix: a letter then up to 31 alphanumerics)."""
    if prefix not in _valid_prefixes:
        if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
            raise ValueError(f"prefix: expected a letter followed by up to 31 letters/digits, got {prefix!r}")
        _valid_prefixes.add(prefix)
    global _last_ms, _counter
    now = time.time_ns() // 1_000_000
    with _lock:
        if now > _last_ms:
            _last_ms = now
            _counter = 0
        elif _counter < _COUNTER_MAX:
            _counter += 1
        else:  # counter space of this millisecond exhausted: move to the next one
            _last_ms += 1
            _counter = 0
        ms, counter = _last_ms, _counter
    return f"{prefix}_{ms & _MS_MAX:012x}{counter:06x}{_node}"


def ff_id_timestamp_ms(id_: str) -> int:
    """The millisecond timestamp embedded in an id made by :func:`ff_new_id`."""
    if not isinstance(id_, str) or "_" not in id_:
        raise ValueError(f"id_: not an ff id: {id_!r}")
    body = id_.rsplit("_", 1)[1]
    if len(body) != 30:
        raise ValueError(f"id_: not an ff id: {id_!r}")
    try:
        return int(body[:12], 16)
    except ValueError:
        raise ValueError(f"id_: not an ff id: {id_!r}") from None
