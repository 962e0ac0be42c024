"""Line, claim and interest computation (spec section 6) with exact figures."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from bson.decimal128 import Decimal128
from hypothesis import given, settings
from hypothesis import strategies as st

from PaymentProcess.core.service_line_processor import ServiceLineProcessor
from PaymentProcess.data.models.claim import Claim, ServiceLine
from PaymentProcess.data.models.event import Business, InterestRules, InterestTerms
from PaymentProcess.data.models.payment_center import PaymentCenterType
from PaymentProcess.utils.money import cents_to_decimal, decimal_cents
from tests.conftest import GOLDEN_STORE, read_store

DUE = date(2026, 11, 20)
GOLDEN_TERMS = InterestTerms(Decimal("18.00"), 30, Decimal("1.00"))
D = Decimal


def processor(pct: str = "2.00", terms: InterestTerms = GOLDEN_TERMS, due: date = DUE,
              pc_type: PaymentCenterType = PaymentCenterType.PROVIDER) -> ServiceLineProcessor:
    return ServiceLineProcessor(Decimal(pct), terms, due, pc_type)


def service_line(allowed: str, deductible: str = "0.00", coinsurance: str = "0.00",
                 copay: str = "0.00", cob_paid: str = "0.00", billed: str = "999.00",
                 **extra: Any) -> dict[str, Any]:
    amounts = {"billed": billed, "allowed": allowed, "deductible": deductible,
               "coinsurance": coinsurance, "copay": copay, "cob_paid": cob_paid}
    return {**{k: Decimal128(v) for k, v in amounts.items()}, **extra}


def claim(lines: list[dict[str, Any]], status: str = "APPROVED", received: date = date(2026, 9, 1),
          claim_id: str = "C1", **fields: Any) -> Claim:
    return Claim.model_validate({
        "_id": claim_id, "ClaimCore_ID": claim_id, "PaymentEvent_ID": "PE-1",
        "ClaimType": "PROFESSIONAL", "ClaimStatus": status, "FrequencyCode": "1",
        "ParentClaimCore_ID": claim_id, "received_date": datetime.combine(received,
                                                                          datetime.min.time()),
        "NPI": "1000000012", "TIN": "741000001", "MemberID": "M1",
        "service_lines": lines, **fields,
    })


def compute(allowed: str, pct: str = "2.00", denied: bool = False, **shares: str):
    line = ServiceLine.model_validate(service_line(allowed, **shares))
    return processor(pct).compute_service_line(line, denied)


# --- lines ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "shares", "pct", "reduction", "paid"),
    [
        ("150.00", {"coinsurance": "30.00"}, "2.00", "2.40", "117.60"),  # C1001 line 1
        ("65.55", {"deductible": "10.00", "copay": "15.00"}, "2.00", "0.81", "39.74"),
        ("100.00", {"deductible": "1.00", "coinsurance": "2.00", "copay": "3.00",
                    "cob_paid": "4.00"}, "0.00", "0.00", "90.00"),
        ("100.00", {"cob_paid": "100.00"}, "2.00", "0.00", "0.00"),
        ("0.25", {}, "2.00", "0.01", "0.24"),  # 0.005 exactly: half up
        ("0.75", {}, "2.00", "0.02", "0.73"),  # 0.015 exactly
        ("0.24", {}, "2.00", "0.00", "0.24"),  # 0.0048
        ("0.74", {}, "2.00", "0.01", "0.73"),  # 0.0148
        ("1.50", {}, "33.33", "0.50", "1.00"),  # 0.49995
        ("1.49", {}, "33.33", "0.50", "0.99"),  # 0.496617
        ("2.25", {"copay": "2.00"}, "2.00", "0.01", "0.24"),  # half up after the shares
        ("81.64", {}, "2.00", "1.63", "80.01"),
        ("40.82", {}, "2.00", "0.82", "40.00"),
        ("102.04", {}, "2.00", "2.04", "100.00"),
        ("123.45", {}, "100.00", "123.45", "0.00"),
        ("123.45", {}, "0.01", "0.01", "123.44"),  # 0.012345
        ("0.01", {}, "50.00", "0.01", "0.00"),  # 0.005 exactly
        ("9999999999999.99", {}, "2.00", "200000000000.00", "9799999999999.99"),
    ],
)
def test_line_paid_reduction_and_paid(allowed: str, shares: dict[str, str], pct: str,
                                      reduction: str, paid: str) -> None:
    payment, over_allowed = compute(allowed, pct, **shares)
    assert over_allowed is False
    assert str(payment.reduction) == reduction
    assert str(payment.paid) == paid
    assert payment.allowed == D(allowed)


def test_line_keeps_its_amounts_and_identity() -> None:
    line = ServiceLine.model_validate(service_line(
        "65.55", deductible="10.00", copay="15.00", billed="80.00", line_no=2,
        procedure_code="99213", units=3, service_date=datetime(2026, 8, 20)))
    payment, _ = processor().compute_service_line(line, False)
    assert (payment.line_no, payment.procedure_code, payment.units) == (2, "99213", 3)
    assert payment.service_date == date(2026, 8, 20)
    assert (payment.billed, payment.allowed, payment.deductible, payment.coinsurance,
            payment.copay, payment.cob_paid) == (D("80.00"), D("65.55"), D("10.00"), D("0.00"),
                                                 D("15.00"), D("0.00"))


@pytest.mark.parametrize(
    ("allowed", "shares"),
    [
        ("20.00", {"deductible": "15.00", "copay": "10.00"}),  # C6001 line 2
        ("0.00", {"cob_paid": "0.01"}),
        ("50.00", {"coinsurance": "25.00", "copay": "25.00", "cob_paid": "0.01"}),
    ],
)
def test_over_allowed_floors_at_zero_and_flags(allowed: str, shares: dict[str, str]) -> None:
    payment, over_allowed = compute(allowed, "2.00", **shares)
    assert over_allowed is True
    assert payment.paid == 0
    assert payment.reduction == 0
    assert str(payment.paid) == "0.00"


def test_patient_share_equal_to_allowed_is_not_over_allowed() -> None:
    payment, over_allowed = compute("50.00", "2.00", coinsurance="25.00", copay="25.00")
    assert over_allowed is False
    assert payment.paid == 0


@pytest.mark.parametrize("shares", [{}, {"deductible": "999.00"}])
def test_denied_pays_nothing_and_reduces_nothing(shares: dict[str, str]) -> None:
    payment, over_allowed = compute("150.00", "2.00", denied=True, **shares)
    assert (str(payment.reduction), str(payment.paid)) == ("0.00", "0.00")
    assert over_allowed is False
    assert payment.allowed == D("150.00")


@settings(max_examples=300, deadline=None)
@given(
    cents=st.lists(st.integers(0, 10**9), min_size=6, max_size=6),
    pct_hundredths=st.integers(0, 10000),
)
def test_line_rules_hold_for_any_amounts(cents: list[int], pct_hundredths: int) -> None:
    allowed, deductible, coinsurance, copay, cob_paid, billed = (
        str(Decimal(c).scaleb(-2)) for c in cents)
    pct = str(Decimal(pct_hundredths).scaleb(-2))
    payment, over_allowed = compute(allowed, pct, deductible=deductible, coinsurance=coinsurance,
                                    copay=copay, cob_paid=cob_paid, billed=billed)
    line_paid_cents = max(0, cents[0] - sum(cents[1:5]))
    assert over_allowed is (cents[0] - sum(cents[1:5]) < 0)
    # reduction = round_half_up(line_paid * pct / 100) in cents, computed with integers
    exact = Fraction(line_paid_cents * pct_hundredths, 10000)
    expected_reduction = int(exact) + (1 if exact - int(exact) >= Fraction(1, 2) else 0)
    assert payment.reduction == Decimal(expected_reduction).scaleb(-2)
    assert payment.paid + payment.reduction == Decimal(line_paid_cents).scaleb(-2)
    assert payment.paid >= 0
    assert payment.paid.as_tuple().exponent == -2
    assert payment.reduction.as_tuple().exponent == -2


# --- claims --------------------------------------------------------------------------------


def test_rollup_sums_the_lines() -> None:
    c1001 = claim([service_line("150.00", coinsurance="30.00", billed="200.00"),
                   service_line("65.55", deductible="10.00", copay="15.00", billed="80.00")],
                  claim_id="C1001", patient_control_number="PCN-C1001",
                  member={"name": "Pat"})
    payment, over_allowed = processor().rollup_to_claim(c1001)
    assert over_allowed is False
    assert [str(line.paid) for line in payment.lines] == ["117.60", "39.74"]
    assert (str(payment.billed), str(payment.allowed), str(payment.reduction),
            str(payment.paid)) == ("280.00", "215.55", "3.21", "157.34")
    assert payment.claim_id == "C1001" and payment.document_id == "C1001"
    assert (payment.frequency_code, payment.claim_type, payment.claim_status) == (
        "1", "PROFESSIONAL", "APPROVED")
    assert payment.payee_key == "PROVIDER:741000001:1000000012"
    assert payment.received_date == date(2026, 9, 1)
    assert payment.patient_control_number == "PCN-C1001"
    assert payment.member == {"name": "Pat", "address": None}  # validated party, every field


def test_rollup_flags_any_over_allowed_line() -> None:
    c6001 = claim([service_line("300.00", coinsurance="60.00"),
                   service_line("20.00", deductible="15.00", copay="10.00")], claim_id="C6001")
    payment, over_allowed = processor().rollup_to_claim(c6001)
    assert over_allowed is True
    assert [str(line.paid) for line in payment.lines] == ["235.20", "0.00"]
    assert str(payment.paid) == "235.20"
    assert str(payment.reduction) == "4.80"


def test_denied_claim_rolls_up_to_zero_without_over_allowed() -> None:
    denied = claim([service_line("300.00"), service_line("20.00", deductible="25.00")],
                   status="DENIED")
    payment, over_allowed = processor().rollup_to_claim(denied)
    assert over_allowed is False
    assert (str(payment.paid), str(payment.reduction)) == ("0.00", "0.00")
    assert str(payment.allowed) == "320.00"
    assert payment.claim_status == "DENIED"


def test_rollup_of_a_claim_without_lines_is_zero() -> None:
    payment, over_allowed = processor().rollup_to_claim(claim([]))
    assert (str(payment.paid), str(payment.billed), payment.lines) == ("0.00", "0.00", ())
    assert over_allowed is False


def test_payee_key_by_event_type() -> None:
    c = claim([service_line("10.00")], MemberID="M77")
    assert processor(pc_type=PaymentCenterType.DMR).rollup_to_claim(c)[0].payee_key == "DMR:M77"
    no_member = claim([service_line("10.00")], MemberID=None)
    assert processor(pc_type=PaymentCenterType.DMR).rollup_to_claim(no_member)[0].payee_key \
        is None
    no_npi = claim([service_line("10.00")], NPI=None)
    assert processor().rollup_to_claim(no_npi)[0].payee_key is None


def test_every_golden_claim_paid(expected: dict[str, Any]) -> None:
    documents = {d["ClaimCore_ID"]: d for d in read_store(GOLDEN_STORE)["ClaimWSCore"]
                 if d["PaymentEvent_ID"] == "PE-G1"}
    calculator = processor("2.00")
    got = {claim_id: str(calculator.rollup_to_claim(Claim.model_validate(documents[claim_id]))[0]
                         .paid)
           for claim_id in expected["PE-G1"]["claim_paid"]}
    assert got == expected["PE-G1"]["claim_paid"]


# --- interest ------------------------------------------------------------------------------


def apply_interest(calculator: ServiceLineProcessor, net: Decimal, final) -> Decimal:
    """A chain's interest as the engine computes it, from its net and version in force."""
    if final is None:
        return cents_to_decimal(0)
    return cents_to_decimal(calculator.chain_interest(
        decimal_cents(net), final.claim_status == "APPROVED", final.received_date.toordinal()))


