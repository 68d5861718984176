"""Helpers for testing code that embeds the analytics manager (and for our own fault tests).

- ``FFManualClock``: drive simulated time through the same code paths.
- ``FFFaultInjector``: make the k-th file-system call of the store fail with a chosen errno, once or
  forever, to check that a host survives ENOSPC/EIO/EROFS/EACCES.
"""

from __future__ import annotations

import errno as _errno
import os
import threading
import types
from collections.abc import Iterable
from typing import Any

from ff_utils.ff_clock import FFManualClock

__all__ = ["FFFaultInjector", "FFManualClock", "DEFAULT_FAULT_CALLS"]

DEFAULT_FAULT_CALLS = ("open", "write", "fsync", "ftruncate", "replace", "pread", "fchmod", "unlink")


class _OsProxy(types.ModuleType):
    """Stands in for ``os`` inside the patched modules; injected calls go through the injector."""

    def __init__(self, injector: FFFaultInjector) -> None:
        super().__init__("os")
        self._injector = injector

    def __getattr__(self, name: str) -> Any:
        real = getattr(os, name)
        if name in self._injector.calls and callable(real):
            return self._injector._wrap(name, real)
        return real


class FFFaultInjector:
    """Make the ``fail_at``-th matching call fail with ``OSError(err)``.

    ``mode="once"`` fails that single call; ``mode="forever"`` fails it and every later matching
    call until ``clear()``. ``fail_at=0`` only counts (a dry run that reports ``count``).
    Patches the module-level ``os`` of the given modules (default: the stream store and file ops).
    """

    def __init__(
        self,
        fail_at: int = 0,
        err: int = _errno.ENOSPC,
        mode: str = "once",
        calls: Iterable[str] = DEFAULT_FAULT_CALLS,
        modules: Iterable[types.ModuleType] | None = None,
    ) -> None:
        if mode not in ("once", "forever"):
            raise ValueError(f"mode: expected 'once' or 'forever', got {mode!r}")
        if fail_at < 0:
            raise ValueError(f"fail_at: must be >= 0, got {fail_at}")
        self.fail_at = fail_at
        self.err = err
        self.mode = mode
        self.calls = frozenset(calls)
        if modules is None:
            from ff_utils import ff_file_ops, ff_stream_store

            modules = (ff_stream_store, ff_file_ops)
        self.modules = tuple(modules)
        self.count = 0
        self.failures = 0
        self._cleared = False
        self._lock = threading.Lock()
        self._saved: list[tuple[types.ModuleType, Any]] = []

    def _wrap(self, name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.count += 1
                n = self.count
                fail = (
                    not self._cleared
                    and self.fail_at > 0
                    and (n == self.fail_at or (self.mode == "forever" and n > self.fail_at))
                )
                if fail:
                    self.failures += 1
            if fail:
                raise OSError(self.err, f"injected {_errno.errorcode.get(self.err, self.err)} in os.{name}")
            return real(*args, **kwargs)

        return call

    def clear(self) -> None:
        """Stop failing (the fault has cleared); calls are still counted."""
        self._cleared = True

    def __enter__(self) -> FFFaultInjector:
        proxy = _OsProxy(self)
        for m in self.modules:
            self._saved.append((m, m.os))
            m.os = proxy  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        for m, saved in self._saved:
            m.os = saved  # type: ignore[attr-defined]
        self._saved.clear()
