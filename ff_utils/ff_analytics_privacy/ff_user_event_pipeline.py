"""The privacy pipeline of one user event: validate -> controls -> pseudonymize -> map -> scrub -> index.

Event types and their streams (documented in docs/privacy.md):

=====================  ====================  =============================================
event_type             stream                event_data keys mapped onto FFUserAnalyticsDTO
=====================  ====================  =============================================
session_start          session_analytics     time_to_first_action
session_end            session_analytics     duration, actions, quality_score, pages, bounce_rate
feature_usage          feature_usage         features (list) / feature, frequency, adoption_rate
content_interaction    behavior_patterns     messages, documents, tools, searches
page_view              behavior_patterns     pages (default 1)
conversion             engagement_metrics    conversion / conversion_events
satisfaction           engagement_metrics    rating (0..10)
=====================  ====================  =============================================

Every type also maps user_agent (reduced to family/platform), platform, language, timezone and
usage_pattern. Other keys go to ``properties`` after PII scrubbing. ``do_not_track`` is consumed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

from ff_class_configs.ff_analytics_configs.ff_analytics_entities_config import FFUserAnalyticsDTO
from ff_utils.ff_analytics_core.ff_clock import FFClock
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_privacy.ff_consent_registry import FFConsentRegistry
from ff_utils.ff_analytics_privacy.ff_identifier_guard import FFIdentifierGuard
from ff_utils.ff_analytics_privacy.ff_pii_scrubber import FFPIIScrubber
from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import FFPseudonymizer
from ff_utils.ff_analytics_privacy.ff_user_index import FFUserIndex

logger = get_logger(__name__)

EVENT_STREAMS: dict[str, str] = {
    "session_start": "session_analytics",
    "session_end": "session_analytics",
    "feature_usage": "feature_usage",
    "content_interaction": "behavior_patterns",
    "page_view": "behavior_patterns",
    "conversion": "engagement_metrics",
    "satisfaction": "engagement_metrics",
}
USER_STREAMS = ("session_analytics", "feature_usage", "engagement_metrics", "behavior_patterns")
_DNT_STRINGS = frozenset({"1", "true", "True", "TRUE", "yes", "on"})


def _dnt(v: Any) -> bool:
    """``do_not_track`` truthiness as browsers and hosts send it (True, 1, "1", "true", "yes")."""
    if v is True or (type(v) is int and v == 1):
        return True
    return type(v) is str and v.strip() in _DNT_STRINGS
MAX_STR = 256
_INF = float("inf")
_TUPLE_ONLY = frozenset({tuple})
_FOUR_ONLY = frozenset({4})
_STR_ONLY = frozenset({str})
_DICT_ONLY = frozenset({dict})
MAX_ID = 1024
_DIGITS3 = tuple(f"{i:03d}" for i in range(1000))

# event_data key -> (DTO field, kind)
_COMMON = {
    "user_agent": ("user_agent", "ua"),
    "platform": ("platform", "str"),
    "language": ("language", "str"),
    "timezone": ("timezone", "str"),
    "usage_pattern": ("usage_pattern", "str"),
}
_BY_TYPE: dict[str, dict[str, tuple[str, str]]] = {
    "session_start": {"time_to_first_action": ("time_to_first_action_seconds", "int")},
    "session_end": {
        "duration": ("session_duration_seconds", "int"),
        "actions": ("actions_performed", "int"),
        "quality_score": ("session_quality_score", "float"),
        "pages": ("pages_viewed", "int"),
        "bounce_rate": ("bounce_rate", "float"),
    },
    "feature_usage": {
        "features": ("features_used", "strlist"),
        "feature": ("features_used", "str1"),
        "frequency": ("interaction_frequency", "float"),
        "adoption_rate": ("feature_adoption_rate", "float"),
    },
    "content_interaction": {
        "messages": ("messages_sent", "int"),
        "documents": ("documents_processed", "int"),
        "tools": ("tools_executed", "int"),
        "searches": ("searches_performed", "int"),
    },
    "page_view": {"pages": ("pages_viewed", "int")},
    "conversion": {"conversion": ("conversion_events", "str1"), "conversion_events": ("conversion_events", "strlist")},
    "satisfaction": {"rating": ("satisfaction_rating", "rating")},
}
MAPPINGS: dict[str, dict[str, tuple[str, str]]] = {t: {**_COMMON, **m} for t, m in _BY_TYPE.items()}
CUSTOM_EVENT_MAPPING: dict[str, tuple[str, str]] = dict(_COMMON)
"""A free-form event maps the common keys (user agent, platform, ...); all others are properties."""
CUSTOM_EVENT_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
"""Event names beyond the seed's types: lower-case snake case, at most 64 characters."""
CUSTOM_EVENT_STREAM = "behavior_patterns"
"""Where a free-form event goes unless ``custom_event_streams`` names another user stream."""
_CUSTOM_EVENT_RE = re.compile(CUSTOM_EVENT_PATTERN)


