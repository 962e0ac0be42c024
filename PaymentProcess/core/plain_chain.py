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
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import partial
from itertools import accumulate, repeat
from itertools import chain as chained
from operator import attrgetter, itemgetter
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
    LedgerState,
    PaymentContext,
    Version,
)
from PaymentProcess.data.models.payment_center import PaymentCenterType, payee_key, payee_source
from PaymentProcess.data.models.stats import ValidationReport
from PaymentProcess.utils.money import BadAmount, decimal128_cents, decimal128_plain_cents

_CLAIM_TYPES = frozenset(member.value for member in ClaimType)
_STATUSES = frozenset(member.value for member in ClaimStatus)
_APPROVED = ClaimStatus.APPROVED.value
_REFERENCE_FIELD = {"1": None, "7": "OriginalClaimCore_ID", "8": "VoidClaimCore_ID"}
_MAX_LINE_NO = 10**6
_MAX_UNITS = 10**6
_MAX_PROCEDURE_CODE = 48
# a batch's claims are read together and hashed in groups, while still in the CPU's
# caches: groups of 64 - 128 measured 1 - 2.5 us a claim faster than whole batches of 1,000
_READ_GROUP = 128
# a service line's fields, in the order of a read line
LINE_FIELDS = ("line_no", "procedure_code", "units", "service_date", *AMOUNT_FIELDS)
_line_values = itemgetter(*LINE_FIELDS)
_tzinfo = attrgetter("tzinfo")
_AWARE = -1  # the day of an aware datetime, which the claim model does not take
_NONE = frozenset((None,))
_INT, _STR, _LIST, _DICT, _DATETIME, _DECIMAL128 = (
    frozenset((kind,)) for kind in (int, str, list, dict, datetime, Decimal128))
_STR_OR_NONE, _INT_OR_NONE, _DICT_OR_NONE = (
    frozenset((kind, type(None))) for kind in (str, int, dict))
_DATE_OR_NONE = frozenset((date, datetime, type(None)))
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
# Version 2: the last format without references. From version 3 on, marshal writes an
# object met twice (by identity) as a reference, so the bytes would depend on which equal
# strings a decoder happened to share: the embedded store's JSON decoder shares the keys
# of a document, pymongo's BSON decoder does not, and the same claim read from the two
# stores had two digests. Version 2 writes values only (and is no slower).
_MARSHAL_VERSION = 2
_PLAIN_DIGEST_TAG = b"plain-claim-2:"
_UNSEEN = object()  # a payee's identifiers not yet judged

# A read claim (:meth:`PlainChains.read`) is a tuple of the fields below, in this order;
# its lines are tuples (line_no, procedure_code, units, service_day, *amounts in cents)
CLAIM_FIELDS = ("_id", "ClaimCore_ID", "PaymentEvent_ID", "ParentClaimCore_ID", "ClaimType",
                "ClaimStatus", "FrequencyCode", "OriginalClaimCore_ID", "VoidClaimCore_ID",
                "BenefitPlan_ID", "received_date", "patient_control_number", "NPI", "TIN",
                "MemberID", "provider", "member", "service_lines")
(_DOC_ID, _CLAIM_ID, _EVENT, _PARENT, _TYPE, _STATUS, _FREQUENCY, _ORIGINAL, _VOID, _PLAN,
 _RECEIVED, _PCN, _NPI, _TIN, _MEMBER_ID, _PROVIDER, _MEMBER, _LINES) = range(len(CLAIM_FIELDS))
_claim_values = itemgetter(*CLAIM_FIELDS)

Resolver = Callable[[str, list[Version], LedgerState, Mapping[str, str], ValidationReport],
                    ChainResolution | None]


def _column_ok(values: tuple[Any, ...], kinds: frozenset[type]) -> bool:
    """Every value's type is one of ``kinds``."""
    return set(map(type, values)) <= kinds


def _small_counts(values: tuple[Any, ...], top: int) -> bool:
    """Every value absent (None) or an int (not a bool) from 0 to ``top``."""
    kinds = set(map(type, values))
    if kinds != _INT:
        if not kinds <= _INT_OR_NONE:
            return False
        values = [value for value in values if value is not None]
        if not values:
            return True
    return min(values) >= 0 and max(values) <= top


