"""Settling a payee: offsets, O/U consumption and recoupment, disbursement (spec section 7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from PaymentProcess.data.models.over_under import OverUnderRecord, OverUnderType
from PaymentProcess.data.models.payment_center import PayeeStatus, PaymentMethod
from PaymentProcess.utils.money import ZERO

MAX_REFERENCES = 1000


@dataclass(slots=True)
class PayeeTotals:
    """What a payee's included chains add up to in this event."""

    pos: Decimal = ZERO
    neg: Decimal = ZERO
    chains: int = 0
    positive_chains: list[str] = field(default_factory=list)
    negative_chains: list[str] = field(default_factory=list)

    def add_chain(self, parent_id: str, net: Decimal, interest: Decimal) -> None:
        """Count one chain: positive nets (with interest) pay, negative nets are owed back."""
        self.chains += 1
        if net > 0:
            self.pos += net + interest
            if len(self.positive_chains) < MAX_REFERENCES:
                self.positive_chains.append(parent_id)
        elif net < 0:
            self.neg -= net
            if len(self.negative_chains) < MAX_REFERENCES:
                self.negative_chains.append(parent_id)

    def merge(self, other: PayeeTotals) -> None:
        """Fold in chains of the same payee found by id (voided chains) instead of key."""
        self.pos += other.pos
        self.neg += other.neg
        self.chains += other.chains
        self.positive_chains = sorted(self.positive_chains + other.positive_chains)[:MAX_REFERENCES]
        self.negative_chains = sorted(self.negative_chains + other.negative_chains)[:MAX_REFERENCES]


@dataclass(frozen=True, slots=True)
class RecordChange:
    """One application to an existing O/U record: amount taken, what remains."""

    record_id: str
    amount: Decimal
    remaining: Decimal


@dataclass(slots=True)
class PayeeSettlement:
    """A payee's settlement for the event; conservation holds by construction."""

    key: str
    payee_id: int | None
    method: PaymentMethod
    payee_status: PayeeStatus
    totals: PayeeTotals
    consumed_under: Decimal = ZERO
    under_consumed: list[RecordChange] = field(default_factory=list)
    offset: Decimal = ZERO
    new_over: Decimal = ZERO
    over_offsets: Decimal = ZERO
    over_applied: list[RecordChange] = field(default_factory=list)
    amount: Decimal = ZERO
    new_under: Decimal = ZERO
    under_reason: str | None = None
    disbursed: Decimal = ZERO
    number: int | str | None = None

    @property
    def outcome(self) -> str:
        """DISBURSED, HELD, BELOW_MINIMUM or NONE."""
        if self.disbursed > 0:
            return "DISBURSED"
        if self.under_reason == "HOLD":
            return "HELD"
        return self.under_reason or "NONE"


def settle_payee(
    key: str,
    payee_id: int | None,
    method: PaymentMethod,
    payee_status: PayeeStatus,
    totals: PayeeTotals,
    open_records: list[OverUnderRecord],
    payment_event_id: str,
    min_payment_amount: Decimal,
) -> PayeeSettlement:
    """Apply spec section 7 to one payee."""
    settlement = PayeeSettlement(key, payee_id, method, payee_status, totals)
    ordered = sorted(open_records, key=OverUnderRecord.sort_key)
    available = totals.pos
    for record in ordered:
        if record.type is OverUnderType.UNDER and record.remaining > 0:
            settlement.under_consumed.append(RecordChange(record.id, record.remaining, ZERO))
            settlement.consumed_under += record.remaining
            available += record.remaining
    settlement.offset = min(available, totals.neg)
    available -= settlement.offset
    settlement.new_over = totals.neg - settlement.offset
    for record in ordered:
        if (record.type is OverUnderType.OVER and record.created_event_id != payment_event_id
                and record.remaining > 0 and available > 0):
            applied = min(available, record.remaining)
            available -= applied
            settlement.over_offsets += applied
            settlement.over_applied.append(
                RecordChange(record.id, applied, record.remaining - applied))
    settlement.amount = available
    if available > 0:
        if payee_status is PayeeStatus.HOLD:
            settlement.under_reason = "HOLD"
        elif available < min_payment_amount:
            settlement.under_reason = "BELOW_MINIMUM"
        if settlement.under_reason:
            settlement.new_under = available
        else:
            settlement.disbursed = available
    return settlement