RECORD_FIELDS: tuple[str, ...] = (
    *(f for f in FFUserAnalyticsDTO.__dataclass_fields__ if f not in ("event_type", "properties")),
    "event_type",
    "properties",
)
"""A stored user record: every ``FFUserAnalyticsDTO`` field (same names, order and defaults) plus
``event_type`` and ``properties`` (the scrubbed extra keys of ``event_data``)."""

def ff_user_record_to_dto(rec: dict[str, Any]) -> FFUserAnalyticsDTO:
    """The ``FFUserAnalyticsDTO`` of a stored user record (``event_type``/``properties`` dropped)."""
    return FFUserAnalyticsDTO.from_dict(
        {k: (list(v) if isinstance(v, tuple) else v) for k, v in rec.items()}, ignore_unknown=True
    )


@dataclass(slots=True)
class FFPrivacyStatsDTO:
    """Counters of the privacy pipeline (what was accepted, and why the rest was not stored)."""

    accepted: int = 0
    stored: int = 0
    store_dropped: int = 0
    dropped_disabled: int = 0
    dropped_tracking_off: int = 0
    dropped_opt_out: int = 0
    dropped_no_consent: int = 0
    dropped_do_not_track: int = 0
    dropped_sampled: int = 0
    hook_failures: int = 0

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


MAX_COUNT = 2**63 - 1  # mapped integer fields stay 64-bit JSON integers (not decimal strings)


def _as_int(v: Any, key: str) -> int:
    if type(v) is int or (type(v) is float and v - v == 0.0):  # finite numbers, not bool
        if not 0 <= v <= MAX_COUNT:
            raise ValueError(f"event_data[{key!r}]: must be within 0..{MAX_COUNT}, got {v!r}")
        return int(v)
    raise TypeError(f"event_data[{key!r}]: expected a non-negative number, got {type(v).__name__} {v!r}")


def _as_float(v: Any, key: str) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf"):
        if v < 0:
            raise ValueError(f"event_data[{key!r}]: must be >= 0, got {v!r}")
        try:
            return float(v)
        except OverflowError:
            raise ValueError(f"event_data[{key!r}]: too large for a float, got {v!r}") from None
    raise TypeError(f"event_data[{key!r}]: expected a finite number, got {type(v).__name__} {v!r}")


def _unpack(ev: Any) -> tuple[Any, Any, Any, Any]:
    """One batch item as ``(user_id, session_id, event_type, event_data)``."""
    if type(ev) is tuple or type(ev) is list:
        if len(ev) != 4:
            raise ValueError("expected (user_id, session_id, event_type, event_data)")
        return ev[0], ev[1], ev[2], ev[3]
    if isinstance(ev, dict):
        return ev.get("user_id"), ev.get("session_id", ""), ev.get("event_type"), ev.get("event_data")
    raise TypeError(f"expected a tuple or dict, got {type(ev).__name__}")


