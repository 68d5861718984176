"""For hosts' own tests: :class:`FFFaultInjector` makes the k-th file-system call fail (ENOSPC, EIO)."""

from __future__ import annotations

from ff_utils.ff_analytics_testing.ff_fault_injector import FFFaultInjector

__all__ = ["FFFaultInjector"]
