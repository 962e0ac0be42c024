"""Judging and computing one chain (spec sections 4, 4.1, 5 and 6): ClaimTransformer."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from bson.decimal128 import Decimal128
from hypothesis import given, settings
from hypothesis import strategies as st

from PaymentProcess.core.claim_processor import ClaimTransformer, evaluate_batch, group_by_parent
from PaymentProcess.data.models.event import InterestTerms
from PaymentProcess.data.models.payment import (
    BatchInput,
    ChainInput,
    ChainResult,
    ChainStatus,
    ChainSummaries,
    InvalidRecord,
    LedgerState,
    PaymentContext,
)
from PaymentProcess.data.models.payment_center import PaymentCenterType
from PaymentProcess.data.models.stats import ValidationReport

D = Decimal
KEY_101 = "PROVIDER:741000001:1000000012"
KEY_102 = "PROVIDER:741000002:1000000020"
NEW_CHAIN = LedgerState()
ADDRESS = {"line1": "1 Main St", "city": "Dallas", "state": "TX", "zip": "75001"}


def context(pct: str = "0.00", keys: frozenset[str] | None = None,
            pc_type: PaymentCenterType = PaymentCenterType.PROVIDER,
            duplicates: frozenset[str] = frozenset(),
            min_interest: str = "1.00") -> PaymentContext:
    return PaymentContext(
        payment_event_id="PE-G1", pc_type=pc_type, due_date=date(2026, 11, 20),
        benefit_plan_ids=frozenset({"BP-100", "BP-200"}), payment_center_keys=keys,
        payment_reduction_pct=D(pct),
        interest=InterestTerms(D("18.00"), 30, D(min_interest)),
        duplicate_claim_ids=duplicates)


def doc(claim_id: str, parent: str | None = None, freq: str | None = "1",
        original: str | None = None, void: str | None = None, allowed: str = "100.00",
        status: str = "APPROVED", received: date = date(2026, 11, 10), npi: Any = "1000000012",
        tin: Any = "741000001", member: str | None = "M1", plan: Any = "BP-100",
        lines: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    document = {
        "_id": claim_id, "ClaimCore_ID": claim_id, "PaymentEvent_ID": "PE-G1",
        "ClaimType": "PROFESSIONAL", "ClaimStatus": status, "FrequencyCode": freq,
        "ParentClaimCore_ID": parent or claim_id, "OriginalClaimCore_ID": original,
        "VoidClaimCore_ID": void, "BenefitPlan_ID": plan,
        "received_date": datetime.combine(received, datetime.min.time()),
        "patient_control_number": f"PCN-{claim_id}", "NPI": npi, "TIN": tin,
        "provider": {"name": f"Provider {tin}", "address": ADDRESS},
        "MemberID": member, "member": {"name": f"Pat {claim_id}", "address": ADDRESS},
        "service_lines": lines if lines is not None else [amounts(allowed)],
    }
    document.update(extra)
    return document


def amounts(allowed: str, deductible: str = "0.00", coinsurance: str = "0.00",
            copay: str = "0.00", cob_paid: str = "0.00", billed: str | None = None
            ) -> dict[str, Any]:
    values = {"billed": billed or allowed, "allowed": allowed, "deductible": deductible,
              "coinsurance": coinsurance, "copay": copay, "cob_paid": cob_paid}
    return {"line_no": 1, **{k: Decimal128(v) for k, v in values.items()}}


def ledger(in_force: str | None, prior: str, payee: int, *paid: str) -> LedgerState:
    return LedgerState(prior_sum=D(prior), in_force_id=in_force, has_entries=True,
                       last_payee_id=payee, paid_claim_ids=frozenset(paid or {in_force}))


def evaluate(documents: list[dict[str, Any]], state: LedgerState = NEW_CHAIN,
             owners: Mapping[str, str] | None = None, ctx: PaymentContext | None = None,
             parent: Any = "__first__") -> tuple[ChainResult, ValidationReport]:
    if parent == "__first__":
        parent = documents[0]["ParentClaimCore_ID"]
    if owners is None:  # a consistent ledger: every paid claim belongs to this chain
        owners = {claim_id: parent for claim_id in state.paid_claim_ids if claim_id}
    batch = BatchInput((ChainInput(parent, tuple(documents), state),), owners)
    (result,), report = ClaimTransformer(ctx or context()).evaluate_batch(batch)
    return result, report


def findings(report: ValidationReport, *, info: bool = False) -> dict[str, list[str]]:
    """code -> samples, without the info counts unless asked."""
    return {code: f.samples for code, f in report.findings.items()
            if info or not code.startswith("CLAIMS_BY_")}


def amounts_of(result: ChainResult) -> tuple[str, str, str, str]:
    return str(result.current), str(result.prior), str(result.net), str(result.interest)


# --- included chains -----------------------------------------------------------------------


def test_new_chain_original() -> None:
    result, report = evaluate([doc("C1", allowed="120.00")])
    assert findings(report) == {}
    assert result.status is ChainStatus.INCLUDED
    assert (result.parent_id, result.claim_count, result.claim_ids) == ("C1", 1, ("C1",))
    assert result.final_claim_id == "C1"
    assert (result.payee_key, result.payee_id) == (KEY_101, None)
    assert amounts_of(result) == ("120.00", "0.00", "120.00", "0.00")
    assert [c.claim_id for c in result.claims] == ["C1"]
    assert result.payee_source == {"vendor_name": "Provider 741000001", "tax_id": "741000001",
                                   "npi": "1000000012", "member_id": None, "address": ADDRESS}
    assert report.findings["CLAIMS_BY_FREQUENCY"].counts == {"1": 1}
    assert report.findings["CLAIMS_BY_STATUS"].counts == {"APPROVED": 1}
    assert report.findings["CLAIMS_BY_TYPE"].counts == {"PROFESSIONAL": 1}


def test_golden_c1001_original_with_interest() -> None:
    c1001 = doc("C1001", received=date(2026, 9, 1),
                lines=[amounts("150.00", coinsurance="30.00"),
                       amounts("65.55", deductible="10.00", copay="15.00")])
    result, report = evaluate([c1001], ctx=context("2.00"))
    assert findings(report) == {}
    assert amounts_of(result) == ("157.34", "0.00", "157.34", "3.88")


def test_golden_c6001_over_allowed_and_interest() -> None:
    c6001 = doc("C6001", received=date(2026, 10, 5), tin="741000004", npi="1000000046",
                lines=[amounts("300.00", coinsurance="60.00"),
                       amounts("20.00", deductible="15.00", copay="10.00")])
    result, report = evaluate([c6001], ctx=context("2.00"))
    assert findings(report) == {"OVER_ALLOWED": ["C6001"]}
    assert not report.blocked
    assert result.status is ChainStatus.INCLUDED
    assert result.payee_key == "PROVIDER:741000004:1000000046"
    assert amounts_of(result) == ("235.20", "0.00", "235.20", "1.86")


def test_denied_original_pays_zero_without_over_allowed() -> None:
    c6002 = doc("C6002", status="DENIED", lines=[amounts("10.00", deductible="20.00")])
    result, report = evaluate([c6002], ctx=context("2.00"))
    assert findings(report) == {}
    assert result.status is ChainStatus.INCLUDED
    assert amounts_of(result) == ("0.00", "0.00", "0.00", "0.00")


def test_replacement_of_a_ledger_version_with_a_negative_net() -> None:  # golden C2001
    c2002 = doc("C2002", "C2001", "7", original="C2001",
                lines=[amounts("90.00", coinsurance="18.00")])
    result, report = evaluate([c2002], ledger("C2001", "100.00", 101), ctx=context("2.00"))
    assert findings(report) == {}
    assert result.status is ChainStatus.INCLUDED
    assert (result.parent_id, result.claim_ids, result.final_claim_id) == (
        "C2001", ("C2002",), "C2002")
    assert amounts_of(result) == ("70.56", "100.00", "-29.44", "0.00")
    assert (result.payee_key, result.payee_id) == (KEY_101, 101)  # payee_id: the ledger's


def test_replacement_of_a_ledger_version_with_a_positive_net_earns_interest() -> None:
    c2 = doc("C2", "C1", "7", original="C1", allowed="1100.00", received=date(2026, 9, 1))
    result, _ = evaluate([c2], ledger("C1", "100.00", 101))
    # net 1000.00 late 50 days at 18 %: 24.6575...
    assert amounts_of(result) == ("1100.00", "100.00", "1000.00", "24.66")


def test_prior_is_the_sum_of_every_ledger_entry() -> None:
    c3 = doc("C3", "C1", "7", original="C2", allowed="50.00")
    state = LedgerState(prior_sum=D("70.56"), in_force_id="C2", has_entries=True,
                        last_payee_id=101, paid_claim_ids=frozenset({"C1", "C2"}))
    result, report = evaluate([c3], state)
    assert findings(report) == {}
    assert amounts_of(result) == ("50.00", "70.56", "-20.56", "0.00")


def test_void_of_a_ledger_version_goes_to_the_ledger_payee() -> None:  # golden C3001
    c3002 = doc("C3002", "C3001", "8", void="C3001", tin="741000002", npi="1000000020",
                allowed="40.82")
    result, report = evaluate([c3002], ledger("C3001", "40.00", 102), ctx=context("2.00"))
    assert findings(report) == {}
    assert result.status is ChainStatus.INCLUDED
    assert result.final_claim_id is None
    assert (result.payee_key, result.payee_id) == (None, 102)
    assert amounts_of(result) == ("0.00", "40.00", "-40.00", "0.00")
    assert result.payee_source is None
    assert [(c.claim_id, str(c.paid)) for c in result.claims] == [("C3002", "40.00")]


def test_void_pays_back_to_the_last_payee_even_when_the_void_names_another() -> None:
    c2 = doc("C2", "C1", "8", void="C1", tin="741000009")
    result, report = evaluate([c2], ledger("C1", "25.00", 555))
    assert (result.payee_key, result.payee_id, str(result.net)) == (None, 555, "-25.00")
    assert "PC_MISMATCH" not in report.findings


def test_void_and_replace_in_one_event_the_seven_wins() -> None:  # golden C9001
    c9003 = doc("C9003", "C9001", "7", original="C9001",
                lines=[amounts("100.00", copay="2.00")], received=date(2026, 11, 1))
    c9002 = doc("C9002", "C9001", "8", void="C9001", allowed="81.64",
                received=date(2026, 11, 1))
    result, report = evaluate([c9003, c9002], ledger("C9001", "80.00", 101),
                              ctx=context("2.00"))
    assert findings(report) == {}
    assert result.status is ChainStatus.INCLUDED
    assert result.claim_ids == ("C9002", "C9003")
    assert [c.claim_id for c in result.claims] == ["C9002", "C9003"]
    assert result.final_claim_id == "C9003"
    assert result.payee_key == KEY_101
    assert amounts_of(result) == ("96.04", "80.00", "16.04", "0.00")
    assert {c.claim_id: str(c.paid) for c in result.claims} == {"C9002": "80.01",
                                                                "C9003": "96.04"}


def test_original_and_replacement_in_the_same_event() -> None:
    c1 = doc("C1", allowed="100.00", received=date(2026, 11, 10))
    c2 = doc("C2", "C1", "7", original="C1", allowed="150.00", received=date(2026, 9, 1))
    result, report = evaluate([c1, c2], ctx=context(min_interest="0.00"))
    assert findings(report) == {}
    assert result.claim_ids == ("C1", "C2")
    assert result.final_claim_id == "C2"
    # interest counts from the final version's received date: 150 x 18 % x 50 / 365
    assert amounts_of(result) == ("150.00", "0.00", "150.00", "3.70")


def test_chain_of_replacements_in_one_event() -> None:
    documents = [doc("C1", allowed="10.00"), doc("C2", "C1", "7", original="C1", allowed="20.00"),
                 doc("C3", "C1", "7", original="C2", allowed="30.00"),
                 doc("C4", "C1", "7", original="C3", allowed="40.00")]
    result, report = evaluate(list(reversed(documents)))
    assert findings(report) == {}
    assert (result.final_claim_id, str(result.net)) == ("C4", "40.00")
    assert result.claim_ids == ("C1", "C2", "C3", "C4")


def test_original_and_void_in_the_same_event_nets_zero_to_the_voided_payee() -> None:
    c1 = doc("C1", allowed="100.00")
    c2 = doc("C2", "C1", "8", void="C1", tin="741000002", npi="1000000020")
    result, report = evaluate([c1, c2])
    assert result.status is ChainStatus.INCLUDED
    assert result.final_claim_id is None
    assert (result.payee_key, result.payee_id) == (KEY_101, None)
    assert amounts_of(result) == ("0.00", "0.00", "0.00", "0.00")
    assert result.payee_source is not None and result.payee_source["tax_id"] == "741000001"
    assert findings(report) == {"PC_MISMATCH": ["C1"]}
    assert report.findings["PC_MISMATCH"].details == {"C1": f"{KEY_101}, {KEY_102}"}


def test_original_replaced_then_voided_in_one_event_goes_to_the_last_version() -> None:
    documents = [doc("C1"), doc("C2", "C1", "7", original="C1", tin="741000002",
                                npi="1000000020"),
                 doc("C3", "C1", "8", void="C2", tin="741000002", npi="1000000020")]
    result, _ = evaluate(documents)
    assert (result.final_claim_id, result.payee_key, str(result.net)) == (None, KEY_102, "0.00")


def test_replacement_then_void_of_a_ledger_chain() -> None:
    documents = [doc("C2", "C1", "7", original="C1"), doc("C3", "C1", "8", void="C2")]
    result, report = evaluate(documents, ledger("C1", "60.00", 101))
    assert findings(report) == {}
    assert (result.final_claim_id, result.payee_id, str(result.net)) == (None, 101, "-60.00")


def test_pc_mismatch_uses_the_final_version_payee() -> None:
    c2 = doc("C2", "C1", "7", original="C1", tin="741000002", npi="1000000020", allowed="30.00")
    result, report = evaluate([c2], ledger("C1", "10.00", 101))
    assert findings(report) == {}
    result, report = evaluate([doc("C1"), c2])
    assert result.status is ChainStatus.INCLUDED
    assert result.payee_key == KEY_102
    assert findings(report) == {"PC_MISMATCH": ["C1"]}
    assert not report.blocked


def test_dmr_chain_pays_the_member() -> None:
    ctx = context(pc_type=PaymentCenterType.DMR)
    result, report = evaluate([doc("C1", npi=None, tin=None, member="M42")], ctx=ctx)
    assert findings(report) == {}
    assert result.payee_key == "DMR:M42"
    assert result.payee_source == {"vendor_name": "Pat C1", "tax_id": None, "npi": None,
                                   "member_id": "M42", "address": ADDRESS}


# --- exclusion -----------------------------------------------------------------------------


def test_excluded_by_benefit_plan_without_validation() -> None:
    bad = doc("C8002", "C8001", "7", original="C8001", plan="BP-100",
              lines=[amounts("10.00") | {"allowed": "ten"}])
    result, report = evaluate([doc("C8001", plan="BP-999"), bad])
    assert result.status is ChainStatus.EXCLUDED
    assert (result.parent_id, result.claim_count) == ("C8001", 2)
    assert (result.payee_key, result.claims, str(result.net)) == (None, (), "0.00")
    assert findings(report, info=True) == {"BENEFIT_PLAN_EXCLUDED": ["C8001"]}
    assert report.findings["BENEFIT_PLAN_EXCLUDED"].details == {"C8001": "BenefitPlan_ID 'BP-999'"}
    assert not report.blocked


@pytest.mark.parametrize("plan", [None, "", "bp-100", " BP-100"])
def test_missing_or_unknown_plan_excludes(plan: str | None) -> None:
    result, report = evaluate([doc("C1", plan=plan)])
    assert result.status is ChainStatus.EXCLUDED
    assert findings(report) == {"BENEFIT_PLAN_EXCLUDED": ["C1"]}


def test_excluded_by_payee_key() -> None:
    ctx = context(keys=frozenset({KEY_101}))
    result, report = evaluate([doc("C1", tin="741000002", npi="1000000020")], ctx=ctx)
    assert result.status is ChainStatus.EXCLUDED
    assert findings(report) == {"PC_EXCLUDED": ["C1"]}
    assert report.findings["PC_EXCLUDED"].details == {"C1": KEY_102}
    result, report = evaluate([doc("C1")], ctx=ctx)
    assert result.status is ChainStatus.INCLUDED


def test_one_claim_outside_the_payee_keys_excludes_the_chain() -> None:
    ctx = context(keys=frozenset({KEY_101}))
    documents = [doc("C1"), doc("C2", "C1", "7", original="C1", tin="741000002",
                                npi="1000000020", plan="BP-999")]
    result, report = evaluate(documents, ctx=ctx)
    assert result.status is ChainStatus.EXCLUDED
    assert findings(report) == {"BENEFIT_PLAN_EXCLUDED": ["C2"], "PC_EXCLUDED": ["C2"]}


def test_dmr_payee_key_exclusion() -> None:
    ctx = context(keys=frozenset({"DMR:M1"}), pc_type=PaymentCenterType.DMR)
    result, report = evaluate([doc("C1", member="M2")], ctx=ctx)
    assert result.status is ChainStatus.EXCLUDED
    assert report.findings["PC_EXCLUDED"].details == {"C1": "DMR:M2"}


def test_a_claim_without_identifiers_is_validated_not_excluded() -> None:
    ctx = context(keys=frozenset({KEY_101}))
    result, report = evaluate([doc("C1", npi=None)], ctx=ctx)
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"ID_MISSING": ["C1"]}


def test_numeric_identifiers_are_excluded_by_payee_key() -> None:
    ctx = context(keys=frozenset({KEY_101}))
    result, report = evaluate([doc("C1", tin=741000002, npi=1000000020)], ctx=ctx)
    assert result.status is ChainStatus.EXCLUDED
    assert "PC_EXCLUDED" in report.findings


def test_numeric_identifiers_are_paid_under_their_text_key() -> None:
    result, report = evaluate([doc("C1", tin=741000002, npi=1000000020)])
    assert findings(report) == {}
    assert result.payee_key == KEY_102


# --- validation inside a chain -------------------------------------------------------------


def test_duplicate_claim() -> None:  # golden C9106
    ctx = context(duplicates=frozenset({"C9106"}))
    documents = [doc("C9106-a", "C9106", ClaimCore_ID="C9106"),
                 doc("C9106-b", "C9106", ClaimCore_ID="C9106")]
    result, report = evaluate(documents, ctx=ctx)
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"DUPLICATE_CLAIM": ["C9106"]}
    assert report.findings["DUPLICATE_CLAIM"].count == 2
    assert report.findings["DUPLICATE_CLAIM"].details == {"C9106": "document C9106-a"}


def test_duplicate_elsewhere_in_the_event_blocks_this_chain() -> None:
    result, report = evaluate([doc("C1")], ctx=context(duplicates=frozenset({"C1", "C7"})))
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"DUPLICATE_CLAIM": ["C1"]}


def test_already_paid_original_in_a_paid_chain() -> None:  # golden PE-G2 C2001
    result, report = evaluate([doc("C2001", allowed="10.00")], ledger("C2001", "100.00", 101))
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"ALREADY_PAID": ["C2001"], "VOID_LINKAGE": ["C2001"]}
    assert report.findings["ALREADY_PAID"].details == {"C2001": "in the ledger of chain C2001"}


def test_already_paid_under_another_chain() -> None:
    result, report = evaluate([doc("C5")], owners={"C5": "C4"})
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"ALREADY_PAID": ["C5"]}
    assert report.findings["ALREADY_PAID"].details == {"C5": "in the ledger of chain C4"}


def test_a_bad_claim_blocks_its_chain() -> None:
    documents = [doc("C1", allowed="10.00"),
                 doc("C2", "C1", "7", original="C1", lines=[amounts("5.00", copay="-1.00")])]
    result, report = evaluate(documents)
    assert result.status is ChainStatus.BLOCKED
    assert (result.claims, result.payee_key, str(result.net)) == ((), None, "0.00")
    assert findings(report) == {"NEGATIVE_AMOUNT": ["C2"]}


def test_an_unparseable_claim_blocks_and_its_references_dangle() -> None:
    documents = [doc("C1", lines=[amounts("10.00") | {"allowed": "ten dollars"}]),
                 doc("C2", "C1", "7", original="C1")]
    result, report = evaluate(documents)
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"BAD_AMOUNT": ["C1"], "PARENT_NOT_PAID": ["C2"]}


def test_freq_invalid_blocks_without_a_linkage_finding() -> None:  # golden C9101
    result, report = evaluate([doc("C9101", freq="3")])
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"FREQ_INVALID": ["C9101"]}
    result, report = evaluate([doc("C1"), doc("C2", "C1", freq=None)])
    assert findings(report) == {"FREQ_INVALID": ["C2"]}


def test_chain_without_a_text_parent_is_blocked() -> None:
    documents = [doc("C1", ParentClaimCore_ID=None)]
    result, report = evaluate(documents, parent=None)
    assert result.status is ChainStatus.BLOCKED
    assert result.parent_id == "None"
    assert findings(report) == {"VOID_LINKAGE": ["C1"]}  # a malformed link field is linkage


def test_no_lines_blocks() -> None:  # golden C9107
    result, report = evaluate([doc("C9107", lines=[])])
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"NO_LINES": ["C9107"]}


# --- linkage defects -----------------------------------------------------------------------


def blocked_with(documents: list[dict[str, Any]], expected: dict[str, list[str]],
                 state: LedgerState = NEW_CHAIN,
                 owners: Mapping[str, str] | None = None) -> ValidationReport:
    result, report = evaluate(documents, state, owners)
    assert result.status is ChainStatus.BLOCKED
    assert (result.claims, result.final_claim_id, str(result.net)) == ((), None, "0.00")
    assert findings(report) == expected
    return report


def test_replacement_without_original_id() -> None:
    report = blocked_with([doc("C1"), doc("C2", "C1", "7")], {"VOID_LINKAGE": ["C2"]})
    assert report.findings["VOID_LINKAGE"].details == {"C2": "a 7 without OriginalClaimCore_ID"}


def test_void_without_void_id() -> None:
    report = blocked_with([doc("C2", "C1", "8", original="C1")], {"VOID_LINKAGE": ["C2"]},
                          ledger("C1", "10.00", 101))
    assert report.findings["VOID_LINKAGE"].details == {"C2": "a 8 without VoidClaimCore_ID"}


def test_original_that_is_not_the_chain_parent() -> None:
    report = blocked_with([doc("C1"), doc("C1X", "C1")], {"VOID_LINKAGE": ["C1X"]})
    assert "not its chain's parent" in report.findings["VOID_LINKAGE"].details["C1X"]


def test_chain_without_its_original_and_without_ledger() -> None:
    blocked_with([doc("C1X", "C1")], {"VOID_LINKAGE": ["C1X"]})


def test_original_in_a_chain_with_ledger_entries() -> None:
    # the original's id is new to the ledger: only the linkage is wrong
    report = blocked_with([doc("C1")], {"VOID_LINKAGE": ["C1"]},
                          ledger("C0", "10.00", 101), owners={})
    assert report.findings["VOID_LINKAGE"].details == {"C1": "an original in a chain already paid"}


def test_original_in_a_voided_chain() -> None:
    state = LedgerState(prior_sum=D("0.00"), in_force_id=None, has_entries=True,
                        last_payee_id=101, paid_claim_ids=frozenset({"C1", "C2"}))
    blocked_with([doc("C1")], {"ALREADY_PAID": ["C1"], "VOID_LINKAGE": ["C1"]}, state)


@pytest.mark.parametrize(("freq", "field"), [("7", "original"), ("8", "void")])
def test_two_claims_referencing_one_version(freq: str, field: str) -> None:
    documents = [doc("C1"), doc("C2", "C1", freq, **{field: "C1"}),
                 doc("C3", "C1", freq, **{field: "C1"})]
    report = blocked_with(documents, {"VOID_LINKAGE": ["C2", "C3"]})
    kind = "replacements" if freq == "7" else "voids"
    assert report.findings["VOID_LINKAGE"].details == {"C2": f"two {kind} of C1",
                                                       "C3": f"two {kind} of C1"}


def test_two_replacements_of_a_ledger_version() -> None:
    documents = [doc("C2", "C1", "7", original="C1"), doc("C3", "C1", "7", original="C1")]
    blocked_with(documents, {"VOID_LINKAGE": ["C2", "C3"]}, ledger("C1", "10.00", 101))


def test_reference_into_another_chain_ledger() -> None:
    report = blocked_with([doc("C2", "C1", "7", original="X9")], {"VOID_LINKAGE": ["C2"]},
                          ledger("C1", "10.00", 101), owners={"C1": "C1", "X9": "X1"})
    assert report.findings["VOID_LINKAGE"].details == {
        "C2": "OriginalClaimCore_ID X9 belongs to chain X1"}


def test_void_into_another_chain_of_a_new_chain() -> None:
    blocked_with([doc("C1"), doc("C2", "C1", "8", void="X9")], {"VOID_LINKAGE": ["C2"]},
                 owners={"X9": "X1"})


def test_reference_to_an_unknown_claim() -> None:  # golden C9105
    report = blocked_with([doc("C9105", "C9999", "7", original="C9999")],
                          {"PARENT_NOT_PAID": ["C9105"]})
    assert "C9999 is neither in force" in report.findings["PARENT_NOT_PAID"].details["C9105"]


def test_reference_to_a_superseded_ledger_version() -> None:
    state = LedgerState(prior_sum=D("50.00"), in_force_id="C2", has_entries=True,
                        last_payee_id=101, paid_claim_ids=frozenset({"C1", "C2"}))
    blocked_with([doc("C3", "C1", "8", void="C1")], {"PARENT_NOT_PAID": ["C3"]}, state)


def test_reference_to_the_voided_version_of_a_voided_chain() -> None:
    state = LedgerState(prior_sum=D("0.00"), in_force_id=None, has_entries=True,
                        last_payee_id=101, paid_claim_ids=frozenset({"C1", "C2"}))
    blocked_with([doc("C3", "C1", "7", original="C1")], {"PARENT_NOT_PAID": ["C3"]}, state)


def test_claim_unreachable_after_a_void() -> None:
    documents = [doc("C1"), doc("C2", "C1", "8", void="C1"), doc("C3", "C1", "7", original="C2")]
    report = blocked_with(documents, {"VOID_LINKAGE": ["C3"]})
    assert report.findings["VOID_LINKAGE"].details == {"C3": "not reachable from the chain's start"}


def test_replacement_loop_beside_a_valid_chain_is_unreachable() -> None:
    # C1 -> C2 is fine; C4 and C5 replace each other and hang off nothing
    documents = [doc("C1"), doc("C2", "C1", "7", original="C1"),
                 doc("C4", "C1", "7", original="C5"), doc("C5", "C1", "7", original="C4")]
    blocked_with(documents, {"VOID_LINKAGE": ["C4", "C5"]})


def finishes(function: Any, seconds: float = 5.0) -> Any:
    """Run ``function`` in a thread; fail instead of hanging if it loops."""
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(function()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "chain resolution did not terminate"
    return box[0]


def test_self_referencing_replacement_terminates() -> None:
    result, report = finishes(lambda: evaluate([doc("C1"), doc("C2", "C1", "7", original="C2")]))
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"VOID_LINKAGE": ["C2"]}


def test_self_referencing_void_of_a_ledger_chain_terminates() -> None:
    result, report = finishes(lambda: evaluate([doc("C2", "C1", "8", void="C2")],
                                               ledger("C1", "10.00", 101)))
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"VOID_LINKAGE": ["C2"]}


def test_looping_replacements_without_a_start_terminate() -> None:
    documents = [doc("C2", "C1", "7", original="C3"), doc("C3", "C1", "7", original="C2")]
    result, report = finishes(lambda: evaluate(documents))
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"VOID_LINKAGE": ["C2", "C3"]}


def test_loop_back_to_the_version_in_force_terminates() -> None:
    # C1 is in force; C2 replaces it, C3 replaces C2, and a claim C1 "replaces" C3
    documents = [doc("C1", "C1", "7", original="C3"), doc("C2", "C1", "7", original="C1"),
                 doc("C3", "C1", "7", original="C2")]
    result, report = finishes(lambda: evaluate(documents, ledger("C1", "10.00", 101)))
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"ALREADY_PAID": ["C1"]}


def test_loop_in_a_new_chain_with_a_repeated_original_id_terminates() -> None:
    documents = [doc("C1"), doc("C2", "C1", "7", original="C1"),
                 doc("C1-dup", "C1", "7", original="C2", ClaimCore_ID="C1")]
    result, report = finishes(lambda: evaluate(documents, ctx=context(
        duplicates=frozenset({"C1"}))))
    assert result.status is ChainStatus.BLOCKED
    assert findings(report) == {"DUPLICATE_CLAIM": ["C1"]}


# --- batches -------------------------------------------------------------------------------


def test_evaluate_batch_keeps_chain_order_and_merges_findings() -> None:
    chains = (
        ChainInput("C1", (doc("C1", allowed="10.00"),), LedgerState()),
        ChainInput("C2001", (doc("C2002", "C2001", "7", original="C2001", allowed="70.00"),),
                   ledger("C2001", "100.00", 101)),
        ChainInput("C8", (doc("C8", plan="BP-999"),), LedgerState()),
        ChainInput("C9", (doc("C9", freq="2"),), LedgerState()),
    )
    batch = BatchInput(chains, {"C2001": "C2001"})
    results, report = evaluate_batch(context(), batch)
    assert [(r.parent_id, r.status) for r in results] == [
        ("C1", ChainStatus.INCLUDED), ("C2001", ChainStatus.INCLUDED),
        ("C8", ChainStatus.EXCLUDED), ("C9", ChainStatus.BLOCKED)]
    assert [str(r.net) for r in results] == ["10.00", "-30.00", "0.00", "0.00"]
    assert findings(report) == {"BENEFIT_PLAN_EXCLUDED": ["C8"], "FREQ_INVALID": ["C9"]}
    assert report.findings["CLAIMS_BY_FREQUENCY"].counts == {"1": 1, "7": 1, "2": 1}
    again, _ = ClaimTransformer(context()).evaluate_batch(batch)
    assert again == results


def test_a_summary_batch_is_the_detailed_one_without_claims() -> None:
    chains = (
        ChainInput("C1", (doc("C1", lines=[amounts("10.00", billed="15.00")]),),
                   LedgerState()),
        ChainInput("C2001", (doc("C2002", "C2001", "7", original="C2001", allowed="70.00"),
                             doc("C2003", "C2001", "8", void="C2002")),
                   ledger("C2001", "100.00", 101)),
        ChainInput("C9", (doc("C9", freq="2"),), LedgerState()),
    )
    batch = BatchInput(chains, {"C2001": "C2001"})
    detailed, report = evaluate_batch(context(), batch)
    summaries, summary_report = evaluate_batch(context(), batch, detailed=False)
    assert summary_report == report
    assert [(s.claims, s.claim_ids) for s in summaries] == [((), ())] * 3
    assert [(str(s.billed), str(s.allowed), str(s.paid), str(s.net)) for s in summaries] == [
        ("15.00", "10.00", "10.00", "10.00"),  # the version in force
        ("0.00", "0.00", "0.00", "-100.00"),  # voided: nothing in force
        ("0.00", "0.00", "0.00", "0.00")]  # blocked
    assert [s.summary() for s in detailed] == summaries
    assert pickle.loads(pickle.dumps(detailed)) == detailed  # what workers send back
    assert [(r.parent_id, r.payee_key, r.interest) for r in detailed] == [
        (s.parent_id, s.payee_key, s.interest) for s in summaries]


def test_a_malformed_ledger_entry_is_counted_at_the_first_chain_it_concerns() -> None:
    chains = tuple(ChainInput(c, (doc(c),), LedgerState()) for c in ("C1", "C2", "C3", "C4"))
    batch = BatchInput(chains, invalid_ledger=(
        InvalidRecord("PE-P:C4", "ClaimFinCore: paid_date", frozenset({"C4"}),
                      frozenset({"C4", "C1"})),
        InvalidRecord("PE-P:C2", "ClaimFinCore: benefit_amount", frozenset({"C2"})),
        InvalidRecord("PE-P:C3", "ClaimFinCore: benefit_amount", frozenset({"C3"}),
                      reported=True),  # counted by an earlier batch: it only blocks
    ))
    results, report = evaluate_batch(context(), batch)
    assert [r.status for r in results] == [ChainStatus.BLOCKED] * 4
    finding = report.findings["RECORD_INVALID"]
    assert (finding.count, finding.samples) == (2, ["PE-P:C4", "PE-P:C2"])


def test_group_by_parent_in_stream_order() -> None:
    stream = [doc("A1"), doc("A2", "A1", "7", original="A1"), doc("B1"), doc("C1"),
              doc("C2", "C1", "8", void="C1")]
    groups = [(parent, [d["_id"] for d in documents])
              for parent, documents in group_by_parent(iter(stream))]
    assert groups == [("A1", ["A1", "A2"]), ("B1", ["B1"]), ("C1", ["C1", "C2"])]
    assert list(group_by_parent([])) == []


def test_claims_are_counted_by_the_text_of_any_value() -> None:
    """Counted as text, first seen first: a number and a boolean that are equal stay two
    keys, a document is counted by its type's text, long text is cut at 32 characters."""
    odd = [doc("C1", freq=1), doc("C2", freq=True), doc("C3", freq="1"),
           doc("C4", ClaimType=["PROFESSIONAL"]), doc("C5", ClaimType=None),
           doc("C6", status="X" * 40)]
    batch = BatchInput(tuple(ChainInput(d["ClaimCore_ID"], (d,), LedgerState()) for d in odd))
    _, report = evaluate_batch(context(), batch)
    assert report.findings["CLAIMS_BY_FREQUENCY"].counts == {"1": 5, "True": 1}
    assert list(report.findings["CLAIMS_BY_TYPE"].counts.items()) == [
        ("PROFESSIONAL", 4), ("['PROFESSIONAL']", 1), ("None", 1)]
    assert report.findings["CLAIMS_BY_STATUS"].counts == {"APPROVED": 5, "X" * 32: 1}


