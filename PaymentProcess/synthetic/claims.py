"""Valid synthetic claims: service lines, claim documents and the chains they build.

Amounts are made as integer cents and turned into Decimal128 with two places through a
cache, so no binary float ever touches money and repeated values cost nothing.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from bson.decimal128 import Decimal128

from PaymentProcess.synthetic.parties import Party, Payee

INCLUDED_PLANS = ("BP-100", "BP-200", "BP-300", "BP-400")
EXCLUDED_PLAN = "BP-999"
AMOUNT_FIELDS = ("billed", "allowed", "deductible", "coinsurance", "copay", "cob_paid")

_CLAIM_TYPES = ("PROFESSIONAL", "INSTITUTIONAL", "DENTAL")
_CLAIM_TYPE_WEIGHTS = (70, 90, 100)
_PROCEDURES = ("99213", "99214", "99203", "80053", "85025", "97110", "71046", "D1110", "93000")
_LINE_COUNTS = (1, 2, 3, 4, 5, 6)
_LINE_COUNT_WEIGHTS = (22, 42, 60, 76, 89, 100)  # cumulative: mean about 3.1 lines
_COPAYS = (1000, 1500, 2000, 2500, 3000, 4000, 5000)
_OVER_ALLOWED_RATE = 0.01
_DENIED_REPLACEMENT_RATE = 0.05

# Kind of each generated unit, how many claims it writes, whether it needs a chain in
# force, and its cumulative weight for the random fill.
KINDS = (
    "original",
    "late_original",
    "denied",
    "excluded",
    "replacement",
    "void",
    "void_and_replace",
    "original_and_replacement",
    "original_and_void",
    "excluded_replacement",
)
_SIZE = {"void_and_replace": 2, "original_and_replacement": 2, "original_and_void": 2}
_NEEDS_CHAIN = {"replacement", "void", "void_and_replace", "excluded_replacement"}
_CUM_WEIGHTS = (580, 700, 750, 770, 860, 890, 920, 950, 960, 970)

_EXPONENT_MINUS_2 = (6176 - 2) << 49  # biased exponent -2 in the high word of a BID128
_LOW_64 = (1 << 64) - 1


@cache
def money(cents: int) -> Decimal128:
    """Decimal128 with exactly two places for an integer amount of cents.

    Built straight from the IEEE 754 BID bits (coefficient ``|cents|``, exponent -2):
    the same value as ``Decimal128("12.34")``, several times faster to make, and
    memoised (Decimal128 is immutable; amounts repeat a lot, zero above all).
    """
    sign = 0
    if cents < 0:
        sign, cents = 1 << 63, -cents
    return Decimal128((sign | _EXPONENT_MINUS_2 | (cents >> 64), cents & _LOW_64))


def _below(rng: random.Random, n: int) -> int:
    """A random integer in [0, n): cheaper than ``randrange`` in the hot loops."""
    return int(rng.random() * n)


@dataclass(slots=True)
class Lines:
    """The service lines of one claim version and what they pay before any reduction."""

    docs: list[dict[str, Any]]
    paid_cents: int
    over_allowed: bool


@dataclass(slots=True)
class Chain:
    """A chain in force: its key, its version in force and that version's lines and date."""

    parent: str
    current: str
    payee: Payee
    claim_type: str
    lines: Lines
    received: datetime


