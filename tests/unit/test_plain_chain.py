"""Pass 1's fast path (plain chains) against the claim model and a plain Decimal reference.

The fast path is the engine's pass 1: it must give, chain for chain and finding for
finding, what the claim model path gives, and the figures a plain reference computes
with ``Decimal128.to_decimal()`` and Decimal arithmetic, whatever the encoding of the
amounts, bad values included.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from bson.decimal128 import Decimal128
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from PaymentProcess.core.claim_processor import ClaimTransformer, first_pass
from PaymentProcess.core.plain_chain import claim_digest, read_claim, read_claims
from PaymentProcess.data.models.payment import BatchInput, ChainInput, ChainStatus, LedgerState
from PaymentProcess.data.models.payment_center import PaymentCenterType
from PaymentProcess.data.models.stats import ValidationReport
from tests.unit.test_claim_processor import ADDRESS, amounts, context, doc, ledger

D = Decimal
BIAS = 6176
AMOUNTS = ("billed", "allowed", "deductible", "coinsurance", "copay", "cob_paid")


def bid(negative: bool, coefficient: int, exponent: int) -> Decimal128:
    """A Decimal128 with this exact encoding (coefficient below 2^113)."""
    high = (int(negative) << 63) | ((exponent + BIAS) << 49) | (coefficient >> 64)
    low = coefficient & (2**64 - 1)
    return Decimal128.from_bid(low.to_bytes(8, "little") + high.to_bytes(8, "little"))


def model_pass(ctx, batch: BatchInput):
    """Pass 1 through the claim model only (the path the fast path steps aside to)."""
    results, report = ClaimTransformer(ctx).evaluate_batch(batch)
    return [result.summary() for result in results], report


def assert_same_as_model(ctx, chains: list[ChainInput], ledger_chains=None) -> list:
    batch = BatchInput(tuple(chains), ledger_chains or {})
    fast, fast_report, digests, ids = first_pass(ctx, batch)
    slow, slow_report = model_pass(ctx, batch)
    assert fast == slow
    assert fast_report.as_documents() == slow_report.as_documents()
    assert len(digests) == len(ids) == sum(len(chain.documents) for chain in chains)
    assert ids == [document.get("_id") for chain in chains for document in chain.documents]
    return fast


NEW_CHAIN = LedgerState()


def chain(*documents: dict[str, Any], state: LedgerState = NEW_CHAIN) -> ChainInput:
    return ChainInput(documents[0]["ParentClaimCore_ID"], tuple(documents), state)


# --- amounts: any encoding, against the plain reference ----------------------------------

def non_canonical(value: Decimal128) -> bool:
    """A coefficient above 10^34 - 1 (the BSON spec reads zero; pymongo 4.10 raises)."""
    high, low = value.__getstate__()
    return (high >> 61) & 3 != 3 and ((high & (2**49 - 1)) << 64 | low) > 10**34 - 1


def reference_amount(value: Decimal128) -> Decimal | None:
    """What an amount is worth by spec section 2, from ``to_decimal()``; None if bad."""
    number = value.to_decimal()
    if not number.is_finite() or abs(number) >= 10**13:
        return None
    cents = number.quantize(D("0.01"), rounding=ROUND_HALF_UP)
    return cents if cents == number else None


encodings = st.one_of(
    st.builds(bid, st.just(False), st.integers(0, 10**8), st.just(-2)),  # the usual one
    st.builds(bid, st.booleans(), st.integers(0, 10**16),
              st.integers(-30, 14)),  # other exponents: whole cents or not, large, negative
    st.builds(bid, st.booleans(), st.integers(0, 2**113 - 1), st.integers(-40, 10)),
    st.sampled_from([Decimal128("NaN"), Decimal128("-Infinity"), Decimal128("Infinity"),
                     Decimal128("0E+6000"), Decimal128("-0.00"), Decimal128("1E+13"),
                     Decimal128("9999999999999.99"), Decimal128("0.001")]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(*[encodings] * 6), min_size=1, max_size=4),
       st.sampled_from(["0.00", "2.00", "33.33", "100.00"]), st.booleans())
def test_line_figures_match_the_decimal_reference(lines, pct: str, denied: bool) -> None:
    ctx = context(pct=pct)
    raw_lines = [{"line_no": n, **dict(zip(AMOUNTS, values, strict=True))}
                 for n, values in enumerate(lines)]
    document = doc("C1", lines=raw_lines, status="DENIED" if denied else "APPROVED")
    [result] = assert_same_as_model(ctx, [chain(document)])
    if any(non_canonical(value) for values in lines for value in values):
        return  # the same as the model path, whose reading tests/unit/test_money.py checks
    parsed = [[reference_amount(v) for v in values] for values in lines]
    if any(a is None for line in parsed for a in line) or any(
            a < 0 for line in parsed for a in line):
        assert result.status is ChainStatus.BLOCKED
        return
    paid = reduction = D("0.00")
    for _, allowed, deductible, coinsurance, copay, cob_paid in parsed:
        if denied:
            continue
        line_paid = max(allowed - deductible - coinsurance - copay - cob_paid, D("0.00"))
        line_reduction = (line_paid * D(pct) / 100).quantize(D("0.01"), rounding=ROUND_HALF_UP)
        reduction += line_reduction
        paid += line_paid - line_reduction
    assert result.status is ChainStatus.INCLUDED
    assert (result.paid, result.reduction) == (paid, reduction)
    assert str(result.paid) == str(paid.quantize(D("0.01")))
    assert result.billed == sum((line[0] for line in parsed), D("0.00"))
    assert result.allowed == sum((line[1] for line in parsed), D("0.00"))


def test_a_claim_whose_lines_add_up_to_ten_trillion_or_more_is_computed_not_a_crash() -> None:
    """Each line is below 10^13 (spec section 2), their total need not be: both paths
    take it (hypothesis found the model path raising BadAmount on the totals)."""
    top = Decimal128("9999999999999.99")
    line = dict(zip(AMOUNTS, (top, top, Decimal128("0.00"), Decimal128("0.00"),
                              Decimal128("0.00"), Decimal128("0.00")), strict=True))
    document = doc("C1", lines=[{"line_no": 1, **line}, {"line_no": 2, **line}])
    [result] = assert_same_as_model(context(pct="0.00"), [chain(document)])
    assert result.status is ChainStatus.INCLUDED
    assert result.billed == result.allowed == result.paid == D("19999999999999.98")


# --- whole chains: any shape, against the claim model ------------------------------------

def perturb(document: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    if where.startswith("line."):
        lines = changed.get("service_lines")
        if not isinstance(lines, list) or not lines or not isinstance(lines[0], dict):
            return changed
        if value is _MISSING:
            changed["service_lines"][0].pop(where[5:], None)
        else:
            changed["service_lines"][0][where[5:]] = value
    elif value is _MISSING:
        changed.pop(where, None)
    else:
        changed[where] = value
    return changed


_MISSING = object()
FIELDS = ["_id", "ClaimCore_ID", "PaymentEvent_ID", "ClaimType", "ClaimStatus", "FrequencyCode",
          "OriginalClaimCore_ID", "VoidClaimCore_ID", "BenefitPlan_ID", "received_date",
          "patient_control_number", "NPI", "TIN", "MemberID", "provider", "member",
          "service_lines", "line.line_no", "line.procedure_code", "line.units",
          "line.service_date", "line.billed", "line.allowed", "line.copay", "line.cob_paid"]
ODD_VALUES = [None, "", "x" * 201, "bad\nid", 7, 7.5, True, [], {}, ["C1"], {"a": 1},
              datetime(2026, 11, 10, 5, 30), Decimal128("-1.00"),
              Decimal128("1.001"), Decimal128("NaN"), "12.30", 10**7, -1,
              {"name": "N", "address": {"city": "x\x00"}}, {"name": 5},
              {"name": "N", "address": "street"}, "BP-200", "8", "7", "DENIED", "DMR",
              "1000000020", "741000002", _MISSING]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(ODD_VALUES)), max_size=3),
       st.sampled_from(["single", "replaced", "voided", "paid before", "two payees"]),
       st.sampled_from([PaymentCenterType.PROVIDER, PaymentCenterType.DMR]),
       st.booleans())
def test_any_chain_gives_what_the_claim_model_gives(changes, shape, pc_type, keys) -> None:
    ctx = context(pct="2.00", pc_type=pc_type,
                  keys=frozenset({"PROVIDER:741000001:1000000012", "DMR:M1"}) if keys else None)
    if shape == "single":
        documents = [doc("C1", allowed="150.00")]
        state = LedgerState()
    elif shape == "replaced":
        documents = [doc("C1"), doc("C2", parent="C1", freq="7", original="C1", allowed="90.00")]
        state = LedgerState()
    elif shape == "voided":
        documents = [doc("C1"), doc("C2", parent="C1", freq="8", void="C1")]
        state = LedgerState()
    elif shape == "paid before":
        documents = [doc("C2", parent="C1", freq="7", original="C1", allowed="80.00",
                         received=date(2026, 9, 1))]
        state = ledger("C1", "50.00", 101)
    else:
        documents = [doc("C1"), doc("C2", parent="C1", freq="7", original="C1",
                                   npi="1000000020", tin="741000002")]
        state = LedgerState()
    for where, value in changes:
        documents[-1] = perturb(documents[-1], where, value)
    assert_same_as_model(ctx, [chain(*documents, state=state)])


def shaped_chain(shape: str, n: int, changes: list[tuple[str, Any]]) -> ChainInput:
    """Chain ``n`` of a batch (claims P<n>-1, P<n>-2) in one of the shapes above, its last
    claim changed."""
    first, second = f"P{n}-1", f"P{n}-2"
    state = LedgerState()
    if shape == "single":
        documents = [doc(first, allowed=f"{n}50.00")]
    elif shape == "replaced":
        documents = [doc(first), doc(second, parent=first, freq="7", original=first)]
    elif shape == "voided":
        documents = [doc(first), doc(second, parent=first, freq="8", void=first)]
    else:  # paid before
        documents = [doc(second, parent=first, freq="7", original=first, allowed="80.00",
                         received=date(2026, 9, 1))]
        state = ledger(first, "50.00", 101)
    for where, value in changes:
        documents[-1] = perturb(documents[-1], where, value)
    return chain(*documents, state=state)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["single", "single", "replaced", "voided",
                                           "paid before"]),
                          st.lists(st.tuples(st.sampled_from(FIELDS),
                                             st.sampled_from(ODD_VALUES)), max_size=2)),
                min_size=2, max_size=6),
       st.sampled_from([PaymentCenterType.PROVIDER, PaymentCenterType.DMR]),
       st.sets(st.sampled_from(["P0-1", "P1-1", "P2-2", "P3-1"]), max_size=2),
       st.sets(st.sampled_from(["P1-1", "P2-2", "P4-1"]), max_size=2))
def test_a_batch_of_chains_gives_what_the_claim_model_gives(shapes, pc_type, duplicates,
                                                           owned) -> None:
    # fast and model chains mixed in one batch: every result, and the findings of both
    # paths in claim order; some claims are duplicates or already in another chain's ledger
    ctx = context(pct="2.00", pc_type=pc_type, duplicates=frozenset(duplicates))
    chains = [shaped_chain(shape, n, changes) for n, (shape, changes) in enumerate(shapes)]
    assert_same_as_model(ctx, chains, {claim_id: "P9-1" for claim_id in owned})


def test_the_synthetic_claims_all_take_the_fast_path_and_match() -> None:
    ctx = context(pct="2.00")
    chains = [chain(doc(f"C{n}", allowed=f"{n}.{n % 100:02d}",
                        lines=[amounts(f"{n}.00", copay="1.00"), amounts("0.25")]))
              for n in range(1, 40)]
    results = assert_same_as_model(ctx, chains)
    assert all(r.status is ChainStatus.INCLUDED for r in results)
    assert all(read_claim(c.documents[0]) is not None for c in chains)


def test_a_large_batch_is_read_and_hashed_in_groups_as_claim_by_claim() -> None:
    # more claims than one read group (128), a claim that is not plain in the second group
    ctx = context(pct="2.00")
    chains = [chain(doc(f"C{n}", allowed=f"{n}.{n % 100:02d}")) for n in range(300)]
    chains[200] = chain(perturb(doc("C200"), "line.allowed", Decimal128("-1.00")))
    results = assert_same_as_model(ctx, chains)
    assert [r.status for r in results].count(ChainStatus.BLOCKED) == 1
    assert results[200].status is ChainStatus.BLOCKED
    digests = first_pass(ctx, BatchInput(tuple(chains)))[2]
    documents = [c.documents[0] for c in chains]
    assert digests == [claim_digest(d, read_claim(d)) for d in documents]


def test_duplicates_and_ledger_owners_leave_the_fast_path() -> None:
    ctx = context(duplicates=frozenset({"C1"}))
    [blocked] = assert_same_as_model(ctx, [chain(doc("C1"))])
    assert blocked.status is ChainStatus.BLOCKED
    [paid] = assert_same_as_model(context(), [chain(doc("C3"))], {"C3": "C9"})
    assert paid.status is ChainStatus.BLOCKED


def test_interest_and_the_payee_source_of_a_fast_chain() -> None:
    late = doc("C1", allowed="1000.00", received=date(2026, 11, 20) - timedelta(days=95))
    [result] = assert_same_as_model(context(pct="0.00"), [chain(late)])
    # 1000.00 * 18 % * (95 - 30) days / 365 = 32.054..., rounded half up
    assert str(result.interest) == "32.05"
    assert result.payee_source == {"vendor_name": "Provider 741000001", "tax_id": "741000001",
                                   "npi": "1000000012", "member_id": None, "address": ADDRESS}


# --- reading and digests -------------------------------------------------------------------

def test_read_claim_takes_only_the_plain_shape() -> None:
    plain = doc("C1")
    assert read_claim(plain) is not None
    for where, value in [("service_lines", []), ("line.billed", "12.00"), ("NPI", ""),
                         ("received_date", datetime(2026, 1, 1).astimezone()),
                         ("line.allowed", Decimal128("-0.01")), ("line.copay", _MISSING),
                         ("provider", {"name": "x" * 201})]:
        assert read_claim(perturb(plain, where, value)) is None, where


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(ODD_VALUES)),
                         max_size=2), min_size=1, max_size=9))
def test_claims_read_together_read_as_each_alone(changes: list[list[tuple[str, Any]]]) -> None:
    # read_claims checks a batch column by column and splits a group with a claim that is
    # not plain: each claim must read (and hash) as it does alone, whatever its neighbours
    documents = [doc(f"C{n}", allowed=f"{n}.25",
                     lines=[amounts(f"{n}.25"), amounts("7.00", copay="1.00")])
                 for n in range(len(changes))]
    for n, claim_changes in enumerate(changes):
        for where, value in claim_changes:
            documents[n] = perturb(documents[n], where, value)
    together = read_claims(documents)
    alone = [read_claim(document) for document in documents]
    assert together == alone
    assert list(map(claim_digest, documents, together)) == list(map(claim_digest, documents,
                                                                    alone))
    assert all(read is not None for read, claim_changes in zip(together, changes, strict=True)
               if not claim_changes)
    assert read_claims([]) == []


def test_a_digest_follows_every_field_read_and_ignores_the_engine_fields() -> None:
    plain = doc("C1")
    digest = claim_digest(plain, read_claim(plain))
    marked = {**plain, "PaymentStatus": "PAID", "PaidEvent_ID": "PE-G1"}
    assert claim_digest(marked, read_claim(marked)) == digest
    for where, value in [("line.billed", Decimal128("100.01")), ("TIN", "741000009"),
                         ("received_date", datetime(2026, 11, 11)), ("line.units", 2),
                         ("provider", {"name": "Other", "address": ADDRESS})]:
        changed = perturb(plain, where, value)
        assert claim_digest(changed, read_claim(changed)) != digest, where
    odd = perturb(plain, "line.billed", "100.00")  # not plain: digest of the document
    assert read_claim(odd) is None
    assert claim_digest(odd, None) not in (digest, claim_digest(plain, None))


def test_a_digest_does_not_depend_on_which_equal_strings_are_shared() -> None:
    """The JSON decoder of the embedded store shares a document's equal keys; BSON's does
    not: the same claim must have one digest, whichever store it was read from."""
    plain = doc("C1")
    unshared = copy.deepcopy(plain)
    for party in ("provider", "member"):
        unshared[party] = {"".join(list(key)): value for key, value in unshared[party].items()}
    shared = copy.deepcopy(plain)
    shared["member"] = {next(k for k in shared["provider"] if k == key): value
                        for key, value in shared["member"].items()}
    assert shared == unshared
    assert read_claim(shared) is not None
    assert claim_digest(shared, read_claim(shared)) == claim_digest(unshared,
                                                                    read_claim(unshared))


@pytest.mark.parametrize("pc_type", [PaymentCenterType.PROVIDER, PaymentCenterType.DMR])
def test_first_pass_digests_do_not_depend_on_the_path(pc_type) -> None:
    # the digest is a function of the document: the same whether its chain is blocked
    ctx = context(pc_type=pc_type)
    document = doc("C1")
    alone = first_pass(ctx, BatchInput((chain(document),)))[2]
    blocked = first_pass(ctx, BatchInput((chain(document, doc("C1", parent="C1")),)))[2]
    assert blocked[0] == alone[0]


def test_over_allowed_is_reported_by_the_fast_path_as_by_the_model() -> None:
    # a replacement chain whose two versions each have a line above allowed: the warning
    # once a claim, in claim order, and the chain still paid (those lines pay nothing)
    over = [amounts("50.00", deductible="40.00", copay="20.00"), amounts("30.00")]
    documents = (doc("C1", lines=over),
                 doc("C2", "C1", "7", original="C1", lines=[over[0], amounts("10.00")]))
    ctx = context(pct="2.00")
    [result] = assert_same_as_model(ctx, [chain(*documents)])
    assert (result.status, str(result.paid)) == (ChainStatus.INCLUDED, "9.80")
    report = ValidationReport()
    fast = ClaimTransformer(ctx, summaries=True).plain.evaluate(chain(*documents), {}, report)
    assert fast == result
    [finding] = report.as_documents()
    assert (finding["code"], finding["count"], finding["samples"]) == ("OVER_ALLOWED", 2,
                                                                       ["C1", "C2"])
