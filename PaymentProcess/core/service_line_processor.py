"""Line computation, claim roll-up and prompt-pay interest (spec section 6)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from PaymentProcess.data.models.claim import Claim, ClaimStatus, ServiceLine
from PaymentProcess.data.models.event import InterestTerms
from PaymentProcess.data.models.payment import ClaimPayment, LinePayment
from PaymentProcess.data.models.payment_center import PaymentCenterType, payee_key
from PaymentProcess.utils.money import CENT, ZERO, round_ratio


class ServiceLineProcessor:
    """Computes what each line, claim and chain pays for one payment event."""

    def __init__(
        self,
        payment_reduction_pct: Decimal,
        interest: InterestTerms,
        due_date: date,
        pc_type: PaymentCenterType,
    ) -> None:
        self.payment_reduction_pct = payment_reduction_pct
        self.interest = interest
        self.due_date = due_date
        self.pc_type = pc_type

    def compute_service_line(self, line: ServiceLine, denied: bool) -> tuple[LinePayment, bool]:
        """A line's reduction and paid; the flag says the patient share exceeded allowed."""
        if denied:
            reduction = paid = ZERO
            over_allowed = False
        else:
            line_paid = (
                line.allowed - line.deductible - line.coinsurance - line.copay - line.cob_paid
            )
            over_allowed = line_paid < 0
            if over_allowed:
                line_paid = ZERO
            reduction = (line_paid * self.payment_reduction_pct).scaleb(-2).quantize(
                CENT, rounding=ROUND_HALF_UP
            )
            paid = line_paid - reduction
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

    def apply_interest(self, net: Decimal, final_claim: ClaimPayment | None) -> Decimal:
        """Prompt-pay interest on a chain's positive net when its final version is approved."""
        if net <= 0 or final_claim is None or final_claim.claim_status != ClaimStatus.APPROVED:
            return ZERO
        late_days = (self.due_date - final_claim.received_date).days - self.interest.grace_days
        if late_days <= 0:
            return ZERO
        interest = round_ratio(net * self.interest.annual_rate_pct * late_days, 36500)
        return ZERO if interest < self.interest.min_interest else interest
