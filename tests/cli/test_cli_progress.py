"""Progress on long commands: shown on a terminal (a real pty as stderr), absent with ``--quiet`` and
when stderr is not a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "FF_ANALYTICS_PSEUDONYM_KEY": "ab" * 32, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("progress") / "src"
    p = subprocess.run([sys.executable, "-m", "tests._merge_writer", str(base), "w0", "0"], cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return base


def _run_on_pty(args: list[str]) -> tuple[int, str]:
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(args, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        return p.wait(timeout=120), b"".join(chunks).decode(errors="replace")
    finally:
        os.close(master)


def test_merge_stores_shows_progress_on_a_tty_only(source: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "ff_metrics_collection_manager", "merge-stores", str(source)]
    rc, err = _run_on_pty([*cmd, "--into", str(tmp_path / "a")])
    assert rc == 0
    days = len(list((source / "analytics" / "business_intelligence" / "rollups").glob("date=*")))
    assert f"merge-stores: days {days}/{days} (100%)" in err and "ETA" in err
    assert "merge-stores: days 1/" in err
    rc, err = _run_on_pty([*cmd, "--into", str(tmp_path / "b"), "--quiet"])
    assert rc == 0 and "merge-stores" not in err
    p = subprocess.run([*cmd, "--into", str(tmp_path / "c")], cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and "ETA" not in p.stderr
