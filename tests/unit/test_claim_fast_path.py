"""``construct_claim`` builds exactly what ``Claim.model_validate`` builds, or declines."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from bson.decimal128 import Decimal128
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from PaymentProcess.data.models.claim import Claim, construct_claim

ODD = st.sampled_from([None, "", "x" * 201, 7, True, 1.5, [], {}, b"b", Decimal("1")])
TEXT = st.one_of(st.text(min_size=1, max_size=12), st.just("x" * 200), ODD)
AMOUNT = st.one_of(
    st.integers(-10**6, 10**8).map(lambda c: Decimal128(Decimal(c).scaleb(-2))),
    st.binary(min_size=16, max_size=16).map(Decimal128.from_bid),
    st.sampled_from([Decimal128("1.005"), Decimal128("1E+13"), Decimal128("NaN"),
                     Decimal128("-0.00"), Decimal128("12.3")]),
    st.integers(-5, 10**14), st.sampled_from(["12.30", "abc", 1.1, None]),
)
DATE = st.one_of(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1)),
    st.datetimes(min_value=datetime(1990, 1, 2), max_value=datetime(2030, 1, 1),
                 timezones=st.just(UTC)),
    st.sampled_from([date(2026, 1, 1), "2026-01-01", None, 5]),
)


def maybe(strategy, missing: float = 0.9):
    return st.one_of(strategy, st.just(...)) if missing else strategy


@st.composite
def lines(draw):
    line = {}
    for name, strategy in (
        ("line_no", st.one_of(st.integers(-1, 10**6 + 1), ODD)),
        ("procedure_code", st.one_of(st.text(max_size=50), ODD)),
        ("units", st.one_of(st.integers(0, 5), ODD)),
        ("service_date", DATE),
        *((name, AMOUNT) for name in ("billed", "allowed", "deductible", "coinsurance",
                                      "copay", "cob_paid")),
        ("extra", st.integers()),
    ):
        value = draw(maybe(strategy))
        if value is not ...:
            line[name] = value
    return line if draw(st.integers(0, 20)) else draw(ODD)


@st.composite
def documents(draw):
    document = {}
    for name, strategy in (
        ("_id", TEXT), ("ClaimCore_ID", TEXT), ("PaymentEvent_ID", TEXT),
        ("ClaimType", st.one_of(st.sampled_from(["PROFESSIONAL", "DENTAL", "dental"]), ODD)),
        ("ClaimStatus", st.one_of(st.sampled_from(["APPROVED", "DENIED", "PAID"]), ODD)),
        ("FrequencyCode", st.one_of(st.sampled_from(["1", "7", "8", "9"]), ODD)),
        ("ParentClaimCore_ID", TEXT), ("OriginalClaimCore_ID", TEXT),
        ("VoidClaimCore_ID", TEXT), ("BenefitPlan_ID", TEXT), ("received_date", DATE),
        ("patient_control_number", TEXT), ("NPI", TEXT), ("TIN", TEXT), ("MemberID", TEXT),
        ("provider", st.one_of(st.dictionaries(st.one_of(st.text(max_size=3), st.integers()),
                                               st.integers(), max_size=2), ODD)),
        ("member", st.one_of(st.just({"name": "n", "address": {"city": "c"}}), ODD)),
        ("service_lines", st.one_of(st.lists(lines(), max_size=3), ODD)),
        ("PaymentStatus", st.text(max_size=3)),
    ):
        value = draw(maybe(strategy))
        if value is not ...:
            document[name] = value
    return document


def _valid_document() -> dict:
    amount = Decimal128("10.50")
    return {"_id": "C1", "ClaimCore_ID": "C1", "PaymentEvent_ID": "PE", "ClaimType": "DENTAL",
            "ClaimStatus": "APPROVED", "FrequencyCode": "1", "ParentClaimCore_ID": "C1",
            "BenefitPlan_ID": "BP", "received_date": datetime(2026, 1, 2), "NPI": "",
            "TIN": "123456789", "provider": {"name": "p"}, "OriginalClaimCore_ID": None,
            "service_lines": [{"line_no": 1, "procedure_code": "D1", "units": 1,
                               "service_date": datetime(2026, 1, 1), "billed": amount,
                               "allowed": amount, "deductible": amount,
                               "coinsurance": amount, "copay": amount, "cob_paid": amount}]}


def assert_same(document: dict) -> None:
    fast = construct_claim(document)
    try:
        slow = Claim.model_validate(document)
    except ValidationError:
        assert fast is None
        return
    if fast is None:
        return  # declined: the caller validates in full
    assert fast == slow
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_fields_set == slow.model_fields_set
    for a, b in zip(fast.service_lines, slow.service_lines, strict=True):
        assert a == b and a.model_fields_set == b.model_fields_set
    assert fast.reference == slow.reference


@settings(max_examples=1500, deadline=None)
@given(documents())
def test_fast_path_agrees_with_pydantic_on_random_documents(document: dict) -> None:
    assert_same(document)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(_valid_document())), st.one_of(TEXT, AMOUNT, DATE))
def test_fast_path_agrees_with_one_field_changed(name: str, value) -> None:
    document = _valid_document()
    document[name] = value
    assert_same(document)
    line = _valid_document()
    line["service_lines"][0][("billed", "line_no", "service_date", "copay")[len(name) % 4]] = value
    assert_same(line)


def test_fast_path_takes_the_store_form() -> None:
    document = _valid_document()
    claim = construct_claim(document)
    assert claim is not None and claim == Claim.model_validate(document)
    assert claim.service_lines[0].billed == Decimal("10.50")
