"""Opt-out and consent state shared by every process of a store.

Persisted as an append-only JSONL log ``<base>/privacy_state/consent.jsonl`` (outside the per-day
partitions; keyed by the user's pseudonym, never the raw id). A change is appended under an
inter-process lock and fsynced before the call returns, so it is effective immediately in the calling
process. Other processes pick it up on their next refresh: the hot path checks a monotonic deadline
per event and, at most every ``consent_refresh_seconds`` (default 2 s), ``stat``s the log and reads
only the appended bytes. **Bound: a change takes effect in every other process within
``consent_refresh_seconds`` plus the time to the next event they record.**
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_privacy.ff_privacy_state_log import FFPrivacyStateLog

logger = get_logger(__name__)

STATE_DIRNAME = "privacy_state"
CONSENT_FILENAME = "consent.jsonl"
DEFAULT_REFRESH_SECONDS = 2.0


class FFConsentRegistry:
    """In-memory sets ``opted_out`` / ``consented`` for O(1) checks, backed by the shared log."""

    def __init__(
        self,
        base_path: str | os.PathLike[str],
        clock: FFClock | None = None,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        writer_id: str = "",
    ) -> None:
        if isinstance(refresh_seconds, bool) or not isinstance(refresh_seconds, (int, float)) or refresh_seconds < 0:
            raise ValueError(f"consent_refresh_seconds: must be a number >= 0, got {refresh_seconds!r}")
        self.path = Path(base_path) / STATE_DIRNAME / CONSENT_FILENAME
        self.log = FFPrivacyStateLog(self.path)
        self.clock = clock or FFClock()
        self.refresh_seconds = float(refresh_seconds)
        self.writer_id = writer_id
        self.opted_out: set[str] = set()
        self.consented: set[str] = set()
        self.state: dict[str, dict[str, Any]] = {}
        self.next_refresh = 0.0
        self._lock = threading.Lock()
        self.refresh_failures = 0

    def after_fork(self, writer_id: str) -> None:
        """Child of ``os.fork()``: new writer id and lock (a lock held by a parent thread stays held)."""
        self._lock = threading.Lock()
        self.writer_id = writer_id

    # ------------------------------------------------------------------ reading
    @staticmethod
    def _apply(
        rec: Any, state: dict[str, dict[str, Any]], opted_out: set[str], consented: set[str]
    ) -> None:
        if not isinstance(rec, dict):
            return
        h = rec.get("h")
        if not isinstance(h, str):
            return
        if rec.get("forget"):
            state.pop(h, None)
            opted_out.discard(h)
            consented.discard(h)
            return
        st = state.setdefault(h, {})
        if "opt_out" in rec:
            st["opt_out"] = bool(rec["opt_out"])
            (opted_out.add if st["opt_out"] else opted_out.discard)(h)
        if "consent" in rec:
            st["consent"] = bool(rec["consent"])
            (consented.add if st["consent"] else consented.discard)(h)
        st["updated_at"] = rec.get("at", "")

    def refresh(self) -> bool:
        """Read changes other processes appended; True when something was read. I/O faults contained.

        After a compaction (reset) the view is rebuilt into new objects and swapped in, so a reader
        on another thread never sees a half-built (e.g. empty) opt-out set.
        """
        with self._lock:
            try:
                reset, recs = self.log.read_new()
            except OSError as exc:
                self.refresh_failures += 1
                logger.warning("consent refresh failed: %s", exc)
                return False
            if reset:
                state: dict[str, dict[str, Any]] = {}
                opted: set[str] = set()
                consented: set[str] = set()
                for r in recs:
                    self._apply(r, state, opted, consented)
                self.state, self.opted_out, self.consented = state, opted, consented
            else:
                for r in recs:
                    self._apply(r, self.state, self.opted_out, self.consented)
            return bool(recs) or reset

    def maybe_refresh(self) -> None:
        """Hot path: refresh only when the deadline passed and the log changed (one stat per period)."""
        now = self.clock.monotonic()
        if now < self.next_refresh:
            return
        self.next_refresh = now + self.refresh_seconds
        try:
            changed = self.log.changed()
        except OSError:
            changed = False
        if changed:
            self.refresh()

    def allowed(self, user_hash: str, require_consent: bool) -> tuple[bool, str]:
        """``(allowed, reason)`` for storing an event of ``user_hash``."""
        if user_hash in self.opted_out:
            return False, "opt_out"
        if require_consent and user_hash not in self.consented:
            return False, "no_consent"
        return True, ""

    def get(self, user_hash: str) -> dict[str, Any]:
        return dict(self.state.get(user_hash, {}))

    # ------------------------------------------------------------------ changes (sync; call off the loop)
    def _change(self, rec: dict[str, Any]) -> dict[str, Any]:
        rec["at"] = ff_iso(self.clock.now())
        rec["w"] = self.writer_id
        self.log.append([rec])  # raises OSError: a consent change that is not persisted must not be acked
        with self._lock:
            self._apply(rec, self.state, self.opted_out, self.consented)
        return rec

    def set_opt_out(self, user_hash: str, opted_out: bool) -> dict[str, Any]:
        return self._change({"h": user_hash, "opt_out": bool(opted_out)})

    def set_consent(self, user_hash: str, granted: bool) -> dict[str, Any]:
        return self._change({"h": user_hash, "consent": bool(granted)})

    def forget(self, user_hash: str, keep_objection: bool = True) -> bool:
        """Erasure: drop the user's history from the log (atomic rewrite).

        With ``keep_objection`` an active opt-out or a withdrawn consent survives as one line, so the
        objection keeps being honoured (GDPR Art. 17(3)/21). Returns True when an entry was retained.
        """
        with self._lock:
            st = dict(self.state.get(user_hash, {}))
        retained = bool(keep_objection and (st.get("opt_out") or st.get("consent") is False))

        def build(records: list[Any]) -> list[Any]:
            out = [r for r in records if not (isinstance(r, dict) and r.get("h") == user_hash)]
            if retained:
                line: dict[str, Any] = {"h": user_hash, "at": ff_iso(self.clock.now()), "w": self.writer_id}
                if st.get("opt_out"):
                    line["opt_out"] = True
                if st.get("consent") is False:
                    line["consent"] = False
                out.append(line)
            return out

        self.log.rewrite(build)
        self.refresh()
        return retained