@dataclass(slots=True)
class EventClaims:
    """The valid claims of one event and what the generator knows about them."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    over_allowed: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)


def make_lines(rng: random.Random, service_date: datetime, denied: bool) -> Lines:
    """1-6 service lines (about 3 on average) with patient shares and COB.

    A denied claim's lines allow nothing. About 1 % of approved lines carry a patient share
    plus COB above allowed (the OVER_ALLOWED warning); the others never do.
    """
    uniform = rng.random
    count = _LINE_COUNTS[bisect(_LINE_COUNT_WEIGHTS, uniform() * _LINE_COUNT_WEIGHTS[-1])]
    docs: list[dict[str, Any]] = []
    paid_total = 0
    over_allowed = False
    for line_no in range(1, count + 1):
        billed = 2000 + _below(rng, 148001)
        deductible = coinsurance = copay = cob = 0
        if denied:
            allowed = 0
        else:
            allowed = billed * (40 + _below(rng, 56)) // 100
            if uniform() < _OVER_ALLOWED_RATE:
                over_allowed = True
                deductible = allowed * (50 + _below(rng, 51)) // 100
                copay = allowed - deductible + 100 + _below(rng, 4901)
            else:
                left = allowed
                if uniform() < 0.3:
                    deductible = min(left, (1 + _below(rng, 50)) * 1000)
                    left -= deductible
                if uniform() < 0.4:
                    coinsurance = left * (10 + 10 * _below(rng, 3)) // 100
                    left -= coinsurance
                if uniform() < 0.3:
                    copay = min(left, _COPAYS[_below(rng, len(_COPAYS))])
                    left -= copay
                if uniform() < 0.1:
                    cob = left * (10 + _below(rng, 71)) // 100
                    left -= cob
                paid_total += left
        docs.append({
            "line_no": line_no,
            "procedure_code": _PROCEDURES[_below(rng, len(_PROCEDURES))],
            "units": 1 + _below(rng, 4),
            "service_date": service_date,
            "billed": money(billed),
            "allowed": money(allowed),
            "deductible": money(deductible),
            "coinsurance": money(coinsurance),
            "copay": money(copay),
            "cob_paid": money(cob),
        })
    return Lines(docs, paid_total, over_allowed)


def claim_document(
    *,
    claim_id: str,
    event_id: str,
    claim_type: str,
    status: str,
    frequency: Any,
    parent: str,
    original: str | None,
    void: str | None,
    plan: str,
    received: datetime,
    pc_type: str,
    payee: Party,
    other: Party,
    lines: list[dict[str, Any]],
) -> dict[str, Any]:
    """A ``ClaimWSCore`` document (spec 3.1) with ``_id == ClaimCore_ID``.

    ``payee`` is the party paid (provider or member, by ``pc_type``); ``other`` fills the
    other side (the patient of a provider claim, the rendering provider of a DMR claim).
    """
    provider, member = (payee, other) if pc_type == "PROVIDER" else (other, payee)
    return {
        "_id": claim_id,
        "ClaimCore_ID": claim_id,
        "PaymentEvent_ID": event_id,
        "ClaimType": claim_type,
        "ClaimStatus": status,
        "FrequencyCode": frequency,
        "ParentClaimCore_ID": parent,
        "OriginalClaimCore_ID": original,
        "VoidClaimCore_ID": void,
        "BenefitPlan_ID": plan,
        "received_date": received,
        "patient_control_number": f"PCN-{claim_id}",
        "NPI": provider.npi,
        "TIN": provider.tin,
        "provider": provider.block,
        "MemberID": member.member_id,
        "member": member.block,
        "service_lines": lines,
    }


class ClaimFactory:
    """Makes the valid claims of every cycle and tracks which version of each chain is in force.

    It assumes the engine pays every included valid chain in each final run, so after
    event *k* the chains in force are those it created or changed, minus the voided ones,
    with excluded claims leaving their chain as it was.
    """

    def __init__(
        self,
        rng: random.Random,
        pc_type: str,
        payees: list[Payee],
        others: list[Party],
    ) -> None:
        """Claims drawn from ``rng`` for ``payees``; ``others`` fill the non-payee side."""
        self._rng = rng
        self._pc_type = pc_type
        self._payees = payees
        self._others = others
        self._next_id = 1
        self.in_force: dict[str, Chain] = {}

    def new_id(self) -> str:
        """The next valid-claim ClaimCore_ID (``C`` + 8 digits)."""
        claim_id = f"C{self._next_id:08d}"
        self._next_id += 1
        return claim_id

    def claim_type(self) -> str:
        """A ClaimType, mostly PROFESSIONAL."""
        return _CLAIM_TYPES[bisect(_CLAIM_TYPE_WEIGHTS, self._rng.random() * 100)]

    def other(self) -> Party:
        """A random party for the non-payee side of a claim."""
        return self._others[_below(self._rng, len(self._others))]

    def prior_chain(self, payee: Payee, received: datetime) -> Chain:
        """A chain settled before the first cycle (its claim is not written, only its lines)."""
        claim_id = self.new_id()
        lines = self._fresh_lines(received)
        return Chain(claim_id, claim_id, payee, self.claim_type(), lines, received)

    def event(
        self, event_id: str, due: datetime, count: int, first_payees: list[Payee]
    ) -> EventClaims:
        """Exactly ``count`` valid claims for one event, every kind at least once if room.

        ``first_payees`` get a new original each before anything else (used in the first
        event for the payees that exist only on claims).
        """
        rng = self._rng
        out = EventClaims()
        candidates = list(self.in_force)
        rng.shuffle(candidates)
        plan: list[str] = list(KINDS)
        remaining = count
        for payee in first_payees:
            if remaining == 0:
                break
            self._original(out, event_id, due, "original", payee)
            remaining -= 1
        while remaining > 0:
            if plan:
                kind = plan.pop(0)
            else:
                kind = KINDS[bisect(_CUM_WEIGHTS, rng.random() * _CUM_WEIGHTS[-1])]
            size = _SIZE.get(kind, 1)
            if size > remaining:
                kind, size = "original", 1
            chain = None
            if kind in _NEEDS_CHAIN:
                # Candidates are the chains in force when the event started, each used once.
                chain = self.in_force[candidates.pop()] if candidates else None
                if chain is None:
                    kind, size = "original", 1
            if chain is None:
                self._original(out, event_id, due, kind, rng.choice(self._payees))
            else:
                self._change(out, event_id, due, kind, chain)
            remaining -= size
        return out

    def _received(self, due: datetime, late: bool, after: Chain | None = None) -> datetime:
        """A clean-claim date; never before the date of the version ``after`` changes."""
        if late:
            return due - timedelta(days=45 + _below(self._rng, 106))
        received = due - timedelta(days=_below(self._rng, 15))
        return max(received, after.received) if after else received

    def _emit(
        self,
        out: EventClaims,
        kind: str,
        event_id: str,
        chain: Chain,
        claim_id: str,
        *,
        frequency: str,
        status: str = "APPROVED",
        original: str | None = None,
        void: str | None = None,
        plan: str | None = None,
        received: datetime,
        lines: Lines,
    ) -> None:
        plan = plan or INCLUDED_PLANS[_below(self._rng, len(INCLUDED_PLANS))]
        out.docs.append(claim_document(
            claim_id=claim_id, event_id=event_id, claim_type=chain.claim_type, status=status,
            frequency=frequency, parent=chain.parent, original=original, void=void, plan=plan,
            received=received, pc_type=self._pc_type, payee=chain.payee.party,
            other=self.other(), lines=lines.docs,
        ))
        out.kinds[kind] += 1
        if plan == EXCLUDED_PLAN:
            out.excluded.append(claim_id)
        elif lines.over_allowed:
            out.over_allowed.append(claim_id)

    def _fresh_lines(self, received: datetime, denied: bool = False) -> Lines:
        return make_lines(self._rng, received - timedelta(days=2 + _below(self._rng, 44)), denied)

    def _original(
        self, out: EventClaims, event_id: str, due: datetime, kind: str, payee: Payee
    ) -> None:
        """A new chain: kinds original, late_original, denied, excluded, original_and_*."""
        claim_id = self.new_id()
        received = self._received(due, kind == "late_original")
        denied = kind == "denied"
        excluded = kind == "excluded"
        lines = self._fresh_lines(received, denied)
        chain = Chain(claim_id, claim_id, payee, self.claim_type(), lines, received)
        self._emit(
            out, kind, event_id, chain, claim_id, frequency="1",
            status="DENIED" if denied else "APPROVED",
            plan=EXCLUDED_PLAN if excluded else None, received=received, lines=lines,
        )
        out.touched.add(claim_id)
        if excluded:
            return
        self.in_force[claim_id] = chain
        if kind == "original_and_replacement":
            self._replace(out, kind, event_id, due, chain)
        elif kind == "original_and_void":
            self._void(out, kind, event_id, due, chain)

    def _change(
        self, out: EventClaims, event_id: str, due: datetime, kind: str, chain: Chain
    ) -> None:
        """A new version of a chain in force: replacement, void, void_and_replace, excluded."""
        out.touched.add(chain.parent)
        if kind == "replacement":
            self._replace(out, kind, event_id, due, chain)
        elif kind == "void":
            self._void(out, kind, event_id, due, chain)
        elif kind == "void_and_replace":
            target = chain.current
            self._void(out, kind, event_id, due, chain)
            self._replace(out, kind, event_id, due, chain, target)
        else:  # excluded_replacement: the chain is left as it was
            received = self._received(due, False, chain)
            lines = self._fresh_lines(received)
            self._emit(
                out, kind, event_id, chain, self.new_id(), frequency="7",
                original=chain.current, plan=EXCLUDED_PLAN, received=received, lines=lines,
            )

    def _replace(
        self,
        out: EventClaims,
        kind: str,
        event_id: str,
        due: datetime,
        chain: Chain,
        target: str | None = None,
    ) -> None:
        claim_id = self.new_id()
        received = self._received(due, False, chain)
        denied = self._rng.random() < _DENIED_REPLACEMENT_RATE
        lines = self._fresh_lines(received, denied)
        self._emit(
            out, kind, event_id, chain, claim_id, frequency="7",
            status="DENIED" if denied else "APPROVED", original=target or chain.current,
            received=received, lines=lines,
        )
        chain.current = claim_id
        chain.lines = lines
        chain.received = received
        self.in_force[chain.parent] = chain

    def _void(
        self, out: EventClaims, kind: str, event_id: str, due: datetime, chain: Chain
    ) -> None:
        self._emit(
            out, kind, event_id, chain, self.new_id(), frequency="8", void=chain.current,
            received=self._received(due, False, chain), lines=chain.lines,
        )
        self.in_force.pop(chain.parent, None)
