"""Privacy: pseudonymization, PII scrubbing, consent, the user-event pipeline, the user index, erasure,
and the privacy service.
"""

from __future__ import annotations

from ff_utils.ff_analytics_privacy.ff_consent_registry import FFConsentRegistry
from ff_utils.ff_analytics_privacy.ff_identifier_guard import FFIdentifierGuard
from ff_utils.ff_analytics_privacy.ff_path_shape import ff_path_shape
from ff_utils.ff_analytics_privacy.ff_pii_scrubber import (
    FFNotJSONError,
    FFPIIScrubber,
)
from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import (
    FFPseudonymizer,
    FFPseudonymKeyError,
    ff_load_or_create_key,
    ff_resolve_key_path,
)
from ff_utils.ff_analytics_privacy.ff_privacy_service import FFPrivacyService
from ff_utils.ff_analytics_privacy.ff_privacy_state_log import FFPrivacyStateLog
from ff_utils.ff_analytics_privacy.ff_user_erasure import FFUserDataEraser
from ff_utils.ff_analytics_privacy.ff_user_event_pipeline import (
    FFPrivacyStatsDTO,
    FFUserEventPipeline,
    ff_user_record_to_dto,
)
from ff_utils.ff_analytics_privacy.ff_user_index import FFUserIndex

__all__ = [
    "FFConsentRegistry",
    "FFIdentifierGuard",
    "FFNotJSONError",
    "FFPIIScrubber",
    "FFPrivacyService",
    "FFPrivacyStateLog",
    "FFPrivacyStatsDTO",
    "FFPseudonymKeyError",
    "FFPseudonymizer",
    "FFUserDataEraser",
    "FFUserEventPipeline",
    "FFUserIndex",
    "ff_load_or_create_key",
    "ff_path_shape",
    "ff_resolve_key_path",
    "ff_user_record_to_dto",
]
