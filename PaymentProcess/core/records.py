"""The documents a run writes, built from computed results (spec section 3.2)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from bson.decimal128 import Decimal128

from PaymentProcess.core.plain_chain import CLAIM_FIELDS
from PaymentProcess.core.plain_lines import PlainClaim
from PaymentProcess.core.settlement import PayeeSettlement
from PaymentProcess.data.models.common import _party
from PaymentProcess.data.models.payment import ChainResult, ClaimPayment
from PaymentProcess.data.models.payment_center import PaymentCenterType
from PaymentProcess.utils.money import CENT, cents_to_decimal, to_decimal128

LINE_AMOUNTS = ("billed", "allowed", "deductible", "coinsurance", "copay", "cob_paid",
                "reduction", "paid")


_DATETIMES: dict[int, datetime] = {}  # by the day's ordinal
_DATETIMES_SIZE = 4096


def as_datetime(day: date | None) -> datetime | None:
    """A date as the BSON date at UTC midnight (naive, as pymongo returns it)."""
    return None if day is None else day_datetime(day.toordinal())


def day_datetime(ordinal: int) -> datetime:
    """The day of proleptic Gregorian ordinal ``ordinal`` at midnight (see :func:`as_datetime`).

    Dates repeat (service dates, the due date), so each is converted once; a datetime is
    immutable, so documents may share it.
    """
    midnight = _DATETIMES.get(ordinal)
    if midnight is None:
        if len(_DATETIMES) >= _DATETIMES_SIZE:
            _DATETIMES.clear()
        midnight = _DATETIMES[ordinal] = datetime.fromordinal(ordinal)
    return midnight


# BID encoding of a Decimal128 with exponent -2: the biased exponent in the high word.
_CENTS_HIGH = (6176 - 2) << 49
_NEGATIVE = 1 << 63
_ZERO = to_decimal128(Decimal("0.00"))


_AMOUNTS: dict[int, Decimal128] = {}  # non-zero cents -> their store form
_AMOUNTS_SIZE = 1 << 16


def amount(value: Decimal) -> Decimal128:
    """``to_decimal128(value)``, the same bytes, from the integer number of cents.

    A PaymentInfo has eight amounts a line, so this is the write phase's most frequent
    conversion: the text round trip of ``to_decimal128`` costs about three times as much.
    Equal amounts share one (immutable) Decimal128: zero, a third of all line amounts,
    and the amounts seen recently (a bounded cache), which saves the stored documents
    an object each and the collector a scan. Anything that is not a finite amount
    below 2^64 cents goes to ``to_decimal128`` itself.
    """
    if value.is_zero() and not value.is_signed():
        return _ZERO
    rounded = value.quantize(CENT)  # what to_decimal128 rounds to, raising as it does
    if not rounded.is_finite():
        return to_decimal128(value)
    cents = int(rounded.scaleb(2))
    if not cents:  # -0.00, or a non-zero value that rounds to zero: keep its sign
        return to_decimal128(value)
    return amount_cents(cents)


def amount_cents(cents: int) -> Decimal128:
    """The store form of an amount in integer cents: the bytes of ``to_decimal128`` of
    that amount, shared for equal amounts (see :func:`amount`)."""
    if not cents:
        return _ZERO
    stored = _AMOUNTS.get(cents)
    if stored is None:
        if abs(cents) >> 64:
            return to_decimal128(cents_to_decimal(cents))
        stored = Decimal128((_NEGATIVE | _CENTS_HIGH, -cents) if cents < 0
                            else (_CENTS_HIGH, cents))
        if len(_AMOUNTS) >= _AMOUNTS_SIZE:
            _AMOUNTS.clear()
        _AMOUNTS[cents] = stored
    return stored


def ledger_entry(payment_event_id: str, chain: ChainResult, payee_id: int,
                 paid_date: date) -> dict[str, Any]:
    """``ClaimFinCore`` entry of one chain for this event."""
    return {
        "_id": f"{payment_event_id}:{chain.parent_id}",
        "ParentClaimCore_ID": chain.parent_id,
        "PaymentEvent_ID": payment_event_id,
        "PaymentCenter_ID": payee_id,
        "ClaimCore_IDs": list(chain.claim_ids),
        "final_ClaimCore_ID": chain.final_claim_id,
        "benefit_amount": amount(chain.net),
        "interest_amount": amount(chain.interest),
        "paid_date": as_datetime(paid_date),
    }


def payment_info(payment_event_id: str, chain: ChainResult, claim: ClaimPayment | PlainClaim,
                 payee_id: int) -> dict[str, Any]:
    """``PaymentInfo`` of one settled claim with its computed lines: from the claim model's
    payment, or from a plain claim's cents (pass 2's fast path), the same document."""
    if type(claim) is PlainClaim:
        return _plain_payment_info(payment_event_id, chain, claim, payee_id)
    return _payment_info(
        payment_event_id, chain, payee_id, claim.claim_id, claim.frequency_code,
        claim.claim_type, claim.claim_status, claim.original_claim_id, claim.void_claim_id,
        claim.payee_key, claim.patient_control_number, claim.member_id,
        dict(claim.member) if claim.member is not None else None,
        as_datetime(claim.received_date), amount(claim.billed), amount(claim.allowed),
        amount(claim.reduction), amount(claim.paid),
        [_line(line.line_no, line.procedure_code, line.units, as_datetime(line.service_date),
               # LINE_AMOUNTS, in that order
               amount(line.billed), amount(line.allowed), amount(line.deductible),
               amount(line.coinsurance), amount(line.copay), amount(line.cob_paid),
               amount(line.reduction), amount(line.paid))
         for line in claim.lines])


_PLAIN_CLAIM_FIELDS = itemgetter(*map(CLAIM_FIELDS.index, (
    "ClaimCore_ID", "FrequencyCode", "ClaimType", "ClaimStatus", "OriginalClaimCore_ID",
    "VoidClaimCore_ID", "patient_control_number", "MemberID", "member", "received_date",
    "service_lines")))


def _plain_payment_info(payment_event_id: str, chain: ChainResult, claim: PlainClaim,
                        payee_id: int) -> dict[str, Any]:
    (claim_id, frequency_code, claim_type, claim_status, original_id, void_id, control_number,
     member_id, member, received_day, lines) = _PLAIN_CLAIM_FIELDS(claim.read)
    return _payment_info(
        payment_event_id, chain, payee_id, claim_id, frequency_code, claim_type, claim_status,
        original_id, void_id, claim.payee_key, control_number, member_id, _party(member),
        day_datetime(received_day), amount_cents(claim.billed), amount_cents(claim.allowed),
        amount_cents(claim.reduction), amount_cents(claim.paid),
        [_line(line_no, code, units, None if day is None else day_datetime(day),
               amount_cents(billed), amount_cents(allowed), amount_cents(deductible),
               amount_cents(coinsurance), amount_cents(copay), amount_cents(cob_paid),
               amount_cents(reduction), amount_cents(paid))
         for (line_no, code, units, day, billed, allowed, deductible, coinsurance, copay,
              cob_paid), (reduction, paid) in zip(lines, claim.payments, strict=True)])


def _payment_info(payment_event_id: str, chain: ChainResult, payee_id: int, claim_id: str,
                  frequency_code: str, claim_type: str, claim_status: str,
                  original_id: str | None, void_id: str | None, key: str | None,
                  control_number: str | None, member_id: str | None,
                  member: dict[str, Any] | None, received: datetime | None,
                  billed: Decimal128, allowed: Decimal128, reduction: Decimal128,
                  paid: Decimal128, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``PaymentInfo`` document of a claim whose values are in their store form."""
    return {
        "_id": f"{payment_event_id}:{claim_id}",
        "PaymentEvent_ID": payment_event_id,
        "ClaimCore_ID": claim_id,
        "ParentClaimCore_ID": chain.parent_id,
        "FrequencyCode": frequency_code,
        "ClaimType": claim_type,
        "ClaimStatus": claim_status,
        "OriginalClaimCore_ID": original_id,
        "VoidClaimCore_ID": void_id,
        "PaymentCenter_ID": payee_id,
        "payee_key": key,
        "patient_control_number": control_number,
        "MemberID": member_id,
        "member": member,
        "received_date": received,
        "in_force": claim_id == chain.final_claim_id,
        "claim_billed": billed,
        "claim_allowed": allowed,
        "claim_reduction": reduction,
        "claim_paid": paid,
        "lines": lines,
    }


