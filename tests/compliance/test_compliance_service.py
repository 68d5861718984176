"""Compliance service: audit from sync and async code, events, report, CLI, maintenance job."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_metrics_collection_manager import main as run_cli
from ff_utils.ff_analytics_compliance.ff_audit_chain import CHECKPOINT_FILE
from ff_utils.ff_analytics_core.ff_clock import FFManualClock


def _manager(base: Path, clock: FFManualClock | None = None, **analytics: object) -> FFMetricsCollectionManager:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(base)
    for k, v in analytics.items():
        setattr(cfg.analytics, k, v)
    return FFMetricsCollectionManager(cfg, clock=clock or FFManualClock(datetime(2026, 5, 1, tzinfo=UTC)),
                                      writer_id="t1")


def _audit_records(m: FFMetricsCollectionManager) -> list[dict]:
    return list(m.store.read("audit_logs"))


async def test_audit_from_async_and_sync_code_is_chained_and_checkpointed_on_close(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    for i in range(5):
        m.audit("alert_acknowledge", target=f"alert_{i}", actor="ops", count=i)
    m.flush()  # drains the audit queue
    recs = _audit_records(m)
    assert [r["action"] for r in recs] == ["initialize", "config_loaded"] + ["alert_acknowledge"] * 5
    assert [r["seq"] for r in recs] == list(range(1, 8))
    assert recs[4]["details"] == {"count": 2} and recs[4]["actor"] == "ops" and recs[4]["writer"] == "t1"
    await m.close()
    cps = (tmp_path / "analytics" / "compliance" / CHECKPOINT_FILE).read_bytes().splitlines()
    assert orjson.loads(cps[-1])["seq"] == 7
    assert (tmp_path / "keys" / "audit.key").stat().st_mode & 0o777 == 0o600
    res = m.verify_audit_log_sync()
    assert res.kind == "ok" and res.records == 7 and res.last_checkpoint_seq == 7


def test_audit_argument_errors(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    with pytest.raises(TypeError, match="target"):
        m.audit("x", target=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="action"):
        m.audit("")
    with pytest.raises(TypeError, match="details"):
        m.audit("configure", blob=object())
    m.flush()
    assert list(m.store.read("audit_logs")) == []
    m.close_sync()


def test_security_and_privacy_events(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    assert m.record_security_event("failed_login", severity="warning", ip="10.0.0.1", user_ref="u1")
    with pytest.raises(ValueError, match="severity"):
        m.record_security_event("failed_login", severity="loud")
    with pytest.raises(ValueError, match="kind"):
        m.record_security_event("../etc")
    with pytest.raises(ValueError, match="fields"):
        m.record_privacy_event("consent_granted", timestamp="forged")
    with pytest.raises(ValueError):
        m.checked_name("../../x", what="metric name")
    assert m.record_privacy_event("consent_granted", subject_ref="s1")
    m.flush()
    sec = list(m.store.read("security_events"))
    assert [(e["kind"], e["severity"], e["source"]) for e in sec] == [
        ("failed_login", "warning", "host"), ("unsafe_name_rejected", "warning", "manager")]
    assert sec[0]["ip"] == "10.0.0.1" and "value" not in sec[1]  # the rejected value may be PII
    assert sec[1]["value_sha256"] == hashlib.sha256(repr("../../x").encode()).hexdigest()[:16]
    priv = list(m.store.read("privacy_events"))
    assert priv[0]["kind"] == "consent_granted" and priv[0]["subject_ref"] == "s1"
    m.close_sync()


def test_key_permission_problem_and_tampering_become_security_events(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    m.audit("configure", target="x")
    m.close_sync()
    os.chmod(tmp_path / "keys" / "audit.key", 0o640)
    log = next((tmp_path / "analytics" / "compliance" / "audit_logs").rglob("audit.jsonl"))
    log.write_bytes(log.read_bytes().replace(b'"target":"x"', b'"target":"y"'))
    m2 = _manager(tmp_path)
    res = m2.verify_audit_log_sync()
    assert res.kind == "modified" and res.first_bad_seq == 1
    m2.flush()
    kinds = {(e["kind"], e["severity"]) for e in m2.store.read("security_events")}
    assert ("key_file_permissions", "error") in kinds
    assert ("audit_verification_failed", "critical") in kinds
    m2.close_sync()


def test_regulatory_report_from_stored_events(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2026, 5, 1, 9, tzinfo=UTC))
    m = _manager(tmp_path, clock)
    m.store.append("performance", {"timestamp": "2026-05-01T09:00:00Z", "v": 1})
    m.record_privacy_event("erasure_requested", subject_ref="a")
    clock.advance(2.5)
    m.record_privacy_event("erasure_completed", subject_ref="a", records_removed=7, outcome="success")
    m.record_privacy_event("access_request", subject_ref="b", records=3, duration_seconds=0.25)
    m.record_privacy_event("consent_withdrawn", subject_ref="c")
    m.record_privacy_event("opt_out", subject_ref="c", opted_out=True)
    m.record_security_event("permission_denied", severity="error", path="/admin")
    rep = m.generate_regulatory_report_sync()
    path = tmp_path / "analytics" / "compliance" / "regulatory_reports.json"
    on_disk = json.loads(path.read_text())
    assert on_disk == json.loads(json.dumps(rep))
    assert on_disk["retention"]["raw"]["retention_days"] == 30
    assert on_disk["retention"]["raw"]["oldest_partition"] == "2026-05-01"
    assert on_disk["retention"]["raw"]["oldest_by_category"] == {"system_metrics": "2026-05-01", "user_analytics": None}
    assert on_disk["retention"]["compliance"]["oldest_by_category"] == {"compliance": "2026-05-01"}
    assert on_disk["retention"]["aggregated"]["oldest_partition"] is None
    er = on_disk["privacy"]["erasure"]
    assert er["completed"] == 1 and er["durations_seconds"]["max"] == 2.5 and er["recent"][0]["records"] == 7
    assert on_disk["privacy"]["access"]["durations_seconds"]["mean"] == 0.25
    assert on_disk["privacy"]["consent"]["consent_withdrawn"] == 1 and on_disk["privacy"]["consent"]["opt_out"] == 1
    assert on_disk["security_events"] == [{"kind": "permission_denied", "severity": "error", "count": 1}]
    assert on_disk["audit_verification"]["status"] == "ok"
    assert on_disk["pseudonymization"]["hash_user_identifiers"] is True
    m.close_sync()
    assert any(r["action"] == "regulatory_report" for r in _audit_records(m))


async def test_maintenance_job_registered_and_runs(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2026, 1, 1, 1, tzinfo=UTC))
    m = _manager(tmp_path, clock)
    interval, job = m.hub.periodic_jobs["maintenance"]
    assert interval == float(m.analytics_config.cleanup_interval_seconds)
    for _ in range(45):
        m.store.append("performance", {"timestamp": clock.now().isoformat()})
        m.store.flush()
        clock.advance(days=1)
    out = await job()
    assert out["cleanup"]["deleted"] == 15  # ages 31..45 (today, age 0, holds nothing)
    assert out["compression"]["partitions_compacted"] == 23  # ages 8..30 (not 1..7)
    assert sum(1 for _ in m.store.read("performance")) == 30
    await m.close()
    actions = [r["action"] for r in _audit_records(m)]
    assert actions.count("retention_delete") == 15 and actions.count("compress_partitions") == 1


def test_cli_verify_cleanup_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = str(tmp_path)
    m = _manager(tmp_path, FFManualClock(datetime.now(UTC) - timedelta(days=40)))
    m.store.append("performance", {"timestamp": "old"})
    m.audit("configure", target="cli-test")
    m.close_sync()
    assert run_cli(["verify-audit", "--base-path", base, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "ok" and out["records"] == 1
    assert run_cli(["cleanup", "--dry-run", "--base-path", base, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["cleanup"]["partitions"]) == 1 and out["cleanup"]["deleted"] == 0
    assert run_cli(["cleanup", "--base-path", base, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cleanup"]["deleted"] == 1
    assert run_cli(["compliance-report", "--base-path", base, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["deletions"]["partitions"] == 1
    log = next((tmp_path / "analytics" / "compliance" / "audit_logs").rglob("audit.jsonl"))
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:1] + lines[2:]))
    assert run_cli(["verify-audit", "--base-path", base]) == 3
    assert "deleted" in capsys.readouterr().err
