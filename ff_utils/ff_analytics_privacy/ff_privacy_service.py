"""The privacy engine of the manager: pseudonymized user analytics, consent, access, erasure.

The work lives in engine modules: ``ff_user_event_pipeline`` (validation, controls, mapping,
scrubbing), ``ff_privacy_pseudonymizer`` (keyed HMAC), ``ff_consent_registry``, ``ff_user_index``
and ``ff_user_erasure``. See docs/privacy.md.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_lifecycle_hub import FFLifecycleHub
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_privacy.ff_consent_registry import FFConsentRegistry
from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import (
    HASH_HEX_CHARS,
    FFPseudonymizer,
    ff_load_or_create_key,
)
from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import METHOD as PSEUDONYM_METHOD
from ff_utils.ff_analytics_privacy.ff_user_erasure import FFUserDataEraser
from ff_utils.ff_analytics_privacy.ff_user_event_pipeline import MAX_ID, FFUserEventPipeline
from ff_utils.ff_analytics_privacy.ff_user_index import FFUserIndex
from ff_utils.ff_analytics_store.ff_stream_store import STREAM_CATEGORY, FFStreamStore

logger = get_logger(__name__)



class FFPrivacyService:
    """User events under the privacy controls, consent and opt-out, subject access and erasure.

    The pipeline (key, consent registry, user index) is set up lazily, off the event loop, on first
    use. Every stored event is published on the hub (``publish_user_event``: the rollups observe it);
    an erasure runs the hub's erasure observers. Privacy events and audit entries go through the
    ``privacy_event`` and ``audit`` callables (the compliance engine's).
    """

    def __init__(
        self,
        store: FFStreamStore,
        clock: FFClock,
        config: FFAnalyticsConfigDTO,
        hub: FFLifecycleHub,
        *,
        base_path: Path,
        audit: Callable[..., None],
        privacy_event: Callable[..., Any],
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.hub = hub
        self.base_path = Path(base_path)
        self.audit = audit
        self._record_privacy_event = privacy_event
        self._privacy_pipeline: FFUserEventPipeline | None = None
        self._privacy_bg_task: asyncio.Task[Any] | None = None
        self._privacy_setup_lock = threading.Lock()
        self._privacy_state_flushing = False
        self._privacy_next_state_flush = 0.0
        self._privacy_setup_retry_at = 0.0
        self._privacy_setup_failures = 0
        refresh = config.consent_refresh_seconds
        if isinstance(refresh, bool) or not isinstance(refresh, (int, float)) or refresh < 0:
            raise ValueError(f"consent_refresh_seconds: must be a number >= 0, got {refresh!r}")
        self._privacy_refresh_seconds = float(refresh)
        hub.add_flush_hook(self._privacy_flush_state)
        hub.add_close_hook(self._privacy_flush_state)
        hub.add_fork_hook(self._privacy_after_fork)
        hub.add_shutdown_hook(self._await_background)
        if self._privacy_refresh_seconds > 0:
            hub.register_periodic_job(
                "privacy_state", max(self._privacy_refresh_seconds, 0.5), self._privacy_periodic
            )

    # ------------------------------------------------------------------ engines
    @property
    def refresh_seconds(self) -> float:
        """How stale another process's consent/opt-out change may be (``consent_refresh_seconds``)."""
        return self._privacy_refresh_seconds

    @property
    def pipeline(self) -> FFUserEventPipeline | None:
        """The event pipeline once set up (None before the first use)."""
        return self._privacy_pipeline

    @property
    def pseudonymizer(self) -> FFPseudonymizer | None:
        """The keyed pseudonymizer once set up (None before the first use)."""
        p = self._privacy_pipeline
        return None if p is None else p.pseudonymizer

    def pseudonymization_info(self) -> dict[str, Any]:
        """How user ids are pseudonymized (for the regulatory report); the key source once set up."""
        p = self._privacy_pipeline
        return {"method": PSEUDONYM_METHOD, "pseudonym_bits": HASH_HEX_CHARS * 4,
                "key_source": "" if p is None else str(p.pseudonymizer.source)}

    async def _await_background(self) -> None:
        """Shutdown hook: let a background state write finish."""
        bg = self._privacy_bg_task
        if bg is not None and not bg.done():
            await asyncio.gather(bg, return_exceptions=True)

    def _privacy_setup_sync(self, create_key: bool = True) -> FFUserEventPipeline:
        with self._privacy_setup_lock:
            if self._privacy_pipeline is not None:
                return self._privacy_pipeline
            pc = self.config.privacy_config
            key, source = ff_load_or_create_key(self.base_path, pc, create=create_key)
            writer = self.store.writer_id
            consent = FFConsentRegistry(self.base_path, self.clock, self._privacy_refresh_seconds, writer)
            index = FFUserIndex(
                self.base_path,
                writer,
                power_min_sessions=pc.user_segment_power_min_sessions,
                casual_max_sessions=pc.user_segment_casual_max_sessions,
            )
            consent.refresh()
            index.load()
            self._privacy_pipeline = FFUserEventPipeline(
                self.config, FFPseudonymizer(key, source), consent, index, self.clock
            )
            return self._privacy_pipeline

    async def _privacy(self, create_key: bool = True) -> Any:
        p = self._privacy_pipeline
        if p is None:
            p = await asyncio.to_thread(self._privacy_setup_sync, create_key)
        return p

    async def _privacy_for_record(self) -> Any:
        """The pipeline for the record path: an I/O fault while setting it up (key or state files)
        is logged and counted, retried at most every 5 s, and never raised into the host."""
        now = self.clock.monotonic()
        if now < self._privacy_setup_retry_at:
            return None
        try:
            return await self._privacy()
        except OSError as exc:
            self._privacy_setup_failures += 1
            self._privacy_setup_retry_at = now + 5.0
            logger.error("user analytics unavailable (privacy setup failed, retry in 5 s): %s", exc)
            return None

    def _privacy_after_fork(self) -> None:
        """Child of ``os.fork()``: the parent persists its own index deltas; fresh locks here."""
        self._privacy_setup_lock = threading.Lock()
        self._privacy_state_flushing = False
        self._privacy_bg_task = None
        p = self._privacy_pipeline
        if p is not None:
            p.index.after_fork(self.store.writer_id)
            p.consent.after_fork(self.store.writer_id)

    @property
    def privacy_stats(self) -> dict[str, Any]:
        """Counters of the privacy pipeline (accepted, stored, and drops by reason)."""
        p = self._privacy_pipeline
        if p is None:
            return {"setup_failures": self._privacy_setup_failures} if self._privacy_setup_failures else {}
        out: dict[str, Any] = p.stats.to_dict()
        out["scrubbed_values"] = p.scrubber.scrubbed_values
        out["dropped_property_keys"] = p.scrubber.dropped_keys
        out["index_users"] = len(p.index.entries)
        out["index_flush_failures"] = p.index.flush_failures
        out["consent_refresh_failures"] = p.consent.refresh_failures
        out["setup_failures"] = self._privacy_setup_failures
        return out

    def _privacy_flush_state(self) -> bool:
        """Persist the user-index deltas; False when they are kept for retry (I/O fault)."""
        p = self._privacy_pipeline
        return True if p is None else bool(p.index.flush())

    async def _privacy_periodic(self) -> None:
        p = self._privacy_pipeline
        if p is not None:
            await asyncio.to_thread(self._privacy_state_job, p)

    def _privacy_state_job(self, p: Any) -> None:
        try:
            p.index.flush()
            p.consent.refresh()
        except Exception:  # a background job must never die silently nor raise into the loop
            logger.exception("privacy state job failed")
        finally:
            self._privacy_state_flushing = False

    def _privacy_maybe_persist(self, p: Any) -> None:
        """Persist index deltas in the background at most every ``consent_refresh_seconds``."""
        now = self.clock.monotonic()
        if now < self._privacy_next_state_flush:
            return
        self._privacy_next_state_flush = now + max(self._privacy_refresh_seconds, 0.5)
        if self._privacy_refresh_seconds <= 0 or self._privacy_state_flushing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._privacy_state_flushing = True
        task = loop.create_task(asyncio.to_thread(self._privacy_state_job, p))
        self._privacy_bg_task = task  # keep a reference until it finishes

    # ------------------------------------------------------------------ recording
    async def record_user_analytics(
        self, user_id: str, session_id: str, event_type: str, event_data: dict[str, Any]
    ) -> bool:
        """Record one user event under the privacy controls.

        Returns True when the event was stored or deliberately not stored (analytics disabled,
        opt-out, no consent, do-not-track, sampled out; counted in ``privacy_stats``), False when
        the store dropped it (buffer full) or an internal fault occurred (logged). Caller bugs raise
        ``ValueError``/``TypeError`` naming the argument.
        """
        if self.hub.resume_pending:
            self.hub.resume_if_forked()
        p = self._privacy_pipeline or await self._privacy_for_record()
        if p is None:
            FFUserEventPipeline.validate(user_id, session_id, event_type, event_data)  # caller bugs still raise
            return False
        stream, rec = p.process(user_id, session_id, event_type, event_data)
        if stream is None:
            return True
        try:
            ok = self.store.append(stream, rec)
        except Exception as exc:  # I/O and closed-store faults are contained
            logger.error("record_user_analytics: store append failed: %s", exc)
            p.stats.store_dropped += 1
            return False
        if ok:
            p.stats.stored += 1
            for obs in self.hub.user_event_observers:  # the rollups count exactly what was stored
                try:
                    obs(rec)
                except Exception:
                    p.stats.hook_failures += 1
                    logger.exception("user event observer %r failed", obs)
        else:
            p.stats.store_dropped += 1
        if p.monotonic() >= self._privacy_next_state_flush:
            self._privacy_maybe_persist(p)
        return ok

    async def record_user_events(self, events: Iterable[Any]) -> int:
        """Batch form for bulk producers; returns the number of events stored.

        Each item is ``(user_id, session_id, event_type, event_data)`` or a dict with those keys.
        A bad item raises ``ValueError``/``TypeError`` naming ``events[i]`` and nothing of the
        batch is recorded (no record, no user-index change, no counter).
        """
        if isinstance(events, (str, bytes, dict)) or not isinstance(events, Iterable):
            raise TypeError(f"events: expected an iterable of events, got {type(events).__name__}")
        p = self._privacy_pipeline or await self._privacy_for_record()
        if p is None:
            FFUserEventPipeline.validate_batch(events)  # caller bugs still raise
            return 0
        by_stream = p.process_batch(events)
        stored = 0
        forms = self.hub.user_event_batch_forms
        observers = [(obs, forms.get(obs)) for obs in self.hub.user_event_observers]
        for stream, recs in by_stream.items():
            try:
                n = self.store.append_many(stream, recs)
            except Exception as exc:
                logger.error("record_user_events: store append failed: %s", exc)
                n = 0
            stored += n
            p.stats.store_dropped += len(recs) - n
            if n:  # the rollups count exactly what was stored
                for obs, batch_obs in observers:
                    if batch_obs is not None:
                        try:
                            batch_obs(recs)
                            continue
                        except Exception:
                            p.stats.hook_failures += 1
                            logger.exception("user event batch observer %r failed", batch_obs)
                            continue
                    for rec in recs:
                        try:
                            obs(rec)
                        except Exception:
                            p.stats.hook_failures += 1
                            logger.exception("user event observer %r failed", obs)
        p.stats.stored += stored
        self._privacy_maybe_persist(p)
        return stored

    # ------------------------------------------------------------------ consent
    async def _privacy_event(self, kind: str, **fields: Any) -> None:
        try:
            res = self._record_privacy_event(kind, **fields)
            if inspect.isawaitable(res):
                await res
        except Exception:
            logger.exception("privacy event %s could not be recorded", kind)

    async def _privacy_for_change(self, action: str) -> Any:
        """The pipeline for a consent/opt-out change, or None (logged, audited) when the key or the
        state files cannot be set up (I/O fault): the change is not persisted and the call says so."""
        try:
            return await self._privacy()
        except OSError as exc:
            self._privacy_setup_failures += 1
            logger.error("%s: privacy state unavailable, nothing changed: %s", action, exc)
            self.audit(action, outcome="failure", error=str(exc))
            return None

    @staticmethod
    def _check_user(user_id: Any) -> str:
        if type(user_id) is not str:
            raise TypeError(f"user_id: expected str, got {type(user_id).__name__}")
        if not user_id or len(user_id) > MAX_ID:
            raise ValueError(f"user_id: must be a non-empty str of at most {MAX_ID} characters")
        return user_id

    async def set_user_opt_out(self, user_id: str, opted_out: bool = True) -> bool:
        """Persist a user's opt-out (or opt back in); True when persisted and honoured.

        Effective at once in this process and within ``consent_refresh_seconds`` in others sharing
        the store. With ``allow_user_opt_out=False`` nothing is stored and False is returned.
        """
        self._check_user(user_id)
        if not isinstance(opted_out, bool):
            raise TypeError(f"opted_out: expected bool, got {type(opted_out).__name__}")
        p = await self._privacy_for_change("set_user_opt_out")
        if p is None:
            return False
        ref = p.pseudonymizer.subject_ref(user_id)
        if not p.allow_opt_out:
            await self._privacy_event("opt_out_not_supported", subject_ref=ref, requested=opted_out)
            self.audit("set_user_opt_out", target=ref, outcome="rejected", reason="allow_user_opt_out=false")
            return False
        h = p.pseudonymizer.user_hash(user_id)
        try:
            await asyncio.to_thread(p.consent.set_opt_out, h, opted_out)
        except OSError as exc:
            logger.error("set_user_opt_out: could not persist: %s", exc)
            self.audit("set_user_opt_out", target=ref, outcome="failure", error=str(exc))
            return False
        kind = "opt_out" if opted_out else "opt_in"
        await self._privacy_event(kind, subject_ref=ref, opted_out=opted_out)
        self.audit("set_user_opt_out", target=ref, opted_out=opted_out)
        return True

    async def record_consent(self, user_id: str, granted: bool) -> bool:
        """Persist a user's explicit consent (granted or withdrawn); True when persisted."""
        self._check_user(user_id)
        if not isinstance(granted, bool):
            raise TypeError(f"granted: expected bool, got {type(granted).__name__}")
        p = await self._privacy_for_change("record_consent")
        if p is None:
            return False
        ref = p.pseudonymizer.subject_ref(user_id)
        h = p.pseudonymizer.user_hash(user_id)
        try:
            await asyncio.to_thread(p.consent.set_consent, h, granted)
        except OSError as exc:
            logger.error("record_consent: could not persist: %s", exc)
            self.audit("record_consent", target=ref, outcome="failure", error=str(exc))
            return False
        await self._privacy_event("consent_granted" if granted else "consent_withdrawn", subject_ref=ref)
        self.audit("record_consent", target=ref, granted=granted)
        return True

    # ------------------------------------------------------------------ access and erasure
    def _privacy_needles(self, p: Any, user_id: str) -> frozenset[str]:
        needles = {p.pseudonymizer.user_hash(user_id)}
        if p.raw_ids:
            needles.add(user_id)
        return frozenset(needles)

    async def export_user_data(self, user_id: str) -> dict[str, Any]:
        """Every stored record of ``user_id`` across all streams and partitions (GDPR Art. 15).

        Raises ``ValueError`` (naming ``privacy_config.key_file``) when the store has no pseudonym key.
        """
        self._check_user(user_id)
        p = await self._privacy(create_key=False)
        h = p.pseudonymizer.user_hash(user_id)
        ref = p.pseudonymizer.subject_ref(user_id)
        await self.hub.aflush()

        def work() -> dict[str, Any]:
            return FFUserDataEraser(self.store).export(self._privacy_needles(p, user_id), subject_ref=ref)

        result = await asyncio.to_thread(work)
        total = sum(len(v) for s, v in result["records"].items() if STREAM_CATEGORY.get(s, "compliance") != "compliance")
        compliance = sum(len(v) for s, v in result["records"].items() if STREAM_CATEGORY.get(s) == "compliance")
        out = {
            "user_hash": h,
            "subject_ref": ref,
            "exported_at": ff_iso(self.clock.now()),
            "user_index": p.index.get(h),
            "consent": p.consent.get(h),
            "total_records": total,
            "compliance_records": compliance,
            **result,
            "explanation": [] if total else self._explain_no_records(p, h, result),
        }
        await self._privacy_event("access_request", subject_ref=ref, records=total)
        self.audit("export_user_data", target=ref, records=total)
        return out

    def _explain_no_records(self, p: Any, user_hash: str, result: dict[str, Any]) -> list[str]:
        """Why an export found no analytics record: each reason the store itself can show."""
        reasons: list[str] = []
        for ev in result.get("records", {}).get("privacy_events", []):
            if ev.get("kind") == "erasure_completed":
                reasons.append(f"erased on {str(ev.get('timestamp', ''))[:10]} (erase_user_data removed its records "
                               f"from every partition; outcome {ev.get('outcome', '?')})")
        consent = p.consent.get(user_hash)
        if consent.get("opt_out"):
            reasons.append(f"opted out on {str(consent.get('updated_at', ''))[:10]}: no event is recorded while opted out")
        if consent.get("consent") is False:
            reasons.append(f"consent withdrawn on {str(consent.get('updated_at', ''))[:10]}: no event is recorded without consent")
        seen = p.index.get(user_hash)
        retention = self.config.privacy_config.raw_data_retention_days
        if seen:
            reasons.append(f"seen from {seen.get('first_seen')} to {seen.get('last_seen')}, but no raw record remains: "
                           f"raw partitions older than raw_data_retention_days ({retention}) are deleted by retention")
        elif not reasons:
            reasons.append("never seen under this store's pseudonym key: no event of this id was recorded in this "
                           "store (another store or key file, a different spelling of the id, or events dropped by "
                           "sampling, do-not-track or a disabled analytics level)")
        return reasons

    async def erase_user_data(self, user_id: str) -> dict[str, Any]:
        """Remove ``user_id``'s records from every partition, the user index and rollups (Art. 17).

        Each partition file is rewritten atomically; other users' records stay byte-identical.
        The request and its counts go to ``privacy_events`` and the audit log (by ``subject_ref``).
        """
        self._check_user(user_id)
        p = await self._privacy(create_key=False)
        h = p.pseudonymizer.user_hash(user_id)
        ref = p.pseudonymizer.subject_ref(user_id)
        await self._privacy_event("erasure_requested", subject_ref=ref)
        await self.hub.aflush()
        needles = self._privacy_needles(p, user_id)

        def work() -> dict[str, Any]:
            counts = FFUserDataEraser(self.store).erase(needles)
            counts["rollups"] = self.hub.erase_user(h)
            counts["user_index_removed"] = p.index.forget(h)
            counts["consent_objection_retained"] = p.consent.forget(h)
            p.pseudonymizer.forget(user_id)
            return counts

        try:
            counts = await asyncio.to_thread(work)
        except OSError as exc:
            logger.error("erase_user_data failed: %s", exc)
            await self._privacy_event("erasure_failed", subject_ref=ref, error=str(exc))
            self.audit("erase_user_data", target=ref, outcome="failure", error=str(exc))
            raise
        outcome = "success" if not counts["errors"] else "partial"
        await self._privacy_event(
            "erasure_completed",
            subject_ref=ref,
            outcome=outcome,
            records_removed=counts["records_removed_total"],
            files_rewritten=counts["files_rewritten"],
            partitions_touched=counts["partitions_touched"],
        )
        self.audit(
            "erase_user_data",
            target=ref,
            outcome=outcome,
            records_removed=counts["records_removed_total"],
            files_rewritten=counts["files_rewritten"],
            partitions_touched=counts["partitions_touched"],
        )
        return {"user_hash": h, "subject_ref": ref, "outcome": outcome, **counts}