def final_version(received: date, status: str = "APPROVED"):
    return processor().rollup_to_claim(claim([service_line("10.00")], status=status,
                                             received=received))[0]


@pytest.mark.parametrize(
    ("net", "received", "expected"),
    [
        ("157.34", date(2026, 9, 1), "3.88"),  # C1001: 80 days, 50 late
        ("235.20", date(2026, 10, 5), "1.86"),  # C6001: 46 days, 16 late
        ("16.04", date(2026, 11, 1), "0.00"),  # C9003: within grace
        ("10000.00", date(2026, 10, 21), "0.00"),  # 30 days: late_days 0
        ("10000.00", date(2026, 10, 20), "4.93"),  # 31 days: 1 late day = 4.9315...
        ("10000.00", date(2026, 11, 20), "0.00"),  # received on the due date
        ("10000.00", date(2026, 12, 1), "0.00"),  # received after the due date
        ("1000.00", date(2025, 11, 20), "165.21"),  # 365 days, 335 late: 165.2055...
        ("2000.00", date(2026, 10, 19), "1.97"),  # 2 late days: 1.9726...
    ],
)
def test_interest(net: str, received: date, expected: str) -> None:
    interest = apply_interest(processor(), D(net), final_version(received))
    assert str(interest) == expected


def test_interest_rounds_half_up_at_exactly_half_a_cent() -> None:
    terms = InterestTerms(Decimal("1.00"), 0, Decimal("0.00"))
    calculator = processor(terms=terms)
    received = DUE - timedelta(days=1)
    final = final_version(received)
    assert str(apply_interest(calculator, D("182.50"), final)) == "0.01"  # 0.005 exactly
    assert str(apply_interest(calculator, D("182.49"), final)) == "0.00"
    assert str(apply_interest(calculator, D("547.50"), final)) == "0.02"  # 0.015 exactly


