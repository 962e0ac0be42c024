"""The documents of record a run writes (spec section 3.2), built from computed results."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from bson.decimal128 import Decimal128
from hypothesis import given, settings
from hypothesis import strategies as st

from PaymentProcess.core import records
from PaymentProcess.core.claim_processor import ClaimTransformer
from PaymentProcess.core.settlement import PayeeSettlement, PayeeTotals, settle_payee
from PaymentProcess.data.models.event import InterestTerms
from PaymentProcess.data.models.over_under import OverUnderRecord
from PaymentProcess.data.models.payment import ChainInput, ChainResult, LedgerState, PaymentContext
from PaymentProcess.data.models.payment_center import (
    PayeeStatus,
    PaymentCenterType,
    PaymentMethod,
)
from PaymentProcess.data.models.stats import ValidationReport
from PaymentProcess.utils.money import cents_to_decimal, to_decimal128

D = Decimal
DUE = date(2026, 11, 20)
MIDNIGHT = datetime(2026, 11, 20)
KEY = "PROVIDER:741000001:1000000012"
ADDRESS = {"line1": "1 Main St", "city": "Dallas", "state": "TX", "zip": "75001"}
CONTEXT = PaymentContext(
    payment_event_id="PE-G1", pc_type=PaymentCenterType.PROVIDER, due_date=DUE,
    benefit_plan_ids=frozenset({"BP-100"}), payment_center_keys=None,
    payment_reduction_pct=D("2.00"), interest=InterestTerms(D("18.00"), 30, D("1.00")))


def line(allowed: str, billed: str, copay: str = "0.00", line_no: int = 1) -> dict[str, Any]:
    return {"line_no": line_no, "procedure_code": "99213", "units": 1,
            "service_date": datetime(2026, 8, 20), "billed": Decimal128(billed),
            "allowed": Decimal128(allowed), "deductible": Decimal128("0.00"),
            "coinsurance": Decimal128("0.00"), "copay": Decimal128(copay),
            "cob_paid": Decimal128("0.00")}


def claim(claim_id: str, parent: str, freq: str, lines: list[dict[str, Any]],
          **fields: Any) -> dict[str, Any]:
    return {"_id": claim_id, "ClaimCore_ID": claim_id, "PaymentEvent_ID": "PE-G1",
            "ClaimType": "PROFESSIONAL", "ClaimStatus": "APPROVED", "FrequencyCode": freq,
            "ParentClaimCore_ID": parent, "BenefitPlan_ID": "BP-100",
            "received_date": datetime(2026, 11, 1), "patient_control_number": f"PCN-{claim_id}",
            "NPI": "1000000012", "TIN": "741000001", "MemberID": f"M{claim_id[1:]}",
            "member": {"name": f"Pat {claim_id}"},
            "provider": {"name": "North Clinic PA", "address": ADDRESS},
            "service_lines": lines, **fields}


def chain(parent: str, documents: list[dict[str, Any]], state: LedgerState) -> ChainResult:
    owners = {claim_id: parent for claim_id in state.paid_claim_ids}
    return ClaimTransformer(CONTEXT).evaluate_chain(ChainInput(parent, tuple(documents), state),
                                                    owners, ValidationReport())


def golden_c9001() -> ChainResult:
    """Void-and-replace of the ledger version C9001 (golden payee 101)."""
    return chain("C9001", [
        claim("C9003", "C9001", "7", [line("100.00", "120.00", copay="2.00")],
              OriginalClaimCore_ID="C9001"),
        claim("C9002", "C9001", "8", [line("81.64", "90.00")], VoidClaimCore_ID="C9001"),
    ], LedgerState(D("80.00"), "C9001", True, 101, frozenset({"C9001"})))


def golden_c3001() -> ChainResult:
    return chain("C3001", [claim("C3002", "C3001", "8", [line("40.82", "50.00")],
                                 VoidClaimCore_ID="C3001")],
                 LedgerState(D("40.00"), "C3001", True, 102, frozenset({"C3001"})))


def assert_money_is_decimal128(document: Any, path: str = "") -> None:
    """No float anywhere; every Decimal128 has exactly two places."""
    assert not isinstance(document, float), path
    if isinstance(document, Decimal128):
        assert re.fullmatch(r"-?\d+\.\d\d", str(document)), (path, str(document))
    elif isinstance(document, dict):
        for key, value in document.items():
            assert not isinstance(value, Decimal), f"{path}.{key} is a Decimal"
            assert_money_is_decimal128(value, f"{path}.{key}")
    elif isinstance(document, list | tuple):
        for index, value in enumerate(document):
            assert_money_is_decimal128(value, f"{path}.{index}")


# --- ledger and PaymentInfo ----------------------------------------------------------------


def test_ledger_entry_of_a_void_and_replace() -> None:
    entry = records.ledger_entry("PE-G1", golden_c9001(), 101, DUE)
    assert entry == {
        "_id": "PE-G1:C9001", "ParentClaimCore_ID": "C9001", "PaymentEvent_ID": "PE-G1",
        "PaymentCenter_ID": 101, "ClaimCore_IDs": ["C9002", "C9003"],
        "final_ClaimCore_ID": "C9003", "benefit_amount": Decimal128("16.04"),
        "interest_amount": Decimal128("0.00"), "paid_date": MIDNIGHT,
    }
    assert_money_is_decimal128(entry)
    assert entry["paid_date"].tzinfo is None


def test_ledger_entry_of_a_void() -> None:
    entry = records.ledger_entry("PE-G1", golden_c3001(), 102, DUE)
    assert (entry["_id"], entry["final_ClaimCore_ID"], entry["PaymentCenter_ID"]) == (
        "PE-G1:C3001", None, 102)
    assert entry["benefit_amount"] == Decimal128("-40.00")
    assert entry["ClaimCore_IDs"] == ["C3002"]


def test_ledger_entry_id_is_deterministic() -> None:
    first = records.ledger_entry("PE-G1", golden_c9001(), 101, DUE)
    assert records.ledger_entry("PE-G1", golden_c9001(), 101, DUE) == first
    assert records.ledger_entry("PE-G2", golden_c9001(), 101, DUE)["_id"] == "PE-G2:C9001"


def test_payment_info_of_every_settled_claim() -> None:
    result = golden_c9001()
    infos = {c.claim_id: records.payment_info("PE-G1", result, c, 101) for c in result.claims}
    assert set(infos) == {"C9002", "C9003"}
    replacement = infos["C9003"]
    assert replacement == {
        "_id": "PE-G1:C9003", "PaymentEvent_ID": "PE-G1", "ClaimCore_ID": "C9003",
        "ParentClaimCore_ID": "C9001", "FrequencyCode": "7", "ClaimType": "PROFESSIONAL",
        "ClaimStatus": "APPROVED", "OriginalClaimCore_ID": "C9001", "VoidClaimCore_ID": None,
        "PaymentCenter_ID": 101, "payee_key": KEY, "patient_control_number": "PCN-C9003",
        "MemberID": "M9003", "member": {"name": "Pat C9003", "address": None},
        "received_date": datetime(2026, 11, 1), "in_force": True,
        "claim_billed": Decimal128("120.00"), "claim_allowed": Decimal128("100.00"),
        "claim_reduction": Decimal128("1.96"), "claim_paid": Decimal128("96.04"),
        "lines": [{"line_no": 1, "procedure_code": "99213", "units": 1,
                   "service_date": datetime(2026, 8, 20), "billed": Decimal128("120.00"),
                   "allowed": Decimal128("100.00"), "deductible": Decimal128("0.00"),
                   "coinsurance": Decimal128("0.00"), "copay": Decimal128("2.00"),
                   "cob_paid": Decimal128("0.00"), "reduction": Decimal128("1.96"),
                   "paid": Decimal128("96.04")}],
    }
    void = infos["C9002"]
    assert (void["in_force"], void["FrequencyCode"], void["VoidClaimCore_ID"]) == (
        False, "8", "C9001")
    assert (void["claim_paid"], void["lines"][0]["reduction"]) == (Decimal128("80.01"),
                                                                  Decimal128("1.63"))
    for info in infos.values():
        assert_money_is_decimal128(info)


def test_payment_info_of_a_voided_chain_has_nothing_in_force() -> None:
    result = golden_c3001()
    [info] = [records.payment_info("PE-G1", result, c, 102) for c in result.claims]
    assert (info["_id"], info["in_force"], info["claim_paid"]) == (
        "PE-G1:C3002", False, Decimal128("40.00"))


def test_payment_info_lines_keep_their_order_and_missing_fields() -> None:
    lines = [line("10.00", "10.00", line_no=2), line("0.25", "1.00", line_no=1)]
    del lines[1]["service_date"]
    del lines[1]["procedure_code"]
    result = chain("C1", [claim("C1", "C1", "1", lines)], LedgerState())
    info = records.payment_info("PE-G1", result, result.claims[0], 7)
    assert [(ln["line_no"], ln["procedure_code"], ln["service_date"], ln["paid"])
            for ln in info["lines"]] == [
        (2, "99213", datetime(2026, 8, 20), Decimal128("9.80")),
        (1, None, None, Decimal128("0.24"))]
    assert info["claim_paid"] == Decimal128("10.04")
    assert info["claim_reduction"] == Decimal128("0.21")


# --- settlements ---------------------------------------------------------------------------


def over_under(record_id: str, kind: str, remaining: str, created: date) -> OverUnderRecord:
    return OverUnderRecord.model_validate({
        "_id": record_id, "PaymentCenter_ID": 105, "type": kind, "reason": "RECOUPMENT",
        "total": Decimal128(remaining), "remaining": Decimal128(remaining), "status": "OPEN",
        "created_event_id": "PE-PRIOR", "created_date": datetime.combine(created,
                                                                         datetime.min.time())})


def settlement(pos: str, neg: str, status: PayeeStatus = PayeeStatus.ACTIVE,
               method: PaymentMethod = PaymentMethod.CHECK, records_: list | None = None,
               payee_id: int = 101, positive: tuple[str, ...] = (),
               negative: tuple[str, ...] = ()) -> PayeeSettlement:
    totals = PayeeTotals(pos=D(pos), neg=D(neg), chains=len(positive) + len(negative),
                         positive_chains=list(positive), negative_chains=list(negative))
    return settle_payee(KEY, payee_id, method, status, totals, records_ or [], "PE-G1",
                        D("5.00"))


def test_new_over_record() -> None:
    s = settlement("19.60", "40.00", payee_id=102, positive=("C4001",), negative=("C3001",))
    [over] = records.new_over_under("PE-G1", s, DUE)
    assert over == {
        "_id": "PE-G1:102:OVER", "PaymentCenter_ID": 102, "type": "OVER",
        "reason": "RECOUPMENT", "total": Decimal128("20.40"), "remaining": Decimal128("20.40"),
        "status": "OPEN", "created_event_id": "PE-G1", "created_date": MIDNIGHT,
        "applications": [], "references": ["C3001"],
    }
    assert_money_is_decimal128(over)


@pytest.mark.parametrize(("status", "pos", "reason"), [(PayeeStatus.HOLD, "49.00", "HOLD"),
                                                       (PayeeStatus.ACTIVE, "4.00",
                                                        "BELOW_MINIMUM")])
def test_new_under_record(status: PayeeStatus, pos: str, reason: str) -> None:
    s = settlement(pos, "0.00", status=status, payee_id=103, positive=("C5001",))
    [under] = records.new_over_under("PE-G1", s, DUE)
    assert under == {
        "_id": "PE-G1:103:UNDER", "PaymentCenter_ID": 103, "type": "UNDER", "reason": reason,
        "total": Decimal128(pos), "remaining": Decimal128(pos), "status": "OPEN",
        "created_event_id": "PE-G1", "created_date": MIDNIGHT, "applications": [],
        "references": ["C5001"],
    }


def test_no_new_record_for_a_disbursement_or_nothing() -> None:
    assert records.new_over_under("PE-G1", settlement("50.00", "0.00"), DUE) == []
    assert records.new_over_under("PE-G1", settlement("10.00", "10.00"), DUE) == []


def test_record_applications_unders_then_overs() -> None:
    records_ = [over_under("OU-5b", "OVER", "200.00", date(2026, 10, 15)),
                over_under("OU-5a", "OVER", "30.00", date(2026, 9, 1)),
                over_under("U-1", "UNDER", "3.00", date(2026, 11, 6))]
    s = settlement("97.00", "0.00", records_=records_, payee_id=105)
    applications = records.record_applications(s)
    assert applications == [
        {"_id": "U-1", "amount": Decimal128("3.00"), "remaining": Decimal128("0.00"),
         "status": "CLOSED"},
        {"_id": "OU-5a", "amount": Decimal128("30.00"), "remaining": Decimal128("0.00"),
         "status": "CLOSED"},
        {"_id": "OU-5b", "amount": Decimal128("70.00"), "remaining": Decimal128("130.00"),
         "status": "OPEN"},
    ]
    assert_money_is_decimal128(applications)


def test_check_payment() -> None:
    s = settlement("177.26", "29.44", records_=[over_under("OU-1", "OVER", "50.00",
                                                           date(2026, 10, 1))])
    s.number = 500120
    document = records.payment("PE-G1", s, DUE, "FS-G")
    assert document == {
        "_id": "PE-G1:101", "PaymentEvent_ID": "PE-G1", "PaymentCenter_ID": 101,
        "method": "CHECK", "number": 500120, "amount": Decimal128("97.82"),
        "issue_date": MIDNIGHT, "funding_source_id": "FS-G",
    }


def test_eft_payment() -> None:
    s = settlement("50.00", "0.00", method=PaymentMethod.EFT, payee_id=107)
    s.number = records.eft_trace("EFT", 7)
    document = records.payment("PE-G1", s, DUE, "FS-G")
    assert (document["_id"], document["method"], document["number"], document["amount"]) == (
        "PE-G1:107", "EFT", "EFT000000007", Decimal128("50.00"))


@pytest.mark.parametrize(
    ("prefix", "sequence", "expected"),
    [("EFT", 7, "EFT000000007"), ("EFT", 1, "EFT000000001"), ("", 42, "000000042"),
     ("TRN-", 0, "TRN-000000000"), ("EFT", 999999999, "EFT999999999"),
     ("EFT", 1234567890, "EFT1234567890")],
)
def test_eft_trace_zero_padding(prefix: str, sequence: int, expected: str) -> None:
    assert records.eft_trace(prefix, sequence) == expected


def test_settlement_figures() -> None:
    s = settlement("19.60", "40.00", method=PaymentMethod.EFT, payee_id=102,
                   records_=[over_under("OU-2", "UNDER", "3.00", date(2026, 11, 6))])
    figures = records.settlement_figures(s)
    assert figures == {
        "payee_key": KEY, "PaymentCenter_ID": 102, "method": "EFT", "payee_status": "ACTIVE",
        "chains": 0, "pos": Decimal128("19.60"), "neg": Decimal128("40.00"),
        "consumed_under": Decimal128("3.00"), "offset": Decimal128("22.60"),
        "over_offsets": Decimal128("0.00"), "amount": Decimal128("0.00"),
        "disbursed": Decimal128("0.00"), "new_over": Decimal128("17.40"),
        "new_under": Decimal128("0.00"), "outcome": "NONE",
        "under_consumed": [{"ou_id": "OU-2", "amount": Decimal128("3.00")}],
        "over_applied": [],
    }
    assert_money_is_decimal128(figures)


def test_ou_record_id() -> None:
    assert records.ou_record_id("PE-G1", 102, "OVER") == "PE-G1:102:OVER"


def test_new_payee_from_the_final_version() -> None:
    source = golden_c9001().payee_source
    assert source is not None
    assert records.new_payee(KEY, 200, PaymentCenterType.PROVIDER, dict(source)) == {
        "_id": 200, "key": KEY, "type": "PROVIDER", "vendor_name": "North Clinic PA",
        "tax_id": "741000001", "npi": "1000000012", "member_id": None, "address": ADDRESS,
        "payment_method": "CHECK", "status": "ACTIVE",
    }


def test_dates_are_naive_utc_midnights() -> None:
    assert records.as_datetime(date(2026, 2, 28)) == datetime(2026, 2, 28, 0, 0)
    assert records.as_datetime(None) is None


# --- store forms -------------------------------------------------------------------------


def _outcome(convert: Any, value: Decimal) -> tuple[str, Any]:
    try:
        return "ok", convert(value).bid
    except Exception as exc:  # the same exception type, whatever it is
        return "raises", type(exc)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.integers(-10**15 + 1, 10**15 - 1).map(cents_to_decimal),
                 st.decimals(allow_nan=False, allow_infinity=False, places=2,
                             min_value=-10**13, max_value=10**13),
                 st.decimals(allow_nan=True, allow_infinity=True),
                 st.sampled_from([Decimal("-0.00"), Decimal("0"), Decimal("-0"), Decimal("0E+5"),
                                  Decimal("-0E-7"), Decimal("1E+2"), Decimal("0.005"),
                                  Decimal("-0.004"), Decimal("0.015"), Decimal("1.005"),
                                  Decimal("184467440737095516.15"),
                                  Decimal("184467440737095516.16"), Decimal("-1E+26"),
                                  Decimal("1E+27"), Decimal("NaN"), Decimal("-NaN"),
                                  Decimal("sNaN"), Decimal("Infinity"),
                                  Decimal("-Infinity")])))
def test_amount_is_to_decimal128_byte_for_byte(value: Decimal) -> None:
    assert _outcome(records.amount, value) == _outcome(to_decimal128, value)


def test_amount_shares_one_zero_and_keeps_negative_zero() -> None:
    assert records.amount(D("0.00")) is records.amount(D("0"))
    assert records.amount(D("-0.00")).bid == to_decimal128(D("-0.00")).bid
    assert str(records.amount(D("-0.00"))) == "-0.00"
    # values rounding to zero keep their sign, whatever was converted before
    for value in ("-0.001", "0.001", "-0.004", "0.004", "-0.001"):
        assert records.amount(D(value)).bid == to_decimal128(D(value)).bid, value


def test_amount_shares_equal_amounts_and_its_cache_stays_bounded() -> None:
    assert records.amount(D("12.30")) is records.amount(D("12.3"))
    assert records.amount(D("-12.30")) is records.amount(D("-12.300"))
    assert records.amount(D("12.30")) is not records.amount(D("-12.30"))
    assert str(records.amount(D("12.345"))) == str(to_decimal128(D("12.345")))
    for cents in range(records._AMOUNTS_SIZE + 10):
        value = cents_to_decimal(cents + 1)
        assert records.amount(value).bid == to_decimal128(value).bid
    assert len(records._AMOUNTS) <= records._AMOUNTS_SIZE


def test_as_datetime_is_midnight_and_stays_bounded() -> None:
    assert records.as_datetime(None) is None
    assert records.as_datetime(date(2026, 2, 28)) == datetime(2026, 2, 28)
    assert records.as_datetime(datetime(2026, 2, 28, 13, 5)) == datetime(2026, 2, 28)
    assert type(records.as_datetime(date(2026, 3, 1))) is datetime
    for offset in range(records._DATETIMES_SIZE + 10):
        day = date.fromordinal(date(2000, 1, 1).toordinal() + offset)
        assert records.as_datetime(day) == datetime(day.year, day.month, day.day)
    assert len(records._DATETIMES) <= records._DATETIMES_SIZE


def test_payment_info_lines_list_their_amounts_in_order() -> None:
    result = golden_c9001()
    info = records.payment_info("PE-G1", result, result.claims[-1], 101)
    for stored, computed in zip(info["lines"], result.claims[-1].lines, strict=True):
        assert list(stored) == ["line_no", "procedure_code", "units", "service_date",
                                *records.LINE_AMOUNTS]
        assert all(stored[name].bid == to_decimal128(getattr(computed, name)).bid
                   for name in records.LINE_AMOUNTS)
