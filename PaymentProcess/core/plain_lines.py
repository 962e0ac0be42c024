"""Pass 2's fast path: the final run's chains with their claims' lines in integer cents.

Pass 2 re-evaluates every chain to write its ledger entry, PaymentInfo and claim status.
:func:`second_pass` evaluates a batch as pass 1 does (:func:`~PaymentProcess.core.
claim_processor.first_pass`: plain chains on the fast path of :mod:`~PaymentProcess.core.
plain_chain`, any other through the claim model, so status, figures and findings are
pass 1's), and gives each plain included chain its claims as :class:`PlainClaim`\\ s:
the claim as :func:`~PaymentProcess.core.plain_chain.read_claim` reads it, with each
line's reduction and paid from :func:`~PaymentProcess.core.service_line_processor.
line_cents`. :func:`~PaymentProcess.core.records.payment_info` writes the same document
from a :class:`PlainClaim` as from the claim model's
:class:`~PaymentProcess.data.models.payment.ClaimPayment` (tests/integration/
test_pass_two_documents.py compares every document written on the two paths).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from PaymentProcess.core.claim_processor import ClaimTransformer
from PaymentProcess.core.plain_chain import CLAIM_FIELDS
from PaymentProcess.core.service_line_processor import line_cents
from PaymentProcess.data.models.claim import ClaimStatus
from PaymentProcess.data.models.payment import (
    BatchInput,
    ChainResult,
    ChainStatus,
    PaymentContext,
)
from PaymentProcess.data.models.payment_center import payee_key
from PaymentProcess.data.models.stats import ValidationReport

_FIELD = {name: index for index, name in enumerate(CLAIM_FIELDS)}
_DOC_ID, _CLAIM_ID, _STATUS = _FIELD["_id"], _FIELD["ClaimCore_ID"], _FIELD["ClaimStatus"]
_KEY_FIELDS = itemgetter(_FIELD["TIN"], _FIELD["NPI"], _FIELD["MemberID"])
_LINES = _FIELD["service_lines"]
_APPROVED = ClaimStatus.APPROVED.value
_claim_id = attrgetter("claim_id")


class PlainClaim(NamedTuple):
    """A plain claim version to write: its fields as read, its lines' payments in cents.

    ``read`` is :func:`~PaymentProcess.core.plain_chain.read_claim`'s tuple (fields in
    ``CLAIM_FIELDS`` order; lines ``(line_no, procedure_code, units, service_day, billed,
    allowed, deductible, coinsurance, copay, cob_paid)``, amounts in cents); ``payments``
    each line's ``(reduction, paid)`` in cents; the totals are the claim's, in cents.
    """

    read: tuple[Any, ...]
    payee_key: str | None
    payments: tuple[tuple[int, int], ...]
    billed: int
    allowed: int
    reduction: int
    paid: int

    @property
    def claim_id(self) -> str:
        """The claim's ``ClaimCore_ID``."""
        return self.read[_CLAIM_ID]

    @property
    def document_id(self) -> str:
        """The claim document's ``_id`` (what the final run marks paid)."""
        return self.read[_DOC_ID]


def plain_claim(read: tuple[Any, ...], context: PaymentContext,
                reduction_pct_cents: int) -> PlainClaim:
    """A read claim with its lines computed (spec 6: a denied claim pays nothing)."""
    lines = read[_LINES]
    billed = allowed = reduction = paid = 0
    if read[_STATUS] == _APPROVED:
        payments = []
        for line in lines:
            line_reduction, line_paid, _ = line_cents(line[5], line[6], line[7], line[8],
                                                      line[9], reduction_pct_cents)
            payments.append((line_reduction, line_paid))
            billed += line[4]
            allowed += line[5]
            reduction += line_reduction
            paid += line_paid
    else:
        payments = [(0, 0)] * len(lines)
        for line in lines:
            billed += line[4]
            allowed += line[5]
    return PlainClaim(read, payee_key(context.pc_type, *_KEY_FIELDS(read)), tuple(payments),
                      billed, allowed, reduction, paid)


def _with_claims(result: ChainResult, reads: Sequence[tuple[Any, ...]], context: PaymentContext,
                 reduction_pct_cents: int) -> ChainResult:
    """A plain chain's summary with its claims (by ClaimCore_ID, as the model path's)."""
    claims = sorted((plain_claim(read, context, reduction_pct_cents) for read in reads),
                    key=_claim_id)
    return replace(result, claim_ids=tuple(map(_claim_id, claims)), claims=tuple(claims))


def second_pass(context: PaymentContext, batch: BatchInput
                ) -> tuple[list[ChainResult], ValidationReport]:
    """Pass 2 of one batch, in a worker: each chain's result as pass 1 judges it, an
    included chain with its claims and lines to write (:class:`PlainClaim`\\ s for a plain
    chain, the claim model's ``ClaimPayment``\\ s for any other)."""
    transformer = ClaimTransformer(context, summaries=True)
    transformer.plain.digests = None  # the fingerprint is pass 1's
    # the claims of the chains the fast path accepted, as read: an included chain
    # without claims is one of them (the claim model's have theirs)
    reads = transformer.plain.reads = {}
    results, report = transformer.evaluate_batch(batch)
    pct = transformer.calculator.reduction_pct_cents
    return [_with_claims(result, reads[result.parent_id], context, pct)
            if result.status is ChainStatus.INCLUDED and not result.claims else result
            for result in results], report