@pytest.mark.parametrize(
    ("min_interest", "expected"),
    [("0.00", "3.88"), ("3.87", "3.88"), ("3.88", "3.88"), ("3.89", "0.00"), ("100.00", "0.00")],
)
def test_min_interest_threshold(min_interest: str, expected: str) -> None:
    terms = InterestTerms(Decimal("18.00"), 30, Decimal(min_interest))
    interest = apply_interest(processor(terms=terms), D("157.34"), final_version(date(2026, 9, 1)))
    assert str(interest) == expected


@pytest.mark.parametrize("net", ["0.00", "-0.01", "-157.34"])
def test_no_interest_unless_net_is_positive(net: str) -> None:
    assert apply_interest(processor(), D(net), final_version(date(2026, 1, 1))) == 0


def test_no_interest_on_a_denied_final_version_or_a_void() -> None:
    assert apply_interest(processor(), D("157.34"), final_version(date(2026, 1, 1), "DENIED")) == 0
    assert apply_interest(processor(), D("157.34"), None) == 0


def test_grace_days_zero_counts_every_day() -> None:
    terms = InterestTerms(Decimal("36.50"), 0, Decimal("0.00"))
    interest = apply_interest(processor(terms=terms), D("100.00"),
                                                    final_version(DUE - timedelta(days=10)))
    assert str(interest) == "1.00"  # 100 x 36.5 % x 10 / 365


