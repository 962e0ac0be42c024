"""Computed payments: per line, per claim and per chain, plus the inputs a chain needs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from itertools import chain as chained
from itertools import starmap
from operator import add, attrgetter
from typing import Any, NamedTuple

from PaymentProcess.data.models.event import InterestTerms
from PaymentProcess.data.models.payment_center import PaymentCenterType
from PaymentProcess.utils.money import ZERO


class _PickledByPosition:
    """Pickles a slots dataclass as its constructor and field values in order.

    The ``__setstate__`` that ``dataclass(slots=True)`` generates looks up the fields
    on every call, which made unpickling the results worker processes send back cost
    more than computing them.
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return type(self), tuple(map(self.__getattribute__, self.__slots__))


@dataclass(frozen=True, slots=True)
class LinePayment(_PickledByPosition):
    """A service line's amounts and what it pays after the payment reduction."""

    line_no: int | None
    procedure_code: str | None
    units: Any
    service_date: date | None
    billed: Decimal
    allowed: Decimal
    deductible: Decimal
    coinsurance: Decimal
    copay: Decimal
    cob_paid: Decimal
    reduction: Decimal
    paid: Decimal


@dataclass(frozen=True, slots=True)
class ClaimPayment(_PickledByPosition):
    """One claim version with its computed lines (``PaymentInfo`` source)."""

    claim_id: str
    document_id: str
    frequency_code: str
    claim_type: str
    claim_status: str
    original_claim_id: str | None
    void_claim_id: str | None
    received_date: date
    patient_control_number: str | None
    member_id: str | None
    member: Mapping[str, Any] | None
    payee_key: str | None
    lines: tuple[LinePayment, ...]
    billed: Decimal
    allowed: Decimal
    reduction: Decimal
    paid: Decimal


@dataclass(frozen=True, slots=True)
class LedgerState:
    """What the ledger says of a chain before this event."""

    prior_sum: Decimal = ZERO
    in_force_id: str | None = None
    has_entries: bool = False
    last_payee_id: int | None = None
    paid_claim_ids: frozenset[str] = frozenset()


@dataclass(slots=True)  # not frozen, like ChainResult: one is made for every chain
class ChainResolution:
    """Outcome of walking a chain: its version in force after the event."""

    final_id: str | None
    last_version_id: str | None

    def payee_version(self, ledger: LedgerState) -> str | None:
        """The version whose payee the chain is paid to (and a new payee is made from).

        The version in force; for a chain that ends voided, none when the ledger paid it
        before (its payee is the ledger's), else the last version of the new chain
        (opened and voided in this very event).
        """
        if self.final_id is not None or ledger.has_entries:
            return self.final_id
        return self.last_version_id


class Version(NamedTuple):
    """What walking a chain needs of one claim version."""

    claim_id: str
    frequency: str | None
    reference: str | None


