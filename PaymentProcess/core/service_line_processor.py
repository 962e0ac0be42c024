"""Line computation, claim roll-up and prompt-pay interest (spec section 6).

The rules themselves are :func:`line_cents` and :func:`interest_cents`, in exact integer
cents: the chain fast path (:mod:`PaymentProcess.core.plain_chain`) calls them on the
amounts it reads from the documents, :class:`ServiceLineProcessor` on the amounts of the
claim model.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from PaymentProcess.data.models.claim import Claim, ClaimStatus, ServiceLine
from PaymentProcess.data.models.event import InterestTerms
from PaymentProcess.data.models.payment import ClaimPayment, LinePayment
from PaymentProcess.data.models.payment_center import PaymentCenterType, payee_key
from PaymentProcess.utils.money import ZERO, cents_to_decimal, decimal_cents, half_up_ratio

PERCENT_CENTS = 100 * 100  # a percentage in cents (2.00 % is 200) over a whole
DAYS_A_YEAR_PERCENT_CENTS = 36500 * 100  # annual rate in cents (18.00 % is 1800), by the day


def line_cents(allowed: int, deductible: int, coinsurance: int, copay: int, cob_paid: int,
               reduction_pct_cents: int) -> tuple[int, int, bool]:
    """A line's (reduction, paid, over_allowed) in cents for an approved claim (spec 6).

    paid = allowed - deductible - coinsurance - copay - cob_paid, floored at 0 (the flag
    says it was below: ``OVER_ALLOWED``); the payment reduction is paid × pct / 100
    rounded to cents half up, and is taken off paid.
    """
    paid = allowed - deductible - coinsurance - copay - cob_paid
    over_allowed = paid < 0
    if over_allowed:
        paid = 0
    reduction = half_up_ratio(paid * reduction_pct_cents, PERCENT_CENTS)
    return reduction, paid - reduction, over_allowed


def interest_cents(net: int, annual_rate_cents: int, late_days: int, min_interest: int) -> int:
    """Prompt-pay interest in cents on a positive net paid ``late_days`` late (spec 6).

    net × rate / 100 × late_days / 365, rounded to cents half up once; below the
    minimum it is zero.
    """
    if net <= 0 or late_days <= 0:
        return 0
    interest = half_up_ratio(net * annual_rate_cents * late_days, DAYS_A_YEAR_PERCENT_CENTS)
    return 0 if interest < min_interest else interest


class ServiceLineProcessor:
    """Computes what each line, claim and chain pays for one payment event."""

    def __init__(
        self,
        payment_reduction_pct: Decimal,
        interest: InterestTerms,
        due_date: date,
        pc_type: PaymentCenterType,
    ) -> None:
        self.pc_type = pc_type
        self.reduction_pct_cents = decimal_cents(payment_reduction_pct)
        self.annual_rate_cents = decimal_cents(interest.annual_rate_pct)
        self.min_interest_cents = decimal_cents(interest.min_interest)
        # late days = due date - date of receipt - grace days, in days since 1 January 1
        self.grace_end_day = due_date.toordinal() - interest.grace_days

    def chain_interest(self, net: int, approved: bool, received_day: int | None) -> int:
        """Interest in cents on a chain's net when its final version is approved;
        ``received_day`` is the date of receipt as an ordinal (``date.toordinal()``)."""
        if net <= 0 or not approved or received_day is None:
            return 0
        return interest_cents(net, self.annual_rate_cents, self.grace_end_day - received_day,
                              self.min_interest_cents)

    def compute_service_line(self, line: ServiceLine, denied: bool) -> tuple[LinePayment, bool]:
        """A line's reduction and paid; the flag says the patient share exceeded allowed."""
        if denied:
            reduction = paid = ZERO
            over_allowed = False
        else:
            reduction_cents, paid_cents, over_allowed = line_cents(
                decimal_cents(line.allowed), decimal_cents(line.deductible),
                decimal_cents(line.coinsurance), decimal_cents(line.copay),
                decimal_cents(line.cob_paid), self.reduction_pct_cents)
            reduction, paid = cents_to_decimal(reduction_cents), cents_to_decimal(paid_cents)
        payment = LinePayment(
            line.line_no,
            line.procedure_code,
            line.units,
            line.service_date,
            line.billed,
            line.allowed,
            line.deductible,
            line.coinsurance,
            line.copay,
            line.cob_paid,
            reduction,
            paid,
        )
        return payment, over_allowed

    def rollup_to_claim(self, claim: Claim) -> tuple[ClaimPayment, bool]:
        """Compute every line of a claim and sum them; the flag reports OVER_ALLOWED."""
        denied = claim.ClaimStatus is ClaimStatus.DENIED
        lines = []
        any_over_allowed = False
        billed = allowed = reduction = paid = ZERO
        for line in claim.service_lines:
            payment, over_allowed = self.compute_service_line(line, denied)
            lines.append(payment)
            any_over_allowed |= over_allowed
            billed += payment.billed
            allowed += payment.allowed
            reduction += payment.reduction
            paid += payment.paid
        claim_payment = ClaimPayment(
            claim_id=claim.ClaimCore_ID,
            document_id=claim.id,
            frequency_code=claim.FrequencyCode or "",
            claim_type=claim.ClaimType.value,
            claim_status=claim.ClaimStatus.value,
            original_claim_id=claim.OriginalClaimCore_ID,
            void_claim_id=claim.VoidClaimCore_ID,
            received_date=claim.received_date,
            patient_control_number=claim.patient_control_number,
            member_id=claim.MemberID,
            member=claim.member,
            payee_key=payee_key(self.pc_type, claim.TIN, claim.NPI, claim.MemberID),
            lines=tuple(lines),
            billed=billed,
            allowed=allowed,
            reduction=reduction,
            paid=paid,
        )
        return claim_payment, any_over_allowed
