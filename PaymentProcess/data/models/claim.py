"""Claim documents (``ClaimWSCore``) and their service lines, validated with pydantic.

The models are strict about structure and money (a bad amount is the finding
``BAD_AMOUNT``) but keep the fields the business rules judge — frequency code,
identifiers, linkage — as plain optional text, so that each defect becomes the spec's
own finding instead of a generic parse error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from PaymentProcess.data.models.common import (
    DOCUMENT_CONFIG,
    DateField,
    Money,
    OptionalText,
    Party,
    ProcedureCode,
    Text,
    Units,
)

AMOUNT_FIELDS = ("billed", "allowed", "deductible", "coinsurance", "copay", "cob_paid")


class ClaimType(StrEnum):
    """Kind of claim form."""

    PROFESSIONAL = "PROFESSIONAL"
    INSTITUTIONAL = "INSTITUTIONAL"
    DENTAL = "DENTAL"


class ClaimStatus(StrEnum):
    """Adjudication outcome; a DENIED claim pays nothing."""

    APPROVED = "APPROVED"
    DENIED = "DENIED"


class FrequencyCode(StrEnum):
    """1 original, 7 replacement, 8 void."""

    ORIGINAL = "1"
    REPLACEMENT = "7"
    VOID = "8"


class ServiceLine(BaseModel):
    """One service line as adjudicated: the six amounts drive the payment."""

    model_config = DOCUMENT_CONFIG
    line_no: Annotated[int, Field(ge=0, le=10**6)] | None = None
    procedure_code: ProcedureCode = None
    units: Units = None
    service_date: DateField | None = None
    billed: Money
    allowed: Money
    deductible: Money
    coinsurance: Money
    copay: Money
    cob_paid: Money


class Claim(BaseModel):
    """A claim version staged for a payment event."""

    model_config = DOCUMENT_CONFIG
    id: Text = Field(alias="_id")
    ClaimCore_ID: Text
    PaymentEvent_ID: Text
    ClaimType: Annotated[ClaimType, Field(strict=False)]
    ClaimStatus: Annotated[ClaimStatus, Field(strict=False)]
    FrequencyCode: OptionalText = None
    ParentClaimCore_ID: Text
    OriginalClaimCore_ID: OptionalText = None
    VoidClaimCore_ID: OptionalText = None
    BenefitPlan_ID: OptionalText = None
    received_date: DateField
    patient_control_number: OptionalText = None
    NPI: OptionalText = None
    TIN: OptionalText = None
    MemberID: OptionalText = None
    provider: Party = None
    member: Party = None
    service_lines: list[ServiceLine]

    @property
    def reference(self) -> str | None:
        """The version a 7 replaces or an 8 voids."""
        if self.FrequencyCode == FrequencyCode.REPLACEMENT:
            return self.OriginalClaimCore_ID
        if self.FrequencyCode == FrequencyCode.VOID:
            return self.VoidClaimCore_ID
        return None


def claim_label(doc: Any) -> str:
    """A printable ClaimCore_ID for a raw document, even a malformed one (for findings)."""
    if isinstance(doc, dict):
        for field in ("ClaimCore_ID", "_id"):
            value = doc.get(field)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value)  # bounded by the report (printable)
    return "<unidentified>"

