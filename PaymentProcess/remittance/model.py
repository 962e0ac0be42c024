"""The remittance of one payee for one payment event, independent of any file format.

Every amount is a :class:`~decimal.Decimal` with two places; signs are those of the
835: a reversal carries negative charge, payment and adjustment amounts, and a provider
level adjustment is positive when it reduces the payment and negative when it adds to it.
:func:`imbalances` states the three balancing rules of the implementation guide.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from PaymentProcess.utils.error_handling import PaymentProcessError

ZERO = Decimal("0.00")

REVERSAL = "22"
"""CLP02 of a reversal of previous payment."""


class RemittanceError(PaymentProcessError):
    """The stored figures of a finished event cannot make a balanced, valid 835 (exit 4)."""


@dataclass(frozen=True)
class Address:
    """A postal address (N3/N4): ``state`` a USPS code, ``zip`` 5 or 9 digits."""

    line1: str
    city: str
    state: str
    zip: str
    line2: str | None = None


@dataclass(frozen=True)
class Payer:
    """Who pays: the 1000A loop, the interchange sender and the TRN03 originator (1 + TIN)."""

    name: str
    tax_id: str
    address: Address
    contact_phone: str


@dataclass(frozen=True)
class Payee:
    """Who is paid: the 1000B loop and the interchange receiver.

    ``id_qualifier``/``identifier`` are N103/N104 (also PLB01); ``references`` are the
    REF segments as (qualifier, value) pairs; ``interchange_qualifier``/``interchange_id``
    are ISA07/ISA08.
    """

    name: str
    id_qualifier: str
    identifier: str
    address: Address | None
    references: tuple[tuple[str, str], ...]
    interchange_qualifier: str
    interchange_id: str


@dataclass(frozen=True)
class Adjustment:
    """One CAS triplet: group code (CO, PR, OA), reason code and amount."""

    group: str
    reason: str
    amount: Decimal

    def negated(self) -> Adjustment:
        """The same adjustment with the opposite amount (for a reversal)."""
        return replace(self, amount=-self.amount)


@dataclass(frozen=True)
class ServicePayment:
    """One service line (2110): SVC, DTM*472, CAS and AMT*B6 when ``allowed`` is known."""

    qualifier: str
    procedure_code: str
    billed: Decimal
    paid: Decimal
    units: Decimal
    service_date: date | None
    allowed: Decimal | None
    adjustments: tuple[Adjustment, ...]

    def negated(self) -> ServicePayment:
        """The line as it appears in a reversal: money negated, units unchanged."""
        return replace(
            self,
            billed=-self.billed,
            paid=-self.paid,
            allowed=None if self.allowed is None else -self.allowed,
            adjustments=tuple(a.negated() for a in self.adjustments),
        )


@dataclass(frozen=True)
class ClaimPayment:
    """One claim (2100): CLP, NM1*QC, DTM*050, AMT*I and its service lines.

    ``interest`` is the prompt-pay interest on this claim, reported in AMT*I and paid
    through PLB L6 (it is not part of ``paid``).
    """

    patient_control_number: str
    status: str
    billed: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    filing_indicator: str
    payer_claim_id: str
    frequency_code: str | None
    patient_name: str | None
    member_id: str | None
    received_date: date | None
    interest: Decimal
    services: tuple[ServicePayment, ...]

    def reversal(self) -> ClaimPayment:
        """CLP02 22: every charge, payment and adjustment amount of this claim negated."""
        return replace(
            self,
            status=REVERSAL,
            billed=-self.billed,
            paid=-self.paid,
            patient_responsibility=-self.patient_responsibility,
            interest=ZERO,
            services=tuple(s.negated() for s in self.services),
        )


@dataclass(frozen=True)
class ProviderAdjustment:
    """One PLB adjustment: reason code (L6, WO, FB), optional reference and amount."""

    code: str
    reference: str | None
    amount: Decimal


@dataclass(frozen=True)
class Remittance:
    """One 835 transaction: the payment (BPR/TRN), the parties, claims and PLB adjustments.

    ``method`` is the BPR04 code: CHK, ACH or NON (no payment: a zero, notification-only
    remittance). ``trace_number`` is TRN02.
    """

    payment_event_id: str
    payment_center_id: int
    amount: Decimal
    method: str
    trace_number: str
    issue_date: date
    payer: Payer
    payee: Payee
    claims: tuple[ClaimPayment, ...]
    adjustments: tuple[ProviderAdjustment, ...]


def imbalances(remittance: Remittance) -> list[str]:
    """The balancing rules the remittance breaks, one sentence each (empty when balanced).

    Service: SVC02 - CAS = SVC03. Claim: CLP03 - CAS of its lines = CLP04 (claims with no
    lines balance when CLP03 = CLP04). Transaction: BPR02 = sum CLP04 - sum PLB amounts.
    """
    problems = []
    for claim in remittance.claims:
        for service in claim.services:
            adjusted = sum((a.amount for a in service.adjustments), ZERO)
            if service.billed - adjusted != service.paid:
                problems.append(
                    f"claim {claim.payer_claim_id} service {service.procedure_code}: "
                    f"{service.billed} - {adjusted} != {service.paid}"
                )
        adjusted = sum((a.amount for s in claim.services for a in s.adjustments), ZERO)
        if claim.billed - adjusted != claim.paid:
            problems.append(
                f"claim {claim.payer_claim_id}: {claim.billed} - {adjusted} != {claim.paid}"
            )
    paid = sum((c.paid for c in remittance.claims), ZERO)
    provider = sum((a.amount for a in remittance.adjustments), ZERO)
    if paid - provider != remittance.amount:
        problems.append(f"payment {remittance.amount} != claims {paid} - adjustments {provider}")
    return problems
