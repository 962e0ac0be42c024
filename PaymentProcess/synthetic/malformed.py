"""Malformed claims: each one built to carry one critical finding of spec section 4.

Bad claims get their own id space (``CX`` + 7 digits) and their own random stream, so
adding them never changes the valid claims of the same seed. Each starts its own chain
(except ALREADY_PAID, which re-sends a claim of the prior ledger on a chain the event does
not otherwise touch), so no valid chain is tainted by a bad one.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bson.decimal128 import Decimal128

from PaymentProcess.synthetic.claims import INCLUDED_PLANS, Chain, claim_document, make_lines
from PaymentProcess.synthetic.parties import Party, Payee

CRITICAL_CODES = (
    "FREQ_INVALID",
    "ID_MISSING",
    "NPI_INVALID",
    "TIN_INVALID",
    "DUPLICATE_CLAIM",
    "ALREADY_PAID",
    "BAD_AMOUNT",
    "NEGATIVE_AMOUNT",
    "NO_LINES",
    "PARENT_NOT_PAID",
    "VOID_LINKAGE",
)

_MISSING = object()  # marks a field deleted from the document
_BAD_AMOUNTS: tuple[tuple[str, Any], ...] = (
    ("allowed", "ten dollars"),
    ("allowed", 10.005),
    ("billed", float("nan")),
    ("copay", True),
    ("allowed", Decimal128("10000000000000.00")),
    ("deductible", Decimal128("1.005")),
    ("coinsurance", float("inf")),
    ("allowed", _MISSING),
)
_NEGATIVE_AMOUNTS = (
    ("allowed", Decimal128("-5.00")),
    ("deductible", Decimal128("-10.00")),
    ("cob_paid", Decimal128("-3.50")),
    ("billed", Decimal128("-120.00")),
)
_BAD_FREQUENCIES = ("9", "0", "", None)


def _set(doc: dict[str, Any], name: str, value: Any) -> None:
    if value is _MISSING:
        doc.pop(name, None)
    else:
        doc[name] = value


def _bad_npis(npi: str) -> tuple[str, ...]:
    wrong_check = npi[:9] + str((int(npi[9]) + 1) % 10)
    return (wrong_check, npi[:9], npi[:8] + "A" + npi[9], npi + "0")


def _bad_tins(tin: str) -> tuple[str, ...]:
    return (tin[:8], tin + "0", f"{tin[:2]}-{tin[2:]}", tin[:8] + "X")


class MalformedFactory:
    """Makes each event's bad claims and remembers which code every one is meant to carry."""

    def __init__(
        self,
        pc_type: str,
        payees: list[Payee],
        others: list[Party],
        prior_chains: list[Chain],
    ) -> None:
        """Bad claims paid to stored ``payees``; ALREADY_PAID re-sends ``prior_chains``' claims.

        ``prior_chains`` lists the chains of the prior ledger, the ones always left
        untouched by valid claims first.
        """
        self._pc_type = pc_type
        self._payees = payees
        self._others = others
        self._prior = prior_chains
        self._next_id = 1
        self._resent: set[str] = set()
        self._variants: Counter[str] = Counter()  # per code, across events: shapes rotate
        # The event being made (set by ``event``).
        self._rng = random.Random(0)
        self._event_id = ""
        self._due = datetime(1970, 1, 1)
        self._touched: set[str] = set()
        self._builders: dict[str, Callable[..., list[dict[str, Any]]]] = {
            "FREQ_INVALID": self._freq_invalid,
            "ID_MISSING": self._id_missing,
            "NPI_INVALID": self._npi_invalid,
            "TIN_INVALID": self._tin_invalid,
            "DUPLICATE_CLAIM": self._duplicate,
            "ALREADY_PAID": self._already_paid,
            "BAD_AMOUNT": self._bad_amount,
            "NEGATIVE_AMOUNT": self._negative_amount,
            "NO_LINES": self._no_lines,
            "PARENT_NOT_PAID": self._parent_not_paid,
            "VOID_LINKAGE": self._void_linkage,
        }

    def event(
        self,
        rng: random.Random,
        event_id: str,
        due: datetime,
        count: int,
        touched: set[str],
    ) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
        """``count`` bad claims (at least one per critical code) for one event.

        Returns the documents and, per code, the ClaimCore_IDs meant to carry it.
        ``touched`` holds the chain keys the event's valid claims use.
        """
        self._rng = rng
        self._event_id = event_id
        self._due = due
        self._touched = set(touched)
        docs: list[dict[str, Any]] = []
        carriers: dict[str, list[str]] = {code: [] for code in CRITICAL_CODES}
        for slot in range(max(count, len(CRITICAL_CODES))):
            code = CRITICAL_CODES[slot % len(CRITICAL_CODES)]
            made = self._builders[code](self._variants[code])
            self._variants[code] += 1
            for doc in made:
                if doc.pop("_carrier", False):
                    carriers[code].append(doc["ClaimCore_ID"])
            docs.extend(made)
        return docs, {code: ids for code, ids in carriers.items() if ids}

    def _new_id(self) -> str:
        claim_id = f"CX{self._next_id:07d}"
        self._next_id += 1
        return claim_id

    def _claim(
        self,
        *,
        payee: Payee | None = None,
        claim_id: str | None = None,
        parent: str | None = None,
        frequency: str = "1",
        original: str | None = None,
        void: str | None = None,
        carrier: bool = True,
    ) -> dict[str, Any]:
        rng = self._rng
        claim_id = claim_id or self._new_id()
        received = self._due - timedelta(days=rng.randint(0, 14))
        payee = payee or rng.choice(self._payees)
        doc = claim_document(
            claim_id=claim_id, event_id=self._event_id, claim_type="PROFESSIONAL",
            status="APPROVED", frequency=frequency, parent=parent or claim_id,
            original=original, void=void, plan=rng.choice(INCLUDED_PLANS), received=received,
            pc_type=self._pc_type, payee=payee.party, other=rng.choice(self._others),
            lines=make_lines(rng, received - timedelta(days=10), False).docs,
        )
        doc["_carrier"] = carrier
        return doc

    def _freq_invalid(self, variant: int) -> list[dict[str, Any]]:
        doc = self._claim()
        doc["FrequencyCode"] = _BAD_FREQUENCIES[variant % len(_BAD_FREQUENCIES)]
        return [doc]

    def _id_missing(self, variant: int) -> list[dict[str, Any]]:
        doc = self._claim()
        fields = ("NPI", "TIN") if self._pc_type == "PROVIDER" else ("MemberID",)
        name = fields[variant % len(fields)]
        # Every other time the field is absent rather than null.
        _set(doc, name, _MISSING if (variant // len(fields)) % 2 else None)
        return [doc]

    def _npi_invalid(self, variant: int) -> list[dict[str, Any]]:
        doc = self._claim()
        bad = _bad_npis(doc["NPI"])
        doc["NPI"] = bad[variant % len(bad)]
        return [doc]

    def _tin_invalid(self, variant: int) -> list[dict[str, Any]]:
        doc = self._claim()
        bad = _bad_tins(doc["TIN"])
        doc["TIN"] = bad[variant % len(bad)]
        return [doc]

    def _duplicate(self, variant: int) -> list[dict[str, Any]]:
        first = self._claim()
        second = {**first, "_id": first["_id"] + "-b", "_carrier": False}
        first["_id"] += "-a"
        return [first, second]

    def _already_paid(self, variant: int) -> list[dict[str, Any]]:
        untouched = [chain for chain in self._prior if chain.parent not in self._touched]
        if not untouched:
            return []
        # A claim no earlier event re-sent, if any is left.
        chain = next((c for c in untouched if c.parent not in self._resent), untouched[0])
        self._touched.add(chain.parent)
        doc = self._claim(payee=chain.payee, claim_id=chain.parent)
        if chain.parent in self._resent:  # re-sent by an earlier event: keep _ids unique
            doc["_id"] = f"{chain.parent}@{self._event_id}"
        self._resent.add(chain.parent)
        return [doc]

    def _line_value(self, variant: int, table: tuple[tuple[str, Any], ...]) -> list[dict[str, Any]]:
        doc = self._claim()
        name, value = table[variant % len(table)]
        line = doc["service_lines"][self._rng.randrange(len(doc["service_lines"]))]
        _set(line, name, value)
        return [doc]

    def _bad_amount(self, variant: int) -> list[dict[str, Any]]:
        return self._line_value(variant, _BAD_AMOUNTS)

    def _negative_amount(self, variant: int) -> list[dict[str, Any]]:
        return self._line_value(variant, _NEGATIVE_AMOUNTS)

    def _no_lines(self, variant: int) -> list[dict[str, Any]]:
        doc = self._claim()
        _set(doc, "service_lines", _MISSING if variant % 2 else [])
        return [doc]

    def _parent_not_paid(self, variant: int) -> list[dict[str, Any]]:
        ghost = self._new_id()  # never written, never paid
        if variant % 2:
            return [self._claim(parent=ghost, frequency="8", void=ghost)]
        return [self._claim(parent=ghost, frequency="7", original=ghost)]

    def _void_linkage(self, variant: int) -> list[dict[str, Any]]:
        shape = variant % 4
        if shape == 0:  # an original whose ClaimCore_ID is not its chain key
            return [self._claim(parent=self._new_id())]
        payee = self._rng.choice(self._payees)
        start = self._claim(payee=payee, carrier=False)
        parent = start["ClaimCore_ID"]
        if shape == 1:  # a replacement without OriginalClaimCore_ID
            return [start, self._claim(payee=payee, parent=parent, frequency="7")]
        if shape == 2:  # a void without VoidClaimCore_ID
            return [start, self._claim(payee=payee, parent=parent, frequency="8")]
        # two replacements of the same version
        return [
            start,
            self._claim(payee=payee, parent=parent, frequency="7", original=parent),
            self._claim(payee=payee, parent=parent, frequency="7", original=parent),
        ]