def _line(line_no: int | None, procedure_code: str | None, units: Any,
          service_date: datetime | None, billed: Decimal128, allowed: Decimal128,
          deductible: Decimal128, coinsurance: Decimal128, copay: Decimal128,
          cob_paid: Decimal128, reduction: Decimal128, paid: Decimal128) -> dict[str, Any]:
    """A ``PaymentInfo`` line whose values are in their store form."""
    return {"line_no": line_no, "procedure_code": procedure_code, "units": units,
            "service_date": service_date, "billed": billed, "allowed": allowed,
            "deductible": deductible, "coinsurance": coinsurance, "copay": copay,
            "cob_paid": cob_paid, "reduction": reduction, "paid": paid}


def new_payee(key: str, payee_id: int | None, pc_type: PaymentCenterType,
              source: dict[str, Any]) -> dict[str, Any]:
    """A payee created from the final version's provider or member data."""
    return {
        "_id": payee_id,
        "key": key,
        "type": pc_type.value,
        "vendor_name": source.get("vendor_name"),
        "tax_id": source.get("tax_id"),
        "npi": source.get("npi"),
        "member_id": source.get("member_id"),
        "address": source.get("address"),
        "payment_method": "CHECK",
        "status": "ACTIVE",
    }


def settlement_figures(settlement: PayeeSettlement) -> dict[str, Any]:
    """The per-payee figures shared by the dry run's estimate and the final settlement."""
    money = {
        "pos": settlement.totals.pos, "neg": settlement.totals.neg,
        "consumed_under": settlement.consumed_under, "offset": settlement.offset,
        "over_offsets": settlement.over_offsets, "amount": settlement.amount,
        "disbursed": settlement.disbursed, "new_over": settlement.new_over,
        "new_under": settlement.new_under,
    }
    return {
        "payee_key": settlement.key,
        "PaymentCenter_ID": settlement.payee_id,
        "method": settlement.method.value,
        "payee_status": settlement.payee_status.value,
        "chains": settlement.totals.chains,
        **{name: to_decimal128(value) for name, value in money.items()},
        "outcome": settlement.outcome,
        "under_consumed": [{"ou_id": c.record_id, "amount": to_decimal128(c.amount)}
                           for c in settlement.under_consumed],
        "over_applied": [{"ou_id": c.record_id, "amount": to_decimal128(c.amount)}
                         for c in settlement.over_applied],
    }


