"""Pass 2's fast path against the claim model: the same results and the same documents.

For any chain (odd shapes and amount encodings included), :func:`second_pass` must give
the status and figures the claim model gives (``evaluate_batch``, pass 2 before the fast
path), and the ledger entry and PaymentInfo documents built from its result must be the
same BSON bytes as those built from the model's.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import bson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from PaymentProcess.core import records
from PaymentProcess.core.claim_processor import evaluate_batch
from PaymentProcess.core.plain_lines import PlainClaim, second_pass
from PaymentProcess.data.models.payment import (
    BatchInput,
    ChainInput,
    ChainStatus,
    ClaimPayment,
    LedgerState,
)
from PaymentProcess.data.models.payment_center import PaymentCenterType
from tests.unit.test_claim_processor import amounts, context, doc, ledger
from tests.unit.test_plain_chain import FIELDS, ODD_VALUES, chain, encodings, perturb

DUE = date(2026, 11, 20)


def written(results: list[Any]) -> list[bytes]:
    """The ledger entries and PaymentInfos of the included chains, as BSON."""
    documents = []
    for result in results:
        if result.status is ChainStatus.INCLUDED:
            documents.append(records.ledger_entry("PE-1", result, 101, DUE))
            documents += [records.payment_info("PE-1", result, claim, 101)
                          for claim in result.claims]
    return [bson.encode(document) for document in documents]


def assert_same_as_model(ctx: Any, chains: list[ChainInput],
                         ledger_chains: dict[str, str] | None = None) -> list[Any]:
    batch = BatchInput(tuple(chains), ledger_chains or {})
    fast, fast_report = second_pass(ctx, batch)
    slow, slow_report = evaluate_batch(ctx, batch)
    assert [r.summary() for r in fast] == [r.summary() for r in slow]
    assert [r.claim_ids for r in fast] == [r.claim_ids for r in slow]
    assert fast_report.as_documents() == slow_report.as_documents()
    assert written(fast) == written(slow)
    return fast


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(ODD_VALUES)), max_size=3),
       st.sampled_from(["single", "replaced", "voided", "paid before"]),
       st.sampled_from([PaymentCenterType.PROVIDER, PaymentCenterType.DMR]),
       st.sampled_from(["0.00", "2.00", "33.33"]))
def test_any_chain_writes_what_the_claim_model_writes(changes, shape, pc_type, pct) -> None:
    ctx = context(pct=pct, pc_type=pc_type)
    state = LedgerState()
    if shape == "single":
        documents = [doc("C1", allowed="150.00")]
    elif shape == "replaced":
        documents = [doc("C1"), doc("C2", parent="C1", freq="7", original="C1", allowed="90.00")]
    elif shape == "voided":
        documents = [doc("C1"), doc("C2", parent="C1", freq="8", void="C1")]
    else:
        documents = [doc("C2", parent="C1", freq="7", original="C1", allowed="80.00",
                         received=date(2026, 9, 1))]
        state = ledger("C1", "50.00", 101)
    for where, value in changes:
        documents[-1] = perturb(documents[-1], where, value)
    assert_same_as_model(ctx, [chain(*documents, state=state)])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(*[encodings] * 6), min_size=1, max_size=3), st.booleans())
def test_any_amount_encoding_is_written_as_the_model_writes_it(lines, denied: bool) -> None:
    names = ("billed", "allowed", "deductible", "coinsurance", "copay", "cob_paid")
    raw_lines = [{"line_no": n, "units": n, **dict(zip(names, values, strict=True))}
                 for n, values in enumerate(lines)]
    document = doc("C1", lines=raw_lines, status="DENIED" if denied else "APPROVED")
    assert_same_as_model(context(pct="2.00"), [chain(document)])


def test_plain_and_model_chains_of_one_batch_are_written_alike() -> None:
    plain = [chain(doc(f"C{n}", lines=[amounts(f"{n}.10", copay="1.00"), amounts("0.25")]))
             for n in range(10, 20)]
    odd = doc("C30", lines=[{**amounts("5.00"), "units": 2.5}])  # the model takes it
    replaced = [doc("C40"), doc("C41", parent="C40", freq="7", original="C40")]
    results = assert_same_as_model(context(pct="2.00"),
                                   [*plain, chain(odd), chain(*replaced)])
    kinds = [{type(claim) for claim in result.claims} for result in results]
    assert kinds == [{PlainClaim}] * 10 + [{ClaimPayment}, {PlainClaim}]
    assert results[-1].claim_ids == ("C40", "C41")
    assert [claim.document_id for claim in results[-1].claims] == ["C40", "C41"]
