"""Control actions after the final run (spec section 14): the ``ControlAction`` journal."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from PaymentProcess.data.models.common import DOCUMENT_CONFIG, Money, Text


class VoidReason(StrEnum):
    """Why a disbursement is voided."""

    LOST = "LOST"
    STALE = "STALE"
    RETURNED = "RETURNED"
    STOPPED = "STOPPED"
    ERROR = "ERROR"


class ActionKind(StrEnum):
    """VOID: the amount becomes an UNDER record; REISSUE: voided and paid again at once."""

    VOID = "VOID"
    REISSUE = "REISSUE"


class ActionStatus(StrEnum):
    """STARTED until every write of the action is done (then it can only be resumed)."""

    STARTED = "STARTED"
    DONE = "DONE"


class ControlAction(BaseModel):
    """A ``ControlAction`` document: the intent of one void, written before its first write.

    ``_id`` is ``"<payment id>:VOID"``, so a payment can be voided once. Everything a
    resumed action needs to repeat its writes identically is here: the time, who, the
    amount, and the ids of the records it creates (``under_id`` or ``reissue_id``).
    ``owner`` is the process holding the action (a resume takes it over).
    """

    model_config = DOCUMENT_CONFIG
    id: Text = Field(alias="_id")
    kind: Annotated[ActionKind, Field(strict=False)]
    PaymentEvent_ID: Text
    payment_id: Text
    PaymentCenter_ID: Annotated[int, Field(ge=1)]
    method: Text
    amount: Money
    reason: Annotated[VoidReason, Field(strict=False)]
    by: Text
    at: datetime
    owner: Text
    status: Annotated[ActionStatus, Field(strict=False)]
    under_id: Text | None = None
    reissue_id: Text | None = None
    reissue_count: Annotated[int, Field(ge=0)] = 0
    number: str | None = None

