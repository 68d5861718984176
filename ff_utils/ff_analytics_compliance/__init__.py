"""Compliance: the keyed, hash-chained audit trail and its verifier, the regulatory report, and the
compliance service.
"""

from __future__ import annotations

from ff_utils.ff_analytics_compliance.ff_audit_chain import (
    FFAuditChainWriter,
    FFAuditMac,
    FFChainHeadDTO,
)
from ff_utils.ff_analytics_compliance.ff_audit_verifier import (
    FFAuditVerificationDTO,
    FFAuditVerifier,
)
from ff_utils.ff_analytics_compliance.ff_compliance_service import FFComplianceService

__all__ = [
    "FFAuditChainWriter",
    "FFAuditMac",
    "FFAuditVerificationDTO",
    "FFAuditVerifier",
    "FFChainHeadDTO",
    "FFComplianceService",
]
