"""Findings, validation reports and run statistics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from PaymentProcess.utils.money import to_decimal128

MAX_SAMPLES = 10
MAX_SAMPLE_LENGTH = 64
MAX_DETAIL_LENGTH = 300
MAX_COUNT_KEYS = 50
OTHER_KEY = "<other>"


def printable(value: object, limit: int) -> str:
    """``value`` as text safe for findings, logs and terminals, at most ``limit`` characters.

    Control and other non-printable characters (NUL, ESC, newlines, bidi overrides) are
    escaped as ``\\xNN``/``\\uNNNN``, so a document can neither break a BSON key nor
    forge a line of the summary; long values end with ``...``.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) > 4 * limit:
        text = text[: 4 * limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def field_name(key: str) -> str:
    """A findings key usable as a MongoDB field name: no ``.``, no leading ``$``."""
    key = key.replace(".", "\uff0e") or "<empty>"
    return "\uff04" + key[1:] if key.startswith("$") else key


class Severity(StrEnum):
    """Critical findings block a final run; warnings and info are reported."""

    CRITICAL = "CRITICAL"
    WARNING = "WARNING"
    INFO = "INFO"


@dataclass(frozen=True, slots=True)
class FindingCode:
    """A finding's code, severity and the sentence that explains it."""

    code: str
    severity: Severity
    message: str


@dataclass(slots=True)
class Finding:
    """One code's tally in a run: how many claims, up to 10 sample ids, and details."""

    code: str
    severity: Severity
    message: str
    count: int = 0
    samples: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def keep_sample(self, sample: str, detail: str | None) -> None:
        """Keep the first ten distinct sample ids, with what was wrong with each.

        Samples and details come from the documents: both are made printable and
        bounded (:func:`printable`) before they are kept.
        """
        if len(self.samples) >= MAX_SAMPLES:
            return
        sample = printable(sample, MAX_SAMPLE_LENGTH)
        if sample not in self.samples:
            self.samples.append(sample)
            if detail:
                self.details[sample] = printable(detail, MAX_DETAIL_LENGTH)

    def count_key(self, key: str, amount: int) -> None:
        """Add to one of the counts, keeping at most 50 distinct keys (then ``<other>``)."""
        key = printable(key, 32)
        if key not in self.counts and len(self.counts) >= MAX_COUNT_KEYS - 1:
            key = OTHER_KEY
        self.counts[key] = self.counts.get(key, 0) + amount

    def as_document(self) -> dict[str, Any]:
        """Store and JSON form."""
        doc: dict[str, Any] = {
            "severity": str(self.severity),
            "code": self.code,
            "message": self.message,
            "count": self.count,
            "samples": list(self.samples),
        }
        if self.details:
            doc["details"] = {field_name(k): v for k, v in self.details.items()}
        if self.counts:
            doc["counts"] = {field_name(k): v for k, v in sorted(self.counts.items())}
        return doc


@dataclass(slots=True)
class ValidationReport:
    """Every finding of a run, in a stable order, plus whether any is critical."""

    findings: dict[str, Finding] = field(default_factory=dict)

    def add(self, code: FindingCode, sample: str, detail: str | None = None) -> None:
        """Count one occurrence of ``code`` for the claim (or document) ``sample``."""
        finding = self.findings.get(code.code)
        if finding is None:
            finding = self.findings[code.code] = Finding(code.code, code.severity, code.message)
        finding.count += 1
        finding.keep_sample(sample, detail)

    def add_counts(self, code: FindingCode, counts: Counter[str]) -> None:
        """Record an info finding carrying counts (claims by type, status, frequency)."""
        finding = self.findings.get(code.code)
        if finding is None:
            finding = self.findings[code.code] = Finding(code.code, code.severity, code.message)
        for key, value in counts.items():
            finding.count_key(key, value)
        finding.count = sum(finding.counts.values())

    def merge(self, other: ValidationReport) -> None:
        """Fold a batch's report into this one (batches are merged in claim order)."""
        for code, theirs in other.findings.items():
            mine = self.findings.get(code)
            if mine is None:
                self.findings[code] = theirs
                continue
            mine.count += theirs.count
            for sample in theirs.samples:
                mine.keep_sample(sample, theirs.details.get(sample))
            for key, value in theirs.counts.items():
                mine.count_key(key, value)

    @property
    def blocked(self) -> bool:
        """True when any finding is critical."""
        return any(f.severity is Severity.CRITICAL for f in self.findings.values())

    def by_severity(self, severity: Severity) -> list[Finding]:
        """Findings of one severity, by code."""
        return sorted(
            (f for f in self.findings.values() if f.severity is severity), key=lambda f: f.code
        )

    def as_documents(self) -> list[dict[str, Any]]:
        """Findings ordered critical first, then by code."""
        order = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
        ordered = sorted(self.findings.values(), key=lambda f: (order[f.severity], f.code))
        return [f.as_document() for f in ordered]


@dataclass(slots=True)
class Totals:
    """Money totals of a run (spec section 10)."""

    billed: Decimal = Decimal("0.00")
    allowed: Decimal = Decimal("0.00")
    paid: Decimal = Decimal("0.00")
    reduction: Decimal = Decimal("0.00")
    net: Decimal = Decimal("0.00")
    interest: Decimal = Decimal("0.00")
    recouped_this_cycle: Decimal = Decimal("0.00")
    prior_over_offsets: Decimal = Decimal("0.00")
    under_consumed: Decimal = Decimal("0.00")
    new_over: Decimal = Decimal("0.00")
    new_under: Decimal = Decimal("0.00")
    disbursed: Decimal = Decimal("0.00")


class PayeeRow(BaseModel):
    """One payee's line of a run: who, how paid, and why each amount is what it is.

    ``disbursed`` is paid now; ``held`` is kept as a new UNDER balance for ``held_reason``
    (``HOLD``: the payee is on hold; ``BELOW_MINIMUM``: under the event's minimum);
    ``offset`` is the negative nets offset this cycle, ``recouped`` the prior OVER balances
    taken back, ``under_consumed`` the prior UNDER balances paid out, ``new_over`` what is
    still owed back. ``number`` is the check number or EFT trace (final run only). A dry
    run's new payees carry the ids the final run will give them.
    """

    model_config = ConfigDict(frozen=True)

    PaymentCenter_ID: int
    key: str
    name: str
    status: Literal["ACTIVE", "HOLD"]
    method: Literal["CHECK", "EFT"]
    disbursed: Decimal
    held: Decimal
    held_reason: Literal["HOLD", "BELOW_MINIMUM"] | None = None
    offset: Decimal
    recouped: Decimal
    under_consumed: Decimal
    new_over: Decimal
    number: str | None = None

    def as_document(self) -> dict[str, Any]:
        """Store form: amounts as Decimal128."""
        return {name: to_decimal128(value) if isinstance(value, Decimal) else value
                for name, value in self.model_dump().items()}


@dataclass(slots=True)
class PaymentEventStats:
    """One run's record (``PaymentEventStats``): what ran, what it found, what it paid."""

    run_id: str
    payment_event_id: str
    stage: str
    started_at: Any
    status: str = "RUNNING"
    finished_at: Any = None
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    totals: Totals = field(default_factory=Totals)
    report: ValidationReport = field(default_factory=ValidationReport)
    payees: list[PayeeRow] = field(default_factory=list)
    disbursed_by_method: dict[str, Decimal] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    store: str = ""
    run_by: str = ""

    @property
    def exit_code(self) -> int:
        """0 when nothing is critical, 1 otherwise (spec section 11)."""
        return 1 if self.report.blocked else 0

    def as_document(self) -> dict[str, Any]:
        """Store form, with amounts as Decimal128."""
        return {
            "_id": self.run_id,
            "PaymentEvent_ID": self.payment_event_id,
            "stage": self.stage,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "counts": self.counts,
            "totals": {name: to_decimal128(getattr(self.totals, name))
                       for name in self.totals.__slots__},
            "disbursed_by_method": {method: to_decimal128(amount) for method, amount
                                    in sorted(self.disbursed_by_method.items())},
            "findings": self.report.as_documents(),
            "payees": [row.as_document() for row in sorted(self.payees, key=lambda r: r.key)],
            "store": self.store,
            "run_by": self.run_by,
        }
