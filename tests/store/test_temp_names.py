"""No documented reader glob can match a temporary file the library creates.

Dynamic: the demo (worker processes included), ``cleanup`` (retention + compaction),
``rebuild-rollups``, ``erase-user``, ``export``, ``prometheus`` and ``dashboard`` run with an audit
hook (``sitecustomize`` on ``PYTHONPATH``, so spawned workers carry it too) that logs every file
created, every directory made and every rename/link source. Every temporary among them (each
rename/link source, and each created path gone at the end that is not a data file) is checked
against the globs of docs/operators.md, segment by segment and with DuckDB itself.

Static: no library module creates a temporary file except through ``ff_file_ops`` (the benches'
``mkdtemp`` scratch stores live outside any store and are not counted).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC_GLOBS = (
    "*/*/date=*/*.jsonl*",
    "*/*/date=*/*",
    "*/*/date=*/*.jsonl",
    "*/*/date=*/*.jsonl.gz",
)
"""Relative to ``<base>/analytics``: ``<category>/<stream>/date=*/...`` as docs/operators.md shows."""
_DATA_NAME = re.compile(r"(part-[A-Za-z0-9_.\-]+|audit|compacted(-\d+)?)\.jsonl(\.gz)?")

_TEMP_CREATION = re.compile(r"(?<![\w.])(tempfile\.)?mkstemp\(|NamedTemporaryFile\(|f\"[^\"\n]*\.tmp\"")

_HOOK = r'''
import os, sys
_log = os.environ.get("FF_TEMP_AUDIT_DIR")
if _log:
    _fd = os.open(os.path.join(_log, "audit-%d.log" % os.getpid()), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    _busy = [False]
    def _hook(event, args):
        if _busy[0]:
            return
        if event == "open":
            path, _mode, flags = args
            if not isinstance(flags, int) or not flags & os.O_CREAT or isinstance(path, int):
                return
            rec = "C\t%s\n" % os.fsdecode(path)
        elif event == "os.mkdir":
            rec = "D\t%s\n" % os.fsdecode(args[0])
        elif event in ("os.rename", "os.link"):
            rec = "R\t%s\n" % os.fsdecode(args[0])
        else:
            return
        _busy[0] = True
        try:
            os.write(_fd, os.path.abspath(rec[2:-1]).join((rec[:2], "\n")).encode("utf-8", "surrogateescape"))
        finally:
            _busy[0] = False
    sys.addaudithook(_hook)
'''


def _segments_match(rel: str, pattern: str) -> bool:
    a, b = rel.split("/"), pattern.split("/")
    return len(a) == len(b) and all(fnmatchcase(x, y) for x, y in zip(a, b, strict=True))


def _cli(base: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", *args, "--base-path", str(base)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


@pytest.fixture(scope="module")
def temp_names(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    work = tmp_path_factory.mktemp("tempnames")
    hook_dir, log_dir, base = work / "hook", work / "log", work / "store"
    hook_dir.mkdir()
    log_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(_HOOK)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook_dir), str(ROOT)]),
           "FF_TEMP_AUDIT_DIR": str(log_dir)}
    _cli(base, env, "demo", "--users", "30", "--days", "3", "--workers", "2", "--start", "2026-11-01")
    _cli(base, env, "rebuild-rollups", "--start", "2026-11-01T00:00:00Z", "--end", "2026-11-04T00:00:00Z")
    _cli(base, env, "cleanup")  # the demo's days are weeks old: retention and compaction both run
    _cli(base, env, "export", "--stream", "performance", "--format", "csv", "--out", str(base / "perf.csv"))
    _cli(base, env, "prometheus", "--out", str(base / "ff.prom"))
    _cli(base, env, "dashboard", "--out", str(base / "dash.html"))
    p = subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", "erase-user", "-", "--yes",
                        "--base-path", str(base)], input="demo-user-1\n", cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    created: set[str] = set()
    temps: set[str] = set()
    for f in log_dir.iterdir():
        for line in f.read_text().splitlines():
            kind, _, path = line.partition("\t")
            (temps if kind == "R" else created).add(path)
    for c in created:
        if not os.path.lexists(c):
            parent = Path(c).parent.name
            if not (parent.startswith("date=") and _DATA_NAME.fullmatch(Path(c).name)):
                temps.add(c)
    analytics = str(base / "analytics") + "/"
    return base, {t[len(analytics):] for t in temps if t.startswith(analytics)}


def test_every_temporary_name_escapes_every_documented_glob(temp_names: tuple[Path, set[str]]) -> None:
    _base, temps = temp_names
    names = {t.rsplit("/", 1)[-1] for t in temps}
    # the run did exercise the temporaries it is meant to check (atomic writes, swaps)
    assert any(n.startswith(".ff-tmp.") for n in names), sorted(names)[:20]
    assert any(n.startswith(".ff-swap.") for n in names), sorted(names)[:20]
    bad = sorted((t, g) for t in temps for g in DOC_GLOBS if _segments_match(t, g))
    assert not bad, bad[:20]
    assert not [t for t in temps if ".jsonl" in t.rsplit("/", 1)[-1] and t.rsplit("/", 1)[-1].startswith(".")]


def test_duckdb_reads_none_of_them(temp_names: tuple[Path, set[str]], tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    _base, temps = temp_names
    tree = tmp_path / "analytics"
    real = tree / "system_metrics" / "performance" / "date=2026-11-01" / "part-x.jsonl"
    real.parent.mkdir(parents=True)
    real.write_text('{"a": 1}\n')
    dirs = {str(Path(t).parent) for t in temps}
    for t in sorted(temps):  # a JSON line at each temporary file's place (directories stay directories)
        p = tree / t
        p.parent.mkdir(parents=True, exist_ok=True)
        if t in dirs:
            p.mkdir(exist_ok=True)
        elif not p.exists():
            p.write_text('{"a": 2}\n')
    for g in ("*/*/date=*/*.jsonl*", "*/*/date=*/*"):
        pattern = str(tree / g).replace("'", "''")
        n = duckdb.sql(f"SELECT count(*) FROM read_json('{pattern}', format='newline_delimited', "
                       "hive_partitioning=true, union_by_name=true, ignore_errors=true)").fetchall()[0][0]
        assert n == 1, (g, n)


def test_no_module_creates_a_temp_file_outside_file_ops() -> None:
    offenders = []
    for path in sorted((ROOT / "ff_utils").rglob("*.py")):
        if path.name == "ff_file_ops.py":
            continue
        text = path.read_text()
        for m in _TEMP_CREATION.finditer(text):
            offenders.append(f"{path.relative_to(ROOT)}: {m.group(0)}")
    assert not offenders, offenders


def test_temp_helpers_never_produce_a_globbed_name(tmp_path: Path) -> None:
    from ff_utils.ff_analytics_core.ff_file_ops import ff_mkstemp, ff_temp_path

    pdir = tmp_path / "analytics" / "user_analytics" / "feature_usage" / "date=2026-01-01"
    pdir.mkdir(parents=True)
    for name in ("part-w.jsonl", "compacted.jsonl.gz", "x.jsonl.gz.jsonl", "_compaction.json"):
        t = ff_temp_path(pdir / name)
        assert t.parent == pdir.parent and ".jsonl" not in t.name and not t.name.startswith("date=")
        fd, p = ff_mkstemp(pdir / name)
        os.close(fd)
        rel = str(Path(p).relative_to(tmp_path / "analytics"))
        assert not any(_segments_match(rel, g) for g in DOC_GLOBS), rel
