"""The finding codes of spec section 4 and the per-claim checks that raise them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from PaymentProcess.data.models.claim import (
    AMOUNT_FIELDS,
    Claim,
    FrequencyCode,
    claim_label,
    fast_claim,
)
from PaymentProcess.data.models.over_under import LedgerEntry
from PaymentProcess.data.models.payment import InvalidRecord
from PaymentProcess.data.models.payment_center import PaymentCenterType
from PaymentProcess.data.models.stats import FindingCode, Severity, ValidationReport

CRITICAL, WARNING, INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO

FREQ_INVALID = FindingCode("FREQ_INVALID", CRITICAL, "FrequencyCode is not 1, 7 or 8")
ID_MISSING = FindingCode("ID_MISSING", CRITICAL, "payee identifier missing (NPI/TIN or MemberID)")
NPI_INVALID = FindingCode("NPI_INVALID", CRITICAL, "NPI is not 10 digits passing the Luhn check")
TIN_INVALID = FindingCode("TIN_INVALID", CRITICAL, "TIN is not exactly 9 digits")
DUPLICATE_CLAIM = FindingCode(
    "DUPLICATE_CLAIM", CRITICAL, "the same ClaimCore_ID appears more than once in the event"
)
ALREADY_PAID = FindingCode("ALREADY_PAID", CRITICAL, "ClaimCore_ID is already in the ledger")
BAD_AMOUNT = FindingCode("BAD_AMOUNT", CRITICAL, "an amount is missing or not a valid amount")
NEGATIVE_AMOUNT = FindingCode("NEGATIVE_AMOUNT", CRITICAL, "a line amount is below zero")
NO_LINES = FindingCode("NO_LINES", CRITICAL, "the claim has no service lines")
PARENT_NOT_PAID = FindingCode(
    "PARENT_NOT_PAID", CRITICAL, "a 7 or 8 references a version that is not in force"
)
VOID_LINKAGE = FindingCode("VOID_LINKAGE", CRITICAL, "the chain's linkage is broken")
CLAIM_INVALID = FindingCode(
    "CLAIM_INVALID", CRITICAL, "the claim document is malformed (field missing or of a wrong type)"
)
SEQUENCE_EXHAUSTED = FindingCode(
    "SEQUENCE_EXHAUSTED", CRITICAL, "the check numbers needed do not fit in the check range"
)
BANK_INVALID = FindingCode(
    "BANK_INVALID", CRITICAL,
    "an EFT is paid without valid bank data (payee's bank, or the funding source's)")
CONFIG_INVALID = FindingCode(
    "CONFIG_INVALID", CRITICAL, "the event's configuration is missing or malformed"
)
RECORD_INVALID = FindingCode(
    "RECORD_INVALID", CRITICAL, "a payee, ledger or O/U document the event needs is malformed"
)
PC_MISMATCH = FindingCode(
    "PC_MISMATCH", WARNING, "claims of one chain map to different payees (final version's used)"
)
OVER_ALLOWED = FindingCode(
    "OVER_ALLOWED", WARNING, "patient share plus cob_paid exceeds allowed (line paid floored at 0)"
)
BENEFIT_PLAN_EXCLUDED = FindingCode(
    "BENEFIT_PLAN_EXCLUDED", WARNING, "benefit plan outside the inclusion criteria: chain excluded"
)
PC_EXCLUDED = FindingCode(
    "PC_EXCLUDED", WARNING, "payee outside the inclusion criteria: chain excluded"
)
CLAIMS_BY_TYPE = FindingCode("CLAIMS_BY_TYPE", INFO, "included claims by ClaimType")
CLAIMS_BY_STATUS = FindingCode("CLAIMS_BY_STATUS", INFO, "included claims by ClaimStatus")
CLAIMS_BY_FREQUENCY = FindingCode(
    "CLAIMS_BY_FREQUENCY", INFO, "included claims by FrequencyCode"
)

_VALID_FREQUENCIES = frozenset(code.value for code in FrequencyCode)
_FIELD_CODES = {
    "FrequencyCode": FREQ_INVALID,
    "NPI": NPI_INVALID,
    "TIN": TIN_INVALID,
    "ParentClaimCore_ID": VOID_LINKAGE,
    "OriginalClaimCore_ID": VOID_LINKAGE,
    "VoidClaimCore_ID": VOID_LINKAGE,
}
MAX_LOCATION = 120


def format_location(location: tuple[Any, ...]) -> str:
    """``service_lines.0.allowed``: a pydantic error location, bounded in length."""
    text = ".".join(str(part) for part in location) or "<document>"
    return text if len(text) <= MAX_LOCATION else text[: MAX_LOCATION - 3] + "..."


def code_for_location(location: tuple[Any, ...], document: dict[str, Any]) -> FindingCode:
    """The spec's finding for a claim field that failed the model.

    An amount of a line is ``BAD_AMOUNT``; the frequency code, NPI, TIN and linkage
    fields keep their own codes whatever their type; a missing or null
    ``service_lines`` is ``NO_LINES``; anything else is ``CLAIM_INVALID``.
    """
    if len(location) == 3 and location[0] == "service_lines" and location[2] in AMOUNT_FIELDS:
        return BAD_AMOUNT
    if len(location) == 1 and location[0] in _FIELD_CODES:
        return _FIELD_CODES[location[0]]
    if location == ("service_lines",) and document.get("service_lines") is None:
        return NO_LINES
    return CLAIM_INVALID


@lru_cache(maxsize=1 << 16)  # a payee's NPI comes back on every claim of it
def npi_check_digit(first9: str) -> str:
    """The Luhn check digit of ``80840`` + nine NPI digits (CMS's NPI check)."""
    total = 0
    for position, char in enumerate(reversed("80840" + first9)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def npi_is_valid(npi: object) -> bool:
    """A string of 10 ASCII digits whose last is the check digit of the first nine."""
    return (isinstance(npi, str) and len(npi) == 10 and npi.isascii() and npi.isdigit()
            and npi_check_digit(npi[:9]) == npi[9])


def tin_is_valid(tin: str) -> bool:
    """Exactly nine ASCII digits."""
    return len(tin) == 9 and tin.isascii() and tin.isdigit()


class Validation:
    """Per-claim checks of spec section 4 for one event's payee type."""

    def __init__(self, pc_type: PaymentCenterType) -> None:
        self.pc_type = pc_type

    def parse_claim(self, document: dict[str, Any], report: ValidationReport) -> Claim | None:
        """Validate a raw document into a :class:`Claim`; each defect becomes a finding.

        A field the business rules judge keeps its own code even when its type is wrong
        (:func:`code_for_location`); any other structural defect is ``CLAIM_INVALID``.
        The detail names the field; the value itself is never echoed.
        """
        claim = fast_claim(document)
        if claim is not None:
            return claim
        try:
            return Claim.model_validate(document)
        except PydanticValidationError as exc:
            first_problem: dict[FindingCode, str] = {}
            for error in exc.errors(include_url=False, include_input=False):
                code = code_for_location(error["loc"], document)
                first_problem.setdefault(code, f"{format_location(error['loc'])}: {error['msg']}")
            for code, problem in first_problem.items():  # a claim counts once per code
                report.add(code, claim_label(document), problem)
            return None

    def validate_claim(self, claim: Claim, report: ValidationReport) -> bool:
        """Frequency, identifiers, lines and negative amounts; True when nothing is critical."""
        label = claim.ClaimCore_ID
        ok = True
        if claim.FrequencyCode not in _VALID_FREQUENCIES:
            report.add(FREQ_INVALID, label, f"FrequencyCode {claim.FrequencyCode!r}")
            ok = False
        ok &= self.validate_identifiers(claim, report)
        if not claim.service_lines:
            report.add(NO_LINES, label)
            ok = False
        for index, line in enumerate(claim.service_lines):
            negative = [name for name in AMOUNT_FIELDS if getattr(line, name) < 0]
            if negative:
                report.add(NEGATIVE_AMOUNT, label, f"service_lines.{index}.{negative[0]}")
                ok = False
                break
        return ok

    def validate_identifiers(self, claim: Claim, report: ValidationReport) -> bool:
        """ID_MISSING, NPI_INVALID, TIN_INVALID for the event's payee type."""
        label = claim.ClaimCore_ID
        if self.pc_type is PaymentCenterType.DMR:
            if not claim.MemberID:
                report.add(ID_MISSING, label, "MemberID")
                return False
            return True
        missing = [name for name in ("NPI", "TIN") if not getattr(claim, name)]
        if missing:
            report.add(ID_MISSING, label, " and ".join(missing))
            return False
        ok = True
        if not npi_is_valid(claim.NPI):
            report.add(NPI_INVALID, label, f"NPI {claim.NPI[:20]!r}")
            ok = False
        if not tin_is_valid(claim.TIN):
            report.add(TIN_INVALID, label, f"TIN {claim.TIN[:20]!r}")
            ok = False
        return ok


def document_label(document: Any) -> str:
    """A printable, bounded ``_id`` of any stored document, even a malformed one."""
    value = document.get("_id") if isinstance(document, dict) else None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)  # bounded by the report (printable)
    return f"<{type(value).__name__} _id>"


def describe_errors(collection: str, exc: PydanticValidationError, limit: int = 3) -> str:
    """``OverUnder: remaining: bad amount: ...; status: ...``: the fields that failed."""
    errors = exc.errors(include_url=False, include_input=False)
    parts = [f"{format_location(e['loc'])}: {e['msg']}" for e in errors[:limit]]
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return f"{collection}: " + "; ".join(parts)


def invalid_documents(model: type[BaseModel], collection: str,
                      documents: Iterable[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """``(label, detail)`` of every document that fails ``model`` (for ``RECORD_INVALID``)."""
    for document in documents:
        try:
            model.model_validate(document)
        except PydanticValidationError as exc:
            yield document_label(document), describe_errors(collection, exc)


def _texts(value: Any) -> frozenset[str]:
    """The strings a query's ``$in`` matches in a field: the value itself, or a list's items."""
    if isinstance(value, str):
        return frozenset((value,))
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()


def invalid_ledger_entries(documents: Iterable[dict[str, Any]],
                           reported: set[str]) -> tuple[InvalidRecord, ...]:
    """Ledger entries that fail :class:`LedgerEntry`, with the chain and claims they name.

    Every batch with a chain an entry concerns fetches it again. ``reported`` holds the
    entries (by ``_id``) that earlier batches of the run returned; it is updated, and
    those entries come back marked ``reported``: they block their chains again but are
    counted once.
    """
    invalid = []
    for document in documents:
        for label, detail in invalid_documents(LedgerEntry, "ClaimFinCore", [document]):
            identity = repr(document.get("_id"))  # unique in the collection, even if malformed
            invalid.append(InvalidRecord(label, detail, _texts(document.get("ParentClaimCore_ID")),
                                         _texts(document.get("ClaimCore_IDs")),
                                         identity in reported))
            reported.add(identity)
    return tuple(invalid)
