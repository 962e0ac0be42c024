"""Bank data of spec 13: the ABA check digit, the models, masking, and BANK_INVALID."""

from __future__ import annotations

from decimal import Decimal

import pytest

from PaymentProcess.core.bank_validation import check_bank_data
from PaymentProcess.core.settlement import PayeeSettlement, PayeeTotals
from PaymentProcess.data.models.bank import (
    FundingSourceBank,
    PayeeBank,
    bank_problem,
    mask_account,
    routing_is_valid,
)
from PaymentProcess.data.models.event import FundingSource
from PaymentProcess.data.models.payment_center import PayeeStatus, PaymentCenter, PaymentMethod
from PaymentProcess.data.models.stats import ValidationReport

FUNDING_BANK = {"routing": "091000019", "account": "000123456789", "company_id": "1750000001",
                "company_name": "GOLDEN HEALTH", "odfi_name": "FIRST PLAINS BANK",
                "immediate_origin": "1750000001"}
PAYEE_BANK = {"routing": "111000025", "account": "987650107", "type": "CHECKING"}


@pytest.mark.parametrize("routing", ["091000019", "011000015", "021000021", "111000025",
                                     "121000248"])
def test_real_routing_numbers_pass_the_check_digit(routing: str) -> None:
    assert routing_is_valid(routing)


@pytest.mark.parametrize("routing", ["091000018", "111000026", "12100024", "1210002480",
                                     "12100024X", "１２１０００２４８", None, 121000248, ""])
def test_a_wrong_digit_length_or_type_fails(routing: object) -> None:
    assert not routing_is_valid(routing)


def test_the_weights_are_3_7_1() -> None:
    # 3*1 + 7*2 + 1*3 + 3*4 + 7*5 + 1*6 + 3*7 + 7*8 = 160; d9 = 0 makes 160 = 0 mod 10
    assert routing_is_valid("123456780")
    assert not any(routing_is_valid(f"12345678{d}") for d in range(1, 10))


def test_masking_keeps_the_last_four() -> None:
    assert mask_account("000123456789") == "****6789"
    assert mask_account("12") == "****12"


def test_valid_bank_documents() -> None:
    assert FundingSourceBank.model_validate(FUNDING_BANK).company_id == "1750000001"
    assert PayeeBank.model_validate({**PAYEE_BANK, "type": "SAVINGS"}).type == "SAVINGS"
    assert bank_problem(FundingSourceBank, FUNDING_BANK) is None


@pytest.mark.parametrize(("change", "field"), [
    ({"routing": "091000018"}, "bank.routing"),
    ({"account": "1234 5678"}, "bank.account"),
    ({"account": "1" * 18}, "bank.account"),
    ({"company_id": "123"}, "bank.company_id"),
    ({"company_name": "A NAME OF 17 CHAR"}, "bank.company_name"),
    ({"odfi_name": "Bänk"}, "bank.odfi_name"),
    ({"immediate_origin": "12345678"}, "bank.immediate_origin"),
    ({"routing": 91000019}, "bank.routing"),
])
def test_each_bad_field_is_named_and_its_value_never_shown(change: dict, field: str) -> None:
    problem = bank_problem(FundingSourceBank, {**FUNDING_BANK, **change})
    assert problem is not None and problem.startswith(field)
    assert "000123456789" not in problem and "1234 5678" not in problem


def test_a_payee_bank_needs_a_known_account_type() -> None:
    assert bank_problem(PayeeBank, {**PAYEE_BANK, "type": "BROKERAGE"}).startswith("bank.type")
    assert bank_problem(PayeeBank, None) == "no bank data"
    assert bank_problem(PayeeBank, "111000025/987650107").startswith("bank.<document>")


def funding(bank: object = None) -> FundingSource:
    return FundingSource.model_validate({"_id": "FS-1", "check_range": {"start": 1, "end": 9},
                                         "eft_trace_prefix": "EFT", "bank": bank})


def payee(payee_id: int, method: str, bank: object = None) -> PaymentCenter:
    return PaymentCenter.model_validate({
        "_id": payee_id, "type": "DMR", "member_id": f"M{payee_id}", "key": f"DMR:M{payee_id}",
        "payment_method": method, "status": "ACTIVE", "bank": bank})


def settlement(payee_id: int, method: PaymentMethod, disbursed: str) -> PayeeSettlement:
    result = PayeeSettlement(key=f"DMR:M{payee_id}", payee_id=payee_id, method=method,
                             payee_status=PayeeStatus.ACTIVE, totals=PayeeTotals())
    result.disbursed = Decimal(disbursed)
    return result


def findings(source: FundingSource, settlements: list[PayeeSettlement],
             payees: list[PaymentCenter]) -> dict[str, str]:
    report = ValidationReport()
    check_bank_data(source, settlements, {p.key: p for p in payees}, report)
    found = report.findings.get("BANK_INVALID")
    if found is None:
        return {}
    assert found.severity == "CRITICAL" and report.blocked
    return {sample: found.details.get(sample, "") for sample in found.samples}


def test_an_eft_paid_without_payee_bank_or_funding_bank_is_bank_invalid() -> None:
    payees = [payee(1, "EFT"), payee(2, "EFT", {**PAYEE_BANK, "routing": "111000026"}),
              payee(3, "EFT", PAYEE_BANK)]
    paid = [settlement(i, PaymentMethod.EFT, "10.00") for i in (1, 2, 3)]
    assert findings(funding(), paid, payees) == {
        "FundingSource FS-1": "no bank data",
        "PaymentCenter 1": "no bank data",
        "PaymentCenter 2": "bank.routing: not 9 digits passing the ABA check digit",
    }


def test_no_eft_paid_needs_no_bank_data() -> None:
    payees = [payee(1, "EFT"), payee(2, "CHECK")]
    held = [settlement(1, PaymentMethod.EFT, "0.00"), settlement(2, PaymentMethod.CHECK, "5.00")]
    assert findings(funding(), held, payees) == {}


def test_valid_bank_data_on_both_ends_is_no_finding() -> None:
    paid = [settlement(3, PaymentMethod.EFT, "10.00")]
    assert findings(funding(FUNDING_BANK), paid, [payee(3, "EFT", PAYEE_BANK)]) == {}
    bad_funding = funding({**FUNDING_BANK, "company_id": "12"})
    assert list(findings(bad_funding, paid, [payee(3, "EFT", PAYEE_BANK)])) == [
        "FundingSource FS-1"]
