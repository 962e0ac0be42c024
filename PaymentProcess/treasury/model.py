"""The disbursements a treasury file lists, independent of any file format.

Amounts are integer cents (never a float); a payee or an account is described by what the
bank needs and nothing else. A void or a reissue (spec 14) is expressed with the same
records: a :class:`CheckRecord` of kind ``VOID``, or a new :class:`Disbursement`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from PaymentProcess.data.models.bank import AccountType
from PaymentProcess.utils.error_handling import PaymentProcessError
from PaymentProcess.utils.money import BadAmount, cents_to_decimal, decimal_cents, money_str


class TreasuryError(PaymentProcessError):
    """The stored payments cannot make a valid bank file, or a file cannot be written (exit 4)."""


def to_cents(amount: Decimal) -> int:
    """A Decimal amount as integer cents (TreasuryError when it is not whole cents)."""
    try:
        return decimal_cents(amount)
    except BadAmount as error:
        raise TreasuryError(f"amount {amount}: {error}") from None


def cents_text(cents: int) -> str:
    """``1234`` -> ``12.34``: integer cents as a decimal amount with two places."""
    return money_str(cents_to_decimal(cents))


@dataclass(frozen=True, slots=True)
class Disbursement:
    """One payment of record (``Payments``) with the payee it went to (the check register)."""

    payment_event_id: str
    funding_source_id: str
    method: str  # CHECK | EFT
    number: str  # the check number or the EFT trace number, as text
    amount_cents: int
    payment_center_id: int
    payee_key: str
    payee_name: str
    issue_date: date


@dataclass(frozen=True, slots=True)
class AchEntry:
    """One CCD credit to a payee's account, with the trace of its 835 (``TRN02``)."""

    payment_center_id: int
    payee_name: str
    routing: str
    account: str
    account_type: AccountType
    amount_cents: int
    eft_number: str
    effective_date: date


@dataclass(frozen=True, slots=True)
class AchOriginator:
    """Who sends the ACH file: the funding source's bank identity and the payer's TIN."""

    routing: str  # the ODFI: immediate destination and the trace numbers' first 8 digits
    odfi_name: str
    immediate_origin: str
    company_id: str
    company_name: str
    payer_tax_id: str  # TRN03 is "1" + this, as in the 835


class CheckRecordKind(StrEnum):
    """A positive-pay line: a check issued, or a check voided (spec 14)."""

    ISSUE = "ISSUE"
    VOID = "VOID"


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """One positive-pay line: the bank honours an ``ISSUE``d check and refuses a ``VOID``."""

    kind: CheckRecordKind
    account: str
    check_number: int
    amount_cents: int
    issue_date: date
    payee_name: str
