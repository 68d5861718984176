"""The name rule for everything that reaches the file system or a metric family.

Stream names, metric and component names, job names and event kinds match ``^[a-z0-9_]{1,64}$``:
no path separator, no dot, no upper case, so a name can never climb out of its directory or
collide with another after case folding. Errors name the argument.
"""

from __future__ import annotations

import re

__all__ = ["NAME_PATTERN", "ff_validate_name"]

NAME_PATTERN = r"^[a-z0-9_]{1,64}$"
_NAME_RE = re.compile(r"[a-z0-9_]{1,64}")


def ff_validate_name(name: object, what: str = "stream") -> str:
    """Return ``name`` if it matches ``^[a-z0-9_]{1,64}$``; else raise ``ValueError``/``TypeError``."""
    if not isinstance(name, str):
        raise TypeError(f"{what}: expected str, got {type(name).__name__}")
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"{what}: {name!r} is not a safe name (allowed: ^[a-z0-9_]{{1,64}}$)")
    return name
