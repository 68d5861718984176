"""Atomic whole-file writes under injected faults; JSON helpers; logger handlers."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ff_utils.ff_analytics_core import ff_file_ops
from ff_utils.ff_analytics_core.ff_file_ops import ff_atomic_write
from ff_utils.ff_analytics_core.ff_json_utils import (
    ff_append_jsonl,
    ff_read_json,
    ff_read_jsonl,
    ff_write_json,
)
from ff_utils.ff_analytics_core.ff_logging import get_logger

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("step", ["write", "fsync", "fchmod", "replace"])
def test_interrupted_atomic_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    target = tmp_path / "meta.json"
    ff_write_json(target, {"version": 1})
    before = target.read_bytes()

    def boom(*a, **k):
        raise OSError(5, f"injected EIO at {step}")

    monkeypatch.setattr(ff_file_ops.os, step, boom)
    with pytest.raises(OSError, match="injected"):
        ff_write_json(target, {"version": 2, "pad": "x" * 100_000})
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"], "a temp file was left behind"


def test_atomic_write_killed_between_steps_leaves_old_or_new(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    ff_write_json(target, {"v": "old"})
    for stop_at in ("after_tmp_write", "after_fsync", "after_replace"):
        code = f"""
import os, sys
from ff_utils.ff_analytics_core import ff_file_ops
real_fsync, real_replace = os.fsync, os.replace
def fsync(fd):
    real_fsync(fd)
    if {stop_at!r} == "after_fsync": os._exit(9)
def replace(a, b):
    if {stop_at!r} == "after_tmp_write": os._exit(9)
    real_replace(a, b)
    if {stop_at!r} == "after_replace": os._exit(9)
ff_file_ops.os.fsync = fsync
ff_file_ops.os.replace = replace
from ff_utils.ff_analytics_core.ff_json_utils import ff_write_json
ff_write_json(sys.argv[1], {{"v": "new"}})
"""
        r = subprocess.run([sys.executable, "-c", code, str(target)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert r.returncode == 9
        assert ff_read_json(target)["v"] in ("old", "new")
    # a crash leaves at most a hidden temp file, never a torn target
    assert ff_read_json(target) == {"v": "new"}


def test_atomic_write_sets_mode(tmp_path: Path) -> None:
    p = ff_atomic_write(tmp_path / "k", b"secret", mode=0o600)
    assert p.read_bytes() == b"secret" and (p.stat().st_mode & 0o777) == 0o600


def test_jsonl_helpers_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "side.jsonl"
    assert ff_append_jsonl(p, [{"a": 1}, {"b": "\n"}]) == 2
    with open(p, "ab") as fh:
        fh.write(b"garbage\n")
    ff_append_jsonl(p, [{"c": 3}])
    bad: list[int] = []
    assert list(ff_read_jsonl(p, errors=bad)) == [{"a": 1}, {"b": "\n"}, {"c": 3}]
    assert bad == [3]
    assert ff_read_json(tmp_path / "missing.json", default={"d": 1}) == {"d": 1}


def test_get_logger_adds_no_duplicate_handlers() -> None:
    a = get_logger("x.y")
    b = get_logger("x.y")
    assert a is b and a.name == "ff_analytics.x.y"
    root = logging.getLogger("ff_analytics")
    assert sum(isinstance(h, logging.NullHandler) for h in root.handlers) == 1