_AMOUNT = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**13,
                max_value=10**13),
    st.sampled_from([Decimal("0"), Decimal("-0.00"), Decimal("1E+3"), Decimal("0.001"),
                     Decimal("12345678901234567890.12"), Decimal("NaN")]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=12), st.sampled_from(list(ChainStatus)),
                          st.integers(0, 9), st.none() | st.text(max_size=8),
                          st.none() | st.integers(1, 10**6), st.lists(_AMOUNT, min_size=8,
                                                                      max_size=8),
                          st.none() | st.dictionaries(st.text(max_size=4), st.text(max_size=4))),
                max_size=30))
def test_chain_summaries_come_back_from_a_worker_as_they_were(rows) -> None:
    """Pickled by columns (amounts in one text): the same results, each amount with its
    own exponent (Decimal('0') stays apart from Decimal('0.00')), every type kept."""
    summaries = ChainSummaries(
        ChainResult(parent, status, count, key, payee_id, (), final, *amounts,
                    payee_source=source)
        for parent, status, count, key, payee_id, amounts, source in rows
        for final in (parent or None,))
    back = pickle.loads(pickle.dumps(summaries, protocol=pickle.HIGHEST_PROTOCOL))
    assert type(back) is ChainSummaries
    assert repr(back) == repr(summaries)  # NaN != NaN: compare what each field shows
    assert all(type(a) is type(b) for x, y in zip(back, summaries, strict=True)
               for a, b in zip(x.__reduce__()[1], y.__reduce__()[1], strict=True))