def _days(values: tuple[Any, ...]) -> list[int | None] | None:
    """Each date as the claim model reads it (a naive datetime's day, or a date) as an
    ordinal, None when absent; None if one is not a date."""
    kinds = set(map(type, values))
    if kinds == _DATETIME and set(map(_tzinfo, values)) == _NONE:
        return list(map(date.toordinal, values))  # the store's dates: naive datetimes
    if not kinds <= _DATE_OR_NONE:
        return None
    days = [None if value is None
            else value.toordinal() if type(value) is date or value.tzinfo is None
            else _AWARE for value in values]
    return None if _AWARE in days else days


def _party_texts(parties: tuple[Any, ...], texts: list[Any]) -> bool:
    """Add the texts of providers/members to ``texts``; False when the claim model would
    not take one as it is (``common._party``: a document, its address a document)."""
    if not _column_ok(parties, _DICT_OR_NONE):
        return False
    parties = list(filter(None, parties))  # an empty one has no texts either
    texts += map(dict.get, parties, repeat("name"))
    addresses = list(map(dict.get, parties, repeat("address")))
    if not _column_ok(addresses, _DICT_OR_NONE):
        return False
    addresses = list(filter(None, addresses))
    for field in ADDRESS_FIELDS:
        texts += map(dict.get, addresses, repeat(field))
    return True


def _printable(text: str) -> bool:
    """``text.isprintable()``; for ASCII text (its usual kind), the bytes but the printable
    ones (space to ``~``) deleted in one table pass, a third of the cost."""
    if text.isascii():
        return not text.encode().translate(None, _PRINTABLE_ASCII)
    return text.isprintable()


def _field_values(documents: Sequence[Any], fields: tuple[str, ...],
                  values: itemgetter) -> list[tuple] | None:
    """Each document's values of ``fields`` (``values`` gets them all), None for a field
    absent as the model reads it; None when one is not a document."""
    if set(map(type, documents)) != _DICT:
        return None
    try:
        return list(map(values, documents))
    except KeyError:  # a field absent
        return [tuple(map(document.get, fields)) for document in documents]


def _read_lines(lines: list[Any], texts: list[Any]) -> list[tuple] | None:
    """Service lines as tuples (line_no, procedure_code, units, service_day, *amounts in
    cents), checked column by column; their procedure codes are added to ``texts``.
    None when a line is not a document or a value is not plain (the model names it)."""
    rows = _field_values(lines, LINE_FIELDS, _line_values)
    if rows is None:
        return None
    line_nos, codes, units, service_dates, *amounts = zip(*rows, strict=True)
    if not (_small_counts(line_nos, _MAX_LINE_NO) and _small_counts(units, _MAX_UNITS - 1)
            and _column_ok(codes, _STR_OR_NONE)):
        return None
    codes_present = list(filter(None, codes))
    if codes_present and max(map(len, codes_present)) > _MAX_PROCEDURE_CODE:
        return None
    texts += codes_present
    days = _days(service_dates)
    values = list(chained.from_iterable(amounts))  # column after column
    if days is None or set(map(type, values)) != _DECIMAL128:
        return None  # an amount missing or not an amount
    cents = decimal128_plain_cents(values)
    if cents is None:  # another encoding somewhere: each decoded on its own
        try:
            cents = list(map(decimal128_cents, values))
        except BadAmount:
            return None
        if min(cents) < 0:
            return None  # NEGATIVE_AMOUNT
    count = len(rows)
    return list(zip(line_nos, codes, units, days,
                    *(cents[start:start + count] for start in range(0, len(cents), count)),
                    strict=True))


