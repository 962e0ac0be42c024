"""Document models (pydantic) and computed results (dataclasses)."""

from PaymentProcess.data.models.claim import Claim, ClaimStatus, ClaimType, FrequencyCode
from PaymentProcess.data.models.event import (
    FundingSource,
    InclusionCriteria,
    InterestRules,
    PaymentEvent,
    RunMode,
    Stage,
)
from PaymentProcess.data.models.over_under import LedgerEntry, OverUnderRecord
from PaymentProcess.data.models.payment_center import PaymentCenter, PaymentCenterType
from PaymentProcess.data.models.stats import Finding, PaymentEventStats, ValidationReport

__all__ = ["Claim", "ClaimStatus", "ClaimType", "Finding", "FrequencyCode", "FundingSource",
           "InclusionCriteria", "InterestRules", "LedgerEntry", "OverUnderRecord",
           "PaymentCenter", "PaymentCenterType", "PaymentEvent", "PaymentEventStats", "RunMode",
           "Stage", "ValidationReport"]
