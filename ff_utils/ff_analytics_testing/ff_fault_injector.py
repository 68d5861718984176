"""Helpers for testing code that embeds the analytics manager (and for our own fault tests).

- ``FFManualClock``: drive simulated time through the same code paths.
- ``FFFaultInjector``: make the k-th file-system call fail with a chosen errno, once or forever, to
  check that a host survives ENOSPC/EIO/EROFS/EACCES. With ``root=`` it covers every module (the
  real ``os`` functions are patched) but counts only calls on paths under ``root`` and on file
  descriptors opened there, so a whole manager (store, audit chain, privacy state, keys,
  metadata, ``pathlib``/``tempfile`` calls) can be driven through a fault at every k.
"""

from __future__ import annotations

import errno as _errno
import os
import threading
import types
from collections.abc import Iterable
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import FFManualClock

__all__ = ["FFFaultInjector", "FFManualClock", "DEFAULT_FAULT_CALLS", "ROOT_FAULT_CALLS"]

DEFAULT_FAULT_CALLS = ("open", "write", "fsync", "ftruncate", "replace", "pread", "fchmod", "unlink")
ROOT_FAULT_CALLS = (
    "open", "write", "pwrite", "fsync", "fdatasync", "ftruncate", "fchmod", "chmod",
    "replace", "rename", "link", "unlink", "mkdir", "rmdir",
)
"""What ``root=`` mode can fail: every call that creates, changes, syncs or renames a file."""
_FD_CALLS = frozenset({"write", "pwrite", "fsync", "fdatasync", "ftruncate", "fchmod"})
_TWO_PATH_CALLS = frozenset({"replace", "rename", "link"})


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
        calls: Iterable[str] | None = None,
        modules: Iterable[types.ModuleType] | None = None,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        if mode not in ("once", "forever"):
            raise ValueError(f"mode: expected 'once' or 'forever', got {mode!r}")
        if fail_at < 0:
            raise ValueError(f"fail_at: must be >= 0, got {fail_at}")
        self.fail_at = fail_at
        self.err = err
        self.mode = mode
        if root is not None and modules is not None:
            raise ValueError("root and modules are exclusive: root= patches os itself")
        if calls is None:
            calls = ROOT_FAULT_CALLS if root is not None else DEFAULT_FAULT_CALLS
        self.calls = frozenset(calls)
        self.root = None if root is None else os.path.abspath(os.fspath(root))
        self._fds: set[int] = set()
        self._real: dict[str, Any] = {}
        self.failed_calls: list[str] = []
        if modules is None and root is None:
            from ff_utils.ff_analytics_core import ff_file_ops
            from ff_utils.ff_analytics_store import ff_stream_store

            modules = (ff_stream_store, ff_file_ops)
        self.modules = tuple(modules or ())
        self.count = 0
        self.failures = 0
        self._cleared = False
        self._lock = threading.Lock()
        self._saved: list[tuple[types.ModuleType, Any]] = []

    def _tick(self, name: str) -> None:
        """Count one matching call; raise the injected error when it is the one to fail."""
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
                if len(self.failed_calls) < 100:
                    self.failed_calls.append(f"{n}:{name}")
        if fail:
            raise OSError(self.err, f"injected {_errno.errorcode.get(self.err, self.err)} in os.{name}")

    def _wrap(self, name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self._tick(name)
            return real(*args, **kwargs)

        return call

    # ------------------------------------------------------------------ root mode
    def _under_root(self, path: Any) -> bool:
        if isinstance(path, int):  # os.open(dir_fd=...) style calls are not used on our trees
            return path in self._fds
        try:
            p = os.fspath(path)
        except TypeError:
            return False
        if isinstance(p, bytes):
            p = os.fsdecode(p)
        if not os.path.isabs(p):
            p = os.path.abspath(p)
        root = self.root or ""
        return p == root or p.startswith(root + os.sep)

    def _wrap_root(self, name: str, real: Any) -> Any:
        if name == "open":
            def open_(path: Any, *args: Any, **kwargs: Any) -> int:
                inside = self._under_root(path)
                if inside:
                    self._tick("open")
                fd = real(path, *args, **kwargs)
                if inside:
                    self._fds.add(fd)
                return fd

            return open_
        if name in _FD_CALLS:
            def fd_call(fd: Any, *args: Any, **kwargs: Any) -> Any:
                if fd in self._fds:
                    self._tick(name)
                return real(fd, *args, **kwargs)

            return fd_call
        if name in _TWO_PATH_CALLS:
            def two(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
                if self._under_root(src) or self._under_root(dst):
                    self._tick(name)
                return real(src, dst, *args, **kwargs)

            return two

        def one(path: Any, *args: Any, **kwargs: Any) -> Any:
            if self._under_root(path):
                self._tick(name)
            return real(path, *args, **kwargs)

        return one

    def _close(self, fd: int) -> None:
        self._fds.discard(fd)
        self._real["close"](fd)

    def clear(self) -> None:
        """Stop failing (the fault has cleared); calls are still counted."""
        self._cleared = True

    def __enter__(self) -> FFFaultInjector:
        if self.root is not None:
            for name in (*self.calls, "close"):
                real = getattr(os, name)
                self._real[name] = real
                setattr(os, name, self._close if name == "close" else self._wrap_root(name, real))
            return self
        proxy = _OsProxy(self)
        for m in self.modules:
            self._saved.append((m, m.os))
            setattr(m, "os", proxy)  # noqa: B010 (a module attribute the type checker does not know)
        return self

    def __exit__(self, *exc: object) -> None:
        for name, real in self._real.items():
            setattr(os, name, real)
        self._real.clear()
        self._fds.clear()
        for m, saved in self._saved:
            setattr(m, "os", saved)  # noqa: B010 (a module attribute the type checker does not know)
        self._saved.clear()