def _read_plain(documents: Sequence[Any]) -> list[tuple] | None:
    """:func:`read_claims` of documents that are all plain, checked together column by
    column; None when any is not."""
    rows = _field_values(documents, CLAIM_FIELDS, _claim_values)
    if rows is None:
        return None
    columns = list(zip(*rows, strict=True))
    received = _days(columns[_RECEIVED])
    lines = columns[_LINES]
    if (received is None or None in received or not _column_ok(lines, _LIST)
            or not _column_ok(columns[_TYPE] + columns[_STATUS], _STR)
            or not set(columns[_TYPE]) <= _CLAIM_TYPES
            or not set(columns[_STATUS]) <= _STATUSES):
        return None
    counts = list(map(len, lines))
    if not min(counts):
        return None  # a claim without lines
    # identifiers: required, or absent (None; '' is left to the model); at most 200
    # printable characters like the party's texts and the procedure codes
    required = list(chained.from_iterable(columns[_DOC_ID:_TYPE]))
    texts = [*required, *chained.from_iterable(columns[_FREQUENCY:_RECEIVED]),
             *chained.from_iterable(columns[_PCN:_PROVIDER])]
    if None in required or "" in texts:
        return None
    # then the free texts: may be empty or absent
    if not (_party_texts(columns[_PROVIDER], texts) and _party_texts(columns[_MEMBER], texts)):
        return None
    read_lines = _read_lines(list(chained.from_iterable(lines)), texts)
    if read_lines is None or not _column_ok(texts, _STR_OR_NONE):
        return None
    texts = list(filter(None, texts))  # the texts present ('' is printable and short)
    if max(map(len, texts)) > MAX_TEXT or not _printable("".join(texts)):
        return None
    ends = list(accumulate(counts))
    columns[_RECEIVED] = received
    columns[_LINES] = list(map(read_lines.__getitem__, map(slice, [0, *ends[:-1]], ends)))
    return list(zip(*columns, strict=True))


def read_claims(documents: Sequence[Any]) -> list[tuple | None]:
    """Every field of each claim document the engine reads, if all have the plain shape.

    A claim reads as None when any value has another shape, is invalid for the claim
    model (the model then names it) or is a negative amount: it is then left to the
    model. Amounts are integer cents, dates days (ordinals); each read depends on its
    document alone. The documents are checked together, column by column; a group with
    one that is not plain is split in halves until those are alone.
    """
    if not documents:
        return []
    reads = _read_plain(documents)
    if reads is not None:
        return reads
    if len(documents) == 1:
        return [None]
    middle = len(documents) // 2
    return read_claims(documents[:middle]) + read_claims(documents[middle:])


