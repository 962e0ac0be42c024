"""Over/under balances carried between cycles, and the ledger entries of earlier events."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from PaymentProcess.data.models.common import DOCUMENT_CONFIG, DateField, Money, Text


class OverUnderType(StrEnum):
    """OVER: the payee owes the payer. UNDER: the payer owes the payee (held)."""

    OVER = "OVER"
    UNDER = "UNDER"


class OverUnderStatus(StrEnum):
    """A record is CLOSED once its remaining reaches zero."""

    OPEN = "OPEN"
    CLOSED = "CLOSED"


class Application(BaseModel):
    """One offset or consumption of a record by one event."""

    model_config = DOCUMENT_CONFIG
    event_id: Text
    amount: Money


class OverUnderRecord(BaseModel):
    """An ``OverUnder`` document."""

    model_config = DOCUMENT_CONFIG
    id: Text = Field(alias="_id")
    PaymentCenter_ID: Annotated[int, Field(ge=1)]
    type: Annotated[OverUnderType, Field(strict=False)]
    reason: str = ""
    total: Money
    remaining: Money
    status: Annotated[OverUnderStatus, Field(strict=False)]
    created_event_id: Text
    created_date: DateField
    applications: list[Application] = []
    references: list[str] = []

    def sort_key(self) -> tuple[date, str]:
        """Oldest first, then by _id (spec section 7)."""
        return (self.created_date, self.id)


class LedgerEntry(BaseModel):
    """A ``ClaimFinCore`` entry: what one event settled for one chain."""

    model_config = DOCUMENT_CONFIG
    id: Text = Field(alias="_id")
    ParentClaimCore_ID: Text
    PaymentEvent_ID: Text
    PaymentCenter_ID: Annotated[int, Field(ge=1)]
    ClaimCore_IDs: list[Text]
    final_ClaimCore_ID: Text | None = None
    benefit_amount: Money
    interest_amount: Money
    paid_date: DateField

