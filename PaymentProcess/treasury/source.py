"""Reading what a final run stored into treasury records.

``Payments`` gives the disbursements, ``PaymentCenter`` the payee (name, key, bank),
``FundingSource`` the originating bank (``bank``) and the payer's TIN (``payer``, as for
the 835). Bank data is judged again here: it was valid when the final run was admitted
(``BANK_INVALID``), but it is read when the files are written.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from PaymentProcess.data.models.bank import FundingSourceBank, PayeeBank, bank_problem
from PaymentProcess.data.models.payment_center import PaymentMethod
from PaymentProcess.remittance.builder import load_payer, money
from PaymentProcess.treasury.model import (
    AchEntry,
    AchOriginator,
    CheckRecord,
    CheckRecordKind,
    Disbursement,
    TreasuryError,
    to_cents,
)
from PaymentProcess.utils.error_handling import ConfigurationError

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FundingSourceFiles:
    """What the bank files of one funding source hold for one event."""

    funding_source_id: str
    bank: FundingSourceBank | None
    originator: AchOriginator | None
    ach_entries: tuple[AchEntry, ...]
    checks: tuple[CheckRecord, ...]


@dataclass(frozen=True, slots=True)
class TreasuryInputs:
    """Every original disbursement of a finished event and its files' contents by funding source."""

    payment_event_id: str
    disbursements: tuple[Disbursement, ...]
    funding_sources: tuple[FundingSourceFiles, ...]


def load_treasury_inputs(db: Any, event: Document) -> TreasuryInputs:
    """Read the event's original ``Payments`` (a reissue, spec 14, goes to its void's own
    files, so these stay as the final run wrote them) and what their files need;
    ConfigurationError (exit 2) for missing or invalid bank data or payer identity,
    TreasuryError (exit 4) for a stored payment that cannot be read."""
    event_id = event["_id"]
    payments = list(db.Payments.find({"PaymentEvent_ID": event_id,
                                      "reissue_of": {"$exists": False}})
                    .sort("PaymentCenter_ID", 1))
    centers = {c["_id"]: c for c in db.PaymentCenter.find(
        {"_id": {"$in": [p.get("PaymentCenter_ID") for p in payments]}})}
    by_source: defaultdict[str, list[tuple[Disbursement, Document]]] = defaultdict(list)
    disbursements = []
    for payment in payments:
        center = centers.get(payment.get("PaymentCenter_ID"))
        if center is None:
            raise TreasuryError(f"{payment['_id']}: PaymentCenter {payment.get('PaymentCenter_ID')}"
                                " is missing")
        disbursement = disbursement_of(payment, center)
        disbursements.append(disbursement)
        by_source[disbursement.funding_source_id].append((disbursement, center))
    disbursements.sort(key=lambda d: (d.method, d.payment_center_id))
    return TreasuryInputs(event_id, tuple(disbursements),
                          tuple(_funding_files(db, source_id, by_source[source_id])
                                for source_id in sorted(by_source)))


def disbursement_of(payment: Document, center: Document) -> Disbursement:
    """A ``Payments`` document and its payee as a :class:`Disbursement` (TreasuryError when
    the payment cannot be read)."""
    where = payment["_id"]
    method = payment.get("method")
    if method not in (PaymentMethod.CHECK.value, PaymentMethod.EFT.value):
        raise TreasuryError(f"{where}: unknown method {method!r}")
    number = payment.get("number")
    if method == PaymentMethod.CHECK.value and not (type(number) is int and number > 0):
        raise TreasuryError(f"{where}: check number {number!r} is not a positive whole number")
    if method == PaymentMethod.EFT.value and not (isinstance(number, str) and number):
        raise TreasuryError(f"{where}: EFT number {number!r} is not text")
    source_id = payment.get("funding_source_id")
    if not isinstance(source_id, str):
        raise TreasuryError(f"{where}: funding_source_id {source_id!r} is not text")
    return Disbursement(
        payment_event_id=payment["PaymentEvent_ID"],
        funding_source_id=source_id,
        method=method,
        number=str(number),
        amount_cents=to_cents(money(payment.get("amount"), f"{where} amount")),
        payment_center_id=payment["PaymentCenter_ID"],
        payee_key=str(center.get("key", "")),
        payee_name=str(center.get("vendor_name") or ""),
        issue_date=_day(payment.get("issue_date"), where),
    )


def _funding_files(db: Any, source_id: str,
                   paid: list[tuple[Disbursement, Document]]) -> FundingSourceFiles:
    bank = load_funding_bank(db, source_id)
    eft = [(d, c) for d, c in paid if d.method == PaymentMethod.EFT.value]
    checks = sorted((d for d, _ in paid if d.method == PaymentMethod.CHECK.value),
                    key=lambda d: int(d.number))
    return FundingSourceFiles(
        source_id, bank, load_originator(db, source_id, bank) if eft else None,
        tuple(ach_entry(d, c) for d, c in eft),
        tuple(check_record(CheckRecordKind.ISSUE, bank, d) for d in checks))


def check_record(kind: CheckRecordKind, bank: FundingSourceBank,
                 check: Disbursement) -> CheckRecord:
    """The positive-pay line issuing or voiding the ``check`` drawn on ``bank``."""
    return CheckRecord(kind, bank.account, int(check.number), check.amount_cents,
                       check.issue_date, check.payee_name)


def load_funding_bank(db: Any, source_id: str) -> FundingSourceBank:
    """The funding source's valid ``bank``; ConfigurationError naming the field otherwise."""
    source = db.FundingSource.find_one({"_id": source_id}) or {}
    problem = bank_problem(FundingSourceBank, source.get("bank"))
    if problem is not None:
        raise ConfigurationError(f"FundingSource {source_id!r} has no valid bank data for its "
                                 f"bank files: {problem}")
    return FundingSourceBank.model_validate(source["bank"])


def load_originator(db: Any, source_id: str, bank: FundingSourceBank) -> AchOriginator:
    """Who sends the funding source's ACH files: its bank identity and the payer's TIN (the
    same ``FundingSource.payer`` as the 835's TRN03)."""
    payer = load_payer(db, {"funding_source_id": source_id})
    return AchOriginator(routing=bank.routing, odfi_name=bank.odfi_name,
                         immediate_origin=bank.immediate_origin, company_id=bank.company_id,
                         company_name=bank.company_name, payer_tax_id=payer.tax_id)


def ach_entry(disbursement: Disbursement, center: Document) -> AchEntry:
    """The CCD credit of an EFT ``disbursement`` to the payee ``center`` (a PaymentCenter
    document); ConfigurationError when its ``bank`` is not valid."""
    try:
        bank = PayeeBank.model_validate(center.get("bank"))
    except PydanticValidationError:
        raise ConfigurationError(
            f"PaymentCenter {disbursement.payment_center_id} is paid by EFT without valid bank "
            f"data: {bank_problem(PayeeBank, center.get('bank'))}") from None
    return AchEntry(payment_center_id=disbursement.payment_center_id,
                    payee_name=disbursement.payee_name, routing=bank.routing,
                    account=bank.account, account_type=bank.type,
                    amount_cents=disbursement.amount_cents, eft_number=disbursement.number,
                    effective_date=disbursement.issue_date)


def _day(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise TreasuryError(f"{where}: issue_date {value!r} is not a date")