def ou_record_id(payment_event_id: str, payee_id: int, kind: str) -> str:
    """Deterministic id of a record created by this event."""
    return f"{payment_event_id}:{payee_id}:{kind}"


def new_over_under(payment_event_id: str, settlement: PayeeSettlement,
                   created: date) -> list[dict[str, Any]]:
    """The OVER and/or UNDER records a settlement creates."""
    records = []
    for kind, amount, reason, references in (
        ("OVER", settlement.new_over, "RECOUPMENT", settlement.totals.negative_chains),
        ("UNDER", settlement.new_under, settlement.under_reason,
         settlement.totals.positive_chains),
    ):
        if amount > 0:
            records.append({
                "_id": ou_record_id(payment_event_id, settlement.payee_id, kind),
                "PaymentCenter_ID": settlement.payee_id, "type": kind, "reason": reason,
                "total": to_decimal128(amount), "remaining": to_decimal128(amount),
                "status": "OPEN", "created_event_id": payment_event_id,
                "created_date": as_datetime(created), "applications": [],
                "references": list(references),
            })
    return records


def record_applications(settlement: PayeeSettlement) -> list[dict[str, Any]]:
    """This event's changes to existing O/U records of a payee."""
    return [
        {"_id": change.record_id, "amount": to_decimal128(change.amount),
         "remaining": to_decimal128(change.remaining),
         "status": "CLOSED" if change.remaining == 0 else "OPEN"}
        for change in settlement.under_consumed + settlement.over_applied
    ]


def payment(payment_event_id: str, settlement: PayeeSettlement, issue_date: date,
            funding_source_id: str) -> dict[str, Any]:
    """A disbursement (``Payments``)."""
    return {
        "_id": f"{payment_event_id}:{settlement.payee_id}",
        "PaymentEvent_ID": payment_event_id,
        "PaymentCenter_ID": settlement.payee_id,
        "method": settlement.method.value,
        "number": settlement.number,
        "amount": to_decimal128(settlement.disbursed),
        "issue_date": as_datetime(issue_date),
        "funding_source_id": funding_source_id,
    }


def eft_trace(prefix: str, sequence: int) -> str:
    """EFT trace number: prefix + the sequence zero-padded to 9 digits."""
    return f"{prefix}{sequence:09d}"

