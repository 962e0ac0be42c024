"""Payees (``PaymentCenter``) and their keys."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from PaymentProcess.data.models.common import DOCUMENT_CONFIG, OptionalText, Text


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


def payee_source(pc_type: PaymentCenterType, party: Mapping[str, Any] | None, tin: str | None,
                 npi: str | None, member_id: str | None) -> dict[str, Any]:
    """The data a new payee is created from: the version's provider (or member) and ids."""
    party = party or {}
    name = party.get("name") if isinstance(party.get("name"), str) else None
    address = party.get("address") if isinstance(party.get("address"), dict) else None
    return {
        "vendor_name": name,
        "tax_id": tin if pc_type is PaymentCenterType.PROVIDER else None,
        "npi": npi if pc_type is PaymentCenterType.PROVIDER else None,
        "member_id": member_id if pc_type is PaymentCenterType.DMR else None,
        "address": address,
    }


class PaymentCenter(BaseModel):
    """A production payee document.

    Its ``key`` must be the one its own type and identifiers give (:func:`payee_key`):
    a corrupted key would make the engine miss the payee and create a second one.
    """

    model_config = DOCUMENT_CONFIG
    id: int = Field(alias="_id", ge=1)
    type: Annotated[PaymentCenterType, Field(strict=False)]
    tax_id: OptionalText = None
    npi: OptionalText = None
    member_id: OptionalText = None
    key: Text  # after the fields it is checked against (validated in declaration order)
    vendor_name: str | None = None
    payment_method: Annotated[PaymentMethod, Field(strict=False)]
    status: Annotated[PayeeStatus, Field(strict=False)]
    bank: Any = None  # judged by data.models.bank.PayeeBank where an EFT is paid (BANK_INVALID)

    @field_validator("key")
    @classmethod
    def _key_matches_identifiers(cls, key: str, info: ValidationInfo) -> str:
        """Reject a key other than ``payee_key(type, tax_id, npi, member_id)``.

        When one of those fields is itself malformed it has its own error, and the key
        is not compared.
        """
        if {"type", "tax_id", "npi", "member_id"} <= info.data.keys():
            data = info.data
            expected = payee_key(data["type"], data["tax_id"], data["npi"], data["member_id"])
            if key != expected:
                raise PydanticCustomError(
                    "key_mismatch", "does not match the key of the payee's type and identifiers")
        return key
