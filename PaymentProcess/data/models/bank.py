"""Bank data of spec 13: the funding source's originating account and the payees' accounts.

``FundingSource.bank`` and ``PaymentCenter.bank`` are stored raw on their documents (the
data is optional for events that pay no EFT) and judged by these models where an EFT is
paid: a malformed bank there is the finding ``BANK_INVALID``, not a broken funding source.
Account numbers are secrets: nothing here echoes one, and :func:`mask_account` is the only
form in which one may reach a log, a summary or the stats.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from PaymentProcess.data.models.common import DOCUMENT_CONFIG

_ABA_WEIGHTS = (3, 7, 1, 3, 7, 1, 3, 7, 1)
_ACCOUNT = re.compile(r"[0-9A-Za-z-]{1,17}")
_NACHA_TEXT = re.compile(r"[ -~]+")  # printable ASCII, what a NACHA alphameric field holds


def routing_is_valid(routing: object) -> bool:
    """Nine ASCII digits passing the ABA check digit (3-7-1 weights, sum divisible by 10)."""
    if not (isinstance(routing, str) and len(routing) == 9 and routing.isascii()
            and routing.isdigit()):
        return False
    return sum(w * int(d) for w, d in zip(_ABA_WEIGHTS, routing, strict=True)) % 10 == 0


def mask_account(account: str) -> str:
    """``****6789``: the last four characters of an account number, the rest hidden."""
    return "****" + account[-4:]


def _routing(value: str) -> str:
    if not routing_is_valid(value):
        raise PydanticCustomError("bad_routing", "not 9 digits passing the ABA check digit")
    return value


def _account(value: str) -> str:
    if not _ACCOUNT.fullmatch(value):
        raise PydanticCustomError("bad_account",
                                  "not 1-17 letters, digits or '-' (the NACHA DFI account field)")
    return value


def _nacha_text(limit: int):
    def check(value: str) -> str:
        if not _NACHA_TEXT.fullmatch(value) or not value.strip() or len(value) > limit:
            raise PydanticCustomError(
                "bad_nacha_text", "not 1-{limit} printable ASCII characters", {"limit": limit})
        return value
    return check


Routing = Annotated[str, AfterValidator(_routing)]
Account = Annotated[str, AfterValidator(_account)]


class AccountType(StrEnum):
    """The kind of a payee's deposit account (ACH transaction code 22 or 32)."""

    CHECKING = "CHECKING"
    SAVINGS = "SAVINGS"


class FundingSourceBank(BaseModel):
    """``FundingSource.bank``: the payer's account at its bank (the ODFI) and its ACH identity.

    ``routing`` is the ODFI (immediate destination and the trace numbers' prefix), ``account``
    the account checks are drawn on (positive pay), ``company_id`` the 10-character
    originator id, ``immediate_origin`` the 9-10 character origin the bank assigned.
    """

    model_config = DOCUMENT_CONFIG
    routing: Routing
    account: Account
    company_id: Annotated[str, Field(min_length=10, max_length=10),
                          AfterValidator(_nacha_text(10))]
    company_name: Annotated[str, AfterValidator(_nacha_text(16))]
    odfi_name: Annotated[str, AfterValidator(_nacha_text(23))]
    immediate_origin: Annotated[str, Field(pattern=r"^[0-9A-Za-z]{9,10}$")]


class PayeeBank(BaseModel):
    """``PaymentCenter.bank``: where an EFT payee is paid (the RDFI account)."""

    model_config = DOCUMENT_CONFIG
    routing: Routing
    account: Account
    type: Annotated[AccountType, Field(strict=False)]


def bank_problem(model: type[BaseModel], value: Any) -> str | None:
    """None when ``value`` is a valid ``model``, else which fields are wrong (never values)."""
    if value is None:
        return "no bank data"
    try:
        model.model_validate(value)
    except PydanticValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        return "; ".join(f"bank.{'.'.join(map(str, e['loc'])) or '<document>'}: {e['msg']}"
                         for e in errors[:3])
    return None
