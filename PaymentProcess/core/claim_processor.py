"""From a chain's raw claim documents to a judged and computed chain (spec sections 4 and 6).

:func:`evaluate_batch` is the unit of work the process pool runs: it takes whole chains
with their ledger state and returns each chain's result and the batch's findings. It is
pure (no store access), so the result cannot depend on ``--workers`` or ``--batch-size``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain as chained
from itertools import groupby, repeat
from typing import Any

from PaymentProcess.core import validation as codes
from PaymentProcess.core.plain_chain import PlainChains
from PaymentProcess.core.service_line_processor import ServiceLineProcessor
from PaymentProcess.core.validation import Validation
from PaymentProcess.data.models.claim import Claim, ClaimStatus, FrequencyCode, claim_label
from PaymentProcess.data.models.payment import (
    BatchInput,
    ChainInput,
    ChainResolution,
    ChainResult,
    ChainStatus,
    ClaimPayment,
    ClaimTotals,
    LedgerState,
    PaymentContext,
    Version,
    chain_summaries,
)
from PaymentProcess.data.models.payment_center import PaymentCenterType, payee_key, payee_source
from PaymentProcess.data.models.stats import ValidationReport
from PaymentProcess.utils.money import ZERO, cents_to_decimal, decimal_cents

_TEXT_OR_NONE = frozenset((str, type(None)))


@dataclass(frozen=True, slots=True)
class MalformedParent:
    """Stands for a ``ParentClaimCore_ID`` that is not a string (a list, a document...).

    It is hashable, so the chain can be looked up and passed around like any other,
    and it is not a ``str``, so the chain is blocked (the claim model reports the field).
    """

    label: str

    def __str__(self) -> str:
        return self.label


def _parent_key(document: dict[str, Any]) -> Any:
    value = document.get("ParentClaimCore_ID")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return MalformedParent(f"<{type(value).__name__}>")


def mentioned_claim_ids(documents: Iterable[dict[str, Any]]) -> set[str]:
    """Every claim id the documents name: their own, and the versions they replace or void."""
    return {value for document in documents
            for name in ("ClaimCore_ID", "OriginalClaimCore_ID", "VoidClaimCore_ID")
            if isinstance(value := document.get(name), str)}


def group_by_parent(documents: Iterable[dict[str, Any]]) -> Iterator[tuple[Any, list[dict]]]:
    """Group documents sorted by ParentClaimCore_ID into chains, in stream order.

    The key is always hashable: a parent id of a wrong, unhashable type (a list, an
    embedded document) becomes a :class:`MalformedParent`, whose chain is blocked.
    """
    for parent_id, chain in groupby(documents, key=_parent_key):
        yield parent_id, list(chain)


def whole_chain_parts(documents: Sequence[dict[str, Any]], claims_per_part: int
                      ) -> list[Sequence[dict[str, Any]]]:
    """Cut documents sorted by ParentClaimCore_ID into consecutive parts of whole chains
    (as :func:`group_by_parent` groups them), each of at least ``claims_per_part`` claims
    but the last (what is left). Only the documents around each cut are looked at."""
    parts = []
    start, total = 0, len(documents)
    while start < total:
        end = min(start + claims_per_part, total)
        while end < total and _parent_key(documents[end]) == _parent_key(documents[end - 1]):
            end += 1
        parts.append(documents[start:end])
        start = end
    return parts


def _shown(value: Any) -> str:
    """A raw field value for a finding's detail: short text quoted, anything else its type.

    Never ``repr`` of an arbitrary value: a deeply nested document would be slow to
    render, and could exceed the recursion limit.
    """
    if value is None:
        return "missing"
    if isinstance(value, str):
        return repr(value[:80])
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return f"<{type(value).__name__}>"


def _raw_text(document: dict[str, Any], field: str) -> str | None:
    """An identifier as the Claim model reads it (numbers become text), before validation."""
    value = document.get(field)
    if type(value) is int:
        return str(value)
    return value if isinstance(value, str) and value else None


def chain_documents(chains: Iterable[ChainInput]) -> list[dict[str, Any]]:
    """The claim documents of the chains, in order."""
    return list(chained.from_iterable(chain.documents for chain in chains))


def _counts_by_text(documents: list[dict[str, Any]], name: str) -> Counter[str]:
    """How many documents have each value of field ``name``, as text of at most 32
    characters, in the order first seen.

    The values are counted as they are (in C) when they are all text or missing, the
    usual case; any other value (a number, which could equal a boolean, or an unhashable
    document) has the documents counted one by one by their text.
    """
    try:
        by_value = Counter(map(dict.get, documents, repeat(name)))
    except TypeError:  # an unhashable value
        by_value = None
    if by_value is None or not {type(value) for value in by_value} <= _TEXT_OR_NONE:
        by_value = Counter(str(document.get(name)) for document in documents)
    counts: Counter[str] = Counter()
    for value, count in by_value.items():
        counts[str(value)[:32]] += count
    return counts


class ClaimTransformer:
    """Judges and computes the chains of one payment event."""

    def __init__(self, context: PaymentContext, summaries: bool = False) -> None:
        self.context = context
        self.validation = Validation(context.pc_type)
        self.calculator = ServiceLineProcessor(
            context.payment_reduction_pct, context.interest, context.due_date, context.pc_type
        )
        self.plain = (PlainChains(context, self.calculator, self.resolve_chain,
                                  self.included_chain) if summaries else None)
        self.sourced_keys: set[str | None] = set()  # payee keys given a payee_source

    def evaluate_batch(self, batch: BatchInput) -> tuple[list[ChainResult], ValidationReport]:
        """Judge and compute every chain of a batch, findings in claim order."""
        report = ValidationReport()
        if self.plain is not None:
            results = self.plain.evaluate_batch(batch.chains, batch.ledger_claim_chains, report,
                                                self._model_chain)
        else:
            results = [self._model_chain(chain, batch.ledger_claim_chains, report)
                       for chain in batch.chains]
        counted = [chain for chain, result in zip(batch.chains, results, strict=True)
                   if result.status is not ChainStatus.EXCLUDED]
        self._count_claims(chain_documents(counted), report)
        if batch.invalid_ledger:
            results = self._block_invalid_ledger(batch, results, report)
        return results, report

    def _block_invalid_ledger(self, batch: BatchInput, results: list[ChainResult],
                              report: ValidationReport) -> list[ChainResult]:
        """A malformed ledger entry is RECORD_INVALID and blocks the chains it concerns.

        The ledger is the system of record, so the entry is never skipped: a chain it
        belongs to, or whose claims it lists, cannot be computed (its prior sum and
        version in force are unknown). An entry is counted at the first chain it
        concerns, unless an earlier batch counted it: the findings do not depend on
        ``--batch-size``.
        """
        concerned: set[int] = set()
        counted: set[int] = set()
        for index, chain in enumerate(batch.chains):
            mentioned = mentioned_claim_ids(chain.documents)
            for position, record in enumerate(batch.invalid_ledger):
                if chain.parent_id in record.parent_ids or mentioned & record.claim_ids:
                    concerned.add(index)
                    if not record.reported and position not in counted:
                        counted.add(position)
                        report.add(codes.RECORD_INVALID, record.label, record.detail)
        return [ChainResult(result.parent_id, ChainStatus.BLOCKED, result.claim_count)
                if index in concerned and result.status is ChainStatus.INCLUDED else result
                for index, result in enumerate(results)]

    def exclusion(self, documents: Iterable[dict[str, Any]], report: ValidationReport) -> bool:
        """Spec 4.3: a claim outside the plans or payees of the criteria excludes its chain."""
        excluded = False
        keys = self.context.payment_center_keys
        for document in documents:
            label = claim_label(document)
            if _raw_text(document, "BenefitPlan_ID") not in self.context.benefit_plan_ids:
                report.add(codes.BENEFIT_PLAN_EXCLUDED, label,
                           f"BenefitPlan_ID {_shown(document.get('BenefitPlan_ID'))}")
                excluded = True
            if keys is not None:
                key = payee_key(self.context.pc_type, _raw_text(document, "TIN"),
                                _raw_text(document, "NPI"), _raw_text(document, "MemberID"))
                if key is not None and key not in keys:
                    report.add(codes.PC_EXCLUDED, label, key)
                    excluded = True
        return excluded

    def evaluate_chain(
        self,
        chain: ChainInput,
        ledger_claim_chains: Mapping[str, str],
        report: ValidationReport,
    ) -> ChainResult:
        """Exclude, validate, resolve and compute one chain (the batch counts its claims).

        With ``summaries``, a plain chain is computed by the fast path
        (:class:`~PaymentProcess.core.plain_chain.PlainChains`); any other goes through
        the claim model, which reports its findings.
        """
        if self.plain is not None:
            result = self.plain.evaluate(chain, ledger_claim_chains, report)
            if result is not None:
                return result
        return self._model_chain(chain, ledger_claim_chains, report)

    def _model_chain(self, chain: ChainInput, ledger_claim_chains: Mapping[str, str],
                     report: ValidationReport) -> ChainResult:
        """:meth:`evaluate_chain` through the claim model, which reports every finding."""
        parent_label = str(chain.parent_id)[:64]
        count = len(chain.documents)
        if self.exclusion(chain.documents, report):
            return ChainResult(parent_label, ChainStatus.EXCLUDED, count)

        ok = True
        claims: list[Claim] = []
        seen: set[str] = set()
        for document in chain.documents:
            claim = self.validation.parse_claim(document, report)
            if claim is None:
                ok = False
                continue
            ok &= self.validation.validate_claim(claim, report)
            claim_id = claim.ClaimCore_ID
            if claim_id in self.context.duplicate_claim_ids:
                report.add(codes.DUPLICATE_CLAIM, claim_id, f"document {claim.id}")
                ok = False
            owner = ledger_claim_chains.get(claim_id)
            if owner is not None:
                report.add(codes.ALREADY_PAID, claim_id, f"in the ledger of chain {owner}")
                ok = False
            if claim_id not in seen:
                seen.add(claim_id)
                claims.append(claim)
        if not isinstance(chain.parent_id, str):
            return ChainResult(parent_label, ChainStatus.BLOCKED, count)

        versions = [Version(c.ClaimCore_ID, c.FrequencyCode, c.reference) for c in claims]
        resolution = self.resolve_chain(chain.parent_id, versions, chain.ledger,
                                        ledger_claim_chains, report)
        if resolution is None or not ok:
            return ChainResult(parent_label, ChainStatus.BLOCKED, count)
        return self._compute_chain(chain, claims, resolution, report)

    @staticmethod
    def _count_claims(documents: list[dict[str, Any]], report: ValidationReport) -> None:
        """The info findings CLAIMS_BY_TYPE/STATUS/FREQUENCY of the claims not excluded."""
        if not documents:  # every chain excluded
            return
        for code, name in ((codes.CLAIMS_BY_TYPE, "ClaimType"),
                           (codes.CLAIMS_BY_STATUS, "ClaimStatus"),
                           (codes.CLAIMS_BY_FREQUENCY, "FrequencyCode")):
            report.add_counts(code, _counts_by_text(documents, name))

    @staticmethod
    def resolve_chain(
        parent_id: str,
        claims: list[Version],
        ledger: LedgerState,
        ledger_claim_chains: Mapping[str, str],
        report: ValidationReport,
    ) -> ChainResolution | None:
        """Spec 4.1 with the linkage checks; None when the linkage is broken (reported)."""
        if (len(claims) == 1 and not ledger.has_entries and claims[0].claim_id == parent_id
                and claims[0].frequency == FrequencyCode.ORIGINAL):
            return ChainResolution(parent_id, parent_id)  # the usual chain: one original
        if len(claims) == 1 and ledger.has_entries:
            claim_id, frequency, reference = claims[0]
            if (frequency == FrequencyCode.REPLACEMENT and reference
                    and reference == ledger.in_force_id and reference != claim_id):
                return ChainResolution(claim_id, claim_id)  # one replacement of the paid one
        ok = True
        by_id = {claim.claim_id: claim for claim in claims}
        replacements: dict[str, list[Version]] = {}
        voids: dict[str, list[Version]] = {}
        flagged: set[str] = set()

        def broken(code, claim: Version, detail: str) -> None:
            nonlocal ok
            report.add(code, claim.claim_id, detail)
            flagged.add(claim.claim_id)
            ok = False

        for claim in claims:
            frequency = claim.frequency
            if frequency == FrequencyCode.ORIGINAL:
                if claim.claim_id != parent_id:
                    broken(codes.VOID_LINKAGE, claim, "an original that is not its chain's parent")
                elif ledger.has_entries:
                    broken(codes.VOID_LINKAGE, claim, "an original in a chain already paid")
                continue
            if frequency not in (FrequencyCode.REPLACEMENT, FrequencyCode.VOID):
                flagged.add(claim.claim_id)  # FREQ_INVALID already reported
                ok = False
                continue
            reference = claim.reference
            field = "OriginalClaimCore_ID" if frequency == "7" else "VoidClaimCore_ID"
            if reference is None:
                broken(codes.VOID_LINKAGE, claim, f"a {frequency} without {field}")
            elif reference in by_id or (reference == ledger.in_force_id and reference):
                target = replacements if frequency == FrequencyCode.REPLACEMENT else voids
                target.setdefault(reference, []).append(claim)
            elif ledger_claim_chains.get(reference, parent_id) != parent_id:
                broken(codes.VOID_LINKAGE, claim,
                       f"{field} {reference} belongs to chain {ledger_claim_chains[reference]}")
            else:
                broken(codes.PARENT_NOT_PAID, claim,
                       f"{field} {reference} is neither in force nor in this event's chain")
        for kind, references in (("replacements", replacements), ("voids", voids)):
            for reference, referencing in references.items():
                if len(referencing) > 1:
                    for claim in referencing:
                        broken(codes.VOID_LINKAGE, claim, f"two {kind} of {reference}")

        if ledger.has_entries:
            start = ledger.in_force_id
        else:
            original = by_id.get(parent_id)
            start = parent_id if original and original.frequency == "1" else None
        reached = {start} if start in by_id else set()
        current, last_version = start, start
        while current is not None:
            replacement = replacements.get(current, [])
            void = voids.get(current, [])
            if void:
                reached.add(void[0].claim_id)
            if replacement and replacement[0].claim_id not in reached:
                current = replacement[0].claim_id
                reached.add(current)
                last_version = current
            elif void:
                current = None
            else:
                break
        for claim in claims:
            if claim.claim_id not in reached and claim.claim_id not in flagged:
                broken(codes.VOID_LINKAGE, claim, "not reachable from the chain's start")
        if not ok:
            return None
        return ChainResolution(final_id=current, last_version_id=last_version)

    def _compute_chain(
        self,
        chain: ChainInput,
        claims: list[Claim],
        resolution: ChainResolution,
        report: ValidationReport,
    ) -> ChainResult:
        payments: dict[str, ClaimPayment] = {}
        for claim in claims:
            payment, over_allowed = self.calculator.rollup_to_claim(claim)
            if over_allowed:
                report.add(codes.OVER_ALLOWED, claim.ClaimCore_ID)
            payments[claim.ClaimCore_ID] = payment
        keys = {p.payee_key for p in payments.values()}
        if len(keys) > 1:
            report.add(codes.PC_MISMATCH, str(chain.parent_id),
                       ", ".join(sorted(k for k in keys if k)))
        final = payments.get(resolution.final_id) if resolution.final_id else None
        source_id = resolution.payee_version(chain.ledger)
        source_claim = next((c for c in claims if c.ClaimCore_ID == source_id), None)
        pc_type = self.context.pc_type
        return self.included_chain(
            chain, resolution.final_id,
            None if final is None else (
                final.claim_status == ClaimStatus.APPROVED, final.received_date.toordinal(),
                *(decimal_cents(total, bounded=False) for total in (
                    final.billed, final.allowed, final.reduction, final.paid))),
            None if source_id is None else payments[source_id].payee_key,
            None if source_claim is None else lambda: payee_source(
                pc_type, source_claim.provider if pc_type is PaymentCenterType.PROVIDER
                else source_claim.member, source_claim.TIN, source_claim.NPI,
                source_claim.MemberID),
            claim_ids=tuple(sorted(payments)),
            claims=tuple(payments[claim_id] for claim_id in sorted(payments)))

    def included_chain(self, chain: ChainInput, final_id: str | None,
                       final: ClaimTotals | None, payee_key: str | None,
                       source: Callable[[], dict[str, Any]] | None,
                       claim_ids: tuple[str, ...] = (),
                       claims: tuple[ClaimPayment, ...] = ()) -> ChainResult:
        """An included chain's result from its version in force (spec 6): what it pays
        now (``current``), the net against what the ledger paid before, and interest.

        ``final_id`` is the version in force (None: the chain ends voided), ``final`` its
        figures. ``source`` gives the data a new payee is made from; it is taken for the first
        chain of each payee key in the batch only (the run keeps the first it sees).
        """
        prior = chain.ledger.prior_sum
        if final is None:
            current = paid = billed = allowed = reduction = interest = ZERO
            net = ZERO - prior
        else:
            approved, received_day, billed_cents, allowed_cents, reduction_cents, paid_cents \
                = final
            current = paid = cents_to_decimal(paid_cents)
            if prior:
                net_cents = paid_cents - decimal_cents(prior, bounded=False)
                net = cents_to_decimal(net_cents)
            else:  # a chain the ledger never paid (most): net is what it pays
                net_cents, net = paid_cents, paid
            interest_cents = self.calculator.chain_interest(net_cents, approved, received_day)
            interest = cents_to_decimal(interest_cents) if interest_cents else ZERO
            billed = cents_to_decimal(billed_cents)
            allowed = cents_to_decimal(allowed_cents)
            reduction = cents_to_decimal(reduction_cents) if reduction_cents else ZERO
        payee = None
        if source is not None and payee_key not in self.sourced_keys:
            self.sourced_keys.add(payee_key)
            payee = source()
        return ChainResult(chain.parent_id, ChainStatus.INCLUDED, len(chain.documents),
                           payee_key, chain.ledger.last_payee_id, claim_ids, final_id,
                           current, prior, net, interest, billed, allowed, reduction, paid,
                           claims, payee)


def first_pass(context: PaymentContext, batch: BatchInput
               ) -> tuple[list[ChainResult], ValidationReport, list[bytes], list[Any]]:
    """Pass 1 of one batch, in a worker: chain summaries, findings, and the claims' digests
    (:func:`~PaymentProcess.core.plain_chain.claim_digest`) and ids, in claim order."""
    transformer = ClaimTransformer(context, summaries=True)
    results, report = transformer.evaluate_batch(batch)
    ids = list(map(dict.get, chain_documents(batch.chains), repeat("_id")))
    return chain_summaries(results), report, transformer.plain.digests, ids


def evaluate_batch(context: PaymentContext, batch: BatchInput,
                   detailed: bool = True) -> tuple[list[ChainResult], ValidationReport]:
    """Process-pool entry point: evaluate one batch of chains.

    ``detailed=False`` returns :meth:`ChainResult.summary` of each chain (pass 1 needs
    no lines), which keeps what workers send back small.
    """
    results, report = ClaimTransformer(context, summaries=not detailed).evaluate_batch(batch)
    if not detailed:
        results = chain_summaries(results)
    return results, report
