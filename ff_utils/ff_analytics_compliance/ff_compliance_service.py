"""The compliance engine of the manager: audit trail, privacy/security events, verification, retention.

Audit records go to the keyed hash chain (``ff_audit_chain``); privacy and security events to their
streams; verification, the regulatory report, retention cleanup and compression delegate to their
engine modules. Audit appends never block the event loop: called from a coroutine they are queued
and written by one worker thread (in order); called from sync code they are written inline.
I/O failures are logged and counted, failed entries stay queued (bounded) and are retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
from ff_utils.ff_analytics_compliance.ff_audit_chain import (
    FFAuditChainWriter,
    audit_key_path,
    load_or_create_audit_key,
)
from ff_utils.ff_analytics_compliance.ff_audit_verifier import FFAuditVerifier
from ff_utils.ff_analytics_compliance.ff_regulatory_report import (
    build_regulatory_report,
    write_regulatory_report,
)
from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps
from ff_utils.ff_analytics_core.ff_lifecycle_hub import FFLifecycleHub
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_core.ff_names import ff_validate_name
from ff_utils.ff_analytics_store.ff_partition_compressor import FFPartitionCompressor
from ff_utils.ff_analytics_store.ff_retention_manager import FFRetentionManager, retention_days_from
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

logger = get_logger(__name__)

SEVERITIES = ("info", "warning", "error", "critical")
_RESERVED_EVENT_FIELDS = frozenset({"timestamp", "kind", "severity", "source", "writer"})
AUDIT_QUEUE_MAX = 10_000
AUDIT_DETAILS_MAX_BYTES = 16_384  # keeps every audit record well below the chain's 64 KiB tail read
_JSON_SCALARS = frozenset({str, int, float, bool})


def _check_dry_run(dry_run: Any) -> None:
    if type(dry_run) is not bool:
        raise TypeError(f"dry_run: expected bool, got {type(dry_run).__name__}")


def _check_checkpoint_path(path: Any) -> None:
    """``None`` (the store's own checkpoints) or an existing file: a wrong path is a caller bug, not
    a log that merely has no checkpoints."""
    if path is None:
        return
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint_path: expected str or path, got {type(path).__name__}")
    if not os.path.isfile(path):
        raise ValueError(f"checkpoint_path: no such file: {os.fspath(path)!r}")


class FFComplianceService:
    """Audit chain, privacy/security events, verification, regulatory report, retention, compression.

    Built first by the manager (every other engine audits through :meth:`audit`); its flush hook drains
    the audit queue, its close hook (run last) writes a checkpoint and closes the chain.
    """

    def __init__(
        self,
        store: FFStreamStore,
        clock: FFClock,
        config: FFAnalyticsConfigDTO,
        hub: FFLifecycleHub,
        *,
        base_path: Path,
        environment: str,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.hub = hub
        self.base_path = Path(base_path)
        self.analytics_path = store.analytics_path
        self.environment = environment
        self._privacy_cfg = config.privacy_config
        self._audit_key_file = audit_key_path(self.base_path, self._privacy_cfg)
        retention_days_from(self._privacy_cfg)  # fail fast on bad retention settings
        ac = config
        self._audit_checkpoint_every = int(ac.audit_checkpoint_every)
        self._audit_key: bytes | None = None
        self._audit_writer: Any = None
        self._audit_queue: deque[dict[str, Any]] = deque()
        self._audit_qlock = threading.Lock()
        self._audit_io_lock = threading.Lock()
        self._audit_executor: ThreadPoolExecutor | None = None
        self._audit_scheduled = False
        self.compliance_stats: dict[str, Any] = {
            "audit_records_written": 0,
            "audit_write_failures": 0,
            "audit_records_dropped": 0,
            "audit_durability_failures": 0,
            "audit_last_error": "",
            "security_events": 0,
            "privacy_events": 0,
            "last_verification": None,
            "last_cleanup": None,
            "last_compression": None,
        }
        hub.add_flush_hook(self._audit_drain)
        hub.add_fork_hook(self._after_fork)
        hub.add_close_hook(self._close)
        hub.register_periodic_job("maintenance", float(ac.cleanup_interval_seconds), self._maintenance_job)

    def _after_fork(self) -> None:
        """Child of ``os.fork()``: queued audit entries are the parent's to write; the chain lock is
        reopened (an inherited flock descriptor would not exclude the parent)."""
        self._audit_queue = deque()
        self._audit_qlock = threading.Lock()
        self._audit_io_lock = threading.Lock()
        self._audit_executor = None  # its thread stayed in the parent
        self._audit_scheduled = False
        for k in ("audit_records_written", "audit_write_failures", "audit_records_dropped",
                  "audit_durability_failures"):
            self.compliance_stats[k] = 0
        if self._audit_writer is not None:
            self._audit_writer.after_fork()

    def _audit_chain(self) -> Any:
        """The chain writer, loading (or creating) the key on first use."""
        if self._audit_writer is None:
            key, problem = load_or_create_audit_key(self._audit_key_file)
            self._audit_key = key
            self._audit_writer = FFAuditChainWriter(
                self.analytics_path,
                key,
                clock=self.clock,
                checkpoint_every=self._audit_checkpoint_every,
            )
            if problem:
                logger.error("audit key: %s", problem)
                self.record_security_event(
                    "key_file_permissions", severity="error", source="manager",
                    path=str(self._audit_key_file), problem=problem,
                )
        return self._audit_writer

    # ------------------------------------------------------------------ audit
    def audit(self, action: str, target: str = "", outcome: str = "success", actor: str = "system",
              **details: Any) -> None:
        """Queue one audit record; written inline from sync code, by the audit thread from a coroutine."""
        for name, value in (("action", action), ("target", target), ("outcome", outcome), ("actor", actor)):
            if not isinstance(value, str):
                raise TypeError(f"{name}: expected str, got {type(value).__name__}")
        if not action or len(action) > 128:
            raise ValueError(f"action: must be 1..128 characters, got {action!r}")
        for name, value, limit in (("actor", actor, 128), ("outcome", outcome, 64), ("target", target, 4096)):
            if len(value) > limit:
                raise ValueError(f"{name}: at most {limit} characters, got {len(value)}")
        try:
            size = len(ff_dumps(details))  # a caller bug surfaces here, not later in the audit thread
        except TypeError as exc:
            raise TypeError(f"details: audit details must be JSON serializable ({exc})") from exc
        if size > AUDIT_DETAILS_MAX_BYTES:
            raise ValueError(f"details: at most {AUDIT_DETAILS_MAX_BYTES} bytes serialized, got {size}")
        entry = {
            "timestamp": ff_iso(self.clock.now()),
            "actor": actor,
            "action": action,
            "target": target,
            "outcome": outcome,
            "writer": self.store.writer_id,
            "details": details,
        }
        self._audit_enqueue([entry])

    def _audit_enqueue(self, entries: list[dict[str, Any]]) -> None:
        with self._audit_qlock:
            room = AUDIT_QUEUE_MAX - len(self._audit_queue)
            if room < len(entries):
                lost = len(entries) - max(room, 0)
                self.compliance_stats["audit_records_dropped"] += lost
                logger.error("audit queue full: %d audit records dropped", lost)
                entries = entries[: max(room, 0)]
            self._audit_queue.extend(entries)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._audit_drain()
            return
        with self._audit_qlock:
            if self._audit_scheduled:
                return
            self._audit_scheduled = True
        if self._audit_executor is None:
            self._audit_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ff-audit")
        self._audit_executor.submit(self._audit_drain_scheduled)

    def _audit_drain_scheduled(self) -> None:
        with self._audit_qlock:
            self._audit_scheduled = False
        self._audit_drain()

    def _audit_drain(self) -> bool:
        """Write every queued audit record (one lock, write and fsync); False if some remain queued or
        were written without a successful fsync since the previous call (reported once)."""
        with self._audit_io_lock:
            with self._audit_qlock:
                batch = list(self._audit_queue)
                self._audit_queue.clear()
            if not batch:
                return self._audit_durable_since_last()
            try:
                self._audit_chain().append_many(batch)
            except (OSError, ValueError) as exc:
                with self._audit_qlock:
                    self._audit_queue.extendleft(reversed(batch))
                    while len(self._audit_queue) > AUDIT_QUEUE_MAX:
                        self._audit_queue.pop()
                        self.compliance_stats["audit_records_dropped"] += 1
                self.compliance_stats["audit_write_failures"] += 1
                self.compliance_stats["audit_last_error"] = str(exc)
                logger.error("audit append failed (kept for retry): %s", exc)
                return False
            self.compliance_stats["audit_records_written"] += len(batch)
            return self._audit_durable_since_last()

    def _audit_durable_since_last(self) -> bool:
        w = self._audit_writer
        seen = self.compliance_stats.get("audit_durability_failures", 0)
        if w is None or w.durability_failures <= seen:
            return True
        self.compliance_stats["audit_durability_failures"] = w.durability_failures
        return False

    def _audit_many_now(self, entries: list[dict[str, Any]]) -> None:
        """Append already-shaped entries now (raises on failure: retention must not delete unaudited)."""
        now = ff_iso(self.clock.now())
        shaped = [{"timestamp": now, "writer": self.store.writer_id, **e} for e in entries]
        self._audit_drain()
        with self._audit_io_lock:
            self._audit_chain().append_many(shaped)
            self.compliance_stats["audit_records_written"] += len(shaped)

    def _close(self) -> None:
        self._audit_drain()
        if self._audit_executor is not None:
            self._audit_executor.shutdown(wait=True)
            self._audit_executor = None
            self._audit_drain()
        if self._audit_writer is not None:
            try:
                self._audit_writer.write_checkpoint()
            except OSError as exc:
                logger.error("audit checkpoint on close failed: %s", exc)
            self._audit_writer.close()

    # ------------------------------------------------------------------ events
    def _event(self, stream: str, kind: str, fields: dict[str, Any], **head: Any) -> bool:
        ff_validate_name(kind, "kind")
        bad = _RESERVED_EVENT_FIELDS.intersection(fields)
        if bad:
            raise ValueError(f"fields: {sorted(bad)} are set by the manager")
        for k, v in fields.items():
            if v is None or type(v) in _JSON_SCALARS:
                continue
            try:
                ff_dumps(v)
            except TypeError as exc:
                raise TypeError(f"fields[{k!r}]: must be JSON serializable ({exc})") from None
        rec = {"timestamp": ff_iso(self.clock.now()), "kind": kind, **head, **fields}
        return bool(self.store.append(stream, rec))

    def record_privacy_event(self, kind: str, **fields: Any) -> bool:
        """Append a privacy event (consent, opt-out, access/erasure request, ...) to ``privacy_events``."""
        ok = self._event("privacy_events", kind, fields)
        self.compliance_stats["privacy_events"] += 1
        return ok

    def record_security_event(self, kind: str, severity: str = "warning", source: str = "host", **fields: Any) -> bool:
        """Append a security event (failed login, permission denied, ...) to ``security_events``."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity: must be one of {SEVERITIES}, got {severity!r}")
        if not isinstance(source, str) or not source or len(source) > 128:
            raise ValueError(f"source: expected a non-empty str of at most 128 characters, got {source!r:.80}")
        ok = self._event("security_events", kind, fields, severity=severity, source=source)
        self.compliance_stats["security_events"] += 1
        log = logger.warning if severity in ("info", "warning") else logger.error
        log("security event %s (%s) from %s: %s", kind, severity, source, fields)
        return ok

    def checked_name(self, name: Any, what: str = "name", source: str = "manager") -> str:
        """``ff_validate_name`` that records a rejected unsafe name as a security event, then re-raises."""
        try:
            return ff_validate_name(name, what)
        except (ValueError, TypeError):
            # The rejected value itself may carry PII (an email passed as a metric name): keep only a
            # digest and its length, enough to correlate repeated attempts.
            raw = repr(name).encode("utf-8", "backslashreplace")
            self.record_security_event(
                "unsafe_name_rejected", severity="warning", source=source, what=what,
                value_sha256=hashlib.sha256(raw).hexdigest()[:16], value_length=len(raw),
            )
            raise

    # ------------------------------------------------------------------ verification
    def verify_audit_log_sync(self, checkpoint_path: str | None = None) -> Any:
        """Verify the chain (``FFAuditVerificationDTO``); a tampered log is also a security event."""
        _check_checkpoint_path(checkpoint_path)
        self._audit_drain()
        self._audit_chain()
        assert self._audit_key is not None
        res = FFAuditVerifier(self.analytics_path, self._audit_key, checkpoint_path=checkpoint_path,
                              clock=self.clock).verify()
        self.compliance_stats["last_verification"] = {
            "kind": res.kind, "ok": res.ok, "tampered": res.tampered, "records": res.records,
            "first_bad_seq": res.first_bad_seq, "verified_at": res.verified_at,
        }
        if res.tampered:
            self.record_security_event(
                "audit_verification_failed", severity="critical", source="manager",
                fault=res.kind, first_bad_seq=res.first_bad_seq, file=res.file, line=res.line, message=res.message,
            )
        elif res.kind == "torn_tail":
            logger.warning("audit log ends in a torn record (crash); the next append repairs it")
        return res

    async def verify_audit_log(self, checkpoint_path: str | None = None) -> Any:
        """``verify_audit_log_sync`` off the event loop."""
        _check_checkpoint_path(checkpoint_path)
        return await asyncio.to_thread(self.verify_audit_log_sync, checkpoint_path)

    # ------------------------------------------------------------------ retention / compression
    def _retention_manager(self) -> FFRetentionManager:
        return FFRetentionManager(self.store, self._privacy_cfg, clock=self.clock,
                                  audit_many=self._audit_many_now, chain_writer=self._audit_chain())

    def run_retention_cleanup_sync(self, dry_run: bool = False) -> Any:
        """Delete partitions past retention (each audited); ``dry_run`` only lists them."""
        _check_dry_run(dry_run)
        self.store.flush()
        rep = self._retention_manager().run(dry_run=dry_run)
        self.compliance_stats["last_cleanup"] = {
            "at": rep.today, "dry_run": dry_run, "deleted": rep.deleted, "candidates": len(rep.candidates),
            "errors": len(rep.errors),
        }
        return rep

    async def run_retention_cleanup(self, dry_run: bool = False) -> Any:
        _check_dry_run(dry_run)
        return await asyncio.to_thread(self.run_retention_cleanup_sync, dry_run)

    def run_compression_sync(self, dry_run: bool = False) -> Any:
        """Compact partitions older than ``compression_age_days`` into gzip; audited when it did work."""
        _check_dry_run(dry_run)
        comp = FFPartitionCompressor(self.store, compression_age_days=int(self.config.compression_age_days),
                                     clock=self.clock)
        rep = comp.run(dry_run=dry_run)
        self.compliance_stats["last_compression"] = rep.to_dict()
        if not dry_run and (rep.partitions_compacted or rep.errors):
            self.audit(
                "compress_partitions",
                target="analytics",
                outcome="success" if not rep.errors else "partial",
                actor="maintenance",
                partitions=rep.partitions_compacted,
                records=rep.records,
                bytes_before=rep.bytes_before,
                bytes_after=rep.bytes_after,
                errors=len(rep.errors),
            )
            self._audit_drain()
        return rep

    async def run_compression(self, dry_run: bool = False) -> Any:
        _check_dry_run(dry_run)
        return await asyncio.to_thread(self.run_compression_sync, dry_run)

    def _maintenance_sync(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cleanup": self.run_retention_cleanup_sync().to_dict()}
        if self.config.enable_data_compression:
            out["compression"] = self.run_compression_sync().to_dict()
        return out

    async def _maintenance_job(self) -> dict[str, Any]:
        """The collection loop's periodic job: retention cleanup, then compression."""
        return await asyncio.to_thread(self._maintenance_sync)

    # ------------------------------------------------------------------ regulatory report
    def generate_regulatory_report_sync(self, pseudonymization: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write ``compliance/regulatory_reports.json`` atomically and return it.

        ``pseudonymization`` (the privacy engine's ``pseudonymization_info()``) fills that section.
        """
        self.hub.flush()
        verification = self.verify_audit_log_sync()
        report = build_regulatory_report(
            store=self.store,
            privacy_config=self._privacy_cfg,
            retention=self._retention_manager(),
            verification=verification,
            clock=self.clock,
            environment=self.environment,
            pseudonymization=pseudonymization,
        )
        path = write_regulatory_report(self.analytics_path, report)
        self.audit("regulatory_report", target=str(path), actor="compliance", audit_status=verification.kind)
        self._audit_drain()
        return report

    async def generate_regulatory_report(self, pseudonymization: dict[str, Any] | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self.generate_regulatory_report_sync, pseudonymization)