class FFUserEventPipeline:
    """Turns a host call into ``(stream, record)`` or ``(None, reason)``; holds the privacy engines."""

    def __init__(
        self,
        analytics_config: Any,
        pseudonymizer: FFPseudonymizer,
        consent: FFConsentRegistry,
        index: FFUserIndex,
        clock: FFClock | None = None,
    ) -> None:
        self.cfg = analytics_config
        self.pcfg = getattr(analytics_config, "privacy_config", None)
        self.pseudonymizer = pseudonymizer
        self.consent = consent
        self.index = index
        self.scrubber = FFPIIScrubber()
        self.clock = clock or FFClock()
        self._time = time.time if type(self.clock) is FFClock else self.clock.time
        self.monotonic = time.monotonic if type(self.clock) is FFClock else self.clock.monotonic
        self._ts_sec = -1
        self._ts_prefix = ""
        self.stats = FFPrivacyStatsDTO()
        self.guard = FFIdentifierGuard(pseudonymizer)
        self.reconfigure()

    def reconfigure(self) -> None:
        """Read the config flags into attributes (the hot path does no getattr chains)."""
        c, p = self.cfg, self.pcfg
        self.enabled = bool(getattr(c, "enable_user_analytics", True))
        self.track_behavior = bool(getattr(c, "track_user_behavior", True))
        self.track_features = bool(getattr(c, "track_feature_usage", True))
        self.track_quality = bool(getattr(c, "track_session_quality", True))
        rate = float(getattr(c, "sampling_rate", 1.0))
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"sampling_rate: must be within [0, 1], got {rate}")
        self.sampling_rate = rate if getattr(c, "enable_data_sampling", False) else 1.0
        self.raw_ids = bool(
            not getattr(p, "anonymize_user_data", True)
            and not getattr(p, "hash_user_identifiers", True)
            and getattr(p, "store_raw_identifiers", False)
        )
        self.exclude_sensitive = bool(getattr(p, "exclude_sensitive_content", True))
        self.allow_opt_out = bool(getattr(p, "allow_user_opt_out", True))
        self.require_consent = bool(getattr(p, "require_explicit_consent", False))
        self.honor_dnt = bool(getattr(p, "honor_do_not_track", True))
        custom = dict(pair.split("=", 1) for pair in (getattr(c, "custom_event_streams", None) or ()))
        self.event_streams = {**{k: v for k, v in custom.items() if k not in EVENT_STREAMS}, **EVENT_STREAMS}
        self._users_get = self.pseudonymizer.cached_user_hash
        self._sessions_get = self.pseudonymizer.cached_session_hash
        self.blocked_streams = {
            s
            for s, on in (
                ("behavior_patterns", self.track_behavior),
                ("feature_usage", self.track_features),
            )
            if not on
        }
        self._gated = bool(
            not self.enabled or self.blocked_streams or self.require_consent or self.sampling_rate < 1.0
        )

    def timestamp(self) -> str:
        """UTC ISO timestamp with microseconds; the date/time prefix is formatted once per second."""
        t = self._time()
        sec = int(t)
        if sec != self._ts_sec:
            self._ts_sec = sec
            self._ts_prefix = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        us = int((t - sec) * 1_000_000)
        return self._ts_prefix + _DIGITS3[us // 1000] + _DIGITS3[us % 1000] + "Z"

    @staticmethod
    def validate(user_id: Any, session_id: Any, event_type: Any, event_data: Any,
                 event_streams: dict[str, str] = EVENT_STREAMS) -> tuple[str, dict[str, Any]]:
        """Caller bugs raise; returns ``(stream, event_data)``."""
        if not isinstance(user_id, str):
            raise TypeError(f"user_id: expected str, got {type(user_id).__name__}")
        if not user_id or len(user_id) > MAX_ID:
            raise ValueError(f"user_id: must be a non-empty str of at most {MAX_ID} characters")
        if not isinstance(session_id, str):
            raise TypeError(f"session_id: expected str, got {type(session_id).__name__}")
        if len(session_id) > MAX_ID:
            raise ValueError(f"session_id: at most {MAX_ID} characters")
        stream = event_streams.get(event_type) if type(event_type) is str else None
        if stream is None:
            if not isinstance(event_type, str):
                raise TypeError(f"event_type: expected str, got {type(event_type).__name__}")
            if not _CUSTOM_EVENT_RE.fullmatch(event_type):
                raise ValueError(
                    f"event_type: {event_type[:80]!r} is neither a known type ({sorted(EVENT_STREAMS)}) nor a custom "
                    f"event name matching {CUSTOM_EVENT_PATTERN}"
                )
            stream = CUSTOM_EVENT_STREAM
        if type(event_data) is not dict:
            if event_data is None:
                return stream, {}
            if not isinstance(event_data, dict):
                raise TypeError(f"event_data: expected dict, got {type(event_data).__name__}")
        return stream, event_data

    def checked(self, user_id: Any, session_id: Any, event_type: Any, event_data: Any) -> tuple[str, dict[str, Any]]:
        """``(stream, event_data)`` of a valid call: inline type checks for the common shape, the
        full :meth:`validate` (and its messages) for anything else."""
        stream = self.event_streams.get(event_type) if type(event_type) is str else None
        if (
            stream is None
            or type(user_id) is not str
            or not user_id
            or len(user_id) > MAX_ID
            or type(session_id) is not str
            or len(session_id) > MAX_ID
            or type(event_data) is not dict
        ):
            return self.validate(user_id, session_id, event_type, event_data, self.event_streams)
        return stream, event_data

    @classmethod
    def validate_batch(cls, events: Iterable[Any]) -> None:
        """The caller-bug checks of :meth:`process_batch` alone (an error names ``events[i]``)."""
        for i, ev in enumerate(events):
            try:
                cls.validate(*_unpack(ev))
            except (TypeError, ValueError) as exc:
                raise (TypeError if isinstance(exc, TypeError) else ValueError)(f"events[{i}]: {exc}") from exc

    def process(self, user_id: Any, session_id: Any, event_type: Any, event_data: Any) -> tuple[str | None, Any]:
        """``(stream, record)`` to store, or ``(None, reason)`` when a control filtered it out."""
        stream, event_data = self.checked(user_id, session_id, event_type, event_data)
        if self._gated and (reason := self._gate(stream)):
            return None, self._drop(reason)
        if self.honor_dnt and "do_not_track" in event_data and _dnt(event_data["do_not_track"]):
            return None, self._drop("do_not_track")
        h = self._users_get(user_id) or self.pseudonymizer.user_hash(user_id)
        consent = self.consent
        if self.monotonic() >= consent.next_refresh:
            consent.maybe_refresh()
        if h in consent.opted_out and self.allow_opt_out:
            return None, self._drop("opt_out")
        if self._gated and (reason := self._gate_user(h)):
            return None, self._drop(reason)
        sh = (self._sessions_get(session_id) or self.pseudonymizer.session_hash(session_id)) if session_id else ""
        ts = self.timestamp()
        rec = self._record(user_id, session_id, event_type, event_data, h, sh, ts)  # field errors raise here
        rec["return_user"], rec["user_segment"] = self.index.observe(h, sh, ts)  # always written
        self.stats.accepted += 1
        return stream, rec

    def process_batch(self, events: Iterable[Any]) -> dict[str, list[dict[str, Any]]]:
        """The records of a batch by stream, or an error naming ``events[i]`` with nothing changed.

        Each item is ``(user_id, session_id, event_type, event_data)`` or a dict with those keys.
        Same rules as :meth:`process`, with the per-call work done once per batch: the consent
        refresh, the timestamp (one instant for the whole call), and the user index and the
        counters updated only once every item has been accepted or filtered."""
        consent = self.consent
        if self.monotonic() >= consent.next_refresh:
            consent.maybe_refresh()
        opted_out = consent.opted_out if self.allow_opt_out else frozenset()
        ts = self.timestamp()
        if not self._gated and type(events) is list:
            by_stream = self._process_columns(events, opted_out, ts)
            if by_stream is not None:
                return by_stream
        return self._process_items(events, opted_out, ts)

    def _process_columns(self, events: list[Any], opted_out: Any, ts: str) -> dict[str, list[dict[str, Any]]] | None:
        """:meth:`process_batch` column by column, or None (nothing changed) unless every item is a
        4-tuple that passes the caller-bug checks and none is filtered out: the per-item path then
        handles the batch (and names a bad item)."""
        if not events or set(map(type, events)) != _TUPLE_ONLY or set(map(len, events)) != _FOUR_ONLY:
            return None
        uids, sids, ets, datas = zip(*events, strict=True)  # every item has 4 fields (checked above)
        if (set(map(type, uids)) != _STR_ONLY or set(map(type, sids)) != _STR_ONLY
                or set(map(type, ets)) != _STR_ONLY or set(map(type, datas)) != _DICT_ONLY
                or not min(map(len, uids)) or max(map(len, uids)) > MAX_ID or max(map(len, sids)) > MAX_ID):
            return None
        streams = self.event_streams
        unknown = set(ets).difference(streams)
        if unknown:
            if not all(map(_CUSTOM_EVENT_RE.fullmatch, unknown)):
                return None
            streams = {**streams, **dict.fromkeys(unknown, CUSTOM_EVENT_STREAM)}
        if self.honor_dnt and any(map(_dnt, [d["do_not_track"] for d in datas if "do_not_track" in d])):
            return None
        ps = self.pseudonymizer
        hs = list(map(self._users_get, uids))
        if None in hs:
            hs = [h or ps.user_hash(u) for h, u in zip(hs, uids, strict=True)]
        if opted_out and not opted_out.isdisjoint(hs):
            return None
        shs = list(map(self._sessions_get, sids))
        if None in shs:
            shs = [h if h is not None else ps.session_hash(s) if s else "" for h, s in zip(shs, sids, strict=True)]
        scrubber, guard = self.scrubber, self.guard
        counters = (scrubber.scrubbed_values, scrubber.dropped_keys, guard.replaced)
        try:
            recs = list(map(self._record, uids, sids, ets, datas, hs, shs, repeat(ts)))
        except (TypeError, ValueError):  # a bad field: the per-item path names the item
            scrubber.scrubbed_values, scrubber.dropped_keys, guard.replaced = counters
            return None
        for rec, (ret, seg) in zip(recs, self.index.observe_many(hs, shs, ts), strict=True):
            rec["return_user"] = ret
            rec["user_segment"] = seg
        self.stats.accepted += len(recs)
        names = list(dict.fromkeys(map(streams.__getitem__, ets)))  # in order of first appearance
        if len(names) == 1:
            return {names[0]: recs}
        by_stream: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for et, rec in zip(ets, recs, strict=True):
            by_stream[streams[et]].append(rec)
        return by_stream

    def _process_items(self, events: Iterable[Any], opted_out: Any, ts: str) -> dict[str, list[dict[str, Any]]]:
        """:meth:`process_batch` item by item (any item shape, the controls, errors naming ``events[i]``)."""
        checked = self.checked
        users_get, sessions_get = self._users_get, self._sessions_get
        ps = self.pseudonymizer
        gated, honor_dnt = self._gated, self.honor_dnt
        record = self._record
        drops: dict[str, int] = {}
        by_stream: dict[str, list[dict[str, Any]]] = {}
        pending: list[tuple[dict[str, Any], str, str]] = []
        for i, ev in enumerate(events):
            try:
                if type(ev) is tuple and len(ev) == 4:
                    user_id, session_id, event_type, data = ev
                else:
                    user_id, session_id, event_type, data = _unpack(ev)
                stream, data = checked(user_id, session_id, event_type, data)
                reason = self._gate(stream) if gated else ""
                if not reason and honor_dnt and "do_not_track" in data and _dnt(data["do_not_track"]):
                    reason = "do_not_track"
                if not reason:
                    h = users_get(user_id) or ps.user_hash(user_id)
                    if h in opted_out:
                        reason = "opt_out"
                    elif gated:
                        reason = self._gate_user(h)
                if reason:
                    drops[reason] = drops.get(reason, 0) + 1
                    continue
                sh = (sessions_get(session_id) or ps.session_hash(session_id)) if session_id else ""
                rec = record(user_id, session_id, event_type, data, h, sh, ts)
            except (TypeError, ValueError) as exc:
                raise (TypeError if isinstance(exc, TypeError) else ValueError)(f"events[{i}]: {exc}") from exc
            lst = by_stream.get(stream)
            if lst is None:
                lst = by_stream[stream] = []
            lst.append(rec)
            pending.append((rec, h, sh))
        observe = self.index.observe  # the whole batch is valid: now the index and the counters
        for rec, h, sh in pending:
            rec["return_user"], rec["user_segment"] = observe(h, sh, ts)
        self.stats.accepted += len(pending)
        for reason, n in drops.items():
            self._drop(reason, n)
        return by_stream

    def _record(self, user_id: str, session_id: str, event_type: str, data: dict[str, Any], h: str, sh: str,
                ts: str) -> dict[str, Any]:
        """The compact record: only what the event carries (absent fields are their defaults; the
        store's readers fill them in, see ``ff_record_defaults``)."""
        if self.raw_ids:
            rec = {"timestamp": ts, "user_hash": user_id, "event_type": event_type}
            if session_id:
                rec["session_id"] = session_id
        else:
            rec = {"timestamp": ts, "user_hash": h, "event_type": event_type}
            if sh:
                rec["session_id"] = sh
        if data:
            if not self.raw_ids:  # the call's own ids and identifier-like keys: pseudonyms only
                data = self.guard.protect(data, user_id, session_id, h, sh)
            self._fill(rec, event_type, data)
        elif event_type == "page_view":
            rec["pages_viewed"] = 1
        return rec

    def _drop(self, reason: str, n: int = 1) -> str:
        """Count ``n`` events not stored for ``reason`` (``dropped_<reason>``); returns the reason."""
        name = "dropped_" + reason
        setattr(self.stats, name, getattr(self.stats, name) + n)
        return reason

    def _gate(self, stream: str) -> str:
        """Rare controls before pseudonymization (analytics off, stream not tracked): the reason or ""."""
        return "disabled" if not self.enabled else "tracking_off" if stream in self.blocked_streams else ""

    def _gate_user(self, h: str) -> str:
        """Rare per-user controls (explicit consent required, sampling): the reason or ""."""
        if self.require_consent and h not in self.consent.consented:
            return "no_consent"
        if self.sampling_rate < 1.0 and int(h[:8], 16) >= self.sampling_rate * 4294967296.0:
            return "sampled"
        return ""

    def _fill(self, rec: dict[str, Any], event_type: str, data: dict[str, Any]) -> None:
        mapping = MAPPINGS.get(event_type, CUSTOM_EVENT_MAPPING)
        extra: dict[str, Any] | None = None
        scrub = self.exclude_sensitive
        text = self.scrubber.text
        for k, v in data.items():
            m = mapping.get(k)
            if m is None:
                if k != "do_not_track":
                    if extra is None:
                        extra = {}
                    extra[k] = v
                continue
            fname, kind = m
            if kind == "int":
                rec[fname] = v if (type(v) is int and 0 <= v <= MAX_COUNT) else _as_int(v, k)
            elif kind == "float":
                rec[fname] = v if (type(v) is float and 0.0 <= v < _INF) else _as_float(v, k)
            elif kind == "str":
                if v is None:
                    continue
                if type(v) is not str:
                    raise TypeError(f"event_data[{k!r}]: expected str, got {type(v).__name__}")
                v = v[:MAX_STR]
                rec[fname] = text(v) if scrub else v
            elif kind == "ua":
                if v is None:
                    continue
                if type(v) is not str:
                    raise TypeError(f"event_data[{k!r}]: expected str, got {type(v).__name__}")
                rec["user_agent"] = self.scrubber.user_agent(v) if scrub else v[:MAX_STR]
            elif kind == "str1":
                if type(v) is not str:
                    raise TypeError(f"event_data[{k!r}]: expected str")
                v = v[:MAX_STR]
                if scrub:
                    v = text(v)
                prev = rec.get(fname)
                rec[fname] = [*prev, v] if prev else [v]
            elif kind == "strlist":
                if not isinstance(v, (list, tuple)):
                    raise TypeError(f"event_data[{k!r}]: expected a list of str")
                vals = []
                for x in v:
                    if type(x) is not str:
                        raise TypeError(f"event_data[{k!r}]: expected a list of str")
                    if len(vals) < 64:
                        vals.append(text(x[:MAX_STR]) if scrub else x[:MAX_STR])
                prev = rec.get(fname)
                rec[fname] = [*prev, *vals] if prev else vals
            elif kind == "rating":
                if v is None:
                    continue
                r = _as_int(v, k)
                if r > 10:
                    raise ValueError(f"event_data[{k!r}]: must be within 0..10, got {v!r}")
                rec["satisfaction_rating"] = r
        if event_type == "page_view" and "pages" not in data:
            rec["pages_viewed"] = 1
        if not self.track_quality:
            rec.pop("session_quality_score", None)
        if extra:
            rec["properties"] = self.scrubber.properties(extra) if scrub else extra