# A claim version's figures, as the chain's version in force needs them: (approved,
# received day (``date.toordinal()``), billed, allowed, reduction, paid), amounts in
# cents. A plain tuple: one is made for nearly every chain, which a named tuple's
# constructor made 0.2 µs slower.
ClaimTotals = tuple[bool, int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class ChainInput:
    """A chain's raw claim documents of this event plus its ledger state."""

    parent_id: Any
    documents: tuple[dict[str, Any], ...]
    ledger: LedgerState


@dataclass(frozen=True, slots=True)
class PaymentContext:
    """The event configuration a worker needs to judge and compute chains."""

    payment_event_id: str
    pc_type: PaymentCenterType
    due_date: date
    benefit_plan_ids: frozenset[str]
    payment_center_keys: frozenset[str] | None
    payment_reduction_pct: Decimal
    interest: InterestTerms
    duplicate_claim_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class InvalidRecord:
    """A stored record that failed its model: the finding ``RECORD_INVALID``.

    ``parent_ids`` and ``claim_ids`` are the text values of a ledger entry's
    ``ParentClaimCore_ID`` and ``ClaimCore_IDs`` (either a string or a list), the ones
    the ledger query matched: they name the chains it concerns, which are blocked.
    ``reported`` is set when an earlier batch of the run already counted the entry.
    """

    label: str
    detail: str
    parent_ids: frozenset[str] = frozenset()
    claim_ids: frozenset[str] = frozenset()
    reported: bool = False


@dataclass(frozen=True, slots=True)
class BatchInput:
    """A batch of whole chains, with the ledger owners of every id they mention."""

    chains: tuple[ChainInput, ...]
    ledger_claim_chains: Mapping[str, str] = field(default_factory=dict)
    invalid_ledger: tuple[InvalidRecord, ...] = ()


class ChainStatus(StrEnum):
    """Included chains are paid; excluded ones wait; blocked ones have critical findings."""

    INCLUDED = "INCLUDED"
    EXCLUDED = "EXCLUDED"
    BLOCKED = "BLOCKED"


@dataclass(slots=True)  # not frozen: a frozen __init__ costs 2.8 µs a chain, this 0.3
class ChainResult(_PickledByPosition):
    """A chain judged and, when included, computed (spec section 6).

    ``payee_key`` is the final version's payee; ``payee_id`` the payee the ledger paid
    the chain to before (None for a new chain), which pays a chain that ends voided.
    ``billed``/``allowed``/``reduction``/``paid`` are those of the version in force after
    the event (zero when the chain ends voided). ``claims`` holds every version with its
    lines; a summary (:meth:`summary`) leaves them out.
    """

    parent_id: str
    status: ChainStatus
    claim_count: int
    payee_key: str | None = None
    payee_id: int | None = None
    claim_ids: tuple[str, ...] = ()
    final_claim_id: str | None = None
    current: Decimal = ZERO
    prior: Decimal = ZERO
    net: Decimal = ZERO
    interest: Decimal = ZERO
    billed: Decimal = ZERO
    allowed: Decimal = ZERO
    reduction: Decimal = ZERO
    paid: Decimal = ZERO
    claims: tuple[ClaimPayment, ...] = ()
    payee_source: Mapping[str, Any] | None = None

    def summary(self) -> ChainResult:
        """The result without its claims and lines: what pass 1 aggregates.

        A few hundred bytes instead of several kilobytes a chain, which is what lets
        worker processes hand results back faster than they could be computed inline.
        """
        return replace(self, claim_ids=(), claims=()) if self.claims else self


# ChainResult's fields before, of and after its eight amounts, in its order
_FIELDS = tuple(f.name for f in fields(ChainResult))
_FIRST, _LAST = _FIELDS.index("current"), _FIELDS.index("paid") + 1
_leading_of = attrgetter(*_FIELDS[:_FIRST])
_amounts_of = attrgetter(*_FIELDS[_FIRST:_LAST])
_trailing_of = attrgetter(*_FIELDS[_LAST:])


class ChainSummaries(list):
    """A batch's chain summaries (pass 1's results), pickled by columns: every amount of
    the batch in one text of the Decimals' own strings (exact, exponent included), read
    back with one split. A worker sends these to the run; pickled one Decimal at a time
    they cost a third of computing them (8.1 against 2.1 ms for a batch's 9,000)."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, tuple[list[tuple[Any, ...]], str, list[tuple[Any, ...]]]]:
        amounts = " ".join(map(str, chained.from_iterable(map(_amounts_of, self))))
        return _unpickle_summaries, (list(map(_leading_of, self)), amounts,
                                     list(map(_trailing_of, self)))


def _unpickle_summaries(leading: list[tuple[Any, ...]], amounts: str,
                        trailing: list[tuple[Any, ...]]) -> ChainSummaries:
    values = iter(map(Decimal, amounts.split()))
    groups = zip(*[values] * (_LAST - _FIRST), strict=True)  # the amounts of each chain
    rows = map(add, map(add, leading, groups), trailing)
    return ChainSummaries(starmap(ChainResult, rows))


def chain_summaries(results: Iterable[ChainResult]) -> ChainSummaries:
    """:meth:`ChainResult.summary` of each result, as a :class:`ChainSummaries`."""
    return ChainSummaries(result.summary() for result in results)
