"""Pass 1's fast path: a plain chain judged, computed and hashed straight from its documents.

Nearly every chain of a cycle is *plain*: its claims have the shape the store writes
(text identifiers, dates, Decimal128 amounts, lists of documents) and raise no finding.
:class:`PlainChains` reads such a chain's documents directly — amounts as integer cents
(:func:`~PaymentProcess.utils.money.decimal128_cents`), the line and interest rules of
:mod:`~PaymentProcess.core.service_line_processor`, the linkage walk and the chain's
figures of :class:`~PaymentProcess.core.claim_processor.ClaimTransformer` — and builds
the chain's summary, without a claim model or a payment object per line and claim.

It accepts a chain only when every check of the claim model and the validations would
pass but the warning OVER_ALLOWED (which it reports as the model does), and steps aside
(None) at the first value of another shape or that would raise any other finding (bad
or negative amount, invalid identifier, duplicate, linkage, exclusion, PC_MISMATCH...).
The caller then evaluates the chain with the claim model, which reports every finding:
findings and figures are the model path's (tests/unit/test_plain_chain.py compares the
two on random documents).

A claim's digest for the inputs' fingerprint (:func:`claim_digest`) is taken from what
reading it gives — every field the engine reads, amounts in cents, dates as days — for
any document that reads plainly, and from its BSON encoding otherwise: a function of the
document alone, about a tenth of the cost of encoding it.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from functools import partial
from operator import itemgetter
from typing import Any

from bson.decimal128 import Decimal128

from PaymentProcess.core.run_control import claim_digests
from PaymentProcess.core.service_line_processor import ServiceLineProcessor, line_cents
from PaymentProcess.core.validation import OVER_ALLOWED, npi_is_valid, tin_is_valid
from PaymentProcess.data.models.claim import AMOUNT_FIELDS, ClaimStatus, ClaimType
from PaymentProcess.data.models.common import ADDRESS_FIELDS, MAX_TEXT, _party
from PaymentProcess.data.models.payment import (
    ChainInput,
    ChainResolution,
    ChainResult,
    ClaimTotals,
    LedgerState,
    PaymentContext,
    Version,
)
from PaymentProcess.data.models.payment_center import PaymentCenterType, payee_key, payee_source
from PaymentProcess.data.models.stats import ValidationReport
from PaymentProcess.utils.money import BadAmount, decimal128_six_cents

_CLAIM_TYPES = frozenset(member.value for member in ClaimType)
_STATUSES = frozenset(member.value for member in ClaimStatus)
_APPROVED = ClaimStatus.APPROVED.value
_REFERENCE_FIELD = {"1": None, "7": "OriginalClaimCore_ID", "8": "VoidClaimCore_ID"}
_MAX_LINE_NO = 10**6
_MAX_UNITS = 10**6
_MAX_PROCEDURE_CODE = 48
_LINE_FIELDS = ("line_no", "procedure_code", "units", "service_date")
_amounts = itemgetter(*AMOUNT_FIELDS)
_SIX_DECIMAL128 = (Decimal128,) * len(AMOUNT_FIELDS)
_STR_OR_NONE = frozenset((str, type(None)))
# Version 2: the last format without references. From version 3 on, marshal writes an
# object met twice (by identity) as a reference, so the bytes would depend on which equal
# strings a decoder happened to share: the embedded store's JSON decoder shares the keys
# of a document, pymongo's BSON decoder does not, and the same claim read from the two
# stores had two digests. Version 2 writes values only (and is no slower).
_MARSHAL_VERSION = 2
_PLAIN_DIGEST_TAG = b"plain-claim-2:"

# A read claim (:meth:`PlainChains.read`) is a tuple of the fields below, in this order;
# its lines are tuples (line_no, procedure_code, units, service_day, *amounts in cents)
CLAIM_FIELDS = ("_id", "ClaimCore_ID", "PaymentEvent_ID", "ParentClaimCore_ID", "ClaimType",
                "ClaimStatus", "FrequencyCode", "OriginalClaimCore_ID", "VoidClaimCore_ID",
                "BenefitPlan_ID", "received_date", "patient_control_number", "NPI", "TIN",
                "MemberID", "provider", "member", "service_lines")
(_DOC_ID, _CLAIM_ID, _EVENT, _PARENT, _TYPE, _STATUS, _FREQUENCY, _ORIGINAL, _VOID, _PLAN,
 _RECEIVED, _PCN, _NPI, _TIN, _MEMBER_ID, _PROVIDER, _MEMBER, _LINES) = range(len(CLAIM_FIELDS))

Resolver = Callable[[str, list[Version], LedgerState, Mapping[str, str], ValidationReport],
                    ChainResolution | None]


def _party_texts(value: Any, texts: list[Any]) -> bool:
    """Add a provider/member's texts to ``texts``; False when the claim model would not
    take the party as it is (``common._party``)."""
    if value is None:
        return True
    if type(value) is not dict:
        return False
    texts.append(value.get("name"))
    address = value.get("address")
    if address is None:
        return True
    if type(address) is not dict:
        return False
    texts += map(address.get, ADDRESS_FIELDS)
    return True


def _day(value: Any) -> int | None:
    """A date as the claim model reads it (a naive datetime's day), as an ordinal; else None."""
    if type(value) is datetime:
        return value.toordinal() if value.tzinfo is None else None
    return value.toordinal() if type(value) is date else None


def read_claim(document: Any) -> tuple | None:
    """Every field of a claim document the engine reads, if all have the plain shape.

    None when any value has another shape, is invalid for the claim model (the model
    then names it) or is a negative amount: the claim is then left to the model. Amounts
    are integer cents, dates days (ordinals); depends on the document alone.
    """
    if type(document) is not dict:
        return None
    values = list(map(document.get, CLAIM_FIELDS))
    received = _day(values[_RECEIVED])
    lines = values[_LINES]
    claim_type, status = values[_TYPE], values[_STATUS]
    if (received is None or type(lines) is not list or not lines
            or type(claim_type) is not str or claim_type not in _CLAIM_TYPES
            or type(status) is not str or status not in _STATUSES):
        return None
    # identifiers: required, or absent (None; '' is left to the model); at most 200
    # printable characters like the party's texts and the procedure codes
    required = values[_DOC_ID:_TYPE]
    texts = required + values[_FREQUENCY:_RECEIVED] + values[_PCN:_PROVIDER]
    if None in required or "" in texts:
        return None
    # then the free texts: may be empty or absent
    if (not _party_texts(values[_PROVIDER], texts)
            or not _party_texts(values[_MEMBER], texts)):
        return None
    read_lines: list[tuple] = []
    append_line = read_lines.append
    try:
        for line in lines:
            if type(line) is not dict:
                return None
            line_no, code, units, service_date = map(line.get, _LINE_FIELDS)
            amounts = _amounts(line)
            if (tuple(map(type, amounts)) != _SIX_DECIMAL128
                    or (line_no is not None
                        and (type(line_no) is not int or not 0 <= line_no <= _MAX_LINE_NO))
                    or (units is not None
                        and (type(units) is not int or not 0 <= units < _MAX_UNITS))):
                return None
            if code is not None:
                if type(code) is not str or len(code) > _MAX_PROCEDURE_CODE:
                    return None
                texts.append(code)
            if service_date is not None:
                service_date = _day(service_date)
                if service_date is None:
                    return None
            cents = decimal128_six_cents(amounts)
            if min(cents) < 0:
                return None  # NEGATIVE_AMOUNT
            append_line((line_no, code, units, service_date, *cents))
    except (KeyError, BadAmount):  # an amount missing or not an amount
        return None
    if not set(map(type, texts)) <= _STR_OR_NONE:
        return None
    texts = list(filter(None, texts))  # the texts present ('' is printable and short)
    if max(map(len, texts)) > MAX_TEXT or not "".join(texts).isprintable():
        return None
    values[_RECEIVED] = received
    values[_LINES] = read_lines
    return tuple(values)


def claim_digest(document: dict[str, Any], read: tuple | None) -> bytes:
    """The claim's digest for the fingerprint: of what it reads as (``read``) when plain,
    else of the document (:func:`~PaymentProcess.core.run_control.claim_digests`)."""
    if read is not None:
        try:
            content = marshal.dumps(read, _MARSHAL_VERSION)
        except ValueError:  # a party with a value of another type
            pass
        else:
            return hashlib.sha256(_PLAIN_DIGEST_TAG + content).digest()
    return claim_digests([document])[0]


class PlainChains:
    """Judges and computes the plain chains of one event; None for any other chain."""

    def __init__(self, context: PaymentContext, calculator: ServiceLineProcessor,
                 resolve: Resolver, included_chain: Callable[..., ChainResult]) -> None:
        self.context = context
        self.calculator = calculator
        self.resolve = resolve
        self.included_chain = included_chain
        self.provider = context.pc_type is PaymentCenterType.PROVIDER
        self.digests: list[bytes] = []
        # {parent id: its claims as read} of the chains accepted, when set to a dict
        # (pass 2 writes their lines: plain_lines.second_pass)
        self.reads: dict[str, Sequence[tuple]] | None = None
        self._scratch = ValidationReport()  # findings of a linkage the model will report

    def evaluate(self, chain: ChainInput, ledger_claim_chains: Mapping[str, str],
                 report: ValidationReport) -> ChainResult | None:
        """The chain's summary, or None when the claim model must judge it.

        Every claim's digest is added to :attr:`digests`, in order, either way. The only
        finding a plain chain can have, the warning OVER_ALLOWED, goes to ``report`` as
        the claim model reports it: once a claim, in claim order, with the chain's result.
        """
        documents = chain.documents
        if len(documents) == 1:  # most chains: its claim alone (no duplicate, one payee)
            read = read_claim(documents[0])
            self.digests.append(claim_digest(documents[0], read))
            if read is None or type(chain.parent_id) is not str:
                return None
            claim = self._claim(read)
            claim_id = read[_CLAIM_ID]
            if (claim is None or claim_id in self.context.duplicate_claim_ids
                    or claim_id in ledger_claim_chains):
                return None  # a finding, DUPLICATE_CLAIM, ALREADY_PAID
            reads, claims, claim_ids = (read,), (claim,), (claim_id,)
        else:
            reads = list(map(read_claim, documents))
            self.digests += map(claim_digest, documents, reads)
            if type(chain.parent_id) is not str or None in reads:
                return None
            claims = list(map(self._claim, reads))
            if None in claims:
                return None
            claim_ids = [read[_CLAIM_ID] for read in reads]
            if (len(set(claim_ids)) != len(claim_ids)
                    or not self.context.duplicate_claim_ids.isdisjoint(claim_ids)
                    or not ledger_claim_chains.keys().isdisjoint(claim_ids)):
                return None  # DUPLICATE_CLAIM, ALREADY_PAID
            if len({claim[0] for claim in claims}) > 1:
                return None  # PC_MISMATCH
        resolution = self.resolve(chain.parent_id,
                                  [Version(r[_CLAIM_ID], r[_FREQUENCY],
                                           r[_ORIGINAL] if r[_FREQUENCY] == "7"
                                           else r[_VOID] if r[_FREQUENCY] == "8" else None)
                                   for r in reads],
                                  chain.ledger, ledger_claim_chains, self._scratch)
        if resolution is None:
            self._scratch.findings.clear()  # the model path reports them
            return None
        if self.reads is not None:
            self.reads[chain.parent_id] = reads
        final_id, totals = resolution.final_id, None
        if final_id and final_id in claim_ids:  # else the chain ends voided
            final = claim_ids.index(final_id)
            _, approved, billed, allowed, reduction, paid, _ = claims[final]
            totals = ClaimTotals(approved, date.fromordinal(reads[final][_RECEIVED]),
                                 billed, allowed, reduction, paid)
        for claim_id, claim in zip(claim_ids, claims, strict=True):
            if claim[6]:
                report.add(OVER_ALLOWED, claim_id)
        source_id = resolution.payee_version(chain.ledger)
        if source_id is None:
            return self.included_chain(chain, resolution, totals, None, None)
        source = claim_ids.index(source_id)  # a version of this event's chain
        return self.included_chain(chain, resolution, totals, claims[source][0],
                                   partial(self._source, reads[source]))

    def _claim(self, read: tuple) -> tuple[str | None, bool, int, int, int, int, bool] | None:
        """A read claim's payee key, approval, billed, allowed, reduction and paid in
        cents and whether a line's patient share exceeds its allowed (OVER_ALLOWED), or
        None when it has another finding."""
        npi, tin, member_id = read[_NPI], read[_TIN], read[_MEMBER_ID]
        if (read[_FREQUENCY] not in _REFERENCE_FIELD
                or read[_PLAN] not in self.context.benefit_plan_ids):
            return None  # FREQ_INVALID, BENEFIT_PLAN_EXCLUDED
        if self.provider:
            if not (npi and tin and npi_is_valid(npi) and tin_is_valid(tin)):
                return None
        elif not member_id:
            return None
        key = payee_key(self.context.pc_type, tin, npi, member_id)
        keys = self.context.payment_center_keys
        if keys is not None and key not in keys:
            return None  # PC_EXCLUDED
        approved = read[_STATUS] == _APPROVED
        pct = self.calculator.reduction_pct_cents
        billed = allowed = reduction = paid = 0
        any_over_allowed = False
        for line in read[_LINES]:
            billed += line[4]
            allowed += line[5]
            if approved:
                line_reduction, line_paid, over_allowed = line_cents(
                    line[5], line[6], line[7], line[8], line[9], pct)
                any_over_allowed |= over_allowed
                reduction += line_reduction
                paid += line_paid
        return key, approved, billed, allowed, reduction, paid, any_over_allowed

    def _source(self, read: tuple) -> dict[str, Any]:
        party = _party(read[_PROVIDER] if self.provider else read[_MEMBER])
        return payee_source(self.context.pc_type, party, read[_TIN], read[_NPI],
                            read[_MEMBER_ID])
