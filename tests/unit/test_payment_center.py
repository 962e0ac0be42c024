"""Payee documents: the key must be the one the payee's type and identifiers give."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from PaymentProcess.core.payment_center import PaymentCenterManager
from PaymentProcess.data.models.payment_center import PaymentCenter, PaymentCenterType

KEY_101 = "PROVIDER:741000001:1000000012"


def payee(**fields: Any) -> dict[str, Any]:
    document = {"_id": 101, "key": KEY_101, "type": "PROVIDER", "vendor_name": "North Clinic",
                "tax_id": "741000001", "npi": "1000000012", "member_id": None,
                "payment_method": "CHECK", "status": "ACTIVE"}
    return document | fields


def member(**fields: Any) -> dict[str, Any]:
    return payee(_id=201, key="DMR:M0001", type="DMR", tax_id=None, npi=None,
                 member_id="M0001") | fields


@pytest.mark.parametrize("document", [
    payee(), payee(tax_id=741000001, npi=1000000012), payee(member_id="M1"), member(),
    member(tax_id="741000001"),
])
def test_a_key_given_by_the_payee_identifiers_is_valid(document: dict[str, Any]) -> None:
    assert PaymentCenter.model_validate(document).key == document["key"]


@pytest.mark.parametrize("document", [
    payee(key="PROVIDER:741000009:1000000012"), payee(key="DMR:M1"), payee(tax_id="741000009"),
    payee(npi=None), payee(npi=""), payee(type="DMR"), member(key="DMR:M0002"),
    member(member_id=None), member(type="PROVIDER"),
])
def test_a_key_the_identifiers_do_not_give_is_invalid(document: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as error:
        PaymentCenter.model_validate(document)
    assert [(e["loc"], e["type"]) for e in error.value.errors()] == [(("key",), "key_mismatch")]


def test_a_malformed_identifier_is_reported_on_its_own_field() -> None:
    with pytest.raises(ValidationError) as error:
        PaymentCenter.model_validate(payee(npi=["1000000012"]))
    assert [e["loc"] for e in error.value.errors()] == [("npi",)]


def test_summarize_reports_malformed_and_missing_ledger_payees_once() -> None:
    manager = PaymentCenterManager(None, PaymentCenterType.PROVIDER)  # type: ignore[arg-type]
    documents = [payee(key="PROVIDER:741000009:1000000012"),
                 payee(_id=102, key="PROVIDER:741000002:1000000020", tax_id="741000002",
                       npi="1000000020")]
    summary = manager.summarize(documents, {KEY_101, "PROVIDER:741000002:1000000020"},
                                {101, 102, 104})
    assert summary.invalid == [
        ("101", "PaymentCenter: key: does not match the key of the payee's type and identifiers"),
        ("104", "ledger payee not found in PaymentCenter")]
    assert summary.key_by_id == {102: "PROVIDER:741000002:1000000020"}
    assert summary.missing_keys == [KEY_101]
