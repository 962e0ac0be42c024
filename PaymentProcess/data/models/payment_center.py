"""Payees (``PaymentCenter``) and their keys."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from PaymentProcess.data.models.common import DOCUMENT_CONFIG, Text


class PaymentCenterType(StrEnum):
    """PROVIDER events pay providers (TIN + NPI); DMR events pay members (MemberID)."""

    PROVIDER = "PROVIDER"
    DMR = "DMR"


class PaymentMethod(StrEnum):
    """How a payee is paid."""

    CHECK = "CHECK"
    EFT = "EFT"


class PayeeStatus(StrEnum):
    """A payee on HOLD is never disbursed to; its money is kept as an UNDER balance."""

    ACTIVE = "ACTIVE"
    HOLD = "HOLD"


def payee_key(pc_type: PaymentCenterType, tin: str | None, npi: str | None,
              member_id: str | None) -> str | None:
    """The payee key of spec section 5, or None when an identifier is missing."""
    if pc_type is PaymentCenterType.PROVIDER:
        return f"PROVIDER:{tin}:{npi}" if tin and npi else None
    return f"DMR:{member_id}" if member_id else None


class PaymentCenter(BaseModel):
    """A production payee document."""

    model_config = DOCUMENT_CONFIG
    id: int = Field(alias="_id", ge=1)
    key: Text
    type: Annotated[PaymentCenterType, Field(strict=False)]
    vendor_name: str | None = None
    payment_method: Annotated[PaymentMethod, Field(strict=False)]
    status: Annotated[PayeeStatus, Field(strict=False)]
