"""A processed user event as the privacy service hands it to BI (``FFUserAnalyticsDTO``-like, plus
``event_type``), for tests that feed the rollups directly."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class FFTestBIEvent:
    timestamp: str
    user_hash: str
    session_id: str = ""
    event_type: str = ""
    features_used: list[str] = field(default_factory=list)
    platform: str = ""
    user_segment: str = ""
    session_duration_seconds: int = 0
    satisfaction_rating: int | None = None
    conversion_events: list[str] = field(default_factory=list)
    return_user: bool = False
