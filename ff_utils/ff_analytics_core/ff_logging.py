"""Stdlib logging for the library: one named logger per module, no duplicate handlers."""

from __future__ import annotations

import logging

_ROOT = "ff_analytics"


def get_logger(name: str) -> logging.Logger:
    """Return a logger under the ``ff_analytics`` namespace.

    The library never adds handlers except a ``NullHandler`` on its root logger (once), so a
    host's logging configuration decides where records go and repeated calls never duplicate
    output.
    """
    root = logging.getLogger(_ROOT)
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())
    if name == _ROOT or name.startswith(_ROOT + "."):
        return logging.getLogger(name)
    return logging.getLogger(f"{_ROOT}.{name}")