# --- interest rules and overrides ----------------------------------------------------------


def rules(*overrides: dict[str, Any]) -> InterestRules:
    return InterestRules.model_validate({
        "_id": "IR", "annual_rate_pct": Decimal128("12.00"), "grace_days": 30,
        "min_interest": Decimal128("1.00"), "overrides": list(overrides)})


TX = Business(line_of_business="COMMERCIAL", state="TX")


def test_no_override_keeps_the_base_terms() -> None:
    assert rules().terms_for(TX) == InterestTerms(D("12.00"), 30, D("1.00"))


def test_partial_override_keeps_the_other_fields() -> None:
    golden = rules({"state": "TX", "line_of_business": "COMMERCIAL",
                    "annual_rate_pct": Decimal128("18.00")})
    assert golden.terms_for(TX) == InterestTerms(D("18.00"), 30, D("1.00"))
    grace_only = rules({"state": "TX", "line_of_business": "COMMERCIAL", "grace_days": 45})
    assert grace_only.terms_for(TX) == InterestTerms(D("12.00"), 45, D("1.00"))


def test_override_values_of_zero_are_applied() -> None:
    zero = rules({"state": "TX", "line_of_business": "COMMERCIAL", "annual_rate_pct": "0",
                  "grace_days": 0, "min_interest": Decimal128("0.00")})
    assert zero.terms_for(TX) == InterestTerms(D("0.00"), 0, D("0.00"))


def test_first_matching_override_wins() -> None:
    two = rules(
        {"state": "TX", "line_of_business": "MEDICAID", "annual_rate_pct": Decimal128("5.00")},
        {"state": "CA", "line_of_business": "COMMERCIAL", "annual_rate_pct": Decimal128("6.00")},
        {"state": "TX", "line_of_business": "COMMERCIAL", "annual_rate_pct": Decimal128("18.00")},
        {"state": "TX", "line_of_business": "COMMERCIAL", "annual_rate_pct": Decimal128("24.00"),
         "grace_days": 1, "min_interest": Decimal128("9.00")},
    )
    assert two.terms_for(TX) == InterestTerms(D("18.00"), 30, D("1.00"))
    assert two.terms_for(Business(line_of_business="MEDICAID", state="TX")) == InterestTerms(
        D("5.00"), 30, D("1.00"))
    assert two.terms_for(Business(line_of_business="COMMERCIAL", state="NY")) == InterestTerms(
        D("12.00"), 30, D("1.00"))


def test_override_must_match_both_state_and_line_of_business() -> None:
    half = rules({"state": "TX", "line_of_business": "MEDICARE", "grace_days": 0},
                 {"state": "tx", "line_of_business": "COMMERCIAL", "grace_days": 0})
    assert half.terms_for(TX) == InterestTerms(D("12.00"), 30, D("1.00"))


def test_golden_interest_rules_give_the_golden_terms() -> None:
    [document] = read_store(GOLDEN_STORE)["InterestRules"]
    golden = InterestRules.model_validate(document)
    assert golden.terms_for(TX) == GOLDEN_TERMS
