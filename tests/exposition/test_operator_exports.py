"""Exports (jsonl/csv/json round trips, time bounds, CLI errors), the Prometheus textfile, and status."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from ff_metrics_collection_manager import main
from ff_utils.ff_analytics_core.ff_clock import ff_parse_iso
from ff_utils.ff_analytics_exposition.ff_export_writer import (
    ff_decode_csv_cell,
    ff_encode_csv_cell,
    ff_export_stream,
    ff_parse_time_bound,
    ff_read_export,
)
from ff_utils.ff_analytics_exposition.ff_prometheus_exposition import (
    FFPromFamilyDTO,
    ff_render_exposition,
    ff_sanitize_label_name,
    ff_sanitize_metric_name,
    ff_validate_metric_name,
    ff_write_textfile,
)
from tests._operator_helpers import build_synthetic_store, open_store

prom_parser = pytest.importorskip("prometheus_client.parser")


@pytest.fixture(scope="module")
def store_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("exp")
    build_synthetic_store(base)
    return base


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------------------------------- exports
@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_export_round_trips_the_records_of_the_range(fmt: str, store_base: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"perf.{fmt}"
    rc, stdout, err = _cli(capsys, "export", "--base-path", str(store_base), "--stream", "performance",
                           "--from", "2026-11-02", "--to", "2026-11-02T11:59:59Z", "--format", fmt, "--out", str(out))
    assert rc == 0, err
    lo, hi = ff_parse_iso("2026-11-02T00:00:00Z"), ff_parse_iso("2026-11-02T11:59:59Z")
    expected = [r for r in open_store(store_base).read("performance") if lo <= ff_parse_iso(r["timestamp"]) <= hi]
    assert len(expected) == 72  # 12 hours x 6 samples
    got = list(ff_read_export(out, fmt))
    assert got == expected  # nested dicts (component_health) included; CSV cells decode back
    assert f"exported {len(expected)} records" in stdout
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp file left


def test_export_to_stdout_and_bounds_are_inclusive(store_base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _cli(capsys, "export", "--base-path", str(store_base), "--stream", "resource_usage",
                        "--from", "2026-11-01T00:10:00Z", "--to", "2026-11-01T00:30:00.000000Z", "--format", "jsonl")
    assert rc == 0
    stamps = [json.loads(line)["timestamp"] for line in out.splitlines()]
    assert stamps == ["2026-11-01T00:10:00.000000Z", "2026-11-01T00:20:00.000000Z", "2026-11-01T00:30:00.000000Z"]
    assert "exported 3 records" in err


def test_json_export_of_an_empty_range_is_an_empty_array(store_base: Path) -> None:
    buf = io.BytesIO()
    res = ff_export_stream(open_store(store_base), "alerts", "json", buf,
                           ff_parse_time_bound("2030-01-01"), ff_parse_time_bound("2030-01-02", end=True))
    assert res.records == 0 and json.loads(buf.getvalue()) == []


def test_csv_export_is_readable_by_duckdb(store_base: Path, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    out = tmp_path / "ru.csv"
    assert main(["export", "--base-path", str(store_base), "--stream", "resource_usage", "--format", "csv", "--out", str(out)]) == 0
    rows = list(open_store(store_base).read("resource_usage"))
    n, cpu = duckdb.connect().execute(f"SELECT count(*), sum(cpu_usage_percent) FROM read_csv('{out}')").fetchone()
    assert n == len(rows) and cpu == pytest.approx(sum(r["cpu_usage_percent"] for r in rows))
    with open(out, newline="") as fh:
        header = next(csv.reader(fh))
    assert header[0] == "timestamp" and "component_health" in header


def test_csv_cells() -> None:
    for v in (None, "plain", "with,comma", True, False, 3, 2.5, {"a": [1, 2]}, [1, "x"]):
        assert ff_decode_csv_cell(ff_encode_csv_cell(v)) == v


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--stream", "nope"], "not a known stream"),
        (["--stream", "alerts", "--from", "2026-11-05", "--to", "2026-11-01"], "is after --to"),
        (["--stream", "alerts", "--from", "yesterday"], "--from: 'yesterday' is not a date"),
    ],
)
def test_export_errors_are_one_line_and_non_zero(argv: list[str], message: str, store_base: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _cli(capsys, "export", "--base-path", str(store_base), *argv)
    assert rc != 0 and out == ""
    assert err.count("\n") == 1 and message in err and err.startswith("ff-metrics: error:")


def test_commands_on_a_missing_store_fail_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["status"], ["dashboard", "--out", str(tmp_path / "d.html")], ["prometheus", "--out", str(tmp_path / "x.prom")]):
        rc, _out, err = _cli(capsys, *argv, "--base-path", str(tmp_path / "nothing"))
        assert rc == 1 and "no store at" in err and err.count("\n") == 1
    assert not (tmp_path / "nothing").exists()  # read-only commands never create a store


# ---------------------------------------------------------------------------------------- prometheus
def test_prometheus_file_parses_and_carries_the_latest_values(store_base: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "textfile" / "ff_metrics.prom"
    rc, out, err = _cli(capsys, "prometheus", "--base-path", str(store_base), "--out", str(target))
    assert rc == 0, err
    text = target.read_text()
    fams = {f.name: f for f in prom_parser.text_string_to_metric_families(text)}
    latest = max(open_store(store_base).read("resource_usage"), key=lambda r: r["timestamp"])
    assert fams["ff_cpu_usage_percent"].samples[0].value == pytest.approx(latest["cpu_usage_percent"])
    assert fams["ff_disk_usage_percent"].samples[0].value == pytest.approx(latest["disk_usage_percent"])
    q = {s.labels["quantile"]: s.value for s in fams["ff_response_time_ms"].samples}
    assert q == {"0.95": latest["p95_response_time_ms"]}  # no p50 recorded: left out, not guessed
    assert fams["ff_response_time_mean_ms"].samples[0].value == latest["response_time_ms"]
    health = {s.labels["component"]: s.labels["status"] for s in fams["ff_component_health_status"].samples}
    assert health == latest["component_health"]
    streams = {s.labels["stream"] for s in fams["ff_stream_bytes"].samples}
    assert {"resource_usage", "performance", "alerts", "rollups"} <= streams
    for f in fams.values():
        assert ff_validate_metric_name(f.name)
        assert all(s.timestamp is None for s in f.samples)  # the textfile collector rejects timestamps
    assert [p.name for p in target.parent.iterdir()] == ["ff_metrics.prom"]  # atomic: no temp left


def test_exposition_escaping_and_validation(tmp_path: Path) -> None:
    f = FFPromFamilyDTO("ff_test_value", 'help with \\ and\nnewline', "gauge")
    f.add(1.5, path='a"b\\c\nd')
    f.add(float("inf"), path="inf")
    text = ff_render_exposition([f])
    (fam,) = list(prom_parser.text_string_to_metric_families(text))
    assert fam.documentation == "help with \\ and\nnewline"
    assert {s.labels["path"]: s.value for s in fam.samples} == {'a"b\\c\nd': 1.5, "inf": float("inf")}
    assert ff_sanitize_metric_name("9 requests/s.total") == "_9_requests_s_total"
    assert ff_sanitize_label_name("__reserved-name") == "reserved_name"
    with pytest.raises(ValueError, match="metric name"):
        ff_render_exposition([FFPromFamilyDTO("bad-name", "x")])
    with pytest.raises(ValueError, match="appears twice"):
        ff_render_exposition([FFPromFamilyDTO("a", "x").add(1), FFPromFamilyDTO("a", "x").add(2)])
    with pytest.raises(ValueError, match="duplicate label set"):
        ff_render_exposition([FFPromFamilyDTO("a", "x").add(1, k="v").add(2, k="v")])
    with pytest.raises(ValueError, match="label name"):
        ff_render_exposition([FFPromFamilyDTO("a", "x").add(1, **{"__x": "v"})])
    with pytest.raises(ValueError, match=r"\.prom"):
        ff_write_textfile(tmp_path / "x.txt", [f])
    with pytest.raises(ValueError, match="no usable"):
        ff_sanitize_metric_name("///")


def test_prometheus_write_failure_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "ff_metrics.prom"
    ff_write_textfile(target, [FFPromFamilyDTO("ff_a", "x").add(1)])
    before = target.read_text()

    def boom(*a: object, **k: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        ff_write_textfile(target, [FFPromFamilyDTO("ff_a", "x").add(2)])
    assert target.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ff_metrics.prom"]


# ---------------------------------------------------------------------------------------- status
def test_status_shows_health_alerts_metrics_and_sparklines(store_base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _cli(capsys, "status", "--base-path", str(store_base))
    assert rc == 0, err
    assert "health   healthy" in out
    assert any(ch in out for ch in "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588")
    cpu_line = next(line for line in out.splitlines() if line.strip().startswith("cpu"))
    latest = max(open_store(store_base).read("resource_usage"), key=lambda r: r["timestamp"])
    assert f"{latest['cpu_usage_percent']:.1f}%" in cpu_line
    rc, out, _ = _cli(capsys, "status", "--base-path", str(store_base), "--format", "json")
    snap = json.loads(out)
    assert snap["latest_metrics"]["timestamp"] == latest["timestamp"]
    assert snap["users"]["total_users"] > 0


def test_sparkline() -> None:
    from ff_utils.ff_analytics_cli.ff_operator_commands import ff_sparkline

    assert ff_sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8) == "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
    assert len(ff_sparkline(list(range(100)), 10)) == 10
    assert ff_sparkline([], 5) == ""
    with pytest.raises(ValueError, match="width"):
        ff_sparkline([1], 0)


def test_unwritable_output_is_one_error_line(store_base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for argv in (["dashboard", "--out", str(blocker / "d.html")],
                 ["export", "--stream", "alerts", "--out", str(blocker / "a.jsonl")],
                 ["prometheus", "--out", str(blocker / "m.prom")]):
        rc, out, err = _cli(capsys, *argv, "--base-path", str(store_base))
        assert rc == 1 and out == "" and err.count("\n") == 1, err
        assert err.startswith(f"ff-metrics: error: {argv[0]}: ") and str(blocker) in err


def test_status_live_adds_this_machine_and_records_it(store_base: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    base = tmp_path / "copy"
    shutil.copytree(store_base, base)
    before = sum(1 for _ in open_store(base).read("health_checks"))
    rc, out, err = _cli(capsys, "status", "--base-path", str(base), "--live", "--format", "json")
    assert rc == 0, err
    snap = json.loads(out)
    assert snap["health"]["status"] in ("healthy", "degraded", "unhealthy")
    assert "analytics_store" in snap["component_health"]  # the live check of this process
    assert sum(1 for _ in open_store(base).read("health_checks")) == before + 1  # documented side effect
