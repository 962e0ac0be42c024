"""``BANK_INVALID`` (spec 13): every EFT the event pays needs valid bank data on both ends.

Judged after settlement, in the dry run and again before the final run writes anything:
only a payee that is actually paid by EFT in this event needs a valid ``PaymentCenter.bank``
(an EFT payee whose money is held or offset does not), and the funding source needs a
valid ``bank`` as soon as one EFT is paid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PaymentProcess.core.settlement import PayeeSettlement
from PaymentProcess.core.validation import BANK_INVALID
from PaymentProcess.data.models.bank import FundingSourceBank, PayeeBank, bank_problem
from PaymentProcess.data.models.event import FundingSource
from PaymentProcess.data.models.payment_center import PaymentCenter, PaymentMethod
from PaymentProcess.data.models.stats import ValidationReport


def check_bank_data(funding: FundingSource, settlements: Iterable[PayeeSettlement],
                    payees: Mapping[str, PaymentCenter], report: ValidationReport) -> None:
    """Add ``BANK_INVALID`` for the funding source and each EFT payee lacking valid bank data."""
    paid_by_eft = [s for s in settlements if s.disbursed > 0 and s.method is PaymentMethod.EFT]
    if not paid_by_eft:
        return
    problem = bank_problem(FundingSourceBank, funding.bank)
    if problem is not None:
        report.add(BANK_INVALID, f"FundingSource {funding.id}", problem)
    for settlement in paid_by_eft:
        payee = payees.get(settlement.key)
        problem = bank_problem(PayeeBank, payee.bank if payee is not None else None)
        if problem is not None:
            report.add(BANK_INVALID, f"PaymentCenter {settlement.payee_id}", problem)