def read_claim(document: Any) -> tuple | None:
    """:func:`read_claims` of one document."""
    return read_claims((document,))[0]


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
        # the claims' digests for pass 1's fingerprint, in order; None: not hashed (pass 2,
        # which reads the claims again only to write them)
        self.digests: list[bytes] | None = []
        # {parent id: its claims as read} of the chains accepted, when set to a dict
        # (pass 2 writes their lines: plain_lines.second_pass)
        self.reads: dict[str, Sequence[tuple]] | None = None
        self._scratch = ValidationReport()  # findings of a linkage the model will report
        # {a payee's identifiers ((NPI, TIN), or MemberID): its key, None when a claim
        # naming them has a finding}: a payee's identifiers come back on each of its claims
        self._payee_keys: dict[Any, str | None] = {}

    def evaluate_batch(self, chains: Iterable[ChainInput],
                       ledger_claim_chains: Mapping[str, str], report: ValidationReport,
                       model: Callable[[ChainInput, Mapping[str, str], ValidationReport],
                                       ChainResult]) -> list[ChainResult]:
        """Every chain's result, in order: a plain chain's from the fast path, any other's
        from ``model`` (the claim model, which reports its findings), called at the chain's
        place so that findings stay in claim order.

        Most chains are one original claim the ledger never paid: they are computed here
        in the loop; the others go through :meth:`evaluate`'s linkage walk. Every claim's
        digest is added to :attr:`digests` (unless None), in order, whichever path its
        chain takes.
        """
        chains = list(chains)
        documents = [document for chain in chains for document in chain.documents]
        reads: list[tuple | None] = []
        for start in range(0, len(documents), _READ_GROUP):  # each group hashed while warm
            group = documents[start:start + _READ_GROUP]
            group_reads = read_claims(group)
            if self.digests is not None:
                self.digests += map(claim_digest, group, group_reads)
            reads += group_reads
        results: list[ChainResult] = []
        add_result = results.append
        duplicates = self.context.duplicate_claim_ids
        included = self.included_chain
        position = 0  # of the chain's first claim among the batch's
        for chain in chains:
            count = len(chain.documents)
            if count != 1:
                result = self._evaluate_reads(chain, reads[position:position + count],
                                              ledger_claim_chains, report)
            elif (read := reads[position]) is None:
                result = None
            elif ((claim_id := read[_CLAIM_ID]) != chain.parent_id or read[_FREQUENCY] != "1"
                    or chain.ledger.has_entries or type(claim_id) is not str):
                result = self._evaluate_reads(chain, (read,), ledger_claim_chains, report)
            elif (claim_id in duplicates or claim_id in ledger_claim_chains
                  or (claim := self._claim(read)) is None):
                result = None  # DUPLICATE_CLAIM, ALREADY_PAID or another finding
            else:  # a new chain of one original (most): spec 4.1, it is the version in force
                key, approved, billed, allowed, reduction, paid, over_allowed = claim
                if over_allowed:
                    report.add(OVER_ALLOWED, claim_id)
                if self.reads is not None:
                    self.reads[claim_id] = (read,)
                result = included(chain, claim_id, (
                    approved, read[_RECEIVED], billed, allowed, reduction, paid), key,
                    partial(self._source, read))
            add_result(model(chain, ledger_claim_chains, report) if result is None else result)
            position += count
        return results

    def evaluate(self, chain: ChainInput, ledger_claim_chains: Mapping[str, str],
                 report: ValidationReport) -> ChainResult | None:
        """The chain's summary, or None when the claim model must judge it.

        Every claim's digest is added to :attr:`digests` (unless None), in order, either
        way. The only finding a plain chain can have, the warning OVER_ALLOWED, goes to
        ``report`` as the claim model reports it: once a claim, in claim order, with the
        chain's result.
        """
        reads = read_claims(chain.documents)
        if self.digests is not None:
            self.digests += map(claim_digest, chain.documents, reads)
        return self._evaluate_reads(chain, reads, ledger_claim_chains, report)

    def _evaluate_reads(self, chain: ChainInput, reads: Sequence[tuple | None],
                        ledger_claim_chains: Mapping[str, str],
                        report: ValidationReport) -> ChainResult | None:
        """:meth:`evaluate` of a chain whose claims are read (None: not plain)."""
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
            totals = (approved, reads[final][_RECEIVED], billed, allowed, reduction, paid)
        for claim_id, claim in zip(claim_ids, claims, strict=True):
            if claim[6]:
                report.add(OVER_ALLOWED, claim_id)
        source_id = resolution.payee_version(chain.ledger)
        if source_id is None:
            return self.included_chain(chain, final_id, totals, None, None)
        source = claim_ids.index(source_id)  # a version of this event's chain
        return self.included_chain(chain, final_id, totals, claims[source][0],
                                   partial(self._source, reads[source]))

    def _claim(self, read: tuple) -> tuple[str | None, bool, int, int, int, int, bool] | None:
        """A read claim's payee key, approval, billed, allowed, reduction and paid in
        cents and whether a line's patient share exceeds its allowed (OVER_ALLOWED), or
        None when it has another finding."""
        if (read[_FREQUENCY] not in _REFERENCE_FIELD
                or read[_PLAN] not in self.context.benefit_plan_ids):
            return None  # FREQ_INVALID, BENEFIT_PLAN_EXCLUDED
        identifiers = (read[_NPI], read[_TIN]) if self.provider else read[_MEMBER_ID]
        key = self._payee_keys.get(identifiers, _UNSEEN)
        if key is _UNSEEN:
            key = self._payee_keys[identifiers] = self._payee_key(read)
        if key is None:
            return None
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

    def _payee_key(self, read: tuple) -> str | None:
        """A read claim's payee key, or None when its identifiers are invalid (ID_MISSING,
        NPI_INVALID, TIN_INVALID) or its payee is not among the event's (PC_EXCLUDED)."""
        npi, tin, member_id = read[_NPI], read[_TIN], read[_MEMBER_ID]
        if self.provider:
            if not (npi and tin and npi_is_valid(npi) and tin_is_valid(tin)):
                return None
        elif not member_id:
            return None
        key = payee_key(self.context.pc_type, tin, npi, member_id)
        keys = self.context.payment_center_keys
        return None if keys is not None and key not in keys else key

    def _source(self, read: tuple) -> dict[str, Any]:
        party = _party(read[_PROVIDER] if self.provider else read[_MEMBER])
        return payee_source(self.context.pc_type, party, read[_TIN], read[_NPI],
                            read[_MEMBER_ID])
