"""Progress on a terminal for long commands: ``label done/total (pct) ETA`` on stderr.

On only when stderr is a TTY and ``--quiet`` is not given; no dependency.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["FFProgress"]


class FFProgress:
    """Call ``update(done, total)``; ``close()`` ends the line. Silent when not ``enabled``."""

    def __init__(self, label: str, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = not quiet and bool(getattr(self.stream, "isatty", lambda: False)())
        self.label = label
        self.t0 = time.monotonic()
        self._shown = False

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        elapsed = time.monotonic() - self.t0
        eta = elapsed / done * (total - done) if done else 0.0
        self.stream.write(f"\r{self.label} {done}/{total} ({100 * done // total}%) ETA {eta:.0f}s ")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self.enabled and self._shown:
            self.stream.write("\n")
            self.stream.flush()
